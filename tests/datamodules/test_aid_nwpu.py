"""AID and NWPU-RESISC45 colorization data: layouts, the seeded 3:1:1 split files, quirks, batches."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semcolor.datamodules.aid import AIDDataModule, AIDDataset
from semcolor.datamodules.nwpu import NWPUDataModule, NWPUDataset
from semcolor.datamodules.scene_classes import per_class_split, split_counts
from semcolor.errors import CorruptFileError, DatasetLayoutError, DatasetNotFoundError
from tests.fakes.scene_classes import make_fake_aid, make_fake_nwpu

SPLITS = ("train", "val", "test")

# the datasets warn about the fakes' deliberate quirks; tests that care use pytest.warns
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _quiet(cls, *args, **kwargs):
    """Build a dataset with its (expected) warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(*args, **kwargs)


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln]


# ------------------------------------------------------------------------------------------------
# layout and samples
# ------------------------------------------------------------------------------------------------
def test_aid_layout_read_and_samples(tmp_path):
    fake = make_fake_aid(tmp_path / "AID")
    sets = {s: _quiet(AIDDataset, fake.root, s, resize=32) for s in SPLITS}
    assert {s: len(d) for s, d in sets.items()} == {"train": 9, "val": 3, "test": 3}
    ds = sets["train"]
    assert ds.classes == ["Airport", "BareLand", "Beach"]
    s = ds[0]
    assert s["input"].shape == (1, 32, 32) and s["target"].shape == (3, 32, 32)
    assert s["input"].dtype == torch.float32 and 0 <= s["input"].min() and s["input"].max() <= 1
    rel, label = ds.items[0]
    assert s["name"] == Path(rel).stem and s["label"] == label == ds.classes.index(rel.split("/")[0])
    # default gray = BT.601 luma of the (resized) target, to 8-bit rounding
    rgb = s["target"] * 255
    y601 = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    assert (s["input"][0] * 255 - y601).abs().max() <= 1.0
    y709 = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    assert (s["input"][0] * 255 - y709).abs().max() > 2.0  # the colourful fake tells them apart


def test_gray_bt709_option(tmp_path):
    fake = make_fake_aid(tmp_path / "AID", per_class=5)
    s = _quiet(AIDDataset, fake.root, "val", resize=None, gray="bt709")[0]
    rgb = s["target"] * 255
    y709 = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    assert (s["input"][0] * 255 - y709).abs().max() <= 0.5 + 1e-4
    assert s["input"].shape == (1, 64, 64)  # resize=None keeps the native size


def test_non_image_files_ignored_and_counted(tmp_path):
    fake = make_fake_aid(tmp_path / "AID")
    with pytest.warns(UserWarning, match=r"ignored 1 non-image file.*Thumbs\.db"):
        ds = AIDDataset(fake.root, "train", resize=32)
    assert ds.report["non_image_files"] == 1
    listed = [ln for s in SPLITS for ln in _lines(fake.root / f"aid-{s}.txt")]
    assert not any("Thumbs" in ln for ln in listed)


def test_grayscale_jpeg_expanded_and_counted(tmp_path):
    fake = make_fake_aid(tmp_path / "AID")
    with pytest.warns(UserWarning, match=r"1 grayscale image"):
        sets = {s: AIDDataset(fake.root, s, resize=None) for s in SPLITS}
    assert sum(d.report["grayscale"] for d in sets.values()) == 1
    assert json.loads((fake.root / "aid-split.json").read_text())["grayscale"] == [fake.gray]
    for d in sets.values():
        for i, (rel, _) in enumerate(d.items):
            if rel == fake.gray:
                t = d[i]["target"]
                assert t.shape == (3, 64, 64) and torch.equal(t[0], t[1]) and torch.equal(t[1], t[2])
                break


# ------------------------------------------------------------------------------------------------
# split files
# ------------------------------------------------------------------------------------------------
def test_split_files_written_3_1_1_per_class_and_disjoint(tmp_path):
    fake = make_fake_aid(tmp_path / "AID", per_class=10)
    _quiet(AIDDataset, fake.root, "train")
    lists = {s: _lines(fake.root / f"aid-{s}.txt") for s in SPLITS}
    for s in SPLITS:
        per_class = Counter(ln.split("/")[0] for ln in lists[s])
        assert per_class == {c: {"train": 6, "val": 2, "test": 2}[s] for c in fake.classes}
    everything = [ln for s in SPLITS for ln in lists[s]]
    assert len(everything) == len(set(everything)) == 30
    assert set(everything) == {f for fs in fake.files.values() for f in fs}


