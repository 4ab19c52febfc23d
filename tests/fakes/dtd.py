"""Seeded fake DTD in the released layout (``dtd/images/<class>/<class>_NNNN.jpg``, ``dtd/labels/{train,val,test}<k>.txt``).

A few classes of the real 47, ``per_split`` images per class in each of train / val / test (DTD: 40), JPEG
sizes between ``min_size`` and ``max_size`` (DTD: 300 to 640), one grayscale JPEG, and the lists of
``partitions`` partitions, each a different seeded shuffle of every class's images (as the release's ten).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from semcolor.datamodules.dtd import DTD_CLASSES


@dataclass
class FakeDTD:
    root: Path
    classes: list[str]
    lists: dict[str, list[str]] = field(default_factory=dict)  # "train1" -> relative paths


def make_fake_dtd(tmp: str | Path, classes: tuple[str, ...] = DTD_CLASSES[:3], per_split: int = 2,
                  partitions: int = 2, min_size: int = 136, max_size: int = 176, seed: int = 0) -> FakeDTD:
    rng = np.random.default_rng(seed)
    root = Path(tmp) / "dtd"
    fake = FakeDTD(root, list(classes))
    per_class: dict[str, list[str]] = {}
    for c, name in enumerate(classes):
        (root / "images" / name).mkdir(parents=True, exist_ok=True)
        per_class[name] = []
        for k in range(3 * per_split):
            h, w = rng.integers(min_size, max_size + 1, 2)
            yy, xx = np.mgrid[0:h, 0:w] / 7.0
            img = np.stack([np.sin(xx * (c + 1) + k), np.cos(yy * (k + 1)), np.sin(xx + yy)], -1)
            img = ((img * 0.4 + 0.5 + rng.normal(0, 0.05, img.shape)).clip(0, 1) * 255).astype(np.uint8)
            rel = f"{name}/{name}_{k + 1:04d}.jpg"
            pil = Image.fromarray(img)
            (pil.convert("L") if (c, k) == (0, 0) else pil).save(root / "images" / rel, quality=90)
            per_class[name].append(rel)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    for p in range(1, partitions + 1):
        parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
        for name in classes:
            order = rng.permutation(len(per_class[name]))
            for s, split in enumerate(parts):
                parts[split] += [per_class[name][i] for i in order[s * per_split:(s + 1) * per_split]]
        for split, rels in parts.items():
            (root / "labels" / f"{split}{p}.txt").write_text("\n".join(rels) + "\n")
            fake.lists[f"{split}{p}"] = rels
    return fake
