"""Load timm ImageNet weights into the x1.0 width of a slimmable backbone.

The slimmable backbones name their modules after timm's ``resnet18``/``resnet50``/``mobilenetv2_100``,
so a conv weight keeps its key; a BatchNorm ``X.{weight,bias,running_mean,running_var,
num_batches_tracked}`` of timm becomes ``X.bn.<i>.<same>`` where ``i`` is the index of the largest width
in the switchable BN.  Because the slimmed convs use the *first* filters of the full weight, the smaller
widths inherit a sub-network of the ImageNet model; their private BNs are, by default, initialised
with the first channels of the full-width BN (``init_smaller_bns=True``) -- a reasonable start, to be
re-estimated by training / BN calibration.

Supported: timm ``resnet50`` (plain stem) and ``mobilenetv2_100``, and timm ``resnet18``-layout
weights for a plain-stem slimmable ResNet-18.  The SFNet deep-stem ResNet-18 (3->64->64->128) has no
timm counterpart: timm's ``resnet18d`` deep stem is 3->32->32->64 with average-pool shortcuts, so its
weights do not fit (the thesis trains that backbone from scratch, Sec. 2.4.2).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping

import torch
from torch import nn

from semcolor.checkpoints import read_torch_file

from .ops import SwitchableBatchNorm2d

__all__ = ["load_timm_weights", "timm_key_map"]

_BN_KEY = re.compile(r"^(?P<prefix>.*)\.bn\.(?P<idx>\d+)\.(?P<param>[^.]+)$")


def timm_key_map(backbone: nn.Module) -> dict[str, str]:
    """Map each state_dict key of ``backbone``'s x1.0 width to the corresponding timm key."""
    full_idx = {
        name: len(m.widths) - 1 for name, m in backbone.named_modules() if isinstance(m, SwitchableBatchNorm2d)
    }
    mapping: dict[str, str] = {}
    for key in backbone.state_dict():
        m = _BN_KEY.match(key)
        if m and m["prefix"] in full_idx:
            if int(m["idx"]) == full_idx[m["prefix"]]:
                mapping[key] = f"{m['prefix']}.{m['param']}"
        else:
            mapping[key] = key
    return mapping


def load_timm_weights(
    backbone: nn.Module,
    state_dict: Mapping[str, torch.Tensor] | str | os.PathLike,
    init_smaller_bns: bool = True,
) -> list[str]:
    """Copy a timm state dict (or a path to one saved with ``torch.save``) into ``backbone`` at x1.0.

    Raises ``KeyError`` naming the missing keys if the checkpoint lacks a weight the x1.0 backbone needs
    and ``ValueError`` on a shape mismatch.  Returns the checkpoint keys that were not used (e.g. the
    classifier ``fc.*`` / ``conv_head``).
    """
    if not isinstance(state_dict, Mapping):
        state_dict = read_torch_file(os.fspath(state_dict), "timm weights file")
    src = dict(state_dict)
    if "state_dict" in src and isinstance(src["state_dict"], Mapping):
        src = dict(src["state_dict"])
    mapping = timm_key_map(backbone)
    missing = [t for t in mapping.values() if t not in src]
    if missing:
        raise KeyError(f"timm checkpoint lacks {len(missing)} keys needed by the x1.0 backbone, e.g. {missing[:5]}")
    own = backbone.state_dict()
    with torch.no_grad():
        for ours, theirs in mapping.items():
            if own[ours].shape != src[theirs].shape:
                raise ValueError(f"shape mismatch for {ours} <- {theirs}: {tuple(own[ours].shape)} vs "
                                 f"{tuple(src[theirs].shape)}")
            own[ours].copy_(src[theirs])
        if init_smaller_bns:
            for m in backbone.modules():
                if isinstance(m, SwitchableBatchNorm2d):
                    full = m.bn[-1]
                    for bn in list(m.bn)[:-1]:
                        k = bn.num_features
                        bn.weight.copy_(full.weight[:k])
                        bn.bias.copy_(full.bias[:k])
                        bn.running_mean.copy_(full.running_mean[:k])
                        bn.running_var.copy_(full.running_var[:k])
    used = set(mapping.values())
    return sorted(k for k in src if k not in used)
