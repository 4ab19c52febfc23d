"""Metrics of multi-image recolouring (Xue 2025 (thesis), ch. 3; the thesis itself reports only a user study).

* ΔE2000 to a ground truth, before and after: :class:`semcolor.metrics.image.DeltaE2000` (per image, so
  images of different sizes accumulate into one mean over all pixels).
* :class:`GroupConsistency`: the mean, over all pairs of images of a group, of the distance between their
  palettes (:func:`palette_distance`: share-weighted symmetric nearest-colour CIEDE2000). Lower = more
  consistent.
* :class:`ClassConsistency`: where label maps exist, the mean CIEDE2000 between two images' mean colours
  of the same class, over every class and every pair of images that both contain it.
* :class:`HueShift`: the share of pixels whose most likely colour name (11 basic terms) changed between
  input and output, the figure the colour-naming module is meant to lower (§3.3.4).

Palettes and names are computed by the caller (``semcolor.palettes``, a layer above); these classes only
accumulate, with sum/count states (``dist_reduce_fx="sum"``) so DDP syncs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from semcolor.metrics.image import delta_e_2000

__all__ = ["palette_distance", "GroupConsistency", "ClassConsistency", "HueShift", "class_means"]


def _t(x: Any) -> Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


def _pairwise_de(a: Tensor, b: Tensor) -> Tensor:
    """CIEDE2000 between every colour of ``a`` ``(n, 3)`` and of ``b`` ``(m, 3)`` -> ``(n, m)``."""
    n, m = len(a), len(b)
    lab1 = a.T[:, :, None].expand(3, n, m)
    lab2 = b.T[:, None, :].expand(3, n, m)
    return delta_e_2000(lab1, lab2)


def palette_distance(centers_a: Any, shares_a: Any, centers_b: Any, shares_b: Any) -> Tensor:
    """Share-weighted symmetric nearest-colour CIEDE2000 between two CIELAB palettes ``(k, 3)`` / ``(k,)``:
    ``(sum_i s_a,i min_j dE(a_i, b_j) + sum_j s_b,j min_i dE(a_i, b_j)) / 2`` with shares normalised to 1."""
    a, b, sa, sb = _t(centers_a).reshape(-1, 3), _t(centers_b).reshape(-1, 3), _t(shares_a), _t(shares_b)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("palette_distance needs two non-empty palettes")
    de = _pairwise_de(a, b)
    return 0.5 * ((sa / sa.sum()) @ de.min(1).values + (sb / sb.sum()) @ de.min(0).values)


class _PairMean(Metric):
    """A mean over pairs (of images, or of images and classes): ``total`` / ``pairs``, NaN before any pair."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("pairs", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def compute(self) -> Tensor:
        return (self.total / self.pairs).float() if self.pairs > 0 else torch.tensor(float("nan"))


class GroupConsistency(_PairMean):
    """Mean pairwise :func:`palette_distance` between the palettes of the images of each group."""

    def update(self, centers: Sequence[Any], shares: Sequence[Any]) -> None:
        """One group: per image its palette's CIELAB ``centers`` ``(k_i, 3)`` and pixel ``shares`` ``(k_i,)``."""
        for i in range(len(centers)):
            for j in range(i + 1, len(centers)):
                self.total += palette_distance(centers[i], shares[i], centers[j], shares[j]).to(self.total)
                self.pairs += 1


def class_means(lab: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Mean CIELAB colour ``(C, 3)`` and pixel count ``(C,)`` per class of a ``(3, H, W)`` image; labels
    outside ``0..num_classes-1`` are not counted."""
    lab, labels = _t(lab).reshape(3, -1), torch.as_tensor(labels).reshape(-1).long()
    ok = (labels >= 0) & (labels < num_classes)
    count = torch.bincount(labels[ok], minlength=num_classes).to(torch.float64)
    sums = torch.stack([torch.bincount(labels[ok], weights=lab[c, ok], minlength=num_classes) for c in range(3)], 1)
    return sums / count.clamp_min(1)[:, None], count


class ClassConsistency(_PairMean):
    """Mean CIEDE2000 between two images' mean colours of one class, over classes and pairs of images.

    Args:
        num_classes: label values ``0..num_classes-1`` count; others (ignore values) do not.
        ignore_index: one more label value left out (e.g. 0 for "unrecognised").
        min_pixels: a class counts in an image only with at least this many pixels.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None, min_pixels: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.ignore_index, self.min_pixels = num_classes, ignore_index, min_pixels

    def update(self, labs: Sequence[Tensor], labels: Sequence[Tensor]) -> None:
        """One group: per image its CIELAB ``(3, H_i, W_i)`` and its class map ``(H_i, W_i)``."""
        means, counts = [], []
        for lab, lbl in zip(labs, labels, strict=True):
            lbl = torch.as_tensor(lbl).long()
            if self.ignore_index is not None:
                lbl = torch.where(lbl == self.ignore_index, torch.full_like(lbl, -1), lbl)
            m, c = class_means(lab, lbl, self.num_classes)
            means.append(m)
            counts.append(c >= self.min_pixels)
        for cls in range(self.num_classes):
            have = [m[cls] for m, c in zip(means, counts, strict=True) if c[cls]]
            if len(have) < 2:
                continue
            cols = torch.stack(have)
            iu = torch.triu_indices(len(have), len(have), 1)
            self.total += _pairwise_de(cols, cols)[iu[0], iu[1]].sum().to(self.total)
            self.pairs += iu.shape[1]


class HueShift(Metric):
    """Share of pixels whose most likely colour name changed (names as integer indices, any shape)."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("changed", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, names_before: Any, names_after: Any) -> None:
        a, b = torch.as_tensor(names_before), torch.as_tensor(names_after)
        if a.shape != b.shape:
            raise ValueError(f"names before and after differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
        self.changed += (a != b).sum()
        self.count += a.numel()

    def compute(self) -> Tensor:
        return (self.changed.double() / self.count.clamp_min(1)).float()
