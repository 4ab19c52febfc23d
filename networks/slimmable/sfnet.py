"""Slimmable SFNet head: PPM + FPN decoder with flow alignment modules (SlimSeg, thesis Sec. 2.3.1).

SFNet (Li et al., "Semantic Flow for Fast and Accurate Scene Parsing", the thesis' ref. [93]) as the
SlimSeg base network; every conv of the PPM, the FPN laterals, the flow alignment modules (FAM) and
the fusion/classifier is slimmable ("globally slimmable", Sec. 2.4.3) -- except the 2-channel flow and
the class logits, whose sizes are fixed.  The architecture conventions reproduce Table 2.2's parameter
counts (METHODS.md "slimseg"):

* PPM (Zhao et al., PSPNet) with bins 1/2/3/6: per bin adaptive average pooling + 1x1 unit
  ``C5 -> fpn_dim``; the input and the upsampled priors are concatenated and fused by a 1x1 unit
  ``C5 + 4 fpn_dim -> fpn_dim`` (+ Dropout2d(0.1)).
* FPN laterals: 1x1 units ``C_i -> fpn_dim`` for every tapped feature but the last (ResNet C2..C4,
  DFNet two levels, ``backbone.decoder_indices``); top-down path with a FAM at every level:
  the high-level map ``h`` and the lateral ``l`` are each reduced by a 1x1 conv to ``fpn_dim/2``,
  ``h`` is upsampled, a 3x3 conv on their concatenation predicts a 2-channel flow (no BN), and the
  *unreduced* ``h`` is warped to ``l``'s resolution with ``grid_sample``; the result is added to ``l``.
* 3x3 units ``fpn_dim -> fpn_dim`` on every level, all levels upsampled to the finest tapped level
  (1/4 for ResNets, 1/16 for DFNetv1, 1/8 for DFNetv2) and concatenated, 3x3 unit
  ``(levels) fpn_dim -> fpn_dim``, 1x1 classifier ``fpn_dim -> num_classes`` (with bias).
* ``fpn_dim`` = 128 for ResNet-18, 256 for ResNet-50, 64 for DFNet v1/v2 (SFNet code,
  ``network/sfnet_dfnet.py``).  The official head's laterals have a conv bias and its PPM bin units
  no ReLU; ours have no lateral bias and a ReLU in every bin unit: ``fpn_dim`` parameters per lateral
  (128 for SFNet-DFNet at x1.0) and < 0.01 GMac, below Table 2.2's printed precision.
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

__all__ = ["SlimmablePPM", "SlimmableFAM", "SlimmableSFNetHead", "flow_warp"]


def _up(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


class SlimmablePPM(nn.Module):
    """Pyramid pooling module, every conv slimmable (Table 2.1's "PPM" part)."""

    def __init__(
        self,
        in_channels: list[int],
        out_channels: list[int],
        bins: Sequence[int] = (1, 2, 3, 6),
        widths: Sequence[float] = DEFAULT_WIDTHS,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), SlimmableConvBNReLU(in_channels, out_channels, 1, widths=widths))
            for b in bins
        )
        self.bottleneck = SlimmableConvBNReLU(
            [in_channels] + [out_channels] * len(bins), out_channels, 1, widths=widths
        )
        self.dropout = nn.Dropout2d(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        priors = [x] + [_up(stage(x), size) for stage in self.stages]
        return self.dropout(self.bottleneck(torch.cat(priors, dim=1)))


def flow_warp(x: torch.Tensor, flow: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Sample ``x`` on a regular ``size`` grid displaced by ``flow`` (B, 2, H, W; x/y in output pixels).

    Upsampling and warping happen in one bilinear ``grid_sample`` (SFNet's FAM).  Pixel offsets are
    converted to ``grid_sample``'s normalised coordinates with ``align_corners=True``.
    """
    h, w = int(size[0]), int(size[1])
    ys = torch.linspace(-1.0, 1.0, h, device=flow.device, dtype=flow.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=flow.device, dtype=flow.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    base = torch.stack((gx, gy), dim=-1).unsqueeze(0)  # (1, H, W, 2) as (x, y)
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=flow.device, dtype=flow.dtype)
    grid = base + flow.permute(0, 2, 3, 1) * scale
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


class SlimmableFAM(nn.Module):
    """Flow alignment module of SFNet, slimmable: two 1x1 reductions, a 3x3 conv to a 2-channel flow."""

    def __init__(self, channels_: list[int], reduced: list[int], widths: Sequence[float] = DEFAULT_WIDTHS) -> None:
        super().__init__()
        self.down_h = SlimmableConv2d(channels_, reduced, 1, widths=widths)
        self.down_l = SlimmableConv2d(channels_, reduced, 1, widths=widths)
        # flow has two channels at every width (not slimmed)
        self.flow_make = SlimmableConv2d([reduced, reduced], 2, 3, widths=widths)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        size = low.shape[-2:]
        h = _up(self.down_h(high), size)
        flow = self.flow_make(torch.cat([h, self.down_l(low)], dim=1))
        return flow_warp(high, flow, size)


class SlimmableSFNetHead(nn.Module):
    """SFNet decoder (PPM + FAM-FPN + fusion + classifier), slimmable.

    Args:
        in_channels: per-width channels of the tapped backbone features, finest first (ResNet: C2, C3,
            C4, C5 at 1/4 ... 1/32); the last feeds the PPM, the others the FPN laterals.
        num_classes: class logits (not slimmed).
        fpn_dim: decoder width at x1.0 (128 for ResNet-18, 256 for ResNet-50, 64 for DFNet).
        slim: ``False`` keeps the head at full width at every width ("partially slimmable", Table 2.3);
            the backbone inputs are still slimmed.
        rounding: channel rounding of the head (``"int"``).
    """

    def __init__(
        self,
        in_channels: Sequence[list[int]],
        num_classes: int,
        fpn_dim: int = 256,
        widths: Sequence[float] = DEFAULT_WIDTHS,
        bins: Sequence[int] = (1, 2, 3, 6),
        slim: bool = True,
        rounding: Rounding = "int",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        n = len(widths)
        ch = (lambda c: channels(c, widths, rounding)) if slim else (lambda c: [c] * n)  # noqa: E731
        fd, half = ch(fpn_dim), ch(fpn_dim // 2)
        *lateral, top = [list(c) for c in in_channels]
        self.ppm = SlimmablePPM(top, fd, bins, widths, dropout=dropout)
        self.fpn_in = nn.ModuleList(SlimmableConvBNReLU(c, fd, 1, widths=widths) for c in lateral)
        self.fpn_align = nn.ModuleList(SlimmableFAM(fd, half, widths) for _ in lateral)
        self.fpn_out = nn.ModuleList(SlimmableConvBNReLU(fd, fd, 3, widths=widths) for _ in lateral)
        self.fuse = SlimmableConvBNReLU([fd] * (len(lateral) + 1), fd, 3, widths=widths)
        self.classifier = SlimmableConv2d(fd, num_classes, 1, bias=True, widths=widths)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """``feats`` = the tapped features, finest first; returns logits at the first one's resolution."""
        *lateral, top = feats
        f = self.ppm(top)
        outs = [f]
        for i in reversed(range(len(lateral))):
            lat = self.fpn_in[i](lateral[i])
            f = lat + self.fpn_align[i](lat, f)
            outs.append(self.fpn_out[i](f))
        outs.reverse()  # finest first
        size = outs[0].shape[-2:]
        fused = torch.cat([outs[0]] + [_up(o, size) for o in outs[1:]], dim=1)
        return self.classifier(self.fuse(fused))
