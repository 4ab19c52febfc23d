"""Weighted k-means and the source palette of an image (Xue 2025 (thesis), §3.3.1).

The source palette of an image is the set of k-means centres of its CIELAB colours, with k chosen from
2..7 by the explained-variance rule (§3.3.1, l.844 of the thesis text): "the number of cluster centers k_i
is determined by the percentage of explained variance, calculating the ratio between the total distortion
and within-group distortion ... The optimal k_i value is chosen when the ratio is lower than 0.1".

How the ratio is defined here (the text breaks off without a formula, and "total / within-group" read
literally is always >= 1, so it could never fall below 0.1):

    ratio(k) = d_k / d_1,   d_k = sum_x w_x ||x - c(x)||^2   (k-means within-group distortion, squared CIELAB
                                                               distances, c(x) the centre of x's cluster),
                            d_1 = sum_x w_x ||x - mean||^2   (the total distortion = the k = 1 distortion),

i.e. one minus the explained variance (d_1 - d_k) / d_1, the same test as ch. 4 §4.3.2 (there with
explained variance > 0.93). The palette is that of the smallest k in ``k_range`` with ratio(k) < ``ratio``;
when no k reaches it, the largest k (7). ``ratio`` is 0.1 (explained variance > 90 %).

Speed: k-means runs on the image's colour histogram, not on its pixels (as ch. 4 §4.3.2 does "to reduce
computational complexity"): CIELAB is cut into cubic bins of ``bin_size`` units (2 by default), each
occupied bin is one point at the mean colour of its pixels, weighted by its pixel count. A 512 x 512 photo
has a few thousand occupied bins instead of 262 144 pixels; both distortions then leave out the scatter
inside the bins (at most ``bin_size``^2 / 4 per pixel, against a d_1 of hundreds). The clustering itself is
scikit-learn's :class:`~sklearn.cluster.KMeans` with ``sample_weight``, k-means++ seeding and a fixed seed,
so palettes are deterministic.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Palette", "weighted_kmeans", "source_palette", "color_histogram", "K_RANGE", "RATIO"]

#: §3.3.1: k from 2 to 7, chosen when the distortion ratio is below 0.1
K_RANGE = (2, 7)
RATIO = 0.1
_L_RANGE, _AB_RANGE = (0.0, 100.0), (-128.0, 128.0)


@dataclass
class Palette:
    """A palette: CIELAB colours, their pixel shares, and optionally which colour each pixel belongs to.

    Attributes:
        centers: ``(k, 3)`` float32 CIELAB colours.
        shares: ``(k,)`` float32 fractions of the pixels (or weights) per colour, summing to 1.
        labels: ``(H, W)`` int of palette indices per pixel (the colour segmentation map of §3.3.3), or None.
    """

    centers: np.ndarray
    shares: np.ndarray
    labels: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.centers = np.asarray(self.centers, np.float32).reshape(-1, 3)
        self.shares = np.asarray(self.shares, np.float32).reshape(-1)
        if len(self.centers) != len(self.shares):
            raise ValueError(f"{len(self.centers)} palette colours but {len(self.shares)} shares")

    def __len__(self) -> int:
        return len(self.centers)


def _fit(points: np.ndarray, weights: np.ndarray, k: int, seed: int, n_init: int) -> tuple[np.ndarray, np.ndarray, float]:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points than k: handled below
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(points, sample_weight=weights)
    return km.cluster_centers_, km.labels_, float(km.inertia_)


def weighted_kmeans(points: np.ndarray, weights: np.ndarray, k: int, seed: int = 0,
                    n_init: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """k-means of ``points`` ``(n, d)`` weighted by ``weights`` ``(n,)`` -> ``(centers (k, d), shares (k,))``.

    ``shares`` are each cluster's fraction of the total weight. With fewer than ``k`` distinct weighted
    points, ``k`` is lowered to their number (so the result may have fewer rows). Seeded (``seed``) and
    deterministic; scikit-learn's KMeans with ``sample_weight``.
    """
    centers, shares, _, _ = _weighted_kmeans(points, weights, k, seed, n_init)
    return centers, shares


def _weighted_kmeans(points: np.ndarray, weights: np.ndarray, k: int, seed: int,
                     n_init: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    points = np.asarray(points, np.float64)
    weights = np.asarray(weights, np.float64).reshape(-1)
    if points.ndim != 2 or len(points) != len(weights):
        raise ValueError(f"points must be (n, d) with one weight each, got {points.shape} and {weights.shape}")
    keep = weights > 0
    if not keep.any():
        raise ValueError("weighted_kmeans needs at least one point with positive weight")
    distinct = len(np.unique(points[keep], axis=0))
    k = max(1, min(int(k), distinct))
    centers, labels, inertia = _fit(points[keep], weights[keep], k, seed, n_init)
    shares = np.bincount(labels, weights=weights[keep], minlength=k)
    full = np.full(len(points), -1, np.int64)
    full[keep] = labels
    return centers.astype(np.float32), (shares / shares.sum()).astype(np.float32), full, inertia


def color_histogram(lab: np.ndarray, bin_size: float = 2.0,
                    mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupied CIELAB bins of ``lab`` ``(..., 3)``: ``(colours (n, 3) = mean Lab per bin, counts (n,),
    bin of every pixel (...) as an index into them, -1 outside ``mask``)``."""
    lab = np.asarray(lab, np.float32)
    flat = lab.reshape(-1, 3)
    n_l = int(np.ceil((_L_RANGE[1] - _L_RANGE[0]) / bin_size)) + 1
    n_ab = int(np.ceil((_AB_RANGE[1] - _AB_RANGE[0]) / bin_size)) + 1
    il = np.clip(((flat[:, 0] - _L_RANGE[0]) / bin_size).astype(np.int64), 0, n_l - 1)
    ia = np.clip(((flat[:, 1] - _AB_RANGE[0]) / bin_size).astype(np.int64), 0, n_ab - 1)
    ib = np.clip(((flat[:, 2] - _AB_RANGE[0]) / bin_size).astype(np.int64), 0, n_ab - 1)
    code = (il * n_ab + ia) * n_ab + ib
    if mask is not None:
        code = np.where(np.asarray(mask, bool).reshape(-1), code, -1)
    valid = code >= 0
    # dense bin counts over the whole grid (51 x 129 x 129 bins for bin_size 2): faster than np.unique's sort
    dense = np.bincount(code[valid], minlength=n_l * n_ab * n_ab)
    occupied = np.flatnonzero(dense)
    lookup = np.full(len(dense), -1, np.int64)
    lookup[occupied] = np.arange(len(occupied))
    pixel_bin = np.where(valid, lookup[np.maximum(code, 0)], -1)
    inverse = pixel_bin[valid]
    counts = dense[occupied].astype(np.float64)
    sums = np.stack([np.bincount(inverse, weights=flat[valid, c], minlength=len(occupied)) for c in range(3)], 1)
    return (sums / counts[:, None]).astype(np.float32), counts, pixel_bin.reshape(lab.shape[:-1])


