"""Attention blocks shared by several methods.

* :class:`SpatialAttention` -- the spatial branch of CBAM (Woo et al., ECCV 2018, Sec. 3, "spatial
  attention module"): ``M_s(F) = sigmoid(conv_kxk([AvgPool_c(F); MaxPool_c(F)]))``, the pools running
  over the channel axis.  JSDCGAN's LCFE module uses it for ``F_s`` (Wang et al. 2022, Eq. 1, second line).
* :class:`SqueezeExcitation` -- SE block (Hu et al., CVPR 2018) with reduction ratio ``r``; the multipath
  method fuses its two paths with SE (r = 16) (Wang et al. 2025).
* :class:`EfficientChannelAttention` -- ECA (Wang et al., CVPR 2020): a 1-D convolution across the
  globally average-pooled channel descriptor whose kernel size is chosen adaptively from the channel
  count, ``k = |(log2(C) + b) / gamma|_odd`` with ``gamma = 2, b = 1`` (see :func:`eca_kernel_size`);
  the multipath method's context path uses it (Wang et al. 2025).

SE and ECA wrap the library implementations (torchvision / timm); only the CBAM spatial branch is
hand-written (see the class docstring for why).
"""

from __future__ import annotations

import math

import torch
from timm.layers import EcaModule
from torch import nn
from torchvision.ops import SqueezeExcitation as _TorchvisionSE

__all__ = [
    "EfficientChannelAttention",
    "SpatialAttention",
    "SqueezeExcitation",
    "eca_kernel_size",
]


class SpatialAttention(nn.Module):
    """CBAM spatial attention: ``F * sigmoid(conv([avg_c(F) ; max_c(F)]))``.

    ``avg_c`` / ``max_c`` pool over the channel axis, giving two ``(B, 1, H, W)`` maps that are stacked
    into a 2-channel map; a ``kernel_size x kernel_size`` convolution (``padding = k // 2``, so the size
    is kept) maps it to one channel and a sigmoid turns it into the attention map ``(B, 1, H, W)`` in
    ``(0, 1)``, broadcast over the channels of ``F``.

    Hand-written rather than ``timm.layers.cbam.SpatialAttn`` because that one always inserts a
    BatchNorm after the convolution and does not expose the map on its own; LCFE's equation (Wang et al. 2022,
    Eq. 1: ``F_s = F_i * sigma(max(F_i) | avg(F_i))``) and CBAM's paper equation have a plain
    convolution.  ``norm=True`` adds the BatchNorm of CBAM's reference code (then the conv has no bias).
    The order of the two pooled maps (avg first, as in CBAM's Eq. 3; LCFE writes max | avg) only
    permutes the convolution's input channels.

    Args:
        kernel_size: odd convolution kernel size; CBAM's default is 7.
        norm: add ``BatchNorm2d(1)`` after the convolution (CBAM reference code); default False.
    """

    def __init__(self, kernel_size: int = 7, norm: bool = False) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"SpatialAttention kernel_size must be a positive odd integer, got {kernel_size}")
        self.kernel_size = kernel_size
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=not norm)
        self.norm = nn.BatchNorm2d(1) if norm else nn.Identity()

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """The map ``sigmoid(conv([avg_c(x); max_c(x)]))``, shape ``(B, 1, H, W)``."""
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.norm(self.conv(pooled)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention_map(x)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-Excitation (Hu et al. 2018): ``x * sigmoid(W2 relu(W1 avgpool(x)))``.

    A thin wrapper of :class:`torchvision.ops.SqueezeExcitation` that takes the reduction ratio ``r``
    of the SE paper: the bottleneck has ``max(1, channels // reduction)`` channels (no rounding to a
    multiple of 8, unlike timm's ``SEModule``).  Output shape = input shape.

    Args:
        channels: number of input (= output) channels C.
        reduction: reduction ratio r (the multipath method uses 16).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"SqueezeExcitation needs channels >= 1 and reduction >= 1, got {channels}, {reduction}")
        self.channels = channels
        self.reduction = reduction
        self.squeeze_channels = max(1, channels // reduction)
        self.se = _TorchvisionSE(channels, self.squeeze_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(x)


def eca_kernel_size(channels: int, gamma: float = 2.0, b: float = 1.0) -> int:
    """ECA's adaptive kernel size ``k = psi(C) = |(log2(C) + b) / gamma|_odd`` (Wang et al. 2020, Eq. 12).

    ``|t|_odd`` is computed as in the authors' reference implementation: ``t = int(|(log2 C + b) / gamma|)``
    and ``k = t`` if ``t`` is odd, else ``t + 1``.  With gamma = 2, b = 1: C = 64 -> 3, 128 -> 5,
    256 -> 5, 512 -> 5, 1024 -> 5, 2048 -> 7; small C gives k = 1 (C < 8) or 3.  (timm's ``EcaModule``
    additionally clamps k to >= 3, which the paper does not; we pass the paper's k to it explicitly.)
    """
    if channels < 1:
        raise ValueError(f"eca_kernel_size needs channels >= 1, got {channels}")
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


class EfficientChannelAttention(nn.Module):
    """ECA (Wang et al., CVPR 2020): ``x * sigmoid(conv1d_k(avgpool(x)))`` over the channel axis.

    Wraps :class:`timm.layers.EcaModule` (a bias-free ``Conv1d(1, 1, k, padding=(k - 1) // 2)`` over the
    channel descriptor), with ``k`` from :func:`eca_kernel_size` unless ``kernel_size`` is given.
    Output shape = input shape.

    Args:
        channels: number of channels C (sets k).
        gamma, b: the paper's mapping constants (2 and 1).
        kernel_size: override the adaptive k (must be odd).
    """

    def __init__(self, channels: int, gamma: float = 2.0, b: float = 1.0, kernel_size: int | None = None) -> None:
        super().__init__()
        k = eca_kernel_size(channels, gamma, b) if kernel_size is None else kernel_size
        if k < 1 or k % 2 == 0:
            raise ValueError(f"ECA kernel size must be a positive odd integer, got {k}")
        self.channels = channels
        self.kernel_size = k
        self.eca = EcaModule(channels=None, kernel_size=k)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel weights ``sigmoid(conv1d(avgpool(x)))``, shape ``(B, C, 1, 1)``."""
        y = self.eca.conv(x.mean(dim=(2, 3)).unsqueeze(1))
        return torch.sigmoid(y).view(x.shape[0], -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.channels:
            raise ValueError(f"EfficientChannelAttention built for {self.channels} channels, got input {tuple(x.shape)}")
        return self.eca(x)

