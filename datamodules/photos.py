"""Single photographs for the training-free harmonisation method: reader, dataset, and "any folder of images".

Shared by the photo datasets (:mod:`.fivek`, :mod:`.ppr10k`, :mod:`.kodak`, :mod:`.embedded_photos`); the
folder DataModule is registered as ``folder``.

Reading (:func:`read_photo`, OpenCV ``IMREAD_UNCHANGED``, so 16-bit PNG / TIFF keep their depth):

* 8-bit -> /255, 16-bit -> /65535, float TIFF clipped to [0, 1]; the sample's ``bit_depth`` says which.
* one channel (grayscale): repeated to three equal channels; ``gray`` is True. The harmoniser passes an
  achromatic image through unchanged (it has no hue to harmonise), so its scores equal the input's.
* four channels (RGBA): the alpha channel is dropped, the colours are harmonised; ``had_alpha`` is True.
* anything else, or a file that does not decode: :class:`~semcolor.errors.CorruptFileError` naming the file.
  Files are only read, never written.

Samples: ``{"image": (3, H, W) float32 in [0, 1], "name": path relative to the root without suffix,
"gray": bool, "had_alpha": bool, "bit_depth": int}``, resized (antialiased bicubic) so that the short side
is ``short_side`` (512 in the thesis, §4.4.1) unless ``short_side`` is None. Images of different sizes do
not stack: the photo DataModules use ``batch_size=1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.io import IMAGE_SUFFIXES, check_pixels, check_values, is_data_file
from semcolor.errors import CorruptFileError, DatasetNotFoundError, SemcolorError
from semcolor.registry import DATASETS

__all__ = [
    "ImageFolderDataModule",
    "PhotoDataModule",
    "PhotoDataset",
    "list_images",
    "read_photo",
    "resize_short_side",
]


def read_photo(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """``(H, W, 3)`` float32 RGB in [0, 1] and ``{"gray", "had_alpha", "bit_depth"}`` of an image file."""
    import cv2

    path = Path(path)
    expected = "an 8- or 16-bit RGB, RGBA or grayscale image"
    if not path.is_file():
        raise CorruptFileError(path, expected, "file does not exist")
    try:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise CorruptFileError(path, expected, f"OpenCV: {str(exc).strip().splitlines()[-1]}") from exc
    if arr is None or arr.size == 0:
        raise CorruptFileError(path, expected, "the file does not decode (truncated or not an image)")
    if arr.dtype == np.uint8:
        x, depth = arr.astype(np.float32) / 255.0, 8
    elif arr.dtype == np.uint16:
        x, depth = arr.astype(np.float32) / 65535.0, 16
    elif arr.dtype in (np.float32, np.float64):
        check_values(arr, path)  # NaN or values outside [0, 1] refused, never zeroed / clipped silently
        x, depth = arr.astype(np.float32), 32
    else:
        check_pixels(path, arr.dtype, arr.shape[2] if arr.ndim == 3 else 1, bits=(8, 16), bands=None,
                     expected=expected)
    gray = x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 1)
    had_alpha = x.ndim == 3 and x.shape[2] == 4
    if gray:
        x = np.repeat(x.reshape(x.shape[0], x.shape[1], 1), 3, axis=2)
    elif x.ndim == 3 and x.shape[2] in (3, 4):
        x = x[..., 2::-1]  # BGR(A) -> RGB, alpha dropped
    else:
        raise CorruptFileError(path, expected, f"{x.shape[2] if x.ndim == 3 else x.ndim} channels")
    return np.ascontiguousarray(x), {"gray": bool(gray), "had_alpha": bool(had_alpha), "bit_depth": depth}


def resize_short_side(image: torch.Tensor, side: int | None) -> torch.Tensor:
    """``(3, H, W)`` resized (bicubic, antialiased) so that min(H, W) == ``side``; unchanged when None or equal."""
    if side is None or min(image.shape[-2:]) == side:
        return image
    h, w = image.shape[-2:]
    scale = side / min(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    out = torch.nn.functional.interpolate(image[None], size=size, mode="bicubic", antialias=True, align_corners=False)
    return out[0].clamp(0, 1)


def list_images(root: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (suffixes of :data:`~semcolor.datamodules.io.IMAGE_SUFFIXES`), sorted."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in root.glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES and is_data_file(p))


class PhotoDataset(Dataset):
    """The photos ``files`` (names relative to ``root``), resized to ``short_side``, optionally quantised to 8 bits."""

    def __init__(self, files: Sequence[Path], root: Path, short_side: int | None = 512, to_8bit: bool = False) -> None:
        self.files, self.root, self.short_side, self.to_8bit = list(files), Path(root), short_side, to_8bit

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path = self.files[i]
        rgb, info = read_photo(path)
        image = resize_short_side(torch.from_numpy(rgb).permute(2, 0, 1), self.short_side)
        if self.to_8bit:
            image = torch.round(image * 255) / 255
        try:
            name = path.relative_to(self.root).with_suffix("").as_posix()
        except ValueError:
            name = path.stem
        return {"image": image.float().contiguous(), "name": name, **info}


class PhotoDataModule(SemcolorDataModule):
    """Base of the photo DataModules: test / predict data only (the methods using them are training-free).

    Subclasses implement :meth:`test_files`. Args: ``root``, ``short_side`` (512; None keeps the size),
    ``limit`` (first N images only; None: all), ``to_8bit`` and the loader settings of
    :class:`~semcolor.datamodules.base.SemcolorDataModule` (``batch_size`` 1).
    """

    NAME = "photos"

    def __init__(self, root: str | None = None, short_side: int | None = 512, limit: int | None = None,
                 to_8bit: bool = False, batch_size: int = 1, num_workers: int = 0, **kwargs: Any) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, **kwargs)
        if short_side is not None and short_side < 16:
            raise SemcolorError(f"{self.NAME}: short_side must be >= 16 (or null to keep the size), got {short_side}")
        self.root, self.short_side, self.limit, self.to_8bit = root, short_side, limit, to_8bit

    def test_files(self) -> list[Path]:
        raise NotImplementedError

    def build_dataset(self, split: str) -> Dataset:
        if split != "test":
            raise SemcolorError(f"{self.NAME} holds test / predict images only (no {split} split): run "
                                "`semcolor test` or `predict`")
        files = self.test_files()
        if self.limit is not None:
            files = files[: self.limit]
        return PhotoDataset(files, self.names_relative_to(), self.short_side, self.to_8bit)

    def predict_dataloader(self):
        return self._loader("test", train=False)

    def names_relative_to(self) -> Path:
        """Sample names are file paths relative to this folder (the root)."""
        return Path(self.root or ".")


@DATASETS.register("folder")
class ImageFolderDataModule(PhotoDataModule):
    """Every image under ``root`` (png, jpg, tif, bmp; sub-folders too when ``recursive``), sorted by path.

    Args:
        root: the folder.
        recursive: include sub-folders.
        short_side, limit, to_8bit, batch_size, num_workers: see :class:`PhotoDataModule`.
    """

    NAME = "folder"

    def __init__(self, root: str = "data/photos", recursive: bool = True, **kwargs: Any) -> None:
        super().__init__(root=root, **kwargs)
        self.recursive = recursive

    def test_files(self) -> list[Path]:
        root = Path(self.root)
        files = list_images(root, self.recursive) if root.is_dir() else []
        if not files:
            raise DatasetNotFoundError("folder", root, f"{root}/**/*.{{png,jpg,jpeg,tif,tiff,bmp}}",
                                       "no image files" if root.is_dir() else "no such folder")
        return files
