"""Cityscapes: layout, labelIds -> trainIds, boundary ground truth, augmentation, batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from semcolor.datamodules.cityscapes import (
    CityscapesDataModule,
    CityscapesDataset,
    colourize,
    ids_to_train_ids,
    label_boundary,
)
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError
from tests.fakes.street import make_fake_cityscapes

# DATASETS.md, "Cityscapes", written out independently of the module under test
EXPECTED_TRAIN_IDS = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip


@pytest.fixture
def fake(tmp_path):
    return make_fake_cityscapes(tmp_path / "cityscapes", splits=("train", "val"), n_per_city=1)


def test_label_ids_to_train_ids_every_value():
    got = ids_to_train_ids(np.arange(256, dtype=np.uint8).reshape(16, 16)).ravel()
    want = np.array([EXPECTED_TRAIN_IDS.get(v, 255) for v in range(256)])
    np.testing.assert_array_equal(got, want)
    # int64 maps (other readers) and out-of-range values
    np.testing.assert_array_equal(ids_to_train_ids(np.array([[-1, 7, 300, 33]])), [[255, 0, 255, 18]])


def test_reads_labelids_file_with_every_id(fake):
    ds = CityscapesDataset(fake.root, "val")
    img_path, lab_path, stem = ds.samples[0]
    assert lab_path.name == f"{stem}_gtFine_labelIds.png" and img_path.name == f"{stem}_leftImg8bit.png"
    raw = np.asarray(Image.open(lab_path))
    assert set(np.unique(raw)) == set(range(34))  # the fake holds every id
    s = ds[0]
    want = np.vectorize(lambda v: EXPECTED_TRAIN_IDS.get(int(v), 255))(raw)
    np.testing.assert_array_equal(s["seg"].numpy(), want)
    assert s["seg"].dtype == torch.int64 and s["name"] == stem
    assert s["input"].shape == (3, 64, 128) and s["boundary"].shape == (64, 128)
    assert set(s["seg"].unique().tolist()) == set(range(19)) | {255}


def _two_regions(h: int = 10, w: int = 12, split: int = 6) -> np.ndarray:
    seg = np.zeros((h, w), np.uint8)
    seg[:, split:] = 1
    return seg


@pytest.mark.parametrize("r", [1, 3])
def test_boundary_two_regions(r):
    seg = _two_regions()
    b = label_boundary(seg, r)
    want = np.zeros_like(seg)
    want[:, 6 - r : 6 + r] = 1  # r pixels on each side of the border between columns 5 and 6
    np.testing.assert_array_equal(b, want)
    # horizontal border too, and image edges make no boundary
    np.testing.assert_array_equal(label_boundary(seg.T.copy(), r), want.T)
    assert label_boundary(np.full((5, 5), 3, np.uint8), r).sum() == 0


def test_boundary_ignore_handling():
    seg = _two_regions()
    seg[:, 6:] = 255
    on = label_boundary(seg, 1)
    np.testing.assert_array_equal(np.nonzero(on.any(0))[0], [5, 6])  # class/ignore border counts
    assert label_boundary(seg, 1, ignore_is_boundary=False).sum() == 0
    # different void ids are one ignore value after mapping: no border among them
    void = ids_to_train_ids(_two_regions())  # ids 0 and 1 are both void
    assert label_boundary(void, 3).sum() == 0
    # neutral pixels (crop padding) never create a boundary and carry none
    pad = np.zeros_like(seg, dtype=bool)
    pad[:, 6:] = True
    assert label_boundary(seg, 2, neutral=pad).sum() == 0
    seg3 = _two_regions(split=4)
    seg3[:, 8:] = 255
    pad3 = np.zeros_like(pad)
    pad3[:, 8:] = True
    b3 = label_boundary(seg3, 1, neutral=pad3)
    np.testing.assert_array_equal(np.nonzero(b3.any(0))[0], [3, 4])


def test_train_crop_pads_with_ignore_and_neutral_boundary(fake):
    ev = CityscapesDataset(fake.root, "train", train=False)[0]
    tr = CityscapesDataset(fake.root, "train", crop_size=(96, 200), scale_range=None, flip=False)[0]
    assert tr["seg"].shape == (96, 200) and tr["input"].shape == (3, 96, 200)
    # find where the (unscaled, unflipped) image sits inside the padded crop
    hits = [
        (y, x)
        for y in range(96 - 64 + 1)
        for x in range(200 - 128 + 1)
        if torch.equal(tr["seg"][y : y + 64, x : x + 128], ev["seg"])
    ]
    assert len(hits) == 1
    y, x = hits[0]
    inside = torch.zeros(96, 200, dtype=torch.bool)
    inside[y : y + 64, x : x + 128] = True
    assert (tr["seg"][~inside] == 255).all() and (tr["input"][:, ~inside] == 0).all()
    assert (tr["boundary"][~inside] == 0).all()
    assert torch.equal(tr["boundary"][y : y + 64, x : x + 128], ev["boundary"])  # padding adds no border


def test_train_scale_and_flip(fake):
    ev = CityscapesDataset(fake.root, "train", train=False)[0]
    half = CityscapesDataset(fake.root, "train", crop_size=None, scale_range=(0.5, 0.5), flip=False)[0]
    assert half["seg"].shape == (32, 64) and half["input"].shape == (3, 32, 64)
    ds = CityscapesDataset(fake.root, "train", crop_size=None, scale_range=None, flip=True)
    seen = set()
    for _ in range(12):
        s = ds[0]["seg"]
        assert torch.equal(s, ev["seg"]) or torch.equal(s, ev["seg"].flip(-1))
        seen.add(torch.equal(s, ev["seg"]))
    assert seen == {True, False}
    crop = CityscapesDataset(fake.root, "train", crop_size=32)[0]
    assert crop["seg"].shape == (32, 32) and crop["boundary"].shape == (32, 32)


def test_colorization_task(fake):
    s = CityscapesDataset(fake.root, "val", task="colorization", boundary_radius=1)[0]
    assert s["input"].shape == (1, 64, 128) and s["target"].shape == (3, 64, 128)
    rgb = s["target"] * 255
    y709 = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    assert (s["input"][0] * 255 - y709).abs().max() <= 0.5 + 1e-4
    assert {"seg", "boundary", "name"} <= s.keys()


def test_colourize_table():
    rgb = colourize(np.array([[0, 10, 18, 255]]))
    np.testing.assert_array_equal(rgb[0], [(128, 64, 128), (70, 130, 180), (119, 11, 32), (0, 0, 0)])


def test_missing_root_and_missing_label(tmp_path, fake):
    with pytest.raises(DatasetNotFoundError) as err:
        CityscapesDataset(tmp_path / "nope", "train")
    assert str(tmp_path / "nope") in str(err.value) and "_gtFine_labelIds.png" in str(err.value)
    lab = next((fake.root / "gtFine" / "val").rglob("*_gtFine_labelIds.png"))
    lab.unlink()
    with pytest.raises(DatasetLayoutError, match=lab.name):
        CityscapesDataset(fake.root, "val")


def test_datamodule_batches(fake):
    dm = CityscapesDataModule(fake.root, crop_size=32, batch_size=2)
    assert dm.num_classes == 19 and dm.ignore_index == 255
    dm.setup("fit")
    b = next(iter(dm.train_dataloader()))
    assert b["input"].shape == (2, 3, 32, 32) and b["seg"].shape == (2, 32, 32)
    assert b["boundary"].shape == (2, 32, 32) and b["boundary"].dtype == torch.float32
    v = next(iter(dm.val_dataloader()))
    assert v["input"].shape == (1, 3, 64, 128)  # full resolution
    dm.setup("test")
    t = next(iter(dm.test_dataloader()))  # test_split defaults to val (released test labels are void)
    assert t["name"] == v["name"]
    col = CityscapesDataModule(fake.root, crop_size=32, batch_size=2, task="colorization")
    c = next(iter(col.train_dataloader()))
    assert c["input"].shape == (2, 1, 32, 32) and c["target"].shape == (2, 3, 32, 32)
