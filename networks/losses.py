"""Losses shared by several methods (pure functions / nn.Modules; nothing here knows Lightning)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def masked_cross_entropy(
    logits: Tensor,
    target: Tensor,
    ignore_index: int | None = None,
    weight: Tensor | None = None,
    normalise: Literal["valid", "all"] = "valid",
) -> Tensor:
    """Cross-entropy that returns 0 (not NaN) when every target pixel is ignored.

    ``normalise="valid"``: divide the (weighted) sum by the summed weights of the non-ignored pixels,
    which is ``torch.nn.functional.cross_entropy``'s ``mean`` reduction. ``normalise="all"``: divide by
    the number of *all* pixels, ignored ones included (SECBNet's Eq. 3, ``-1/N sum_i w_i log p``,
    ``N = H x W``). Hand-written around ``F.cross_entropy(reduction="none")`` because no library CE
    has the safe empty case (``F.cross_entropy`` gives 0/0 = NaN there).

    Args:
        logits: ``(B, K, H, W)`` (or ``(B, K)``).
        target: ``(B, H, W)`` class indices (or ``(B,)``).
        ignore_index: target value left out (``None``: none).
        weight: optional per-class weights ``(K,)``.
        normalise: ``"valid"`` or ``"all"`` (see above).
    """
    ignore = -100 if ignore_index is None else ignore_index
    per_pixel = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore, reduction="none")
    total = per_pixel.sum()
    if normalise == "all":
        return total / max(1, target.numel())
    if normalise != "valid":
        raise ValueError(f"normalise must be 'valid' or 'all', got {normalise!r}")
    valid = target != ignore
    if weight is None:
        denom = valid.sum().to(per_pixel.dtype)
    else:
        w = weight.to(per_pixel.dtype)[target.clamp(0, weight.numel() - 1)]
        denom = (w * valid).sum()
    # total is exactly 0 (with zero gradients) when nothing is valid; dividing by a clamped denominator
    # keeps it 0 instead of 0/0.
    return torch.where(denom > 0, total / denom.clamp_min(torch.finfo(per_pixel.dtype).tiny), total)


class MaskedCrossEntropy(nn.Module):
    """:func:`masked_cross_entropy` as a module (drop-in for ``nn.CrossEntropyLoss``)."""

    def __init__(
        self, ignore_index: int | None = None, weight: Tensor | None = None, normalise: Literal["valid", "all"] = "valid"
    ) -> None:
        super().__init__()
        self.ignore_index, self.normalise = ignore_index, normalise
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return masked_cross_entropy(logits, target, self.ignore_index, self.weight, self.normalise)
