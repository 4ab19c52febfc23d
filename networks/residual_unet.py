"""Residual U-Net for 16-bit -> 8-bit rendering (s2color; Corpetti et al. 2023, Sec. 2.1, Fig. 2).

Paper: Corpetti, Cusson, Lefebvre, "Consistent Colorization of Sentinel-2 Images for Global Product
Generation", IGARSS 2023. Sec. 2.1 only says "a residual U-net neural network summarized in Fig. 2",
taking 512 x 512 16-bit RGB images and returning 8-bit RGB; the figure is not in the text we have. What
is fixed here, and why:

- U-Net (Ronneberger et al. 2015) whose encoder levels are stacks of residual blocks (He et al. 2016),
  the usual "ResUNet" reading (Zhang, Liu & Wang 2018, "Road extraction by deep residual U-Net").
  Encoder level 0 works at full resolution; each further level is a 2x max-pool + residual blocks
  (``semcolor.networks.blocks.EncoderStage``); channels double per level from ``base_channels``.
- Decoder levels upsample, concatenate the same-level encoder features and apply conv-BN-ReLU
  (``semcolor.networks.blocks.DecoderStage``, one conv), followed by ``decoder_blocks`` residual blocks so the
  decoder is residual too (the paper calls the *network* residual, not only its encoder).
- A 1x1 head to RGB and a sigmoid: the 8-bit output is ``255 * sigmoid(.)`` rounded, i.e. the network
  returns RGB in [0, 1] (the project's image convention). ``output_activation="identity"`` returns
  the raw head (e.g. to train with a clamp instead).
- The input is 16-bit data already converted to floats by the DataModule (Sentinel-2 reflectance
  ``(DN + offset) / 10000``, mostly in [0, 0.5]); the first convolution is followed by BatchNorm, so no
  fixed input normalisation is built in. ``input_norm=True`` adds a BatchNorm on the raw bands first
  (a learned per-band standardisation), off by default.

Fully convolutional: any size works (sides not divisible by ``2**(depth-1)`` are handled by the decoder
resizing to the skip size), so whole-scene prediction can use any tile size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from semcolor.networks.blocks import (
    DecoderStage,
    EncoderStage,
    ResidualKind,
    UpsampleKind,
    residual_stack,
)

__all__ = ["ResidualUNet"]

OutputActivation = Literal["sigmoid", "identity"]


class ResidualUNet(nn.Module):
    """Residual U-Net ``(N, in_channels, H, W)`` -> ``(N, out_channels, H, W)``.

    Args:
        in_channels: input bands (3: Sentinel-2 B04, B03, B02).
        out_channels: output bands (3: 8-bit RGB, returned in [0, 1]).
        base_channels: channels of encoder level 0; level ``i`` has ``base_channels * 2**i``
            (capped by ``max_channels``). The paper gives no widths; 32 is the ResUNet default.
        depth: number of encoder levels (``depth - 1`` max-pools). 5 levels take 512 px to 32 px.
        encoder_blocks: residual blocks per encoder level.
        decoder_blocks: residual blocks after each decoder stage's conv (0: plain U-Net decoder).
        residual_kind: ``"basic"`` or ``"preact"`` residual blocks (``semcolor.networks.blocks.ResidualBlock``).
        upsample: decoder upsampling, ``"bilinear"`` (default), ``"nearest"`` or ``"transpose"``.
        max_channels: cap on the channel count of any level.
        output_activation: ``"sigmoid"`` (default, RGB in [0, 1]) or ``"identity"``.
        input_norm: a BatchNorm over the raw input bands before the first block.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        base_channels: int = 32,
        depth: int = 5,
        encoder_blocks: int = 2,
        decoder_blocks: int = 1,
        residual_kind: ResidualKind = "basic",
        upsample: UpsampleKind = "bilinear",
        max_channels: int = 512,
        output_activation: OutputActivation = "sigmoid",
        input_norm: bool = False,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if base_channels < 1 or encoder_blocks < 1 or decoder_blocks < 0:
            raise ValueError(
                f"need base_channels >= 1, encoder_blocks >= 1, decoder_blocks >= 0; got {base_channels}, "
                f"{encoder_blocks}, {decoder_blocks}"
            )
        if output_activation not in ("sigmoid", "identity"):
            raise ValueError(f"output_activation must be 'sigmoid' or 'identity', got {output_activation!r}")
        self.output_activation = output_activation
        widths = [min(base_channels * 2**i, max_channels) for i in range(depth)]
        self.widths: Sequence[int] = tuple(widths)
        self.input_norm: nn.Module = nn.BatchNorm2d(in_channels) if input_norm else nn.Identity()
        self.encoder = nn.ModuleList(
            EncoderStage(
                in_channels if i == 0 else widths[i - 1],
                widths[i],
                num_blocks=encoder_blocks,
                downsample=i > 0,
                block="residual",
                residual_kind=residual_kind,
            )
            for i in range(depth)
        )
        # decoder stage j goes from level depth-1-j to level depth-2-j (coarsest skip first)
        levels = list(reversed(range(depth - 1)))
        self.decoder = nn.ModuleList(
            DecoderStage(widths[i + 1], widths[i], widths[i], upsample=upsample, num_convs=1) for i in levels
        )
        self.decoder_res = nn.ModuleList(
            residual_stack(widths[i], widths[i], decoder_blocks, residual_kind) if decoder_blocks else nn.Identity()
            for i in levels
        )
        self.head = nn.Conv2d(widths[0], out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_norm(x)
        skips: list[torch.Tensor] = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        skips.pop()  # the bottleneck is x itself
        for stage, res in zip(self.decoder, self.decoder_res):
            x = res(stage(x, skips.pop()))
        out = self.head(x)
        return torch.sigmoid(out) if self.output_activation == "sigmoid" else out
