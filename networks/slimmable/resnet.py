"""Slimmable ResNet-18 / ResNet-50 backbones returning multi-scale features (SlimSeg, thesis Sec. 2.4.2).

* ResNet-18 uses the "deep stem" of the SFNet code base (three 3x3 convs 3->64->64->128, the last
  128 channels feeding ``layer1``); ResNet-50 the plain 7x7 stem.  These are the choices that reproduce
  Table 2.2's parameter counts (METHODS.md "slimseg", architecture conventions).
* Channels at width ``w`` are ``int(c * w)`` (``rounding="int"``); the RGB input is never slimmed.
* ``output_stride`` 32 (SFNet), 16 or 8 (DeepLabv3+ with ResNet-50): the strides of ``layer4`` (and
  ``layer3``) are replaced by dilation 2 (and 4) as in torchvision/timm (the first block of a dilated
  stage keeps the previous dilation).
* Module names follow timm's ``resnet*`` so that ImageNet weights load into width x1.0 with
  :func:`semcolor.networks.slimmable.pretrained.load_timm_weights`.

``forward`` returns five feature maps: ``[stem (1/2), layer1 (1/4, "conv2_x"), layer2 (1/8),
layer3 (1/16 or dilated), layer4 (1/32 or dilated)]``; ``out_channels`` holds their per-width channel
lists in the same order.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .ops import (
    DEFAULT_WIDTHS,
    Rounding,
    SlimmableConv2d,
    SwitchableBatchNorm2d,
    channels,
)

__all__ = [
    "RESNET_BOUNDARY_TAPS", "SlimmableBasicBlock", "SlimmableBottleneck", "SlimmableResNet", "kaiming_init",
    "slimmable_resnet18", "slimmable_resnet50",
]

#: boundary-head inputs of Table 2.7 as indices of the returned features: stem (1/2), layer1, layer2
RESNET_BOUNDARY_TAPS: dict[str, int] = {"conv1": 0, "conv2_x": 1, "conv3_x": 2}


def kaiming_init(module: nn.Module) -> None:
    """He-normal (fan-out, ReLU) conv weights, BN weight 1 / bias 0 -- torchvision's ResNet init."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class SlimmableBasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self,
        inplanes: list[int],
        planes: list[int],
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        widths: Sequence[float] = DEFAULT_WIDTHS,
    ) -> None:
        super().__init__()
        first_dilation = first_dilation or dilation
        outplanes = [p * self.expansion for p in planes]
        self.conv1 = SlimmableConv2d(inplanes, planes, 3, stride, dilation=first_dilation, widths=widths)
        self.bn1 = SwitchableBatchNorm2d(planes, widths)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = SlimmableConv2d(planes, outplanes, 3, 1, dilation=dilation, widths=widths)
        self.bn2 = SwitchableBatchNorm2d(outplanes, widths)
        self.act2 = nn.ReLU(inplace=True)
        self.downsample = _downsample(inplanes, outplanes, stride, widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.bn2(self.conv2(x))
        return self.act2(x + shortcut)


class SlimmableBottleneck(nn.Module):
    expansion = 4

    def __init__(
        self,
        inplanes: list[int],
        planes: list[int],
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        widths: Sequence[float] = DEFAULT_WIDTHS,
    ) -> None:
        super().__init__()
        first_dilation = first_dilation or dilation
        outplanes = [p * self.expansion for p in planes]
        self.conv1 = SlimmableConv2d(inplanes, planes, 1, widths=widths)
        self.bn1 = SwitchableBatchNorm2d(planes, widths)
        self.act1 = nn.ReLU(inplace=True)
        # stride on the 3x3 conv ("ResNet v1.5", torchvision/timm)
        self.conv2 = SlimmableConv2d(planes, planes, 3, stride, dilation=first_dilation, widths=widths)
        self.bn2 = SwitchableBatchNorm2d(planes, widths)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = SlimmableConv2d(planes, outplanes, 1, widths=widths)
        self.bn3 = SwitchableBatchNorm2d(outplanes, widths)
        self.act3 = nn.ReLU(inplace=True)
        self.downsample = _downsample(inplanes, outplanes, stride, widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        return self.act3(x + shortcut)


def _downsample(inplanes: list[int], outplanes: list[int], stride: int, widths: Sequence[float]) -> nn.Module | None:
    if stride == 1 and inplanes == outplanes:
        return None
    return nn.Sequential(
        SlimmableConv2d(inplanes, outplanes, 1, stride, widths=widths),
        SwitchableBatchNorm2d(outplanes, widths),
    )


class SlimmableResNet(nn.Module):
    """Slimmable ResNet feature extractor (no classifier).

    Args:
        block: ``"basic"`` (ResNet-18/34) or ``"bottleneck"`` (ResNet-50/101).
        layers: blocks per stage.
        widths: ascending width multipliers.
        deep_stem: three 3x3 convs ``3 -> stem_width -> stem_width -> 2*stem_width`` instead of one 7x7.
        stem_width: 64 (SFNet's deep-stem ResNet-18).  timm's ``resnet18d`` uses 32 and average-pool
            shortcuts, so its weights do not fit this deep-stem variant.
        output_stride: 32, 16 or 8.
        rounding: channel rounding (``"int"`` = ``int(c * w)``).
    """

    def __init__(
        self,
        block: str,
        layers: Sequence[int],
        widths: Sequence[float] = DEFAULT_WIDTHS,
        deep_stem: bool = False,
        stem_width: int = 64,
        output_stride: int = 32,
        rounding: Rounding = "int",
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        block_cls = {"basic": SlimmableBasicBlock, "bottleneck": SlimmableBottleneck}[block]
        self.widths = tuple(widths)
        self.output_stride = output_stride
        ch = lambda c: channels(c, widths, rounding)  # noqa: E731
        if deep_stem:
            s = stem_width
            self.conv1 = nn.Sequential(
                SlimmableConv2d(3, ch(s), 3, 2, widths=widths),
                SwitchableBatchNorm2d(ch(s), widths),
                nn.ReLU(inplace=True),
                SlimmableConv2d(ch(s), ch(s), 3, 1, widths=widths),
                SwitchableBatchNorm2d(ch(s), widths),
                nn.ReLU(inplace=True),
                SlimmableConv2d(ch(s), ch(2 * s), 3, 1, widths=widths),
            )
            stem_out = ch(2 * s)
        else:
            self.conv1 = SlimmableConv2d(3, ch(64), 7, 2, padding=3, widths=widths)
            stem_out = ch(64)
        self.bn1 = SwitchableBatchNorm2d(stem_out, widths)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        inplanes = stem_out
        stride_so_far, dilation = 4, 1
        out_channels = [stem_out]
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            prev_dilation = dilation
            if i > 0 and stride_so_far >= output_stride:
                dilation *= stride
                stride = 1
            else:
                stride_so_far *= stride
            p = ch(planes)
            blocks = []
            for j in range(n):
                blocks.append(
                    block_cls(
                        inplanes, p, stride if j == 0 else 1, dilation=dilation,
                        first_dilation=prev_dilation if j == 0 else dilation, widths=widths,
                    )
                )
                inplanes = [c * block_cls.expansion for c in p]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            out_channels.append(inplanes)
        #: per-width channels of [stem, layer1, layer2, layer3, layer4]
        self.out_channels: list[list[int]] = out_channels
        #: downsampling factor of each returned feature
        self.reductions = [2, 4, 8, min(16, output_stride), output_stride]
        #: features fed to the decoder (SFNet: all four stages; DeepLabv3+: the first and the last)
        self.decoder_indices: tuple[int, ...] = (1, 2, 3, 4)
        #: boundary-head inputs (Table 2.7)
        self.boundary_indices: dict[str, int] = dict(RESNET_BOUNDARY_TAPS)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        kaiming_init(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        stem = self.act1(self.bn1(self.conv1(x)))
        c2 = self.layer1(self.maxpool(stem))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [stem, c2, c3, c4, c5]


def slimmable_resnet18(widths: Sequence[float] = DEFAULT_WIDTHS, deep_stem: bool = True, **kw) -> SlimmableResNet:
    """Slimmable ResNet-18, by default with SFNet's deep stem (3->64->64->128)."""
    return SlimmableResNet("basic", (2, 2, 2, 2), widths, deep_stem=deep_stem, **kw)


def slimmable_resnet50(widths: Sequence[float] = DEFAULT_WIDTHS, deep_stem: bool = False, **kw) -> SlimmableResNet:
    """Slimmable ResNet-50 with the plain 7x7 stem (timm ``resnet50`` layout)."""
    return SlimmableResNet("bottleneck", (3, 4, 6, 3), widths, deep_stem=deep_stem, **kw)
