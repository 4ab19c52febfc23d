"""Shared convolutional building blocks for the networks of this package.

Everything here is a plain ``nn.Module`` (torch/torchvision only) and is meant to be reused by every
method's network (SECBNet generator, colorization U-Nets, multipath net, ...):

- :class:`ConvBNReLU`      conv -> norm -> activation (torchvision's ``Conv2dNormActivation``).
- :class:`DoubleConv`      two ``ConvBNReLU`` in a row (the U-Net level block, Ronneberger et al. 2015).
- :class:`ResidualBlock`   a ResNet residual block (He et al. 2016), "basic" (post-activation) or
                           "preact" (He et al. 2016b), that builds its own 1x1 projection shortcut when
                           the channel count or stride changes.
- :class:`EncoderStage`    one U-Net encoder group: optional 2x max-pool, then residual blocks or a
                           double conv.
- :class:`DecoderStage`    one U-Net decoder group: 2x upsampling (bilinear / nearest / transposed
                           conv), concatenation with the same-level encoder features, then conv-BN-ReLU.
- :func:`freeze` and :class:`FrozenModule` to use a trained network as a fixed function (eval mode,
  no trainable parameters) whose output still passes gradients back to its *input*.

Shapes follow the PyTorch convention ``(B, C, H, W)``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import Conv2dNormActivation

__all__ = [
    "ConvBNReLU",
    "DoubleConv",
    "ResidualBlock",
    "EncoderStage",
    "DecoderStage",
    "freeze",
    "FrozenModule",
    "ResidualKind",
    "UpsampleKind",
]

ResidualKind = Literal["basic", "preact"]
UpsampleKind = Literal["bilinear", "nearest", "transpose"]


class ConvBNReLU(Conv2dNormActivation):
    """``Conv2d(k x k, 'same' padding) -> BatchNorm2d -> ReLU``.

    A named thin wrapper of :class:`torchvision.ops.Conv2dNormActivation` (the conv has no bias because
    BN follows it). ``norm_layer`` / ``activation_layer`` may be ``None`` to drop that part.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size; padding keeps the spatial size for stride 1.
        stride: convolution stride.
        dilation: convolution dilation (padding is adjusted to keep the size).
        norm_layer: normalisation layer constructor, default ``nn.BatchNorm2d``.
        activation_layer: activation constructor, default ``nn.ReLU`` (in-place).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        norm_layer: type[nn.Module] | None = nn.BatchNorm2d,
        activation_layer: type[nn.Module] | None = nn.ReLU,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size=kernel_size,
            stride=stride,
            dilation=dilation,
            norm_layer=norm_layer,
            activation_layer=activation_layer,
        )


class DoubleConv(nn.Sequential):
    """Two ``ConvBNReLU`` (3x3) in a row: ``in -> mid -> out`` (the U-Net level block).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        mid_channels: channels between the two convs (default ``out_channels``).
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        mid = out_channels if mid_channels is None else mid_channels
        super().__init__(ConvBNReLU(in_channels, mid), ConvBNReLU(mid, out_channels))


class ResidualBlock(nn.Module):
    """A ResNet residual block with two 3x3 convolutions.

    ``kind="basic"`` is the original (post-activation) block of He et al., "Deep Residual Learning for
    Image Recognition", CVPR 2016: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``.
    ``kind="preact"`` is the pre-activation block of He et al., "Identity Mappings in Deep Residual
    Networks", ECCV 2016: ``conv(relu(bn(conv(relu(bn(x)))))) + shortcut(x)``.

    The shortcut is the identity when ``in_channels == out_channels`` and ``stride == 1``; otherwise a
    1x1 convolution with the block's stride (followed by BN for "basic", as torchvision's ResNets do).
    Written by hand rather than reusing ``torchvision.models.resnet.BasicBlock`` because that class
    needs a caller-built ``downsample`` module and has no pre-activation variant.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first conv (and of the projection shortcut).
        kind: ``"basic"`` (default) or ``"preact"``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kind: ResidualKind = "basic") -> None:
        super().__init__()
        if kind not in ("basic", "preact"):
            raise ValueError(f"ResidualBlock kind must be 'basic' or 'preact', got {kind!r}")
        self.kind = kind
        needs_projection = in_channels != out_channels or stride != 1
        if kind == "basic":
            self.body = nn.Sequential(
                ConvBNReLU(in_channels, out_channels, stride=stride),
                ConvBNReLU(out_channels, out_channels, activation_layer=None),
            )
            self.shortcut: nn.Module = (
                ConvBNReLU(in_channels, out_channels, kernel_size=1, stride=stride, activation_layer=None)
                if needs_projection
                else nn.Identity()
            )
            self.out_act: nn.Module = nn.ReLU(inplace=True)
        else:
            self.body = nn.Sequential(
                nn.BatchNorm2d(in_channels),
                nn.ReLU(inplace=False),  # not in-place: the shortcut may read the same tensor
                nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            )
            self.shortcut = (
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False) if needs_projection else nn.Identity()
            )
            self.out_act = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_act(self.body(x) + self.shortcut(x))


