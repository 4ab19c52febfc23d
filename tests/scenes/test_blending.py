"""Blend weights: partitions of unity at every pixel, and SECBNet's Algorithm 1 reproduced."""

from __future__ import annotations

import numpy as np
import pytest

from semcolor.datamodules.raster import grid_starts
from semcolor.scenes.blending import BLEND_MODES, BlendWeights, axis_weights

# (length, tile, overlap): regular, odd remainder, shorter than a tile, exactly a tile, one pixel more,
# no overlap, overlap over half the tile (three windows on a pixel), one-pixel stride
AXES = [(1000, 256, 100), (777, 256, 64), (100, 256, 64), (256, 256, 64), (257, 256, 64), (500, 64, 0),
        (1000, 64, 40), (50, 8, 7)]


def _total(starts, weights, length):
    total = np.zeros(length)
    for s, w in zip(starts, weights):
        total[s : s + len(w)] += w
    return total


@pytest.mark.parametrize("mode", BLEND_MODES)
@pytest.mark.parametrize(("length", "tile", "overlap"), AXES)
def test_axis_weights_are_a_partition_of_unity(mode, length, tile, overlap):
    starts = grid_starts(length, tile, tile - overlap, "shift")
    weights = axis_weights(starts, tile, length, mode)
    assert [len(w) for w in weights] == [min(tile, length - s) for s in starts]
    assert all((w >= 0).all() for w in weights)
    np.testing.assert_allclose(_total(starts, weights, length), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", BLEND_MODES)
def test_2d_weights_sum_to_one_over_a_scene_not_a_multiple_of_the_stride(mode):
    h, w, tile, overlap = 203, 157, 64, 20
    rows = grid_starts(h, tile, tile - overlap, "shift")
    cols = grid_starts(w, tile, tile - overlap, "shift")
    bw = BlendWeights(rows, cols, tile, h, w, mode)
    total = np.zeros((h, w), np.float64)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            wt = bw(i, j)
            assert wt.dtype == np.float32 and wt.shape == (min(tile, h - r), min(tile, w - c))
            total[r : r + wt.shape[0], c : c + wt.shape[1]] += wt
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-6)


def test_linear_ramps_over_the_overlap_as_in_algorithm_1():
    tile, overlap = 10, 4
    starts = [0, 6, 12]  # regular grid over 22 pixels
    w = axis_weights(starts, tile, 22, "linear")
    ramp = np.arange(1, overlap + 1) / (overlap + 1)  # P2 rises, P1 = 1 - P2 falls
    np.testing.assert_allclose(w[1][:overlap], ramp)
    np.testing.assert_allclose(w[1][-overlap:], 1 - ramp)
    np.testing.assert_allclose(w[1][overlap:-overlap], 1.0)  # outside overlaps: the block alone
    np.testing.assert_allclose(w[0][: tile - overlap], 1.0)  # no ramp at the scene border
    np.testing.assert_allclose(w[2][overlap:], 1.0)


def _paper_stitch(blocks, tile, overlap):
    """Algorithm 1 literally: stitch each column of blocks top to bottom, blending the R overlapping rows
    with P1 * upper + P2 * lower, then stitch the column strips left to right the same way."""
    p2 = np.arange(1, overlap + 1) / (overlap + 1)

    def stitch(parts, axis):
        out = parts[0]
        for nxt in parts[1:]:
            a = np.moveaxis(out, axis, 0)
            b = np.moveaxis(nxt, axis, 0)
            shape = (-1,) + (1,) * (a.ndim - 1)
            mixed = (1 - p2).reshape(shape) * a[-overlap:] + p2.reshape(shape) * b[:overlap]
            out = np.moveaxis(np.concatenate([a[:-overlap], mixed, b[overlap:]]), 0, axis)
        return out

    columns = [stitch([blocks[i][j] for i in range(len(blocks))], axis=0) for j in range(len(blocks[0]))]
    return stitch(columns, axis=1)


def test_linear_mode_equals_the_papers_rows_then_columns_stitching():
    tile, overlap, n_rows, n_cols = 16, 5, 4, 3
    h, w = tile + (n_rows - 1) * (tile - overlap), tile + (n_cols - 1) * (tile - overlap)
    rows = grid_starts(h, tile, tile - overlap, "shift")
    cols = grid_starts(w, tile, tile - overlap, "shift")
    assert (len(rows), len(cols)) == (n_rows, n_cols)
    rng = np.random.default_rng(0)
    blocks = [[rng.random((tile, tile)) for _ in cols] for _ in rows]  # one prediction per window
    bw = BlendWeights(rows, cols, tile, h, w, "linear")
    ours = np.zeros((h, w))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ours[r : r + tile, c : c + tile] += bw(i, j) * blocks[i][j]
    np.testing.assert_allclose(ours, _paper_stitch(blocks, tile, overlap), rtol=0, atol=1e-6)


def test_none_gives_each_pixel_to_exactly_one_window_cut_mid_overlap():
    starts = grid_starts(300, 64, 48, "shift")
    weights = axis_weights(starts, 64, 300, "none")
    assert all(set(np.unique(w)) <= {0.0, 1.0} for w in weights)
    # the first cut is the middle of the first 16-pixel overlap [48, 64)
    assert weights[0][55] == 1 and weights[0][56] == 0 and weights[1][56 - 48] == 1


def test_hann_is_flat_towards_scene_borders():
    starts = grid_starts(400, 64, 48, "shift")
    weights = axis_weights(starts, 64, 400, "hann")
    np.testing.assert_allclose(weights[0][:48], 1.0)  # only window 0 covers [0, 48)
    assert weights[1][0] < 0.01 and (np.diff(weights[1][:16]) > 0).all()  # interior windows taper in
    np.testing.assert_allclose(weights[1][16:48], 1.0)  # where no other window reaches


def test_unknown_mode_and_gaps_are_refused():
    with pytest.raises(ValueError, match="blend mode"):
        axis_weights([0], 8, 8, "gaussian")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gaps"):
        axis_weights([0, 10], 8, 18, "linear")
