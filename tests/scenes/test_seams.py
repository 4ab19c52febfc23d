"""Seam ratio and stitched-scene PSNR / SSIM: definitions, streaming equals in-memory, valid pixels only."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from semcolor.scenes.seams import (
    scene_scores,
    scene_scores_file,
    seam_positions,
    seam_ratio,
    seam_ratio_file,
    seam_sums,
)


def _write(path, data, nodata=None):
    c, h, w = data.shape
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=c, dtype=data.dtype.name,
                       nodata=nodata, crs="EPSG:32650",
                       transform=rasterio.transform.from_origin(0, 0, 1, 1)) as dst:
        dst.write(data)
    return path


def test_seam_positions_are_the_middles_of_the_overlaps():
    assert seam_positions(300, 64, 16) == [56, 104, 152, 200, 246]  # last window shifted to 236
    assert seam_positions(256, 64, 0) == [64, 128, 192]  # no overlap: tile edges
    assert seam_positions(50, 64, 16) == []


def test_smooth_ramp_scores_one_and_tile_offsets_score_high():
    h, w = 128, 160
    ramp = np.tile(np.linspace(0, 1, w, dtype=np.float32), (3, h, 1))
    rows, cols = seam_positions(h, 32, 0), seam_positions(w, 32, 0)
    assert seam_ratio(ramp, rows, cols) == pytest.approx(1.0, rel=1e-5)
    rng = np.random.default_rng(0)
    offsets = np.kron(rng.uniform(-0.1, 0.1, (h // 32, w // 32)), np.ones((32, 32))).astype(np.float32)
    assert seam_ratio(ramp + offsets, rows, cols) > 5


def test_invalid_pixels_do_not_count():
    rng = np.random.default_rng(1)
    img = rng.random((3, 64, 64)).astype(np.float32)
    valid = np.ones((64, 64), bool)
    valid[:, 30:34] = False  # a nodata strip across the column seam at 32
    changed = img.copy()
    changed[:, :, 30:34] = 5.0  # whatever lies under nodata
    a, b = seam_sums(img, [32], [32], valid), seam_sums(changed, [32], [32], valid)
    assert a.ratio == pytest.approx(b.ratio) and a.n_across == b.n_across == [0, 60]  # column seam all nodata
    assert seam_sums(img, [32], [32]).n_across == [64, 64]


@pytest.mark.parametrize("block_rows", [7, 64, 1000])
def test_streamed_file_scores_equal_in_memory(tmp_path, block_rows):
    rng = np.random.default_rng(2)
    pred = rng.integers(1, 256, (3, 150, 97), dtype=np.uint8)
    target = np.clip(pred.astype(int) + rng.integers(-20, 21, pred.shape), 1, 255).astype(np.uint8)
    pred[:, :20, :30] = 0  # nodata corner
    target[:, :20, :30] = 0
    p, t = _write(tmp_path / "p.tif", pred, 0), _write(tmp_path / "t.tif", target, 0)
    valid = ~(pred == 0).all(0)
    streamed = seam_ratio_file(p, 32, 8, block_rows=block_rows)
    memory = seam_sums(pred.astype(np.float32) / 255, seam_positions(150, 32, 8), seam_positions(97, 32, 8), valid)
    assert streamed.n_across == memory.n_across and streamed.n_inside == memory.n_inside
    assert streamed.ratio == pytest.approx(memory.ratio, rel=1e-6)
    s = scene_scores_file(p, t, block_rows=block_rows)
    m = scene_scores(pred.astype(np.float32) / 255, target.astype(np.float32) / 255, valid)
    assert s.n_err == m.n_err and s.n_ssim == m.n_ssim
    assert s.psnr == pytest.approx(m.psnr, abs=1e-4) and s.ssim == pytest.approx(m.ssim, abs=1e-6)


def test_scores_match_scikit_image_when_every_pixel_is_valid():
    rng = np.random.default_rng(3)
    a = rng.random((3, 90, 70)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    s = scene_scores(a, b)
    assert s.psnr == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-4)
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                channel_axis=0, data_range=1.0)
    assert s.ssim == pytest.approx(ref, abs=1e-5)


def test_nodata_pixels_do_not_change_the_scores(tmp_path):
    rng = np.random.default_rng(4)
    pred = rng.integers(1, 256, (3, 60, 60), dtype=np.uint8)
    target = pred.copy()
    pred[:, 40:, 40:] = 0
    target[:, 40:, 40:] = 77  # ground truth has values where the prediction is nodata
    s = scene_scores_file(_write(tmp_path / "p.tif", pred, 0), _write(tmp_path / "t.tif", target, 0))
    assert s.psnr == float("inf") and s.ssim == pytest.approx(1.0)
