"""Slimmable (width-switchable) segmentation networks of SlimSeg (thesis ch. 2).

Quick use::

    from semcolor.networks.slimmable import build_slimmable, set_width, count_params, count_macs
    net = build_slimmable("sfnet_r18", num_classes=19)
    set_width(net, 0.5)            # whole network at x0.5 (asserts that channels really changed)
    logits = net.eval()(x)
"""
from __future__ import annotations

from .boundary import SlimmableBoundaryHead
from .deeplabv3plus import SlimmableASPP, SlimmableDeepLabV3PlusHead
from .mobilenetv2 import SlimmableMobileNetV2
from .model import BOUNDARY_INPUTS, MODEL_NAMES, SlimmableSegNet, build_slimmable
from .ops import (
    DEFAULT_WIDTHS,
    MBV2_WIDTHS,
    SlimmableConv2d,
    SlimmableConvBNReLU,
    SwitchableBatchNorm2d,
    WidthSwitchError,
    channel_signature,
    channels,
    count_macs,
    count_params,
    get_width,
    make_divisible,
    round_channels,
    set_width,
    width_context,
)
from .pretrained import load_timm_weights
from .resnet import SlimmableResNet, slimmable_resnet18, slimmable_resnet50
from .sfnet import SlimmableFAM, SlimmablePPM, SlimmableSFNetHead, flow_warp

__all__ = [
    "BOUNDARY_INPUTS", "DEFAULT_WIDTHS", "MBV2_WIDTHS", "MODEL_NAMES",
    "SlimmableASPP", "SlimmableBoundaryHead", "SlimmableConv2d", "SlimmableConvBNReLU",
    "SlimmableDeepLabV3PlusHead", "SlimmableFAM", "SlimmableMobileNetV2", "SlimmablePPM", "SlimmableResNet",
    "SlimmableSFNetHead", "SlimmableSegNet", "SwitchableBatchNorm2d", "WidthSwitchError",
    "build_slimmable", "channel_signature", "channels", "count_macs", "count_params", "flow_warp",
    "get_width", "load_timm_weights", "make_divisible", "round_channels", "set_width",
    "slimmable_resnet18", "slimmable_resnet50", "width_context",
]
