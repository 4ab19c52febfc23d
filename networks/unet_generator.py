"""The pix2pix U-Net generator (Isola et al., CVPR 2017, "Image-to-image translation with conditional
adversarial networks", Sec. 3.2.1 and appendix 6.1.1), with configurable depth, widths and channels.

Used by the pix2pix / U-Net / DCGAN baselines of the jsdcgan comparison (Wang et al. 2022, Tables 1-2: "U-Net",
"PatchGAN", "DCGAN") and as each of the two streams of the joint-stream generator
(:mod:`semcolor.networks.jsdcgan`), which needs the intermediate features (the first encoder feature of the
macro stream, the input of the last layer of the micro stream); :meth:`UNetGenerator.forward_features`
returns them.

Architecture (pix2pix's ``unet_256`` for ``depth=8``, ``base_channels=64``):

* encoder level ``k = 0 .. depth-1``: ``Conv2d(4x4, stride 2, padding 1)`` with ``c_k = base * min(2^k,
  max_multiplier)`` channels (64, 128, 256, 512, 512, 512, 512, 512); level 0 is a bare convolution, the
  levels 1 .. depth-2 are ``LeakyReLU(0.2) -> Conv -> Norm``, the innermost level ``LeakyReLU -> Conv``
  (no norm: it may be 1x1);
* decoder level ``k = depth-1 .. 1``: ``ReLU -> ConvTranspose2d(4x4, stride 2, padding 1) -> Norm
  [-> Dropout(0.5)]``, producing ``c_{k-1}`` channels which are concatenated with the encoder feature
  of level ``k-1`` (skip connection); dropout on the levels whose input and output both have the maximal
  width, except the innermost (the three "8 ngf" blocks of pix2pix at depth 8);
* the outermost ("last") layer: ``ReLU -> ConvTranspose2d(4x4, stride 2) -> output activation`` on the
  concatenation ``[d_1, e_0]`` (``2 * c_0`` channels, at half the input resolution), to full resolution.
  ``extra_channels > 0`` lets a caller concatenate one more tensor there (JSDCGAN's LCFE feature).

Convolutions have no bias when followed by BatchNorm (pix2pix's ``use_bias``); the outermost transposed
convolution has one.  Weights are initialised N(0, 0.02) as in pix2pix / DCGAN (:func:`init_gan_weights`).

Output activation: ``"sigmoid"`` by default, because the harness works on [0, 1] images; pix2pix's
``tanh`` on [-1, 1] data is the same function up to an affine map (``(tanh(z) + 1) / 2 = sigmoid(2z)``).
``"tanh"`` and ``"none"`` (raw features, used for the jsdcgan streams) are available.

Input size: every stride-2 level halves the size, so ``forward_features`` needs H and W divisible by
``stride = 2**depth`` (256 at depth 8) and raises ``ValueError`` otherwise.  ``forward`` (with the default
``pad_to_stride=True``) pads the input by edge replication up to the next multiple, runs the network
and crops the output back, so any size works (pix2pix itself crashes on such sizes).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "NormName",
    "OutputActivation",
    "UNetGenerator",
    "crop_padding",
    "init_gan_weights",
    "make_norm",
    "make_output_activation",
    "pad_to_multiple",
]

NormName = Literal["batch", "instance", "none"]
OutputActivation = Literal["sigmoid", "tanh", "none"]


def make_norm(norm: NormName, channels: int) -> nn.Module:
    """BatchNorm2d / InstanceNorm2d (pix2pix style: no affine, no running stats) / Identity."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'instance' or 'none', got {norm!r}")


def make_output_activation(name: OutputActivation) -> nn.Module:
    """``sigmoid`` (outputs in (0, 1)), ``tanh`` (in (-1, 1)) or ``none`` (identity)."""
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "none":
        return nn.Identity()
    raise ValueError(f"output_activation must be 'sigmoid', 'tanh' or 'none', got {name!r}")


def init_gan_weights(module: nn.Module, std: float = 0.02) -> None:
    """pix2pix / DCGAN initialisation: conv and linear weights N(0, std), biases 0; norm weights N(1, std)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad ``x`` (B, C, H, W) by edge replication so that H and W become multiples of ``multiple``.

    The padding is split between the two sides (the extra pixel, if odd, goes right / bottom).
    Returns the padded tensor and the pads ``(left, right, top, bottom)`` for :func:`crop_padding`.
    Replication rather than reflection because reflection fails when the pad exceeds the image size.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if ph == 0 and pw == 0:
        return x, pads
    return F.pad(x, pads, mode="replicate"), pads


def crop_padding(y: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` on an output of the same spatial size as the padded input."""
    left, right, top, bottom = pads
    h, w = y.shape[-2:]
    return y[..., top : h - bottom, left : w - right]