def residual_stack(in_channels: int, out_channels: int, num_blocks: int, kind: ResidualKind = "basic") -> nn.Sequential:
    """``num_blocks`` residual blocks, the first mapping ``in -> out`` channels, the rest ``out -> out``."""
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
    return nn.Sequential(
        *[ResidualBlock(in_channels if i == 0 else out_channels, out_channels, kind=kind) for i in range(num_blocks)]
    )


class EncoderStage(nn.Module):
    """One U-Net encoder group: (optional) 2x2 max-pool, then ``num_blocks`` blocks ``in -> out``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        num_blocks: number of residual blocks (ignored for ``block="double_conv"``).
        downsample: max-pool by 2 before the blocks (a plain ``MaxPool2d(2)``, which floors odd sizes).
        block: ``"residual"`` (:class:`ResidualBlock` stack) or ``"double_conv"`` (:class:`DoubleConv`).
        residual_kind: kind of residual block, see :class:`ResidualBlock`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_blocks: int = 1,
        downsample: bool = True,
        block: Literal["residual", "double_conv"] = "residual",
        residual_kind: ResidualKind = "basic",
    ) -> None:
        super().__init__()
        self.pool: nn.Module = nn.MaxPool2d(2) if downsample else nn.Identity()
        if block == "residual":
            self.blocks: nn.Module = residual_stack(in_channels, out_channels, num_blocks, residual_kind)
        elif block == "double_conv":
            self.blocks = DoubleConv(in_channels, out_channels)
        else:
            raise ValueError(f"EncoderStage block must be 'residual' or 'double_conv', got {block!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.pool(x))


class DecoderStage(nn.Module):
    """One U-Net decoder group: upsample x2, concatenate the skip features, ``num_convs`` ConvBNReLU.

    The upsampled tensor is resized to the skip's exact spatial size, so inputs whose sides are not
    multiples of the total downsampling factor still work (max-pool floors, the decoder follows the
    skips).

    Args:
        in_channels: channels of the coarser (decoder) input.
        skip_channels: channels of the same-level encoder features (0: no skip, plain upsampling).
        out_channels: output channels.
        upsample: ``"bilinear"`` / ``"nearest"`` (parameter-free interpolation; the convs after the
            concatenation reduce channels) or ``"transpose"`` (a 2x2 stride-2 transposed conv that also
            halves the channels, as in the original U-Net's "up-convolution").
        num_convs: number of 3x3 ConvBNReLU after the concatenation (U-Net uses 2).
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        upsample: UpsampleKind = "bilinear",
        num_convs: int = 2,
    ) -> None:
        super().__init__()
        if upsample not in ("bilinear", "nearest", "transpose"):
            raise ValueError(f"upsample must be 'bilinear', 'nearest' or 'transpose', got {upsample!r}")
        if num_convs < 1:
            raise ValueError(f"num_convs must be >= 1, got {num_convs}")
        self.upsample_mode = upsample
        if upsample == "transpose":
            up_channels = max(in_channels // 2, 1)
            self.up: nn.Module | None = nn.ConvTranspose2d(in_channels, up_channels, kernel_size=2, stride=2)
        else:
            up_channels = in_channels
            self.up = None
        convs: list[nn.Module] = [ConvBNReLU(up_channels + skip_channels, out_channels)]
        convs += [ConvBNReLU(out_channels, out_channels) for _ in range(num_convs - 1)]
        self.convs = nn.Sequential(*convs)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        size = skip.shape[-2:] if skip is not None else (x.shape[-2] * 2, x.shape[-1] * 2)
        if self.up is not None:
            x = self.up(x)
            if x.shape[-2:] != size:
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        elif self.upsample_mode == "bilinear":
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.convs(x)


def freeze(module: nn.Module) -> nn.Module:
    """Make ``module`` a fixed function: eval mode and ``requires_grad_(False)`` on all parameters.

    Gradients still flow *through* the module to its input (nothing here uses ``torch.no_grad``), which
    is what a loss computed by a frozen network on a generated image needs (e.g. SECBNet's segmentation
    style loss, Sec. III-C). Note a later ``.train()`` call on a parent switches it back to train mode;
    wrap it in :class:`FrozenModule` to prevent that. Returns the same module.
    """
    module.eval()
    module.requires_grad_(False)
    return module


class FrozenModule(nn.Module):
    """Wrapper that keeps a frozen network frozen inside a trainable parent.

    The wrapped network is frozen with :func:`freeze` and stays in eval mode (BN running statistics
    and dropout fixed) even when ``.train()`` is called on a parent module. Its parameters have
    ``requires_grad=False`` but the forward pass records the graph, so gradients reach the *input*.
    The wrapped network is ``self.module`` (state-dict keys get a ``module.`` prefix).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = freeze(module)

    def train(self, mode: bool = True) -> FrozenModule:
        # Record the requested mode on the wrapper itself, but never let it reach the wrapped module.
        self.training = mode
        self.module.eval()
        return self

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
