"""Seeded generators of tiny fake AID and NWPU-RESISC45 copies in the released layouts (DATASETS.md).

* :func:`make_fake_aid`: ``{root}/{Class}/{classlower}_{n}.jpg`` (n from 1, no padding).
* :func:`make_fake_nwpu`: ``{root}/NWPU-RESISC45/{class}/{class}_{NNN}.jpg`` and optionally the
  published ``{root}/resisc45-{train,val,test}.txt`` lists (bare file names, one per line).

Quirks included on purpose: a stray non-image file in a class folder, one grayscale (mode L) JPEG, and
optionally one corrupt (truncated) JPEG named like a real image, written *in addition to* the
``per_class`` good images of the first class. Everything is deterministic for a given ``seed``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

STRAY_FILE = "Thumbs.db"


@dataclass
class FakeSceneSet:
    """What was written: the root to pass to the dataset and the quirky files (relative paths)."""

    root: Path
    classes: list[str]
    per_class: int
    gray: str
    stray: str
    corrupt: str | None = None
    files: dict[str, list[str]] = field(default_factory=dict)


def _image(rng: np.random.Generator, size: int) -> np.ndarray:
    """Colourful smooth uint8 ``(size, size, 3)`` image (channels differ, so gray != RGB)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    chans = [0.5 + 0.5 * np.sin(2 * np.pi * (xx * (k + 1) + yy * (2 - k)) + phase[k]) for k in range(3)]
    img = np.stack(chans, axis=-1) * 200 + rng.normal(0, 8, size=(size, size, 3)) + 20
    return np.clip(img, 0, 255).astype(np.uint8)


def _write_jpeg(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, "JPEG", quality=92)


def _truncated_jpeg(rng: np.random.Generator, size: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_image(rng, size)).save(buf, "JPEG", quality=92)
    data = buf.getvalue()
    return data[: len(data) // 2]  # valid header, truncated scan: opens, fails to decode


def _make(
    image_root: Path,
    classes: Sequence[str],
    per_class: int,
    size: int,
    name_of,  # (class, n) -> file name
    corrupt: bool,
    seed: int,
) -> tuple[dict[str, list[str]], str, str, str | None]:
    rng = np.random.default_rng(seed)
    files: dict[str, list[str]] = {}
    for cls in classes:
        files[cls] = []
        for n in range(1, per_class + 1):
            rel = f"{cls}/{name_of(cls, n)}"
            _write_jpeg(image_root / rel, _image(rng, size))
            files[cls].append(rel)
    # quirks: one grayscale JPEG (replaces the second image of the last class), a stray file, a corrupt JPEG
    gray = files[classes[-1]][min(1, per_class - 1)]
    Image.fromarray(_image(rng, size)[..., 1]).save(image_root / gray, "JPEG", quality=92)
    stray = f"{classes[0]}/{STRAY_FILE}"
    (image_root / stray).write_bytes(b"not an image")
    bad = None
    if corrupt:
        bad = f"{classes[0]}/{name_of(classes[0], per_class + 1)}"
        (image_root / bad).write_bytes(_truncated_jpeg(rng, size))
    return files, gray, stray, bad


def make_fake_aid(
    root: str | Path,
    classes: Sequence[str] = ("Airport", "BareLand", "Beach"),
    per_class: int = 5,
    size: int = 64,
    corrupt: bool = False,
    seed: int = 0,
) -> FakeSceneSet:
    """Fake AID at ``root``: ``{root}/{Class}/{classlower}_{n}.jpg``, n = 1..per_class."""
    root = Path(root)
    files, gray, stray, bad = _make(
        root, list(classes), per_class, size, lambda c, n: f"{c.lower()}_{n}.jpg", corrupt, seed
    )
    return FakeSceneSet(root, list(classes), per_class, gray, stray, bad, files)


def make_fake_nwpu(
    root: str | Path,
    classes: Sequence[str] = ("airplane", "beach", "church"),
    per_class: int = 5,
    size: int = 32,
    with_lists: bool = False,
    corrupt: bool = False,
    seed: int = 0,
) -> FakeSceneSet:
    """Fake NWPU-RESISC45 at ``root``: ``{root}/NWPU-RESISC45/{class}/{class}_{NNN}.jpg``.

    ``with_lists`` also writes ``{root}/resisc45-{train,val,test}.txt`` with bare file names: per class,
    images 1..per_class-2 train, per_class-1 val, per_class test (a fixed rule that differs from the
    seeded split, so tests can tell which one was used).
    """
    root = Path(root)
    image_root = root / "NWPU-RESISC45"
    files, gray, stray, bad = _make(
        image_root, list(classes), per_class, size, lambda c, n: f"{c}_{n:03d}.jpg", corrupt, seed
    )
    if with_lists:
        lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
        for cls in classes:
            names = [rel.split("/", 1)[1] for rel in files[cls]]
            lists["train"] += names[:-2]
            lists["val"].append(names[-2])
            lists["test"].append(names[-1])
        for split, names in lists.items():
            (root / f"resisc45-{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return FakeSceneSet(root, list(classes), per_class, gray, stray, bad, files)
