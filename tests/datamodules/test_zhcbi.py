"""ZHCBI: triplet layout, seg formats, unmatched / mis-sized tiles, tiles cut from a scene pair."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from PIL import Image

from semcolor.datamodules import raster
from semcolor.datamodules.gid import GID15_COLOURS
from semcolor.datamodules.zhcbi import ZHCBIDataModule, scan_triplets
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError, SemcolorError
from tests.fakes.remote_sensing import (
    make_fake_scene_pair,
    make_fake_zhcbi,
    write_geotiff,
)

TILE = 64


@pytest.fixture(scope="module")
def zhcbi(tmp_path_factory: pytest.TempPathFactory):
    return make_fake_zhcbi(tmp_path_factory.mktemp("zhcbi"), n_train=5, n_val=3, tile=TILE, seed=3)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory):
    return make_fake_scene_pair(tmp_path_factory.mktemp("scene"), size=(300, 340), seed=4)


def _dm(fake, **kw) -> ZHCBIDataModule:
    kw.setdefault("tile_size", TILE)
    kw.setdefault("augment", False)
    return ZHCBIDataModule(root=str(fake.root), **kw)


def _png(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


# -- tiles mode ------------------------------------------------------------------------------------
def test_triplets_found_and_read(zhcbi):
    dm = _dm(zhcbi)
    train, val, test = (dm.build_dataset(s) for s in ("train", "val", "test"))
    assert len(train) == 5 and len(val) == 3 and len(test) == 3  # test -> val folder; desktop.ini ignored
    s = val[1]
    stem = sorted(zhcbi.stems["val"])[1]
    assert s["name"] == stem
    assert s["input"].shape == (3, TILE, TILE) and s["target"].shape == (3, TILE, TILE)
    assert s["input"].dtype == torch.float32 and s["seg"].dtype == torch.int64
    root = zhcbi.root / "val"
    want_in = _png(root / "input" / f"{stem}.png").transpose(2, 0, 1) / 255.0
    torch.testing.assert_close(s["input"], torch.from_numpy(want_in).float())
    want_t = _png(root / "label" / f"{stem}.png").transpose(2, 0, 1) / 255.0
    torch.testing.assert_close(s["target"], torch.from_numpy(want_t).float())
    assert torch.equal(s["seg"], torch.from_numpy(_png(root / "seg" / f"{stem}.png").astype(np.int64)))
    assert dm.num_classes == 16 and dm.ignore_index == 0


@pytest.mark.parametrize("seg_mode", ["P", "RGB"])
def test_seg_formats_give_the_same_indices(tmp_path, zhcbi, seg_mode):
    other = make_fake_zhcbi(tmp_path, n_train=5, n_val=3, tile=TILE, seed=3, seg_mode=seg_mode)
    ref = _dm(zhcbi).build_dataset("train")
    ds = _dm(other).build_dataset("train")
    assert ds.seg_format == ("index" if seg_mode == "P" else "rgb")
    for i in range(len(ds)):
        assert torch.equal(ds[i]["seg"], ref[i]["seg"])


def test_rgb_seg_unknown_colour_warns_and_maps_to_zero(tmp_path):
    fake = make_fake_zhcbi(tmp_path, n_train=2, n_val=1, tile=TILE, seg_mode="RGB")
    stem = sorted(fake.stems["train"])[0]
    path = tmp_path / "train" / "seg" / f"{stem}.png"
    arr = _png(path).copy()
    arr[:2, :3] = (1, 2, 3)
    Image.fromarray(arr, "RGB").save(path)
    ds = ZHCBIDataModule(root=str(tmp_path), tile_size=TILE, augment=False).build_dataset("train")
    with pytest.warns(raster.UnknownColorWarning, match=f"6 pixels.*{stem}.png"):
        s = ds[0]
    assert (s["seg"][:2, :3] == 0).all()
    assert ds.unknown_colors == {str(path): 6}
    with pytest.raises(SemcolorError, match="seg_format"):
        ZHCBIDataModule(root=str(tmp_path), seg_format="colour")  # type: ignore[arg-type]


def test_custom_layout(tmp_path):
    make_fake_zhcbi(tmp_path, n_train=2, n_val=2, tile=TILE)
    # rename to: {root}/training/{A,B,S}/<stem>_a.png etc.
    for sub, new, suffix in (("input", "A", "_a.png"), ("label", "B", "_b.png"), ("seg", "S", "_s.png")):
        folder = tmp_path / "train" / sub
        for p in folder.glob("*.png"):
            p.rename(folder / f"{p.stem}{suffix}")
        folder.rename(tmp_path / "train" / new)
    (tmp_path / "train").rename(tmp_path / "training")
    dm = ZHCBIDataModule(
        root=str(tmp_path), split_dirs={"train": "training"}, input_dir="A", target_dir="B", seg_dir="S",
        input_suffix="_a.png", target_suffix="_b.png", seg_suffix="_s.png", tile_size=TILE, augment=False,
    )
    ds = dm.build_dataset("train")
    assert len(ds) == 2 and "_a" not in ds[0]["name"]
    pairs = ZHCBIDataModule(
        root=str(tmp_path), split_dirs={"train": "training"}, input_dir="A", target_dir="B", seg_dir=None,
        input_suffix="_a.png", target_suffix="_b.png", tile_size=TILE, augment=False,
    ).build_dataset("train")
    assert set(pairs[0]) == {"input", "target", "name"}


def test_missing_root_and_wrong_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        ZHCBIDataModule(root=str(tmp_path / "nowhere")).build_dataset("train")
    msg = str(err.value)
    assert str(tmp_path / "nowhere") in msg and "train" in msg and "input,label,seg" in msg
    (tmp_path / "train" / "input").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="missing folder .*label"):
        ZHCBIDataModule(root=str(tmp_path)).build_dataset("train")
    (tmp_path / "train" / "label").mkdir()
    (tmp_path / "train" / "seg").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"no '\*\.png' files"):
        ZHCBIDataModule(root=str(tmp_path)).build_dataset("train")


def test_unmatched_triplets_reported(tmp_path):
    fake = make_fake_zhcbi(tmp_path, n_train=8, n_val=1, tile=TILE)
    stems = sorted(fake.stems["train"])
    (tmp_path / "train" / "label" / f"{stems[0]}.png").unlink()
    (tmp_path / "train" / "seg" / f"{stems[0]}.png").unlink()
    (tmp_path / "train" / "seg" / f"{stems[3]}.png").unlink()
    with pytest.raises(DatasetLayoutError) as err:
        scan_triplets(tmp_path, "train")
    msg = str(err.value)
    assert "2 of 8 tiles" in msg
    assert f"1 stem(s) have no '<stem>.png' in '{tmp_path / 'train' / 'label'}'" in msg
    assert "2 stem(s)" in msg and stems[0] in msg and stems[3] in msg
    with pytest.warns(UserWarning, match="2 of 8 tiles"):
        ds = ZHCBIDataModule(root=str(tmp_path), tile_size=TILE, strict=False).build_dataset("train")
    assert len(ds) == 6 and {t.name for t in ds.triplets} == set(stems) - {stems[0], stems[3]}


def test_wrong_tile_size_names_the_file(tmp_path, zhcbi):
    with pytest.raises(DatasetLayoutError, match=r"input.*\.png' is 64x64 pixels; ZHCBI tiles are 256x256"):
        ZHCBIDataModule(root=str(zhcbi.root), augment=False).build_dataset("val")[0]  # default 256
    fake = make_fake_zhcbi(tmp_path, n_train=2, n_val=1, tile=TILE)
    stem = sorted(fake.stems["train"])[1]
    bad = tmp_path / "train" / "label" / f"{stem}.png"
    Image.fromarray(np.zeros((TILE, TILE - 1, 3), np.uint8)).save(bad)
    ds = ZHCBIDataModule(root=str(tmp_path), tile_size=TILE, augment=False).build_dataset("train")
    ds[0]
    with pytest.raises(DatasetLayoutError, match=f"'{bad}' is 64x63"):
        ds[1]
    free = ZHCBIDataModule(root=str(tmp_path), tile_size=None, augment=False).build_dataset("train")
    with pytest.raises(DatasetLayoutError, match="the triplet's input is 64x64"):
        free[1]


def test_paired_augmentation_is_shared(zhcbi):
    plain = _dm(zhcbi).build_dataset("train")
    aug = _dm(zhcbi, augment=True).build_dataset("train")
    torch.manual_seed(0)
    np.random.seed(0)
    seen = set()
    for _ in range(12):
        a, p = aug[2], plain[2]
        hit = None
        for k in range(4):
            for flip in (False, True):
                f = (lambda t, k=k, flip=flip: torch.rot90(t.flip(-1) if flip else t, k, dims=(-2, -1)))
                if torch.equal(f(p["input"]), a["input"]):
                    hit = f
                    seen.add((k, flip))
        assert hit is not None, "augmentation is not a flip/rotation"
        assert torch.equal(hit(p["target"]), a["target"]) and torch.equal(hit(p["seg"]), a["seg"])
    assert len(seen) > 1  # it does augment


# -- scene mode ------------------------------------------------------------------------------------
AREAS = {"train": [[0, 0, 300, 200], [0, 330, 10, 340]], "val": [[20, 200, 280, 340]]}


def test_scene_tiles_count_and_content_equal_slicing(scene):
    dm = ZHCBIDataModule(
        mode="scene", scene_input=str(scene.input), scene_target=str(scene.target),
        scene_seg=str(scene.seg), areas=AREAS, tile_size=TILE, augment=False,
    )
    train, val, test = (dm.build_dataset(s) for s in ("train", "val", "test"))
    assert len(train) == (300 // TILE) * (200 // TILE)  # 4 x 3; the 10 x 10 area holds no tile
    assert len(val) == (260 // TILE) * (140 // TILE) and len(test) == len(val)  # 4 x 2
    for ds in (train, val):
        for i in range(len(ds)):
            w = ds.windows[i]
            r, c = int(w.row_off), int(w.col_off)
            s = ds[i]
            assert s["name"] == f"scene_input_{r}_{c}"
            sl = (slice(None), slice(r, r + TILE), slice(c, c + TILE))
            torch.testing.assert_close(s["input"], torch.from_numpy(scene.input_data[sl] / 255.0).float())
            torch.testing.assert_close(s["target"], torch.from_numpy(scene.target_data[sl] / 255.0).float())
            assert torch.equal(s["seg"], torch.from_numpy(scene.seg_data[sl[1:]].astype(np.int64)))
    # tiles never overlap and stay inside their areas
    boxes = [(int(w.row_off), int(w.col_off)) for w in val.windows]
    assert boxes == [(20 + 64 * i, 200 + 64 * j) for i in range(4) for j in range(2)]


def test_scene_grid_mismatch_errors(scene, tmp_path):
    with rasterio.open(scene.input) as src:
        shifted = src.transform @ Affine.translation(1, 0)
        crs = src.crs
    other = write_geotiff(tmp_path / "shifted.tif", scene.target_data, crs=crs, transform=shifted)
    small = write_geotiff(tmp_path / "small.tif", scene.target_data[:, :, :-1], crs=crs)
    for bad, what in ((other, "transform"), (small, "size")):
        dm = ZHCBIDataModule(mode="scene", scene_input=str(scene.input), scene_target=str(bad),
                             areas=AREAS, tile_size=TILE)
        with pytest.raises(DatasetLayoutError, match=what) as err:
            dm.build_dataset("train")
        assert str(scene.input) in str(err.value) and str(bad) in str(err.value)


def test_scene_area_checks(scene):
    kw = dict(mode="scene", scene_input=str(scene.input), scene_target=str(scene.target), tile_size=TILE)
    with pytest.raises(DatasetLayoutError, match="overlaps val area"):
        dm = ZHCBIDataModule(**kw, areas={"train": [[0, 0, 128, 128]], "val": [[64, 64, 200, 200]]})
        dm.build_dataset("val")
    with pytest.raises(DatasetLayoutError, match="outside .*scene_input.tif' \\(300 x 340"):
        dm = ZHCBIDataModule(**kw, areas={"train": [[0, 0, 400, 128]], "val": [[0, 200, 64, 264]]})
        dm.build_dataset("train")
    with pytest.raises(SemcolorError, match="needs areas"):
        ZHCBIDataModule(**kw).build_dataset("train")
    with pytest.raises(DatasetLayoutError, match="no 64 x 64 tile fits"):
        dm = ZHCBIDataModule(**kw, areas={"train": [[0, 0, 10, 10]], "val": [[0, 200, 64, 264]]})
        dm.build_dataset("train")


def test_scene_colour_class_raster(scene, tmp_path):
    with rasterio.open(scene.input) as src:
        crs, transform = src.crs, src.transform
    colours = np.array(GID15_COLOURS, np.uint8)[scene.seg_data].transpose(2, 0, 1).copy()
    path = write_geotiff(tmp_path / "classes_rgb.tif", colours, crs=crs, transform=transform)
    dm = ZHCBIDataModule(mode="scene", scene_input=str(scene.input), scene_target=str(scene.target),
                         scene_seg=str(path), areas=AREAS, tile_size=TILE, augment=False)
    ds = dm.build_dataset("val")
    w = ds.windows[3]
    r, c = int(w.row_off), int(w.col_off)
    want = scene.seg_data[r : r + TILE, c : c + TILE].astype(np.int64)
    assert torch.equal(ds[3]["seg"], torch.from_numpy(want))


# -- DataModule ------------------------------------------------------------------------------------
def test_datamodule_batches_both_modes(zhcbi, scene):
    tiles = _dm(zhcbi, batch_size=2, augment=True, crop=32)
    tiles.setup("fit")
    b = next(iter(tiles.train_dataloader()))
    assert b["input"].shape == (2, 3, 32, 32) and b["target"].shape == (2, 3, 32, 32)
    assert b["seg"].shape == (2, 32, 32) and b["seg"].dtype == torch.int64
    v = next(iter(tiles.val_dataloader()))
    assert v["input"].shape == (2, 3, TILE, TILE)
    assert tiles.describe() == {"train": 5, "val": 3}
    sc = ZHCBIDataModule(mode="scene", scene_input=str(scene.input), scene_target=str(scene.target),
                         scene_seg=str(scene.seg), areas=AREAS, tile_size=TILE, batch_size=4)
    sc.setup("fit")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # plain GeoTIFF pair: nothing to warn about
        b = next(iter(sc.train_dataloader()))
    assert b["input"].shape == (4, 3, TILE, TILE) and b["target"].shape == (4, 3, TILE, TILE)
    assert b["seg"].shape == (4, TILE, TILE)
    assert 0.0 <= float(b["input"].min()) and float(b["input"].max()) <= 1.0
    assert sc.describe() == {"train": 12, "val": 8}
