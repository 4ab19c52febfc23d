"""NWPU-RESISC45 as grayscale -> RGB colorization data for jsdcgan.

Released layout (DATASETS.md "NWPU-RESISC45")::

    {root}/NWPU-RESISC45/{class}/{class}_{NNN}.jpg     NNN = 001..700, 256x256 RGB JPEG
    {root}/resisc45-{train,val,test}.txt               optional published split lists (file names)

45 classes x 700 images. Split: when the three published lists are present (and
``use_published_lists``), they are used as they are (18,900 / 6,300 / 6,300 = 3:1:1, the same ratio as
JSDCGAN's); otherwise JSDCGAN's per-class 3:1:1 seeded split is created and written to
``{split_dir}/nwpu-{train,val,test}.txt`` (rule and handling: :mod:`semcolor.datamodules.scene_classes`). With
the published lists no image scan is done: a corrupt file then fails when read, naming the file.

Samples: ``{"input": (1,H,W) gray, "target": (3,H,W) RGB, "name": "airplane_001", "label": int}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from semcolor.datamodules.aid import AIDDataModule
from semcolor.datamodules.base import SPLITS
from semcolor.datamodules.scene_classes import SceneClassDataset, SplitResult
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError
from semcolor.registry import DATASETS

#: the 45 RESISC45 classes (folder names as released), sorted; label = index in this list
NWPU_CLASSES: tuple[str, ...] = (
    "airplane", "airport", "baseball_diamond", "basketball_court", "beach", "bridge", "chaparral",
    "church", "circular_farmland", "cloud", "commercial_area", "dense_residential", "desert", "forest",
    "freeway", "golf_course", "ground_track_field", "harbor", "industrial_area", "intersection",
    "island", "lake", "meadow", "medium_residential", "mobile_home_park", "mountain", "overpass",
    "palace", "parking_lot", "railway", "railway_station", "rectangular_farmland", "river",
    "roundabout", "runway", "sea_ice", "ship", "snowberg", "sparse_residential", "stadium",
    "storage_tank", "tennis_court", "terrace", "thermal_power_station", "wetland",
)  # fmt: skip

IMAGE_FOLDER = "NWPU-RESISC45"


class NWPUDataset(SceneClassDataset):
    """One split of NWPU-RESISC45.

    Args:
        use_published_lists: use ``{root}/resisc45-{train,val,test}.txt`` when all three exist.
        others: :class:`semcolor.datamodules.scene_classes.SceneClassDataset`.
    """

    NAME = "NWPU-RESISC45"
    EXPECTED = (
        "{root}/NWPU-RESISC45/{class}/{class}_{NNN}.jpg (optional {root}/resisc45-{train,val,test}.txt)"
    )
    PREFIX = "nwpu"
    KNOWN_CLASSES = NWPU_CLASSES

    def __init__(self, root: str | Path, split: str = "train", *, use_published_lists: bool = True, **kwargs: Any):
        self.use_published_lists = use_published_lists
        super().__init__(root, split, **kwargs)

    def _layout_options(self) -> dict[str, Any]:
        return {"use_published_lists": self.use_published_lists}

    @classmethod
    def image_root_of(cls, root: Path) -> Path:
        return Path(root) / IMAGE_FOLDER

    @classmethod
    def published_lists(cls, root: Path, use_published_lists: bool = True, **_: Any) -> dict[str, Path] | None:
        files = {s: Path(root) / f"resisc45-{s}.txt" for s in SPLITS}
        present = [s for s, p in files.items() if p.is_file()]
        if not use_published_lists or not present:
            return None
        if len(present) < len(files):
            missing = [files[s].name for s in SPLITS if s not in present]
            raise DatasetLayoutError(
                f"NWPU-RESISC45: published split lists in '{root}' are incomplete (missing {missing}); "
                "restore them, remove them, or pass use_published_lists=False"
            )
        return files

    @classmethod
    def prepare(cls, root: str | Path, **kwargs: Any) -> SplitResult:
        root = Path(root)
        if root.is_dir() and not (root / IMAGE_FOLDER).is_dir():
            direct = [d.name for d in root.iterdir() if d.is_dir() and d.name in NWPU_CLASSES]
            detail = f"folder '{root / IMAGE_FOLDER}' does not exist"
            if direct:
                detail += (
                    f"; class folders ({direct[0]}, ...) lie directly in it, but root must be the folder "
                    f"that contains {IMAGE_FOLDER}/"
                )
                if root.name == IMAGE_FOLDER:
                    detail += f", i.e. root='{root.parent}'"
            raise DatasetNotFoundError(cls.NAME, root, cls.EXPECTED, detail)
        return super().prepare(root, **kwargs)


@DATASETS.register("nwpu")
class NWPUDataModule(AIDDataModule):
    """NWPU-RESISC45 for jsdcgan (arguments as :class:`semcolor.datamodules.aid.AIDDataModule`; the
    ``**kwargs`` go to :class:`NWPUDataset`, which adds ``use_published_lists``: honour
    ``resisc45-{train,val,test}.txt`` when present). Images are 256x256 already, so the default
    ``resize=256`` is a no-op."""

    def build_dataset(self, split: str) -> Dataset:
        return NWPUDataset(self.root, split, **self.kwargs)
