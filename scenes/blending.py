"""Blend weights for stitching overlapping window predictions into one scene.

A scene is cut into windows of ``tile`` pixels whose starts along each axis come from
:func:`semcolor.datamodules.raster.grid_starts` (``edge="shift"``: the last window is shifted inside the scene,
so it overlaps its neighbour by more than the nominal overlap ``R`` and nothing is padded). Every
mode here is **separable**: the weight of window ``(i, j)`` at pixel ``(y, x)`` is ``a_i(y) * b_j(x)``
with 1-D weights per axis, and the 1-D weights of each axis sum to one at every pixel of that axis.
Because the windows form a product grid, the 2-D weights then sum to one at every pixel of the scene:
``sum_ij a_i(y) b_j(x) = (sum_i a_i(y)) (sum_j b_j(x)) = 1`` -- at scene edges and for scene sizes
that are not a multiple of the stride too (the shifted last window is part of the grid). The scene
writer still accumulates the weight sum and divides by it, so float rounding never shows.

Modes (:data:`BLEND_MODES`):

``"linear"`` -- SECBNet's weighted averaging (Chen et al. 2024, section III-D and Algorithm 1). The paper
    stitches the blocks of each column top to bottom, replacing the ``R`` overlapping rows of adjacent
    blocks by ``P1 * E_ij + P2 * E_(i+1)j`` with ``P1`` falling and ``P2`` rising linearly across the
    overlap, then stitches the resulting column strips left to right the same way ("rows then
    columns"). Both passes are linear, so the result is exactly the product form above with 1-D
    weights built by the same sequential stitching (:func:`linear_axis_weights`).
    Choices where the paper is silent: ``P2`` at overlap row ``k`` (0-based, ``L`` rows) is
    ``(k + 1) / (L + 1)`` and ``P1 = 1 - P2`` (symmetric, and no overlap row ignores either block);
    the ramp spans the *actual* overlap ``L`` (``R`` for regular windows, more for the shifted last
    window), and where the accumulated strip overlaps the new block it is the accumulated strip
    (not only the previous block) that is weighted by ``P1``, as the sequential ``Ê_j = Ê_j ⊕ E_ij``
    of Algorithm 1 implies; this keeps the weights a partition of unity even when three windows
    overlap (overlap > tile / 2). Outside overlaps a pixel comes from its single block.
``"cosine"`` -- the same construction with raised-cosine ramps ``sin^2(pi (k + 0.5) / (2 L))`` instead
    of linear ones: weights are smooth (C^1) across the overlap edges, where linear ramps have kinks.
``"hann"`` -- a 2-D window alternative: every window gets the same separable Hann window
    ``sin^2(pi (k + 0.5) / T)`` over the whole tile (sampled at pixel centres, so never exactly zero),
    accumulated with a weight sum (``sum w p / sum w``). *Edge-aware*: on a side of a window that lies
    on the scene border the window is flat (1) from the tile centre to that border, otherwise scene
    borders covered by one window only would get near-zero weight (the "black borders" of
    torchgeo/torchgeo#3667).
``"none"`` -- no blending, for comparison: each pixel comes from exactly one window, the one whose
    centre is nearest (centre-crop ownership; the cut is the middle of each overlap).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

BlendMode = Literal["linear", "cosine", "hann", "none"]
BLEND_MODES: tuple[str, ...] = ("linear", "cosine", "hann", "none")


def _check(starts: Sequence[int], size: int, length: int) -> list[int]:
    starts = [int(s) for s in starts]
    if not starts or starts[0] != 0:
        raise ValueError(f"window starts must begin at 0, got {starts[:3]}...")
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError(f"window starts must increase strictly, got {starts}")
    if any(b > a + size for a, b in zip(starts, starts[1:])):
        raise ValueError(f"windows of {size} px starting at {starts} leave gaps")
    if starts[-1] + size < length:
        raise ValueError(f"windows of {size} px starting at {starts} do not reach the end ({length} px)")
    return starts


def _extents(starts: list[int], size: int, length: int) -> list[int]:
    """In-scene length of each window (a window longer than the scene is cut at its end)."""
    return [min(size, length - s) for s in starts]


def _ramp(n: int, shape: str) -> np.ndarray:
    """Rising weights ``P2`` of an ``n``-pixel overlap (the falling ones are ``1 - P2``)."""
    k = np.arange(n, dtype=np.float64)
    if shape == "linear":
        return (k + 1.0) / (n + 1.0)
    return np.sin(np.pi * (k + 0.5) / (2.0 * n)) ** 2  # raised cosine; P1 + P2 = cos^2 + sin^2 = 1


def sequential_axis_weights(starts: Sequence[int], size: int, length: int, shape: str = "linear") -> list[np.ndarray]:
    """1-D weights of Algorithm 1's sequential stitching along one axis.

    Windows are added in order; where the new window overlaps the strip stitched so far
    (``[start_new, end_so_far)``, ``L`` pixels), the strip is weighted by ``1 - P2`` and the new
    window by ``P2`` (:func:`_ramp`); past the overlap the new window alone. Returns, per window, the
    weights of its in-scene pixels; they sum to one at every pixel of ``[0, length)``.
    """
    starts = _check(starts, size, length)
    ext = _extents(starts, size, length)
    weights = [np.zeros(e, dtype=np.float64) for e in ext]
    weights[0][:] = 1.0
    end = ext[0]  # the stitched strip covers [0, end)
    for i in range(1, len(starts)):
        s = starts[i]
        n = end - s
        if n > 0:
            p2 = _ramp(n, shape)
            for k in range(i):  # every earlier window still holding weight in [s, end)
                a, b = max(s, starts[k]), min(end, starts[k] + ext[k])
                if a < b:
                    weights[k][a - starts[k] : b - starts[k]] *= 1.0 - p2[a - s : b - s]
            weights[i][:n] = p2
        weights[i][max(n, 0) :] = 1.0
        end = starts[i] + ext[i]
    return weights


def hann_axis_weights(starts: Sequence[int], size: int, length: int) -> list[np.ndarray]:
    """Edge-aware Hann window per window, normalised so the windows sum to one at every pixel."""
    starts = _check(starts, size, length)
    ext = _extents(starts, size, length)
    k = np.arange(size, dtype=np.float64)
    hann = np.sin(np.pi * (k + 0.5) / size) ** 2
    raw = []
    for s, e in zip(starts, ext):
        w = hann.copy()
        if s == 0:
            w[: size // 2] = 1.0  # flat towards the scene's first pixel
        if s + size >= length:
            w[size // 2 :] = 1.0  # flat towards the scene's last pixel
        raw.append(w[:e])
    return _normalise(starts, raw, length)


def ownership_axis_weights(starts: Sequence[int], size: int, length: int) -> list[np.ndarray]:
    """0/1 weights: each pixel belongs to the window whose centre is nearest (cut mid-overlap)."""
    starts = _check(starts, size, length)
    ext = _extents(starts, size, length)
    cuts = [0] + [(b + a + size) // 2 for a, b in zip(starts, starts[1:])] + [length]
    out = []
    for i, (s, e) in enumerate(zip(starts, ext)):
        w = np.zeros(e, dtype=np.float64)
        w[cuts[i] - s : cuts[i + 1] - s] = 1.0
        out.append(w)
    return out


def _normalise(starts: list[int], raw: list[np.ndarray], length: int) -> list[np.ndarray]:
    total = np.zeros(length, dtype=np.float64)
    for s, w in zip(starts, raw):
        total[s : s + len(w)] += w
    if (total <= 0).any():  # cannot happen for the windows above; guards future modes
        raise ValueError("blend weights leave pixels with zero total weight")
    return [w / total[s : s + len(w)] for s, w in zip(starts, raw)]


def axis_weights(starts: Sequence[int], size: int, length: int, mode: BlendMode = "linear") -> list[np.ndarray]:
    """1-D blend weights along one axis for windows of ``size`` at ``starts`` over ``length`` pixels.

    Entry ``i`` holds the weights of window ``i``'s in-scene pixels (``min(size, length - start)``
    values); the entries sum to one at every pixel. See the module docstring for the modes.
    """
    if mode == "linear":
        return sequential_axis_weights(starts, size, length, "linear")
    if mode == "cosine":
        return sequential_axis_weights(starts, size, length, "cosine")
    if mode == "hann":
        return hann_axis_weights(starts, size, length)
    if mode == "none":
        return ownership_axis_weights(starts, size, length)
    raise ValueError(f"unknown blend mode {mode!r}; choose one of {', '.join(BLEND_MODES)}")


class BlendWeights:
    """2-D weights of every window of a ``row_starts x col_starts`` grid over a ``height x width`` scene.

    ``weights(i, j)`` is ``outer(a_i, b_j)`` as float32 ``(h, w)`` (the window's in-scene part);
    the 1-D tables are computed once, so a call costs one outer product.
    """

    def __init__(self, row_starts: Sequence[int], col_starts: Sequence[int], tile: int, height: int,
                 width: int, mode: BlendMode = "linear") -> None:
        self.mode = mode
        self.rows = [w.astype(np.float32) for w in axis_weights(row_starts, tile, height, mode)]
        self.cols = [w.astype(np.float32) for w in axis_weights(col_starts, tile, width, mode)]
        # interior windows share their 1-D weights: key each axis' distinct profiles, cache the products
        self._row_key = self._keys(self.rows)
        self._col_key = self._keys(self.cols)
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    @staticmethod
    def _keys(profiles: list[np.ndarray]) -> list[int]:
        seen: dict[bytes, int] = {}
        return [seen.setdefault(p.tobytes(), len(seen)) for p in profiles]

    def __call__(self, i: int, j: int) -> np.ndarray:
        key = (self._row_key[i], self._col_key[j])
        w = self._cache.get(key)
        if w is None:  # a handful of distinct profiles per axis on a regular grid
            w = self._cache[key] = np.multiply.outer(self.rows[i], self.cols[j])
            w.flags.writeable = False
        return w


__all__ = [
    "BLEND_MODES",
    "BlendMode",
    "BlendWeights",
    "axis_weights",
    "hann_axis_weights",
    "ownership_axis_weights",
    "sequential_axis_weights",
]