def test_split_counts_rule():
    assert split_counts(5, (3, 1, 1)) == (3, 1, 1)
    assert split_counts(310, (3, 1, 1)) == (186, 62, 62)  # AID BareLand
    assert split_counts(700, (3, 1, 1)) == (420, 140, 140)  # every RESISC45 class
    assert split_counts(3, (3, 1, 1)) == (1, 1, 1)
    assert sum(split_counts(7, (3, 1, 1))) == 7


def test_split_deterministic_by_seed():
    files = {c: [f"{c}/{c.lower()}_{n}.jpg" for n in range(1, 21)] for c in ("A", "B", "C")}
    a, b, c = per_class_split(files, 0), per_class_split(files, 0), per_class_split(files, 1)
    assert a == b and a != c
    # a class's split does not depend on which other classes exist
    only_a = per_class_split({"A": files["A"]}, 0)
    assert all([f for f in a[s] if f.startswith("A/")] == only_a[s] for s in SPLITS)


def test_split_same_on_two_copies_and_differs_with_seed(tmp_path):
    r1 = make_fake_aid(tmp_path / "one").root
    r2 = make_fake_aid(tmp_path / "two").root
    _quiet(AIDDataset, r1, "train", seed=7)
    _quiet(AIDDataset, r2, "train", seed=7)
    assert all(_lines(r1 / f"aid-{s}.txt") == _lines(r2 / f"aid-{s}.txt") for s in SPLITS)
    _quiet(AIDDataset, r1, "train", seed=8, split_dir=tmp_path / "other")
    assert any(_lines(r1 / f"aid-{s}.txt") != _lines(tmp_path / "other" / f"aid-{s}.txt") for s in SPLITS)


def test_split_files_read_back_never_overwritten(tmp_path):
    fake = make_fake_aid(tmp_path / "AID")
    _quiet(AIDDataset, fake.root, "train")
    # hand-edit the lists: all of Airport in val, the rest in train, nothing in test
    every = sorted(f for fs in fake.files.values() for f in fs)
    val = [f for f in every if f.startswith("Airport/")]
    train = [f for f in every if f not in val]
    (fake.root / "aid-train.txt").write_text("\n".join(train) + "\n")
    (fake.root / "aid-val.txt").write_text("\n".join(val) + "\n")
    (fake.root / "aid-test.txt").write_text("")
    before = {s: (fake.root / f"aid-{s}.txt").read_text() for s in SPLITS}
    with pytest.warns(UserWarning, match="made with seed=0"):
        ds = AIDDataset(fake.root, "val", seed=123)
    assert sorted(rel for rel, _ in ds.items) == val
    assert len(_quiet(AIDDataset, fake.root, "test")) == 0
    assert {s: (fake.root / f"aid-{s}.txt").read_text() for s in SPLITS} == before


