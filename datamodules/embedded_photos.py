"""Embedded photos: generated, seeded pictures so that ``make eval METHOD=harmonize`` runs with no download.

Each picture is a simple outdoor-like scene -- a sky gradient, a textured ground, 3-6 shaded objects of
random hues and a skin-toned ellipse -- then partly desaturated and tinted (so there is colour to
harmonise), softened and lightly noised, and stored as an 8-bit PNG. Short side ``scene_size`` (512, the
thesis's test resolution), aspect 4:3 landscape. Not photographs: their NIQE / BRISQUE are those of smooth
synthetic images, useful to compare methods with each other, not with the thesis's tables.

Cache: ``$SEMCOLOR_DATA`` (default ``./data``) ``/embedded_photos/v1-<size>-<n>-<seed>/photo_XXX.png``,
written into a temporary folder and renamed into place; a folder with a missing or unreadable file is
generated again. Only a test split (the method is training-free); ``train_scenes`` / ``val_scenes`` are
accepted for the shared embedded interface and ignored.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from semcolor.datamodules.photos import PhotoDataModule
from semcolor.errors import SemcolorError
from semcolor.registry import DATASETS

__all__ = ["VERSION", "EmbeddedPhotosDataModule", "ensure_photos", "make_photo"]

VERSION = 1


def _hsv(h: np.ndarray | float, s: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """HSV (h in turns) -> RGB float, broadcast."""
    h, s, v = np.broadcast_arrays(np.asarray(h, np.float64) % 1.0, np.asarray(s, np.float64), np.asarray(v, np.float64))
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(h.shape + (3,))
    for k, (r, g, b) in enumerate(table):
        m = i == k
        out[m] = np.stack([r[m], g[m], b[m]], -1)
    return out


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    import cv2

    grid = rng.random((cells, max(2, round(cells * w / h)))).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def make_photo(size: int, seed: int) -> np.ndarray:
    """One generated picture ``(size, round(size * 4 / 3), 3)`` uint8."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size, round(size * 4 / 3)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    horizon = rng.uniform(0.35, 0.6)
    sky_hue = rng.uniform(0.53, 0.66)
    sky = _hsv(sky_hue + 0.04 * yy, rng.uniform(0.25, 0.6) * (1 - 0.5 * yy), 0.95 - 0.3 * yy)
    ground_hue = rng.choice([0.08, 0.12, 0.25, 0.3, 0.35])
    tex = _smooth_noise(rng, h, w, 12) * 0.5 + _smooth_noise(rng, h, w, 48) * 0.5
    ground = _hsv(ground_hue + 0.05 * (tex - 0.5), rng.uniform(0.3, 0.7) * (0.7 + 0.3 * tex), 0.35 + 0.35 * tex)
    img = np.where((yy < horizon + 0.03 * np.sin(6 * xx + seed))[..., None], sky, ground)
    for _ in range(rng.integers(3, 7)):
        cy, cx = rng.uniform(horizon - 0.15, 0.95), rng.uniform(0.05, 0.95)
        ry, rx = rng.uniform(0.05, 0.2), rng.uniform(0.04, 0.18)
        shade = 0.6 + 0.4 * np.clip(1 - (yy - cy + ry) / (2 * ry), 0, 1)
        colour = _hsv(rng.random(), rng.uniform(0.3, 0.85), rng.uniform(0.45, 0.95) * shade)
        if rng.random() < 0.5:
            mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        else:
            mask = (np.abs(yy - cy) < ry) & (np.abs(xx - cx) < rx)
        img = np.where(mask[..., None], colour, img)
    cy, cx = rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.8)  # a face-sized skin tone
    face = ((yy - cy) / 0.12) ** 2 + ((xx - cx) / 0.07) ** 2 < 1
    img = np.where(face[..., None], _hsv(rng.uniform(0.03, 0.08), rng.uniform(0.3, 0.5),
                                         rng.uniform(0.6, 0.9) * (1 - 0.2 * (yy - cy))), img)
    grey = img.mean(-1, keepdims=True)
    img = grey + rng.uniform(0.5, 0.8) * (img - grey)  # washed out ...
    img = img * (1 + rng.uniform(-0.06, 0.06, 3))  # ... with a slight cast
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.0)
    img += rng.normal(0, 0.008, img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def _folder(root: str | Path | None, size: int, n: int, seed: int) -> Path:
    base = Path(root) if root else Path(os.environ.get("SEMCOLOR_DATA", "data"))
    return base / "embedded_photos" / f"v{VERSION}-{size}-{n}-{seed}"


def _complete(folder: Path, n: int) -> bool:
    from PIL import Image

    for i in range(n):
        try:
            with Image.open(folder / f"photo_{i:03d}.png") as img:
                img.verify()
        except Exception:  # noqa: BLE001 - any unreadable file means: generate again
            return False
    return True


def ensure_photos(root: str | Path | None, size: int, n: int, seed: int = 0) -> list[Path]:
    """The ``n`` generated pictures (written once, then reused); their paths."""
    from PIL import Image

    folder = _folder(root, size, n, seed)
    if not _complete(folder, n):
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
        try:
            for i in range(n):
                Image.fromarray(make_photo(size, seed * 100003 + i)).save(tmp / f"photo_{i:03d}.png")
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return [folder / f"photo_{i:03d}.png" for i in range(n)]


@DATASETS.register("embedded_photos")
class EmbeddedPhotosDataModule(PhotoDataModule):
    """Generated pictures for the harmonisation method (module docstring).

    Args:
        root: data root (None: ``$SEMCOLOR_DATA`` or ``./data``).
        scene_size: short side of the pictures (512).
        test_scenes: how many (8).
        train_scenes, val_scenes: ignored (the shared embedded interface).
        seed: generator seed.
        batch_size, num_workers: loader settings.
    """

    NAME = "embedded_photos"

    def __init__(self, root: str | None = None, scene_size: int = 512, train_scenes: int = 0, val_scenes: int = 0,
                 test_scenes: int = 8, seed: int = 0, **kwargs: Any) -> None:
        kwargs.setdefault("short_side", None)
        super().__init__(root=root, **kwargs)
        if scene_size < 96 or test_scenes < 1:
            raise SemcolorError(f"embedded_photos: need scene_size >= 96 (NIQE's block) and test_scenes >= 1, "
                                f"got {scene_size}, {test_scenes}")
        self.scene_size, self.test_scenes, self.seed = scene_size, test_scenes, seed

    def test_files(self) -> list[Path]:
        return ensure_photos(self.root, self.scene_size, self.test_scenes, self.seed)

    def names_relative_to(self) -> Path:
        return _folder(self.root, self.scene_size, self.test_scenes, self.seed)
