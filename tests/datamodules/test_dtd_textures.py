"""DTD (released layout, on a fake) and the generated textures as burst data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcolor.datamodules.burst_data import EpochSampler
from semcolor.datamodules.dtd import DTD_CLASSES, DTDDataModule
from semcolor.datamodules.textures import FAMILIES, TexturesDataModule, generate_texture, load_textures
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError, SemcolorError
from tests.fakes.dtd import make_fake_dtd


def test_dtd_class_list():
    assert len(DTD_CLASSES) == 47 and list(DTD_CLASSES) == sorted(DTD_CLASSES)


@pytest.mark.parametrize("parent", [False, True])
def test_dtd_reads_partition_lists(tmp_path, parent):
    fake = make_fake_dtd(tmp_path, per_split=2, partitions=2)
    root = fake.root.parent if parent else fake.root  # the dtd folder or its parent
    dm = DTDDataModule(str(root), partition=2, num_frames=3, sigma_s=1, batch_size=2)
    dm.setup("fit")
    ds = dm.datasets["train"]
    assert len(ds) == 2 * len(fake.classes)
    s = ds[0]
    assert s["input"].shape == (9, 32, 32) and s["target"].shape == (3, 128, 128)
    assert s["name"].endswith(fake.lists["train2"][0])  # the file named in the list
    assert s["label"] == fake.classes.index(fake.lists["train2"][0].split("/")[0])
    assert torch.equal(ds[0]["input"], ds[(0, 0)]["input"]) and not torch.equal(ds[(1, 0)]["input"], s["input"])
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape == (2, 9, 32, 32)


def test_dtd_grayscale_jpeg_is_expanded(tmp_path):
    fake = make_fake_dtd(tmp_path)
    dm = DTDDataModule(str(fake.root), num_frames=1)
    for split in ("train", "val", "test"):
        ds = dm.build_dataset(split)
        for i in range(len(ds)):
            assert ds[i]["target"].shape == (3, 128, 128)


def test_dtd_missing_labels_is_one_clear_error(tmp_path):
    fake = make_fake_dtd(tmp_path)
    import shutil

    shutil.rmtree(fake.root / "labels")
    with pytest.raises(DatasetNotFoundError, match="no labels/ folder") as err:
        DTDDataModule(str(fake.root), num_frames=1).setup("fit")
    assert "\n" not in str(err.value) and str(fake.root) in str(err.value)


def test_dtd_bad_layouts(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        DTDDataModule(str(tmp_path / "nowhere"), num_frames=1).setup("fit")
    fake = make_fake_dtd(tmp_path)
    with pytest.raises(DatasetLayoutError, match="train3.txt' does not exist"):
        DTDDataModule(str(fake.root), partition=3, num_frames=1).setup("fit")
    missing = fake.lists["val1"][0]
    (fake.root / "images" / missing).unlink()
    with pytest.raises(DatasetLayoutError, match=f"val1.txt' line 1 names .*{missing}"):
        DTDDataModule(str(fake.root), num_frames=1).setup("validate")
    with pytest.raises(DatasetLayoutError, match="partition must be 1..10"):
        DTDDataModule(str(fake.root), partition=11)


def test_dtd_image_smaller_than_the_crop(tmp_path):
    fake = make_fake_dtd(tmp_path, min_size=100, max_size=110)
    ds = DTDDataModule(str(fake.root), num_frames=1).build_dataset("train")
    with pytest.raises(SemcolorError, match=r"\.jpg: the 128x128 HR crop does not fit"):
        ds[0]


def test_burst_length_zero_is_refused():
    with pytest.raises(SemcolorError, match="num_frames .* must be a positive integer, got 0"):
        TexturesDataModule(num_frames=0)


def test_textures_are_seeded_and_cached(tmp_path):
    a, fa = generate_texture(64, 5)
    b, _ = generate_texture(64, 5)
    assert a.dtype == np.uint8 and a.shape == (64, 64, 3) and np.array_equal(a, b)
    assert {generate_texture(32, i, f)[1] for i, f in enumerate(FAMILIES)} == set(range(len(FAMILIES)))
    counts = {"train": 3, "val": 1, "test": 1}
    imgs, fams = load_textures(tmp_path, "train", 64, counts)
    cached = list((tmp_path / "textures").glob("*/train.npz"))
    assert len(cached) == 1
    again, _ = load_textures(tmp_path, "train", 64, counts)
    assert np.array_equal(imgs, again)
    cached[0].write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="regenerating"):
        fixed, _ = load_textures(tmp_path, "train", 64, counts)
    assert np.array_equal(fixed, imgs)


def test_textures_datamodule_takes_the_models_burst_length(tmp_path):
    dm = TexturesDataModule(root=str(tmp_path), scene_size=80, crop_size=64, train_scenes=4, val_scenes=2,
                            test_scenes=2, batch_size=2)

    class Model:
        num_frames = 4

    class Trainer:
        lightning_module = Model()

    with pytest.raises(SemcolorError, match="num_frames is None"):
        dm.settings
    dm.trainer = Trainer()
    dm.setup("fit")
    assert dm.datasets["train"][0]["input"].shape == (12, 16, 16)
    with pytest.raises(SemcolorError, match="smaller than the HR crop"):
        TexturesDataModule(scene_size=100, crop_size=128)


def test_epoch_sampler_reshuffles_and_resamples():
    s = EpochSampler(10, seed=1)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    assert sorted(i for _, i in first) == list(range(10)) and {e for e, _ in second} == {1}
    assert [i for _, i in first] != [i for _, i in second]
    fixed = EpochSampler(10, resample=False)
    fixed.set_epoch(3)
    assert {e for e, _ in fixed} == {0}
