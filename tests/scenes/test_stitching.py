"""Tests of the stitched-scene evaluation (scenes/stitching.py, SECBNet Algorithm 1)."""

from __future__ import annotations

import json

import pytest
import torch

from semcolor.scenes.seams import seam_positions, seam_ratio
from semcolor.scenes.stitching import (
    cut_tiles,
    evaluate_scene,
    mean_scores,
    predict_tiles,
    stitch_grid,
    tile_starts,
    write_results,
)


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "expected"),
    [
        (256, 64, 0, [0, 64, 128, 192]),
        (250, 64, 0, [0, 64, 128, 186]),  # last tile flush with the border
        (256, 64, 16, [0, 48, 96, 144, 192]),
        (260, 64, 16, [0, 48, 96, 144, 192, 196]),
        (64, 64, 32, [0]),
        (2560, 256, 100, [0, 156, 312, 468, 624, 780, 936, 1092, 1248, 1404, 1560, 1716, 1872, 2028, 2184, 2304]),
    ],
)
def test_tile_starts_cover_the_axis(length, tile, overlap, expected):
    starts = tile_starts(length, tile, overlap)
    assert starts == expected
    assert starts[0] == 0 and starts[-1] + tile == length
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))  # neighbours share >= R


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 128, 0), (256, 64, 64), (256, 64, -1)])
def test_tile_starts_bad_arguments(length, tile, overlap):
    with pytest.raises(ValueError, match="tile|overlap"):
        tile_starts(length, tile, overlap)


@pytest.mark.parametrize(("size", "tile", "overlap"), [((96, 128), 32, 12), ((100, 90), 32, 10), ((64, 64), 16, 0)])
@pytest.mark.parametrize("mode", ["linear", "none", "cosine", "hann"])
def test_identity_tiles_reproduce_the_scene_exactly(size, tile, overlap, mode):
    torch.manual_seed(0)
    scene = torch.rand(3, *size)
    grid, rows, cols = cut_tiles(scene, tile, overlap)
    out = stitch_grid(grid, rows, cols, mode=mode)
    assert out.shape == scene.shape and out.dtype == scene.dtype
    assert torch.equal(out, scene)


def _sequential_reference(tiles, rows, cols, tile):
    """Algorithm 1 written out literally: stitch each column top to bottom, then the columns left to
    right; over each overlap of L pixels the strip so far gets 1 - P2 and the new block P2 = (k+1)/(L+1)."""

    def stitch(pieces, starts, dim):
        out = pieces[0]
        for piece, s in zip(pieces[1:], starts[1:]):
            n = out.shape[dim] - s
            p2 = (torch.arange(n, dtype=torch.float64) + 1) / (n + 1)
            shape = [1, 1, 1]
            shape[dim] = n
            p2 = p2.view(shape)
            mixed = (1 - p2) * out.narrow(dim, s, n) + p2 * piece.narrow(dim, 0, n)
            out = torch.cat([out.narrow(dim, 0, s), mixed, piece.narrow(dim, n, piece.shape[dim] - n)], dim)
        return out

    columns = [stitch([tiles[i][j].double() for i in range(len(rows))], rows, 1) for j in range(len(cols))]
    return stitch(columns, cols, 2)


@pytest.mark.parametrize(("size", "tile", "overlap"), [((80, 104), 32, 12), ((64, 70), 24, 10)])
def test_linear_mode_is_algorithm_1(size, tile, overlap):
    """Columns first, then rows, linear ramps: the separable weights give the same scene."""
    torch.manual_seed(3)
    scene = torch.rand(2, *size)
    grid, rows, cols = cut_tiles(scene, tile, overlap)
    tiles = [[t + torch.rand(()) for t in row] for row in grid]  # per-tile offsets: the overlaps disagree
    ref = _sequential_reference(tiles, rows, cols, tile)
    assert torch.allclose(stitch_grid(tiles, rows, cols, mode="linear").double(), ref, atol=1e-6)


