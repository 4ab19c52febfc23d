"""Differentiable sRGB / linear RGB / CIE XYZ / CIELAB conversions on tensors.

Conventions (all functions):

- Tensors are shaped ``(*, 3, H, W)`` (channels at axis -3), so ``(N, 3, H, W)`` and ``(3, H, W)`` both
  work. float32 and float64 are computed in their own dtype; float16/bfloat16 are computed in float32 and
  cast back.
- "sRGB" means gamma-encoded sRGB (IEC 61966-2-1) in [0, 1]; "linear RGB" is the same primaries without the
  transfer function. Illuminant D65, CIE 1931 2-degree observer.
- XYZ returned by :func:`rgb_to_xyz` is scaled so that the white has Y = 1 (as kornia and skimage do).
  CAM16 (:mod:`semcolor.colorspace.cam16`) uses the 0..100 scale; multiply by 100 when chaining by hand.
- Two sRGB -> XYZ matrices are in use, on purpose:
    * :func:`rgb_to_xyz` / :func:`linear_rgb_to_xyz` and :func:`rgb_to_lab` use kornia's 6-decimal matrix
      (the one skimage uses too; rows sum to the white (0.950456, 1, 1.088754)), so CIELAB and CIEDE2000
      agree with ``skimage.color`` to ~1e-13.
    * :func:`rgb_to_xyz_iec` / :func:`linear_rgb_to_xyz_iec` use the 4-decimal matrix printed in
      IEC 61966-2-1:1999 (:data:`SRGB_TO_XYZ_IEC`; rows sum to (0.9505, 1, 1.0890)), the one
      ``colour.sRGB_to_XYZ`` uses. CAM16-UCS (:func:`semcolor.colorspace.rgb_to_cam16ucs`) goes through it,
      so that Delta E CAM16-UCS agrees with colour-science's sRGB -> CAM16-UCS. The two matrices differ by
      up to 3e-4 per entry, i.e. up to 2.7e-2 in XYZ x 100 and 1.2e-2 in Delta E CAM16-UCS.
- CIELAB has L* in 0..100 and the D65 white (0.95047, 1.0, 1.08883), the same numbers as
  ``skimage.color.rgb2lab`` (checked in ``tests/colorspace/test_colorspace.py``).

The work is done by ``kornia.color``; this module only fixes the conventions around it:

- kornia's ``rgb_to_xyz`` expects *linear* RGB. Here :func:`rgb_to_xyz` takes gamma-encoded sRGB, like
  :func:`rgb_to_lab` and ``skimage.color.rgb2xyz``; :func:`linear_rgb_to_xyz` is the linear variant.
- kornia applies its 3x3 matrices with ``einsum`` (CPU) or ``conv2d`` (GPU), which an enclosing
  ``torch.autocast`` region would run in half precision even for float32 inputs. Every call here therefore
  runs with autocast disabled.
- Clamping: kornia's ``rgb_to_lab`` does NOT clamp its input or output. Values outside [0, 1] go through the
  linear segment of the sRGB curve (x / 12.92 for x <= 0.04045) and of the Lab curve, and the power
  branches use clamped arguments, so out-of-range inputs give finite values and finite gradients.
  ``lab_to_rgb`` clamps f_z >= 0 internally (kornia) and, when ``clip=True`` (default, kornia's default),
  clamps the sRGB output to [0, 1] (zero gradient outside).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from kornia import color as kc
from torch import Tensor

__all__ = [
    "D65_WHITE_XYZ",
    "srgb_to_linear",
    "linear_to_srgb",
    "linear_rgb_to_xyz",
    "xyz_to_linear_rgb",
    "rgb_to_xyz",
    "SRGB_TO_XYZ_IEC",
    "linear_rgb_to_xyz_iec",
    "rgb_to_xyz_iec",
    "xyz_to_rgb",
    "rgb_to_lab",
    "lab_to_rgb",
    "luma_bt709",
    "safe_sqrt",
    "check_image",
]

#: D65 white point, CIE 1931 2-degree observer, Y = 1 (kornia / skimage values).
D65_WHITE_XYZ: tuple[float, float, float] = (0.95047, 1.0, 1.08883)

#: Linear sRGB -> XYZ (white Y = 1) as printed in IEC 61966-2-1:1999 (4 decimals); colour-science's
#: ``RGB_COLOURSPACES["sRGB"].matrix_RGB_to_XYZ``. kornia / skimage use a 6-decimal matrix instead.
SRGB_TO_XYZ_IEC: tuple[tuple[float, float, float], ...] = (
    (0.4124, 0.3576, 0.1805),
    (0.2126, 0.7152, 0.0722),
    (0.0193, 0.1192, 0.9505),
)

#: ITU-R BT.709 luma coefficients for R, G, B.
_BT709 = (0.2126, 0.7152, 0.0722)


def check_image(x: Tensor, name: str = "image") -> None:
    """Raise ``ValueError`` unless ``x`` is a floating tensor shaped ``(*, 3, H, W)``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} must be shaped (*, 3, H, W) (e.g. (N, 3, H, W) or (3, H, W)), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")


@contextlib.contextmanager
def _no_autocast(device_type: str) -> Iterator[None]:
    """Disable autocast for ``device_type`` (kornia's matrix products would otherwise run in fp16/bf16)."""
    if device_type in ("cpu", "cuda", "mps", "xpu"):
        with torch.autocast(device_type=device_type, enabled=False):
            yield
    else:  # device types without autocast (e.g. meta)
        yield


