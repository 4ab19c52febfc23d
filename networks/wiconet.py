"""WiCoNet, the wide-context transformer segmentation network (SECBNet's segmentation module).

Ding, Lin, Li, Bruzzone, Bai, "Looking outside the window: wide-context transformer for the semantic
segmentation of high-resolution remote sensing images", IEEE TGRS 2022. SECBNet (Chen et al. 2024, Sec. III-B)
trains it on GID and then uses it, frozen, to turn tiles into segmentation maps.

Written by us from the architecture facts (see /work/shared/design/METHODS.md, "secbnet"):

- local branch: ResNet-50 (torchvision) whose layer3/layer4 keep stride 8 (output 1/8 of the local
  window, 2048 channels), then a ``1x1 conv 2048 -> 512 + BN + ReLU`` head;
- context branch: the context window, downscaled ``scale`` x (4), through four plain blocks
  (two ``conv3x3-BN-ReLU`` each) of 64/128/256/512 channels, a 3x3/stride-2 max-pool before blocks 2-4
  (output 1/8 of the *downscaled* context window);
- a ``depth``-layer (4) cross-attention transformer: D = 512, 4 heads, MLP 1024 (GELU), pre-LN; queries
  are the local tokens, keys/values the context tokens; both token sets get a 1x1-conv embedding and a
  *learned* positional embedding, so the two input sizes are fixed at construction;
- main classifier on the transformer output and auxiliary classifier on the context features, each
  ``1x1 conv 512 -> 64, BN, ReLU, 1x1 conv 64 -> classes``; the main logits are bilinearly upsampled
  to the local window, the auxiliary ones to the downscaled context window.

GID setting of the paper's code: local window 256, context window 768 centred on it (so the downscaled
context input is 192 x 192), 4 bands (NIR-R-G-B), 16 classes + 1 ignored output index. With 4 bands
our implementation has 39,077,408 parameters at 16 outputs (39,077,538 at 17): ResNet-50 trunk
23.51 M, head 1.05 M, context branch 4.69 M, transformer 9.76 M (of which 0.82 M positional
embeddings), classifiers 2 x 34 k - the paper's "about 39 M".

Deliberate differences from the authors' code (same parameter count): the head's BatchNorm uses
PyTorch's default momentum (the code passes 0.95, which in PyTorch's convention would make the running
statistics track almost only the last batch); with ``pretrained=True`` and more than 3 bands the
first conv is initialised by timm's ``adapt_input_conv`` (the code leaves the RGB filters random).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from semcolor.networks.blocks import ConvBNReLU, DoubleConv

__all__ = ["WiCoNet", "WiCoNetOutput"]

ContextFromLocal = Literal["symmetric_pad", "resize"]


class WiCoNetOutput(NamedTuple):
    """What :meth:`WiCoNet.forward` returns.

    Attributes:
        logits: ``(B, num_classes, local_size, local_size)`` main logits for the local window.
        aux: ``(B, num_classes, context_size // scale, context_size // scale)`` auxiliary logits for the
            downscaled context window, computed only in training mode (``None`` in eval mode). The
            paper's code trains them against the context-window labels downscaled by ``scale`` (nearest)
            with weight ``(1 - t)^2`` (t = training progress in [0, 1]).
    """

    logits: torch.Tensor
    aux: torch.Tensor | None


def _ceil_halvings(n: int, times: int) -> int:
    """Side length after ``times`` stride-2 ops with 'same'-style padding (k3/p1, k7/p3): ceil(n / 2)."""
    for _ in range(times):
        n = (n + 1) // 2
    return n


def _symmetric_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Mirror padding that repeats the edge pixel (numpy's ``'symmetric'``; torch's ``'reflect'`` does not).

    Hand-written because ``torch.nn.functional.pad`` has no edge-including mirror mode; the WiCoNet code
    pads its context images this way. Pads larger than the tensor are done in several mirror steps.
    """

    def pad_dim(t: torch.Tensor, before: int, after: int, dim: int) -> torch.Tensor:
        while before > 0 or after > 0:
            n = t.shape[dim]
            b, a = min(before, n), min(after, n)
            parts = []
            if b:
                parts.append(t.narrow(dim, 0, b).flip(dim))
            parts.append(t)
            if a:
                parts.append(t.narrow(dim, n - a, a).flip(dim))
            t = torch.cat(parts, dim=dim)
            before, after = before - b, after - a
        return t

    return pad_dim(pad_dim(x, top, bottom, -2), left, right, -1)


class _LocalBranch(nn.Module):
    """ResNet-50 trunk (no avg-pool/fc) with output stride 8.

    ``dilated=False`` (default) does what the WiCoNet code does: the stride of layer3/layer4's first
    block (its 3x3 conv and its downsample 1x1 conv) is set to 1 *without* dilation.
    ``dilated=True`` uses torchvision's ``replace_stride_with_dilation=[False, True, True]`` instead
    (DeepLab-style dilation 2/4). Both have exactly the same parameters.
    """

    def __init__(self, in_channels: int, pretrained: bool, dilated: bool) -> None:
        super().__init__()
        weights = ResNet50_Weights.IMAGENET1K_V1 if pretrained else None
        net = resnet50(weights=weights, replace_stride_with_dilation=[False, True, True] if dilated else None)
        if in_channels != 3:
            conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
            if pretrained:
                # timm's helper repeats the RGB filters over the new bands and rescales them.
                from timm.models import adapt_input_conv

                conv1.weight.data.copy_(adapt_input_conv(in_channels, net.conv1.weight.data))
            net.conv1 = conv1
        if not dilated:
            for layer in (net.layer3, net.layer4):
                first = layer[0]
                first.conv2.stride = (1, 1)
                first.downsample[0].stride = (1, 1)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # 1/4, 64
        x = self.layer1(x)  # 1/4, 256
        x = self.layer2(x)  # 1/8, 512
        x = self.layer3(x)  # 1/8, 1024
        return self.layer4(x)  # 1/8, 2048


class _ContextBranch(nn.Sequential):
    """Four plain blocks (two conv3x3-BN-ReLU each), 64/128/256/512 channels; 3x3/2 max-pool before 2-4."""

    def __init__(self, in_channels: int, widths: Sequence[int] = (64, 128, 256, 512)) -> None:
        layers: list[nn.Module] = []
        prev = in_channels
        for i, w in enumerate(widths):
            if i > 0:
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
            layers.append(DoubleConv(prev, w))
            prev = w
        super().__init__(*layers)


class _TokenEmbedding(nn.Module):
    """1x1-conv embedding of a feature map into ``num_tokens`` tokens plus a learned positional embedding."""

    def __init__(self, in_channels: int, dim: int, side: int, dropout: float) -> None:
        super().__init__()
        self.side = side
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=1)
        self.pos = nn.Parameter(torch.zeros(1, side * side, dim))  # zero start, as in WiCoNet's code
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.side, self.side):
            raise ValueError(
                f"WiCoNet token embedding expects a {self.side}x{self.side} feature map (the positional "
                f"embedding is learned for that size), got {tuple(x.shape[-2:])}"
            )
        return self.drop(self.proj(x).flatten(2).transpose(1, 2) + self.pos)


