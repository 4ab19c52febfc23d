"""Synthetic bursts for burst super-resolution: Xue 2025 (thesis), Eq. 5.2 and Sec. 5.5.1 (pure torch).

Eq. 5.2 is ``y_i[u] = x[alpha u + v_i] + eps_i[u]``: frame ``i`` of a burst of ``n`` is the HR image moved
by the camera-shake displacement ``v_i``, sampled on the low-resolution grid ``u`` (factor ``alpha``) and
noisy. Sec. 5.5.1 builds it from an image as follows, and :func:`synthesize_burst` does exactly this:

1. the HR ground truth is the ``crop_size`` (128) centre crop of the image;
2. frame 1 is aligned with it (``v_1 = 0``); every other frame is translated by ``(dx, dy)``, each
   ``~ N(0, sigma_s)`` (or the temporally correlated shake of Fig. 5.6, below). The translation is applied
   on the HR grid, before downsampling (the order of the burst synthesis of the NTIRE burst-SR challenge the
   thesis follows, its ref. [10]): the crop window centred at ``centre + v_i`` is sampled bilinearly from
   the *whole* image, so no border is invented while the window stays inside it (reflection beyond);
3. LR = bilinear x4 downscaling (``F.interpolate(..., antialias=False)``, the same as OpenCV's
   ``INTER_LINEAR``: each LR pixel is the mean of the 2x2 HR pixels around its centre);
4. per frame and pixel, Poisson (shot) noise with level ``lambda_p`` and Gaussian (read) noise with
   standard deviation ``sigma_g`` in 8-bit units, independent across frames; then clip to [0, 1].

Two points the thesis leaves open are switches (:class:`BurstSettings`), with our defaults:

* ``shake_units``: Table 5.1 gives ``sigma_s`` in "pixel" without saying which grid. ``"lr"`` (default):
  LR pixels, i.e. ``scale * N(0, sigma_s)`` HR pixels -- at ``sigma_s = 4`` that is 16 HR px, strong enough
  for the optimal burst length the chapter reports; ``"hr"``: HR pixels, what Eq. 5.2 literally implies
  (``v_i`` is added after the scaling ``alpha u``), mostly sub-LR-pixel shifts.
* ``poisson_mode``: "Poisson noise n_p ~ P(lambda_p) added to each LR image" read literally
  (``"additive"``: ``(P(lambda_p) - lambda_p) / 255``, signal-independent, a std of at most 2/255 next to
  ``sigma_g`` up to 40/255) is not shot noise. ``"scale"`` (default) is the signal-dependent form of
  BasicSR / Real-ESRGAN's ``generate_poisson_noise(img, scale)``: ``lambda_p * (P(255 x) / 255 - x)``, a std of
  ``lambda_p * sqrt(x / 255)`` (45/255 at x = 0.5, lambda_p = 4), on the scale of ``sigma_g``'s levels. We use
  255 photons per unit (BasicSR counts the image's distinct values, which makes the noise data-dependent).

Temporally correlated shake (Fig. 5.6 left, "linear-increased translation in one direction and random
translation in another"): ``v_i = ((i - 1) * drift, N(0, sigma_s))``. The thesis gives no slope: ``drift``
(px per frame, the same units) defaults to ``sigma_s / 4`` -- our guess.

Everything random comes from the ``torch.Generator`` passed in, so a burst is a pure function of the
image, the settings and the seed (:func:`sample_generator` derives one per sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from semcolor.errors import SemcolorError

__all__ = ["TABLE_5_1", "BurstSettings", "burst_shifts", "downscale", "add_noise", "synthesize_burst",
           "sample_generator", "frames_to_channels", "channels_to_frames"]

#: Xue 2025 (thesis), Table 5.1: the levels of the degradation study (any other value is allowed)
TABLE_5_1: dict[str, tuple[float, ...]] = {
    "sigma_g": (0, 10, 20, 30, 40),
    "lambda_p": (0, 1, 2, 3, 4),
    "sigma_s": (0, 1, 2, 3, 4),
    "num_frames": (1, 5, 10, 20, 30, 40, 50),
}

ShakeUnits = Literal["lr", "hr"]
ShakeKind = Literal["random", "correlated"]
PoissonMode = Literal["scale", "additive"]


@dataclass(frozen=True)
class BurstSettings:
    """One degradation setting of the study (Xue 2025 (thesis), Table 5.1 and Sec. 5.5.1).

    Args:
        num_frames: burst length ``n`` (Table 5.1: 1, 5, 10, 20, 30, 40, 50).
        crop_size: side of the HR ground truth, the centre crop (128).
        scale: downscaling factor (4).
        sigma_g: Gaussian read-noise standard deviation in 8-bit units (0, 10, 20, 30, 40).
        lambda_p: Poisson shot-noise level (0, 1, 2, 3, 4); meaning set by ``poisson_mode``.
        sigma_s: shake standard deviation in ``shake_units`` pixels (0, 1, 2, 3, 4).
        shake_units: ``"lr"`` (default) or ``"hr"`` pixels (see the module docstring).
        shake: ``"random"`` (i.i.d. per frame and axis) or ``"correlated"`` (Fig. 5.6: linear drift along x,
            random along y).
        drift: x-translation per frame of the correlated shake, in ``shake_units`` px (None: ``sigma_s / 4``).
        poisson_mode: ``"scale"`` (signal-dependent, default) or ``"additive"`` (literal).
        quantize: round the noisy frames to 8-bit levels (off: the thesis does not say).
    """

    num_frames: int = 5
    crop_size: int = 128
    scale: int = 4
    sigma_g: float = 10.0
    lambda_p: float = 1.0
    sigma_s: float = 0.0
    shake_units: ShakeUnits = "lr"
    shake: ShakeKind = "random"
    drift: float | None = None
    poisson_mode: PoissonMode = "scale"
    quantize: bool = False

    def __post_init__(self) -> None:
        def bad(what: str) -> SemcolorError:
            return SemcolorError(f"burst settings: {what}")

        if int(self.num_frames) != self.num_frames or self.num_frames < 1:
            raise bad(f"num_frames (the burst length) must be a positive integer, got {self.num_frames}")
        if self.scale < 1 or self.crop_size < 1 or self.crop_size % self.scale:
            raise bad(f"crop_size must be a positive multiple of scale={self.scale}, got {self.crop_size}")
        for name in ("sigma_g", "lambda_p", "sigma_s"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise bad(f"{name} must be a finite value >= 0, got {value}")
        if self.shake_units not in ("lr", "hr"):
            raise bad(f"shake_units must be 'lr' or 'hr', got {self.shake_units!r}")
        if self.shake not in ("random", "correlated"):
            raise bad(f"shake must be 'random' or 'correlated', got {self.shake!r}")
        if self.poisson_mode not in ("scale", "additive"):
            raise bad(f"poisson_mode must be 'scale' or 'additive', got {self.poisson_mode!r}")
        if self.drift is not None and not np.isfinite(self.drift):
            raise bad(f"drift must be finite, got {self.drift}")

    @property
    def lr_size(self) -> int:
        return self.crop_size // self.scale

    def as_dict(self) -> dict:
        return asdict(self)


def sample_generator(*key: int) -> torch.Generator:
    """A ``torch.Generator`` seeded from integers (e.g. ``seed, split, epoch, index``) by numpy's
    ``SeedSequence``, so that nearby keys give unrelated streams."""
    state = np.random.SeedSequence([int(k) for k in key]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


def burst_shifts(settings: BurstSettings, generator: torch.Generator) -> Tensor:
    """Displacements ``v_i`` of the frames in HR pixels, ``(n, 2)`` as ``(dx, dy)``; ``v_1 = 0``."""
    n, s = settings.num_frames, settings.sigma_s
    unit = settings.scale if settings.shake_units == "lr" else 1
    shifts = torch.zeros(n, 2, dtype=torch.float64)
    if n > 1:
        shifts[1:] = torch.randn(n - 1, 2, generator=generator, dtype=torch.float64) * s
        if settings.shake == "correlated":
            drift = s / 4 if settings.drift is None else settings.drift
            shifts[1:, 0] = torch.arange(1, n, dtype=torch.float64) * drift
    return shifts * unit


def _shifted_crops(image: Tensor, size: int, shifts: Tensor) -> Tensor:
    """``(n, C, size, size)`` windows of ``image`` ``(C, H, W)`` centred at the centre crop + ``shifts``
    (HR px, ``(dx, dy)``), sampled bilinearly; reflection beyond the image's border."""
    _, h, w = image.shape
    top, left = (h - size) // 2, (w - size) // 2
    grid_1d = torch.arange(size, dtype=torch.float64)
    rows = top + grid_1d[None, :] + shifts[:, 1:2]  # (n, size): image row of each crop row
    cols = left + grid_1d[None, :] + shifts[:, 0:1]
    # align_corners=True: normalised -1 / +1 are the centres of the first / last pixel
    gy = (2 * rows / max(h - 1, 1) - 1)[:, :, None].expand(-1, -1, size)
    gx = (2 * cols / max(w - 1, 1) - 1)[:, None, :].expand(-1, size, -1)
    grid = torch.stack([gx, gy], dim=-1).to(image.dtype)
    src = image[None].expand(shifts.shape[0], -1, -1, -1)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def downscale(hr: Tensor, scale: int) -> Tensor:
    """Bilinear downscaling by ``scale`` without antialiasing (= OpenCV ``INTER_LINEAR``), ``(N, C, H, W)``."""
    if scale == 1:
        return hr
    return F.interpolate(hr, scale_factor=1 / scale, mode="bilinear", align_corners=False, antialias=False)


