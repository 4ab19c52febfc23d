"""The Describable Textures Dataset (DTD) as burst super-resolution data (Xue 2025 (thesis), Sec. 5.5.1).

Released layout (``dtd-r1.0.1.tar.gz``; ``root`` may be the ``dtd`` folder or the folder holding it)::

    dtd/images/<class>/<class>_NNNN.jpg     47 class folders, 120 images each, 300x300 to 640x640
    dtd/labels/{train,val,test}<k>.txt       k = 1..10: one path relative to images/ per line,
                                             e.g. "banded/banded_0002.jpg"

Each partition splits every class 40 / 40 / 40 into train / val / test, the "three equal parts ... 40 images
per class" of Sec. 5.5.1; the thesis does not say which of the ten partitions it used: ``partition`` 1 by
default. The label of an image is its class folder (index in the sorted class folders). Each image gives
one burst of its 128x128 centre crop (:mod:`semcolor.datamodules.bursts`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from semcolor.datamodules.burst_data import BurstDataModule, ImageLoader
from semcolor.datamodules.io import read_rgb
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError
from semcolor.registry import DATASETS

__all__ = ["DTD_CLASSES", "DTDDataModule", "dtd_root", "read_split_list"]

EXPECTED = "{root}/images/<class>/<class>_NNNN.jpg and {root}/labels/{train,val,test}<k>.txt"
_SPLIT_FILE = {"train": "train", "val": "val", "test": "test"}

#: the 47 DTD classes (folder names as released), sorted
DTD_CLASSES: tuple[str, ...] = (
    "banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed", "cracked", "crosshatched",
    "crystalline", "dotted", "fibrous", "flecked", "freckled", "frilly", "gauzy", "grid", "grooved",
    "honeycombed", "interlaced", "knitted", "lacelike", "lined", "marbled", "matted", "meshed", "paisley",
    "perforated", "pitted", "pleated", "polka-dotted", "porous", "potholed", "scaly", "smeared", "spiralled",
    "sprinkled", "stained", "stratified", "striped", "studded", "swirly", "veined", "waffled", "woven",
    "wrinkled", "zigzagged",
)  # fmt: skip


def dtd_root(root: str | Path) -> Path:
    """The folder holding ``images/`` and ``labels/`` (``root`` or ``root/dtd``), checked."""
    root = Path(root).expanduser()
    if (root / "dtd" / "images").is_dir() and not (root / "images").is_dir():
        root = root / "dtd"
    if not root.is_dir():
        raise DatasetNotFoundError("DTD", root, EXPECTED, "the folder does not exist")
    if not (root / "images").is_dir():
        raise DatasetNotFoundError("DTD", root, EXPECTED, f"no images/ folder in '{root}'")
    if not (root / "labels").is_dir():
        raise DatasetNotFoundError("DTD", root, EXPECTED, f"no labels/ folder in '{root}' (the split lists)")
    return root


def read_split_list(root: Path, split: str, partition: int) -> list[str]:
    """The image paths (relative to ``images/``) of ``split`` in ``partition``, each checked to exist."""
    path = root / "labels" / f"{_SPLIT_FILE[split]}{partition}.txt"
    if not path.is_file():
        raise DatasetLayoutError(f"DTD: split list '{path}' does not exist; expected labels/{{train,val,test}}"
                                 f"{partition}.txt (partition={partition}, one of 1..10)")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        rel = line.strip()
        if not rel:
            continue
        if len(Path(rel).parts) != 2:
            raise DatasetLayoutError(f"DTD: '{path}' line {number}: expected '<class>/<file>.jpg', got {rel!r}")
        if not (root / "images" / rel).is_file():
            raise DatasetLayoutError(f"DTD: '{path}' line {number} names '{root / 'images' / rel}', which does not exist")
        entries.append(rel)
    if not entries:
        raise DatasetLayoutError(f"DTD: split list '{path}' is empty")
    return entries


@DATASETS.register("dtd")
class DTDDataModule(BurstDataModule):
    """DTD bursts: partition ``partition``'s train / val / test lists, one burst per image.

    Args:
        root: the ``dtd`` folder (or its parent).
        partition: which of the ten official splits (1, as we assume the thesis did).
        **kwargs: the burst degradation and loader options of :class:`BurstDataModule`.
    """

    def __init__(self, root: str, partition: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        if partition not in range(1, 11):
            raise DatasetLayoutError(f"DTD: partition must be 1..10, got {partition}")
        self.root, self.partition = root, partition
        self.save_hyperparameters()

    def image_source(self, split: str) -> tuple[ImageLoader, int]:
        root = dtd_root(self.root)
        entries = read_split_list(root, split, self.partition)
        classes = sorted(p.name for p in (root / "images").iterdir() if p.is_dir())
        labels = np.array([classes.index(Path(rel).parts[0]) if Path(rel).parts[0] in classes else -1
                           for rel in entries])

        def load(i: int) -> tuple[np.ndarray, str, int]:
            path = root / "images" / entries[i]
            return read_rgb(path), str(path), int(labels[i])  # the path names the file in errors

        return load, len(entries)
