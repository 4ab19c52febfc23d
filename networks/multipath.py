"""Multipath colorization network (Wang et al. 2025: "automatic colorization with semantic segmentation and
multipath networks", Sec. 2, Fig. 1, Tables I-III).

Three paths, all fed the same grayscale image (replicated to 3 channels):

* :class:`ContextPath` (Sec. 2.1, Table I): a timm ResNet-50 (``features_only``) on the image resized to the
  context size (224x224 in the paper). The stride-8 (28x28, ``layer2``) and stride-32 (7x7, ``layer4``)
  features each get a 1x1 conv-BN-ReLU to ``context_channels`` ("the number of channels in the two branches
  is equivalent, utilizing 1x1 convolution", Sec. 2.3; 128 each is our choice, the paper gives no width), ECA
  (Eq. 2, kernel from :func:`semcolor.networks.attention.eca_kernel_size`), and are upsampled (bilinear) to
  56x56 (= context / 4).
  ImageNet weights when the user has them (``pretrained`` / ``weights``, see :func:`load_imagenet_resnet`),
  random otherwise (with a loud warning); the gray input is ImageNet-normalised. Table I lists a 3x3 stride-2
  max-pool before each of layer1..layer4; we read them as the strides of ResNet-50's own stages (the
  table's output sizes 56 / 28 / 14 / 7 are exactly those of the unmodified ResNet-50), not as extra pools.
* :class:`SpatialPath` (Sec. 2.2, Table II): conv 5x5 s2 3->32, 3x3 32->32, 3x3 s2 32->64, 3x3 64->64, each
  + BN + ReLU, on the same context-size image -> 56x56x64.
* Fusion (Sec. 2.3): concat (context mid, context deep, spatial), 1x1 conv-BN-ReLU to ``fusion_channels``
  (256), SE (r = 16, Eq. 3) -> 56x56x256; two 1x1 heads: segmentation logits (``num_classes``, 11; softmax
  is in the cross-entropy) and the segmentation *features* for the colorization net (1x1 conv-BN-ReLU to
  ``4 * base_channels`` = 128 channels, so that DS8 (128) + features = 256 = DS9's input, Table III).
  The paper upsamples then applies the 1x1 convs; we apply the 1x1 convs at 56x56 and upsample after
  (bilinear interpolation and a 1x1 conv commute; the BN-ReLU of the feature head is the only difference,
  and it is 16x cheaper).
* :class:`ColorizationNet` (Sec. 2.4, Table III): DS1-DS12 (3x3 conv-BN-ReLU; stride 2 at DS3, DS6, DS9),
  the segmentation features concatenated after DS8 (at 224x224 for an 896 input), US1-US9 (3x3 transposed
  conv-BN-ReLU; stride 2 at US1, US4, US7, each followed by the concatenation of DS8 / DS5 / DS2, optionally
  InstanceNorm-ed: Method 5), US10 = 1x1 conv 32 -> 2, BN, sigmoid (Table III prints "Conv2d, BN, sigmoid";
  ``final_bn`` drops the BN). (The table's row "B2U" between US7 and US9 is US8.)

Output: the sigmoid output ``s`` in (0, 1)^2 at the colour-net resolution is upsampled (bilinear) to the
input's size and mapped to CIELAB chroma ``ab_raw = ab_range * (2 s - 1)`` (``ab_range`` 128: a*, b* in
(-128, 128), the nominal CIELAB range and more than the sRGB gamut's -86..98 / -108..95); then
``ab = chroma_scale * ab_raw`` -- the chroma x1.3 of Sec. 2.4 / Method 6 -- applied here and only here.
The lightness is *not* predicted: the LightningModule takes L* from the gray input
(:mod:`semcolor.lightning_modules.multipath`).

Sizes (all constructor arguments, so tests and CPU runs use small ones). For an input of ``H x W``:

* colour-net input ``Sc = color_size`` (fixed) or ``color_scale * (H, W)`` rounded to a multiple of 8
  (>= 8); the paper: 896 (Methods 3-6) or 224 (Methods 1-2). Inside, Table III's ratios hold for any Sc:
  DS1-2 at Sc, DS3-5 at Sc/2, DS6-8 at Sc/4 (segmentation features concatenated here), DS9-12 at Sc/8,
  US1-3 at Sc/4, US4-6 at Sc/2, US7-10 at Sc; channels ``base_channels * (1, 2, 4, 8)`` (32, 64, 128, 256).
  See :data:`TABLE_III` (the paper's sizes at 896) and :func:`table_iii_shapes` (any size / width).
* context / spatial input ``St = context_size`` or ``context_scale * (H, W)`` rounded to a multiple of 32
  (>= 32); the paper: 224. Fusion at St/4 (56), the ResNet features at St/8 (28) and St/32 (7).
* the segmentation features are resized from St/4 to Sc/4 (for 896 / 224: 56 -> 224, as in the paper;
  for Sc = St = 224: no resize).
* segmentation logits are resized (bilinear) from St/4 to the input size.

With the GTA5 data resized to 896 (``GTA5DataModule(resize=896)``), ``color_scale=1`` and
``context_scale=0.25`` give exactly the paper's 896 / 224; the configs state sizes this way so that the
same config runs on tiny fake data.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semcolor.checkpoints import read_torch_file
from semcolor.networks.attention import EfficientChannelAttention, SqueezeExcitation
from semcolor.networks.blocks import ConvBNReLU
from semcolor.networks.perceptual import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "TABLE_III",
    "ColorizationNet",
    "ContextPath",
    "MultipathColorizer",
    "MultipathOutput",
    "RandomBackboneWarning",
    "SpatialPath",
    "load_imagenet_resnet",
    "resolve_size",
    "table_iii_shapes",
]


#: Table III as printed (896x896 input, base width 32): layer -> (output side, output channels)
TABLE_III: dict[str, tuple[int, int]] = {
    "DS1": (896, 32), "DS2": (896, 32), "DS3": (448, 64), "DS4": (448, 64), "DS5": (448, 64),
    "DS6": (224, 128), "DS7": (224, 128), "DS8": (224, 128), "DS9": (112, 256), "DS10": (112, 256),
    "DS11": (112, 256), "DS12": (112, 256), "US1": (224, 128), "US2": (224, 128), "US3": (224, 128),
    "US4": (448, 64), "US5": (448, 64), "US6": (448, 64), "US7": (896, 32), "US8": (896, 32),
    "US9": (896, 32), "US10": (896, 2),
}  # fmt: skip


def table_iii_shapes(size: int | Sequence[int], base_channels: int = 32) -> dict[str, tuple[int, int, int]]:
    """Expected ``(C, H, W)`` of every DS/US layer for a colour-net input of ``size``, by Table III's ratios."""
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    out = {}
    for name, (side, ch) in TABLE_III.items():
        div = 896 // side
        c = 2 if name == "US10" else ch * base_channels // 32
        out[name] = (c, h // div, w // div)
    return out


def resolve_size(
    hw: Sequence[int], size: int | Sequence[int] | None, scale: float, multiple: int
) -> tuple[int, int]:
    """``size`` (fixed, int or (H, W)) or ``scale * hw`` rounded to the nearest multiple of ``multiple``
    (at least ``multiple``)."""
    if size is not None:
        h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    else:
        h, w = (max(multiple, int(round(scale * s / multiple)) * multiple) for s in hw)
    if h % multiple or w % multiple:
        raise ValueError(f"size {h}x{w} must be a multiple of {multiple}")
    return h, w


class RandomBackboneWarning(UserWarning):
    """A network that should carry ImageNet weights has random ones (no weights file found)."""


def torchvision_resnet50_caches() -> list[Path]:
    """Files where torchvision keeps ImageNet ResNet-50 weights once downloaded (never downloaded here)."""
    from torchvision.models import ResNet50_Weights

    folder = Path(torch.hub.get_dir()) / "checkpoints"
    return [folder / os.path.basename(w.url) for w in (ResNet50_Weights.IMAGENET1K_V2, ResNet50_Weights.IMAGENET1K_V1)]


def load_imagenet_resnet(model: nn.Module, weights: str | Path | None, what: str = "context path") -> bool:
    """Load ImageNet weights into a timm ResNet ``features_only`` model; True when loaded.

    ``weights``: a state-dict file (torchvision's ``resnet50-*.pth`` or timm's; both use the same keys; the
    classifier ``fc.*`` is dropped). ``None``: torchvision's cache (``$TORCH_HOME/hub/checkpoints``) when a
    ResNet-50 file is there, else the model stays random and a :class:`RandomBackboneWarning` says so.
    Nothing is ever downloaded.
    """
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{what}: ImageNet weights file '{path}' does not exist")
    else:
        found = [p for p in torchvision_resnet50_caches() if p.is_file()]
        if not found:
            warnings.warn(
                f"multipath {what}: no ImageNet ResNet-50 weights (looked for {[str(p) for p in torchvision_resnet50_caches()]}; "
                "pass context_weights=<file>). The context path is RANDOMLY initialised: 'pretrained context' "
                "(Method 2+) is then the same as Method 1. Nothing is downloaded; to get the weights run once, "
                "with network access: python -c \"import torchvision; torchvision.models.resnet50(weights='IMAGENET1K_V2')\"",
                RandomBackboneWarning,
                stacklevel=3,
            )
            return False
        path = found[0]
    state = read_torch_file(path, f"{what} ImageNet weights file")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise ValueError(f"{what}: '{path}' does not fit the backbone: missing {missing[:5]} ...")
    if unexpected:  # features_only models drop the last stages they do not need
        warnings.warn(f"{what}: ignored {len(unexpected)} key(s) of '{path}' (e.g. {unexpected[0]})", stacklevel=3)
    return True


class ContextPath(nn.Module):
    """Sec. 2.1 / Table I: ResNet features at stride 8 and 32, 1x1 conv-BN-ReLU + ECA each, upsampled.

    Args:
        backbone: timm model name (``resnet50``; ``resnet18`` keeps tests fast).
        channels: channels of each branch after its 1x1 conv.
        pretrained: load ImageNet weights (``weights`` or torchvision's cache; random with a warning when
            there are none).
        weights: explicit weights file (implies ``pretrained``).
        out_indices: timm feature indices of the two branches ((2, 4) = layer2, layer4 for ResNets).
    """

    def __init__(
        self,
        backbone: str = "resnet50",
        channels: int = 128,
        pretrained: bool = False,
        weights: str | None = None,
        out_indices: tuple[int, int] = (2, 4),
    ) -> None:
        super().__init__()
        self.backbone = timm.create_model(backbone, features_only=True, out_indices=tuple(out_indices), pretrained=False)
        self.pretrained = load_imagenet_resnet(self.backbone, weights) if (pretrained or weights) else False
        c_mid, c_deep = self.backbone.feature_info.channels()
        self.branch_mid = nn.Sequential(ConvBNReLU(c_mid, channels, 1), EfficientChannelAttention(channels))
        self.branch_deep = nn.Sequential(ConvBNReLU(c_deep, channels, 1), EfficientChannelAttention(channels))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.out_channels = 2 * channels

    def forward(self, x3: Tensor, out_size: tuple[int, int]) -> Tensor:
        """``x3``: ``(B, 3, St, St)`` in [0, 1] -> ``(B, 2 * channels, *out_size)``."""
        mid, deep = self.backbone((x3 - self.mean) / self.std)
        mid = F.interpolate(self.branch_mid(mid), size=out_size, mode="bilinear", align_corners=False)
        deep = F.interpolate(self.branch_deep(deep), size=out_size, mode="bilinear", align_corners=False)
        return torch.cat([mid, deep], dim=1)


class SpatialPath(nn.Sequential):
    """Table II: 5x5 s2 3->32, 3x3 32->32, 3x3 s2 32->64, 3x3 64->64, each conv + BN + ReLU (St -> St/4)."""

    def __init__(self, in_channels: int = 3, width: int = 32) -> None:
        super().__init__(
            ConvBNReLU(in_channels, width, 5, stride=2),
            ConvBNReLU(width, width, 3),
            ConvBNReLU(width, 2 * width, 3, stride=2),
            ConvBNReLU(2 * width, 2 * width, 3),
        )
        self.out_channels = 2 * width


class ConvTBNReLU(nn.Sequential):
    """3x3 transposed conv (stride 1: same size; stride 2: exactly 2x) -> BN -> ReLU (Table III "ConvT2d, BN,
    ReLU"). Written here because torchvision's ``Conv2dNormActivation`` has no transposed variant."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, 3, stride=stride, padding=1,
                               output_padding=stride - 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class ColorizationNet(nn.Module):
    """Table III: a U-Net from the gray image (3 channels) and segmentation features to 2 sigmoid channels.

    ``layers`` is a ``ModuleDict`` named as in the table (``DS1`` ... ``DS12``, ``US1`` ... ``US10``), so each
    layer's output can be inspected with a forward hook.

    Args:
        in_channels: input channels (3: the gray image replicated, Table III DS1 "3x3x3x32").
        seg_channels: channels of the segmentation features concatenated after DS8 (128 in the paper).
        base_channels: width c; the table's widths are c, 2c, 4c, 8c (32, 64, 128, 256).
        skip_norm: InstanceNorm (no affine) on the DS8 / DS5 / DS2 skips before concatenation (Method 5+);
            False: the skips are concatenated as they are (Methods 1-4).
        final_bn: BN between US10's 1x1 conv and the sigmoid, as Table III prints it.
    """

    def __init__(
        self,
        in_channels: int = 3,
        seg_channels: int = 128,
        base_channels: int = 32,
        skip_norm: bool = True,
        final_bn: bool = True,
    ) -> None:
        super().__init__()
        c = base_channels
        self.skip_norm = skip_norm
        L: dict[str, nn.Module] = {
            "DS1": ConvBNReLU(in_channels, c), "DS2": ConvBNReLU(c, c),
            "DS3": ConvBNReLU(c, 2 * c, stride=2), "DS4": ConvBNReLU(2 * c, 2 * c), "DS5": ConvBNReLU(2 * c, 2 * c),
            "DS6": ConvBNReLU(2 * c, 4 * c, stride=2), "DS7": ConvBNReLU(4 * c, 4 * c), "DS8": ConvBNReLU(4 * c, 4 * c),
            "DS9": ConvBNReLU(4 * c + seg_channels, 8 * c, stride=2), "DS10": ConvBNReLU(8 * c, 8 * c),
            "DS11": ConvBNReLU(8 * c, 8 * c), "DS12": ConvBNReLU(8 * c, 8 * c),
            "US1": ConvTBNReLU(8 * c, 4 * c, stride=2), "US2": ConvTBNReLU(8 * c, 4 * c), "US3": ConvTBNReLU(4 * c, 4 * c),
            "US4": ConvTBNReLU(4 * c, 2 * c, stride=2), "US5": ConvTBNReLU(4 * c, 2 * c), "US6": ConvTBNReLU(2 * c, 2 * c),
            "US7": ConvTBNReLU(2 * c, c, stride=2), "US8": ConvTBNReLU(2 * c, c), "US9": ConvTBNReLU(c, c),
            "US10": nn.Sequential(nn.Conv2d(c, 2, 1, bias=not final_bn),
                                  nn.BatchNorm2d(2) if final_bn else nn.Identity(), nn.Sigmoid()),
        }  # fmt: skip
        self.layers = nn.ModuleDict(L)
        norm = (lambda ch: nn.InstanceNorm2d(ch, affine=False)) if skip_norm else (lambda ch: nn.Identity())
        self.skip_norms = nn.ModuleDict({"DS8": norm(4 * c), "DS5": norm(2 * c), "DS2": norm(c)})

    def forward(self, x: Tensor, seg_features: Tensor) -> Tensor:
        """``x``: ``(B, 3, Sc, Sc)`` (Sc a multiple of 8); ``seg_features``: ``(B, seg_channels, Sc/4, Sc/4)``
        -> ``(B, 2, Sc, Sc)`` in (0, 1)."""
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(f"ColorizationNet input sides must be multiples of 8, got {tuple(x.shape[-2:])}")
        L, skip = self.layers, {}
        for i in range(1, 9):
            x = L[f"DS{i}"](x)
            if i in (2, 5, 8):
                skip[f"DS{i}"] = self.skip_norms[f"DS{i}"](x)
        x = torch.cat([x, seg_features], dim=1)
        for i in range(9, 13):
            x = L[f"DS{i}"](x)
        for up, src in ((1, "DS8"), (4, "DS5"), (7, "DS2")):
            x = torch.cat([L[f"US{up}"](x), skip[src]], dim=1)
            x = L[f"US{up + 2}"](L[f"US{up + 1}"](x))
        return L["US10"](x)


@dataclass
class MultipathOutput:
    """What :class:`MultipathColorizer` returns, every map at the *input's* size ``(H, W)``.

    Attributes:
        ab: a*, b* after the chroma scaling (``chroma_scale * ab_raw``): the colours to display.
        ab_raw: a*, b* before the chroma scaling, ``ab_range * (2 * ab_sigmoid - 1)``.
        ab_sigmoid: the sigmoid output of US10 in (0, 1) (the space of the Huber loss).
        seg_logits: segmentation logits ``(B, num_classes, H, W)``.
    """

    ab: Tensor
    ab_raw: Tensor
    ab_sigmoid: Tensor
    seg_logits: Tensor


class MultipathColorizer(nn.Module):
    """Context path + spatial path -> fusion (segmentation) -> colorization net (Wang et al. 2025, Fig. 1).

    ``forward(gray)`` takes ``(B, 1, H, W)`` gray in [0, 1] (or 3 identical channels) and returns a
    :class:`MultipathOutput` (module docstring: sizes, ab mapping, chroma scaling).

    Args:
        num_classes: segmentation classes (11 for GTA5).
        backbone: timm ResNet name of the context path (``resnet50``).
        context_pretrained, context_weights: ImageNet weights of the context path (Method 2+): a file,
            or torchvision's cache; random with a :class:`RandomBackboneWarning` when there are none.
        color_size, color_scale: colour-net input (fixed side(s), or a fraction of the input size);
            module docstring.
        context_size, context_scale: context / spatial path input (224 in the paper).
        base_channels: colour-net width c (32).
        context_channels: channels of each context branch after its 1x1 conv (128).
        fusion_channels: fused feature channels (256).
        seg_feature_channels: channels of the segmentation features given to the colour net (default 4c).
        se_reduction: SE reduction ratio r (16).
        skip_norm: InstanceNorm on the U-Net skips (Method 5+).
        final_bn: BN before the final sigmoid (Table III).
        ab_range: the sigmoid output ``s`` maps to ``ab_range * (2 s - 1)``.
        chroma_scale: factor on a*, b* at the output (1.3 in Method 6, 1.0 before).
    """

    def __init__(
        self,
        num_classes: int = 11,
        backbone: str = "resnet50",
        context_pretrained: bool = False,
        context_weights: str | None = None,
        color_size: int | Sequence[int] | None = None,
        color_scale: float = 1.0,
        context_size: int | Sequence[int] | None = None,
        context_scale: float = 0.25,
        base_channels: int = 32,
        context_channels: int = 128,
        fusion_channels: int = 256,
        seg_feature_channels: int | None = None,
        se_reduction: int = 16,
        skip_norm: bool = True,
        final_bn: bool = True,
        ab_range: float = 128.0,
        chroma_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if chroma_scale <= 0 or ab_range <= 0:
            raise ValueError(f"chroma_scale and ab_range must be positive, got {chroma_scale}, {ab_range}")
        self.color_size, self.color_scale = color_size, float(color_scale)
        self.context_size, self.context_scale = context_size, float(context_scale)
        self.ab_range, self.chroma_scale = float(ab_range), float(chroma_scale)
        seg_feature_channels = 4 * base_channels if seg_feature_channels is None else seg_feature_channels
        self.context = ContextPath(backbone, context_channels, context_pretrained, context_weights)
        self.spatial = SpatialPath()
        self.fusion = nn.Sequential(
            ConvBNReLU(self.context.out_channels + self.spatial.out_channels, fusion_channels, 1),
            SqueezeExcitation(fusion_channels, se_reduction),
        )
        self.seg_head = nn.Conv2d(fusion_channels, num_classes, 1)
        self.feature_head = ConvBNReLU(fusion_channels, seg_feature_channels, 1)
        self.colour = ColorizationNet(3, seg_feature_channels, base_channels, skip_norm, final_bn)

    def sizes(self, hw: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(colour-net input size, context input size)`` for an input of size ``hw``."""
        return (
            resolve_size(hw, self.color_size, self.color_scale, 8),
            resolve_size(hw, self.context_size, self.context_scale, 32),
        )

    @staticmethod
    def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=size[0] < x.shape[-2])

    def forward(self, gray: Tensor) -> MultipathOutput:
        if gray.ndim != 4 or gray.shape[1] not in (1, 3):
            raise ValueError(f"MultipathColorizer expects (B, 1, H, W) gray input, got {tuple(gray.shape)}")
        x3 = gray.expand(-1, 3, -1, -1) if gray.shape[1] == 1 else gray
        hw = tuple(gray.shape[-2:])
        color_hw, context_hw = self.sizes(hw)
        xc = self._resize(x3, context_hw)
        fuse_hw = (context_hw[0] // 4, context_hw[1] // 4)
        fused = self.fusion(torch.cat([self.context(xc, fuse_hw), self.spatial(xc)], dim=1))
        seg_logits = F.interpolate(self.seg_head(fused), size=hw, mode="bilinear", align_corners=False)
        feats = self._resize(self.feature_head(fused), (color_hw[0] // 4, color_hw[1] // 4))
        s = self.colour(self._resize(x3, color_hw), feats)
        s = self._resize(s, hw)  # bilinear: a convex combination, stays in (0, 1)
        ab_raw = self.ab_range * (2.0 * s - 1.0)
        return MultipathOutput(ab=self.chroma_scale * ab_raw, ab_raw=ab_raw, ab_sigmoid=s, seg_logits=seg_logits)
