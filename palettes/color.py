"""sRGB <-> CIELAB for channel-last numpy images, at the boundary of :mod:`semcolor.colorspace`.

The palette code works on ``(..., 3)`` numpy arrays (pixels or palette colours); the conversions are
the project's one implementation (:func:`semcolor.colorspace.rgb_to_lab` / :func:`~semcolor.colorspace.lab_to_rgb`,
D65), called on a torch view of the array.
"""

from __future__ import annotations

import numpy as np
import torch

from semcolor.colorspace import lab_to_rgb, linear_to_srgb, rgb_to_lab, srgb_to_linear

__all__ = ["to_unit_rgb", "to_uint8", "rgb_to_lab_np", "lab_to_rgb_np", "srgb_to_linear_np", "linear_to_srgb_np"]


def to_unit_rgb(rgb: np.ndarray) -> np.ndarray:
    """uint8 (0..255) or float (0..1) RGB -> float32 in [0, 1]."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(rgb.dtype, np.floating):
        raise TypeError(f"RGB must be uint8 or floating point in [0, 1], got {rgb.dtype}")
    return np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] (float) or uint8 -> uint8, rounded."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        return rgb
    return np.clip(np.rint(np.asarray(rgb, np.float32) * 255.0), 0, 255).astype(np.uint8)


def _as_image(x: np.ndarray) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``(..., 3)`` -> a ``(3, 1, N)`` tensor (the colorspace functions take ``(*, 3, H, W)``)."""
    if x.shape[-1] != 3:
        raise ValueError(f"colours must be shaped (..., 3), got {x.shape}")
    shape = x.shape[:-1]
    flat = torch.from_numpy(np.ascontiguousarray(x.reshape(-1, 3), dtype=np.float32))
    return flat.T.reshape(3, 1, -1), shape


def rgb_to_lab_np(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``(..., 3)`` (uint8 or float in [0, 1]) -> CIELAB float32 ``(..., 3)`` (L in 0..100)."""
    t, shape = _as_image(to_unit_rgb(rgb))
    return rgb_to_lab(t).reshape(3, -1).T.numpy().reshape(*shape, 3)


def lab_to_rgb_np(lab: np.ndarray, clip: bool = True) -> np.ndarray:
    """CIELAB ``(..., 3)`` -> sRGB float32 ``(..., 3)`` in [0, 1] (clipped unless ``clip=False``)."""
    t, shape = _as_image(np.asarray(lab, np.float32))
    return lab_to_rgb(t, clip=clip).reshape(3, -1).T.numpy().reshape(*shape, 3)


def srgb_to_linear_np(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``(..., 3)`` (uint8 or float in [0, 1]) -> linear RGB float32 (IEC 61966-2-1 decoding)."""
    t, shape = _as_image(to_unit_rgb(rgb))
    return srgb_to_linear(t).reshape(3, -1).T.numpy().reshape(*shape, 3)


def linear_to_srgb_np(rgb_linear: np.ndarray) -> np.ndarray:
    """Linear RGB ``(..., 3)`` -> sRGB float32 in [0, 1] (clipped to [0, 1] before encoding)."""
    t, shape = _as_image(np.clip(np.asarray(rgb_linear, np.float32), 0.0, 1.0))
    return linear_to_srgb(t).reshape(3, -1).T.numpy().reshape(*shape, 3)
