"""Perception-distortion (P-D) curves and the area of the unattainable region (AUR): Xue 2025 (thesis), Sec.
5.4.1 Eq. 5.5, Fig. 5.2 and Sec. 5.5.1 ("Modification of P-D curve").

A P-D curve is a set of points ``(D_k, P_k)`` -- one per interpolated model ``theta(alpha)`` -- with distortion
``D`` (RMSE in [0, 1]) and perception ``P`` (NIQE, BRISQUE, ...; lower is better for both).

Curve modification (Sec. 5.5.1, Fig. 5.2's "extended when derivative is 0 or inf"), formalised here as the
empirical P-D function of the finite family of models, ``P(D) = min {P_k : D_k <= D}``:

1. only the Pareto points are kept (sorted by D, each with a lower P than every point to its left). This
   removes both "inflection points" of the text: interpolated models with a lower distortion than the
   stage-1 anchor, and a perception that gets worse again near alpha = 1 (GAN artefacts);
2. consecutive Pareto points are joined by straight segments (``mode="linear"``, the drawn curve) or by the
   staircase ``min {P_k : D_k <= D}`` itself (``mode="stair"``);
3. extensions: vertical (derivative infinite) left of the lowest distortion, where no model reaches and
   ``P = +inf``; horizontal (derivative 0) right of the point of lowest perception.

AUR (Eq. 5.5, whose ``dx`` is ``dD``): ``AUR = integral over [D_min, D_max] of (P^(D) - P_min) dD`` with ``P^``
the function clamped to ``[P_min, P_max]`` -- clamped *after* the interpolation. The thesis asks to
"normalise the value first" without a formula; normalising an area can only be a constant factor, so
``normalize=True`` divides by the box area ``(D_max - D_min)(P_max - P_min)``, giving AUR in [0, 1]. With
``P_min = 0`` (the thesis's box ``[0, 0.3] x [0, 150]``) the subtraction of ``P_min`` changes nothing. Lower
is better. The integral is exact (piecewise linear between breakpoints and clamp crossings), no grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from torch import Tensor

__all__ = ["DISTORTION_RANGE", "PERCEPTION_RANGE", "aur", "modified_curve", "pareto_front", "rmse"]

#: the thesis's box (Sec. 5.5.1): [D_min, D_max] = [0, 0.3], [P_min, P_max] = [0, 150]
DISTORTION_RANGE = (0.0, 0.3)
PERCEPTION_RANGE = (0.0, 150.0)
CurveMode = Literal["linear", "stair"]


def rmse(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image RMSE over all channels and pixels, images in [0, 1] (``pred`` clamped): ``(N,)``."""
    if pred.shape != target.shape:
        raise ValueError(f"rmse: shapes differ, {tuple(pred.shape)} vs {tuple(target.shape)}")
    return (pred.clamp(0, 1) - target).pow(2).flatten(1).mean(1).sqrt()


def _points(distortion: Sequence[float], perception: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    d, p = np.asarray(distortion, dtype=np.float64).ravel(), np.asarray(perception, dtype=np.float64).ravel()
    if d.shape != p.shape or d.size == 0:
        raise ValueError(f"a P-D curve needs as many distortion as perception values (>= 1), got {d.size} and {p.size}")
    keep = np.isfinite(d) & np.isfinite(p)
    if not keep.any():
        raise ValueError("a P-D curve needs at least one finite (D, P) point")
    return d[keep], p[keep]


def pareto_front(distortion: Sequence[float], perception: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The non-dominated points sorted by distortion: D increasing, P strictly decreasing."""
    d, p = _points(distortion, perception)
    order = np.lexsort((p, d))  # by D, ties by P
    keep_d, keep_p, best = [], [], np.inf
    for di, pi in zip(d[order], p[order]):
        if pi < best:
            keep_d.append(di)
            keep_p.append(pi)
            best = pi
    return np.array(keep_d), np.array(keep_p)


def modified_curve(distortion: Sequence[float], perception: Sequence[float], d_max: float = DISTORTION_RANGE[1],
                   p_max: float = PERCEPTION_RANGE[1], mode: CurveMode = "linear") -> tuple[np.ndarray, np.ndarray]:
    """The modified curve as a polyline for plotting: up at the lowest D to ``p_max``, the Pareto points
    (linear or staircase), then flat to ``d_max``."""
    d, p = pareto_front(distortion, perception)
    xs, ys = [d[0]], [max(p_max, p[0])]
    for k in range(len(d)):
        if mode == "stair" and k:
            xs.append(d[k])
            ys.append(p[k - 1])
        xs.append(d[k])
        ys.append(p[k])
    xs.append(max(d_max, d[-1]))
    ys.append(p[-1])
    return np.array(xs), np.array(ys)


def _clamped_segment_area(a: float, b: float, fa: float, fb: float, lo: float, hi: float) -> float:
    """Integral over [a, b] of ``clamp(f, lo, hi) - lo`` for f linear from fa to fb (both finite)."""
    if b <= a:
        return 0.0
    xs = [a, b]
    if fa != fb:
        for level in (lo, hi):
            t = (level - fa) / (fb - fa)
            if 0.0 < t < 1.0:
                xs.append(a + t * (b - a))
    xs = sorted(xs)
    f = np.clip(np.interp(xs, [a, b], [fa, fb]), lo, hi) - lo
    return float(np.sum(np.diff(xs) * (f[1:] + f[:-1]) / 2))


def aur(distortion: Sequence[float], perception: Sequence[float], d_range: tuple[float, float] = DISTORTION_RANGE,
        p_range: tuple[float, float] = PERCEPTION_RANGE, mode: CurveMode = "linear", normalize: bool = True) -> float:
    """Area of the unattainable region (Eq. 5.5) of the modified P-D curve inside the box; see the module
    docstring. ``normalize`` divides by the box area (AUR in [0, 1])."""
    (d0, d1), (lo, hi) = d_range, p_range
    if not (d1 > d0 and hi > lo):
        raise ValueError(f"the AUR box needs D_max > D_min and P_max > P_min, got {d_range} and {p_range}")
    d, p = pareto_front(distortion, perception)
    # pieces (start, end, f(start), f(end)) covering (-inf, inf); f linear on each
    pieces = [(-np.inf, d[0], np.inf, np.inf)]
    for k in range(len(d) - 1):
        pieces.append((d[k], d[k + 1], p[k], p[k + 1] if mode == "linear" else p[k]))
    pieces.append((d[-1], np.inf, p[-1], p[-1]))
    area = 0.0
    for a, b, fa, fb in pieces:
        s, e = max(a, d0), min(b, d1)
        if e <= s:
            continue
        if np.isinf(fa):  # vertical extension: unattainable, P clamps to P_max
            area += (e - s) * (hi - lo)
            continue
        if np.isinf(a) or np.isinf(b) or fa == fb:
            fs = fe = fa
        else:
            fs, fe = np.interp([s, e], [a, b], [fa, fb])
        area += _clamped_segment_area(s, e, fs, fe, lo, hi)
    return area / ((d1 - d0) * (hi - lo)) if normalize else area

