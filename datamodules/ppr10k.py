"""PPR10K portraits (Liang et al., CVPR 2021) as 8-bit sRGB test images (Xue 2025 (thesis), §4.4.1).

The chapter uses "the validation split (the last 2,286 images) of the source 360p 16bit sRGB images, and
convert[s] them to 8 bits to fit the color naming model" (no resizing stated: the 360p size is kept,
``short_side=None``). Released layout of ``train_val_images_tif_360p`` (after the authors' split script
``utils/split_train_val.py``: groups 0-1355 train, 1356-1680 val)::

    {root}/val/source/{group}_{n}.tif          16-bit sRGB sources (the ones scored)
    {root}/val/target_{a,b,c}/{group}_{n}.tif  8-bit expert retouches
    {root}/val/masks/{group}_{n}.png           human-region masks
    {root}/train/...                           the same for the training groups

The unsplit layout of AdaInt's instructions (``{root}/source/*.tif`` with ``test.txt``) is read too: the val
images are then the groups >= 1356. ``images="target_a"`` etc. scores an expert's retouch instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semcolor.datamodules.photos import PhotoDataModule, list_images
from semcolor.errors import DatasetNotFoundError, SemcolorError
from semcolor.registry import DATASETS

__all__ = ["FIRST_VAL_GROUP", "PPR10KDataModule"]

#: first group of the validation split (utils/split_train_val.py of the PPR10K repository)
FIRST_VAL_GROUP = 1356


def _group(path: Path) -> int | None:
    head = path.stem.split("_")[0]
    return int(head) if head.isdigit() else None


@DATASETS.register("ppr10k")
class PPR10KDataModule(PhotoDataModule):
    """PPR10K validation sources (module docstring).

    Args:
        root: ``train_val_images_tif_360p`` (holding ``val/`` and ``train/``, or a flat ``source/``).
        images: ``"source"`` (default) or ``"target_a"`` / ``"target_b"`` / ``"target_c"``.
        short_side: None keeps the 360p size (the thesis does not resize PPR10K).
        to_8bit: quantise the 16-bit sources to 8 bits (True, as the thesis).
        limit, batch_size, num_workers: :class:`~semcolor.datamodules.photos.PhotoDataModule`.
    """

    NAME = "PPR10K"

    def __init__(self, root: str = "data/PPR10K", images: str = "source", short_side: int | None = None,
                 to_8bit: bool = True, **kwargs: Any) -> None:
        super().__init__(root=root, short_side=short_side, to_8bit=to_8bit, **kwargs)
        if images not in ("source", "target_a", "target_b", "target_c"):
            raise SemcolorError(f"PPR10K: images must be source or target_a/b/c, got {images!r}")
        self.images = images

    def names_relative_to(self) -> Path:
        split_dir = Path(self.root) / "val" / self.images
        return split_dir if split_dir.is_dir() else Path(self.root) / self.images

    def test_files(self) -> list[Path]:
        root = Path(self.root)
        split_dir, flat_dir = root / "val" / self.images, root / self.images
        expected = f"{root}/val/{self.images}/{{group}}_{{n}}.tif (or {root}/{self.images}/*.tif)"
        if split_dir.is_dir():
            files = list_images(split_dir, recursive=False)
        elif flat_dir.is_dir():
            files = [p for p in list_images(flat_dir, recursive=False) if (_group(p) or -1) >= FIRST_VAL_GROUP]
        else:
            raise DatasetNotFoundError("PPR10K", root, expected, f"neither {split_dir} nor {flat_dir} exists")
        if not files:
            raise DatasetNotFoundError("PPR10K", root, expected, "no validation images (groups >= 1356)")
        return sorted(files, key=lambda p: (_group(p) or 0, p.name))
