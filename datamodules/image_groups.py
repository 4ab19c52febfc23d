"""Groups of images to make colour-consistent (Xue 2025 (thesis), ch. 3): a folder of group folders.

Layout (``root``)::

    root/<group>/<image>.{jpg,jpeg,png,tif,tiff}     two or more RGB images per group, any sizes
    root/<group>/saliency/<image stem>.<ext>         optional: grey saliency maps (8-bit, or [0, 1] float)
    root/<group>/labels/<image stem>.png             optional: class maps (palette/grey PNG of class indices)

or ``root`` itself holding the images (one group, named after the folder). GeoTIFFs are read with
rasterio (first three bands; 8- or 16-bit, scaled by the type's maximum); the writer of ``make recolor``
gives the output the input's georeferencing. A batch is one group (a dict, below), so images of different
sizes go together.

Checked when the dataset is built, before anything runs (each a one-line
:class:`~semcolor.errors.SemcolorError` naming the file): an empty or missing folder, a group with a single
image (nothing to harmonise), an unreadable or single-channel image, a saliency map or label map whose size
is not its image's, a map without its image. Nothing under ``root`` is ever written.

A group sample: ``images`` (list of float32 ``(3, H_i, W_i)`` in [0, 1]), ``targets`` (list or None;
here None), ``saliency`` / ``labels`` (lists whose entries are float32 ``(H_i, W_i)`` / int64 ``(H_i, W_i)``
or None), ``names`` (file names), ``paths`` (source files), ``group`` (group name).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.io import read_label, read_rgb
from semcolor.datamodules.raster import band_names_of, default_selection, open_raster, resolve_bands
from semcolor.errors import CorruptFileError, DatasetLayoutError, DatasetNotFoundError
from semcolor.registry import DATASETS

__all__ = ["ImageGroups", "ImageGroupsDataModule", "GroupDataModule", "find_groups", "read_image", "GROUP_SUFFIXES",
           "MAP_FOLDERS"]

GROUP_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
#: sub-folders of a group holding per-image maps rather than images
MAP_FOLDERS = ("saliency", "labels")
_LAYOUT = "<root>/<group>/*.{jpg,png,tif} (two or more images per group; optional saliency/ and labels/)"


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in GROUP_SUFFIXES
                  and not p.name.startswith("."))


def find_groups(root: str | Path) -> list[tuple[str, list[Path]]]:
    """``(group name, image files)`` of ``root`` (see the module docstring); errors name the folder."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError("image groups", root, _LAYOUT, "not a folder")
    own = _images_in(root)
    if own:
        groups = [(root.name or "group", own)]
    else:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in MAP_FOLDERS and not p.name.startswith("."))
        groups = [(p.name, _images_in(p)) for p in subs]
        empty = [name for name, files in groups if not files]
        if groups and len(empty) == len(groups):
            raise DatasetNotFoundError("image groups", root, _LAYOUT, f"no image in any of its folders {empty}")
        groups = [(n, f) for n, f in groups if f]
    if not groups:
        raise DatasetNotFoundError("image groups", root, _LAYOUT, "the folder is empty")
    for name, files in groups:
        if len(files) < 2:
            raise DatasetLayoutError(f"group '{files[0].parent}' has one image ('{files[0].name}'): there is nothing "
                                     f"to harmonise; a group needs two or more images")
    return groups


def read_image(path: str | Path) -> np.ndarray:
    """An RGB image as float32 ``(H, W, 3)`` in [0, 1]; grey or unreadable files raise naming the file."""
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        with open_raster(path, "an RGB GeoTIFF (3 or more bands, 8- or 16-bit)") as src:
            if src.count < 3:
                raise CorruptFileError(path, "an RGB image (3 or more bands)", f"it has {src.count} band(s); a grey "
                                       f"image cannot be recoloured with an RGB group")
            if src.dtypes[0] not in ("uint8", "uint16"):
                raise CorruptFileError(path, "an 8- or 16-bit RGB GeoTIFF", f"its bands are {src.dtypes[0]}")
            names = band_names_of(src)  # a B, G, R(, alpha)-tagged file is read as R, G, B
            rgb_bands = resolve_bands(default_selection(names) or [0, 1, 2], names, path)
            try:
                arr = src.read(rgb_bands)
            except Exception as exc:  # truncated strips
                raise CorruptFileError(path, "an RGB GeoTIFF", f"{type(exc).__name__}: {exc}") from exc
        scale = 255.0 if arr.dtype == np.uint8 else 65535.0
        return (arr.transpose(1, 2, 0).astype(np.float32) / np.float32(scale))
    try:
        rgb = read_rgb(path, allow_gray=False)
    except (CorruptFileError, DatasetLayoutError):
        if _pil_bands(path) in (1, 2):  # L / LA / I;16 ...: say why in this context
            raise CorruptFileError(path, "an RGB image", "it is grey (one channel); a grey image cannot be "
                                   "recoloured with an RGB group") from None
        raise
    return rgb.astype(np.float32) / np.float32(255.0)


