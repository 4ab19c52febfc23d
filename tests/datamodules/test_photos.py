"""Photo datasets of the harmonisation method: reader (8/16-bit, alpha, gray, corrupt), released layouts
(FiveK, PPR10K, Kodak, any folder), the embedded generated pictures."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import torch

from semcolor.datamodules.embedded_photos import EmbeddedPhotosDataModule, ensure_photos
from semcolor.datamodules.fivek import FiveKDataModule
from semcolor.datamodules.kodak import KodakDataModule
from semcolor.datamodules.photos import ImageFolderDataModule, read_photo, resize_short_side
from semcolor.datamodules.ppr10k import PPR10KDataModule
from semcolor.errors import CorruptFileError, DatasetLayoutError, DatasetNotFoundError, SemcolorError
from tests.fakes.photos import make_fake_fivek, make_fake_kodak, make_fake_photo_folder, make_fake_ppr10k


def _names(dm):
    dm.setup("test")
    ds = dm.datasets["test"]
    return [ds[i]["name"] for i in range(len(ds))]


def test_reader_handles_depth_alpha_and_gray(tmp_path):
    fake = make_fake_photo_folder(tmp_path)
    deep, info = read_photo(fake.root / "holiday" / "deep16.png")
    raw = cv2.imread(str(fake.root / "holiday" / "deep16.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert info == {"gray": False, "had_alpha": False, "bit_depth": 16}
    np.testing.assert_allclose(deep, raw / 65535.0, atol=1e-7)  # all 16 bits kept
    rgba, info = read_photo(fake.root / "rgba.png")
    assert info["had_alpha"] and rgba.shape[-1] == 3
    raw = cv2.imread(str(fake.root / "rgba.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_allclose(rgba[..., 0], raw[..., 2] / 255.0, atol=1e-7)  # R is R, alpha dropped
    gray, info = read_photo(fake.root / "gray.png")
    assert info["gray"] and np.array_equal(gray[..., 0], gray[..., 2])


def test_corrupt_and_missing_files_name_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(CorruptFileError, match="broken.png") as err:
        read_photo(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(CorruptFileError, match="does not exist"):
        read_photo(tmp_path / "nope.jpg")


def test_resize_short_side():
    x = torch.rand(3, 100, 150)
    assert resize_short_side(x, 50).shape == (3, 50, 75)
    assert resize_short_side(x, None) is x


def test_folder_lists_images_recursively_and_skips_others(tmp_path):
    fake = make_fake_photo_folder(tmp_path)
    dm = ImageFolderDataModule(root=str(fake.root), short_side=64)
    assert _names(dm) == fake.test_names
    assert dm.datasets["test"][0]["image"].shape[-2:] == (64, 70)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no image files"):
        ImageFolderDataModule(root=str(tmp_path / "empty")).setup("test")
    with pytest.raises(DatasetNotFoundError, match="no such folder"):
        ImageFolderDataModule(root=str(tmp_path / "absent")).setup("test")
    with pytest.raises(SemcolorError, match="test / predict images only"):
        dm.build_dataset("train")


def test_fivek_splits_and_versions(tmp_path):
    fake = make_fake_fivek(tmp_path / "FiveK")
    assert _names(FiveKDataModule(root=str(fake.root), short_side=None)) == fake.test_names  # last 500 only
    assert _names(FiveKDataModule(root=str(fake.root), split="test_txt")) == ["a4501", "a4502", "a4503"]
    cr = _names(FiveKDataModule(root=str(fake.root), version="camera_raw", split="all"))
    assert cr[0] == "a4499-kme_4499" and len(cr) == 5
    assert len(_names(FiveKDataModule(root=str(fake.root), version="expert_c"))) == 3
    with pytest.raises(DatasetNotFoundError, match=r"input/JPG/480p/aNNNN"):
        FiveKDataModule(root=str(tmp_path / "missing")).setup("test")
    with pytest.raises(SemcolorError, match="version"):
        FiveKDataModule(version="raw")


def test_ppr10k_validation_sources_as_8_bit(tmp_path):
    fake = make_fake_ppr10k(tmp_path / "tif360p")
    dm = PPR10KDataModule(root=str(fake.root))
    assert _names(dm) == fake.test_names
    sample = dm.datasets["test"][0]
    assert sample["bit_depth"] == 16
    levels = sample["image"] * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4)  # quantised to 8 bits, as the thesis
    flat = tmp_path / "flat"
    (flat / "source").mkdir(parents=True)
    for p in (fake.root / "train" / "source").iterdir():
        (flat / "source" / p.name).write_bytes(p.read_bytes())
    for p in (fake.root / "val" / "source").iterdir():
        (flat / "source" / p.name).write_bytes(p.read_bytes())
    assert _names(PPR10KDataModule(root=str(flat))) == fake.test_names  # groups >= 1356
    with pytest.raises(DatasetNotFoundError, match="val/source"):
        PPR10KDataModule(root=str(tmp_path / "none")).setup("test")


def test_kodak_needs_all_24(tmp_path):
    fake = make_fake_kodak(tmp_path / "kodak")
    assert _names(KodakDataModule(root=str(fake.root), short_side=None)) == fake.test_names
    (fake.root / "kodim07.png").unlink()
    with pytest.raises(DatasetLayoutError, match="1 of the 24 images are missing.*kodim07.png"):
        KodakDataModule(root=str(fake.root)).setup("test")
    assert len(_names(KodakDataModule(root=str(fake.root), allow_missing=True, short_side=None))) == 23


def test_embedded_photos_are_seeded_cached_and_repaired(tmp_path):
    files = ensure_photos(tmp_path, 96, 2, seed=3)
    digest = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    again = ensure_photos(tmp_path / "other", 96, 2, seed=3)
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in again] == digest  # same seed, same pictures
    files[1].write_bytes(b"garbage")
    repaired = ensure_photos(tmp_path, 96, 2, seed=3)
    assert hashlib.sha256(repaired[1].read_bytes()).hexdigest() == digest[1]
    dm = EmbeddedPhotosDataModule(root=str(tmp_path), scene_size=96, test_scenes=2, seed=3, train_scenes=5)
    assert _names(dm) == ["photo_000", "photo_001"]
    assert dm.datasets["test"][0]["image"].shape == (3, 96, 128)
