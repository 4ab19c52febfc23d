"""Sentinel-2 reader: SAFE metadata offsets (both levels, with and without offsets), nodata masking,
target alignment by georeference, refusal of non-overlapping pairs, layout errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rasterio.windows import Window

from semcolor.datamodules.sentinel2 import (
    Sentinel2DataModule,
    Sentinel2Patches,
    open_pair,
    read_pair_window,
    read_safe_metadata,
)
from semcolor.errors import CorruptFileError, DatasetLayoutError, DatasetNotFoundError
from tests.fakes.sentinel2 import make_fake_sentinel2, write_geotiff_pair, write_safe

#: one DN in reflectance, plus float32 slack
DN_TOL = 0.6e-4


@pytest.mark.parametrize(
    ("level", "baseline", "offset"),
    [("L2A", "05.10", -1000), ("L2A", "03.01", None), ("L1C", "04.00", -1000), ("L1C", "03.01", None)],
)
def test_safe_offsets_and_nodata(tmp_path, level, baseline, offset):
    fake = write_safe(tmp_path, level, baseline, size=48, seed=3)
    assert fake.offset == offset
    meta = read_safe_metadata(fake.path)
    assert (meta.level, meta.baseline, meta.quantification) == (level, baseline, 10000.0)
    expected = 0.0 if offset is None else float(offset)
    assert [meta.offset(b) for b in ("B04", "B03", "B02")] == [expected] * 3

    pair = open_pair(fake.path, None)
    assert pair.offsets == [expected] * 3 and pair.kind == level
    arrays = read_pair_window(pair, Window(0, 0, 48, 48))
    # NODATA (0) and SATURATED (65535) are masked, the rest is valid
    np.testing.assert_array_equal(arrays["valid"], fake.valid)
    assert fake.valid.sum() < 48 * 48 - 100  # the nodata corner is really there
    # reflectance = (DN + offset) / 10000 reproduces the truth wherever valid, whatever the baseline
    x = arrays["input"]
    np.testing.assert_allclose(x[:, fake.valid], fake.reflectance[:, fake.valid], atol=DN_TOL)
    assert (x[:, ~fake.valid] == 0).all()
    # the DN themselves differ by the offset between baselines (the offset is not a no-op)
    if offset is not None:
        assert fake.dn[0][fake.valid].min() >= 1000


def test_missing_offset_list_means_zero_and_corrupt_xml(tmp_path):
    fake = write_safe(tmp_path / "a", "L2A", "02.14", size=16)
    assert read_safe_metadata(fake.path).offsets == {}
    (fake.path / "MTD_MSIL2A.xml").write_text("<n1:Level-2A_User_Product><unclosed>")
    with pytest.raises(CorruptFileError, match="MTD_MSIL2A.xml"):
        read_safe_metadata(fake.path)
    (fake.path / "MTD_MSIL2A.xml").unlink()
    with pytest.raises(DatasetLayoutError, match=r"MTD_MSIL2A.xml \(L2A\) or MTD_MSIL1C.xml"):
        read_safe_metadata(fake.path)


def test_nodata_patches_skipped(tmp_path):
    fake = write_safe(tmp_path, "L2A", "05.10", size=64, seed=1, saturated=0)
    pair = open_pair(fake.path, None)
    strict = Sentinel2Patches([pair], patch_size=32, min_valid_fraction=1.0, mask_decimation=1)
    lenient = Sentinel2Patches([pair], patch_size=32, min_valid_fraction=0.0, mask_decimation=1)
    assert len(lenient) == 4
    # the nodata triangle (r + c < 21) lies only in the top-left 32 x 32 window
    assert len(strict) == 3 and strict.skipped == 1
    assert all((int(w.row_off), int(w.col_off)) != (0, 0) for _, w in strict.items)
    s = lenient[0]
    assert s["name"].endswith("_0_0") and s["valid"].dtype == torch.bool
    assert not s["valid"][0, 0] and s["valid"][31, 31]
    assert s["input"][:, 0, 0].abs().sum() == 0 and s["target"].shape == (3, 32, 32)


def test_shifted_target_aligned_exactly(tmp_path):
    fake = write_geotiff_pair(tmp_path, "pair", size=40, seed=2, target_grid="shifted")
    pair = open_pair(fake.input, fake.target)
    assert not pair.target_same_grid
    for resampling in ("nearest", "bilinear"):
        from rasterio.enums import Resampling

        arrays = read_pair_window(pair, Window(3, 4, 30, 32), Resampling[resampling])
        np.testing.assert_array_equal(arrays["target"], fake.expected_target[:, 4:36, 3:33])
        assert arrays["valid"].all()
        np.testing.assert_allclose(arrays["input"], fake.reflectance[:, 4:36, 3:33], atol=DN_TOL)


def test_target_footprint_masks_uncovered_pixels(tmp_path):
    """A target covering only the right half of the input: the left half is invalid, the right exact."""
    from affine import Affine

    from tests.fakes.sentinel2 import CRS_T21, ORIGIN, PIXEL, _write

    fake = write_geotiff_pair(tmp_path, "half", size=32, seed=5)
    _write(fake.target, fake.expected_target[:, :, 16:], CRS_T21,
           Affine(PIXEL, 0.0, ORIGIN[0] + 16 * PIXEL, 0.0, -PIXEL, ORIGIN[1]))
    pair = open_pair(fake.input, fake.target)
    arrays = read_pair_window(pair, Window(0, 0, 32, 32))
    assert not arrays["valid"][:, :16].any() and arrays["valid"][:, 16:].all()
    np.testing.assert_array_equal(arrays["target"][:, :, 16:], fake.expected_target[:, :, 16:])
    assert pair.coverage(1).mean() == 0.5


def test_reprojected_target_content(tmp_path):
    """A 20 m target in the neighbouring UTM zone lands on the right pixels of the 10 m input grid."""
    fake = write_geotiff_pair(tmp_path, "pair", size=64, seed=4, target_grid="coarse_crs")
    pair = open_pair(fake.input, fake.target)
    assert not pair.target_same_grid
    arrays = read_pair_window(pair, Window(0, 0, 64, 64))
    ok = arrays["valid"]
    assert ok.mean() > 0.95
    got = arrays["target"].astype(np.float32)
    want = fake.expected_target.astype(np.float32)
    err = np.abs(got - want)[:, ok].mean()
    shifted = np.abs(got[:, :, 4:] - want[:, :, :-4])[:, ok[:, 4:]].mean()  # misaligned by 4 px
    assert err < 10.0 and err < 0.6 * shifted, (err, shifted)


def test_non_overlapping_pair_refused(tmp_path):
    fake = write_geotiff_pair(tmp_path, "faraway", size=16, target_grid="disjoint")
    with pytest.raises(DatasetLayoutError, match="does not overlap") as info:
        open_pair(fake.input, fake.target)
    assert "faraway.tif" in str(info.value) and "faraway_8bit.tif" in str(info.value)


def test_datamodule_splits_targets_and_errors(tmp_path):
    fake = make_fake_sentinel2(tmp_path / "s2", size=64)
    dm = Sentinel2DataModule(root=str(fake.root), patch_size=32, batch_size=2, scene_size=48)
    pairs = {p.name: p for p in dm.pairs("train")}
    l1c = fake.safes["train"][1]
    assert pairs[l1c.path.stem].target.name == f"{l1c.path.stem}_8bit.tif"  # the sidecar, not a TCI
    assert pairs[fake.safes["train"][0].path.stem].target.name.endswith("_TCI_10m" + fake.safes["train"][0].band_files["TCI"].suffix)
    assert not pairs["sahara_2020"].target_same_grid
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape == (2, 3, 32, 32) and batch["valid"].shape == (2, 32, 32)
    assert 0 <= batch["target"].min() and batch["target"].max() <= 1
    sc = dm.scene_tensors("test", 0)
    assert sc["input"].shape == (3, 48, 48) and sc["valid"].dtype == torch.bool

    with pytest.raises(DatasetNotFoundError, match="missing split folder"):
        Sentinel2DataModule(root=str(tmp_path / "nowhere")).pairs("train")
    (fake.root / "val" / "alps_2022_8bit.tif").unlink()
    with pytest.raises(DatasetLayoutError, match="alps_2022.tif' has no 8-bit target"):
        Sentinel2DataModule(root=str(fake.root)).pairs("val")
    with pytest.raises(DatasetLayoutError, match="no 8-bit target"):
        Sentinel2DataModule(root=str(fake.root), use_tci=False).pairs("test")
    with pytest.raises(DatasetLayoutError, match="at least 90% valid"):
        Sentinel2DataModule(root=str(fake.root), patch_size=128).build_dataset("test")
