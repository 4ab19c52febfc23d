"""MIT-Adobe FiveK as 8-bit sRGB exports (the harmonisation test set of Xue 2025 (thesis), §4.4.1).

FiveK (Bychkovsky et al., CVPR 2011) releases 5000 DNG raws ``a0001-*.dng`` ... ``a5000-*.dng``; the
chapter scores sRGB renderings of them, the **test set = the last 500 images** (a4501-a5000), resized to
512 px on the short side:

* ``version="dpe"``: the Lightroom "InputZeroed with ExpertC WhiteBalance" export without adjustment, as
  used by the learning-based enhancers (DPE, 3D-LUT, AdaInt). Its public 480p release (Zeng et al.) lays
  out as::

      {root}/input/JPG/480p/a0001.jpg ... a5000.jpg      (``subdir`` default for "dpe")
      {root}/expertC/JPG/480p/a0001.jpg ...              (``version="expert_c"``: Expert C's retouch)
      {root}/train.txt, {root}/test.txt                  (one name per line; used with split="test_txt")

  (full-resolution exports of the same collections are often kept as ``input/JPG/original/``: pass
  ``subdir``).
* ``version="camera_raw"``: Photoshop Camera Raw with its default profile per camera; no public release,
  so export the DNGs yourself into one folder (default ``{root}/CameraRaw/``) keeping the ``aNNNN`` prefix
  of the names (``a4501.jpg``, ``a4501-kme_0204.tif`` ...; any image suffix).

Splits: ``"last500"`` (default: ids 4501-5000, the thesis's), ``"test_txt"`` (the names in
``{root}/test.txt``, the 3D-LUT/AdaInt split), ``"all"``. Errors name the folder and the layout expected.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from semcolor.datamodules.photos import PhotoDataModule, list_images
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError, SemcolorError
from semcolor.registry import DATASETS

__all__ = ["VERSIONS", "FiveKDataModule", "fivek_id"]

#: version -> default sub-folder of the root holding its images
VERSIONS = {"dpe": "input/JPG/480p", "expert_c": "expertC/JPG/480p", "camera_raw": "CameraRaw"}
_ID = re.compile(r"^a(\d{4})")


def fivek_id(path: Path) -> int | None:
    """The number of a FiveK file name (``a4501-kme_0204.tif`` -> 4501), None when it has none."""
    m = _ID.match(path.name)
    return int(m.group(1)) if m else None


@DATASETS.register("fivek")
class FiveKDataModule(PhotoDataModule):
    """FiveK sRGB exports, test split (module docstring).

    Args:
        root: the FiveK folder.
        version: ``"dpe"``, ``"camera_raw"`` or ``"expert_c"``.
        subdir: folder of the images relative to ``root`` (default per version, :data:`VERSIONS`).
        split: ``"last500"``, ``"test_txt"`` or ``"all"``.
        short_side, limit, to_8bit, batch_size, num_workers: :class:`~semcolor.datamodules.photos.PhotoDataModule`.
    """

    NAME = "FiveK"

    def __init__(self, root: str = "data/FiveK", version: str = "dpe", subdir: str | None = None,
                 split: str = "last500", **kwargs: Any) -> None:
        super().__init__(root=root, **kwargs)
        if version not in VERSIONS:
            raise SemcolorError(f"FiveK: version must be one of {', '.join(VERSIONS)}, got {version!r}")
        if split not in ("last500", "test_txt", "all"):
            raise SemcolorError(f"FiveK: split must be 'last500', 'test_txt' or 'all', got {split!r}")
        self.version, self.subdir, self.split = version, subdir or VERSIONS[version], split

    def names_relative_to(self) -> Path:
        return Path(self.root) / self.subdir

    def test_files(self) -> list[Path]:
        folder = Path(self.root) / self.subdir
        expected = f"{folder}/aNNNN*.{{jpg,png,tif}} (a0001 ... a5000)"
        files = [p for p in list_images(folder, recursive=False) if fivek_id(p) is not None] if folder.is_dir() else []
        if not files:
            raise DatasetNotFoundError("FiveK", self.root, expected,
                                       f"no aNNNN images in {folder}" if folder.is_dir() else f"no folder {folder}")
        if self.split == "last500":
            chosen = [p for p in files if fivek_id(p) > 4500]
        elif self.split == "test_txt":
            listing = Path(self.root) / "test.txt"
            if not listing.is_file():
                raise DatasetNotFoundError("FiveK", self.root, f"{listing} (one image name per line)", "split=test_txt")
            names = {line.strip() for line in listing.read_text().splitlines() if line.strip()}
            chosen = [p for p in files if p.stem in names or f"a{fivek_id(p):04d}" in names]
            missing = len(names) - len(chosen)
            if missing > 0:
                raise DatasetLayoutError(f"FiveK: {missing} of the {len(names)} images listed in {listing} are "
                                         f"not in {folder}")
        else:
            chosen = files
        if not chosen:
            raise DatasetLayoutError(f"FiveK: no image of split {self.split!r} in {folder} "
                                     "(the test set is a4501 ... a5000)")
        return chosen
