"""Joint-stream generator of JSDCGAN (Wang et al., MMAsia 2022, Wang et al. 2022, Sec. 3, Fig. 1-2, Eq. 1-2).

Data flow (``f`` = ``macro_factor``, ``D`` = ``depth``, ``c0`` = ``base_channels``, ``S`` = ``stream_channels``)::

    x1 (B,1,H,W) ──────────────────────────────► micro U-Net (depth D) ─────────────► X_i (B,S,H,W)
     │                                              ▲ concatenated to the input of its last layer
     │ avg_pool(f)                                  │ (B,c0,H/2,W/2) = upsample_f(F_o)
     ▼                                              │
    x2 (B,1,H/f,W/f) ─► macro U-Net (depth D_a) ─► F_i = first conv feature (B,c0,H/2f,W/2f) ─► LCFE ─► F_o
                                 └──────────────────► output (B,S,H/f,W/f) ─► upsample_f ─► X_a (B,S,H,W)
    X = GSM(X_i, X_a) = (1 + G_i) X_i + (1 - G_i) G_a X_a   (or concat [X_i, X_a])
    y = sigmoid(conv1x1(relu(X)))  (B,3,H,W) in (0, 1)

Both streams are pix2pix U-Nets (:class:`semcolor.networks.unet_generator.UNetGenerator`) with raw (``"none"``)
outputs of ``S`` channels ("the input of the GSM module is the supplemented micro stream output feature
and the upsampled macro stream output feature", Sec. 3.2); the fused feature becomes RGB through a
1x1 convolution.

Choices where the paper is silent (all constructor arguments):

* ``macro_factor = 2`` (average-pooling kernel and stride); ``macro_depth = depth - log2(f)`` so that both
  bottlenecks have the same size (1x1 at 256x256 with depth 8 / 7); ``depth = 8`` (pix2pix ``unet_256``).
* LCFE (Eq. 1), :class:`LCFE`: "position" affinity by default, ``d_k = c0 // 8``; softmax (the paper's
  "sigma represents softmax") for the correlation, sigmoid (CBAM) for the spatial attention.
* "The micro stream last layer feature" is the input of the micro U-Net's last (outermost) layer, at
  H/2 x W/2; ``F_o`` is upsampled bilinearly by ``f`` to that size and concatenated there.
* GSM (Eq. 2), :class:`GatedSelection`: one gate per pixel and stream, from a 1x1 convolution on
  ``[X_i, X_a]`` (2 S -> 2 logits) and a softmax over the two streams, so ``G_i + G_a = 1``.
* Upsampling of the macro output: bilinear to H x W (``align_corners=False``).
* Output activation: sigmoid (the harness works on [0, 1] images; equivalent to pix2pix's tanh up to an
  affine map); ``"tanh"`` / ``"none"`` available.
* Input size: ``forward_features`` needs H, W multiples of :attr:`JointStreamGenerator.stride`
  (``lcm(2**depth, f * 2**macro_depth)``, 256 by default); ``forward`` pads by edge replication and
  crops back when ``pad_to_stride`` (default), so any size works.

Ablations (Wang et al. 2022, Tables 3-4; :data:`ABLATIONS`, :meth:`JointStreamGenerator.from_ablation`):

============================  ============  ==============  =====  ========
paper row                     joint_stream  macro_shortcut  lcfe   fusion
============================  ============  ==============  =====  ========
Single stream (DCGAN [22])    False         False           False  (concat)
Joint stream                  True          False           False  concat
J-S + Concat (w/o LCFE)       True          True            False  concat
J-S + LCFE                    True          True            True   concat
J-S + LCFE + GSM (ours)       True          True            True   gsm
============================  ============  ==============  =====  ========

"Concat (w/o LCFE)" is "directly transport the first layer feature from the macro stream to the micro
stream without executing the LCFE module" (Fig. 4 caption), i.e. ``macro_shortcut`` with ``F_o = F_i``.
The single-stream generator is exactly a plain :class:`UNetGenerator` (1 -> 3 channels).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from semcolor.networks.attention import SpatialAttention
from semcolor.networks.unet_generator import (
    NormName,
    OutputActivation,
    UNetGenerator,
    crop_padding,
    init_gan_weights,
    make_output_activation,
    pad_to_multiple,
)

__all__ = ["ABLATIONS", "GatedSelection", "JointStreamGenerator", "LCFE"]


class LCFE(nn.Module):
    r"""Low-level Correlation Feature Extraction (Wang et al. 2022, Sec. 3.1, Fig. 2, Eq. 1).

    .. math::
        F_c = \mathrm{conv}_{1\times1}(F_i) \times [\mathrm{conv}'_{1\times1}(F_i)]^T,\quad
        F_s = F_i \cdot \mathrm{sigmoid}(\mathrm{conv}([\mathrm{avg}_c(F_i); \max_c(F_i)])),\quad
        F_o = F_i + \sigma(F_c / \sqrt{d_k}) \times F_s

    Shapes, with ``F_i`` of shape (B, C, H, W) and ``N = H * W``:

    * ``affinity="position"`` (default): the 1x1 convolutions map C -> ``d_k`` channels; each is read as
      an (N, d_k) matrix (a row per position), so ``F_c`` is (N, N), the affinity between every pair of
      positions ("global dependencies between elements"), scaled by ``1/sqrt(d_k)`` as in scaled
      dot-product attention; ``F_s`` is read as (N, C), and ``sigma(F_c / sqrt(d_k)) x F_s`` is (N, C),
      reshaped back to (B, C, H, W).  ``d_k = key_channels`` (default ``max(1, C // 8)``, SAGAN / DANet).
    * ``affinity="channel"``: the convolutions keep C channels, read as (C, N) matrices, so ``F_c`` is a
      (C, C) channel affinity and the product with ``F_s`` (C, N) is (C, N); the dot products then run
      over the N positions, so ``d_k = N``.  Cheaper for large feature maps.

    ``sigma`` is a softmax over the last axis of ``F_c`` ("sigma represents softmax operation", below
    Eq. 1) -- computed with :func:`torch.nn.functional.scaled_dot_product_attention`, which does not
    materialise the (N, N) matrix on GPU.  The prose of Sec. 3.1 says "Sigmoid" instead;
    ``correlation_activation="sigmoid"`` follows the prose (an element-wise sigmoid, no normalisation, so
    the sum grows with N).  ``F_s`` is CBAM's spatial attention (:class:`SpatialAttention`, ref. [30]).

    Args:
        channels: C, channels of ``F_i`` (the macro stream's first feature, ``base_channels``).
        key_channels: d_k for the "position" affinity; must be None or C for "channel".
        affinity: ``"position"`` or ``"channel"`` (see above).
        correlation_activation: ``"softmax"`` (Eq. 1) or ``"sigmoid"`` (prose).
        spatial_kernel: kernel size of the CBAM spatial attention convolution (7).
        spatial_norm: BatchNorm in the spatial attention (CBAM reference code); default False.
    """

    def __init__(
        self,
        channels: int,
        key_channels: int | None = None,
        affinity: Literal["position", "channel"] = "position",
        correlation_activation: Literal["softmax", "sigmoid"] = "softmax",
        spatial_kernel: int = 7,
        spatial_norm: bool = False,
    ) -> None:
        super().__init__()
        if affinity == "position":
            dk = max(1, channels // 8) if key_channels is None else key_channels
        elif affinity == "channel":
            if key_channels not in (None, channels):
                raise ValueError(f"LCFE affinity='channel' needs key_channels = channels ({channels}), got {key_channels}")
            dk = channels
        else:
            raise ValueError(f"LCFE affinity must be 'position' or 'channel', got {affinity!r}")
        if correlation_activation not in ("softmax", "sigmoid"):
            raise ValueError(f"LCFE correlation_activation must be 'softmax' or 'sigmoid', got {correlation_activation!r}")
        self.channels = channels
        self.key_channels = dk
        self.affinity = affinity
        self.correlation_activation = correlation_activation
        self.query = nn.Conv2d(channels, dk, 1)  # conv_1x1
        self.key = nn.Conv2d(channels, dk, 1)  # conv'_1x1
        self.spatial = SpatialAttention(spatial_kernel, norm=spatial_norm)

    def forward(self, f_i: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> F_o (B, C, H, W)."""
        if f_i.ndim != 4 or f_i.shape[1] != self.channels:
            raise ValueError(f"LCFE expects (B, {self.channels}, H, W), got {tuple(f_i.shape)}")
        b, c, h, w = f_i.shape
        q = self.query(f_i).flatten(2)  # (B, d_k, N)
        k = self.key(f_i).flatten(2)  # (B, d_k, N)
        f_s = self.spatial(f_i).flatten(2)  # (B, C, N)
        if self.affinity == "position":
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), f_s.transpose(1, 2)  # (B,N,d_k), (B,N,d_k), (B,N,C)
        else:
            v = f_s  # q, k, v: (B, C, N)
        if self.correlation_activation == "softmax":
            out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(q.shape[-1])) v
        else:
            out = torch.sigmoid(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])) @ v
        if self.affinity == "position":
            out = out.transpose(1, 2)
        return f_i + out.reshape(b, c, h, w)


