"""GID: layouts, colour labels, band selection, windowed patches, splits, balance-test tiles."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from semcolor.datamodules import raster
from semcolor.datamodules.gid import (
    GID5_COLOURS,
    GID15_COLOURS,
    GIDDataModule,
    GIDPatches,
    find_tree,
)
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError, SemcolorError
from tests.fakes.remote_sensing import UNKNOWN_COLOUR, make_fake_gid

H, W = 300, 320  # not a multiple of the patch sizes used below


@pytest.fixture(scope="module")
def gid15(tmp_path_factory: pytest.TempPathFactory):
    return make_fake_gid(tmp_path_factory.mktemp("gid15"), classes=15, size=(H, W), seed=1)


@pytest.fixture(scope="module")
def gid5(tmp_path_factory: pytest.TempPathFactory):
    return make_fake_gid(tmp_path_factory.mktemp("gid5"), classes=5, size=(H, W), seed=2)


def _dm(fake, **kw) -> GIDDataModule:
    kw.setdefault("patch_size", 128)
    kw.setdefault("augment", False)
    return GIDDataModule(root=str(fake.root), classes=fake.classes, **kw)


def _sample_at(ds: GIDPatches, scene: str, row: int, col: int) -> dict:
    for i, (si, w) in enumerate(ds.grid):
        if ds.scenes[si].name == scene and (w.row_off, w.col_off) == (row, col):
            return ds[i]
    raise AssertionError(f"no window at {row},{col} of {scene}")


# -- layout ----------------------------------------------------------------------------------------
def test_layout_with_spaces_found_and_patch_equals_slicing(gid15):
    assert " " in gid15.tree.name
    dm = _dm(gid15)
    assert sorted(dm.scenes()) == sorted(gid15.scenes)  # readme.txt / Thumbs.db ignored
    ds = dm.build_dataset("val")
    scene = dm.split_names()["val"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", raster.UnknownColorWarning)
        s = _sample_at(ds, scene, 128, 192)
    want = torch.from_numpy(gid15.rgb[scene][:, 128:256, 192:320].astype(np.float32) / 255)
    assert s["input"].shape == (3, 128, 128) and s["input"].dtype == torch.float32
    torch.testing.assert_close(s["input"], want)
    assert s["seg"].dtype == torch.int64
    assert torch.equal(s["seg"], torch.from_numpy(gid15.seg[scene][128:256, 192:320]))
    assert s["name"] == f"{scene}_128_192"
    assert dm.num_classes == 16 and dm.ignore_index == 0


def test_underscore_folder_names_and_root_at_tree(tmp_path):
    fake = make_fake_gid(tmp_path, classes=15, n_scenes=2, size=(64, 64), underscores=True)
    assert " " not in fake.tree.name
    assert find_tree(tmp_path, 15) == fake.tree
    assert find_tree(fake.tree, 15) == fake.tree  # root may be the tree itself
    dm = GIDDataModule(root=str(fake.tree), patch_size=32, augment=False)
    assert sorted(dm.scenes()) == sorted(fake.scenes)


def test_gid5_colours_and_default_split(gid5):
    dm = _dm(gid5)
    assert dm.num_classes == 6 and dm.ignore_index == 0
    names = sorted(gid5.scenes)
    split = dm.split_names()
    assert split["val"] == [names[4]]  # every 5th scene in name order
    assert set(split["train"]) == set(names[:4])
    ds = dm.build_dataset("train")
    scene = ds.scenes[0].name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", raster.UnknownColorWarning)
        s = _sample_at(ds, scene, 128, 128)
    assert torch.equal(s["seg"], torch.from_numpy(gid5.seg[scene][128:256, 128:256]))
    assert int(s["seg"].max()) <= 5


def test_missing_root_names_root_and_layout(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as err:
        _ = GIDDataModule(root=str(missing)).scenes()
    msg = str(err.value)
    assert str(missing) in msg and "Fine Land-cover Classification_15classes" in msg
    assert "label_15classes" in msg


def test_wrong_layout_errors(tmp_path, gid5):
    (tmp_path / "something_else").mkdir()
    with pytest.raises(DatasetNotFoundError, match="image_RGB"):
        GIDDataModule(root=str(tmp_path)).scenes()
    # a GID-5 tree when asking for GID-15: say so
    with pytest.raises(DatasetNotFoundError, match="classes=5"):
        GIDDataModule(root=str(gid5.root), classes=15).scenes()


def test_unmatched_image_strict_and_lenient(tmp_path):
    fake = make_fake_gid(tmp_path, classes=15, n_scenes=3, size=(64, 64))
    lonely = fake.scenes[0]
    (fake.tree / "label_15classes" / f"{lonely}_label.tif").unlink()
    with pytest.raises(DatasetLayoutError, match=lonely):
        GIDDataModule(root=str(tmp_path)).scenes()
    with pytest.warns(UserWarning, match=lonely):
        scenes = GIDDataModule(root=str(tmp_path), strict=False).scenes()
    assert lonely not in scenes and len(scenes) == 2


def test_label_size_mismatch_errors(tmp_path):
    from tests.fakes.remote_sensing import write_geotiff

    fake = make_fake_gid(tmp_path, classes=15, n_scenes=2, size=(64, 64))
    bad = fake.tree / "label_15classes" / f"{fake.scenes[1]}_label.tif"
    write_geotiff(bad, np.zeros((3, 64, 60), np.uint8))
    with pytest.raises(DatasetLayoutError, match=str(bad)):
        GIDDataModule(root=str(tmp_path)).scenes()


# -- colour labels ---------------------------------------------------------------------------------
def test_rgb_to_index_table_and_unknown():
    rgb = np.array([[GID15_COLOURS[3], UNKNOWN_COLOUR, GID15_COLOURS[15], (0, 0, 0)]], np.uint8)
    idx, n, example = raster.rgb_to_index(rgb, GID15_COLOURS)
    assert idx.tolist() == [[3, 0, 15, 0]] and n == 1 and example == UNKNOWN_COLOUR
    idx5, n5, _ = raster.rgb_to_index(np.array([[GID5_COLOURS[5], (200, 0, 0)]], np.uint8), GID5_COLOURS)
    assert idx5.tolist() == [[5, 0]] and n5 == 1  # a GID-15 colour is unknown to GID-5


def test_unknown_colours_warn_once_per_file_with_count(gid15):
    ds = _dm(gid15).build_dataset("val")
    scene = ds.scenes[0]
    with pytest.warns(raster.UnknownColorWarning) as rec:
        s = _sample_at(ds, scene.name, 0, 0)
    msgs = [str(r.message) for r in rec if issubclass(r.category, raster.UnknownColorWarning)]
    assert len(msgs) == 1
    assert str(scene.label) in msgs[0] and f"{gid15.unknown_pixels[scene.name]} pixels" in msgs[0]
    assert ds.unknown_colors[str(scene.label)] == gid15.unknown_pixels[scene.name]
    assert torch.equal(s["seg"], torch.from_numpy(gid15.seg[scene.name][:128, :128]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", raster.UnknownColorWarning)
        _sample_at(ds, scene.name, 0, 0)  # counted again, no second warning
    assert ds.unknown_colors[str(scene.label)] == 2 * gid15.unknown_pixels[scene.name]


# -- bands -----------------------------------------------------------------------------------------
def test_nirrgb_band_selection_equals_rgb_file(gid15):
    rgb = _dm(gid15).build_dataset("val")
    by_name = _dm(gid15, image_type="NirRGB", bands=["R", "G", "B"]).build_dataset("val")
    by_pos = _dm(gid15, image_type="NirRGB", bands=[1, 2, 3]).build_dataset("val")
    all4 = _dm(gid15, image_type="NirRGB").build_dataset("val")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", raster.UnknownColorWarning)
        for i in (0, 5):
            a = rgb[i]["input"]
            assert torch.equal(by_name[i]["input"], a)
            assert torch.equal(by_pos[i]["input"], a)
            four = all4[i]["input"]
            assert four.shape[0] == 4 and torch.equal(four[1:], a)
            assert not torch.equal(four[0], a[0])  # band 0 is NIR


def test_rgb_bands_from_rgb_file_work(gid15):
    ds = _dm(gid15, bands=["B", "G", "R"]).build_dataset("val")
    plain = _dm(gid15).build_dataset("val")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", raster.UnknownColorWarning)
        assert torch.equal(ds[1]["input"], plain[1]["input"].flip(0))


def test_nir_from_three_band_file_names_the_file(gid15):
    with pytest.raises(DatasetLayoutError) as err:
        _dm(gid15, image_type="RGB", bands=["NIR", "R", "G"]).scenes()
    msg = str(err.value)
    assert "image_RGB" in msg and ".tif" in msg and "NIR" in msg and "3 bands" in msg
    with pytest.raises(DatasetLayoutError, match="out of range"):
        _dm(gid15, image_type="RGB", bands=[3]).scenes()


# -- windows ---------------------------------------------------------------------------------------
def test_grid_starts_edge_policies():
    assert raster.grid_starts(300, 128, 128, "shift") == [0, 128, 172]
    assert raster.grid_starts(300, 128, 128, "drop") == [0, 128]
    assert raster.grid_starts(300, 128, 128, "pad") == [0, 128, 256]
    assert raster.grid_starts(256, 128, 128, "shift") == [0, 128]  # exact multiple: no extra
    assert raster.grid_starts(256, 128, 96, "pad") == [0, 96, 192]
    assert raster.grid_starts(100, 128, 128, "shift") == [0]  # overhangs, read boundless
    assert raster.grid_starts(100, 128, 128, "drop") == []
    wins = raster.window_grid((300, 320), 128, offset=(10, 20))
    assert [(w.row_off, w.col_off) for w in wins[:4]] == [(10, 20), (10, 148), (10, 212), (138, 20)]


def test_patches_are_windows_never_the_whole_scene(gid15, monkeypatch):
    reads: list = []
    real = raster.read_window

    def spy(src, window, *a, **k):
        reads.append((Path(src.name).name, int(window.height), int(window.width)))
        return real(src, window, *a, **k)

    monkeypatch.setattr(raster, "read_window", spy)
    ds = _dm(gid15).build_dataset("train")
    # 300 x 320 with 128 patches: rows 0, 128, 172 and cols 0, 128, 192 (last aligned to the edge)
    per_scene = [(w.row_off, w.col_off) for si, w in ds.grid if si == 0]
    assert per_scene == [(r, c) for r in (0, 128, 172) for c in (0, 128, 192)]
    assert len(ds) == 9 * len(ds.scenes)
    assert all(raster.window_inside(w, H, W) and (w.height, w.width) == (128, 128) for _, w in ds.grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", raster.UnknownColorWarning)
        for i in range(len(ds)):
            assert ds[i]["input"].shape == (3, 128, 128)
    assert len(reads) == 2 * len(ds)  # one image window + one label window per patch
    assert all((h, w) == (128, 128) for _, h, w in reads)


def test_random_windows_inside_and_seeded(gid15):
    dm = _dm(gid15, train_sampling="random", samples_per_scene=5)
    ds = dm.build_dataset("train")
    assert len(ds) == 5 * len(ds.scenes)
    torch.manual_seed(0)
    first = [ds.window_of(i)[1] for i in range(len(ds))]
    torch.manual_seed(0)
    again = [ds.window_of(i)[1] for i in range(len(ds))]
    assert first == again
    assert all(raster.window_inside(w, H, W) for w in first)
    assert len({(w.row_off, w.col_off) for w in first}) > 1
    assert ds.window_of(7)[0].name == ds.scenes[1].name
    assert dm.build_dataset("val").sampling == "grid"


def test_scene_smaller_than_patch_is_padded_with_ignore(tmp_path):
    fake = make_fake_gid(tmp_path, classes=15, n_scenes=2, size=(40, 50))
    ds = GIDDataModule(root=str(tmp_path), patch_size=64, augment=False).build_dataset("val")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", raster.UnknownColorWarning)
        s = ds[0]
    assert s["input"].shape == (3, 64, 64)
    assert (s["seg"][40:, :] == 0).all() and (s["seg"][:, 50:] == 0).all()
    assert torch.equal(s["seg"][:40, :50], torch.from_numpy(fake.seg[ds.scenes[0].name]))


# -- splits ----------------------------------------------------------------------------------------
def test_default_gid15_split_holds_out_the_common_pair(gid15):
    split = _dm(gid15).split_names()
    assert len(split["val"]) == 2
    assert all("L1A0001680858" in n or "L1A0001821754" in n for n in split["val"])
    assert split["test"] == split["val"]
    assert not set(split["train"]) & set(split["val"])
    assert set(split["train"]) | set(split["val"]) == set(gid15.scenes)


def test_configured_split_and_bad_entries(gid15):
    train_scene = next(n for n in gid15.scenes if "L1A0001064454" in n)
    dm = _dm(gid15, val_scenes=["L1A0001064454"], test_scenes=["L1A0001821754"])
    split = dm.split_names()
    assert split["val"] == [train_scene]
    assert len(split["test"]) == 1 and "L1A0001821754" in split["test"][0]
    assert len(split["train"]) == len(gid15.scenes) - 2
    with pytest.raises(DatasetLayoutError, match="L1A9999999999"):
        _dm(gid15, val_scenes=["L1A9999999999"]).split_names()
    with pytest.raises(DatasetLayoutError, match="matches 4 scenes"):
        _dm(gid15, val_scenes=["GF2"]).split_names()


# -- balance test mode ------------------------------------------------------------------------------
def test_balance_test_tiles_equal_slicing(gid15, tmp_path):
    from tests.fakes.remote_sensing import write_geotiff

    scene = gid15.scenes[0]
    src = gid15.tree / "image_RGB" / f"{scene}.tif"
    import rasterio

    with rasterio.open(src) as f:
        target = write_geotiff(
            tmp_path / "balanced.tif", 255 - gid15.rgb[scene], crs=f.crs, transform=f.transform
        )
    regions = [[0, 0, 200, 200], [100, 200, 300, 320]]
    dm = GIDDataModule(
        root=str(gid15.root), mode="balance_test", balance_scene="L1A0001064454",
        balance_target=str(target), balance_regions=regions, patch_size=64, eval_batch_size=4,
    )
    ds = dm.build_dataset("test")
    # region 1: 3 x 3 whole tiles; region 2: 200 x 120 -> 3 x 1
    assert len(ds) == 9 + 3
    s = ds[10]
    r, c = 164, 200
    assert s["name"] == f"{scene}_{r}_{c}"
    want = gid15.rgb[scene][:, r:r + 64, c:c + 64].astype(np.float32) / 255
    torch.testing.assert_close(s["input"], torch.from_numpy(want))
    torch.testing.assert_close(s["target"], torch.from_numpy(1 - want))
    assert "seg" not in s
    batch = next(iter(dm.test_dataloader()))
    assert batch["input"].shape == (4, 3, 64, 64) and batch["target"].shape == (4, 3, 64, 64)
    with pytest.raises(SemcolorError, match="balance_test"):
        dm.build_dataset("train")
    only_input = GIDDataModule(
        root=str(gid15.root), mode="balance_test", balance_scene=str(src), patch_size=64
    )
    s = only_input.build_dataset("test")[0]
    assert set(s) == {"input", "name"} and len(only_input.build_dataset("val")) == 4 * 5


# -- DataModule ------------------------------------------------------------------------------------
def test_datamodule_batches(gid15):
    dm = _dm(gid15, image_type="NirRGB", batch_size=4, augment=True, context_size=192)
    dm.setup("fit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", raster.UnknownColorWarning)
        batch = next(iter(dm.train_dataloader()))
        val = next(iter(dm.val_dataloader()))
    assert batch["input"].shape == (4, 4, 128, 128) and batch["input"].dtype == torch.float32
    assert batch["seg"].shape == (4, 128, 128) and batch["seg"].dtype == torch.int64
    assert batch["context"].shape == (4, 4, 192, 192)
    assert 0.0 <= float(batch["input"].min()) and float(batch["input"].max()) <= 1.0
    assert len(batch["name"]) == 4 and val["input"].shape[1:] == (4, 128, 128)
    assert dm.describe() == {"train": 18, "val": 18}


def test_context_is_centred_on_the_patch(gid15):
    ds = _dm(gid15, context_size=192).build_dataset("val")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", raster.UnknownColorWarning)
        s = _sample_at(ds, ds.scenes[0].name, 128, 128)
        corner = _sample_at(ds, ds.scenes[0].name, 0, 0)
    assert torch.equal(s["context"][:, 32:160, 32:160], s["input"])
    assert (corner["context"][:, :32, :] == 0).all()  # outside the scene: zeros
    with pytest.raises(SemcolorError, match="context_size"):
        _dm(gid15, context_size=129).build_dataset("val")


def test_bad_options_raise():
    with pytest.raises(SemcolorError, match="classes"):
        GIDDataModule(root="x", classes=7)  # type: ignore[arg-type]
    with pytest.raises(SemcolorError, match="image_type"):
        GIDDataModule(root="x", image_type="NIR")  # type: ignore[arg-type]


# -- raster helpers used above ----------------------------------------------------------------------
def test_read_window_keeps_zero_last_band_and_pads_outside(tmp_path):
    from rasterio.windows import Window

    from tests.fakes.remote_sensing import write_geotiff

    data = np.arange(4 * 10 * 12, dtype=np.uint8).reshape(4, 10, 12)
    data[3, :, :6] = 0  # GDAL treats band 4 of a 4-band uint8 GeoTIFF as alpha
    path = write_geotiff(tmp_path / "nirrgb.tif", data)
    with raster.open_raster(path) as src:
        inside = raster.read_window(src, Window(0, 0, 12, 10), [1, 2, 3])
        assert np.array_equal(inside, data[:3])  # not masked where band 4 is 0
        out = raster.read_window(src, Window(8, -2, 6, 5), [2], boundless=True, fill_value=7)
        assert out.shape == (1, 5, 6)
        assert np.array_equal(out[0, 2:, :4], data[1, 0:3, 8:12])
        assert (out[0, :2] == 7).all() and (out[0, :, 4:] == 7).all()
        with pytest.raises(DatasetLayoutError, match="nirrgb.tif"):
            raster.read_window(src, Window(8, 0, 6, 5))


def test_open_raster_and_scaling_errors(tmp_path):
    from semcolor.errors import CorruptFileError

    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 truncated")
    with pytest.raises(CorruptFileError, match="broken.tif"):
        with raster.open_raster(bad):
            pass
    with pytest.raises(CorruptFileError, match="does not exist"):
        with raster.open_raster(tmp_path / "absent.tif"):
            pass
    assert raster.to_unit_float(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert raster.to_unit_float(np.array([1023, 4095], np.uint16), bit_depth=12).tolist() == [
        pytest.approx(1023 / 4095), 1.0
    ]
    assert raster.to_unit_float(np.array([65535], np.uint16)).tolist() == [1.0]
    with pytest.raises(CorruptFileError, match="NaN"):
        raster.to_unit_float(np.array([0.5, np.nan], np.float32), path="x.tif")