def test_incomplete_split_files_raise(tmp_path):
    fake = make_fake_aid(tmp_path / "AID")
    _quiet(AIDDataset, fake.root, "train")
    (fake.root / "aid-test.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"incomplete.*aid-test\.txt"):
        _quiet(AIDDataset, fake.root, "train")


def test_split_file_naming_missing_image_raises(tmp_path):
    fake = make_fake_aid(tmp_path / "AID")
    _quiet(AIDDataset, fake.root, "train")
    with open(fake.root / "aid-val.txt", "a") as f:
        f.write("Airport/airport_99.jpg\n")
    with pytest.raises(DatasetLayoutError, match=r"aid-val\.txt.*airport_99\.jpg"):
        _quiet(AIDDataset, fake.root, "train")


def test_read_only_root_uses_cache_dir(tmp_path, monkeypatch):
    fake = make_fake_aid(tmp_path / "AID")
    monkeypatch.setenv("SEMCOLOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("semcolor.datamodules.scene_classes.os.access", lambda *a, **k: False)
    ds = _quiet(AIDDataset, fake.root, "train")
    assert not (fake.root / "aid-train.txt").exists()
    written = list((tmp_path / "cache").rglob("aid-train.txt"))
    assert len(written) == 1 and ds.split_folder == written[0].parent
    assert _quiet(AIDDataset, fake.root, "train").split_source == "read"


# ------------------------------------------------------------------------------------------------
# corrupt files, empty classes, wrong layouts
# ------------------------------------------------------------------------------------------------
def test_corrupt_jpeg_skipped_with_warning_naming_it(tmp_path):
    fake = make_fake_aid(tmp_path / "AID", corrupt=True)
    with pytest.warns(UserWarning, match=r"skipping corrupt image .*airport_6\.jpg"):
        ds = AIDDataset(fake.root, "train", resize=32)
    assert ds.report["corrupt_skipped"] == 1
    listed = [ln for s in SPLITS for ln in _lines(fake.root / f"aid-{s}.txt")]
    assert fake.corrupt not in listed and len(listed) == 15
    assert fake.corrupt in json.loads((fake.root / "aid-split.json").read_text())["corrupt_skipped"]
    with pytest.warns(UserWarning, match=r"1 corrupt image\(s\) were left out"):
        AIDDataset(fake.root, "val")
    for i in range(len(ds)):  # every listed sample reads
        ds[i]


def test_corrupt_jpeg_without_verification_fails_naming_it(tmp_path):
    fake = make_fake_aid(tmp_path / "AID", corrupt=True, per_class=4)
    sets = [_quiet(AIDDataset, fake.root, s, verify_images=False) for s in SPLITS]
    where = [(d, i) for d in sets for i, (rel, _) in enumerate(d.items) if rel == fake.corrupt]
    assert len(where) == 1
    with pytest.raises(CorruptFileError, match=r"airport_5\.jpg"):
        where[0][0][where[0][1]]


def test_empty_class_folder_warns(tmp_path):
    fake = make_fake_aid(tmp_path / "AID")
    (fake.root / "Bridge").mkdir()
    with pytest.warns(UserWarning, match=r"class folder '.*Bridge' has no images"):
        ds = AIDDataset(fake.root, "train")
    assert ds.classes == ["Airport", "BareLand", "Beach", "Bridge"] and ds.report["empty_classes"] == ["Bridge"]
    assert 3 not in {label for _, label in ds.items}


def test_unknown_class_folder_warns_but_is_used(tmp_path):
    fake = make_fake_aid(tmp_path / "AID")
    (fake.root / "Holiday pics").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(fake.root / "Holiday pics" / "me.jpg")
    with pytest.warns(UserWarning, match=r"\['Holiday pics'\].*are not AID classes"):
        ds = AIDDataset(fake.root, "train")
    assert "Holiday pics" in ds.classes


def test_missing_root_names_root_and_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        AIDDataset(tmp_path / "nowhere", "train")
    assert str(tmp_path / "nowhere") in str(err.value) and "{Class}/{classlower}_{n}.jpg" in str(err.value)
    with pytest.raises(DatasetNotFoundError) as err:
        NWPUDataset(tmp_path / "nowhere", "train")
    assert "NWPU-RESISC45/{class}/{class}_{NNN}.jpg" in str(err.value)


def test_wrong_layout_loose_images_and_wrong_nwpu_root(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(loose / "airport_1.jpg")
    with pytest.raises(DatasetNotFoundError, match=r"images lie directly in it"):
        AIDDataset(loose, "train")
    fake = make_fake_nwpu(tmp_path / "nwpu")
    with pytest.raises(DatasetNotFoundError, match=r"lie directly in it") as err:
        NWPUDataset(fake.root / "NWPU-RESISC45", "train")
    assert str(fake.root / "NWPU-RESISC45") in str(err.value)


# ------------------------------------------------------------------------------------------------
# NWPU
# ------------------------------------------------------------------------------------------------
def test_nwpu_seeded_split_and_naming(tmp_path):
    fake = make_fake_nwpu(tmp_path / "nwpu")
    ds = _quiet(NWPUDataset, fake.root, "train", resize=None)
    assert len(ds) == 9 and (fake.root / "nwpu-train.txt").is_file()
    s = ds[0]
    assert s["input"].shape == (1, 32, 32) and s["name"].startswith("airplane_0")


def test_nwpu_published_lists_honoured(tmp_path):
    fake = make_fake_nwpu(tmp_path / "nwpu", with_lists=True)
    sets = {s: _quiet(NWPUDataset, fake.root, s, resize=None) for s in SPLITS}
    names = {s: sorted(d[i]["name"] for i in range(len(d))) for s, d in sets.items()}
    assert names["val"] == ["airplane_004", "beach_004", "church_004"]
    assert names["test"] == ["airplane_005", "beach_005", "church_005"]
    assert len(names["train"]) == 9 and sets["train"].split_source == "published"
    assert not list(fake.root.glob("nwpu-*.txt"))  # nothing written
    # ignoring the lists gives the seeded split (files written)
    ours = _quiet(NWPUDataset, fake.root, "val", use_published_lists=False)
    assert ours.split_source == "created" and (fake.root / "nwpu-val.txt").is_file()


def test_nwpu_incomplete_published_lists_raise(tmp_path):
    fake = make_fake_nwpu(tmp_path / "nwpu", with_lists=True)
    (fake.root / "resisc45-val.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"resisc45-val\.txt"):
        _quiet(NWPUDataset, fake.root, "train")


# ------------------------------------------------------------------------------------------------
# DataModules
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["aid", "nwpu"])
def test_datamodule_batches(tmp_path, kind):
    if kind == "aid":
        root = make_fake_aid(tmp_path / "AID").root
        dm = AIDDataModule(root, resize=32, crop_size=16, batch_size=4)
    else:
        root = make_fake_nwpu(tmp_path / "nwpu").root
        dm = NWPUDataModule(root, resize=None, crop_size=16, batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.prepare_data()
        dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape == (4, 1, 16, 16) and batch["target"].shape == (4, 3, 16, 16)
    assert batch["label"].shape == (4,) and batch["label"].dtype == torch.int64
    val = next(iter(dm.val_dataloader()))
    assert val["input"].shape == (3, 1, 16, 16) and len(val["name"]) == 3
    # eval crops are centred: deterministic
    again = next(iter(dm.val_dataloader()))
    assert torch.equal(val["target"], again["target"])
    assert dm.describe() == {"train": 9, "val": 3}


@pytest.mark.parametrize("kind", ["aid", "nwpu"])
def test_cli_lists_and_checks_the_dataset_options(kind):
    """The DataModules forward ``**kwargs`` to their Dataset (stated once, in SceneClassDataset): the CLI's
    parser (jsonargparse, as LightningCLI builds it) still lists every option with its default, parses
    them, and refuses a misspelt one."""
    import inspect

    from jsonargparse import ArgumentParser

    from semcolor.datamodules.base import SemcolorDataModule
    from semcolor.datamodules.scene_classes import SceneClassDataset

    cls = AIDDataModule if kind == "aid" else NWPUDataModule
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(SemcolorDataModule, "data")
    path = f"{cls.__module__}.{cls.__name__}"
    cfg = parser.parse_args([f"--data={path}", "--data.init_args.root=r", "--data.init_args.resize=32",
                             "--data.init_args.gray=bt709"])
    options = cfg.data.init_args.as_dict()
    dataset = {n: p.default for n, p in inspect.signature(SceneClassDataset).parameters.items()
               if p.kind is inspect.Parameter.KEYWORD_ONLY}
    if kind == "nwpu":
        dataset["use_published_lists"] = True
    assert dataset.keys() <= options.keys() and options["resize"] == 32 and options["gray"] == "bt709"
    assert all(options[k] == (list(v) if isinstance(v, tuple) else v) for k, v in dataset.items()
               if k not in ("resize", "gray"))
    assert options["batch_size"] == 8
    with pytest.raises(Exception, match="resiz"):
        parser.parse_args([f"--data={path}", "--data.init_args.root=r", "--data.init_args.resiz=32"])
    if kind == "aid":  # AID has no published lists
        with pytest.raises(Exception, match="use_published_lists"):
            parser.parse_args([f"--data={path}", "--data.init_args.root=r",
                               "--data.init_args.use_published_lists=false"])
