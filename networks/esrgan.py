"""ESRGAN's networks for burst super-resolution (Xue 2025 (thesis), Sec. 5.5.1: "ESRGAN ... 23 residual blocks,
and all the images in a burst are concatenated as input").

* :class:`RRDBNet` -- the ESRGAN generator (Wang et al. 2018, ESRGAN; the layout of the official
  ``RRDBNet_arch.py`` and BasicSR's ``rrdbnet_arch.py``): a 3x3 conv to ``features`` (64), ``num_blocks`` (23)
  residual-in-residual dense blocks (each 3 dense blocks of 5 convs, growth ``growth`` = 32, LeakyReLU 0.2
  after the first 4, residual scaling 0.2 at both levels), a 3x3 trunk conv with a long skip, upsampling
  by repeated (nearest x2, 3x3 conv, LeakyReLU), a 3x3 HR conv + LeakyReLU and a 3x3 conv to RGB. No batch
  norm, no output activation. For a burst of ``n`` frames the first conv takes ``3n`` channels.
  Initialisation as BasicSR: Kaiming-normal scaled by 0.1 in the dense blocks ("smaller initialisation").
* :class:`VGGStyleDiscriminator` -- BasicSR's ``VGGStyleDiscriminator`` (ESRGAN's D for 128x128 crops):
  pairs of (3x3 stride 1, 4x4 stride 2) convs, widths 64, 128, 256, 512, 512, batch norm after all but the
  first conv, LeakyReLU 0.2, then Linear(512*4*4, 100), LeakyReLU, Linear(100, 1): one logit per image.
  Other input sizes use one stage per halving down to 4x4.
* :func:`interpolate_state_dicts` -- ESRGAN's network interpolation ``theta = (1 - alpha) theta_D + alpha
  theta_P`` (``net_interp.py``; the thesis's Sec. 5.5.1), which traces the perception-distortion curve.

Written here rather than taken from BasicSR: its last release (1.4.2, 2022) imports
``torchvision.transforms.functional_tensor``, which current torchvision no longer has, and pulls in its whole
training framework; the two networks are ~100 lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RRDB", "RRDBNet", "ResidualDenseBlock", "VGGStyleDiscriminator", "interpolate_state_dicts"]


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; ``out = residual_scale * conv5(...) + x``."""

    def __init__(self, features: int = 64, growth: int = 32, residual_scale: float = 0.2) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(features + k * growth, growth if k < 4 else features, 3, 1, 1)
                                   for k in range(5))
        self.act = _lrelu()
        self.residual_scale = residual_scale
        for conv in self.convs:  # BasicSR default_init_weights(..., scale=0.1)
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for conv in self.convs[:4]:
            feats.append(self.act(conv(torch.cat(feats, 1))))
        return self.convs[4](torch.cat(feats, 1)) * self.residual_scale + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, ``out = residual_scale * f(x) + x``."""

    def __init__(self, features: int = 64, growth: int = 32, residual_scale: float = 0.2) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(ResidualDenseBlock(features, growth, residual_scale) for _ in range(3)))
        self.residual_scale = residual_scale

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x) * self.residual_scale + x


class RRDBNet(nn.Module):
    """ESRGAN generator on a burst: ``(B, 3n, h, w)`` -> ``(B, 3, scale h, scale w)``.

    Args:
        in_channels: input channels, ``3 * num_frames`` for a burst.
        out_channels: 3.
        features: trunk width (64).
        num_blocks: RRDBs in the trunk (23).
        growth: growth channels of the dense blocks (32).
        scale: upsampling factor, a power of two (4: two nearest-x2 + conv stages).
        residual_scale: the residual scaling of dense blocks and RRDBs (0.2).
        global_skip: add the bicubic upsampling of the first frame (the first ``out_channels`` input channels) to
            the output, so the untrained network starts at the bicubic reference instead of near 0. Not ESRGAN's
            (off by default): it lets the CPU-sized runs learn something within a few hundred steps.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, features: int = 64, num_blocks: int = 23,
                 growth: int = 32, scale: int = 4, residual_scale: float = 0.2, global_skip: bool = False) -> None:
        super().__init__()
        if scale < 1 or scale & (scale - 1):
            raise ValueError(f"RRDBNet: scale must be a power of two, got {scale}")
        if min(in_channels, out_channels, features, growth) < 1 or num_blocks < 0:
            raise ValueError("RRDBNet: channel counts must be positive and num_blocks >= 0")
        self.in_channels, self.scale, self.global_skip = in_channels, scale, global_skip
        self.conv_first = nn.Conv2d(in_channels, features, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(features, growth, residual_scale) for _ in range(num_blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
        self.upconvs = nn.ModuleList(nn.Conv2d(features, features, 3, 1, 1) for _ in range(int(math.log2(scale))))
        self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_last = nn.Conv2d(features, out_channels, 3, 1, 1)
        self.act = _lrelu()

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"RRDBNet expects (B, {self.in_channels}, h, w) (the burst's frames concatenated), "
                             f"got {tuple(x.shape)}")
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in self.upconvs:
            feat = self.act(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        out = self.conv_last(self.act(self.conv_hr(feat)))
        if self.global_skip:
            out = out + F.interpolate(x[:, : out.shape[1]], scale_factor=self.scale, mode="bicubic", align_corners=False)
        return out


class VGGStyleDiscriminator(nn.Module):
    """ESRGAN / BasicSR VGG-style discriminator, one logit per image of ``input_size`` (128) px.

    Args:
        in_channels: 3.
        features: width of the first stage (64); later stages double it up to 8x.
        input_size: image side the linear head is built for; a multiple of 4 with ``input_size / 4`` a power
            of two (128: five stages, the ESRGAN configuration).
    """

    def __init__(self, in_channels: int = 3, features: int = 64, input_size: int = 128) -> None:
        super().__init__()
        stages = int(round(math.log2(input_size / 4))) if input_size >= 8 else 0
        if stages < 1 or 4 * 2**stages != input_size:
            raise ValueError(f"VGGStyleDiscriminator: input_size must be 4 * 2**k (k >= 1), got {input_size}")
        self.in_channels, self.input_size = in_channels, input_size
        layers: list[nn.Module] = [nn.Conv2d(in_channels, features, 3, 1, 1), _lrelu(),
                                   nn.Conv2d(features, features, 4, 2, 1, bias=False), nn.BatchNorm2d(features, affine=True),
                                   _lrelu()]
        width = features
        for k in range(1, stages):
            out = features * min(2**k, 8)
            layers += [nn.Conv2d(width, out, 3, 1, 1, bias=False), nn.BatchNorm2d(out), _lrelu(),
                       nn.Conv2d(out, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), _lrelu()]
            width = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(width * 4 * 4, 100), _lrelu(), nn.Linear(100, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[-2:]) != (self.input_size,) * 2:
            raise ValueError(f"VGGStyleDiscriminator built for (B, {self.in_channels}, {self.input_size}, "
                             f"{self.input_size}), got {tuple(x.shape)}")
        return self.head(self.features(x).flatten(1))


def interpolate_state_dicts(theta_d: Mapping[str, Tensor], theta_p: Mapping[str, Tensor], alpha: float,
                            names: tuple[str, str] = ("theta_D", "theta_P")) -> dict[str, Tensor]:
    """ESRGAN network interpolation ``(1 - alpha) theta_D + alpha theta_P`` of every floating-point tensor
    (integer buffers, e.g. BN's ``num_batches_tracked``, are taken from ``theta_P``).

    Two state dicts of different architectures (other keys or shapes) raise a ``ValueError`` naming both
    (``names``) and the first difference.
    """
    if set(theta_d) != set(theta_p):
        only = sorted(set(theta_d) ^ set(theta_p))[:3]
        raise ValueError(f"{names[0]} and {names[1]} are different architectures: parameters {only} are in only one")
    out = {}
    for key, p in theta_p.items():
        d = theta_d[key]
        if d.shape != p.shape:
            raise ValueError(f"{names[0]} and {names[1]} are different architectures: '{key}' is "
                             f"{tuple(d.shape)} in one and {tuple(p.shape)} in the other")
        out[key] = (1 - alpha) * d + alpha * p if p.is_floating_point() else p.clone()
    return out
