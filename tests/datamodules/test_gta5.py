"""GTA5: palette labels as ids, mis-sized labels, class mappings, split protocols, batches."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from semcolor.datamodules.gta5 import (
    GTA5DataModule,
    GTA5Dataset,
    class_table,
    seeded_splits,
)
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError
from tests.fakes.street import make_fake_gta5

# multipath's 11 classes (Wang et al. 2025, Table V order) with the documented tree/vegetation choice, and
# the Cityscapes trainId table (DATASETS.md), written out independently of the module
EXPECTED_11 = {11: 0, 28: 1, 26: 2, 7: 3, 8: 4, 23: 5, 20: 6, 21: 7, 27: 8, 22: 9, 12: 10}
EXPECTED_19 = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip


def _map(raw: np.ndarray, table: dict[int, int]) -> np.ndarray:
    return np.vectorize(lambda v: table.get(int(v), 255))(raw)


# the fake's mis-sized label warns wherever it is read; tests that care use pytest.warns
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def fake(tmp_path):
    return make_fake_gta5(tmp_path / "gta5", n=20, size=(24, 48), mis_sized=(3,))


def _dataset(root, split="test", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GTA5Dataset(root, split, **kw)


def _index(ds, gid):
    return ds.ids.index(gid)


def test_palette_labels_read_as_indices(fake):
    ds = _dataset(fake.root, protocol="official", split="train", flip=False)
    rgb, ids, name = ds.read_pair(_index(ds, 1))
    stored = Image.open(fake.root / "labels" / "00001.png")
    assert stored.mode == "P"
    np.testing.assert_array_equal(ids, np.asarray(stored))
    assert ids.max() <= 33 and name == "00001" and rgb.shape == (24, 48, 3)
    # converting would have produced colours, not ids (guards the reader, not the fake)
    assert not np.array_equal(np.asarray(stored.convert("L")), np.asarray(stored))


def test_mis_sized_label_resized_with_warning(fake):
    ds = _dataset(fake.root, protocol="official", split="train", flip=False)
    with pytest.warns(UserWarning, match=r"00003\.png' is 24x12.*resized.*1 mis-sized"):
        rgb, ids, _ = ds.read_pair(_index(ds, 3))
    assert ids.shape == rgb.shape[:2] == (24, 48)
    np.testing.assert_array_equal(ids[::2, ::2], np.asarray(Image.open(fake.root / "labels" / "00003.png")))
    assert ds.mis_sized_labels == [str(fake.root / "labels" / "00003.png")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per file, not on every read
        s = ds[_index(ds, 3)]
    assert s["seg"].shape == (24, 48) and len(ds.mis_sized_labels) == 1


def test_eleven_class_mapping(fake):
    ds = _dataset(fake.root, protocol="official", split="train", flip=False)
    assert ds.class_names[7:10] == ["tree", "truck", "vegetation"] and len(ds.class_names) == 11
    for i in range(3):
        _, raw, _ = ds.read_pair(i)
        np.testing.assert_array_equal(ds[i]["seg"].numpy(), _map(raw, EXPECTED_11))


def test_cityscapes19_and_custom_classes(fake):
    ds = _dataset(fake.root, protocol="official", split="val", classes="cityscapes19", task="segmentation")
    _, raw, _ = ds.read_pair(0)
    s = ds[0]
    np.testing.assert_array_equal(s["seg"].numpy(), _map(raw, EXPECTED_19))
    assert s["input"].shape == (3, 24, 48) and "target" not in s
    custom = {"road": [7], "flat": [8, 9]}
    ds = _dataset(fake.root, protocol="official", split="val", classes=custom)
    np.testing.assert_array_equal(ds[0]["seg"].numpy(), _map(raw, {7: 0, 8: 1, 9: 1}))
    with pytest.raises(ValueError, match="mapped to both"):
        class_table({"a": [7], "b": [7]})
    names, _, colours = class_table("multipath11")
    assert tuple(colours[names.index("tree")]) == (107, 142, 35)  # Cityscapes vegetation colour


def test_seeded_split_rule_full_size():
    ids = range(1, 24967)
    mp = seeded_splits(ids, "multipath", seed=0)
    assert (len(mp["train"]), len(mp["test"])) == (20466, 4500)
    assert set(mp["train"]).isdisjoint(mp["test"]) and len(set(mp["train"]) | set(mp["test"])) == 24966
    small = seeded_splits(ids, "small", seed=0)
    assert (len(small["train"]), len(small["val"])) == (2000, 500)
    assert set(small["train"]) <= set(mp["train"]) and set(small["val"]) <= set(mp["test"])
    assert seeded_splits(ids, "multipath", seed=0) == mp and seeded_splits(ids, "multipath", seed=1) != mp


def test_seeded_split_rule_scales():
    mp = seeded_splits(range(1, 51), "multipath")
    assert (len(mp["train"]), len(mp["test"])) == (41, 9)  # 50 * 4500 / 24966 = 9.01
    small = seeded_splits(range(1, 51), "small")
    assert (len(small["train"]), len(small["val"])) == (4, 1)  # 4.01 and 1.0


def test_split_files_written_once_and_read_back(fake):
    train = _dataset(fake.root, "train")
    test = _dataset(fake.root, "test")
    val = _dataset(fake.root, "val")
    assert (len(train), len(test)) == (16, 4) and val.ids == test.ids  # val = test (multipath)
    f = fake.root / "gta5-multipath-test.txt"
    assert [int(x) for x in f.read_text().split()] == test.ids
    f.write_text("00001\n00002\n")
    (fake.root / "gta5-multipath-train.txt").write_text("00005\n")
    with pytest.warns(UserWarning, match="made with seed=0"):
        again = GTA5Dataset(fake.root, "test", seed=5)
    assert again.ids == [1, 2] and f.read_text() == "00001\n00002\n"
    small = _dataset(fake.root, "train", protocol="small")
    assert len(small) == 2 and (fake.root / "gta5-small-val.txt").is_file()  # floor(20*2000/24966+.5)


def test_split_file_with_unknown_id_raises(fake):
    _dataset(fake.root, "train")
    (fake.root / "gta5-multipath-test.txt").write_text("00099\n")
    with pytest.raises(DatasetLayoutError, match=r"00099\.png"):
        _dataset(fake.root, "test")


def test_official_split_mat(fake):
    sizes = {s: len(_dataset(fake.root, s, protocol="official")) for s in ("train", "val", "test")}
    assert sizes == {"train": 12, "val": 4, "test": 4}
    assert _dataset(fake.root, "val", protocol="official").ids == fake.split["val"]
    (fake.root / "split.mat").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"split\.mat"):
        _dataset(fake.root, "train", protocol="official")


def test_missing_root_names_root_and_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        GTA5Dataset(tmp_path / "none", "train")
    assert str(tmp_path / "none") in str(err.value) and "{root}/labels/NNNNN.png" in str(err.value)


def test_flip_and_resize(fake):
    ev = _dataset(fake.root, "train", train=False, protocol="official", flip=False)
    ds = _dataset(fake.root, "train", protocol="official")
    i = _index(ds, 1)
    outcomes = set()
    for _ in range(12):
        seg = ds[i]["seg"]
        assert torch.equal(seg, ev[i]["seg"]) or torch.equal(seg, ev[i]["seg"].flip(-1))
        outcomes.add(torch.equal(seg, ev[i]["seg"]))
    assert outcomes == {True, False}
    small = _dataset(fake.root, "test", resize=(12, 16))[0]
    assert small["input"].shape == (1, 12, 16) and small["seg"].shape == (12, 16)


def test_datamodule_batches(fake):
    dm = GTA5DataModule(fake.root, resize=(16, 32), batch_size=2)
    assert dm.num_classes == 11 and dm.ignore_index == 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.prepare_data()
        dm.setup("fit")
        b = next(iter(dm.train_dataloader()))
        assert b["input"].shape == (2, 1, 16, 32) and b["target"].shape == (2, 3, 16, 32)
        assert b["seg"].shape == (2, 16, 32) and b["seg"].dtype == torch.int64
        seg = GTA5DataModule(
            fake.root, task="segmentation", classes="cityscapes19", resize=None, batch_size=2, boundary_radius=2
        )
        assert seg.num_classes == 19
        v = next(iter(seg.val_dataloader()))
        assert v["input"].shape == (2, 3, 24, 48) and v["boundary"].shape == (2, 24, 48)
