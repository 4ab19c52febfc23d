"""No-reference image quality: NIQE and BRISQUE, batched (lower is better for both).

Xue 2025 (thesis), §4.4.1 scores harmonised images with NIQE [128] (Mittal, Soundararajan, Bovik, "Making a
'completely blind' image quality analyzer", IEEE SPL 2013) and BRISQUE [126] (Mittal, Moorthy, Bovik,
"No-reference image quality assessment in the spatial domain", IEEE TIP 2012); the thesis does not say which
implementation. API (also used for the perception axis of the burst P-D curves)::

    niqe(images)     # Tensor (N, C, H, W) in [0, 1], C = 1 or 3 -> Tensor (N,) float64
    brisque(images)  # same

Why hand-written: no maintained library computes either offline with its model parameters installed
(pyiqa and piq download them at run time, pyiqa is non-commercial; scikit-video, iqa-torch, image-quality
and BasicSR are broken on today's NumPy/SciPy/torchvision; the ``brisque`` package's SVR is not LIVE's;
OpenCV's contrib wheel has BRISQUE but not its model files and would replace the project's OpenCV).
So both are written here from the published parameters, which ship as package data (``metrics/data``,
sources, checksums and licences in ``metrics/data/README.md``):

* NIQE follows BasicSR's port of the LIVE MATLAB release (``basicsr/metrics/niqe.py``): the LIVE pristine
  multivariate Gaussian (``niqe_pris_params.npz``, byte-identical to BasicSR's), 96 x 96 blocks without
  overlap, two scales (MATLAB bicubic ``imresize`` x 0.5 with antialiasing, written out below as two
  weight matrices), 7 x 7 Gaussian window, AGGD features, NaN-robust covariance, pinv. The input is the
  MATLAB-YCbCr Y channel (``convert="y"``, BasicSR's default) or OpenCV's grey (``"gray"``), rounded
  to integer levels, and the filtering in float32, as BasicSR does. Checked against BasicSR on ``skimage.data.astronaut()`` (Y: 3.1005,
  gray: 3.0612, tests/metrics/test_no_reference.py) and once against BasicSR's documented value for its
  ``baboon.png`` (MATLAB R2021a 5.7296; here 5.7296).
* BRISQUE follows OpenCV-contrib's ``cv::quality::QualityBRISQUE`` (``modules/quality/src/qualitybrisque.cpp``)
  with its LIVE-trained epsilon-SVR (``brisque_model_live.yml`` / ``brisque_range_live.yml``, converted to
  ``brisque_live_svr.npz``): 8-bit grey (OpenCV's ``BGR2GRAY``), two scales (``cv2.resize`` bicubic),
  MSCN with a 7 x 7 Gaussian (sigma 7/6, replicated borders), AGGD fits of the MSCN map and of its four
  neighbour products (zero outside the image), features scaled to [-1, 1] by the range file, RBF SVR,
  clamped to [0, 100]. The same OpenCV calls are used for resizing and blurring; the scores equal
  OpenCV-contrib's (``opencv-contrib-python-headless`` 5.1.0.95 with these model files) to 2e-3 on the
  skimage photos the tests use. Images with large flat areas differ more (up to ~2 points on pyiqa's
  calibration image I19): there the MSCN map is (img - mu) / sigma of float32 values that agree to one
  ulp, and OpenCV's own build rounds some of those residuals to exactly 0 where the Python-level
  ``cv2.GaussianBlur`` does not, which moves the AGGD counts.

Absolute values depend on the implementation (pyiqa lists LIVE-MATLAB vs MATLAB-toolbox scores differing
by tens of BRISQUE points on the same image): compare numbers only when they come from the same code.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from scipy.ndimage import convolve
from scipy.special import gamma as gamma_fn
from torch import Tensor

__all__ = ["DATA_DIR", "brisque", "brisque_gray", "matlab_imresize", "niqe", "niqe_gray", "to_uint8_gray"]

DATA_DIR = Path(__file__).resolve().parent / "data"
NIQE_PARAMS = DATA_DIR / "niqe_pris_params.npz"
BRISQUE_MODEL = DATA_DIR / "brisque_live_svr.npz"


# -- shared helpers ------------------------------------------------------------------------------------
def _as_batch(images: Tensor | np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` (or one ``(C, H, W)``) in [0, 1] -> float64 numpy ``(N, C, H, W)``."""
    x = images.detach().cpu().double().numpy() if isinstance(images, Tensor) else np.asarray(images, np.float64)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W) in [0, 1], got shape {tuple(x.shape)}")
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values")
    return np.clip(x, 0.0, 1.0)


