"""The group palette of a collection and the source -> group matching (Xue 2025 (thesis), §3.3.1, §3.4.1).

The thesis follows Nguyen et al. 2017 ([134], "Group-theme recoloring for multi-image color consistency"):
"The group palette is determined using a weighted k-means clustering method that incorporat[es] two
additional terms. The first term aims at avoiding palette reduction, where multiple colors in the source
palette are assigned to the same color in the group palette. The second term aims at accommodating
unassociated colors ... An optimization is performed until a group palette is obtained and source color
associations to the group palette no longer change." The size of the group palette, in the automatic mode,
is "the average of the number of source palette colors" (§3.4.1; rounded half up here).

Neither the thesis nor anything reachable here gives [134]'s objective weights ("we use the same parameters
as proposed in [134]"), so this is a reimplementation of that description with our own constants:

1. Pool every source colour, weighted by its pixel share in its image (so each image weighs the same), and
   seed the group palette with weighted k-means (:func:`semcolor.palettes.kmeans.weighted_kmeans`).
2. Assign, image by image, each source colour to one group colour by minimising (Hungarian algorithm,
   ``scipy.optimize.linear_sum_assignment``) the sum of CIELAB distances ||c_s - c_g|| (CIE76) plus
   ``reduction_penalty`` (10) for every further source colour of the same image sent to an already used
   group colour (term 1: palette reduction is allowed but costs) and, in the "unassigned" variant only, the
   option to leave a source colour unassigned at cost ``unassigned_cost`` (25; term 2: a colour farther
   than that from every free group colour stays unchanged; Nguyen's "unassigned" version, §3.4.1: it
   "breaks connections among colors by penalizing large distances between the source and group colors").
3. Move each group colour to the share-weighted mean of the source colours assigned to it; repeat 2-3 until
   the assignments no longer change (at most ``max_iter`` rounds).

The basic framework of [134] as the thesis compares against is ``unassigned_cost=None`` (every source
colour is matched); the "unassigned" version sets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from semcolor.palettes.kmeans import weighted_kmeans

__all__ = ["GroupPalette", "group_palette", "match_to_group", "automatic_group_size"]

REDUCTION_PENALTY = 10.0
UNASSIGNED_COST = 25.0


@dataclass
class GroupPalette:
    """A group palette and how each source palette maps onto it.

    Attributes:
        centers: ``(m, 3)`` CIELAB group colours.
        matches: per source palette, int ``(k_i,)``: the group colour of each source colour, -1 if unassigned.
        iterations: assignment rounds run.
    """

    centers: np.ndarray
    matches: list[np.ndarray]
    iterations: int = 0


def automatic_group_size(sizes: Sequence[int]) -> int:
    """§3.4.1: the mean number of source palette colours, rounded half up (at least 1)."""
    sizes = [int(s) for s in sizes if int(s) > 0]
    return max(1, int(np.floor(np.mean(sizes) + 0.5))) if sizes else 1


def match_to_group(source: np.ndarray, group: np.ndarray, reduction_penalty: float = REDUCTION_PENALTY,
                   unassigned_cost: float | None = None) -> np.ndarray:
    """Assignment of source colours ``(k, 3)`` to group colours ``(m, 3)`` (step 2 of the module docstring)
    -> int ``(k,)`` group indices, -1 for unassigned."""
    source = np.asarray(source, np.float64).reshape(-1, 3)
    group = np.asarray(group, np.float64).reshape(-1, 3)
    k, m = len(source), len(group)
    if k == 0:
        return np.zeros(0, np.int64)
    dist = np.linalg.norm(source[:, None] - group[None], axis=-1)  # (k, m)
    # column (r, j): the r-th source colour sent to group colour j costs r * reduction_penalty extra
    cost = np.concatenate([dist + r * reduction_penalty for r in range(k)], axis=1)  # (k, k*m)
    if unassigned_cost is not None:
        cost = np.concatenate([cost, np.full((k, k), float(unassigned_cost))], axis=1)
    rows, cols = linear_sum_assignment(cost)
    out = np.full(k, -1, np.int64)
    matched = cols < k * m
    out[rows[matched]] = cols[matched] % m
    return out


def group_palette(centers: Sequence[np.ndarray], shares: Sequence[np.ndarray], size: int | None = None,
                  unassigned_cost: float | None = None, reduction_penalty: float = REDUCTION_PENALTY,
                  max_iter: int = 20, seed: int = 0) -> GroupPalette:
    """The group palette of source palettes (``centers[i]`` ``(k_i, 3)`` CIELAB, ``shares[i]`` ``(k_i,)``).

    Args:
        size: group palette size; None: :func:`automatic_group_size` of the source palette sizes.
        unassigned_cost: None for the basic framework, a CIELAB distance for the "unassigned" variant.
        reduction_penalty, max_iter, seed: see the module docstring.
    """
    centers = [np.asarray(c, np.float64).reshape(-1, 3) for c in centers]
    shares = [np.asarray(s, np.float64).reshape(-1) for s in shares]
    nonempty = [i for i, c in enumerate(centers) if len(c)]
    if not nonempty:
        return GroupPalette(np.zeros((0, 3), np.float32), [np.zeros(0, np.int64) for _ in centers])
    pooled = np.concatenate([centers[i] for i in nonempty])
    weights = np.concatenate([shares[i] for i in nonempty])
    weights = np.where(weights > 0, weights, 1e-6)
    m = size if size is not None else automatic_group_size([len(centers[i]) for i in nonempty])
    group, _ = weighted_kmeans(pooled, weights, m, seed=seed)
    group = group.astype(np.float64)
    matches: list[np.ndarray] = [np.zeros(0, np.int64) for _ in centers]
    it = 0
    for it in range(1, max_iter + 1):
        new = [match_to_group(c, group, reduction_penalty, unassigned_cost) for c in centers]
        changed = it == 1 or any(not np.array_equal(a, b) for a, b in zip(new, matches, strict=True))
        matches = new
        if not changed:
            break
        num = np.zeros_like(group)
        den = np.zeros(len(group))
        for c, s, mt in zip(centers, shares, matches, strict=True):
            ok = mt >= 0
            np.add.at(num, mt[ok], c[ok] * s[ok, None])
            np.add.at(den, mt[ok], s[ok])
        used = den > 0
        group[used] = num[used] / den[used, None]
    return GroupPalette(group.astype(np.float32), matches, it)