def source_palette(lab_image: np.ndarray, k_range: tuple[int, int] = K_RANGE, ratio: float = RATIO,
                   bin_size: float = 2.0, seed: int = 0, n_init: int = 3,
                   mask: np.ndarray | None = None) -> Palette:
    """The source palette of a CIELAB image ``(H, W, 3)`` (§3.3.1), k chosen by the explained-variance rule.

    Args:
        lab_image: CIELAB pixels ``(H, W, 3)`` (e.g. :func:`semcolor.palettes.color.rgb_to_lab_np`).
        k_range: smallest and largest k tried (2 and 7).
        ratio: the distortion ratio d_k / d_1 that k must get below (0.1; see the module docstring).
        bin_size: CIELAB histogram bin side.
        seed, n_init: k-means seeding.
        mask: optional ``(H, W)`` bool: only these pixels count (others get label -1).

    Returns:
        :class:`Palette` with centres, pixel shares and the per-pixel label map.
    """
    lo, hi = int(k_range[0]), int(k_range[1])
    if not 1 <= lo <= hi:
        raise ValueError(f"k_range must be (lo, hi) with 1 <= lo <= hi, got {k_range}")
    colours, counts, pixel_bin = color_histogram(lab_image, bin_size, mask)
    if len(colours) == 0:
        raise ValueError("source_palette: no pixel to cluster")
    mean = np.average(colours, axis=0, weights=counts)
    d_1 = float((counts * ((colours - mean) ** 2).sum(1)).sum())
    best = None
    for k in range(lo, hi + 1):
        centers, shares, labels, d_k = _weighted_kmeans(colours, counts, k, seed, n_init)
        best = (centers, shares, labels)
        if d_1 <= 0 or d_k / d_1 < ratio or len(centers) < k:  # one colour only, or fewer distinct colours than k
            break
    centers, shares, labels = best
    pixel_labels = np.where(pixel_bin >= 0, labels[np.maximum(pixel_bin, 0)], -1)
    return Palette(centers, shares, pixel_labels)