class UNetGenerator(nn.Module):
    """pix2pix U-Net generator with configurable depth, widths and channels (see the module docstring).

    Args:
        in_channels: input channels (1 for a grayscale image).
        out_channels: output channels (3 for RGB; the stream width when used inside JSDCGAN).
        depth: number of stride-2 levels (pix2pix: 8 for 256x256 inputs, 7 for 128x128); >= 2.
            The input size must be a multiple of ``2**depth`` (or ``pad_to_stride`` pads it).
        base_channels: width of the first level (pix2pix's ``ngf`` = 64).
        max_multiplier: the width grows as ``base * 2**k`` up to ``base * max_multiplier`` (pix2pix: 8).
        norm: ``"batch"`` (pix2pix default), ``"instance"`` or ``"none"``.
        dropout: dropout probability in the decoder blocks of maximal width (pix2pix: 0.5; 0 disables).
        output_activation: ``"sigmoid"`` (default, [0, 1] images), ``"tanh"`` or ``"none"``.
        extra_channels: channels of an optional extra tensor concatenated to the input of the last layer
            (at half the input resolution); 0 = none (plain U-Net).
        pad_to_stride: in :meth:`forward`, pad inputs whose size is not a multiple of ``stride`` and crop
            the output back (True), or raise ``ValueError`` (False).
        init_std: std of the N(0, std) weight initialisation; ``None`` keeps PyTorch's default init.
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
        extra_channels: int = 0,
        pad_to_stride: bool = True,
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"UNetGenerator depth must be >= 2, got {depth}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.depth = depth
        self.extra_channels = extra_channels
        self.pad_to_stride = pad_to_stride
        self.channels: list[int] = [base_channels * min(2**k, max_multiplier) for k in range(depth)]
        c = self.channels
        use_bias = norm != "batch"

        encoder: list[nn.Module] = [nn.Conv2d(in_channels, c[0], 4, 2, 1, bias=use_bias)]
        for k in range(1, depth):
            layers: list[nn.Module] = [nn.LeakyReLU(0.2, inplace=False), nn.Conv2d(c[k - 1], c[k], 4, 2, 1, bias=use_bias)]
            if k < depth - 1:
                layers.append(make_norm(norm, c[k]))
            encoder.append(nn.Sequential(*layers))
        self.encoder = nn.ModuleList(encoder)

        # decoder[k] maps level k back to the resolution of level k-1 (decoder[0] = the last layer).
        decoder: list[nn.Module] = [
            nn.Sequential(
                nn.ReLU(),
                nn.ConvTranspose2d(2 * c[0] + extra_channels, out_channels, 4, 2, 1, bias=True),
                make_output_activation(output_activation),
            )
        ]
        for k in range(1, depth):
            in_ch = c[k] if k == depth - 1 else 2 * c[k]
            layers = [nn.ReLU(), nn.ConvTranspose2d(in_ch, c[k - 1], 4, 2, 1, bias=use_bias), make_norm(norm, c[k - 1])]
            if dropout > 0 and k < depth - 1 and c[k - 1] == c[k] == c[-1]:
                layers.append(nn.Dropout(dropout))
            decoder.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(decoder)

        if init_std is not None:
            init_gan_weights(self, init_std)

    @property
    def stride(self) -> int:
        """Input H and W must be multiples of this (``2**depth``) for :meth:`forward_features`."""
        return 2**self.depth

    def check_size(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is (B, in_channels, H, W) with H, W multiples of ``stride``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNetGenerator expects (B, {self.in_channels}, H, W) input, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(
                f"UNetGenerator of depth {self.depth} needs H and W divisible by {self.stride}, got {h}x{w}; "
                "pad or crop the input (forward() pads when pad_to_stride=True)"
            )

    def forward_features(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> dict[str, object]:
        """Run the network on an input whose size is a multiple of ``stride`` and return its features.

        Args:
            x: (B, in_channels, H, W).
            extra: (B, extra_channels, H/2, W/2), concatenated to the last layer's input; required iff
                ``extra_channels > 0``.

        Returns:
            dict with ``"encoder"``: list of the ``depth`` encoder features ``e_k`` (B, c_k, H/2^(k+1), ...)
            (``e_0`` is the raw output of the first convolution); ``"decoder"``: list of the decoder
            outputs from the innermost outwards, ``d_k`` (B, c_{k-1}, H/2^k, ...) for k = depth-1 .. 1;
            ``"last"``: the last layer's input ``[d_1, e_0(, extra)]`` (B, 2 c_0 + extra_channels, H/2, W/2);
            ``"output"``: (B, out_channels, H, W).
        """
        self.check_size(x)
        if (extra is None) != (self.extra_channels == 0):
            raise ValueError(
                f"UNetGenerator built with extra_channels={self.extra_channels}, "
                f"but extra is {'None' if extra is None else tuple(extra.shape)}"
            )
        skips: list[torch.Tensor] = []
        h = x
        for block in self.encoder:
            h = block(h)
            skips.append(h)
        d = self.decoder[self.depth - 1](skips[-1])
        decoded = [d]
        for k in range(self.depth - 2, 0, -1):
            d = self.decoder[k](torch.cat([d, skips[k]], dim=1))
            decoded.append(d)
        last_parts = [d, skips[0]]
        if extra is not None:
            expected = (x.shape[0], self.extra_channels, *skips[0].shape[-2:])
            if tuple(extra.shape) != expected:
                raise ValueError(f"extra must have shape {expected}, got {tuple(extra.shape)}")
            last_parts.append(extra)
        last = torch.cat(last_parts, dim=1)
        out = self.decoder[0](last)
        return {"encoder": skips, "decoder": decoded, "last": last, "output": out}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H, W); pads/crops when ``pad_to_stride``."""
        if self.extra_channels:
            raise RuntimeError("a UNetGenerator with extra_channels > 0 is run through forward_features(x, extra)")
        if not self.pad_to_stride:
            return self.forward_features(x)["output"]  # type: ignore[return-value]
        xp, pads = pad_to_multiple(x, self.stride)
        out = self.forward_features(xp)["output"]
        return crop_padding(out, pads)  # type: ignore[arg-type]
