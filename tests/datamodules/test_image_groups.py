"""Image-group data: the folder layout (bad input: one clear line naming the file) and the embedded groups."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from semcolor.datamodules.embedded_groups import EmbeddedGroupsDataModule, cast_gains
from semcolor.datamodules.image_groups import ImageGroupsDataModule, read_image
from semcolor.errors import CorruptFileError, DatasetLayoutError, DatasetNotFoundError
from tests.fakes.image_groups import make_fake_image_groups


def _group(dm):
    dm.setup("test")
    return list(dm.test_dataloader())


def _snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_of_groups_loads_every_group_with_maps(tmp_path):
    fake = make_fake_image_groups(tmp_path / "in")
    before = _snapshot(fake.root)
    batches = _group(ImageGroupsDataModule(root=str(fake.root)))
    assert [b["group"] for b in batches] == ["group0", "group1"]
    b = batches[0]
    assert b["names"] == ["img0.png", "img1.jpg", "img2.tif"]
    assert [tuple(x.shape) for x in b["images"]] == [(3, 40, 48), (3, 48, 54), (3, 56, 60)]  # sizes differ
    assert all(s is not None and s.shape == x.shape[1:] for s, x in zip(b["saliency"], b["images"], strict=True))
    assert sorted(np.unique(b["labels"][0].numpy()).tolist()) == [0, 1, 2] and b["targets"] is None
    assert _snapshot(fake.root) == before  # nothing in INPUT modified


def test_a_folder_of_images_is_one_group(tmp_path):
    fake = make_fake_image_groups(tmp_path / "in", n_groups=1, with_maps=False)
    batches = _group(ImageGroupsDataModule(root=str(fake.root / "group0")))
    assert len(batches) == 1 and batches[0]["group"] == "group0" and batches[0]["saliency"] == [None] * 3


@pytest.mark.parametrize("case", ["empty", "missing", "one_image", "grey", "grey_tif", "corrupt", "saliency_size",
                                  "label_size", "orphan_map"])
def test_bad_input_is_one_line_naming_the_file(tmp_path, case):
    fake = make_fake_image_groups(tmp_path / "in", n_groups=1)
    folder = fake.root / "group0"
    expected: tuple[type, str]
    if case == "empty":
        root = tmp_path / "empty"
        root.mkdir()
        expected = (DatasetNotFoundError, "empty")
    elif case == "missing":
        root = tmp_path / "nothing_here"
        expected = (DatasetNotFoundError, "not a folder")
    else:
        root = fake.root
        if case == "one_image":
            for p in list(folder.glob("img[12].*")) + list(folder.glob("*/img[12].png")):
                p.unlink()
            expected = (DatasetLayoutError, r"group0' has one image \('img0.png'\): there is nothing to harmonise")
        elif case == "grey":
            Image.fromarray(np.zeros((40, 48), np.uint8)).save(folder / "img0.png")
            expected = (CorruptFileError, r"img0\.png.*grey")
        elif case == "grey_tif":
            import rasterio

            with rasterio.open(folder / "img2.tif", "w", driver="GTiff", width=60, height=56, count=1,
                               dtype="uint8") as dst:
                dst.write(np.zeros((1, 56, 60), np.uint8))
            expected = (CorruptFileError, r"img2\.tif.*1 band")
        elif case == "corrupt":
            (folder / "img1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
            expected = (CorruptFileError, r"img1\.jpg")
        elif case == "saliency_size":
            Image.fromarray(np.zeros((10, 10), np.uint8)).save(folder / "saliency" / "img1.png")
            expected = (DatasetLayoutError, r"saliency map '.*img1\.png' is 10x10 px but its image is 54x48")
        elif case == "label_size":
            Image.fromarray(np.zeros((10, 10), np.uint8)).save(folder / "labels" / "img2.png")
            expected = (DatasetLayoutError, r"label map '.*img2\.png' is 10x10 px")
        else:
            shutil.copy(folder / "labels" / "img0.png", folder / "labels" / "stray.png")
            expected = (DatasetLayoutError, r"labels map '.*stray\.png' has no image")
    before = _snapshot(fake.root)
    with pytest.raises(expected[0], match=expected[1]) as info:
        ImageGroupsDataModule(root=str(root)).setup("test")
    assert "\n" not in str(info.value)
    assert _snapshot(fake.root) == before


def test_read_image_scales_16_bit_geotiffs(tmp_path):
    import rasterio

    path = tmp_path / "x.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=3, count=4, dtype="uint16") as dst:
        dst.write(np.full((4, 3, 4), 65535, np.uint16))
    img = read_image(path)
    assert img.shape == (3, 4, 3) and float(img.max()) == 1.0


def test_embedded_groups_have_casts_ground_truth_and_labels(tmp_path):
    dm = EmbeddedGroupsDataModule(root=str(tmp_path), scene_size=128, train_scenes=1, val_scenes=1, test_scenes=2,
                                  batch_size=4)
    dm.prepare_data()
    batches = _group(dm)
    assert len(batches) == 2
    b = batches[0]
    params = json.loads(b["params"])
    assert len(b["images"]) == 4 and any(p["strong"] for p in params)
    assert len({tuple(x.shape) for x in b["images"]}) > 1
    for x, t, lbl in zip(b["images"], b["targets"], b["labels"], strict=True):
        assert x.shape == t.shape and lbl.shape == x.shape[1:]
    again = dm.build_dataset("test")[0]
    assert all(np.array_equal(a.numpy(), c.numpy()) for a, c in zip(b["images"], again["images"], strict=True))
    rng = np.random.default_rng(0)
    for strong in (False, True):
        g = cast_gains(rng, strong)
        assert float(np.dot([0.2126, 0.7152, 0.0722], g)) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(Exception, match="two or more images"):
        EmbeddedGroupsDataModule(batch_size=1)
