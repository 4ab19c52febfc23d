"""Multi-D: a U-Net generator with an image per decoder scale and a discriminator per scale (Li et al. 2018).

The "Multi-D" baseline of the jsdcgan comparison (Wang et al. 2022, Tables 1-2, ref. [18]: F. Li, M. Lei,
C. Jian, "Multi-discriminator generative adversarial network for high resolution gray-scale satellite
image colorization", IGARSS 2018). Li et al.'s text is not available to us; what Wang et al. 2022 say of it
is all we build on:

* Sec. 1: Li et al. "set up a discriminator for each layer feature in the generator's decoding process";
* Sec. 2: "They chose U-Net as the generator ... input the features proposed by each layer of generator into
  the discriminator for judgment. What's more, the features of the local layer are added to the next layer
  of discriminator in order to make the discriminator fuse the feature from different levels";
* Sec. 4.4: "Use a multi-scale discriminator to generate color images of different scales and input them
  into the corresponding layers of the discriminator to achieve multi-scale discrimination".

Our reading, with every open point a constructor argument:

* :class:`MultiScaleUNetGenerator`: the pix2pix U-Net (:class:`~semcolor.networks.unet_generator.UNetGenerator`)
  plus one "to-RGB" head (ReLU, 1x1 conv, the output activation) on each of the decoder outputs at H/2, H/4,
  ... (``num_scales - 1`` of them): a colour image per decoder scale. :meth:`~MultiScaleUNetGenerator.forward`
  returns the full-resolution image only, so evaluation and prediction are those of a plain U-Net.
* :class:`PyramidDiscriminator`: one PatchGAN (:class:`~semcolor.networks.discriminators.PatchGANDiscriminator`,
  fully convolutional, so one design serves every scale; the discriminator type is not stated) per scale,
  each judging the scale's image ``y_s`` conditioned on the gray input average-pooled to that scale
  (``D_s(y_s | x_s)``). ``fuse="add"`` (default) is the "features of the local layer are added to the next
  layer" sentence: the level-1 feature of the scale-s discriminator (H_s / 4) is projected by a 1x1 conv and
  added to the level-0 feature of the scale-(s+1) discriminator (H_{s+1} / 2, the same size), so each coarser
  discriminator also sees the finer ones. ``fuse="none"``: independent discriminators (the plainer reading
  of Sec. 1). Every scale gives its own logit map; the losses average over scales.
* Scales: ``num_scales`` = 3 (H, H/2, H/4) by default; the paper gives no number. Real images per scale are
  the target average-pooled (area) by 2**s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from semcolor.networks.discriminators import PatchGANDiscriminator
from semcolor.networks.unet_generator import (
    NormName,
    OutputActivation,
    UNetGenerator,
    crop_padding,
    init_gan_weights,
    make_output_activation,
    pad_to_multiple,
)

__all__ = ["MultiScaleUNetGenerator", "PyramidDiscriminator", "image_pyramid"]


def image_pyramid(x: torch.Tensor, num_scales: int) -> list[torch.Tensor]:
    """``[x, x / 2, x / 4, ...]``: ``x`` average-pooled (area) by ``2**s`` for ``s = 0 .. num_scales - 1``."""
    return [x if s == 0 else F.avg_pool2d(x, 2**s) for s in range(num_scales)]


class MultiScaleUNetGenerator(nn.Module):
    """pix2pix U-Net whose decoder also emits an image at H/2, H/4, ... (Li et al. 2018 as read above).

    Args:
        in_channels, out_channels, depth, base_channels, max_multiplier, norm, dropout, output_activation:
            the :class:`UNetGenerator` (defaults: pix2pix ``unet_256``, 1 -> 3 channels, sigmoid).
        num_scales: images produced, the full-resolution one included (>= 1, <= depth).
        pad_to_stride: :meth:`forward` pads inputs to a multiple of ``2**depth`` and crops back.
        init_std: N(0, std) initialisation of every weight (pix2pix); ``None`` keeps PyTorch's.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 3,
        depth: int = 8,
        base_channels: int = 64,
        max_multiplier: int = 8,
        norm: NormName = "batch",
        dropout: float = 0.5,
        output_activation: OutputActivation = "sigmoid",
        num_scales: int = 3,
        pad_to_stride: bool = True,
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        if not 1 <= num_scales <= depth:
            raise ValueError(f"num_scales must be in 1..depth={depth}, got {num_scales}")
        self.unet = UNetGenerator(
            in_channels, out_channels, depth, base_channels, max_multiplier, norm, dropout, output_activation,
            pad_to_stride=False, init_std=None,
        )
        self.num_scales = num_scales
        self.pad_to_stride = pad_to_stride
        # decoder output d_s (H / 2**s) has channels[s - 1] channels
        self.side_heads = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv2d(self.unet.channels[s - 1], out_channels, 1),
                          make_output_activation(output_activation))
            for s in range(1, num_scales)
        )
        if init_std is not None:
            init_gan_weights(self, init_std)

    @property
    def stride(self) -> int:
        return self.unet.stride

    def forward_pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[y_0 (H), y_1 (H/2), ..., y_{S-1}]`` for an input whose H, W are multiples of :attr:`stride`."""
        feats = self.unet.forward_features(x)
        decoded = feats["decoder"]  # d_k for k = depth-1 .. 1, innermost first
        depth = self.unet.depth
        sides = [head(decoded[depth - 1 - s]) for s, head in enumerate(self.side_heads, start=1)]
        return [feats["output"], *sides]  # type: ignore[list-item]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) -> the full-resolution image (B, out, H, W); any size when ``pad_to_stride``."""
        if not self.pad_to_stride:
            return self.unet.forward_features(x)["output"]  # type: ignore[return-value]
        xp, pads = pad_to_multiple(x, self.stride)
        return crop_padding(self.unet.forward_features(xp)["output"], pads)  # type: ignore[arg-type]