def test_no_blend_is_a_cut_in_the_middle():
    a, b = torch.zeros(1, 8, 8), torch.ones(1, 8, 8)
    out = stitch_grid([[a, b]], [0], [0, 4], mode="none")  # 4 shared columns
    assert torch.equal(out[0, 0], torch.tensor([0.0] * 6 + [1.0] * 6))
    lin = stitch_grid([[a, b]], [0], [0, 4], mode="linear")
    assert torch.allclose(lin[0, 0, 4:8], torch.tensor([0.2, 0.4, 0.6, 0.8]))  # P1 * 0 + P2 * 1


def test_blending_lowers_the_seam_jump():
    """Tiles of a smooth scene with a per-tile brightness offset: blending removes the steps."""
    torch.manual_seed(1)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 160), torch.linspace(0, 1, 160), indexing="ij")
    scene = torch.stack([0.3 + 0.4 * xx, 0.2 + 0.5 * yy, 0.5 + 0.2 * xx * yy])
    tile, overlap = 48, 16
    grid, rows, cols = cut_tiles(scene, tile, overlap)
    offsets = torch.rand(len(rows), len(cols)) * 0.2 - 0.1
    shifted = [[grid[i][j] + offsets[i, j] for j in range(len(cols))] for i in range(len(rows))]
    seams = seam_positions(160, tile, overlap)
    ratios = {
        name: seam_ratio(img.numpy(), seams, seams)
        for name, img in (
            ("scene", scene),
            ("cut", stitch_grid(shifted, rows, cols, mode="none")),
            ("blend", stitch_grid(shifted, rows, cols, mode="linear")),
        )
    }
    print("seam ratios:", {k: round(v, 2) for k, v in ratios.items()})
    assert ratios["scene"] == pytest.approx(1.0, abs=0.05)
    assert ratios["cut"] > 5
    assert ratios["blend"] < 2 and ratios["blend"] < ratios["cut"] / 4


def test_bad_grids():
    with pytest.raises(ValueError, match="grid"):
        stitch_grid([[torch.zeros(1, 4, 4)]], [0, 2], [0])
    with pytest.raises(ValueError, match="blend mode"):
        stitch_grid([[torch.zeros(1, 4, 4)]], [0], [0], mode="median")
    with pytest.raises(ValueError, match="gaps"):
        stitch_grid([[torch.zeros(1, 4, 4), torch.zeros(1, 4, 4)]], [0], [0, 5])


def test_predict_tiles_and_evaluate_scene():
    torch.manual_seed(2)
    target = torch.rand(3, 80, 96)
    image = (target * 0.8 + 0.1).clamp(0, 1)
    calls = []

    def perfect(x):  # a "model" that undoes the cast exactly
        calls.append(x.shape[0])
        return ((x - 0.1) / 0.8).clamp(0, 1)

    grid, rows, cols = predict_tiles(perfect, image, 32, 8, batch_size=5)
    assert len(grid) == len(rows) and len(grid[0]) == len(cols)
    assert sum(calls) == len(rows) * len(cols) and max(calls) <= 5
    scores = evaluate_scene(perfect, image, target, tile=32, overlap=8, batch_size=8)
    assert set(scores) == {"tiles", "cut", "blend", "identity"}
    for mode in ("tiles", "cut", "blend"):
        assert scores[mode]["psnr"] > 50 and scores[mode]["ssim"] > 0.999
    assert scores["identity"]["psnr"] < 30
    avg = mean_scores([scores, scores])
    assert avg["blend"]["psnr"] == pytest.approx(scores["blend"]["psnr"])


def test_write_results(tmp_path):
    results = {
        "title": "t",
        "meta": {"method": "secbnet"},
        "tiles": [{"metric": "psnr", "model": 25.0, "identity": 20.0}],
        "stitched": [{"mode": "blend", "psnr": 26.0, "ssim": 0.9, "seam_ratio": 1.1}],
        "stitched_settings": {"overlap R": 24},
    }
    md, js = write_results(tmp_path / "run", results)
    text = md.read_text()
    assert "| psnr | 25.0000 | 20.0000 |" in text and "| blend | 26.0000 | 0.9000 | 1.1000 |" in text
    assert "overlap R 24" in text
    assert json.loads(js.read_text())["stitched"][0]["psnr"] == 26.0
