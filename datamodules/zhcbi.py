"""ZHCBI (Zhu Hai colour balance image), SECBNet's dataset: 256 x 256 triplets of an unbalanced input
tile, the tile balanced by experts (the target) and a segmentation map.

SECBNet, Sec. IV-A: one 17,900 x 13,800 GF-1 true-colour scene over Zhuhai, balanced by hand; eight
areas cut into non-overlapping 256 x 256 tiles; areas 1, 4, 5, 6, 8 give 8,960 training triplets,
areas 2, 3, 7 give 5,120 validation triplets ("during testing, validation data ... can be selected
from the validation set"). The release has no public description of its file layout
(DATASETS.md, "ZHCBI"), so the layout is configurable.

Two modes (``ZHCBIDataModule(mode=...)``):

``"tiles"`` (default): read released triplets. Default layout::

    {root}/{train,val}/{input,label,seg}/<stem>.png

* ``split_dirs`` maps split -> folder (default ``train -> train``, ``val -> val``, ``test -> val``,
  following the paper's use of the validation set for testing); ``input_dir`` / ``target_dir`` /
  ``seg_dir`` name the three sub-folders (``seg_dir=None``: pairs without ``"seg"``, e.g. when the
  frozen segmentation module computes the maps on the fly); ``*_suffix`` is what follows the stem in
  each folder's file names (``".png"``, or e.g. ``"_label.png"``). Files not ending with their
  folder's suffix are ignored (stray files).
* Triplets are matched by stem. Unmatched files: with ``strict=True`` (default) a
  :class:`~semcolor.errors.DatasetLayoutError` gives, per sub-folder, how many stems lack a file
  there and the first five; with ``strict=False`` the same text is a warning and incomplete triplets
  are skipped. A strict default, because a half-copied download silently shrinking a split is worse
  than an error.
* Tile size: every tile is checked when read and a tile of another size raises
  :class:`~semcolor.errors.DatasetLayoutError` naming the file (``tile_size``, default 256;
  ``None`` only requires the three files of a triplet to agree). Checking 27k files up front would
  cost a full pass over the data before training; the check at read time costs nothing.
* Segmentation maps: ``seg_format="index"`` reads single-channel ("L") or palette ("P") PNGs as
  stored indices (:func:`semcolor.datamodules.io.read_label`); ``"rgb"`` reads colour-coded maps and maps
  colours to indices with ``palette`` (default: the GID-15 colours, since SECBNet's segmentation module
  is WiCoNet trained on GID-15; 16 indices, 0 = unrecognised and ignored); unknown colours become 0
  with an :class:`~semcolor.datamodules.raster.UnknownColorWarning`. ``"auto"`` (default) decides from the
  first seg file's image mode.

``"scene"``: cut tiles from a whole scene pair, the way ZHCBI was made, for users building a
ZHCBI-like set from their own imagery: ``scene_input`` (unbalanced GeoTIFF), ``scene_target``
(balanced GeoTIFF on the same pixel grid: same size, transform, CRS, else an error naming both), an
optional ``scene_seg`` class raster (1 band of indices, or 3 bands of ``palette`` colours), and
``areas``: split -> list of ``(row0, col0, row1, col1)`` pixel rectangles (ends exclusive; ``test``
defaults to the ``val`` areas). Each area is cut into non-overlapping ``tile_size`` tiles from its
top-left corner; strips narrower than a tile at an area's right/bottom edge are dropped (no padding).
Training areas may not overlap validation/test areas (an error), as the paper keeps them apart. The
paper's rectangles (Fig. 3) are not published as numbers, so there is no default.

Samples: ``{"input": (3, H, W), "target": (3, H, W), "seg": (H, W) int64, "name"}``, float in [0, 1];
training samples get paired flips / 90-degree rotations (and an optional random ``crop``) through
:mod:`semcolor.datamodules.transforms`, applied identically to input, target and seg.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from semcolor.datamodules import raster
from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.gid import GID15_COLOURS
from semcolor.datamodules.io import is_data_file, read_label, read_rgb
from semcolor.datamodules.transforms import (
    apply_paired,
    image_to_tensor,
    paired_geometric,
    seg_to_tensor,
)
from semcolor.errors import (
    CorruptFileError,
    DatasetLayoutError,
    DatasetNotFoundError,
    SemcolorError,
)
from semcolor.registry import DATASETS

DEFAULT_SPLIT_DIRS: dict[str, str] = {"train": "train", "val": "val", "test": "val"}
#: the paper's area -> split assignment (SECBNet Sec. IV-A), for documentation and configs
PAPER_AREAS: dict[str, tuple[int, ...]] = {"train": (1, 4, 5, 6, 8), "val": (2, 3, 7)}


@dataclass(frozen=True)
class Triplet:
    """Paths of one ZHCBI sample; ``seg`` is ``None`` when the layout has no seg folder."""

    name: str
    input: Path
    target: Path
    seg: Path | None


def _files_by_stem(folder: Path, suffix: str) -> dict[str, Path]:
    low = suffix.lower()
    return {
        p.name[: len(p.name) - len(suffix)]: p
        for p in sorted(folder.iterdir())
        if p.name.lower().endswith(low) and len(p.name) > len(suffix) and is_data_file(p)
    }


def scan_triplets(
    root: str | Path,
    split_dir: str,
    *,
    input_dir: str = "input",
    target_dir: str = "label",
    seg_dir: str | None = "seg",
    input_suffix: str = ".png",
    target_suffix: str = ".png",
    seg_suffix: str = ".png",
    strict: bool = True,
) -> list[Triplet]:
    """Match the files of ``{root}/{split_dir}/{input_dir,target_dir,seg_dir}`` by stem."""
    root = Path(root)
    kinds = [(input_dir, input_suffix), (target_dir, target_suffix)]
    if seg_dir is not None:
        kinds.append((seg_dir, seg_suffix))
    layout = (
        f"{{root}}/{split_dir}/{{{','.join(k for k, _ in kinds)}}}/<stem>"
        f"{{{','.join(s for _, s in kinds)}}} (tiles matched by stem)"
    )
    if not root.is_dir():
        raise DatasetNotFoundError("ZHCBI", root, layout, "the folder does not exist")
    for sub, _ in kinds:
        if not (root / split_dir / sub).is_dir():
            raise DatasetNotFoundError("ZHCBI", root, layout, f"missing folder '{root / split_dir / sub}'")
    files: list[dict[str, Path]] = []
    for sub, suffix in kinds:
        folder = root / split_dir / sub
        found = _files_by_stem(folder, suffix)
        if not found:
            raise DatasetNotFoundError("ZHCBI", root, layout, f"no '*{suffix}' files in '{folder}'")
        files.append(found)
    all_stems = set().union(*files)
    common = set.intersection(*(set(f) for f in files))
    if common != all_stems:
        parts = []
        for (sub, suffix), found in zip(kinds, files):
            missing = sorted(all_stems - set(found))
            if missing:
                parts.append(
                    f"{len(missing)} stem(s) have no '<stem>{suffix}' in '{root / split_dir / sub}' "
                    f"(first: {', '.join(missing[:5])})"
                )
        msg = (
            f"ZHCBI: {len(all_stems) - len(common)} of {len(all_stems)} tiles under "
            f"'{root / split_dir}' are not complete {'triplets' if seg_dir else 'pairs'}: "
            + "; ".join(parts)
        )
        if strict:
            raise DatasetLayoutError(msg + " (strict=False skips them with a warning)")
        warnings.warn(msg + "; skipped", UserWarning, stacklevel=2)
    if not common:
        raise DatasetNotFoundError("ZHCBI", root, layout, "no complete triplet")
    return [
        Triplet(s, files[0][s], files[1][s], files[2][s] if seg_dir is not None else None)
        for s in sorted(common)
    ]


def seg_format_of(path: Path) -> Literal["index", "rgb"]:
    """``"index"`` for L/P/16-bit PNGs, ``"rgb"`` for RGB(A) ones (reads the header only)."""
    try:
        with Image.open(path) as img:
            mode = img.mode
    except Exception as exc:  # Pillow raises many types for foreign files
        raise CorruptFileError(path, "a segmentation map image", f"{type(exc).__name__}: {exc}") from exc
    if mode in ("L", "P", "I", "I;16", "I;16B"):
        return "index"
    if mode in ("RGB", "RGBA"):
        return "rgb"
    raise CorruptFileError(path, "a segmentation map in L, P or RGB mode", f"mode {mode}")


class ZHCBITiles(Dataset):
    """Released ZHCBI triplets (see the module docstring for the choices).

    Args:
        triplets: from :func:`scan_triplets`.
        tile_size: expected tile side (``None``: no fixed size, the triplet's files must agree).
        seg_format: ``"index"``, ``"rgb"`` or ``"auto"`` (from the first seg file).
        palette: colour table for ``"rgb"`` maps (index = position).
        transform: paired geometric transform or ``None``.
    """

    def __init__(
        self,
        triplets: Sequence[Triplet],
        *,
        tile_size: int | None = 256,
        seg_format: Literal["auto", "index", "rgb"] = "auto",
        palette: Sequence[Sequence[int]] = GID15_COLOURS,
        transform: Any = None,
    ) -> None:
        self.triplets = list(triplets)
        self.tile_size, self.palette, self.transform = tile_size, palette, transform
        first_seg = next((t.seg for t in self.triplets if t.seg is not None), None)
        if seg_format == "auto" and first_seg is not None:
            seg_format = seg_format_of(first_seg)
        self.seg_format = seg_format
        self.unknown = raster.UnknownColorLog("ZHCBI", "segmentation palette")

    @property
    def unknown_colors(self) -> dict[str, int]:
        return self.unknown.counts

    def __len__(self) -> int:
        return len(self.triplets)

    def _check_size(self, arr: np.ndarray, path: Path, ref: tuple[int, int] | None) -> tuple[int, int]:
        hw = (int(arr.shape[0]), int(arr.shape[1]))
        want = (self.tile_size, self.tile_size) if self.tile_size is not None else ref
        if want is not None and hw != want:
            what = "ZHCBI tiles are" if self.tile_size is not None else "the triplet's input is"
            raise DatasetLayoutError(
                f"'{path}' is {hw[0]}x{hw[1]} pixels; {what} {want[0]}x{want[1]}"
                + (" (tile_size)" if self.tile_size is not None else "")
            )
        return hw

    def _read_seg(self, path: Path) -> np.ndarray:
        if self.seg_format == "rgb":
            idx, n, example = raster.rgb_to_index(read_rgb(path, allow_gray=False), self.palette)
            self.unknown.record(path, n, example)
            return idx
        return read_label(path).astype(np.int64)

    def __getitem__(self, i: int) -> dict[str, Any]:
        t = self.triplets[i]
        image = read_rgb(t.input)
        ref = self._check_size(image, t.input, None)
        target = read_rgb(t.target)
        self._check_size(target, t.target, ref)
        seg = None
        if t.seg is not None:
            seg = self._read_seg(t.seg)
            self._check_size(seg, t.seg, ref)
        image, target, seg = apply_paired(self.transform, image, target, seg)
        sample: dict[str, Any] = {
            "input": image_to_tensor(image),
            "target": image_to_tensor(target),
            "name": t.name,
        }
        if seg is not None:
            sample["seg"] = seg_to_tensor(seg)
        return sample


@DATASETS.register("zhcbi")
class ZHCBIDataModule(SemcolorDataModule):
    """ZHCBI triplets (``mode="tiles"``) or tiles cut from a scene pair (``mode="scene"``).

    See the module docstring for the layout and every choice. ``num_classes`` is the palette size
    (16 with the default GID-15 palette) and ``ignore_index`` 0 (unrecognised), as SECBNet's
    segmentation loss ignores class 0.

    Args:
        root: dataset folder (tiles mode).
        mode: ``"tiles"`` or ``"scene"``.
        split_dirs: split -> folder under ``root`` (default train/val, test -> val).
        input_dir, target_dir, seg_dir: the three sub-folders (``seg_dir=None``: no seg maps).
        input_suffix, target_suffix, seg_suffix: file-name endings after the stem.
        tile_size: expected tile side in tiles mode; tile side cut in scene mode (default 256).
        seg_format: ``"auto"``, ``"index"`` or ``"rgb"``.
        palette: colour table of colour-coded seg maps / class rasters (default GID-15).
        strict: unmatched files raise (``True``) or are skipped with a warning.
        augment: paired flips / rotations on training samples.
        crop: random crop side on training samples (``None``: whole tiles).
        scene_input, scene_target, scene_seg: scene mode rasters.
        areas: scene mode, split -> list of ``(row0, col0, row1, col1)`` rectangles.
        bands: scene mode band selection (names or 0-based positions) for 4-band scenes.
        bit_depth: scene mode significant bits (default from the dtype).
    """

    def __init__(
        self,
        root: str | None = "data/ZHCBI",
        mode: Literal["tiles", "scene"] = "tiles",
        split_dirs: dict[str, str] | None = None,
        input_dir: str = "input",
        target_dir: str = "label",
        seg_dir: str | None = "seg",
        input_suffix: str = ".png",
        target_suffix: str = ".png",
        seg_suffix: str = ".png",
        tile_size: int | None = 256,
        seg_format: Literal["auto", "index", "rgb"] = "auto",
        palette: list[list[int]] | None = None,
        strict: bool = True,
        augment: bool = True,
        crop: int | None = None,
        scene_input: str | None = None,
        scene_target: str | None = None,
        scene_seg: str | None = None,
        areas: dict[str, list[list[int]]] | None = None,
        bands: list[str | int] | None = None,
        bit_depth: int | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, eval_batch_size, pin_memory)
        if mode not in ("tiles", "scene"):
            raise SemcolorError(f"ZHCBI: mode={mode!r} is not one of ['tiles', 'scene']")
        if seg_format not in ("auto", "index", "rgb"):
            raise SemcolorError(f"ZHCBI: seg_format={seg_format!r} is not one of ['auto', 'index', 'rgb']")
        self.root, self.mode = root, mode
        self.split_dirs = {**DEFAULT_SPLIT_DIRS, **(split_dirs or {})}
        self.input_dir, self.target_dir, self.seg_dir = input_dir, target_dir, seg_dir
        self.suffixes = (input_suffix, target_suffix, seg_suffix)
        self.tile_size, self.seg_format = tile_size, seg_format
        self.palette = [tuple(c) for c in palette] if palette is not None else list(GID15_COLOURS)
        self.strict, self.augment, self.crop = strict, augment, crop
        self.scene_input, self.scene_target, self.scene_seg = scene_input, scene_target, scene_seg
        self.areas = areas
        self.bands, self.bit_depth = bands, bit_depth
        self.num_classes = len(self.palette)
        self.ignore_index = 0

    def _transform(self, split: str) -> Any:
        if split != "train" or not (self.augment or self.crop):
            return None
        return paired_geometric(flip=self.augment, rot90=self.augment, crop=self.crop)

    def split_areas(self) -> dict[str, list[raster.Region]]:
        """Scene mode: validated area rectangles per split (test defaults to val)."""
        if not self.areas:
            raise SemcolorError(
                "ZHCBI: mode='scene' needs areas, e.g. {'train': [[row0, col0, row1, col1], ...], "
                "'val': [...]} (pixel rectangles of the scene; the paper used areas "
                "1, 4, 5, 6, 8 for training and 2, 3, 7 for validation)"
            )
        areas = {k: [tuple(int(v) for v in r) for r in rs] for k, rs in self.areas.items()}
        if "test" not in areas and "val" in areas:
            areas["test"] = areas["val"]
        for other in ("val", "test"):
            for a in areas.get("train", []):
                for b in areas.get(other, []):
                    if raster.regions_overlap(a, b):  # type: ignore[arg-type]
                        raise DatasetLayoutError(
                            f"ZHCBI: training area {a} overlaps {other} area {b} of "
                            f"'{self.scene_input}'; the splits must not share pixels"
                        )
        return areas  # type: ignore[return-value]

    def build_dataset(self, split: str) -> Dataset:
        if self.mode == "scene":
            if self.scene_input is None or self.scene_target is None:
                raise SemcolorError("ZHCBI: mode='scene' needs scene_input and scene_target GeoTIFFs")
            areas = self.split_areas()
            if not areas.get(split):
                raise SemcolorError(f"ZHCBI: no areas given for the {split} split (areas={self.areas})")
            return raster.SceneTiles(
                self.scene_input,
                self.scene_target,
                self.scene_seg,
                regions=areas[split],
                tile_size=self.tile_size or 256,
                edge="drop",
                bands=self.bands,
                bit_depth=self.bit_depth,
                seg_palette=self.palette,
                transform=self._transform(split),
                dataset_name="ZHCBI scene",
            )
        if self.root is None:
            raise SemcolorError("ZHCBI: mode='tiles' needs root")
        if split not in self.split_dirs:
            raise SemcolorError(
                f"ZHCBI: no folder configured for split {split!r} (split_dirs={self.split_dirs})"
            )
        triplets = scan_triplets(
            self.root,
            self.split_dirs[split],
            input_dir=self.input_dir,
            target_dir=self.target_dir,
            seg_dir=self.seg_dir,
            input_suffix=self.suffixes[0],
            target_suffix=self.suffixes[1],
            seg_suffix=self.suffixes[2],
            strict=self.strict,
        )
        return ZHCBITiles(
            triplets,
            tile_size=self.tile_size,
            seg_format=self.seg_format,
            palette=self.palette,
            transform=self._transform(split),
        )

    def predict_dataloader(self) -> Any:
        return self._loader("test", train=False)
