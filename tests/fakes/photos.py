"""Seeded tiny fakes of the photo datasets of the harmonisation method, in their released layouts.

* :func:`make_fake_fivek`: Zeng's 480p sRGB release -- ``input/JPG/480p/aNNNN.jpg`` and
  ``expertC/JPG/480p/aNNNN.jpg`` for a few ids on both sides of the 4500 / 4501 test boundary, ``train.txt`` /
  ``test.txt`` -- and a ``CameraRaw/`` folder of own exports named ``aNNNN-<camera file>.tif``.
* :func:`make_fake_ppr10k`: ``train_val_images_tif_360p`` after the authors' split: ``{train,val}/source/
  {group}_{n}.tif`` (16-bit RGB TIFF), ``target_a/`` (8-bit), ``masks/`` (PNG); val groups >= 1356.
* :func:`make_fake_kodak`: ``kodim01.png`` ... ``kodim24.png`` (768 x 512 or 512 x 768 in the release; tiny here).
* :func:`make_fake_photo_folder`: a nested folder of PNG / JPEG files, one 16-bit PNG, one RGBA PNG, one
  grayscale PNG and a ``notes.txt`` that must be skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass
class FakePhotos:
    root: Path
    test_names: list[str]


def _picture(rng: np.random.Generator, h: int, w: int, dtype=np.uint8) -> np.ndarray:
    """Smooth colourful RGB picture (H, W, 3) of ``dtype``."""
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    base = rng.uniform(0.2, 0.8, 3)
    img = np.stack([base[0] + 0.3 * xx, base[1] + 0.2 * np.sin(6 * yy), base[2] - 0.3 * xx * yy], -1)
    img += rng.normal(0, 0.02, img.shape)
    top = np.iinfo(dtype).max
    return (np.clip(img, 0, 1) * top).round().astype(dtype)


def _write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = rgb[..., ::-1] if rgb.ndim == 3 and rgb.shape[2] == 3 else rgb
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        bgr = rgb[..., [2, 1, 0, 3]]
    assert cv2.imwrite(str(path), np.ascontiguousarray(bgr)), path


def make_fake_fivek(root: Path, ids=(4499, 4500, 4501, 4502, 4503), size=(100, 120), seed: int = 0) -> FakePhotos:
    rng = np.random.default_rng(seed)
    root = Path(root)
    for i in ids:
        _write(root / "input/JPG/480p" / f"a{i:04d}.jpg", _picture(rng, *size))
        _write(root / "expertC/JPG/480p" / f"a{i:04d}.jpg", _picture(rng, *size))
        _write(root / "CameraRaw" / f"a{i:04d}-kme_{i:04d}.tif", _picture(rng, *size))
    (root / "train.txt").write_text("\n".join(f"a{i:04d}" for i in ids[:2]) + "\n")
    (root / "test.txt").write_text("\n".join(f"a{i:04d}" for i in ids[2:]) + "\n")
    return FakePhotos(root, [f"a{i:04d}" for i in ids if i > 4500])


def make_fake_ppr10k(root: Path, size=(96, 128), seed: int = 0) -> FakePhotos:
    rng = np.random.default_rng(seed)
    root = Path(root)
    split = {"train": ["1354_0", "1355_1"], "val": ["1356_0", "1356_1", "1680_3"]}
    for part, names in split.items():
        for name in names:
            _write(root / part / "source" / f"{name}.tif", _picture(rng, *size, np.uint16))
            _write(root / part / "target_a" / f"{name}.tif", _picture(rng, *size))
            mask = (rng.random(size) > 0.5).astype(np.uint8) * 255
            _write(root / part / "masks" / f"{name}.png", mask)
    return FakePhotos(root, split["val"])


def make_fake_kodak(root: Path, size=(96, 128), seed: int = 0) -> FakePhotos:
    rng = np.random.default_rng(seed)
    root = Path(root)
    for i in range(1, 25):
        h, w = size if i % 4 else size[::-1]
        _write(root / f"kodim{i:02d}.png", _picture(rng, h, w))
    return FakePhotos(root, [f"kodim{i:02d}" for i in range(1, 25)])


def make_fake_photo_folder(root: Path, size=(100, 110), seed: int = 0) -> FakePhotos:
    rng = np.random.default_rng(seed)
    root = Path(root)
    _write(root / "holiday" / "beach.jpg", _picture(rng, *size))
    _write(root / "holiday" / "deep16.png", _picture(rng, *size, np.uint16))
    rgba = np.concatenate([_picture(rng, *size), np.full(size + (1,), 128, np.uint8)], -1)
    _write(root / "rgba.png", rgba)
    _write(root / "gray.png", _picture(rng, *size)[..., 0])
    (root / "notes.txt").write_text("not an image\n")
    return FakePhotos(root, ["gray", "holiday/beach", "holiday/deep16", "rgba"])
