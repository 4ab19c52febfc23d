"""Slimmable MobileNetV2 backbone (SlimSeg DeepLabv3+-MobileNetV2, thesis Sec. 2.4.2, Table 2.2).

* Inverted-residual settings of Sandler et al. (t, c, n, s): (1,16,1,1) (6,24,2,2) (6,32,3,2)
  (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1); 32-channel stem.  The 1x1 ``320 -> 1280`` head conv
  and the classifier are not part of the segmentation backbone.
* Channels at width ``w`` are ``make_divisible(c * w, 8)`` (``rounding="div8"``), as in slimmable
  MobileNetV2 ([210]); the expanded (hidden) width of a block is ``t x`` its *active* input channels,
  i.e. exactly an independent MobileNetV2 of width ``w``.  Default widths [0.35, 0.5, 0.75, 1.0].
* ``output_stride`` 32, 16 or 8: the strides of the last stages become dilations.
* Module names follow timm's ``mobilenetv2_100`` (``conv_stem``, ``bn1``, ``blocks.i.j.conv_pw`` ...)
  so ImageNet weights load into width x1.0 (:func:`semcolor.networks.slimmable.pretrained.load_timm_weights`).

``forward`` returns ``[1/2 (16 ch), 1/4 (24), 1/8 (32), 1/16 (96), 1/32 (320)]`` (the last two dilated
when ``output_stride`` < 32) -- the same taps as timm's ``features_only`` output.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .ops import MBV2_WIDTHS, Rounding, SlimmableConv2d, SwitchableBatchNorm2d, channels
from .resnet import RESNET_BOUNDARY_TAPS

__all__ = ["SlimmableInvertedResidual", "SlimmableDepthwiseSeparable", "SlimmableMobileNetV2"]

#: (expansion t, output channels c, repeats n, stride s) of MobileNetV2 (Sandler et al. 2018, Table 2)
MBV2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class SlimmableDepthwiseSeparable(nn.Module):
    """First MobileNetV2 block (t = 1): depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN (linear)."""

    def __init__(self, inp: list[int], out: list[int], stride: int, dilation: int, widths: Sequence[float]) -> None:
        super().__init__()
        self.conv_dw = SlimmableConv2d(inp, inp, 3, stride, dilation=dilation, depthwise=True, widths=widths)
        self.bn1 = SwitchableBatchNorm2d(inp, widths)
        self.act1 = nn.ReLU6(inplace=True)
        self.conv_pw = SlimmableConv2d(inp, out, 1, widths=widths)
        self.bn2 = SwitchableBatchNorm2d(out, widths)
        self.has_skip = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.act1(self.bn1(self.conv_dw(x)))))
        return x + y if self.has_skip else y


class SlimmableInvertedResidual(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand + BN + ReLU6, 3x3 depthwise + BN + ReLU6, 1x1 + BN."""

    def __init__(
        self, inp: list[int], out: list[int], expand: int, stride: int, dilation: int, widths: Sequence[float]
    ) -> None:
        super().__init__()
        hidden = [c * expand for c in inp]
        self.conv_pw = SlimmableConv2d(inp, hidden, 1, widths=widths)
        self.bn1 = SwitchableBatchNorm2d(hidden, widths)
        self.act1 = nn.ReLU6(inplace=True)
        self.conv_dw = SlimmableConv2d(hidden, hidden, 3, stride, dilation=dilation, depthwise=True, widths=widths)
        self.bn2 = SwitchableBatchNorm2d(hidden, widths)
        self.act2 = nn.ReLU6(inplace=True)
        self.conv_pwl = SlimmableConv2d(hidden, out, 1, widths=widths)
        self.bn3 = SwitchableBatchNorm2d(out, widths)
        self.has_skip = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.bn1(self.conv_pw(x)))
        y = self.act2(self.bn2(self.conv_dw(y)))
        y = self.bn3(self.conv_pwl(y))
        return x + y if self.has_skip else y


class SlimmableMobileNetV2(nn.Module):
    """Slimmable MobileNetV2 feature extractor (no 1280-channel head conv, no classifier)."""

    def __init__(
        self,
        widths: Sequence[float] = MBV2_WIDTHS,
        output_stride: int = 32,
        rounding: Rounding = "div8",
        settings: Sequence[tuple[int, int, int, int]] = MBV2_SETTINGS,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        self.widths = tuple(widths)
        self.output_stride = output_stride
        ch = lambda c: channels(c, widths, rounding)  # noqa: E731
        stem = ch(32)
        self.conv_stem = SlimmableConv2d(3, stem, 3, 2, widths=widths)
        self.bn1 = SwitchableBatchNorm2d(stem, widths)
        self.act1 = nn.ReLU6(inplace=True)

        inp, current_stride, dilation = stem, 2, 1
        stages: list[nn.Module] = []
        stage_channels: list[list[int]] = []
        for t, c, n, s in settings:
            out = ch(c)
            blocks: list[nn.Module] = []
            for j in range(n):
                stride = s if j == 0 else 1
                block_dilation = dilation
                if stride > 1 and current_stride >= output_stride:
                    dilation *= stride
                    stride = 1
                elif stride > 1:
                    current_stride *= stride
                if t == 1:
                    blocks.append(SlimmableDepthwiseSeparable(inp, out, stride, block_dilation, widths))
                else:
                    blocks.append(SlimmableInvertedResidual(inp, out, t, stride, block_dilation, widths))
                inp = out
            stages.append(nn.Sequential(*blocks))
            stage_channels.append(out)
        self.blocks = nn.Sequential(*stages)
        #: indices of ``blocks`` whose outputs are returned (strides 2, 4, 8, 16, 32 -- as timm)
        self.feature_blocks = (0, 1, 2, 4, 6)
        self.out_channels: list[list[int]] = [stage_channels[i] for i in self.feature_blocks]
        self.reductions = [2, 4, 8, min(16, output_stride), output_stride]
        #: features fed to the decoder (DeepLabv3+: the first and the last of these)
        self.decoder_indices: tuple[int, ...] = (1, 2, 3, 4)
        #: boundary-head inputs (Table 2.7), the same resolutions as the ResNets'
        self.boundary_indices: dict[str, int] = dict(RESNET_BOUNDARY_TAPS)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.act1(self.bn1(self.conv_stem(x)))
        feats = []
        for i, stage in enumerate(self.blocks):
            x = stage(x)
            if i in self.feature_blocks:
                feats.append(x)
        return feats
