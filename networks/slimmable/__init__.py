"""Slimmable (width-switchable) segmentation networks of SlimSeg (thesis ch. 2).

Quick use::

    from semcolor.networks.slimmable import build_slimmable, set_width, count_params, count_macs
    net = build_slimmable("sfnet_r18", num_classes=19)
    set_width(net, 0.5)            # whole network at x0.5 (asserts that channels really changed)
    logits = net.eval()(x)

Table 2.2 of Xue 2025 (thesis), paper / ours
--------------------------------------------
Independent-model parameters (M; ``count_params``: active conv slices + that width's BN + classifier
bias, boundary head excluded) and GMac (``count_macs``, ptflops convention, 1024x2048 RGB, 19 classes).
Widths x1.0 / 0.75 / 0.5 / 0.25 (x0.35 for MobileNetV2); the counts are pinned in
``tests/networks/test_slimmable.py``.

::

    params (M), paper | ours     x1.0   x0.75  x0.5   x0.25        x1.0   x0.75  x0.5   x0.25
    SFNet-ResNet50              31.20  17.57   7.82   1.97   |   31.20  17.57   7.82   1.97
    SFNet-ResNet18              12.87   7.24   3.22  [0.79]  |   12.87   7.24   3.22   0.81
    SFNet-DFNetv2               17.88  10.06   4.48   1.12   |   17.88  10.06   4.48   1.12
    SFNet-DFNetv1                8.42   4.74   2.11  [0.52]  |    8.42   4.74   2.11   0.53
    DeepLabv3+-ResNet50         40.35  22.71  10.11   2.54   |   40.35  22.71  10.11   2.54
    DeepLabv3+-MobileNetV2       4.53   2.57   1.16   0.57   |    4.53   2.57   1.16   0.58  (x0.35)

    GMac, paper | ours
    SFNet-ResNet50              607.9  343.4  153.9   39.4   |   608.4  343.8  154.1   39.5
    SFNet-ResNet18              243.4  137.4   61.5   15.7   |   243.8  137.6   61.6   15.7
    SFNet-DFNetv2                80.2   45.2   20.2    5.2   |    80.2   45.3   20.3    5.2
    SFNet-DFNetv1                32.8   18.6    8.4    2.2   |    32.9   18.6    8.4    2.2
    DeepLabv3+-ResNet50        1463    824.3 [347.6]  92.9   |  1463.9  825.2  368.2   93.2
    DeepLabv3+-MobileNetV2       18.5   12.2    5.7    3.3   |    18.5   12.3    5.7    3.3  (x0.35)

The table's "Slimmable Param" column (one value per network: all widths' weights in one model) is the
x1.0 count plus the smaller widths' switchable-BN parameters: ours 40.44 M for DeepLabv3+-ResNet50
(printed 40.44), 17.91 M for SFNet-DFNetv2 (printed 17.91) and 8.44 M for SFNet-DFNetv1 (OCR "0.44").

**Three entries (in brackets) cannot be met as printed.**  Every parameter or MAC term of a uniformly
slimmed network scales as w^2 (slimmed on both sides), w (one side fixed: the RGB stem conv, the
classifier, the 2-channel flow, BN, ReLU, pooling) or 1 (the classifier bias).  In the ResNet and
DFNet rows every channel count is a multiple of 4, so ``int(c * w)`` is exact and P(w) >= w^2 P(1.0),
MACs(w) >= w^2 MACs(1.0).  The three printed values break that bound of their own row, even from the
smallest x1.0 value that rounds to the printed one: SFNet-ResNet18 x0.25 0.79 M < 12.865 / 16 = 0.804 M;
SFNet-DFNetv1 x0.25 0.52 M < 8.415 / 16 = 0.526 M; DeepLabv3+-ResNet50 x0.5 347.6 GMac < 1462.5 / 4 =
365.6 GMac (the row's other ratios, 824.3 / 1463 = 0.563 and 92.9 / 1463 = 0.0635, do follow w^2; our
offset on them predicts ~367.6, so "347.6" looks like a one-digit slip, copied into Table 2.3).  Only a
sub-network narrower than w c in some layer, or one dropping a module, could reach them; the thesis
describes neither.  Every other entry is within 1.4 % (the largest gaps: MobileNetV2 x0.35 0.578 M vs
0.57, DFNetv1 x0.25 2.176 GMac vs 2.2, which rounds to it), all the others within 0.75 %.
"""
from __future__ import annotations

from .boundary import SlimmableBoundaryHead
from .deeplabv3plus import SlimmableASPP, SlimmableDeepLabV3PlusHead
from .dfnet import DFNET_LAYOUTS, SlimmableDFNet, slimmable_dfnetv1, slimmable_dfnetv2
from .mobilenetv2 import SlimmableMobileNetV2
from .model import BOUNDARY_INPUTS, MODEL_NAMES, SFNET_FPN_DIM, SlimmableSegNet, build_slimmable
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
    "BOUNDARY_INPUTS", "DEFAULT_WIDTHS", "DFNET_LAYOUTS", "MBV2_WIDTHS", "MODEL_NAMES", "SFNET_FPN_DIM",
    "SlimmableASPP", "SlimmableBoundaryHead", "SlimmableConv2d", "SlimmableConvBNReLU", "SlimmableDFNet",
    "SlimmableDeepLabV3PlusHead", "SlimmableFAM", "SlimmableMobileNetV2", "SlimmablePPM", "SlimmableResNet",
    "SlimmableSFNetHead", "SlimmableSegNet", "SwitchableBatchNorm2d", "WidthSwitchError",
    "build_slimmable", "channel_signature", "channels", "count_macs", "count_params", "flow_warp",
    "get_width", "load_timm_weights", "make_divisible", "round_channels", "set_width",
    "slimmable_dfnetv1", "slimmable_dfnetv2", "slimmable_resnet18", "slimmable_resnet50", "width_context",
]
