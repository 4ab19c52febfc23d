"""Slimmable boundary detection head (SlimSeg, thesis Sec. 2.3.3, Fig. 2.1 (a)).

"an additional boundary detection head with a simple structure, including a slimmable unit
(Fig. 2.1 (c)) and a slimmable convolution layer with kernel size 1 followed by a sigmoid layer, on the
low-level features" -- by default the backbone's second stage (ResNet ``conv2_x``, 1/4 resolution,
Sec. 2.4.2).  The head is used in training only (``training_only = True``): it is skipped at inference
and left out of the parameter / MAC counts (Table 2.2).

Choices (the thesis gives no sizes): the unit is a 3x3 conv keeping the input's channel count
(``mid_channels`` defaults to the input's per-width channels, so the head slims with the backbone);
the 1x1 conv outputs one channel at every width.  The head returns *logits*; the boundary probability
is ``p_b = sigmoid(logits)`` -- the sigmoid is left to the loss so that it can use the numerically
stable ``binary_cross_entropy_with_logits``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .ops import DEFAULT_WIDTHS, SlimmableConv2d, SlimmableConvBNReLU

__all__ = ["SlimmableBoundaryHead"]


class SlimmableBoundaryHead(nn.Module):
    """One slimmable unit + 1x1 slimmable conv to one boundary logit per pixel."""

    #: excluded from inference, parameter and MAC counts (see ``ops.count_params``)
    training_only = True

    def __init__(
        self,
        in_channels: list[int],
        mid_channels: list[int] | None = None,
        kernel_size: int = 3,
        widths: Sequence[float] = DEFAULT_WIDTHS,
    ) -> None:
        super().__init__()
        mid = list(in_channels) if mid_channels is None else list(mid_channels)
        self.unit = SlimmableConvBNReLU(list(in_channels), mid, kernel_size, widths=widths)
        self.classifier = SlimmableConv2d(mid, 1, 1, bias=True, widths=widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Boundary logits (B, 1, h, w) at the input feature's resolution; ``sigmoid`` gives p_b."""
        return self.classifier(self.unit(x))
