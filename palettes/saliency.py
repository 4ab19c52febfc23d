"""Saliency maps and palette colours split by region (Xue 2025 (thesis), §3.3.3, Eq. 3.2; §3.4.2 semantics).

Saliency source. The thesis uses the LDF salient-object detector (Wei et al. 2020, ref. [187]), a CNN
whose weights cannot be had here, and says "alternative approaches could also be used". The default here
is the spectral-residual detector of Hou & Zhang 2007 ("Saliency detection: a spectral residual approach",
CVPR), which needs no data: on a 64-px-wide grey thumbnail, the log-amplitude spectrum minus its 3 x 3
local mean, back-transformed with the original phase, squared, smoothed (Gaussian, sigma 2.5 px), resized
to the image and min-max normalised to [0, 1]. Written with numpy/scipy FFTs because OpenCV's
implementation (``cv2.saliency``) is in opencv-contrib, which cannot be installed beside the
opencv-python-headless that albumentations needs (both install the same ``cv2`` package). Users can
instead give their own maps (:class:`FolderSaliency`, e.g. from LDF): grey images in [0, 255] or [0, 1].

Eq. 3.2: with the colour segmentation map L (each pixel's palette colour) and the saliency map S, a
palette colour c is *salient* when it covers a larger fraction of the salient region (S > gamma) than of
the non-salient region (S <= gamma):

    A(L = c, S > gamma) / A(S > gamma)  >  A(L = c, S <= gamma) / A(S <= gamma),   gamma = 0.9.

The semantics-guided module (§3.4.2) extends this to C classes ("classify the colors into several groups
where the color is dominant in the region of this group"): a colour goes to the class maximising
A(L = c, class) / A(class). Both are :func:`categorize_colors`; ties go to the lower category (the
non-salient one, as Eq. 3.2's strict inequality does); a category with no pixels takes no colour (when S
never exceeds gamma, every colour is non-salient).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

from semcolor.palettes.color import to_unit_rgb

__all__ = ["spectral_residual", "categorize_colors", "salient_colors", "read_saliency_map", "GAMMA", "SaliencySource"]

#: Eq. 3.2's threshold (§3.4.1)
GAMMA = 0.9
#: a saliency source: (sRGB image (H, W, 3), image path or name) -> saliency map (H, W) in [0, 1]
SaliencySource = Callable[[np.ndarray, str], np.ndarray]


def _resize(img: np.ndarray, shape: tuple[int, int], order: int = 1) -> np.ndarray:
    return ndimage.zoom(img, (shape[0] / img.shape[0], shape[1] / img.shape[1]), order=order, mode="nearest",
                        grid_mode=True)


def spectral_residual(rgb: np.ndarray, width: int = 64, sigma: float = 2.5) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) of an sRGB image ``(H, W, 3)`` -> ``(H, W)`` in [0, 1]."""
    img = to_unit_rgb(rgb)
    h, w = img.shape[:2]
    grey = img.mean(-1)
    small_shape = (max(8, round(h * width / max(w, 1))), width)
    small = _resize(grey, small_shape)
    spectrum = np.fft.fft2(small)
    log_amp = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amp - ndimage.uniform_filter(log_amp, size=3, mode="nearest")
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sal = ndimage.gaussian_filter(sal, sigma)
    sal = np.clip(_resize(sal, (h, w)), 0, None)
    lo, hi = float(sal.min()), float(sal.max())
    return ((sal - lo) / (hi - lo) if hi > lo else np.zeros_like(sal)).astype(np.float32)


def categorize_colors(labels: np.ndarray, k: int, categories: np.ndarray, n_categories: int) -> np.ndarray:
    """Category of each of ``k`` palette colours: argmax over categories g of A(L = c, g) / A(g).

    Args:
        labels: ``(H, W)`` palette index per pixel (-1: not counted).
        k: palette size.
        categories: ``(H, W)`` category per pixel in ``0..n_categories-1`` (-1 or out of range: not counted).
        n_categories: number of categories.

    Returns:
        int ``(k,)``; a colour with no counted pixel goes to the largest category.
    """
    labels = np.asarray(labels).reshape(-1)
    cats = np.asarray(categories).reshape(-1)
    if labels.shape != cats.shape:
        raise ValueError(f"labels and categories differ in size: {labels.size} vs {cats.size}")
    ok = (labels >= 0) & (labels < k) & (cats >= 0) & (cats < n_categories)
    joint = np.bincount(labels[ok] * n_categories + cats[ok], minlength=k * n_categories).reshape(k, n_categories)
    area = joint.sum(0).astype(np.float64)
    frac = np.where(area > 0, joint / np.maximum(area, 1), -np.inf)
    out = frac.argmax(1)
    out[joint.sum(1) == 0] = int(area.argmax())
    return out


def salient_colors(labels: np.ndarray, k: int, saliency: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    """Eq. 3.2: bool ``(k,)``, True for the palette colours of the salient sub-palette."""
    if np.shape(saliency) != np.shape(labels):
        raise ValueError(f"saliency map {np.shape(saliency)} and label map {np.shape(labels)} differ in size")
    return categorize_colors(labels, k, (np.asarray(saliency) > gamma).astype(np.int64), 2) == 1


def read_saliency_map(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """A user's saliency map (grey PNG/JPEG/TIFF, 8-bit or [0, 1] float) as float32 ``(H, W)`` in [0, 1];
    :class:`~semcolor.errors.DatasetLayoutError` when its size is not ``shape``."""
    from PIL import Image

    from semcolor.errors import CorruptFileError, DatasetLayoutError

    try:
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im.convert("F") if im.mode in ("F", "I", "I;16") else im.convert("L"), np.float32)
    except Exception as exc:  # Pillow raises many types for truncated / foreign files
        raise CorruptFileError(path, "a grey saliency map image", f"{type(exc).__name__}: {exc}") from exc
    if arr.shape != tuple(shape):
        raise DatasetLayoutError(f"saliency map '{path}' is {arr.shape[1]}x{arr.shape[0]} px but its image is "
                                 f"{shape[1]}x{shape[0]} px; expected a map of the image's size")
    return arr / 255.0 if arr.max() > 1.0 else arr