def _pil_bands(path: Path) -> int | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return len(im.getbands())
    except Exception:  # unreadable: the reader's own error stands
        return None


def _map_file(folder: Path, stem: str) -> Path | None:
    if not folder.is_dir():
        return None
    hits = sorted(p for p in folder.iterdir() if p.stem == stem and p.suffix.lower() in GROUP_SUFFIXES)
    return hits[0] if hits else None


def _read_labels(path: Path, shape: tuple[int, int]) -> np.ndarray:
    arr = read_label(path).astype(np.int64)
    if arr.shape != shape:
        raise DatasetLayoutError(f"label map '{path}' is {arr.shape[1]}x{arr.shape[0]} px but its image is "
                                 f"{shape[1]}x{shape[0]} px; expected a map of the image's size")
    return arr


class ImageGroups(Dataset):
    """The groups of :func:`find_groups` as samples (see the module docstring); everything is read and checked
    once when built (so a bad file fails before any output is written)."""

    def __init__(self, root: str | Path) -> None:
        from semcolor.palettes.saliency import read_saliency_map

        self.root = Path(root).expanduser()
        self.groups = find_groups(self.root)
        self._read_saliency = read_saliency_map
        self.num_classes = 0
        for name, files in self.groups:
            folder = files[0].parent
            stems = {f.stem for f in files}
            for sub in MAP_FOLDERS:
                for p in (_images_in(folder / sub) if (folder / sub).is_dir() else []):
                    if p.stem not in stems:
                        raise DatasetLayoutError(f"{sub} map '{p}' has no image '{p.stem}.*' in '{folder}'")
            for f in files:  # decode everything once: bad files fail here, before anything is written
                shape = read_image(f).shape[:2]
                sal, lbl = _map_file(folder / "saliency", f.stem), _map_file(folder / "labels", f.stem)
                if sal is not None:
                    read_saliency_map(sal, shape)
                if lbl is not None:
                    self.num_classes = max(self.num_classes, int(_read_labels(lbl, shape).max()) + 1)

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> dict[str, Any]:
        name, files = self.groups[index]
        folder = files[0].parent
        images, saliency, labels = [], [], []
        for f in files:
            img = read_image(f)
            images.append(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))))
            sal, lbl = _map_file(folder / "saliency", f.stem), _map_file(folder / "labels", f.stem)
            saliency.append(None if sal is None else torch.from_numpy(self._read_saliency(sal, img.shape[:2])))
            labels.append(None if lbl is None else torch.from_numpy(_read_labels(lbl, img.shape[:2])))
        return {"images": images, "targets": None, "saliency": saliency, "labels": labels,
                "names": [f.name for f in files], "paths": [str(f) for f in files], "group": name}


def _one_group(batch: Any) -> Any:
    return batch


class GroupDataModule(SemcolorDataModule):
    """Base of the image-group DataModules: every batch is one group (a dict; loaders without batching)."""

    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self.datasets:
            self.datasets[split] = self.build_dataset(split)
        return DataLoader(self.datasets[split], batch_size=None, shuffle=False, collate_fn=_one_group,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)


@DATASETS.register("groups")
class ImageGroupsDataModule(GroupDataModule):
    """A folder of image groups (module docstring); every split (test, predict, validate) is all of its groups.

    Args:
        root: the folder (of group folders, or of images: one group).
        num_classes: classes of the label maps (None: the largest label found + 1).
        ignore_index: label value of "no class" (255 by default).
        num_workers: DataLoader workers.
    """

    def __init__(self, root: str | None = None, num_classes: int | None = None, ignore_index: int | None = 255,
                 num_workers: int = 0) -> None:
        super().__init__(batch_size=1, num_workers=num_workers)
        if root is None:
            raise DatasetNotFoundError("image groups", "(none)", _LAYOUT, "give --data.init_args.root=<folder>")
        self.root, self._num_classes, self.ignore_index = root, num_classes, ignore_index

    def build_dataset(self, split: str) -> ImageGroups:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ds = ImageGroups(self.root)
        self.num_classes = self._num_classes or (ds.num_classes or None)
        return ds