class _CrossAttentionBlock(nn.Module):
    """Pre-LN cross-attention transformer block: local tokens (queries) attend to context tokens.

    ``q = q + Attn(LN_q(q), LN_c(c), LN_c(c)); q = q + MLP(LN_f(q))`` with a GELU MLP. Each block has
    its own LayerNorm for the context tokens (as in the WiCoNet code); there is no self-attention.
    ``nn.MultiheadAttention`` provides the (scaled dot-product) multi-head attention.
    """

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim, eps=1e-6)
        self.norm_kv = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_ffn = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim), nn.Dropout(dropout)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        kv = self.norm_kv(c)
        q = q + self.drop(self.attn(self.norm_q(q), kv, kv, need_weights=False)[0])
        return q + self.mlp(self.norm_ffn(q))


class _CrossTransformer(nn.Module):
    """Token embeddings of both branches, ``depth`` cross-attention blocks and a final LayerNorm."""

    def __init__(
        self, in_local: int, in_context: int, side_local: int, side_context: int, dim: int, depth: int,
        heads: int, mlp_dim: int, dropout: float,
    ) -> None:
        super().__init__()
        self.embed_local = _TokenEmbedding(in_local, dim, side_local, dropout)
        self.embed_context = _TokenEmbedding(in_context, dim, side_context, dropout)
        self.blocks = nn.ModuleList(_CrossAttentionBlock(dim, heads, mlp_dim, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, local: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, _, h, w = local.shape
        q = self.embed_local(local)
        c = self.embed_context(context)
        for block in self.blocks:
            q = block(q, c)
        return self.norm(q).transpose(1, 2).reshape(b, -1, h, w)


def _classifier(in_channels: int, num_classes: int, hidden: int = 64) -> nn.Sequential:
    """``1x1 conv in -> hidden, BN, ReLU, 1x1 conv hidden -> classes`` (both convs with bias, as in the code)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True), nn.Conv2d(hidden, num_classes, 1)
    )


class WiCoNet(nn.Module):
    """Wide-context network: ResNet-50 local branch + conv context branch + cross-attention transformer.

    Args:
        in_channels: input bands (3 for RGB, 4 for GID's NIR-R-G-B). The same bands feed both branches.
        num_classes: output channels of both classifiers. SECBNet's setting is 16 (index 0 =
            "unrecognised", ignored by the loss); the WiCoNet code for GID uses 17 (16 + index 0 ignored).
        local_size: side of the (square) local window in pixels (256 for GID). Fixed: the local
            positional embedding has ``(local_size / 8)^2`` tokens.
        context_size: side of the context window centred on the local one, at full resolution (768 =
            3 x 256 for GID). The context branch sees it downscaled ``scale`` times.
        scale: downscaling factor of the context window (4).
        pretrained: start the ResNet-50 from torchvision's ImageNet weights (IMAGENET1K_V1, as the
            WiCoNet code does); extra bands get timm's ``adapt_input_conv`` filters. Default ``False``
            (no download; SECBNet loads a GID-trained checkpoint anyway).
        dim, depth, heads, mlp_dim, dropout: transformer width (512), layers (4), heads (4), MLP
            hidden size (1024), dropout (0).
        local_dilation: ``False`` = the WiCoNet code's stride-1 layer3/4 without dilation;
            ``True`` = torchvision's dilated variant. Same parameters either way.
        context_from_local: how to make the context input when ``forward`` gets none (SECBNet only has
            the 256x256 tile, no surroundings):
            ``"symmetric_pad"`` (default): downscale the tile ``scale`` x (area) and mirror-pad it
            (edge-including, like the WiCoNet code pads scene borders) to the context input size, so the
            tile sits at the centre at the same scale and position as during training - the geometry the
            positional embeddings learned; only the surroundings are made up, as for windows at a scene
            border in training.
            ``"resize"``: resize the tile itself to the context input size (the context then shows the
            tile only, at a scale that does not match training).
        input_mean, input_std: optional per-band normalisation applied inside ``forward`` to both
            inputs, ``(x - mean) / std`` (e.g. the GID statistics scaled to [0, 1] data). ``None``: inputs
            are used as given.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 16,
        local_size: int = 256,
        context_size: int = 768,
        scale: int = 4,
        pretrained: bool = False,
        dim: int = 512,
        depth: int = 4,
        heads: int = 4,
        mlp_dim: int = 1024,
        dropout: float = 0.0,
        local_dilation: bool = False,
        context_from_local: ContextFromLocal = "symmetric_pad",
        input_mean: Sequence[float] | None = None,
        input_std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if context_size < local_size:
            raise ValueError(f"context_size ({context_size}) must be >= local_size ({local_size})")
        if context_size % scale or local_size % scale:
            raise ValueError(f"context_size ({context_size}) and local_size ({local_size}) must be multiples of scale ({scale})")
        if context_from_local not in ("symmetric_pad", "resize"):
            raise ValueError(f"context_from_local must be 'symmetric_pad' or 'resize', got {context_from_local!r}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.local_size = local_size
        self.context_size = context_size
        self.scale = scale
        self.context_input_size = context_size // scale
        self.context_from_local = context_from_local

        self.local_branch = _LocalBranch(in_channels, pretrained, local_dilation)
        self.head = ConvBNReLU(2048, dim, kernel_size=1)
        self.context_branch = _ContextBranch(in_channels, (64, 128, 256, dim))
        self.transformer = _CrossTransformer(
            dim, dim, _ceil_halvings(local_size, 3), _ceil_halvings(self.context_input_size, 3), dim, depth, heads,
            mlp_dim, dropout,
        )
        self.classifier = _classifier(dim, num_classes)
        self.classifier_aux = _classifier(dim, num_classes)
        for m in (*self.head.modules(), *self.classifier.modules(), *self.classifier_aux.modules()):
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

        if (input_mean is None) != (input_std is None):
            raise ValueError("give both input_mean and input_std, or neither")
        if input_mean is not None:
            if len(input_mean) != in_channels or len(input_std) != in_channels:
                raise ValueError(f"input_mean/input_std need {in_channels} values (one per band)")
            self.register_buffer("input_mean", torch.tensor(input_mean, dtype=torch.float32).view(1, -1, 1, 1))
            self.register_buffer("input_std", torch.tensor(input_std, dtype=torch.float32).view(1, -1, 1, 1))
        else:
            self.input_mean = None
            self.input_std = None

    def param_count(self, trainable_only: bool = False) -> int:
        """Number of parameters (all, or only those with ``requires_grad``); about 39 M at the GID setting."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_mean is None:
            return x
        return (x - self.input_mean) / self.input_std

    def context_from(self, local: torch.Tensor) -> torch.Tensor:
        """Build the (downscaled) context input from the local window alone; see ``context_from_local``."""
        n = self.context_input_size
        if self.context_from_local == "resize":
            return F.interpolate(local, size=(n, n), mode="bilinear", align_corners=False, antialias=True)
        small = F.interpolate(local, size=(self.local_size // self.scale,) * 2, mode="area")
        pad = n - small.shape[-1]
        before, after = (pad + 1) // 2, pad // 2  # the WiCoNet code puts the odd pixel first
        return _symmetric_pad(small, before, after, before, after)

    def forward(self, local: torch.Tensor, context: torch.Tensor | None = None) -> WiCoNetOutput:
        """Segment the local window.

        Args:
            local: ``(B, in_channels, local_size, local_size)`` local window.
            context: the context window centred on it, either at full resolution
                ``(B, in_channels, context_size, context_size)`` (downscaled here by area interpolation) or
                already downscaled ``(B, in_channels, context_size/scale, context_size/scale)``; ``None``
                builds it from ``local`` (see ``context_from_local``).

        Returns:
            :class:`WiCoNetOutput` ``(logits, aux)``; ``aux`` is ``None`` in eval mode.
        """
        if local.ndim != 4 or local.shape[1] != self.in_channels or local.shape[-2:] != (self.local_size, self.local_size):
            raise ValueError(
                f"WiCoNet expects a local window of shape (B, {self.in_channels}, {self.local_size}, {self.local_size}), "
                f"got {tuple(local.shape)}"
            )
        local = self._normalise(local)
        n = self.context_input_size
        if context is None:
            context = self.context_from(local)
        else:
            if context.ndim != 4 or context.shape[1] != self.in_channels:
                raise ValueError(f"WiCoNet context must be (B, {self.in_channels}, H, W), got {tuple(context.shape)}")
            context = self._normalise(context)
            if context.shape[-2:] == (self.context_size, self.context_size) and self.scale != 1:
                context = F.interpolate(context, size=(n, n), mode="area")
            elif context.shape[-2:] != (n, n):
                raise ValueError(
                    f"WiCoNet context must be {self.context_size}x{self.context_size} (full resolution) or "
                    f"{n}x{n} (downscaled {self.scale}x), got {tuple(context.shape[-2:])}"
                )

        context_feat = self.context_branch(context)  # (B, dim, n/8, n/8)
        local_feat = self.head(self.local_branch(local))  # (B, dim, local/8, local/8)
        fused = self.transformer(local_feat, context_feat)
        logits = F.interpolate(self.classifier(fused), size=local.shape[-2:], mode="bilinear", align_corners=False)
        aux = None
        if self.training:
            aux = F.interpolate(self.classifier_aux(context_feat), size=(n, n), mode="bilinear", align_corners=False)
        return WiCoNetOutput(logits, aux)