def _run(fn: Callable[..., Tensor], x: Tensor, name: str, **kwargs: object) -> Tensor:
    """Validate ``x``, run ``fn`` in float32/float64 with autocast off, cast back to the input dtype."""
    check_image(x, name)
    low_precision = x.dtype in (torch.float16, torch.bfloat16)
    with _no_autocast(x.device.type):
        out = fn(x.float() if low_precision else x, **kwargs)
    return out.to(x.dtype) if low_precision else out


def _apply_matrix(m: Sequence[Sequence[float]], x: Tensor) -> Tensor:
    """3x3 matrix on channel axis -3 with elementwise ops (no matmul, so autocast cannot lower it)."""
    c0, c1, c2 = x.unbind(dim=-3)
    return torch.stack([m[i][0] * c0 + m[i][1] * c1 + m[i][2] * c2 for i in range(3)], dim=-3)


def safe_sqrt(x: Tensor) -> Tensor:
    """``sqrt(max(x, 0))`` whose gradient is 0 (not inf/NaN) where ``x <= 0``.

    Uses the "double where" trick so that the value is exact (0 at 0), unlike ``sqrt(x + eps)``.
    Needed for distances between identical colours, where ``torch.sqrt`` backpropagates NaN.
    """
    positive = x > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), torch.zeros_like(x))


def srgb_to_linear(rgb: Tensor) -> Tensor:
    """sRGB (gamma-encoded, [0, 1]) -> linear RGB (IEC 61966-2-1 transfer function), via kornia."""
    return _run(kc.rgb_to_linear_rgb, rgb, "rgb")


def linear_to_srgb(rgb_linear: Tensor) -> Tensor:
    """Linear RGB -> gamma-encoded sRGB (IEC 61966-2-1), via kornia. No output clamping."""
    return _run(kc.linear_rgb_to_rgb, rgb_linear, "rgb_linear")


def linear_rgb_to_xyz(rgb_linear: Tensor) -> Tensor:
    """Linear RGB -> CIE XYZ (D65, white Y = 1), via ``kornia.color.rgb_to_xyz``."""
    return _run(kc.rgb_to_xyz, rgb_linear, "rgb_linear")


def xyz_to_linear_rgb(xyz: Tensor) -> Tensor:
    """CIE XYZ (D65, white Y = 1) -> linear RGB, via ``kornia.color.xyz_to_rgb``. No clamping."""
    return _run(kc.xyz_to_rgb, xyz, "xyz")


def rgb_to_xyz(rgb: Tensor) -> Tensor:
    """Gamma-encoded sRGB in [0, 1] -> CIE XYZ (D65, white Y = 1).

    Note: unlike ``kornia.color.rgb_to_xyz`` this applies the sRGB decoding first (like
    ``skimage.color.rgb2xyz``).
    """
    return _run(lambda x: kc.rgb_to_xyz(kc.rgb_to_linear_rgb(x)), rgb, "rgb")


def linear_rgb_to_xyz_iec(rgb_linear: Tensor) -> Tensor:
    """Linear RGB -> CIE XYZ (white Y = 1) with the IEC 61966-2-1 matrix :data:`SRGB_TO_XYZ_IEC`."""
    return _run(lambda x: _apply_matrix(SRGB_TO_XYZ_IEC, x), rgb_linear, "rgb_linear")


def rgb_to_xyz_iec(rgb: Tensor) -> Tensor:
    """Gamma-encoded sRGB in [0, 1] -> CIE XYZ (white Y = 1) with the IEC 61966-2-1 matrix.

    Same transfer function as :func:`rgb_to_xyz`; only the matrix differs (:data:`SRGB_TO_XYZ_IEC`, as
    ``colour.sRGB_to_XYZ``). sRGB white maps to (0.9505, 1, 1.0890).
    """
    return _run(lambda x: _apply_matrix(SRGB_TO_XYZ_IEC, kc.rgb_to_linear_rgb(x)), rgb, "rgb")


def xyz_to_rgb(xyz: Tensor) -> Tensor:
    """CIE XYZ (D65, white Y = 1) -> gamma-encoded sRGB. Not clamped (out-of-gamut values fall outside [0, 1])."""
    return _run(lambda x: kc.linear_rgb_to_rgb(kc.xyz_to_rgb(x)), xyz, "xyz")


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """Gamma-encoded sRGB in [0, 1] -> CIELAB (D65 white (0.95047, 1, 1.08883), L* in 0..100).

    Via ``kornia.color.rgb_to_lab``, which does not clamp (see the module docstring).
    """
    return _run(kc.rgb_to_lab, rgb, "rgb")


def lab_to_rgb(lab: Tensor, clip: bool = True) -> Tensor:
    """CIELAB (D65, L* in 0..100) -> gamma-encoded sRGB, via ``kornia.color.lab_to_rgb``.

    Args:
        lab: ``(*, 3, H, W)`` L*, a*, b*.
        clip: clamp the sRGB result to [0, 1] (kornia's default). With ``False`` out-of-gamut Lab colours
            give sRGB values outside [0, 1].
    """
    return _run(kc.lab_to_rgb, lab, "lab", clip=clip)


def luma_bt709(rgb: Tensor) -> Tensor:
    """Y = 0.2126 R + 0.7152 G + 0.0722 B, shaped ``(*, 1, H, W)``.

    Applied to the values as given, i.e. to gamma-encoded sRGB when given sRGB: this is the
    grey-level input of the multipath colorization paper (Wang et al. 2025, Sec. "Method": "RGB-to-grayscale
    conversion based on the ITU-R BT.709 standard"), which, like most colorization work, applies the
    weights to the encoded values rather than to linear light.
    """
    check_image(rgb, "rgb")
    r, g, b = rgb.unbind(dim=-3)
    return (_BT709[0] * r + _BT709[1] * g + _BT709[2] * b).unsqueeze(-3)
