"""Discriminators of the colorization GANs (jsdcgan and its baselines, Wang et al. 2022, Sec. 3.3 and 4.4).

* :class:`PatchGANDiscriminator` -- pix2pix's ``NLayerDiscriminator`` (Isola et al. 2017, appendix
  6.1.2): with ``n_layers = 3`` it is the 70x70 PatchGAN, ``C64-C128-C256-C512`` 4x4 convolutions
  (stride 2, 2, 2, 1; no norm on the first; LeakyReLU 0.2) then a 4x4 convolution to one channel; at
  256x256 it returns a 30x30 map of logits, each seeing a 70x70 input patch.
* :class:`DCGANDiscriminator` -- the plain convolutional discriminator of Nazeri et al. 2018 ("Image
  colorization using generative adversarial networks"; the "DCGAN" baseline and the single-stream
  ablation row of Wang et al. 2022): ``n_layers`` 4x4 stride-2 convolutions doubling the width from 64 up to
  512 (no norm on the first, BatchNorm after the others, LeakyReLU 0.2), then the flattened feature map
  goes through one linear layer to a single logit per image.  Defaults follow the authors' 256x256
  (Places365) configuration: 6 layers, 64-128-256-512-512-512, 4x4x512 before the linear layer.
  (Their TensorFlow code applies the activation before BatchNorm; we use the usual DCGAN order
  conv -> BN -> LeakyReLU.)  Because of the linear layer, the input size is fixed at construction.
* ``arch="resnet18"`` -- a ResNet-18 with one logit per image (timm's ``resnet18``, random weights, its
  first convolution taking the concatenated channels): the discriminator of Wu et al. 2020 (Multi-G,
  "the discriminator uses residual neural network 18", their abstract). Global pooling, so any input size;
  it keeps the ResNet initialisation (Kaiming, no zeroed last BN), not the N(0, 0.02) of the DCGAN-style
  discriminators.
* :class:`ConditionalDiscriminator` -- ``D(y | x_1, ..., x_n)``: the conditions are resized to the size
  of ``y`` and concatenated with it along the channels (``[x_1, ..., x_n, y]``, pix2pix order) before one
  of the backbones above.  JSDCGAN's discriminator (Wang et al. 2022, Eq. 4, ``D(y | x1, x2)``) is
  ``ConditionalDiscriminator(condition_channels=(1, 1), arch="dcgan")`` with ``x1`` the grayscale input
  and ``x2`` the macro stream's input (the average-pooled grayscale, H/f x W/f), which is upsampled
  bilinearly to H x W; Nazeri's and pix2pix's ``D(y | x)`` use ``condition_channels=(1,)``.

All discriminators return logits (no sigmoid): the losses use ``binary_cross_entropy_with_logits``, which
equals the papers' ``log D`` terms with ``D = sigmoid(logit)`` and is numerically stable.
Weights are initialised N(0, 0.02) (pix2pix / DCGAN).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import timm
import torch
import torch.nn.functional as F
from torch import nn

from semcolor.networks.unet_generator import NormName, init_gan_weights, make_norm

__all__ = [
    "ConditionalDiscriminator",
    "DCGANDiscriminator",
    "PatchGANDiscriminator",
    "receptive_field",
]


def receptive_field(convs: Sequence[tuple[int, int]]) -> int:
    """Receptive field (pixels) of one output unit of a chain of ``(kernel, stride)`` convolutions.

    Recurrence from the output back to the input: ``r <- r * stride + (kernel - stride)``, starting at 1.
    For the 70x70 PatchGAN ``[(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)]`` it gives 70.
    """
    r = 1
    for k, s in reversed(list(convs)):
        r = r * s + (k - s)
    return r


def _conv_geometry(model: nn.Module) -> list[tuple[int, int]]:
    return [(m.kernel_size[0], m.stride[0]) for m in model.modules() if isinstance(m, nn.Conv2d)]


class PatchGANDiscriminator(nn.Module):
    """pix2pix PatchGAN (``NLayerDiscriminator``); ``n_layers=3`` is the 70x70 PatchGAN.

    Args:
        in_channels: channels of the (already concatenated) input, e.g. 1 gray + 3 RGB = 4.
        base_channels: width of the first layer (``ndf`` = 64).
        n_layers: number of stride-2 convolutions (3 -> 70x70 receptive field, 30x30 map at 256).
        max_multiplier: width cap ``base * max_multiplier`` (8 -> 512).
        norm: ``"batch"`` (pix2pix default), ``"instance"`` or ``"none"``.
        init_std: N(0, std) initialisation; ``None`` keeps PyTorch's default.

    Output: logits (B, 1, H', W') with ``H' = H / 2**n_layers - 2`` (30 for H = 256, n_layers = 3).
    """

    def __init__(
        self,
        in_channels: int = 4,
        base_channels: int = 64,
        n_layers: int = 3,
        max_multiplier: int = 8,
        norm: NormName = "batch",
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"PatchGANDiscriminator n_layers must be >= 1, got {n_layers}")
        self.in_channels = in_channels
        use_bias = norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        prev = base_channels
        for n in range(1, n_layers + 1):
            width = base_channels * min(2**n, max_multiplier)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(prev, width, 4, stride, 1, bias=use_bias), make_norm(norm, width), nn.LeakyReLU(0.2)]
            prev = width
        layers.append(nn.Conv2d(prev, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        self.n_layers = n_layers
        #: where each level ends in ``self.model``: level 0 = first conv + LeakyReLU, levels 1..n_layers =
        #: conv-norm-LeakyReLU, level n_layers + 1 = the final 1-channel conv (see :meth:`run_levels`)
        self.level_ends = [2 + 3 * n for n in range(n_layers + 1)] + [len(layers)]
        if init_std is not None:
            init_gan_weights(self, init_std)

    @property
    def receptive_field(self) -> int:
        """Input patch size (pixels) seen by one output logit (70 for ``n_layers=3``)."""
        return receptive_field(_conv_geometry(self.model))

    def level_width(self, level: int) -> int:
        """Output channels of ``level`` (0 .. n_layers + 1)."""
        convs = [m for m in self.model[: self.level_ends[level]] if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def run_levels(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Run levels ``start .. stop - 1`` on ``x`` (the input of level ``start``); all of them by default.

        Lets a caller read or alter intermediate features, e.g. the fused multi-scale discriminator of
        :mod:`semcolor.networks.multi_discriminator`. Level ``k < n_layers`` halves the size.
        """
        stop = len(self.level_ends) if stop is None else stop
        begin = 0 if start == 0 else self.level_ends[start - 1]
        return self.model[begin : self.level_ends[stop - 1]](x) if stop > start else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PatchGANDiscriminator expects (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return self.model(x)


def _as_pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


class DCGANDiscriminator(nn.Module):
    """Nazeri et al. (2018) convolutional discriminator: strided 4x4 convs, then a linear layer -> 1 logit.

    Args:
        in_channels: channels of the (already concatenated) input.
        base_channels: width of the first layer (64).
        n_layers: number of stride-2 4x4 convolutions (6 at 256x256 -> 4x4 feature map).
        max_multiplier: width cap (8 -> 512).
        input_size: H (or (H, W)) the discriminator is built for; must be divisible by ``2**n_layers``.
        norm: normalisation after every conv but the first (``"batch"`` as Nazeri / DCGAN).
        init_std: N(0, std) initialisation; ``None`` keeps PyTorch's default.

    Output: logits (B, 1), one per image.
    """

    def __init__(
        self,
        in_channels: int = 4,
        base_channels: int = 64,
        n_layers: int = 6,
        max_multiplier: int = 8,
        input_size: int | Sequence[int] = 256,
        norm: NormName = "batch",
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        h, w = _as_pair(input_size)
        stride = 2**n_layers
        if n_layers < 1 or h % stride or w % stride:
            raise ValueError(
                f"DCGANDiscriminator: input_size {h}x{w} must be divisible by 2**n_layers = {stride} (n_layers >= 1)"
            )
        self.in_channels = in_channels
        self.input_size = (h, w)
        use_bias = norm != "batch"
        layers: list[nn.Module] = []
        prev = in_channels
        for n in range(n_layers):
            width = base_channels * min(2**n, max_multiplier)
            if n == 0:
                layers += [nn.Conv2d(prev, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            else:
                layers += [nn.Conv2d(prev, width, 4, 2, 1, bias=use_bias), make_norm(norm, width), nn.LeakyReLU(0.2)]
            prev = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(prev * (h // stride) * (w // stride), 1)
        if init_std is not None:
            init_gan_weights(self, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(
                f"DCGANDiscriminator built for (B, {self.in_channels}, {self.input_size[0]}, {self.input_size[1]}) "
                f"inputs, got {tuple(x.shape)}"
            )
        return self.classifier(self.features(x).flatten(1))


class ConditionalDiscriminator(nn.Module):
    """``D(y | x_1, ..., x_n)``: conditions resized to ``y``'s size, concatenated, then a backbone.

    Args:
        image_channels: channels of the judged image ``y`` (3 for RGB).
        condition_channels: channels of each condition, in call order; JSDCGAN: ``(1, 1)`` for
            (x1 = gray image, x2 = its average-pooled copy); pix2pix / Nazeri: ``(1,)``.
        arch: ``"dcgan"`` (:class:`DCGANDiscriminator`, one logit per image; the paper's DCGAN
            discriminator), ``"patchgan"`` (:class:`PatchGANDiscriminator`, a logit map) or ``"resnet18"``
            (one logit per image; ``base_channels``, ``n_layers``, ``norm``, ``input_size`` do not apply).
        base_channels, n_layers, max_multiplier, norm, init_std: passed to the backbone; ``n_layers``
            defaults to 6 for "dcgan" and 3 for "patchgan".
        input_size: image size for the "dcgan" backbone (ignored by "patchgan").
        resize_mode: interpolation used to bring a condition to ``y``'s size (``"bilinear"``; conditions
            already at that size are used as they are).
    """

    def __init__(
        self,
        image_channels: int = 3,
        condition_channels: Sequence[int] = (1, 1),
        arch: Literal["dcgan", "patchgan", "resnet18"] = "dcgan",
        base_channels: int = 64,
        n_layers: int | None = None,
        max_multiplier: int = 8,
        input_size: int | Sequence[int] = 256,
        norm: NormName = "batch",
        resize_mode: Literal["bilinear", "nearest", "bicubic"] = "bilinear",
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        self.image_channels = image_channels
        self.condition_channels = tuple(int(c) for c in condition_channels)
        self.resize_mode = resize_mode
        in_channels = image_channels + sum(self.condition_channels)
        if arch == "dcgan":
            self.backbone: nn.Module = DCGANDiscriminator(
                in_channels, base_channels, 6 if n_layers is None else n_layers, max_multiplier, input_size, norm, init_std
            )
        elif arch == "patchgan":
            self.backbone = PatchGANDiscriminator(
                in_channels, base_channels, 3 if n_layers is None else n_layers, max_multiplier, norm, init_std
            )
        elif arch == "resnet18":
            # zero_init_last=False: torchvision's / He et al.'s initialisation (timm zeroes each block's last BN,
            # which leaves every residual branch without gradient at the first steps)
            self.backbone = timm.create_model(
                "resnet18", pretrained=False, in_chans=in_channels, num_classes=1, zero_init_last=False
            )
        else:
            raise ValueError(f"arch must be 'dcgan', 'patchgan' or 'resnet18', got {arch!r}")
        self.arch = arch

    def forward(self, y: torch.Tensor, *conditions: torch.Tensor) -> torch.Tensor:
        """Logits for ``y`` (B, image_channels, H, W) given the conditions (any size, resized to H x W)."""
        if len(conditions) != len(self.condition_channels):
            raise ValueError(f"ConditionalDiscriminator expects {len(self.condition_channels)} conditions, got {len(conditions)}")
        if y.ndim != 4 or y.shape[1] != self.image_channels:
            raise ValueError(f"ConditionalDiscriminator expects y of shape (B, {self.image_channels}, H, W), got {tuple(y.shape)}")
        parts = []
        for i, (c, expected) in enumerate(zip(conditions, self.condition_channels)):
            if c.ndim != 4 or c.shape[1] != expected or c.shape[0] != y.shape[0]:
                raise ValueError(f"condition {i} must be (B={y.shape[0]}, {expected}, h, w), got {tuple(c.shape)}")
            if c.shape[-2:] != y.shape[-2:]:
                kwargs = {} if self.resize_mode == "nearest" else {"align_corners": False}
                c = F.interpolate(c, size=y.shape[-2:], mode=self.resize_mode, **kwargs)
            parts.append(c)
        parts.append(y)
        return self.backbone(torch.cat(parts, dim=1))
