"""Eq. 4.1-4.2 recolouring: palette colours land on their targets, L is kept, weights sum to one."""

from __future__ import annotations

import numpy as np
import pytest

from semcolor.palettes.recolor import idw_weights, recolor_ab


def _reference(lab, src, tgt, eps):
    """Per-pixel loop of Eq. 4.1-4.2 (normalised Shepard weights, offset target - source)."""
    out = lab.copy()
    for idx in np.ndindex(lab.shape[:-1]):
        u = np.array([1.0 / (np.sum((lab[idx][1:] - s) ** 2) + eps) for s in src])
        out[idx][1:] = lab[idx][1:] + (u / u.sum()) @ (tgt - src)
    return out


def test_matches_a_per_pixel_loop_and_keeps_lightness():
    rng = np.random.default_rng(1)
    lab = np.concatenate([rng.uniform(0, 100, (6, 5, 1)), rng.uniform(-60, 60, (6, 5, 2))], -1).astype(np.float32)
    src = rng.uniform(-50, 50, (4, 2)).astype(np.float32)
    tgt = src + rng.uniform(-10, 10, (4, 2)).astype(np.float32)
    out = recolor_ab(lab, src, tgt, chunk=7)
    np.testing.assert_allclose(out, _reference(lab, src, tgt, 1e-4), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(out[..., 0], lab[..., 0])


def test_palette_colours_map_to_their_targets():
    src = np.array([[10.0, 20.0], [-30.0, 5.0], [0.0, -40.0]], np.float32)
    tgt = np.array([[15.0, 10.0], [-30.0, 5.0], [5.0, -45.0]], np.float32)  # the middle one unmatched
    lab = np.concatenate([np.full((3, 1), 50.0, np.float32), src], 1)
    out = recolor_ab(lab, src, tgt)
    np.testing.assert_allclose(out[:, 1:], tgt, atol=1e-3)


def test_full_lab_weights_tell_dark_from_light():
    src = np.array([[0.0, 0.0], [0.0, 0.0]], np.float32)
    tgt = np.array([[10.0, 0.0], [-10.0, 0.0]], np.float32)
    lab = np.array([[20.0, 0.0, 0.0], [80.0, 0.0, 0.0]], np.float32)
    ab_only = recolor_ab(lab, src, tgt)
    np.testing.assert_allclose(ab_only[:, 1], 0.0, atol=1e-4)  # same ab: offsets average out
    full = recolor_ab(lab, src, tgt, source_l=np.array([20.0, 80.0]))
    np.testing.assert_allclose(full[:, 1], [10.0, -10.0], atol=1e-3)


def test_weights_sum_to_one_and_bad_shapes_fail():
    w = idw_weights(np.random.default_rng(0).normal(size=(9, 2)), np.eye(2) * 5)
    np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="source_ab and target_ab"):
        recolor_ab(np.zeros((2, 2, 3)), np.zeros((3, 2)), np.zeros((2, 2)))
