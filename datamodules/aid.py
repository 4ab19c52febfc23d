"""AID (Aerial Image Dataset) as grayscale -> RGB colorization data for jsdcgan.

Released layout (DATASETS.md "AID")::

    {root}/{Class}/{classlower}_{n}.jpg      e.g. {root}/Airport/airport_1.jpg (n from 1, no padding)

10,000 RGB JPEGs of 600x600 in 30 classes. No official split: the JSDCGAN protocol divides every class
train:test:val = 3:1:1 (Wang et al. 2022, Sec. 4.1); the split is seeded and written to
``{split_dir}/aid-{train,val,test}.txt`` on first use, then read back (rule, file placement, corrupt /
grayscale / non-image handling and the grayscale conversion: :mod:`semcolor.datamodules.scene_classes`).

Samples: ``{"input": (1,H,W) gray in [0,1], "target": (3,H,W) RGB in [0,1], "name": "airport_1",
"label": class index}``. Images are resized to 256x256 by default (600 is not a multiple of 2**depth
of the U-Net; 256 matches NWPU and the paper's generator input).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.scene_classes import SceneClassDataset
from semcolor.registry import DATASETS

#: the 30 AID classes (folder names as released), sorted; label = index in this list
AID_CLASSES: tuple[str, ...] = (
    "Airport", "BareLand", "BaseballField", "Beach", "Bridge", "Center", "Church", "Commercial",
    "DenseResidential", "Desert", "Farmland", "Forest", "Industrial", "Meadow", "MediumResidential",
    "Mountain", "Park", "Parking", "Playground", "Pond", "Port", "RailwayStation", "Resort", "River",
    "School", "SparseResidential", "Square", "Stadium", "StorageTanks", "Viaduct",
)  # fmt: skip


class AIDDataset(SceneClassDataset):
    """One split of AID (arguments: :class:`semcolor.datamodules.scene_classes.SceneClassDataset`)."""

    NAME = "AID"
    EXPECTED = "{root}/{Class}/{classlower}_{n}.jpg (one folder per class, e.g. {root}/Airport/airport_1.jpg)"
    PREFIX = "aid"
    KNOWN_CLASSES = AID_CLASSES


@DATASETS.register("aid")
class AIDDataModule(SemcolorDataModule):
    """AID for jsdcgan: per-class 3:1:1 seeded split, gray input, RGB target.

    The dataset options are forwarded to :class:`AIDDataset` (as torchgeo's ``NonGeoDataModule`` does) and
    stated once, in :class:`~semcolor.datamodules.scene_classes.SceneClassDataset`; LightningCLI lists and
    checks them as this class's own (jsonargparse follows ``**kwargs`` into :meth:`build_dataset`).

    Args:
        root: the folder holding the 30 class folders.
        batch_size: 8 as in the paper (Sec. 4.2); ``num_workers``, ``eval_batch_size``, ``pin_memory`` as in
            :class:`SemcolorDataModule`.
        **kwargs: :class:`AIDDataset`'s options: ``split_dir`` (where ``aid-{train,val,test}.txt`` are
            read/written), ``seed`` (of the split, used only when the split files are created), ``split_ratios``
            (JSDCGAN's 3:1:1), ``resize`` (256; ``None`` keeps 600x600), ``crop_size``, ``augment`` (random
            flips / 90-degree rotations on train, our choice), ``gray`` (``"bt601"`` or ``"bt709"``),
            ``classes``, ``verify_images`` (see :class:`~semcolor.datamodules.scene_classes.SceneClassDataset`).
    """

    def __init__(
        self,
        root: str | Path,
        batch_size: int = 8,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size, num_workers, eval_batch_size, pin_memory)
        self.root = Path(root)
        self.kwargs = kwargs

    def prepare_data(self) -> None:
        """Create the split files once (rank 0) so that DDP ranks only read them (building a split does)."""
        self.build_dataset("train")

    def build_dataset(self, split: str) -> Dataset:
        return AIDDataset(self.root, split, **self.kwargs)

    @property
    def num_scene_classes(self) -> int:
        """Number of scene classes (labels), known once a split is built."""
        ds = next(iter(self.datasets.values()), None) or self.build_dataset("train")
        return len(ds.classes)  # type: ignore[attr-defined]
