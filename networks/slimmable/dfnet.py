"""Slimmable DFNet v1 / v2 backbones of SFNet-DFNet (SlimSeg, thesis Sec. 2.4.2, Table 2.2).

DFNet (Li et al. 2019, "Partial Order Pruning", the thesis' ref. [94]) is a plain ResNet ``BasicBlock``
network found by architecture search.  The layouts are those of the official SFNet code
(lxtGH/SFSegNets ``network/dfnet.py`` @22c5669, used by ``network/sfnet_dfnet.py`` @37e842c):

* stem ``stage1``: 3x3 conv 3 -> 32 stride 2 + BN + ReLU, 3x3 conv 32 -> 64 stride 2 + BN + ReLU
  (1/4 resolution, no max-pool);
* v1: ``stage2`` 3 blocks x 64 (stride 2, 1/8), ``stage3`` 3 x 128 (1/16), ``stage4`` 3 x 256 (1/32),
  ``stage5`` 1 x 512 (stride 1, 1/32);
* v2: ``stage2_1`` 2 x 64 (stride 2, 1/8), ``stage2_2`` 1 x 128, ``stage3_1`` 10 x 128 (1/16),
  ``stage3_2`` 1 x 256, ``stage4_1`` 4 x 256 (1/32), ``stage4_2`` 2 x 512;
* the first block of a stage has a 1x1 conv + BN projection shortcut when the stride or the channels
  change -- exactly :class:`~semcolor.networks.slimmable.resnet.SlimmableBasicBlock`, reused here.

SFNet taps (``decoder_indices``): v1 ``stage3`` / ``stage4`` / ``stage5`` (128 ch @1/16, 256 @1/32,
512 @1/32 -- two FPN levels share 1/32, so the SFNet head's output is at 1/16); v2 ``stage2_2`` /
``stage3_2`` / ``stage4_2`` (128 @1/8, 256 @1/16, 512 @1/32; head output at 1/8).  The decoder is the
SFNet head with ``fpn_dim`` 64 (``sfnet.py``).  The stem's 1/4 output, which the decoder does not use,
feeds the boundary head by default ("the second stage of the backbones ... down-sampled 4 times",
Sec. 2.4.2; ``boundary_indices["conv2_x"]``).

Channels at width ``w`` are ``int(c * w)`` for every layer (stem 32/64 included), the RGB input is
not slimmed -- the conventions of the ResNet rows, which reproduce the DFNet rows of Table 2.2
(figures in ``semcolor.networks.slimmable``'s module docstring).  The thesis trains DFNet without
ImageNet pre-training (Sec. 2.4.2).  Module names follow the official code (``stage1.0``,
``stage2.0.conv1``, ``stage2.0.downsample.0`` ...), so a state dict in its layout maps into width x1.0
with the same rule as timm weights (:func:`~semcolor.networks.slimmable.pretrained.load_timm_weights`).

``forward`` returns ``[1/2 (32 ch), 1/4 (64), <one feature per stage of the layout>]``;
``out_channels`` / ``reductions`` describe them in the same order.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from .ops import DEFAULT_WIDTHS, Rounding, SlimmableConv2d, SwitchableBatchNorm2d, channels
from .resnet import SlimmableBasicBlock, kaiming_init

__all__ = ["DFNET_LAYOUTS", "SlimmableDFNet", "slimmable_dfnetv1", "slimmable_dfnetv2"]

#: per version: (stage name, output channels, blocks, stride of the first block, tapped by SFNet's head)
DFNET_LAYOUTS: dict[str, tuple[tuple[str, int, int, int, bool], ...]] = {
    "v1": (
        ("stage2", 64, 3, 2, False),
        ("stage3", 128, 3, 2, True),
        ("stage4", 256, 3, 2, True),
        ("stage5", 512, 1, 1, True),
    ),
    "v2": (
        ("stage2_1", 64, 2, 2, False),
        ("stage2_2", 128, 1, 1, True),
        ("stage3_1", 128, 10, 2, False),
        ("stage3_2", 256, 1, 1, True),
        ("stage4_1", 256, 4, 2, False),
        ("stage4_2", 512, 2, 1, True),
    ),
}


class SlimmableDFNet(nn.Module):
    """Slimmable DFNet feature extractor (no classifier), output stride 32.

    Args:
        version: ``"v1"`` or ``"v2"`` (:data:`DFNET_LAYOUTS`).
        widths: ascending width multipliers.
        output_stride: only 32 (SFNet's setting; the official code's 64 is not used by SFNet).
        rounding: channel rounding (``"int"`` = ``int(c * w)``).
    """

    def __init__(
        self,
        version: Literal["v1", "v2"] = "v1",
        widths: Sequence[float] = DEFAULT_WIDTHS,
        output_stride: int = 32,
        rounding: Rounding = "int",
    ) -> None:
        super().__init__()
        if version not in DFNET_LAYOUTS:
            raise ValueError(f"DFNet version must be one of {sorted(DFNET_LAYOUTS)}, got {version!r}")
        if output_stride != 32:
            raise ValueError(f"SlimmableDFNet supports output_stride 32 only, got {output_stride}")
        self.version = version
        self.widths = tuple(widths)
        self.output_stride = output_stride
        ch = lambda c: channels(c, widths, rounding)
        # one flat Sequential, as the official ``stage1`` (its keys then match); forward taps index 2
        self.stage1 = nn.Sequential(
            SlimmableConv2d(3, ch(32), 3, 2, widths=widths),
            SwitchableBatchNorm2d(ch(32), widths),
            nn.ReLU(inplace=True),
            SlimmableConv2d(ch(32), ch(64), 3, 2, widths=widths),
            SwitchableBatchNorm2d(ch(64), widths),
            nn.ReLU(inplace=True),
        )
        inplanes = ch(64)
        out_channels, reductions, taps = [ch(32), ch(64)], [2, 4], []
        self.stage_names: tuple[str, ...] = tuple(s[0] for s in DFNET_LAYOUTS[version])
        for name, planes, n, stride, tapped in DFNET_LAYOUTS[version]:
            p = ch(planes)
            blocks = [SlimmableBasicBlock(inplanes if j == 0 else p, p, stride if j == 0 else 1, widths=widths)
                      for j in range(n)]
            self.add_module(name, nn.Sequential(*blocks))
            inplanes = p
            if tapped:
                taps.append(len(out_channels))
            out_channels.append(p)
            reductions.append(reductions[-1] * stride)
        #: per-width channels of every returned feature
        self.out_channels: list[list[int]] = out_channels
        #: downsampling factor of every returned feature
        self.reductions: list[int] = reductions
        #: features fed to the decoder (SFNet's ``x3, x4, x5``), finest first
        self.decoder_indices: tuple[int, ...] = tuple(taps)
        #: boundary-head inputs of Table 2.7 by resolution: 1/2, 1/4 (stem), end of the 1/8 stage
        self.boundary_indices: dict[str, int] = {
            "conv1": 0, "conv2_x": 1, "conv3_x": max(i for i, r in enumerate(reductions) if r == 8),
        }
        self.reset_parameters()

    def reset_parameters(self) -> None:
        kaiming_init(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, m in enumerate(self.stage1):
            x = m(x)
            if i == 2 or i == len(self.stage1) - 1:  # after the first and the second conv unit
                feats.append(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
            feats.append(x)
        return feats


def slimmable_dfnetv1(widths: Sequence[float] = DEFAULT_WIDTHS, **kw) -> SlimmableDFNet:
    """Slimmable DFNetv1 (8.02 M backbone parameters at x1.0)."""
    return SlimmableDFNet("v1", widths, **kw)


def slimmable_dfnetv2(widths: Sequence[float] = DEFAULT_WIDTHS, **kw) -> SlimmableDFNet:
    """Slimmable DFNetv2 (17.47 M backbone parameters at x1.0)."""
    return SlimmableDFNet("v2", widths, **kw)
