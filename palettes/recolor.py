"""Palette-based recolouring by inverse-distance weights in CIELAB ab.

Xue 2025 (thesis), Eq. 4.1-4.2 (§4.3.4, after Nguyen et al. 2017 [134]; ch. 3 §3.3.1 describes the same
mapping in words: "performed in the Lab color space's ab channels ... weights determined by an inverse
distance weighting function, assigning larger weights to closer palette colors"). As printed,

    I^t(x, y) = I^s(x, y) + sum_i w_i (c_i^s - c_i^t),      w_i = 1 / (sum_i |I^s(x, y) - c_i^s|^2 + eps),  eps = 1e-4.

Implemented as its evident intent (Shepard's inverse-distance interpolation of the palette offsets):

    I^t_ab(x, y) = I^s_ab(x, y) + sum_i w_i(x, y) (c_i^t - c_i^s),
    w_i(x, y) = u_i / sum_j u_j,   u_i = 1 / (||I^s(x, y) - c_i^s||^2 + eps),

i.e. with the offset pointing from the source to the target colour (the printed ``c^s - c^t`` would move
colours away from their targets) and the weights normalised to sum to 1 (the printed denominator sums over
the same index as the numerator; normalised, a pixel equal to a palette colour gets exactly that colour's
offset). L is kept: only a and b move (§3.3.1; §4.5 says so explicitly). Palette colours that are left
unmatched keep ``c^t = c^s``: a zero offset that still takes part in the weights.

Distances are measured in ab (the signature takes ab palettes); with ``source_l`` the weights use full
CIELAB distances instead (the ch. 3 palettes are CIELAB colours; a dark and a light colour of similar ab are
then told apart). The offsets are applied to ab only in both cases.
"""

from __future__ import annotations

import numpy as np

__all__ = ["recolor_ab", "idw_weights"]


def idw_weights(points: np.ndarray, palette: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Normalised inverse squared-distance weights ``(n, k)`` of points ``(n, d)`` to palette colours ``(k, d)``."""
    d2 = ((points[:, None, :] - palette[None, :, :]) ** 2).sum(-1)
    u = 1.0 / (d2 + eps)
    return u / u.sum(1, keepdims=True)


def recolor_ab(lab_image: np.ndarray, source_ab: np.ndarray, target_ab: np.ndarray, eps: float = 1e-4,
               source_l: np.ndarray | None = None, chunk: int = 1 << 16) -> np.ndarray:
    """Recolour a CIELAB image ``(..., 3)`` by moving palette colours ``source_ab`` ``(k, 2)`` to ``target_ab`` ``(k, 2)``.

    Eq. 4.1-4.2 as read above (module docstring); L unchanged. ``source_l`` ``(k,)``: measure the weights'
    distances in full CIELAB. Processed in chunks of ``chunk`` pixels (memory ``chunk * k`` floats).
    Returns a new float32 array of the same shape.
    """
    lab = np.asarray(lab_image, np.float32)
    src = np.asarray(source_ab, np.float32).reshape(-1, 2)
    tgt = np.asarray(target_ab, np.float32).reshape(-1, 2)
    if lab.shape[-1] != 3:
        raise ValueError(f"lab_image must be shaped (..., 3), got {lab.shape}")
    if src.shape != tgt.shape or len(src) == 0:
        raise ValueError(f"source_ab and target_ab must both be (k, 2) with k >= 1, got {src.shape} and {tgt.shape}")
    offsets = tgt - src
    if source_l is None:
        centres, cols = src, slice(1, 3)
    else:
        centres, cols = np.concatenate([np.asarray(source_l, np.float32).reshape(-1, 1), src], 1), slice(0, 3)
    flat = lab.reshape(-1, 3)
    out = flat.copy()
    if not np.any(offsets):
        return out.reshape(lab.shape)
    for start in range(0, len(flat), chunk):
        block = flat[start:start + chunk]
        out[start:start + chunk, 1:] += idw_weights(block[:, cols], centres, eps) @ offsets
    return out.reshape(lab.shape)