class PyramidDiscriminator(nn.Module):
    """One conditional PatchGAN per scale, ``D_s(y_s | x_s)``, optionally fused coarse-ward (see module doc).

    Args:
        image_channels: channels of each judged image (3).
        condition_channels: channels of the condition (the gray input, 1).
        num_scales: number of scales (images) judged.
        base_channels, n_layers, max_multiplier, norm: each PatchGAN's (64, 3 = 70x70 at full scale, 8, batch).
        fuse: ``"add"`` (finer discriminator's level-1 feature added to the next one's level-0 feature) or
            ``"none"`` (independent discriminators).
        init_std: N(0, std) initialisation; ``None`` keeps PyTorch's default.

    ``forward(images, condition)`` takes the list of images (finest first) and the full-size condition
    (pooled to each scale here) and returns one logit map per scale.
    """

    def __init__(
        self,
        image_channels: int = 3,
        condition_channels: int = 1,
        num_scales: int = 3,
        base_channels: int = 64,
        n_layers: int = 3,
        max_multiplier: int = 8,
        norm: NormName = "batch",
        fuse: Literal["add", "none"] = "add",
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        if fuse not in ("add", "none"):
            raise ValueError(f"fuse must be 'add' or 'none', got {fuse!r}")
        if fuse == "add" and n_layers < 2:
            raise ValueError("fuse='add' needs n_layers >= 2 (the level-1 feature must be downsampled)")
        if num_scales < 1:
            raise ValueError(f"num_scales must be >= 1, got {num_scales}")
        self.image_channels, self.condition_channels = image_channels, condition_channels
        self.num_scales, self.fuse = num_scales, fuse
        self.scales = nn.ModuleList(
            PatchGANDiscriminator(image_channels + condition_channels, base_channels, n_layers, max_multiplier,
                                  norm, init_std)
            for _ in range(num_scales)
        )
        first = self.scales[0]
        self.fusion = nn.ModuleList(
            nn.Conv2d(first.level_width(1), first.level_width(0), 1, bias=False) for _ in range(num_scales - 1)
        ) if fuse == "add" else nn.ModuleList()
        if init_std is not None:
            for m in self.fusion:
                init_gan_weights(m, init_std)

    def forward(self, images: Sequence[torch.Tensor], condition: torch.Tensor) -> list[torch.Tensor]:
        if len(images) != self.num_scales:
            raise ValueError(f"PyramidDiscriminator judges {self.num_scales} images, got {len(images)}")
        conditions = image_pyramid(condition, self.num_scales)
        logits, carried = [], None
        for s, (d, y, c) in enumerate(zip(self.scales, images, conditions)):
            if y.ndim != 4 or y.shape[1] != self.image_channels or y.shape[-2:] != c.shape[-2:]:
                raise ValueError(
                    f"scale {s}: expected an image (B, {self.image_channels}, {c.shape[-2]}, {c.shape[-1]}) "
                    f"(the condition pooled by {2**s}), got {tuple(y.shape)}"
                )
            smallest = 3 * 2**d.n_layers  # a PatchGAN of n layers maps H to H / 2**n - 2 logits
            if min(y.shape[-2:]) < smallest:
                raise ValueError(
                    f"scale {s} image is {y.shape[-2]}x{y.shape[-1]}, smaller than the {smallest} px a PatchGAN of "
                    f"{d.n_layers} layers needs: use fewer scales (num_scales) or discriminator layers (d_layers), "
                    "or larger images"
                )
            h = d.run_levels(torch.cat([c, y], dim=1), 0, 1)
            if carried is not None:
                h = h + self.fusion[s - 1](carried)
            if self.fuse == "add":
                h = d.run_levels(h, 1, 2)
                carried = h
                logits.append(d.run_levels(h, 2))
            else:
                logits.append(d.run_levels(h, 1))
        return logits
