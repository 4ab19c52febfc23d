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

from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset

from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.scene_classes import GrayStandard, SceneClassDataset
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

    Args:
        root: the folder holding the 30 class folders.
        split_dir: where ``aid-{train,val,test}.txt`` are read/written (``None``: the root if writable,
            else a cache folder; see :mod:`semcolor.datamodules.scene_classes`).
        seed: split seed (used only when the split files are created; existing files are never replaced).
        split_ratios: ``(train, val, test)`` weights, JSDCGAN's 3:1:1.
        resize: side of the square every image is resized to (``None``: keep 600x600).
        crop_size: square crop after resizing (random for train, centred otherwise); ``None``: none.
        augment: random flips / 90-degree rotations on train (not stated by the paper; our choice).
        gray: ``"bt601"`` (TensorFlow's rgb_to_grayscale weights; default) or ``"bt709"``.
        classes: subset / order of class folders (``None``: all, sorted).
        verify_images: decode every image once when the split files are created; corrupt ones are
            skipped with a warning and recorded in ``aid-split.json``.
        batch_size: 8 as in the paper (Sec. 4.2); the rest as in :class:`SemcolorDataModule`.
    """

    dataset_class: type[SceneClassDataset] = AIDDataset

    def __init__(
        self,
        root: str | Path,
        split_dir: str | Path | None = None,
        seed: int = 0,
        split_ratios: Sequence[float] = (3, 1, 1),
        resize: int | None = 256,
        crop_size: int | None = None,
        augment: bool = True,
        gray: GrayStandard = "bt601",
        classes: Sequence[str] | None = None,
        verify_images: bool = True,
        batch_size: int = 8,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, eval_batch_size, pin_memory)
        self.root, self.split_dir, self.seed = Path(root), split_dir, seed
        self.split_ratios = tuple(split_ratios)
        self.resize, self.crop_size, self.augment, self.gray = resize, crop_size, augment, gray
        self.classes = list(classes) if classes is not None else None
        self.verify_images = verify_images

    def _dataset_kwargs(self) -> dict:
        return {
            "split_dir": self.split_dir,
            "seed": self.seed,
            "split_ratios": self.split_ratios,
            "resize": self.resize,
            "crop_size": self.crop_size,
            "augment": self.augment,
            "gray": self.gray,
            "classes": self.classes,
            "verify_images": self.verify_images,
        }

    def prepare_data(self) -> None:
        """Create the split files once (rank 0) so that DDP ranks only read them."""
        self.dataset_class.prepare(
            self.root,
            split_dir=self.split_dir,
            seed=self.seed,
            split_ratios=self.split_ratios,
            verify_images=self.verify_images,
        )

    def build_dataset(self, split: str) -> Dataset:
        return self.dataset_class(self.root, split, **self._dataset_kwargs())

    @property
    def num_scene_classes(self) -> int:
        """Number of scene classes (labels), known once a split is built."""
        ds = next(iter(self.datasets.values()), None) or self.build_dataset("train")
        return len(ds.classes)  # type: ignore[attr-defined]
