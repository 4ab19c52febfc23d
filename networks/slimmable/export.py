"""Deployable sub-networks of a slimmable network: one static network per width.

A slimmable network (:mod:`semcolor.networks.slimmable.ops`) slices its weights on every forward pass and keeps
one BatchNorm per width. :func:`static_subnet` turns it, at one width, into an ordinary network: every
:class:`~semcolor.networks.slimmable.ops.SlimmableConv2d` becomes an ``nn.Conv2d`` holding only the active slice of
its weight, every :class:`~semcolor.networks.slimmable.ops.SwitchableBatchNorm2d` becomes that width's
``nn.BatchNorm2d``, and the training-only boundary head (SlimSeg Sec. 2.3.3: "can be removed during
inference") is dropped. Its parameter count is the width's entry of Table 2.2
(:func:`~semcolor.networks.slimmable.ops.count_params`), and its outputs equal the dynamic network's at that width.

:func:`export_subnet` writes it as TorchScript (``.pt``, ``torch.jit.trace``) or as a ``torch.export``
program (``.pt2``), for deployment without this code base (USER-NEEDS #14). Both are fixed to the
example input's size (SFNet's flow warp reads the feature size as a constant). torch marks ``torch.jit``
deprecated (FutureWarning, silenced here): ``.pt2`` is the format to prefer. ONNX is not offered: the
``onnx`` package is not a dependency here.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from .ops import SlimmableConv2d, SlimmableModule, SwitchableBatchNorm2d, set_width

ExportFormat = Literal["torchscript", "export"]
SUFFIX: dict[str, str] = {"torchscript": ".pt", "export": ".pt2"}


def _plain_conv(m: SlimmableConv2d) -> nn.Conv2d:
    weight = m.active_weight().detach()
    groups = m.active_out_channels if m.depthwise else 1
    conv = nn.Conv2d(weight.shape[1] * groups, weight.shape[0], m.kernel_size, m.stride, m.padding, m.dilation,
                     groups, bias=m.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if m.bias is not None:
            conv.bias.copy_(m.bias[: m.active_out_channels])
    return conv


class InferenceNet(nn.Module):
    """``forward(x)`` -> class logits: a segmentation network's inference path (no boundary output)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        if getattr(net, "boundary_head", None) is not None:
            net.boundary_head = None  # training only (Sec. 2.3.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self.net, "boundary_head"):
            return self.net(x, return_boundary=False)
        return self.net(x)


def static_subnet(model: nn.Module, width: float) -> InferenceNet:
    """A plain copy of ``model`` at ``width`` (module docstring), in eval mode; ``model`` is unchanged."""
    net = copy.deepcopy(model)
    set_width(net, width)
    for parent in list(net.modules()):
        for key, child in list(parent._modules.items()):
            if isinstance(child, SlimmableConv2d):
                parent._modules[key] = _plain_conv(child)
            elif isinstance(child, SwitchableBatchNorm2d):
                parent._modules[key] = copy.deepcopy(child.active)
    left = [name for name, m in net.named_modules() if isinstance(m, SlimmableModule)]
    if left:  # a slimmable layer type this function does not know would stay width-dependent
        raise TypeError(f"cannot make a static sub-network: slimmable layers left at {left[:5]}")
    return InferenceNet(net).eval()


def export_subnet(model: nn.Module, width: float, example: torch.Tensor, path: str | Path,
                  fmt: ExportFormat = "torchscript") -> Path:
    """Write the static sub-network of ``model`` at ``width`` to ``path`` (traced / exported on
    ``example``, an input batch of the deployment size). Returns the path."""
    path = Path(path)
    sub = static_subnet(model, width)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the size is meant to be fixed
        warnings.filterwarnings("ignore", ".*torch.jit.*deprecated", FutureWarning)
        if fmt == "torchscript":
            torch.jit.trace(sub, example, check_trace=False).save(str(path))
        elif fmt == "export":
            torch.export.save(torch.export.export(sub, (example,)), str(path))
        else:
            raise ValueError(f"export format must be one of {sorted(SUFFIX)}, got {fmt!r}")
    return path


def load_exported(path: str | Path) -> nn.Module:
    """Load what :func:`export_subnet` wrote, as a callable module (no semcolor code needed for this)."""
    path = Path(path)
    if path.suffix == SUFFIX["export"]:
        return torch.export.load(str(path)).module()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*torch.jit.*deprecated", FutureWarning)
        return torch.jit.load(str(path))


__all__ = ["ExportFormat", "InferenceNet", "SUFFIX", "export_subnet", "load_exported", "static_subnet"]
