"""SECBNet generator: a residual U-Net with a segmentation-map branch (Chen et al. 2024, Sec. III-B, Fig. 2a).

Paper: "SECBNet: Semantic segmentation-Enhanced Colour Balance Network" (ZHCBI colour balancing of
Gaofen-1 tiles). What the text fixes (Sec. III-B):

- the image and its segmentation map each pass "two convolutional residual blocks", 3 -> 64 channels;
- the two are channel-stacked to 128 and "a full-size convolutional residual module" maps 128 -> 64;
- an encoder of four groups (residual blocks + max-pooling), channels 64 -> 1024, 256x256 -> 16x16;
- a decoder of five groups: upsampling, concatenation with the same-level encoder features, then
  "full-size convolution, BN and ReLU", back to a 256x256 RGB image.

Our reading of the layout, chosen so that it matches the Table V / Fig. 7 ablation exactly: the
encoder has five levels with (channels, resolution) = (64, H), (128, H/2), (256, H/4), (512, H/8),
(1024, H/16); level 0 is the output of the full-size module and each of the four encoder groups is a
2x max-pool followed by residual blocks (one pool per group gives the stated 256 -> 16). The decoder's
first four groups each upsample by 2 and concatenate the level's encoder features (the U-Net skips);
the fifth group is the full-size output group (conv-BN-ReLU, then a 1x1 conv to RGB) - four 2x
upsamplings are all that 16 -> 256 allows.

Segmentation depth (Table V, Fig. 7, Sec. IV-F): Fig. 7 shows the segmentation map going through
"Blocks 1-4" with 64 / 128 / 256 / 512 feature maps at 256 / 128 / 64 / 32 pixels, and Table V compares
taking the segmentation features at those depths ("Seg64" best, PSNR falling as the depth grows; no
segmentation module worst). These depths and resolutions are exactly the image encoder's levels 0-3,
so ``seg_depth = d`` means: the segmentation branch is the first blocks of the same encoder (branch
blocks, then max-pool + residual blocks per further level) run down to the level with ``d`` channels,
and there its features are concatenated with the image encoder's features of the same shape and fused
back to ``d`` channels by a residual block (2d -> d). At ``d = 64`` this *is* the paper's Fig. 2a
(concat to 128, full-size residual module 128 -> 64). ``seg_depth = None`` drops the segmentation branch;
the full-size module then maps 64 -> 64 (so the ablation removes only the segmentation path).

The segmentation map enters as a 3-channel colour-coded image ("from three to 64"), see
:class:`SegmentationColorizer`. The frozen segmentation network itself (WiCoNet) and the frozen-module
logic are not part of the generator: the LightningModule owns them (see ``semcolor.networks.blocks.FrozenModule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from semcolor.networks.blocks import (
    ConvBNReLU,
    DecoderStage,
    EncoderStage,
    FrozenModule,
    ResidualKind,
    UpsampleKind,
    freeze,
    residual_stack,
)

__all__ = ["SECBNetGenerator", "SegmentationColorizer", "GID15_PALETTE", "freeze", "FrozenModule"]

#: GID-15 label colours (RGB, 0-255) by class index; 0 = unlabeled / "unrecognised" (DATASETS.md, GID).
GID15_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (200, 0, 0),
    (250, 0, 150),
    (200, 150, 150),
    (250, 150, 150),
    (0, 200, 0),
    (150, 250, 0),
    (150, 200, 150),
    (200, 0, 200),
    (150, 0, 250),
    (150, 150, 250),
    (250, 200, 0),
    (200, 200, 0),
    (0, 0, 200),
    (0, 150, 200),
    (0, 200, 250),
)

OutputActivation = Literal["sigmoid", "identity"]


class SegmentationColorizer(nn.Module):
    """Turn segmentation logits ``(B, C, H, W)`` into the colour-coded map ``(B, 3, H, W)`` in [0, 1].

    The paper feeds the segmentation map to a branch that goes "from three to 64" channels, i.e. the
    colour-coded (palette) map. Modes:

    - ``"soft"`` (default): ``sum_c softmax(logits)_c * palette_c`` - the expected colour under the
      predicted class distribution. Differentiable, and uncertain pixels get blended colours instead of
      flickering between classes, so it is the friendlier input for training.
    - ``"hard"``: ``palette[argmax(logits)]`` - the literal colour-coded prediction (no gradient).

    Args:
        palette: ``num_classes`` RGB colours in 0-255 (default: the GID-15 palette, 16 entries).
        mode: ``"soft"`` or ``"hard"``.
    """

    def __init__(self, palette: Sequence[Sequence[int]] = GID15_PALETTE, mode: Literal["soft", "hard"] = "soft") -> None:
        super().__init__()
        if mode not in ("soft", "hard"):
            raise ValueError(f"SegmentationColorizer mode must be 'soft' or 'hard', got {mode!r}")
        pal = torch.tensor(palette, dtype=torch.float32) / 255.0
        if pal.ndim != 2 or pal.shape[1] != 3:
            raise ValueError(f"palette must be a list of RGB triples, got shape {tuple(pal.shape)}")
        self.mode = mode
        self.register_buffer("palette", pal)  # (C, 3)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        if logits.ndim != 4 or logits.shape[1] != self.palette.shape[0]:
            raise ValueError(
                f"SegmentationColorizer expects logits (B, {self.palette.shape[0]}, H, W), got {tuple(logits.shape)}"
            )
        palette = self.palette.to(logits.dtype)
        if self.mode == "soft":
            return torch.einsum("bchw,ck->bkhw", logits.softmax(dim=1), palette)
        return palette[logits.argmax(dim=1)].permute(0, 3, 1, 2).contiguous()


class SECBNetGenerator(nn.Module):
    """SECBNet's colour-balancing generator (Fig. 2a), with the Table V segmentation-depth ablation.

    ``forward(image, seg_map)``: ``image`` ``(B, in_channels, H, W)`` in [0, 1]; ``seg_map``
    ``(B, seg_channels, H, W)`` colour-coded segmentation map (``None`` iff ``seg_depth is None``).
    Returns ``(B, out_channels, H, W)``. Any ``H, W >= 16`` work; multiples of 16 (the paper uses 256)
    avoid the resampling that max-pool flooring otherwise needs in the decoder.

    Defaults reproduce the paper's configuration where it is stated and our documented choice where
    it is not:

    Args:
        in_channels: image bands (3, RGB).
        seg_channels: channels of the colour-coded segmentation map (3).
        out_channels: output bands (3, RGB).
        base_channels: channels of level 0 (64); level ``k`` has ``base * 2^k`` (64 ... 1024).
        num_levels: encoder groups (4: 256 -> 16).
        seg_depth: ``None`` (no segmentation branch) or the channel count of the level at which the
            segmentation features are fused: 64 / 128 / 256 / 512 at the paper's widths (must be
            ``base * 2^k`` for ``k < num_levels``). Default 64 = "Seg64", the paper's best and Fig. 2a.
        branch_blocks: residual blocks of the image branch and of the segmentation branch, ``3 -> 64``
            (2: "two convolutional residual blocks").
        encoder_blocks: residual blocks per encoder group (1). Not stated in the paper ("convolutional
            residual blocks"); one keeps the generator at ~33 M parameters, in line with Sec. IV-G
            ("comparable to ResUnet and MANet"); two would be ~58 M.
        fusion_blocks: residual blocks of the fusion module (the full-size module at level 0; 1).
        decoder_convs: conv-BN-ReLU per decoder group (2, the U-Net double conv; the paper names one
            "full-size convolution, BN and ReLU" sequence per group without a count).
        residual_block: ``"basic"`` (default, He et al. 2016 post-activation block with a 1x1 projection
            when channels change) or ``"preact"``; the paper does not specify the block.
        upsample: ``"bilinear"`` (default), ``"nearest"`` or ``"transpose"``. Bilinear upsampling +
            conv avoids the checkerboard artefacts of transposed convolutions, which in a colour
            balancing output would appear as texture; the paper only says "upsampling".
        output_activation: ``"sigmoid"`` (default: targets are [0, 1] images, so the output is bounded
            to that range) or ``"identity"`` (raw output, e.g. for a residual formulation or clamping
            outside).
    """

    def __init__(
        self,
        in_channels: int = 3,
        seg_channels: int = 3,
        out_channels: int = 3,
        base_channels: int = 64,
        num_levels: int = 4,
        seg_depth: int | None = 64,
        branch_blocks: int = 2,
        encoder_blocks: int = 1,
        fusion_blocks: int = 1,
        decoder_convs: int = 2,
        residual_block: ResidualKind = "basic",
        upsample: UpsampleKind = "bilinear",
        output_activation: OutputActivation = "sigmoid",
    ) -> None:
        super().__init__()
        widths = [base_channels * 2**k for k in range(num_levels + 1)]
        if seg_depth is not None and seg_depth not in widths[:num_levels]:
            raise ValueError(
                f"seg_depth must be None or one of {widths[:num_levels]} (the channel counts of encoder levels "
                f"0..{num_levels - 1}), got {seg_depth}"
            )
        if output_activation not in ("sigmoid", "identity"):
            raise ValueError(f"output_activation must be 'sigmoid' or 'identity', got {output_activation!r}")
        self.widths = widths
        self.seg_depth = seg_depth
        #: encoder level (0 = full size) at which the segmentation features are fused, or None
        self.seg_level: int | None = None if seg_depth is None else widths.index(seg_depth)
        self.num_levels = num_levels
        c0 = widths[0]

        # Image branch: branch_blocks residual blocks, in_channels -> 64, full size.
        self.image_branch = residual_stack(in_channels, c0, branch_blocks, residual_block)

        # Segmentation branch: same first blocks, then encoder groups down to the fusion level.
        if self.seg_level is None:
            self.seg_branch: nn.ModuleList | None = None
        else:
            seg_layers: list[nn.Module] = [residual_stack(seg_channels, c0, branch_blocks, residual_block)]
            for k in range(1, self.seg_level + 1):
                seg_layers.append(EncoderStage(widths[k - 1], widths[k], encoder_blocks, residual_kind=residual_block))
            self.seg_branch = nn.ModuleList(seg_layers)

        # Full-size conv residual module: 128 -> 64 when the segmentation features join at level 0
        # (Fig. 2a), else 64 -> 64.
        self.full_size = residual_stack(2 * c0 if self.seg_level == 0 else c0, c0, fusion_blocks, residual_block)
        # Fusion at a deeper level: concat (2d) -> residual block -> d.
        self.seg_fusion: nn.Module | None = None
        if self.seg_level is not None and self.seg_level > 0:
            d = widths[self.seg_level]
            self.seg_fusion = residual_stack(2 * d, d, fusion_blocks, residual_block)

        # Encoder: num_levels groups of (max-pool, residual blocks), 64 -> 1024, H -> H/16.
        self.encoder = nn.ModuleList(
            EncoderStage(widths[k - 1], widths[k], encoder_blocks, residual_kind=residual_block)
            for k in range(1, num_levels + 1)
        )
        # Decoder groups 1-4: upsample, concat the level's encoder features, conv-BN-ReLU.
        self.decoder = nn.ModuleList(
            DecoderStage(widths[k + 1], widths[k], widths[k], upsample=upsample, num_convs=decoder_convs)
            for k in reversed(range(num_levels))
        )
        # Decoder group 5: full-size conv-BN-ReLU, then a 1x1 conv to the output bands.
        self.output_group = nn.Sequential(ConvBNReLU(c0, c0), nn.Conv2d(c0, out_channels, kernel_size=1))
        self.output_activation: nn.Module = nn.Sigmoid() if output_activation == "sigmoid" else nn.Identity()

    def param_count(self, trainable_only: bool = False) -> int:
        """Number of parameters (all, or only those with ``requires_grad``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def forward(self, image: torch.Tensor, seg_map: torch.Tensor | None = None) -> torch.Tensor:
        if image.ndim != 4:
            raise ValueError(f"SECBNetGenerator expects image (B, C, H, W), got {tuple(image.shape)}")
        if min(image.shape[-2:]) < 2**self.num_levels:
            raise ValueError(
                f"SECBNetGenerator needs H, W >= {2**self.num_levels} ({self.num_levels} max-pools), got {tuple(image.shape[-2:])}"
            )
        if self.seg_branch is None:
            if seg_map is not None:
                raise ValueError("this SECBNetGenerator has no segmentation branch (seg_depth=None); pass seg_map=None")
        elif seg_map is None:
            raise ValueError(f"SECBNetGenerator(seg_depth={self.seg_depth}) needs a seg_map")
        elif seg_map.shape[0] != image.shape[0] or seg_map.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"seg_map {tuple(seg_map.shape)} must match the image {tuple(image.shape)} in batch and size"
            )

        seg_feat = None
        if self.seg_branch is not None:
            seg_feat = seg_map
            for layer in self.seg_branch:
                seg_feat = layer(seg_feat)

        x = self.image_branch(image)
        if self.seg_level == 0:
            x = torch.cat([x, seg_feat], dim=1)
        x = self.full_size(x)
        skips = [x]
        for k, stage in enumerate(self.encoder, start=1):
            x = stage(x)
            if self.seg_fusion is not None and k == self.seg_level:
                x = self.seg_fusion(torch.cat([x, seg_feat], dim=1))
            skips.append(x)

        x = skips.pop()  # bottleneck, 1024 @ H/16
        for stage in self.decoder:
            x = stage(x, skips.pop())
        return self.output_activation(self.output_group(x))
