"""Differentiable colour conversions on tensors shaped ``(*, 3, H, W)``.

sRGB / linear RGB / XYZ / CIELAB wrap ``kornia.color`` (:mod:`semcolor.colorspace.conversions`); CAM16 and
CAM16-UCS are hand-written (:mod:`semcolor.colorspace.cam16`) because no torch library implements them.
"""

from __future__ import annotations

from .cam16 import (
    CAM16_D65_WHITE_XYZ,
    SURROUNDS,
    ViewingConditions,
    rgb_to_cam16ucs,
    xyz_to_cam16,
    xyz_to_cam16ucs,
)
from .conversions import (
    D65_WHITE_XYZ,
    SRGB_TO_XYZ_IEC,
    check_image,
    lab_to_rgb,
    linear_rgb_to_xyz,
    linear_rgb_to_xyz_iec,
    linear_to_srgb,
    luma_bt709,
    rgb_to_lab,
    rgb_to_xyz,
    rgb_to_xyz_iec,
    safe_sqrt,
    srgb_to_linear,
    xyz_to_linear_rgb,
    xyz_to_rgb,
)

__all__ = [
    "CAM16_D65_WHITE_XYZ",
    "D65_WHITE_XYZ",
    "SRGB_TO_XYZ_IEC",
    "SURROUNDS",
    "ViewingConditions",
    "check_image",
    "lab_to_rgb",
    "linear_rgb_to_xyz",
    "linear_rgb_to_xyz_iec",
    "linear_to_srgb",
    "luma_bt709",
    "rgb_to_cam16ucs",
    "rgb_to_lab",
    "rgb_to_xyz",
    "rgb_to_xyz_iec",
    "safe_sqrt",
    "srgb_to_linear",
    "xyz_to_cam16",
    "xyz_to_cam16ucs",
    "xyz_to_linear_rgb",
    "xyz_to_rgb",
]
