"""Slimmable building blocks: slimmable convolution, switchable BatchNorm, width switching, counting.

SlimSeg (thesis ch. 2, Sec. 2.3.1, Fig. 2.1 (c)) runs one network at several widths. Every
"slimmable unit" is a slimmable convolution (at width ``w`` only the first ``k(w)`` filters, and the
first ``k'(w)`` input channels, are used), a separate BatchNorm per width ("switchable BN", following
Yu et al., *Slimmable neural networks*, the thesis' ref. [210]) and a ReLU.

No library (torch, timm, smp) provides width-switchable layers, so they are written here.

Channel specification
---------------------
Every slimmable layer receives its channel counts *per width*: a sequence with one entry per width of
``widths`` (ascending).  A plain ``int`` means "not slimmed" (the same at every width) -- this is the
flag by which the RGB input (``in_channels=3``) and the class-logit layer (``out_channels=num_classes``)
keep their full size.  The helper :func:`channels` turns a full-width count into such a per-width list
with a rounding rule:

* ``"int"``  -- ``int(c * w)`` (slimmable ResNets; the convention that reproduces Table 2.2's
  parameter counts, see METHODS.md "slimseg"),
* ``"div8"`` -- ``make_divisible(c * w, 8)`` (MobileNetV2, as in the MobileNetV2/slimmable-MobileNetV2
  papers: multiples of 8, never below 90 % of ``c * w``).

A layer whose input is a channel-wise concatenation of several slimmed tensors (PPM, ASPP, FPN fusion,
DeepLabv3+ decoder) gets ``in_channels`` as a *list of parts*; at width ``w`` it uses the first
``k_i(w)`` input channels *of every part* (so every sub-network's weights are a subset of the next
larger one's, with every input channel keeping its meaning across widths), instead of the first
``sum_i k_i(w)`` channels of the concatenation.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Literal, Union

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Rounding",
    "make_divisible",
    "round_channels",
    "channels",
    "SlimmableModule",
    "SlimmableConv2d",
    "SwitchableBatchNorm2d",
    "SlimmableConvBNReLU",
    "set_width",
    "get_width",
    "width_context",
    "channel_signature",
    "count_params",
    "count_macs",
    "WidthSwitchError",
]

Rounding = Literal["int", "div8"]
#: per-width channel count: one int per width, or a single int for "not slimmed"
ChannelSpec = Union[int, Sequence[int]]

DEFAULT_WIDTHS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
MBV2_WIDTHS: tuple[float, ...] = (0.35, 0.5, 0.75, 1.0)


class WidthSwitchError(AssertionError):
    """Raised when a width switch would fail silently (USER-NEEDS #13).

    Subclasses ``AssertionError`` because :func:`set_width` is specified to *assert* that the effective
    channel counts changed; it is raised explicitly so that ``python -O`` cannot strip the check.
    """


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, not going below 90 % of ``v``.

    The rounding rule of MobileNetV2 (Sandler et al. 2018) used by slimmable MobileNetV2 ([210]).
    """
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def round_channels(c: int, w: float, rounding: Rounding = "int") -> int:
    """Channels of a layer with ``c`` channels at full width when run at width ``w``.

    ``"int"``: ``int(c * w)`` (a tiny epsilon guards against ``0.35 * 20 = 6.999...``), at least 1.
    ``"div8"``: :func:`make_divisible` ``(c * w, 8)``.
    """
    if rounding == "int":
        return max(1, int(c * w + 1e-6))
    if rounding == "div8":
        return make_divisible(c * w, 8)
    raise ValueError(f"unknown channel rounding {rounding!r}; expected 'int' or 'div8'")


def channels(c: int, widths: Sequence[float], rounding: Rounding = "int") -> list[int]:
    """Per-width channel list of a slimmed layer with ``c`` channels at full width (see module doc)."""
    return [round_channels(c, w, rounding) for w in widths]


def _as_per_width(spec: ChannelSpec, n: int, what: str) -> list[int]:
    if isinstance(spec, int):
        return [spec] * n
    spec = [int(c) for c in spec]
    if len(spec) != n:
        raise ValueError(f"{what}: expected one channel count per width ({n}), got {spec}")
    if any(b < a for a, b in zip(spec, spec[1:])):
        raise ValueError(f"{what}: channel counts must not decrease with width, got {spec}")
    return spec


class SlimmableModule(nn.Module):
    """Mixin: a module whose behaviour depends on the current width multiplier ``width_mult``."""

    widths: tuple[float, ...]
    width_mult: float

    def _init_widths(self, widths: Sequence[float]) -> None:
        widths = tuple(float(w) for w in widths)
        if not widths or list(widths) != sorted(set(widths)):
            raise ValueError(f"widths must be a non-empty strictly increasing sequence, got {widths}")
        self.widths = widths
        self.width_mult = widths[-1]

    @property
    def width_index(self) -> int:
        try:
            return self.widths.index(self.width_mult)
        except ValueError:  # pragma: no cover - set_width validates
            raise ValueError(f"{type(self).__name__}: width {self.width_mult} not in {self.widths}") from None

    def set_width_mult(self, w: float) -> None:
        w = float(w)
        if w not in self.widths:
            raise ValueError(
                f"{type(self).__name__} was built for widths {list(self.widths)}; cannot run at width {w} "
                "(switchable BN has no statistics for it)"
            )
        self.width_mult = w

    def extra_repr(self) -> str:  # pragma: no cover - cosmetic
        return f"widths={list(self.widths)}, width_mult={self.width_mult}"


class SlimmableConv2d(nn.Conv2d, SlimmableModule):
    """Conv2d whose active filters / input channels follow the width multiplier (Fig. 2.1 (c)).

    Args:
        in_channels: per-width input channels (an ``int`` = not slimmed, e.g. the RGB input), or a list
            of such specs, one per part of a channel-wise concatenated input (see module doc).
        out_channels: per-width number of filters (an ``int`` = not slimmed, e.g. the class logits).
        depthwise: a depthwise conv (MobileNetV2): ``groups`` follows the active channel count, and
            ``in_channels`` must equal ``out_channels`` at every width.
        widths: ascending width multipliers this layer can run at.

    At width ``w`` the weight used is ``weight[:out_k, in_idx]`` (first ``out_k`` filters; first ``k_i``
    channels of each input part), so the sub-networks are nested: theta_{w1} c ... c theta_{wN}.
    """

    def __init__(
        self,
        in_channels: ChannelSpec | Sequence[ChannelSpec],
        out_channels: ChannelSpec,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        bias: bool = False,
        depthwise: bool = False,
        widths: Sequence[float] = DEFAULT_WIDTHS,
    ) -> None:
        n = len(widths)
        if not isinstance(in_channels, int) and len(in_channels) > 0 and not isinstance(in_channels[0], int):
            parts = [_as_per_width(p, n, "in_channels part") for p in in_channels]  # type: ignore[arg-type]
        else:
            parts = [_as_per_width(in_channels, n, "in_channels")]  # type: ignore[arg-type]
        out_list = _as_per_width(out_channels, n, "out_channels")
        in_full = sum(p[-1] for p in parts)
        if depthwise:
            if len(parts) != 1 or parts[0] != out_list:
                raise ValueError(f"depthwise conv needs in == out per width, got {parts} vs {out_list}")
            groups = out_list[-1]
        else:
            groups = 1
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        super().__init__(in_full, out_list[-1], kernel_size, stride, padding, dilation, groups, bias)
        self._init_widths(widths)
        self.in_parts = parts
        self.out_list = out_list
        self.depthwise = depthwise
        self.slim_in = any(p[0] != p[-1] for p in parts)
        self.slim_out = out_list[0] != out_list[-1]
        # input-channel indices per width for concatenated inputs (cached, moved with the module)
        offsets = [0]
        for p in parts[:-1]:
            offsets.append(offsets[-1] + p[-1])
        self._in_offsets = offsets

    @property
    def active_out_channels(self) -> int:
        return self.out_list[self.width_index]

    @property
    def active_in_channels(self) -> int:
        i = self.width_index
        return sum(p[i] for p in self.in_parts)

    def active_weight(self) -> torch.Tensor:
        """The weight slice used at the current width (contiguous: sliced views hit slow conv kernels)."""
        i = self.width_index
        w = self.weight[: self.out_list[i]]
        if self.depthwise:
            return w.contiguous()
        if len(self.in_parts) == 1:
            return w[:, : self.in_parts[0][i]].contiguous()
        return torch.cat([w[:, o : o + p[i]] for o, p in zip(self._in_offsets, self.in_parts)], dim=1)

    def active_num_params(self) -> int:
        i = self.width_index
        cout = self.out_list[i]
        cin_per_group = 1 if self.depthwise else self.active_in_channels
        n = cout * cin_per_group * self.kernel_size[0] * self.kernel_size[1]
        return n + (cout if self.bias is not None else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cin = self.active_in_channels
        if x.shape[1] != cin:
            raise RuntimeError(
                f"SlimmableConv2d at width {self.width_mult} expects {cin} input channels "
                f"(parts {[p[self.width_index] for p in self.in_parts]}), got {x.shape[1]}; "
                "was the whole model switched with set_width()?"
            )
        weight = self.active_weight()
        bias = self.bias[: self.active_out_channels] if self.bias is not None else None
        groups = self.active_out_channels if self.depthwise else 1
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, groups)

    def extra_repr(self) -> str:  # pragma: no cover - cosmetic
        return (
            f"in={self.in_parts if len(self.in_parts) > 1 else self.in_parts[0]}, out={self.out_list}, "
            f"k={self.kernel_size}, s={self.stride}, d={self.dilation}, dw={self.depthwise}, "
            f"width_mult={self.width_mult}"
        )


class SwitchableBatchNorm2d(SlimmableModule):
    """One BatchNorm2d per width ("switchable BN", [210]; thesis Sec. 2.3.1 and Alg. 1 line 5).

    Each width keeps its own affine parameters and running statistics, because the feature statistics
    of a slimmed layer differ from the full one.  ``num_features`` is a per-width list.
    """

    def __init__(self, num_features: ChannelSpec, widths: Sequence[float] = DEFAULT_WIDTHS, **bn_kwargs) -> None:
        super().__init__()
        self._init_widths(widths)
        self.num_features_list = _as_per_width(num_features, len(self.widths), "num_features")
        self.bn = nn.ModuleList(nn.BatchNorm2d(c, **bn_kwargs) for c in self.num_features_list)

    @property
    def active(self) -> nn.BatchNorm2d:
        return self.bn[self.width_index]  # type: ignore[return-value]

    @property
    def active_out_channels(self) -> int:
        return self.num_features_list[self.width_index]

    def active_num_params(self) -> int:
        return sum(p.numel() for p in self.active.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.active(x)


class SlimmableConvBNReLU(nn.Sequential):
    """The slimmable unit of Fig. 2.1 (c): slimmable conv, switchable BN, (optional) ReLU."""

    def __init__(
        self,
        in_channels: ChannelSpec | Sequence[ChannelSpec],
        out_channels: ChannelSpec,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        widths: Sequence[float] = DEFAULT_WIDTHS,
        relu: bool | Literal["relu6"] = True,
        depthwise: bool = False,
    ) -> None:
        layers: list[nn.Module] = [
            SlimmableConv2d(
                in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, depthwise=depthwise,
                widths=widths,
            ),
            SwitchableBatchNorm2d(out_channels, widths=widths),
        ]
        if relu == "relu6":
            layers.append(nn.ReLU6(inplace=True))
        elif relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


# ---------------------------------------------------------------------------------------------------
# width switching
# ---------------------------------------------------------------------------------------------------

def _slimmable_modules(model: nn.Module) -> list[SlimmableModule]:
    return [m for m in model.modules() if isinstance(m, SlimmableModule)]


def channel_signature(model: nn.Module) -> tuple[int, ...]:
    """The effective channel counts of all slimmable layers at the current width (in module order)."""
    sig: list[int] = []
    for m in _slimmable_modules(model):
        if isinstance(m, SlimmableConv2d):
            sig += [m.active_in_channels, m.active_out_channels]
        elif isinstance(m, SwitchableBatchNorm2d):
            sig.append(m.active_out_channels)
    return tuple(sig)


def get_width(model: nn.Module) -> float:
    """The current width of ``model``; raises if its slimmable layers disagree or there are none."""
    ws = {m.width_mult for m in _slimmable_modules(model)}
    if not ws:
        raise WidthSwitchError(f"{type(model).__name__} contains no slimmable layer")
    if len(ws) > 1:
        raise WidthSwitchError(f"{type(model).__name__} has layers at different widths {sorted(ws)}")
    return ws.pop()


def set_width(model: nn.Module, w: float) -> nn.Module:
    """Switch every slimmable layer of ``model`` to width ``w`` at once (globally uniform width).

    Asserts (raising :class:`WidthSwitchError`, an ``AssertionError``) that the switch is real
    (USER-NEEDS #13: "evaluating at 0.25 gave the same result as 1.0"):

    * the model has slimmable layers, all built for ``w`` (a ``ValueError`` names the widths otherwise);
    * if ``w`` differs from the current width, the effective channel counts changed.

    Setting the width the model already has is allowed and does nothing.  Returns ``model``.
    """
    modules = _slimmable_modules(model)
    if not modules:
        raise WidthSwitchError(f"set_width: {type(model).__name__} contains no slimmable layer")
    bad = [m for m in modules if float(w) not in m.widths]
    if bad:  # validate before touching anything, so a failed switch leaves the model as it was
        bad[0].set_width_mult(w)  # raises the ValueError naming the widths
    old_ws = {m.width_mult for m in modules}
    before = channel_signature(model)
    for m in modules:
        m.set_width_mult(w)
    after = channel_signature(model)
    if old_ws != {float(w)} and after == before:
        raise WidthSwitchError(
            f"set_width({w}) on {type(model).__name__} (was {sorted(old_ws)}) changed no effective channel "
            "count: the width switch would be a silent no-op"
        )
    return model


@contextlib.contextmanager
def width_context(model: nn.Module, w: float) -> Iterator[nn.Module]:
    """Temporarily run ``model`` at width ``w`` (restores the previous width afterwards)."""
    old = get_width(model)
    set_width(model, w)
    try:
        yield model
    finally:
        set_width(model, old)


# ---------------------------------------------------------------------------------------------------
# counting (Table 2.2)
# ---------------------------------------------------------------------------------------------------

def _training_only_params(model: nn.Module) -> set[int]:
    ids: set[int] = set()
    for m in model.modules():
        if getattr(m, "training_only", False):
            ids |= {id(p) for p in m.parameters()}
    return ids


def count_params(model: nn.Module, width: float, include_training_only: bool = False) -> int:
    """Parameters of the sub-network at ``width`` = an independent model of that width (Table 2.2).

    Counts, for a slimmable conv, only the active slice of its weight (first ``k`` filters x first
    ``k'`` input channels, + active bias); for a switchable BN only the affine parameters of the BN of
    that width (running statistics are buffers, not parameters); other parameters fully.  Modules flagged
    ``training_only = True`` (the boundary head, removed at inference, Sec. 2.3.3) are left out unless
    ``include_training_only``.  This convention reproduces the "Param" column of Table 2.2.
    """
    skip = set() if include_training_only else _training_only_params(model)
    with width_context(model, width):
        counted: set[int] = set()
        total = 0
        for m in model.modules():
            if isinstance(m, (SlimmableConv2d, SwitchableBatchNorm2d)):
                own = {id(p) for p in m.parameters()}
                if not own & skip:
                    total += m.active_num_params()
                counted |= own
        for p in model.parameters():
            if id(p) not in counted and id(p) not in skip:
                total += p.numel()
    return total


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _ptflops_mapping() -> dict:
    """FlopCounterMode formulas (in FLOPs = 2 x MACs) that add ptflops' conventions to the conv MACs.

    ptflops (the "GMac" counter, sovrasov/flops-counter.pytorch, module hooks of v0.6) counts a conv's
    bias as one MAC per output element, BatchNorm as 2 x input elements (affine), ReLU as output
    elements, max/average pooling as input elements, and neither ``F.interpolate`` nor
    ``grid_sample`` nor residual additions.  These are the aten ops our networks dispatch to in eval
    mode.  ReLU6 (MobileNetV2) is *not* counted: Table 2.2's MobileNetV2 row is reproduced without it
    (18.54 / 12.29 / 5.67 / 3.30 vs 18.5 / 12.2 / 5.7 / 3.3 GMac) and not with it (18.79 / 12.51 / 5.81 /
    3.40) -- presumably the authors' ReLU6 was not a module that ptflops hooks.
    (Hand-written: ptflops is not a project dependency, and it cannot see the slimmed widths.)
    """
    from torch.utils.flop_counter import conv_flop_count

    aten = torch.ops.aten

    def conv(x_shape, w_shape, bias, _stride, _padding, _dilation, transposed, *args, out_shape=None, **kwargs):
        flops = conv_flop_count(x_shape, w_shape, out_shape, transposed=transposed)
        return flops + (2 * _numel(out_shape) if bias is not None else 0)

    def bn(x_shape, weight, *args, out_shape=None, **kwargs):
        return 2 * _numel(x_shape) * (2 if weight is not None else 1)

    def elementwise(x_shape, *args, out_shape=None, **kwargs):
        return 2 * _numel(x_shape)

    return {
        aten.convolution: conv,
        aten.native_batch_norm: bn,
        aten._native_batch_norm_legit_no_training: bn,
        aten.relu: elementwise,
        aten.relu_: elementwise,
        aten.max_pool2d_with_indices: elementwise,
        aten.max_pool2d: elementwise,
        aten._adaptive_avg_pool2d: elementwise,
        aten.mean: elementwise,  # AdaptiveAvgPool2d(1) dispatches to mean
    }


def count_macs(
    model: nn.Module,
    width: float,
    input_size: tuple[int, int] = (1024, 2048),
    in_channels: int = 3,
    convention: Literal["conv", "ptflops"] = "ptflops",
) -> int:
    """Multiply-accumulates of one forward pass (eval mode, batch 1) at ``width`` ("GMac", Table 2.2).

    Counted with :class:`torch.utils.flop_counter.FlopCounterMode`, which reports FLOPs = 2 x MACs for
    convolutions and matrix products; the total is divided by 2.

    * ``convention="conv"``: convolutions / linear layers only (FlopCounterMode's own formulas).
    * ``convention="ptflops"`` (default): additionally conv biases, BatchNorm, ReLU(6) and pooling as
      the ``ptflops`` package counts them (see :func:`_ptflops_mapping`).  Table 2.2's unit "GMac" is
      ptflops' output format, and this convention reproduces the table more closely (the bias/BN/ReLU
      terms add 0.2-1 % for ResNets, 3-6 % for MobileNetV2; figures in tests/test_slimmable.py).

    Everything runs on the ``meta`` device through :func:`torch.func.functional_call`, so nothing is
    computed or allocated even for 1024 x 2048 inputs.  Eval mode: the boundary head is not run.
    """
    from torch.func import functional_call
    from torch.utils.flop_counter import FlopCounterMode

    if convention not in ("conv", "ptflops"):
        raise ValueError(f"convention must be 'conv' or 'ptflops', got {convention!r}")
    mapping = _ptflops_mapping() if convention == "ptflops" else None
    was_training = model.training
    model.eval()
    try:
        with width_context(model, width):
            tensors = {k: torch.empty_like(v, device="meta") for k, v in model.state_dict(keep_vars=True).items()}
            x = torch.empty(1, in_channels, *input_size, device="meta")
            counter = FlopCounterMode(display=False, custom_mapping=mapping)
            with counter, torch.no_grad():
                functional_call(model, tensors, (x,), strict=False, tie_weights=False)
            flops = counter.get_total_flops()
    finally:
        model.train(was_training)
    return flops // 2
