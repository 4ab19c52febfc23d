"""Slimmable DeepLabv3+ head: ASPP + decoder (SlimSeg, thesis Sec. 2.3.1 / 2.4.2, ref. [22]).

Every conv is slimmable except the class logits.  Conventions that reproduce Table 2.2's parameter
count for ResNet-50 (40.35 M, METHODS.md "slimseg"):

* ASPP on the last backbone feature: a 1x1 unit, three dilated 3x3 units and an image-pooling branch
  (global average pooling + 1x1 unit, broadcast back), each ``C5 -> 256``.  The ASPP itself has no
  projection; its 5 x 256 = 1280 concatenated channels go through a 1x1 "bottleneck" unit
  ``1280 -> 256``.  Dilation rates (12, 24, 36) at output stride 8, (6, 12, 18) at 16, (3, 6, 9) at 32.
* Decoder: a 1x1 unit ``C2 -> 48`` on the 1/4 low-level feature; the ASPP output is upsampled to
  1/4 and concatenated with it; ``decoder_convs`` (2) 3x3 units ``256 + 48 -> 256 -> 256``; then a
  1x1 classifier with bias.  ``decoder_convs=0`` applies the classifier directly to the 304-channel
  concatenation (the light variant explored for the MobileNetV2 row, see ``model.py``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .ops import (
    DEFAULT_WIDTHS,
    Rounding,
    SlimmableConv2d,
    SlimmableConvBNReLU,
    channels,
)

__all__ = ["SlimmableASPP", "SlimmableDeepLabV3PlusHead", "default_aspp_rates"]


def default_aspp_rates(output_stride: int) -> tuple[int, int, int]:
    """(6, 12, 18) at output stride 16, scaled inversely with the stride (DeepLabv3 convention)."""
    return tuple(int(r * 16 / output_stride) for r in (6, 12, 18))  # type: ignore[return-value]


class SlimmableASPP(nn.Module):
    """ASPP without internal projection: returns the 5-branch concatenation (5 x ``out_channels``)."""

    def __init__(
        self,
        in_channels: list[int],
        out_channels: list[int],
        rates: Sequence[int] = (12, 24, 36),
        widths: Sequence[float] = DEFAULT_WIDTHS,
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [SlimmableConvBNReLU(in_channels, out_channels, 1, widths=widths)]
            + [SlimmableConvBNReLU(in_channels, out_channels, 3, dilation=r, widths=widths) for r in rates]
        )
        self.pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), SlimmableConvBNReLU(in_channels, out_channels, 1, widths=widths)
        )
        self.num_parts = len(rates) + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b(x) for b in self.branches]
        outs.append(self.pool(x).expand(-1, -1, *x.shape[-2:]))
        return torch.cat(outs, dim=1)


class SlimmableDeepLabV3PlusHead(nn.Module):
    """DeepLabv3+ ASPP + decoder, slimmable.

    Args:
        low_channels: per-width channels of the 1/4 low-level feature (C2).
        high_channels: per-width channels of the last backbone feature.
        num_classes: class logits (not slimmed).
        aspp_dim / low_dim / decoder_dim: 256 / 48 / 256 at x1.0.
        rates: ASPP dilation rates (see :func:`default_aspp_rates`).
        decoder_convs: number of 3x3 units in the decoder (2 in DeepLabv3+).
        slim: ``False`` keeps the head at full width ("partially slimmable", Table 2.3).
        rounding: channel rounding of the head (``"int"`` for ResNets, ``"div8"`` for MobileNetV2).
    """

    def __init__(
        self,
        low_channels: list[int],
        high_channels: list[int],
        num_classes: int,
        aspp_dim: int = 256,
        low_dim: int = 48,
        decoder_dim: int = 256,
        rates: Sequence[int] = (12, 24, 36),
        decoder_convs: int = 2,
        widths: Sequence[float] = DEFAULT_WIDTHS,
        slim: bool = True,
        rounding: Rounding = "int",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        n = len(widths)
        ch = (lambda c: channels(c, widths, rounding)) if slim else (lambda c: [c] * n)  # noqa: E731
        a, lo, d = ch(aspp_dim), ch(low_dim), ch(decoder_dim)
        self.aspp = SlimmableASPP(list(high_channels), a, rates, widths)
        self.bottleneck = SlimmableConvBNReLU([a] * self.aspp.num_parts, a, 1, widths=widths)
        self.low = SlimmableConvBNReLU(list(low_channels), lo, 1, widths=widths)
        convs: list[nn.Module] = []
        cin: list[int] | list[list[int]] = [a, lo]
        for _ in range(decoder_convs):
            convs.append(SlimmableConvBNReLU(cin, d, 3, widths=widths))
            cin = d
        self.decoder = nn.Sequential(*convs)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = SlimmableConv2d(cin, num_classes, 1, bias=True, widths=widths)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """Returns logits at the low-level feature's resolution (1/4)."""
        x = self.bottleneck(self.aspp(high))
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        x = torch.cat([x, self.low(low)], dim=1)
        return self.classifier(self.dropout(self.decoder(x)))