def add_noise(frames: Tensor, settings: BurstSettings, generator: torch.Generator) -> Tensor:
    """Poisson then Gaussian noise per frame and pixel, clipped to [0, 1] (and 8-bit rounded on request)."""
    out = frames
    lam = settings.lambda_p
    if lam > 0:
        if settings.poisson_mode == "scale":  # BasicSR generate_poisson_noise(img, scale=lambda_p), 255 levels
            counts = torch.poisson(frames.clamp(0, 1) * 255.0, generator=generator)
            out = out + lam * (counts / 255.0 - frames)
        else:  # literal: a zero-mean P(lambda_p) count in 8-bit units
            counts = torch.poisson(torch.full_like(frames, lam), generator=generator)
            out = out + (counts - lam) / 255.0
    if settings.sigma_g > 0:
        out = out + torch.randn(frames.shape, generator=generator, dtype=frames.dtype) * (settings.sigma_g / 255.0)
    out = out.clamp(0.0, 1.0)
    if settings.quantize:
        out = torch.round(out * 255.0) / 255.0
    return out


def synthesize_burst(image: Tensor | np.ndarray, settings: BurstSettings, generator: torch.Generator,
                     name: str = "image") -> dict[str, Tensor]:
    """One burst of ``image`` (``(3, H, W)`` float in [0, 1], or ``(H, W, 3)`` uint8).

    Returns ``frames`` ``(n, 3, crop/scale, crop/scale)``, ``target`` ``(3, crop, crop)`` (the centre crop) and
    ``shifts`` ``(n, 2)`` (HR px, ``(dx, dy)``). A crop larger than the image raises a :class:`SemcolorError`
    naming ``name``.
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise SemcolorError(f"{name}: expected an (H, W, 3) RGB image, got shape {image.shape}")
        image = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float() / 255.0
    if image.ndim != 3 or image.shape[0] != 3:
        raise SemcolorError(f"{name}: expected a (3, H, W) RGB image, got shape {tuple(image.shape)}")
    size = settings.crop_size
    h, w = image.shape[-2:]
    if size > h or size > w:
        raise SemcolorError(f"{name}: the {size}x{size} HR crop does not fit in the {h}x{w} image "
                            f"(set crop_size <= {min(h, w)})")
    image = image.float()
    top, left = (h - size) // 2, (w - size) // 2
    target = image[:, top:top + size, left:left + size].contiguous()
    shifts = burst_shifts(settings, generator)
    hr = _shifted_crops(image, size, shifts)
    hr[0] = target  # the reference frame is the ground truth itself (no resampling round-off)
    frames = add_noise(downscale(hr, settings.scale), settings, generator)
    return {"frames": frames, "target": target, "shifts": shifts.float()}


def frames_to_channels(frames: Tensor) -> Tensor:
    """``(..., n, 3, h, w)`` -> ``(..., 3n, h, w)``: the network input, frames concatenated (Sec. 5.5.1)."""
    return frames.flatten(-4, -3)


def channels_to_frames(x: Tensor, channels: int = 3) -> Tensor:
    """Inverse of :func:`frames_to_channels`."""
    return x.unflatten(-3, (x.shape[-3] // channels, channels))

