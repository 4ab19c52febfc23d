"""The Kodak set: 24 8-bit sRGB photographs ``kodim01.png`` ... ``kodim24.png`` (768 x 512 or 512 x 768).

Released layout: the 24 PNGs in one folder, ``{root}/kodim01.png`` ... ``{root}/kodim24.png``. Xue 2025
(thesis), §4.4.1 resizes them to 512 px on the short side (already their size). All 24 must be there
(``allow_missing=True`` scores those present).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semcolor.datamodules.photos import PhotoDataModule
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError
from semcolor.registry import DATASETS

__all__ = ["KODAK_FILES", "KodakDataModule"]

KODAK_FILES = tuple(f"kodim{i:02d}.png" for i in range(1, 25))


@DATASETS.register("kodak")
class KodakDataModule(PhotoDataModule):
    """Kodak (module docstring). Args: ``root``, ``allow_missing`` and those of
    :class:`~semcolor.datamodules.photos.PhotoDataModule`."""

    NAME = "Kodak"

    def __init__(self, root: str = "data/kodak", allow_missing: bool = False, **kwargs: Any) -> None:
        super().__init__(root=root, **kwargs)
        self.allow_missing = allow_missing

    def test_files(self) -> list[Path]:
        root = Path(self.root)
        present = [root / f for f in KODAK_FILES if (root / f).is_file()]
        if not present:
            raise DatasetNotFoundError("Kodak", root, f"{root}/kodim01.png ... kodim24.png", "none found")
        missing = [f for f in KODAK_FILES if not (root / f).is_file()]
        if missing and not self.allow_missing:
            raise DatasetLayoutError(f"Kodak: {len(missing)} of the 24 images are missing in '{root}' "
                                     f"({', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}); "
                                     "pass --data.init_args.allow_missing=true to score the others")
        return present