def to_uint8_gray(image: np.ndarray) -> np.ndarray:
    """One ``(C, H, W)`` image in [0, 1] -> 8-bit grey ``(H, W)`` as OpenCV's ``COLOR_RGB2GRAY`` on 8-bit RGB."""
    import cv2

    u8 = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    if u8.shape[0] == 1:
        return u8[0]
    return cv2.cvtColor(np.ascontiguousarray(u8.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)


def _aggd_lookup() -> tuple[np.ndarray, np.ndarray]:
    gam = np.arange(0.2, 10.001, 0.001)
    r_gam = gamma_fn(2.0 / gam) ** 2 / (gamma_fn(1.0 / gam) * gamma_fn(3.0 / gam))
    return gam, r_gam


_GAM, _R_GAM = _aggd_lookup()


def _aggd(values: np.ndarray, count: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """AGGD moment fit of each row of ``values`` ``(B, n)`` -> ``(rhat_norm, left_std, right_std, index)``
    with ``index`` the entry of the 0.2:0.001:10 shape grid nearest in the ratio (argmin of the squared gap)."""
    neg, pos = values < 0, values > 0
    n = values.shape[1] if count is None else count
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((np.where(neg, values, 0.0) ** 2).sum(1) / neg.sum(1))
        right = np.sqrt((np.where(pos, values, 0.0) ** 2).sum(1) / pos.sum(1))
        g = left / right
        rhat = (np.abs(values).sum(1) / n) ** 2 / ((values ** 2).sum(1) / n)
        rnorm = rhat * (g ** 3 + 1) * (g + 1) / (g ** 2 + 1) ** 2
    idx = np.argmin((_R_GAM[None, :] - rnorm[:, None]) ** 2, axis=1)
    return rnorm, left, right, idx


# -- NIQE --------------------------------------------------------------------------------------------
def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return ((1.5 * ax ** 3 - 2.5 * ax ** 2 + 1) * (ax <= 1)
            + (-0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _resize_matrix(n_in: int, scale: float) -> np.ndarray:
    """MATLAB ``imresize`` bicubic weights ``(n_out, n_in)`` (antialiased when shrinking, symmetric borders)."""
    n_out = math.ceil(n_in * scale)
    width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    p = math.ceil(width) + 2
    idx = left[:, None] + np.arange(p)[None, :]  # 1-based input indices
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if scale < 1 else _cubic(dist)
    w /= w.sum(1, keepdims=True)
    j = idx.astype(np.int64) - 1  # 0-based, folded back symmetrically (MATLAB pads by mirroring)
    j = np.where(j < 0, -j - 1, j)
    j = np.where(j >= n_in, 2 * n_in - 1 - j, j)
    out = np.zeros((n_out, n_in))
    np.add.at(out, (np.repeat(np.arange(n_out), p), j.ravel()), w.ravel())
    return out


def matlab_imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB's ``imresize(image, scale)`` (bicubic, antialiasing) of a 2-D array, as BasicSR's port computes it.

    Written here because no maintained library reproduces MATLAB's kernel and mirrored borders (torch's and
    PIL's antialiased bicubic renormalise at the borders instead)."""
    rows, cols = _resize_matrix(image.shape[0], scale), _resize_matrix(image.shape[1], scale)
    return rows @ image @ cols.T


@lru_cache(maxsize=1)
def _niqe_params() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(NIQE_PARAMS) as z:
        return z["mu_pris_param"].reshape(-1), z["cov_pris_param"], z["gaussian_window"]


def _niqe_block_features(blocks: np.ndarray) -> np.ndarray:
    """BasicSR's ``compute_feature`` for each block ``(B, h, w)`` -> ``(B, 18)``."""
    b = len(blocks)
    feats = []
    blocks = blocks.astype(np.float64)
    flat = blocks.reshape(b, -1)
    _, left, right, idx = _aggd(flat)
    alpha = _GAM[idx]
    scale = np.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha))
    feats += [alpha, (left * scale + right * scale) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        prod = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(b, -1)
        _, left, right, idx = _aggd(prod)
        alpha = _GAM[idx]
        scale = np.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha))
        bl, br = left * scale, right * scale
        feats += [alpha, (br - bl) * (gamma_fn(2 / alpha) / gamma_fn(1 / alpha)), bl, br]
    return np.stack(feats, 1)


def niqe_gray(image: np.ndarray, block: int = 96) -> float:
    """NIQE of one grey image ``(H, W)`` in [0, 255] (BasicSR's ``niqe``). Needs at least one block per side."""
    mu_p, cov_p, window = _niqe_params()
    # float32 as in BasicSR: its variance, E[x^2] - E[x]^2 in single precision, loses digits, and that is
    # what its documented value (baboon.png 5.7296 = MATLAB R2021a's) and the LIVE release's scores follow
    # (float64 moves e.g. pyiqa's calibration image I19 from 8.64 to 9.02, LIVE: 8.64)
    img = np.asarray(image, np.float32)
    nh, nw = img.shape[0] // block, img.shape[1] // block
    if nh == 0 or nw == 0:
        raise ValueError(f"NIQE needs an image of at least {block} x {block} pixels, got {img.shape[0]} x {img.shape[1]}")
    img = img[: nh * block, : nw * block]
    per_scale = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        norm = (img - mu) / (sigma + 1)
        s = block // scale
        # BasicSR loops blocks column-major (w outer, h inner); the order does not change mean or covariance
        blocks = norm[: nh * s, : nw * s].reshape(nh, s, nw, s).transpose(2, 0, 1, 3).reshape(-1, s, s)
        per_scale.append(_niqe_block_features(blocks))
        if scale == 1:
            img = (matlab_imresize(img.astype(np.float64) / 255.0, 0.5) * 255.0).astype(np.float32)
    feats = np.concatenate(per_scale, 1)
    valid = feats[~np.isnan(feats).any(1)]
    if len(valid) < 2:  # no covariance from one block (BasicSR's SVD then fails): undefined, not an error
        warnings.warn(f"NIQE is undefined for an image with {len(valid)} usable 96 x 96 block(s) "
                      f"({image.shape[0]} x {image.shape[1]}); returning NaN", RuntimeWarning, stacklevel=3)
        return float("nan")
    mu_d = np.nanmean(feats, axis=0)
    cov_d = np.cov(valid, rowvar=False)
    inv = np.linalg.pinv((cov_p + cov_d) / 2)
    diff = mu_p - mu_d
    return float(np.sqrt(diff @ inv @ diff))


def _niqe_input(image: np.ndarray, convert: str) -> np.ndarray:
    """``(C, H, W)`` in [0, 1] -> the grey plane NIQE scores, in [0, 255], rounded; computed with BasicSR's
    dtypes (8-bit levels / 255 in float32, its ``to_y_channel`` / ``cv2.cvtColor``), so ties round alike."""
    import cv2

    levels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.float32) / np.float32(255.0)
    if levels.shape[0] == 1:
        plane = levels[0] * np.float32(255.0)
    elif convert == "y":  # MATLAB rgb2ycbcr, Y only (BasicSR's to_y_channel / bgr2ycbcr)
        y = levels.transpose(1, 2, 0) @ np.array([65.481, 128.553, 24.966]) + 16.0
        plane = (y / 255.0).astype(np.float32) * np.float32(255.0)
    elif convert == "gray":  # OpenCV's grey of the float image, as BasicSR's convert_to="gray"
        plane = cv2.cvtColor(np.ascontiguousarray(levels.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY) * np.float32(255.0)
    else:
        raise ValueError(f"convert must be 'y' or 'gray', got {convert!r}")
    return np.round(plane)


def niqe(images: Tensor | np.ndarray, convert: Literal["y", "gray"] = "y", block: int = 96) -> Tensor:
    """NIQE of each image of a batch ``(N, C, H, W)`` in [0, 1] (C = 1 or 3) -> ``(N,)`` float64 (lower = better).

    ``convert``: the plane scored for RGB input: MATLAB-YCbCr Y (default, BasicSR's) or OpenCV's grey.
    Images smaller than ``block`` (96) on a side raise ``ValueError``; with a single block (e.g. 96 x 150) the
    score is undefined: NaN, with a warning.
    """
    x = _as_batch(images)
    return torch.tensor([niqe_gray(_niqe_input(im, convert), block) for im in x], dtype=torch.float64)


# -- BRISQUE -----------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _brisque_model() -> dict[str, np.ndarray]:
    with np.load(BRISQUE_MODEL) as z:
        return {k: z[k] for k in z.files}


def _brisque_aggd(values: np.ndarray) -> tuple[float, float, float]:
    """OpenCV's ``AGGDfit``: ``(gamma, left sigma, right sigma)``; the shape is the first grid point after
    which ``|r(gamma) - rhat_norm|`` grows (0.2, 0.201, ... as OpenCV steps)."""
    flat = values.reshape(1, -1).astype(np.float64)
    rnorm, left, right, _ = _aggd(flat, count=flat.shape[1])
    diff = np.abs(_BRISQUE_R - rnorm[0])
    rising = np.nonzero(diff[1:] > diff[:-1])[0]
    k = int(rising[0]) if len(rising) else len(diff) - 1
    return float(_BRISQUE_GAM[k]), float(left[0]), float(right[0])


def _brisque_grid() -> tuple[np.ndarray, np.ndarray]:
    gam = 0.2 + 0.001 * np.arange(round((10 - 0.2) / 0.001))
    return gam, gamma_fn(2 / gam) ** 2 / (gamma_fn(1 / gam) * gamma_fn(3 / gam))


_BRISQUE_GAM, _BRISQUE_R = _brisque_grid()


def brisque_features(gray: np.ndarray) -> np.ndarray:
    """The 36 BRISQUE features of an 8-bit grey image ``(H, W)`` (OpenCV-contrib's ``ComputeBrisqueFeature``)."""
    import cv2

    orig = gray.astype(np.float32) / np.float32(255.0)
    feats: list[float] = []
    for s in (1, 2):
        size = (int(orig.shape[1] / 2 ** (s - 1)), int(orig.shape[0] / 2 ** (s - 1)))
        img = cv2.resize(orig, size, interpolation=cv2.INTER_CUBIC)
        mu = cv2.GaussianBlur(img, (7, 7), 7.0 / 6.0, borderType=cv2.BORDER_REPLICATE)
        sigma = cv2.GaussianBlur(img * img, (7, 7), 7.0 / 6.0, borderType=cv2.BORDER_REPLICATE)
        sigma = np.sqrt(np.abs(sigma - mu * mu)).astype(np.float32) + np.float32(1.0 / 255)  # cv::pow(x, 0.5) takes |x|
        mscn = ((img - mu) / sigma).astype(np.float32)
        g, ls, rs = _brisque_aggd(mscn)
        feats += [g, (ls * ls + rs * rs) / 2]
        h, w = mscn.shape
        for dy, dx in ((0, 1), (1, 0), (1, 1), (-1, 1)):
            shifted = np.zeros_like(mscn)
            ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
            shifted[yd, 0: w - dx] = mscn[ys, dx:w]
            g, ls, rs = _brisque_aggd((mscn * shifted).astype(np.float32))
            const = math.sqrt(gamma_fn(1 / g)) / math.sqrt(gamma_fn(3 / g))
            feats += [g, (rs - ls) * (gamma_fn(2 / g) / gamma_fn(1 / g)) * const, ls * ls, rs * rs]
    return np.asarray(feats, np.float32)


def brisque_gray(gray: np.ndarray) -> float:
    """BRISQUE of one 8-bit grey image ``(H, W)``: the LIVE SVR on the scaled features, clamped to [0, 100]."""
    m = _brisque_model()
    lo, hi = m["feature_range"].astype(np.float64)
    f = brisque_features(gray).astype(np.float64)
    scaled = -1.0 + 2.0 * (f - lo) / (hi - lo)
    sv = m["support_vectors"].astype(np.float64)
    k = np.exp(-float(m["gamma"]) * ((sv - scaled[None]) ** 2).sum(1))
    score = float(k @ m["alpha"] - float(m["rho"]))
    return float(min(max(np.float32(score), 0.0), 100.0))


def brisque(images: Tensor | np.ndarray) -> Tensor:
    """BRISQUE of each image of a batch ``(N, C, H, W)`` in [0, 1] (C = 1 or 3) -> ``(N,)`` float64 (lower = better).

    RGB is quantised to 8 bits and turned grey as OpenCV does; images need at least 8 x 8 pixels."""
    x = _as_batch(images)
    if min(x.shape[-2:]) < 8:
        raise ValueError(f"BRISQUE needs an image of at least 8 x 8 pixels, got {x.shape[-2]} x {x.shape[-1]}")
    return torch.tensor([brisque_gray(to_uint8_gray(im)) for im in x], dtype=torch.float64)
