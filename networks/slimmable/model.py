"""Slimmable segmentation networks of SlimSeg (thesis ch. 2) and their factory.

:class:`SlimmableSegNet` = slimmable backbone + slimmable head (SFNet or DeepLabv3+) + optional
slimmable boundary head (training only).  :func:`build_slimmable` builds the six networks of
Table 2.2: ``sfnet_r18``, ``sfnet_r50``, ``sfnet_dfnetv1``, ``sfnet_dfnetv2``, ``deeplabv3plus_r50``,
``deeplabv3plus_mbv2``.

Each backbone declares which of its returned features feed the decoder (``decoder_indices``: all of
them for SFNet, the first and the last for DeepLabv3+) and which one feeds the boundary head for each
name of Table 2.7 (``boundary_indices``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .boundary import SlimmableBoundaryHead
from .deeplabv3plus import SlimmableDeepLabV3PlusHead, default_aspp_rates
from .dfnet import SlimmableDFNet
from .mobilenetv2 import SlimmableMobileNetV2
from .ops import DEFAULT_WIDTHS, MBV2_WIDTHS
from .resnet import RESNET_BOUNDARY_TAPS, slimmable_resnet18, slimmable_resnet50
from .sfnet import SlimmableSFNetHead

__all__ = ["BOUNDARY_INPUTS", "MODEL_NAMES", "SFNET_FPN_DIM", "SlimmableSegNet", "build_slimmable"]

MODEL_NAMES = (
    "sfnet_r18", "sfnet_r50", "sfnet_dfnetv1", "sfnet_dfnetv2", "deeplabv3plus_r50", "deeplabv3plus_mbv2",
)
#: boundary-head inputs (Table 2.7): "conv1" (1/2), "conv2_x" (1/4), "conv3_x" (1/8); the values are the
#: ResNet / MobileNetV2 feature indices (every backbone declares its own in ``boundary_indices``)
BOUNDARY_INPUTS = RESNET_BOUNDARY_TAPS
#: SFNet decoder width at x1.0 (SFNet code: 128 for ResNet-18, 256 for ResNet-50, 64 for both DFNets)
SFNET_FPN_DIM = {"sfnet_r18": 128, "sfnet_r50": 256, "sfnet_dfnetv1": 64, "sfnet_dfnetv2": 64}


class SlimmableSegNet(nn.Module):
    """Backbone + decoder head (+ boundary head), all slimmable; switch widths with ``ops.set_width``.

    ``forward(x)`` returns the class logits upsampled (bilinear) to the input size.  In training mode
    (or with ``return_boundary=True``) it returns ``(logits, boundary_logits)``, the boundary logits
    also upsampled to the input size (``sigmoid`` gives the boundary probability p_b of Eq. 2.3); in
    eval mode the boundary head is not run (Sec. 2.3.3: "can be removed during inference").
    """

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        head_type: Literal["sfnet", "deeplabv3plus"],
        boundary_head: SlimmableBoundaryHead | None = None,
        boundary_index: int = 1,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.head_type = head_type
        self.boundary_head = boundary_head
        self.boundary_index = boundary_index

    def forward(
        self, x: torch.Tensor, return_boundary: bool | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        feats = self.backbone(x)
        taps = [feats[i] for i in self.backbone.decoder_indices]
        if self.head_type == "sfnet":
            logits = self.head(taps)
        else:
            logits = self.head(taps[0], taps[-1])
        size = x.shape[-2:]
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        want_boundary = self.training if return_boundary is None else return_boundary
        if not want_boundary:
            return logits
        if self.boundary_head is None:
            raise RuntimeError("this SlimmableSegNet was built without a boundary head (boundary=False)")
        b = self.boundary_head(feats[self.boundary_index])
        return logits, F.interpolate(b, size=size, mode="bilinear", align_corners=False)


def build_slimmable(
    name: str,
    num_classes: int = 19,
    widths: Sequence[float] | None = None,
    boundary: bool = True,
    boundary_input: str = "conv2_x",
    slim_head: bool = True,
    output_stride: int | None = None,
) -> SlimmableSegNet:
    """Build one of the SlimSeg networks of Table 2.2.

    Args:
        name: ``sfnet_r18`` (deep-stem ResNet-18, fpn_dim 128), ``sfnet_r50`` (ResNet-50, fpn_dim 256),
            ``sfnet_dfnetv1`` / ``sfnet_dfnetv2`` (DFNet, fpn_dim 64, output stride 32 only),
            ``deeplabv3plus_r50`` (ResNet-50, output stride 8), ``deeplabv3plus_mbv2`` (MobileNetV2,
            output stride 32, light decoder -- see below).
        num_classes: 19 for Cityscapes, 11 for CamVid.
        widths: ascending width multipliers; default [0.25, 0.5, 0.75, 1.0] ([0.35, 0.5, 0.75, 1.0]
            for MobileNetV2).
        boundary: build the (training-only) boundary head.
        boundary_input: ``conv1`` / ``conv2_x`` (default, Sec. 2.4.2) / ``conv3_x`` (Table 2.7 ablation).
        slim_head: ``False`` = partially slimmable (only the backbone slims, Table 2.3).
        output_stride: override the backbone's output stride (DFNet: 32 only).

    DeepLabv3+-MobileNetV2: the thesis does not describe its head.  The variant built here -- backbone
    up to the 320-channel stage at output stride 32, ASPP 320 -> 5 x 256 + 1x1 bottleneck 1280 -> 256,
    48-channel low-level branch on the 1/4 (24-channel) feature, and the classifier applied directly to
    the 304-channel concatenation (``decoder_convs=0``, no 3x3 decoder convs) -- reproduces its row of
    Table 2.2 (params 4.525 / 2.574 / 1.161 / 0.578 M vs 4.53 / 2.57 / 1.16 / 0.57; 18.54 / 12.29 /
    5.67 / 3.30 GMac vs 18.5 / 12.2 / 5.7 / 3.3) and Table 2.1's head share (2.71 M, 6.3 GMac).  The
    standard two-3x3-conv decoder would add 1.29 M parameters and 169 GMac at x1.0.

    Training needs batch size > 1: the PPM's 1x1 bin and the ASPP's image pooling have BatchNorm over
    a single pixel per image.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown slimmable model {name!r}; choose one of {MODEL_NAMES}")
    if boundary_input not in BOUNDARY_INPUTS:
        raise ValueError(f"boundary_input must be one of {list(BOUNDARY_INPUTS)}, got {boundary_input!r}")
    is_mbv2 = name.endswith("mbv2")
    widths = tuple(widths) if widths is not None else (MBV2_WIDTHS if is_mbv2 else DEFAULT_WIDTHS)
    rounding = "div8" if is_mbv2 else "int"

    if name == "sfnet_r18":
        backbone = slimmable_resnet18(widths, output_stride=output_stride or 32)
    elif name in ("sfnet_r50",):
        backbone = slimmable_resnet50(widths, output_stride=output_stride or 32)
    elif name in ("sfnet_dfnetv1", "sfnet_dfnetv2"):
        backbone = SlimmableDFNet(name[-2:], widths, output_stride=output_stride or 32)  # type: ignore[arg-type]
    elif name == "deeplabv3plus_r50":
        backbone = slimmable_resnet50(widths, output_stride=output_stride or 8)
    else:
        backbone = SlimmableMobileNetV2(widths, output_stride=output_stride or 32)
    chans = [backbone.out_channels[i] for i in backbone.decoder_indices]

    head: nn.Module
    if name.startswith("sfnet"):
        head = SlimmableSFNetHead(chans, num_classes, SFNET_FPN_DIM[name], widths, slim=slim_head, rounding=rounding)
        head_type = "sfnet"
    else:
        head = SlimmableDeepLabV3PlusHead(
            chans[0], chans[-1], num_classes,
            rates=default_aspp_rates(backbone.output_stride),
            decoder_convs=0 if is_mbv2 else 2,
            widths=widths, slim=slim_head, rounding=rounding,
        )
        head_type = "deeplabv3plus"

    bidx = backbone.boundary_indices[boundary_input]
    bhead = SlimmableBoundaryHead(backbone.out_channels[bidx], widths=widths) if boundary else None
    return SlimmableSegNet(backbone, head, head_type, bhead, bidx)