class GatedSelection(nn.Module):
    """Gated Selection Module (Wang et al. 2022, Sec. 3.2, Eq. 2): ``X = (1 + G_i) X_i + (1 - G_i) G_a X_a``.

    The paper says only that ``G_i`` and ``G_a`` are "a gated selection for X_i and X_a using the
    softmax function", estimating "the usefulness of each feature vector pixel-wise".  Chosen here: a
    1x1 convolution on the concatenation ``[X_i, X_a]`` (2 C -> 2 logits per pixel), softmax over the two
    streams, so ``G_i, G_a`` are (B, 1, H, W), broadcast over channels, with ``G_i + G_a = 1``.
    Products are element-wise.

    Args:
        channels: C, channels of each of ``X_i`` and ``X_a``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.gate = nn.Conv2d(2 * channels, 2, 1)

    def gates(
        self, x_i: torch.Tensor, x_a: torch.Tensor, gate_logits: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(G_i, G_a)``, each (B, 1, H, W), from ``gate_logits`` (B, 2, H, W) or the 1x1 convolution."""
        if gate_logits is None:
            gate_logits = self.gate(torch.cat([x_i, x_a], dim=1))
        g = torch.softmax(gate_logits, dim=1)
        return g[:, 0:1], g[:, 1:2]

    def forward_with_gates(
        self, x_i: torch.Tensor, x_a: torch.Tensor, gate_logits: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(X, G_i, G_a)``; see :meth:`forward`."""
        if x_i.shape != x_a.shape or x_i.shape[1] != self.channels:
            raise ValueError(
                f"GatedSelection expects X_i, X_a of equal shape (B, {self.channels}, H, W), "
                f"got {tuple(x_i.shape)} and {tuple(x_a.shape)}"
            )
        g_i, g_a = self.gates(x_i, x_a, gate_logits)
        return (1 + g_i) * x_i + (1 - g_i) * g_a * x_a, g_i, g_a

    def forward(self, x_i: torch.Tensor, x_a: torch.Tensor, gate_logits: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse (B, C, H, W) ``X_i`` and ``X_a`` into X (B, C, H, W); ``gate_logits`` (B, 2, H, W) overrides
        the gate convolution (for tests and analysis)."""
        return self.forward_with_gates(x_i, x_a, gate_logits)[0]


#: Constructor switches of the rows of the paper's ablation (Tables 3-4).
ABLATIONS: dict[str, dict[str, Any]] = {
    "single_stream": {"joint_stream": False, "macro_shortcut": False, "lcfe": False, "fusion": "concat"},
    "joint_stream": {"joint_stream": True, "macro_shortcut": False, "lcfe": False, "fusion": "concat"},
    "js_concat": {"joint_stream": True, "macro_shortcut": True, "lcfe": False, "fusion": "concat"},
    "js_lcfe": {"joint_stream": True, "macro_shortcut": True, "lcfe": True, "fusion": "concat"},
    "js_lcfe_gsm": {"joint_stream": True, "macro_shortcut": True, "lcfe": True, "fusion": "gsm"},
}


class JointStreamGenerator(nn.Module):
    """JSDCGAN generator G(x1, x2) (see the module docstring for the data flow and the choices made).

    Args:
        in_channels: channels of the grayscale input (1).
        out_channels: output channels (3, RGB).
        base_channels: U-Net base width ``c0`` (pix2pix ``ngf`` = 64) of both streams.
        depth: micro U-Net depth (8: pix2pix ``unet_256``).
        macro_factor: average-pooling factor ``f`` of the macro stream input (2).
        macro_depth: macro U-Net depth; default ``depth - log2(f)`` (needs ``f`` a power of two).
        stream_channels: channels ``S`` of each stream's output feature; default ``base_channels``.
        max_multiplier, norm, dropout: U-Net options (see :class:`UNetGenerator`).
        joint_stream: False = single-stream baseline (a plain U-Net, Nazeri et al.'s DCGAN generator).
        macro_shortcut: concatenate the macro stream's first feature (through LCFE if ``lcfe``) to the
            input of the micro stream's last layer.
        lcfe: apply :class:`LCFE` to that feature (requires ``macro_shortcut``).
        fusion: ``"gsm"`` (:class:`GatedSelection`) or ``"concat"`` (``[X_i, X_a]``) before the 1x1 head.
        lcfe_key_channels, lcfe_affinity, lcfe_activation, spatial_kernel: :class:`LCFE` options.
        output_activation: ``"sigmoid"`` (default), ``"tanh"`` or ``"none"``.
        pad_to_stride: :meth:`forward` pads inputs to a multiple of :attr:`stride` and crops back.
        init_std: N(0, std) weight initialisation; ``None`` keeps PyTorch's default.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 3,
        base_channels: int = 64,
        depth: int = 8,
        macro_factor: int = 2,
        macro_depth: int | None = None,
        stream_channels: int | None = None,
        max_multiplier: int = 8,
        norm: NormName = "batch",
        dropout: float = 0.5,
        joint_stream: bool = True,
        macro_shortcut: bool = True,
        lcfe: bool = True,
        fusion: Literal["gsm", "concat"] = "gsm",
        lcfe_key_channels: int | None = None,
        lcfe_affinity: Literal["position", "channel"] = "position",
        lcfe_activation: Literal["softmax", "sigmoid"] = "softmax",
        spatial_kernel: int = 7,
        output_activation: OutputActivation = "sigmoid",
        pad_to_stride: bool = True,
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        if fusion not in ("gsm", "concat"):
            raise ValueError(f"fusion must be 'gsm' or 'concat', got {fusion!r}")
        if lcfe and not macro_shortcut:
            raise ValueError("lcfe=True needs macro_shortcut=True (LCFE's output is what the shortcut carries)")
        if not joint_stream and (macro_shortcut or lcfe or fusion == "gsm"):
            raise ValueError(
                "joint_stream=False (single-stream baseline) needs macro_shortcut=False, lcfe=False, fusion='concat'"
            )
        if macro_factor < 1:
            raise ValueError(f"macro_factor must be >= 1, got {macro_factor}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.joint_stream = joint_stream
        self.macro_shortcut = macro_shortcut
        self.use_lcfe = lcfe
        self.fusion = fusion
        self.depth = depth
        self.macro_factor = macro_factor
        self.pad_to_stride = pad_to_stride
        unet_kwargs: dict[str, Any] = dict(
            base_channels=base_channels, max_multiplier=max_multiplier, norm=norm, dropout=dropout, init_std=None
        )

        if not joint_stream:
            self.macro_depth = None
            self.micro = UNetGenerator(
                in_channels, out_channels, depth, output_activation=output_activation, pad_to_stride=False, **unet_kwargs
            )
        else:
            if macro_depth is None:
                if macro_factor & (macro_factor - 1):
                    raise ValueError(f"macro_factor={macro_factor} is not a power of two: give macro_depth explicitly")
                macro_depth = depth - int(math.log2(macro_factor))
            self.macro_depth = macro_depth
            s = base_channels if stream_channels is None else stream_channels
            self.stream_channels = s
            self.micro = UNetGenerator(
                in_channels, s, depth, output_activation="none", pad_to_stride=False,
                extra_channels=base_channels if macro_shortcut else 0, **unet_kwargs,
            )
            self.macro = UNetGenerator(in_channels, s, macro_depth, output_activation="none", pad_to_stride=False, **unet_kwargs)
            self.lcfe: nn.Module | None = (
                LCFE(base_channels, lcfe_key_channels, lcfe_affinity, lcfe_activation, spatial_kernel) if lcfe else None
            )
            self.gsm: GatedSelection | None = GatedSelection(s) if fusion == "gsm" else None
            self.head = nn.Sequential(
                nn.ReLU(), nn.Conv2d(s if fusion == "gsm" else 2 * s, out_channels, 1), make_output_activation(output_activation)
            )
        if init_std is not None:
            init_gan_weights(self, init_std)

    @classmethod
    def from_ablation(cls, row: str, **kwargs: Any) -> JointStreamGenerator:
        """Build the generator of one ablation row of Tables 3-4 (a key of :data:`ABLATIONS`)."""
        if row not in ABLATIONS:
            raise ValueError(f"unknown ablation row {row!r}; expected one of {sorted(ABLATIONS)}")
        return cls(**{**ABLATIONS[row], **kwargs})

    @property
    def stride(self) -> int:
        """H and W must be multiples of this for :meth:`forward_features` (256 by default)."""
        if not self.joint_stream:
            return 2**self.depth
        return math.lcm(2**self.depth, self.macro_factor * 2**self.macro_depth)  # type: ignore[operator]

    def macro_input(self, x1: torch.Tensor) -> torch.Tensor:
        """x2 = average-pooled x1 (kernel = stride = ``macro_factor``); also the discriminator's 2nd condition."""
        return F.avg_pool2d(x1, self.macro_factor)

    def forward_features(self, x1: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run on an input whose H, W are multiples of :attr:`stride`; return the intermediate tensors.

        Keys (joint stream): ``"x2"`` (B,1,H/f,W/f); ``"f_i"`` macro first feature (B,c0,H/2f,W/2f);
        ``"f_o"`` LCFE output (= f_i without LCFE; only with ``macro_shortcut``); ``"x_i"`` micro output
        (B,S,H,W); ``"x_a"`` upsampled macro output (B,S,H,W); ``"g_i"``, ``"g_a"`` gates (B,1,H,W) (GSM
        only); ``"fused"`` (B,S or 2S,H,W); ``"output"`` (B,out,H,W).  Single stream: ``"output"`` only.
        """
        if x1.ndim != 4 or x1.shape[1] != self.in_channels:
            raise ValueError(f"JointStreamGenerator expects (B, {self.in_channels}, H, W), got {tuple(x1.shape)}")
        h, w = x1.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(
                f"JointStreamGenerator needs H and W divisible by {self.stride}, got {h}x{w}; "
                "pad or crop the input (forward() pads when pad_to_stride=True)"
            )
        if not self.joint_stream:
            return {"output": self.micro.forward_features(x1)["output"]}  # type: ignore[dict-item]
        out: dict[str, torch.Tensor] = {}
        x2 = self.macro_input(x1)
        macro = self.macro.forward_features(x2)
        f_i = macro["encoder"][0]  # type: ignore[index]
        out.update(x2=x2, f_i=f_i)
        extra = None
        if self.macro_shortcut:
            f_o = self.lcfe(f_i) if self.lcfe is not None else f_i
            extra = F.interpolate(f_o, size=(h // 2, w // 2), mode="bilinear", align_corners=False)
            out["f_o"] = f_o
        x_i = self.micro.forward_features(x1, extra)["output"]
        x_a = F.interpolate(macro["output"], size=(h, w), mode="bilinear", align_corners=False)  # type: ignore[arg-type]
        out.update(x_i=x_i, x_a=x_a)  # type: ignore[arg-type]
        if self.gsm is not None:
            fused, g_i, g_a = self.gsm.forward_with_gates(x_i, x_a)  # type: ignore[arg-type]
            out.update(g_i=g_i, g_a=g_a)
        else:
            fused = torch.cat([x_i, x_a], dim=1)  # type: ignore[list-item]
        out["fused"] = fused
        out["output"] = self.head(fused)
        return out

    def forward(self, x1: torch.Tensor) -> torch.Tensor:
        """Grayscale (B, 1, H, W) -> colour (B, 3, H, W); any H, W when ``pad_to_stride`` (default)."""
        if not self.pad_to_stride:
            return self.forward_features(x1)["output"]
        xp, pads = pad_to_multiple(x1, self.stride)
        return crop_padding(self.forward_features(xp)["output"], pads)
