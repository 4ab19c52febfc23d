"""Seeded generators of tiny fake street-scene datasets in the released layouts (DATASETS.md).

* :func:`make_fake_cityscapes`: ``leftImg8bit/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png``
  with, in ``gtFine/{split}/{city}/``, ``_gtFine_labelIds.png`` (mode L, **every id 0..33 present**),
  ``_gtFine_instanceIds.png`` (I;16), ``_gtFine_color.png`` (RGBA) and ``_gtFine_polygons.json``, so a
  loader that picks the wrong file is caught. No value outside 0..33 is written: the official id -1
  (license plate) never appears in released labelIds PNGs (cityscapesScripts draws no polygon with a
  negative id; those pixels keep the label below, usually car).
* :func:`make_fake_gta5`: ``images/NNNNN.png`` RGB, ``labels/NNNNN.png`` palette ("P") PNGs whose
  indices are Cityscapes ids and whose palette holds the Cityscapes colours (so reading them with
  ``convert()`` would give colours, not ids), one label written at half size (the release has 60
  mis-sized labels), and ``split.mat`` (trainIds / valIds / testIds, 1-based, MATLAB doubles, column
  vectors) written with ``scipy.io.savemat``.

Everything is small and deterministic for a given ``seed``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

#: real city names per split (train / val from DATASETS.md; test cities of the release)
DEFAULT_CITIES: dict[str, tuple[str, ...]] = {
    "train": ("aachen", "bochum"),
    "val": ("frankfurt",),
    "test": ("berlin",),
}

#: colour of each Cityscapes label id 0..33 (the official table), used as the fake GTA5 palette and
#: for the fake ``_gtFine_color.png``
CITYSCAPES_ID_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (111, 74, 0), (81, 0, 81), (128, 64, 128),
    (244, 35, 232), (250, 170, 160), (230, 150, 140), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (180, 165, 180), (150, 100, 100), (150, 120, 90), (153, 153, 153), (153, 153, 153), (250, 170, 30),
    (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0),
    (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 0, 90), (0, 0, 110), (0, 80, 100), (0, 0, 230),
    (119, 11, 32),
)  # fmt: skip

N_IDS = 34  # ids 0..33


def _rgb(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), 1 - xx / max(w - 1, 1)], axis=-1) * 200
    return np.clip(base + rng.normal(0, 10, size=(h, w, 3)) + 20, 0, 255).astype(np.uint8)


def _all_ids_blocks(rng: np.random.Generator, h: int, w: int, block: int) -> np.ndarray:
    """uint8 id map of ``block`` squares holding every id 0..33 at least once."""
    bh, bw = -(-h // block), -(-w // block)
    if bh * bw < N_IDS:
        raise ValueError(f"a {h}x{w} label with {block}-pixel blocks cannot hold all {N_IDS} ids")
    cells = np.concatenate([rng.permutation(N_IDS), rng.integers(0, N_IDS, size=bh * bw - N_IDS)])
    small = rng.permutation(cells).reshape(bh, bw).astype(np.uint8)
    return np.kron(small, np.ones((block, block), dtype=np.uint8))[:h, :w]


@dataclass
class FakeCityscapes:
    root: Path
    samples: dict[str, list[str]] = field(default_factory=dict)  # split -> stems


def make_fake_cityscapes(
    root: str | Path,
    splits: Sequence[str] = ("train", "val"),
    cities: Mapping[str, Sequence[str]] | None = None,
    n_per_city: int = 2,
    size: tuple[int, int] = (64, 128),
    block: int = 8,
    seed: int = 0,
) -> FakeCityscapes:
    """Write a fake Cityscapes (fine) at ``root``; ``size`` is ``(H, W)``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    cities = dict(cities) if cities is not None else DEFAULT_CITIES
    h, w = size
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[:N_IDS] = CITYSCAPES_ID_COLOURS
    out = FakeCityscapes(root)
    for split in splits:
        out.samples[split] = []
        for city in cities[split]:
            img_dir = root / "leftImg8bit" / split / city
            gt_dir = root / "gtFine" / split / city
            img_dir.mkdir(parents=True, exist_ok=True)
            gt_dir.mkdir(parents=True, exist_ok=True)
            for k in range(n_per_city):
                stem = f"{city}_{k:06d}_{19 + k:06d}"
                Image.fromarray(_rgb(rng, h, w)).save(img_dir / f"{stem}_leftImg8bit.png")
                ids = _all_ids_blocks(rng, h, w, block)
                Image.fromarray(ids).save(gt_dir / f"{stem}_gtFine_labelIds.png")
                inst = ids.astype(np.uint16) * 1000 + 1  # values far from ids: picking this file is caught
                Image.fromarray(inst).save(gt_dir / f"{stem}_gtFine_instanceIds.png")
                rgba = np.concatenate([palette[ids], np.full((h, w, 1), 255, np.uint8)], axis=-1)
                Image.fromarray(rgba).save(gt_dir / f"{stem}_gtFine_color.png")
                (gt_dir / f"{stem}_gtFine_polygons.json").write_text(
                    json.dumps({"imgHeight": h, "imgWidth": w, "objects": []})
                )
                out.samples[split].append(stem)
    return out


@dataclass
class FakeGTA5:
    root: Path
    ids: list[int]
    mis_sized: list[int]
    split: dict[str, list[int]]


def gta5_palette() -> list[int]:
    """Flat 768-entry palette: Cityscapes colours for indices 0..33, zeros after."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    pal[:N_IDS] = CITYSCAPES_ID_COLOURS
    return pal.ravel().tolist()


def make_fake_gta5(
    root: str | Path,
    n: int = 20,
    size: tuple[int, int] = (24, 48),
    mis_sized: Sequence[int] = (3,),
    block: int = 4,
    seed: int = 0,
    write_split_mat: bool = True,
) -> FakeGTA5:
    """Write a fake GTA5 at ``root`` with ids 1..n; ``size`` is ``(H, W)`` (even, multiple of ``block``).

    Labels of ``mis_sized`` ids are saved at half resolution (``label[::2, ::2]``); since blocks are
    ``block`` (even) pixels, nearest-neighbour upsampling recovers the full label exactly.
    ``split.mat``: first 60 % of the ids train, next 20 % val, rest test.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    h, w = size
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    palette = gta5_palette()
    ids = list(range(1, n + 1))
    for i in ids:
        Image.fromarray(_rgb(rng, h, w)).save(root / "images" / f"{i:05d}.png")
        small = rng.integers(0, N_IDS, size=(-(-h // block), -(-w // block))).astype(np.uint8)
        lab = np.kron(small, np.ones((block, block), dtype=np.uint8))[:h, :w]
        if i in mis_sized:
            lab = lab[::2, ::2]
        lab = np.ascontiguousarray(lab)
        img = Image.frombytes("P", (lab.shape[1], lab.shape[0]), lab.tobytes())
        img.putpalette(palette)
        img.save(root / "labels" / f"{i:05d}.png")
    n_train, n_val = int(n * 0.6), int(n * 0.2)
    split = {"train": ids[:n_train], "val": ids[n_train : n_train + n_val], "test": ids[n_train + n_val :]}
    if write_split_mat:
        scipy.io.savemat(
            root / "split.mat",
            {f"{s}Ids": np.asarray(v, dtype=np.float64).reshape(-1, 1) for s, v in split.items()},
        )
    return FakeGTA5(root, ids, list(mis_sized), split)
