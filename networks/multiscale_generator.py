"""Multi-G: a symmetric encoder-decoder of multi-kernel convolution blocks predicting U, V (Wu et al. 2020).

The "Multi-G" baseline of the jsdcgan comparison (Wang et al. 2022, Tables 1-2, ref. [32]: M. Wu, X. Jin,
Q. Jiang, S.-J. Lee, S. Yao, "Remote sensing image colorization using symmetrical multi-scale DCGAN in YUV
color space", The Visual Computer 2020). Its full text is not available to us; what we build on:

* Wang et al. 2022, Sec. 1: Wu et al. "transferred the colorization task from RGB to YUV color space and
  used the multi-scale convolution kernels"; Sec. 2: "multi-scale feature extraction using the convolution
  kernels with different size"; Sec. 4.4: "DCGAN which has a multi-scale generator ... multi-scale is
  carried out by using convolution kernels with different sizes";
* Wu et al.'s public abstract: the generator "is a symmetrical structure using the principle of
  auto-encoder" with "a multi-scale convolutional module"; "the discriminator uses residual neural
  network 18"; the Y channel is the input, U and V are predicted, concatenated with Y and converted to RGB.

Our reading (every open point a constructor argument):

* :class:`MultiKernelConv`: parallel ``k x k`` convolutions (``kernel_sizes`` = (3, 5, 7) by default,
  "same" padding) whose outputs are concatenated, then a 1x1 convolution mixing them, norm and activation
  (an Inception-style block; the kernel set is not given).
* :class:`SymmetricMultiScaleGenerator`: a DCGAN-style encoder of ``depth`` stride-2 4x4 convolutions and a
  mirror decoder of stride-2 4x4 transposed convolutions, with a multi-kernel block at every level on both
  sides (the "symmetrical" structure; "retain more image features in the process of up-sampling and
  down-sampling") and skip connections between mirrored levels (``skips``; an auto-encoder without them
  loses the detail a colorization must keep, so they are on by default). Widths ``base * 2**k`` capped
  at ``base * max_multiplier``. Defaults (depth 5, base 32, kernels 3/5/7): 17.9 M parameters and
  20.3 GMac per 256 x 256 image (conv/linear multiply-adds counted with forward hooks), against pix2pix's
  ``unet_256`` 54.4 M / 6.0 GMac; the full-resolution multi-kernel blocks are what cost (base 64: 71.6 M,
  81.4 GMac).
* Output: a 1x1 convolution to 2 channels and ``tanh`` scaled to the ranges of kornia's YUV (BT.601:
  U in +-0.436, V in +-0.615), so :meth:`~SymmetricMultiScaleGenerator.forward_uv` returns U, V and
  :meth:`~SymmetricMultiScaleGenerator.forward` the RGB image ``yuv_to_rgb([Y, U, V])`` clamped to [0, 1],
  with Y = the gray input (AID / NWPU gray is BT.601 luma, so Y is exactly what kornia's YUV expects).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from kornia import color as kc
from torch import nn

from semcolor.networks.unet_generator import NormName, crop_padding, init_gan_weights, make_norm, pad_to_multiple

__all__ = ["UV_RANGE", "MultiKernelConv", "SymmetricMultiScaleGenerator", "yuv_to_rgb"]

#: largest |U| and |V| of sRGB colours in kornia's (BT.601) YUV
UV_RANGE: tuple[float, float] = (0.436, 0.615)


def yuv_to_rgb(y: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """``Y`` (B, 1, H, W) and ``UV`` (B, 2, H, W) -> RGB clamped to [0, 1] (kornia's BT.601 YUV)."""
    return kc.yuv_to_rgb(torch.cat([y, uv], dim=1)).clamp(0.0, 1.0)


class MultiKernelConv(nn.Module):
    """Parallel convolutions of several kernel sizes, concatenated, mixed by a 1x1 conv, norm, activation.

    Args:
        in_channels, out_channels: channels in and out.
        kernel_sizes: odd kernel sizes of the branches (3, 5, 7).
        norm: ``"batch"``, ``"instance"`` or ``"none"``.
        activation: the module applied last (LeakyReLU 0.2 in the encoder, ReLU in the decoder).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_sizes: Sequence[int] = (3, 5, 7),
        norm: NormName = "batch",
        activation: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if not kernel_sizes or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd and positive, got {list(kernel_sizes)}")
        n = len(kernel_sizes)
        widths = [out_channels // n + (1 if i < out_channels % n else 0) for i in range(n)]
        if min(widths) < 1:
            raise ValueError(f"out_channels={out_channels} is fewer than the {n} branches")
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, w, k, padding=k // 2, bias=False) for k, w in zip(kernel_sizes, widths)
        )
        self.mix = nn.Conv2d(out_channels, out_channels, 1, bias=norm != "batch")
        self.norm = make_norm(norm, out_channels)
        self.act = activation if activation is not None else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.mix(torch.cat([b(x) for b in self.branches], dim=1))))


class SymmetricMultiScaleGenerator(nn.Module):
    """Y (B, 1, H, W) -> U, V (and RGB): symmetric multi-kernel encoder-decoder (see the module docstring).

    Args:
        in_channels: channels of the input (1: Y).
        depth: stride-2 levels of the encoder (and the decoder); H, W must be multiples of ``2**depth``
            (or ``pad_to_stride`` pads them).
        base_channels, max_multiplier: widths ``base * min(2**k, max_multiplier)``.
        kernel_sizes: the branches of every :class:`MultiKernelConv`.
        norm: normalisation everywhere but the output.
        skips: concatenate each encoder level to its mirrored decoder level.
        pad_to_stride: pad / crop in :meth:`forward_uv` so any size works.
        init_std: N(0, std) initialisation (DCGAN); ``None`` keeps PyTorch's default.
    """

    def __init__(
        self,
        in_channels: int = 1,
        depth: int = 5,
        base_channels: int = 32,
        max_multiplier: int = 8,
        kernel_sizes: Sequence[int] = (3, 5, 7),
        norm: NormName = "batch",
        skips: bool = True,
        pad_to_stride: bool = True,
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.in_channels, self.depth, self.skips, self.pad_to_stride = in_channels, depth, skips, pad_to_stride
        c = [base_channels * min(2**k, max_multiplier) for k in range(depth + 1)]
        bias = norm != "batch"
        self.stem = MultiKernelConv(in_channels, c[0], kernel_sizes, norm, nn.LeakyReLU(0.2))
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c[k], c[k + 1], 4, 2, 1, bias=bias), make_norm(norm, c[k + 1]), nn.LeakyReLU(0.2),
                          MultiKernelConv(c[k + 1], c[k + 1], kernel_sizes, norm, nn.LeakyReLU(0.2)))
            for k in range(depth)
        )
        # up[k] takes level k + 1 (concatenated with its skip above the bottom) back to level k
        self.up = nn.ModuleList()
        for k in range(depth):
            in_ch = c[k + 1] * (2 if skips and k < depth - 1 else 1)
            self.up.append(nn.Sequential(
                nn.ConvTranspose2d(in_ch, c[k], 4, 2, 1, bias=bias), make_norm(norm, c[k]), nn.ReLU(),
                MultiKernelConv(c[k], c[k], kernel_sizes, norm, nn.ReLU()),
            ))
        self.head = nn.Conv2d(c[0] * (2 if skips else 1), 2, 1)
        self.register_buffer("uv_range", torch.tensor(UV_RANGE).view(1, 2, 1, 1), persistent=False)
        if init_std is not None:
            init_gan_weights(self, init_std)

    @property
    def stride(self) -> int:
        return 2**self.depth

    def _uv(self, y: torch.Tensor) -> torch.Tensor:
        if y.ndim != 4 or y.shape[1] != self.in_channels or y.shape[-2] % self.stride or y.shape[-1] % self.stride:
            raise ValueError(
                f"SymmetricMultiScaleGenerator expects (B, {self.in_channels}, H, W) with H, W multiples of "
                f"{self.stride}, got {tuple(y.shape)}"
            )
        feats = [self.stem(y)]
        for block in self.down:
            feats.append(block(feats[-1]))
        h = feats[-1]
        for k in range(self.depth - 1, -1, -1):
            h = self.up[k](h)
            if self.skips:
                h = torch.cat([h, feats[k]], dim=1)
        return torch.tanh(self.head(h)) * self.uv_range

    def forward_uv(self, y: torch.Tensor) -> torch.Tensor:
        """Y (B, 1, H, W) in [0, 1] -> U, V (B, 2, H, W) within :data:`UV_RANGE`."""
        if not self.pad_to_stride:
            return self._uv(y)
        yp, pads = pad_to_multiple(y, self.stride)
        return crop_padding(self._uv(yp), pads)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Y (B, 1, H, W) -> RGB (B, 3, H, W) in [0, 1]: ``yuv_to_rgb([Y, U, V])``."""
        return yuv_to_rgb(y, self.forward_uv(y))
