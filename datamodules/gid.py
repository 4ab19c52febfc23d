"""GID, the Gaofen Image Dataset: segmentation patches for WiCoNet (SECBNet's frozen segmentation
module) and true-colour test tiles for SECBNet's cross-dataset colour-balance test.

Layout as released (DATASETS.md, "GID")::

    {root}/Large-scale Classification_5classes/image_RGB/<scene>.tif          3 bands R, G, B
                                               image_NirRGB/<scene>.tif       4 bands NIR, R, G, B
                                               label_5classes/<scene>_label.tif   RGB colour labels
    {root}/Fine Land-cover Classification_15classes/image_RGB/ image_NirRGB/ label_15classes/

Choices made here (all constructor arguments):

* Folder names with spaces or with underscores are both accepted; ``root`` may also point directly at
  one of the two class trees.
* Colour labels map to indices with :data:`GID15_COLOURS` / :data:`GID5_COLOURS`; index 0 is
  "unlabeled"/"background" in both and is the ``ignore_index`` (SECBNet, Sec. III-B: 16 classes with
  index 0 "unrecognised", ignored in the loss). ``num_classes`` is 16 for GID-15 and 6 for GID-5.
  Colours not in the table become 0, are counted per file (``dataset.unknown_colors``) and reported
  with an :class:`~semcolor.datamodules.raster.UnknownColorWarning` naming the file the first time a window
  of that file shows one. (Scanning whole 6800 x 7200 labels up front to count them would defeat
  windowed reading, so counts grow as windows are read.)
* Band names follow the band count: 3 bands = R, G, B; 4 bands = NIR, R, G, B. ``bands`` selects by
  name or 0-based position; asking for a band a file lacks (NIR from a 3-band file) raises a
  :class:`~semcolor.errors.DatasetLayoutError` naming the file. Band counts and image/label sizes
  of every scene are checked when a split is built (metadata only, no pixels read).
* Patches are read with rasterio windows, never whole scenes. The evaluation grid (and the training
  grid with ``train_sampling="grid"``) has step ``stride`` (default ``patch_size``); when the scene
  size is not a multiple of it, ``edge="shift"`` adds a last window aligned with the scene edge (every
  pixel covered, every patch inside the scene, no padding). ``train_sampling="random"`` draws
  ``samples_per_scene`` uniformly placed windows per scene per epoch.
* Split: GID has no official split. For GID-15 the common one holds out ``L1A0001680858`` and
  ``L1A0001821754`` for validation [C]; the rest train. For GID-5 (no common split) the default puts
  every 5th scene in name order into validation [I]. ``test_scenes`` defaults to the validation scenes.
  Scene entries match a full scene name or any unique part of it (e.g. the L1A id); an entry that
  matches no scene, or several, is an error (a typo must not silently empty a split).
* Images without labels (or labels without images) are an error listing the first few
  (``strict=True``), or a warning and skipped (``strict=False``). Non-TIFF files (readme.txt, .aux.xml
  side-cars, Thumbs.db) are ignored.
* ``mode="balance_test"``: SECBNet's GID colour-balance test (Sec. IV-A: a 5600 x 5600 true-colour GID
  image, four regions cut into 400 non-overlapping 256 x 256 tiles, models tested without retraining).
  ``balance_scene`` is a GeoTIFF path or a scene name in the tree's image folder; ``balance_regions``
  are ``(row0, col0, row1, col1)`` rectangles (default: the whole scene); tiles are whole
  ``patch_size`` tiles only (leftover strips dropped). Samples have ``"input"``, ``"name"`` and
  ``"target"`` when ``balance_target`` (a balanced scene on the same grid) is given. The paper's region
  coordinates are not published, so they are left to the user. ``val``, ``test`` and ``predict``
  give these tiles; asking for the ``train`` split in this mode is an error.
* ``context_size`` (optional, for WiCoNet: local window 256, context window 768 centred on it) adds a
  ``"context"`` image read around each patch (zero outside the scene); flips/rotations are applied
  to patch, class map and context alike.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import albumentations as A
import numpy as np
import torch
from rasterio.windows import Window
from torch.utils.data import Dataset

from semcolor.datamodules import raster
from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.io import check_pixels, is_data_file
from semcolor.datamodules.transforms import (
    apply_paired,
    image_to_tensor,
    paired_geometric,
    seg_to_tensor,
)
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError, SemcolorError
from semcolor.registry import DATASETS

#: GID-15 colour table, index = class (DATASETS.md [C]); 0 = unlabeled
GID15_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),        # 0 unlabeled
    (200, 0, 0),      # 1 industrial land
    (250, 0, 150),    # 2 urban residential
    (200, 150, 150),  # 3 rural residential
    (250, 150, 150),  # 4 traffic land
    (0, 200, 0),      # 5 paddy field
    (150, 250, 0),    # 6 irrigated land
    (150, 200, 150),  # 7 dry cropland
    (200, 0, 200),    # 8 garden plot
    (150, 0, 250),    # 9 arbor woodland
    (150, 150, 250),  # 10 shrub land
    (250, 200, 0),    # 11 natural grassland
    (200, 200, 0),    # 12 artificial grassland
    (0, 0, 200),      # 13 river
    (0, 150, 200),    # 14 lake
    (0, 200, 250),    # 15 pond
)
GID15_CLASSES: tuple[str, ...] = (
    "unlabeled", "industrial land", "urban residential", "rural residential", "traffic land",
    "paddy field", "irrigated land", "dry cropland", "garden plot", "arbor woodland", "shrub land",
    "natural grassland", "artificial grassland", "river", "lake", "pond",
)
#: GID-5 colour table, index = class (DATASETS.md [C]); 0 = background (unlabeled)
GID5_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),      # 0 background
    (255, 0, 0),    # 1 built-up
    (0, 255, 0),    # 2 farmland
    (0, 255, 255),  # 3 forest
    (255, 255, 0),  # 4 meadow
    (0, 0, 255),    # 5 water
)
GID5_CLASSES: tuple[str, ...] = ("background", "built-up", "farmland", "forest", "meadow", "water")

#: class count -> (tree folder, label folder)
TREES: dict[int, tuple[str, str]] = {
    15: ("Fine Land-cover Classification_15classes", "label_15classes"),
    5: ("Large-scale Classification_5classes", "label_5classes"),
}
IMAGE_DIRS: dict[str, str] = {"RGB": "image_RGB", "NirRGB": "image_NirRGB"}
#: the common GID-15 validation scenes [C]
GID15_VAL_SCENES: tuple[str, ...] = ("L1A0001680858", "L1A0001821754")
#: the 10 GID-15 scenes (DATASETS.md)
GID15_SCENES: tuple[str, ...] = (
    "GF2_PMS1__L1A0001064454-MSS1", "GF2_PMS1__L1A0001118839-MSS1", "GF2_PMS1__L1A0001395956-MSS1",
    "GF2_PMS1__L1A0001680858-MSS1", "GF2_PMS2__L1A0000718813-MSS2", "GF2_PMS2__L1A0001378501-MSS2",
    "GF2_PMS2__L1A0001471436-MSS2", "GF2_PMS2__L1A0001517494-MSS2", "GF2_PMS2__L1A0001787564-MSS2",
    "GF2_PMS2__L1A0001821754-MSS2",
)
LABEL_SUFFIX = "_label"


def color_table(classes: int) -> tuple[tuple[int, int, int], ...]:
    """The colour table of GID-``classes`` (5 or 15)."""
    return {15: GID15_COLOURS, 5: GID5_COLOURS}[classes]


def band_names_for(count: int, path: str | Path) -> tuple[str, ...]:
    """GID band names by band count: 3 = R, G, B (image_RGB); 4 = NIR, R, G, B (image_NirRGB)."""
    if count == 3:
        return ("R", "G", "B")
    if count == 4:
        return ("NIR", "R", "G", "B")
    raise DatasetLayoutError(
        f"'{path}' has {count} bands; GID images have 3 (R, G, B) or 4 (NIR, R, G, B)"
    )


def expected_layout(classes: int, image_type: str = "RGB") -> str:
    tree, label = TREES[classes]
    return (
        f"{{root}}/{tree}/{IMAGE_DIRS[image_type]}/<scene>.tif and {{root}}/{tree}/{label}/"
        f"<scene>_label.tif (underscores instead of spaces accepted; root may also be the "
        f"'{tree}' folder itself)"
    )


def find_tree(root: str | Path, classes: int, image_type: str = "RGB") -> Path:
    """The class-tree folder of GID-``classes`` under ``root`` (spaces or underscores), or ``root``
    itself if it is that tree. Raises :class:`DatasetNotFoundError` naming root and layout."""
    root = Path(root)
    tree_name, label_name = TREES[classes]
    layout = expected_layout(classes, image_type)
    if not root.is_dir():
        raise DatasetNotFoundError("GID", root, layout, "the folder does not exist")
    for name in (tree_name, tree_name.replace(" ", "_")):
        if (root / name).is_dir():
            return root / name
    if (root / label_name).is_dir() or any((root / d).is_dir() for d in IMAGE_DIRS.values()):
        return root
    other = TREES[5 if classes == 15 else 15][0]
    hint = (
        f"found '{other}' instead: set classes={5 if classes == 15 else 15}"
        if any((root / n).is_dir() for n in (other, other.replace(" ", "_")))
        else f"no folder '{tree_name}' in it"
    )
    raise DatasetNotFoundError("GID", root, layout, hint)


def _tiffs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in raster.RASTER_SUFFIXES and is_data_file(p))


@dataclass
class GIDScene:
    """One GID scene: file paths plus what the metadata said (no pixels)."""

    name: str
    image: Path
    label: Path | None
    height: int = 0
    width: int = 0
    bands: tuple[int, ...] = ()  # 1-based rasterio indexes of the selected bands


def scan_scenes(
    root: str | Path,
    classes: int = 15,
    image_type: str = "RGB",
    *,
    need_labels: bool = True,
    strict: bool = True,
) -> dict[str, GIDScene]:
    """Find the scenes of a GID tree: scene name -> :class:`GIDScene` (paths only, sorted by name)."""
    tree = find_tree(root, classes, image_type)
    layout = expected_layout(classes, image_type)
    image_dir = tree / IMAGE_DIRS[image_type]
    label_dir = tree / TREES[classes][1]
    if not image_dir.is_dir():
        raise DatasetNotFoundError("GID", root, layout, f"missing folder '{image_dir}'")
    images = {p.stem: p for p in _tiffs(image_dir)}
    if not images:
        raise DatasetNotFoundError("GID", root, layout, f"no .tif images in '{image_dir}'")
    if not need_labels:
        return {n: GIDScene(n, p, None) for n, p in images.items()}
    if not label_dir.is_dir():
        raise DatasetNotFoundError("GID", root, layout, f"missing folder '{label_dir}'")
    labels: dict[str, Path] = {}
    for p in _tiffs(label_dir):
        stem = p.stem[: -len(LABEL_SUFFIX)] if p.stem.endswith(LABEL_SUFFIX) else p.stem
        labels[stem] = p
    no_label = sorted(set(images) - set(labels))
    no_image = sorted(set(labels) - set(images))
    if no_label or no_image:
        parts = []
        if no_label:
            parts.append(
                f"{len(no_label)} image(s) in '{image_dir}' without '<scene>_label.tif' in "
                f"'{label_dir}' (first: {', '.join(no_label[:5])})"
            )
        if no_image:
            parts.append(
                f"{len(no_image)} label(s) in '{label_dir}' without an image in '{image_dir}' "
                f"(first: {', '.join(labels[n].name for n in no_image[:5])})"
            )
        msg = "GID: unmatched files: " + "; ".join(parts)
        if strict:
            raise DatasetLayoutError(msg + " (strict=False skips them with a warning)")
        warnings.warn(msg + "; skipped", UserWarning, stacklevel=2)
    scenes = {n: GIDScene(n, images[n], labels[n]) for n in sorted(images) if n in labels}
    if not scenes:
        raise DatasetNotFoundError("GID", root, layout, "no image has a matching label")
    return scenes


def select_scenes(names: Sequence[str], wanted: Sequence[str], what: str, root: str | Path) -> list[str]:
    """Scene names matched by ``wanted`` entries (full name or a unique part such as the L1A id)."""
    out: list[str] = []
    for entry in wanted:
        hits = [n for n in names if n == entry] or [n for n in names if entry in n]
        if len(hits) != 1:
            found = "no scene" if not hits else f"{len(hits)} scenes ({', '.join(hits[:4])})"
            raise DatasetLayoutError(
                f"GID: {what} entry {entry!r} matches {found} under '{root}'; scenes present: "
                f"{', '.join(names[:12])}{' ...' if len(names) > 12 else ''}"
            )
        if hits[0] not in out:
            out.append(hits[0])
    return out


def default_val_scenes(names: Sequence[str], classes: int) -> list[str]:
    """GID-15: the common held-out pair (those present); GID-5: every 5th scene in name order [I]."""
    if classes == 15:
        return [n for n in names if any(v in n for v in GID15_VAL_SCENES)]
    return [n for i, n in enumerate(sorted(names)) if i % 5 == 4]


class GIDPatches(Dataset):
    """Segmentation patches of GID scenes read by rasterio windows.

    Args:
        scenes: scenes with ``label`` set and metadata filled (see :meth:`GIDDataModule.scenes_for`).
        classes: 5 or 15 (selects the colour table).
        patch_size: patch side in pixels.
        stride: grid step (default ``patch_size``).
        edge: leftover-strip policy of the grid (:func:`semcolor.datamodules.raster.grid_starts`).
        sampling: ``"grid"`` (fixed windows) or ``"random"`` (``samples_per_scene`` random windows per
            scene, drawn anew at every access).
        samples_per_scene: random windows per scene per epoch (default: the grid's count per scene).
        augment: random flips / 90-degree rotations shared by patch, class map and context.
        bit_depth: significant bits (default from dtype: 8-bit data / 255).
        context_size: also return ``"context"``, a ``context_size`` window centred on the patch.
    """

    def __init__(
        self,
        scenes: Sequence[GIDScene],
        classes: int = 15,
        *,
        patch_size: int = 256,
        stride: int | None = None,
        edge: raster.EdgeMode = "shift",
        sampling: Literal["grid", "random"] = "grid",
        samples_per_scene: int | None = None,
        augment: bool = False,
        bit_depth: int | None = None,
        context_size: int | None = None,
    ) -> None:
        self.scenes = list(scenes)
        self.classes, self.colours = classes, color_table(classes)
        self.patch_size, self.sampling = patch_size, sampling
        self.bit_depth, self.context_size = bit_depth, context_size
        if context_size is not None and (context_size < patch_size or (context_size - patch_size) % 2):
            raise SemcolorError(
                f"GID: context_size={context_size} must be >= patch_size={patch_size} and differ from "
                f"it by an even number of pixels (so the patch sits at the centre)"
            )
        self.grid: list[tuple[int, Window]] = [
            (i, w)
            for i, s in enumerate(self.scenes)
            for w in raster.window_grid((s.height, s.width), patch_size, stride, edge=edge)
        ]
        self.samples_per_scene = samples_per_scene or max(1, len(self.grid) // max(1, len(self.scenes)))
        self.unknown = raster.UnknownColorLog("GID", f"GID-{classes}")
        self.transform: A.Compose | None = None
        if augment:
            self.transform = (
                paired_geometric(flip=True, rot90=True)
                if context_size is None
                else A.Compose(
                    [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.RandomRotate90(p=0.5)],
                    additional_targets={"context": "image"},
                    is_check_shapes=False,  # the context is larger than the patch, on purpose
                )
            )

    @property
    def unknown_colors(self) -> dict[str, int]:
        """Unknown-colour pixel counts per label file seen so far (in this process)."""
        return self.unknown.counts

    def __len__(self) -> int:
        if self.sampling == "random":
            return len(self.scenes) * self.samples_per_scene
        return len(self.grid)

    def window_of(self, i: int) -> tuple[GIDScene, Window]:
        if self.sampling == "random":
            scene = self.scenes[i // self.samples_per_scene]
            return scene, raster.random_window((scene.height, scene.width), self.patch_size)
        si, w = self.grid[i]
        return self.scenes[si], w

    def _read_image(self, scene: GIDScene, window: Window) -> np.ndarray:
        inside = raster.window_inside(window, scene.height, scene.width)
        with raster.open_raster(scene.image, "a GID image GeoTIFF") as src:
            arr = raster.read_window(src, window, scene.bands, boundless=not inside)
        return raster.to_unit_float(arr, bit_depth=self.bit_depth, path=scene.image).transpose(1, 2, 0)

    def read_label(self, scene: GIDScene, window: Window) -> np.ndarray:
        """Class indices of ``window`` of the scene's colour label (outside the scene: 0)."""
        assert scene.label is not None
        inside = raster.window_inside(window, scene.height, scene.width)
        with raster.open_raster(scene.label, "a GID colour label GeoTIFF") as src:
            rgb = raster.read_window(src, window, boundless=not inside)
        idx, n, example = raster.rgb_to_index(rgb.transpose(1, 2, 0), self.colours)
        self.unknown.record(
            scene.label, n, example, f" in window rows {window.row_off}+{window.height}, "
            f"cols {window.col_off}+{window.width}"
        )
        return idx

    def __getitem__(self, i: int) -> dict[str, Any]:
        scene, w = self.window_of(i)
        image = self._read_image(scene, w)
        seg = self.read_label(scene, w)
        context = None
        if self.context_size is not None:
            m = (self.context_size - self.patch_size) // 2
            cw = Window(w.col_off - m, w.row_off - m, self.context_size, self.context_size)
            context = self._read_image(scene, cw)
        if self.transform is not None:
            if context is None:
                image, _, seg = apply_paired(self.transform, image, seg=seg)
            else:
                out = self.transform(image=image, mask=seg, context=context)
                image, seg, context = out["image"], out["mask"], out["context"]
        sample: dict[str, Any] = {
            "input": image_to_tensor(image, scale=1.0),
            "seg": seg_to_tensor(seg),
            "name": f"{scene.name}_{int(w.row_off)}_{int(w.col_off)}",
        }
        if context is not None:
            sample["context"] = image_to_tensor(context, scale=1.0)
        return sample


@DATASETS.register("gid")
class GIDDataModule(SemcolorDataModule):
    """GID for segmentation (WiCoNet) and for SECBNet's colour-balance test (see the module docstring).

    Args:
        root: the GID folder (holding the class trees) or one class tree.
        classes: 15 (Fine Land-cover, 16 indices with 0 ignored) or 5 (Large-scale, 6 indices).
        image_type: ``"RGB"`` (image_RGB, 3 bands) or ``"NirRGB"`` (image_NirRGB, NIR, R, G, B).
        bands: band names or 0-based positions to keep, e.g. ``["R", "G", "B"]``; ``None`` keeps all.
        patch_size: patch (and balance-test tile) side, e.g. 256.
        stride: grid step (default ``patch_size``).
        edge: grid leftover policy, default ``"shift"`` (last window aligned to the scene edge).
        train_sampling: ``"grid"`` or ``"random"`` windows for training; evaluation always uses the grid.
        samples_per_scene: random training windows per scene per epoch (default: grid count).
        val_scenes: validation scenes (names or unique parts such as L1A ids); ``None``: the default
            split (:func:`default_val_scenes`). ``test_scenes`` defaults to ``val_scenes``.
        augment: flips / 90-degree rotations on training patches.
        context_size: add a centred ``"context"`` window (WiCoNet: 768 around a 256 patch).
        bit_depth: significant bits of the image data (default: from the dtype).
        strict: unmatched images/labels raise (``True``) or are skipped with a warning.
        mode: ``"segmentation"`` or ``"balance_test"``.
        balance_scene: balance-test scene (GeoTIFF path, or a scene name in the image folder).
        balance_target: balanced scene on the same grid (optional), giving ``"target"``.
        balance_regions: ``(row0, col0, row1, col1)`` rectangles to tile (default: whole scene).
    """

    def __init__(
        self,
        root: str = "data/GID",
        classes: Literal[5, 15] = 15,
        image_type: Literal["RGB", "NirRGB"] = "RGB",
        bands: list[str | int] | None = None,
        patch_size: int = 256,
        stride: int | None = None,
        edge: Literal["shift", "pad", "drop"] = "shift",
        train_sampling: Literal["grid", "random"] = "grid",
        samples_per_scene: int | None = None,
        val_scenes: list[str] | None = None,
        test_scenes: list[str] | None = None,
        augment: bool = True,
        context_size: int | None = None,
        bit_depth: int | None = None,
        strict: bool = True,
        mode: Literal["segmentation", "balance_test"] = "segmentation",
        balance_scene: str | None = None,
        balance_target: str | None = None,
        balance_regions: list[list[int]] | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, eval_batch_size, pin_memory)
        for arg, value, allowed in (
            ("classes", classes, (5, 15)),
            ("image_type", image_type, tuple(IMAGE_DIRS)),
            ("mode", mode, ("segmentation", "balance_test")),
            ("train_sampling", train_sampling, ("grid", "random")),
            ("edge", edge, ("shift", "pad", "drop")),
        ):
            if value not in allowed:
                raise SemcolorError(f"GID: {arg}={value!r} is not one of {list(allowed)}")
        self.root, self.classes, self.image_type = root, int(classes), image_type
        self.bands = bands
        self.patch_size, self.stride, self.edge = patch_size, stride, edge
        self.train_sampling, self.samples_per_scene = train_sampling, samples_per_scene
        self.val_scenes, self.test_scenes = val_scenes, test_scenes
        self.augment, self.context_size, self.bit_depth = augment, context_size, bit_depth
        self.strict, self.mode = strict, mode
        self.balance_scene, self.balance_target = balance_scene, balance_target
        self.balance_regions = balance_regions
        self.num_classes = 16 if self.classes == 15 else 6
        self.ignore_index = 0
        self.class_names = GID15_CLASSES if self.classes == 15 else GID5_CLASSES
        self.colours = color_table(self.classes)
        self._scenes: dict[str, GIDScene] | None = None

    # -- scenes and splits ------------------------------------------------------------------------
    def scenes(self) -> dict[str, GIDScene]:
        """All scenes of the tree, with band selection and sizes checked (metadata reads only)."""
        if self._scenes is None:
            scenes = scan_scenes(self.root, self.classes, self.image_type, strict=self.strict)
            for s in scenes.values():
                with raster.open_raster(s.image, "a GID image GeoTIFF") as src:
                    names = band_names_for(src.count, s.image)
                    s.bands = tuple(raster.resolve_bands(self.bands, names, s.image))
                    raster.check_scene_format(src, s.bands, self.bit_depth, "an 8-bit GID image")
                    s.height, s.width = src.height, src.width
                assert s.label is not None
                with raster.open_raster(s.label, "a GID colour label GeoTIFF") as lab:
                    check_pixels(s.label, lab.dtypes[0], lab.count, bands=None, expected="a GID colour label "
                                 "(3 bands of 8-bit unsigned integers)")
                    if lab.count != 3:
                        raise DatasetLayoutError(
                            f"'{s.label}' has {lab.count} band(s); GID labels are RGB colour images "
                            f"(3 bands)"
                        )
                    if (lab.height, lab.width) != (s.height, s.width):
                        raise DatasetLayoutError(
                            f"'{s.label}' is {lab.height}x{lab.width} but its image '{s.image}' is "
                            f"{s.height}x{s.width}"
                        )
            self._scenes = scenes
        return self._scenes

    def split_names(self) -> dict[str, list[str]]:
        """Scene names per split (train / val / test)."""
        names = list(self.scenes())
        val = (
            select_scenes(names, self.val_scenes, "val_scenes", self.root)
            if self.val_scenes is not None
            else default_val_scenes(names, self.classes)
        )
        test = (
            select_scenes(names, self.test_scenes, "test_scenes", self.root)
            if self.test_scenes is not None
            else val
        )
        train = [n for n in names if n not in val and n not in test]
        return {"train": train, "val": val, "test": test}

    def scenes_for(self, split: str) -> list[GIDScene]:
        names = self.split_names()[split]
        if not names:
            raise DatasetLayoutError(
                f"GID: the {split} split is empty under '{self.root}' (scenes: "
                f"{', '.join(self.scenes())}; val_scenes={self.val_scenes}, test_scenes={self.test_scenes})"
            )
        return [self.scenes()[n] for n in names]

    # -- datasets ---------------------------------------------------------------------------------
    def _balance_dataset(self) -> raster.SceneTiles:
        if self.balance_scene is None:
            raise SemcolorError("GID: mode='balance_test' needs balance_scene (a GeoTIFF or a scene name)")
        path = Path(self.balance_scene)
        if not path.is_file():
            scenes = scan_scenes(self.root, self.classes, self.image_type, need_labels=False)
            hit = select_scenes(list(scenes), [self.balance_scene], "balance_scene", self.root)[0]
            path = scenes[hit].image
        with raster.open_raster(path, "a true-colour scene GeoTIFF") as src:
            names = band_names_for(src.count, path) if src.count in (3, 4) else None
        return raster.SceneTiles(
            path,
            self.balance_target,
            regions=self.balance_regions,
            tile_size=self.patch_size,
            edge="drop",
            bands=self.bands,
            band_names=names,
            bit_depth=self.bit_depth,
            dataset_name="GID balance test",
        )

    def build_dataset(self, split: str) -> Dataset:
        if self.mode == "balance_test":
            if split == "train":
                raise SemcolorError(
                    "GID: mode='balance_test' gives test tiles only (SECBNet tests on GID without "
                    "retraining); use `validate`/`test`/`predict`, or mode='segmentation' to train"
                )
            return self._balance_dataset()
        train = split == "train"
        return GIDPatches(
            self.scenes_for(split),
            self.classes,
            patch_size=self.patch_size,
            stride=self.stride,
            edge=self.edge,
            sampling=self.train_sampling if train else "grid",
            samples_per_scene=self.samples_per_scene,
            augment=self.augment and train,
            bit_depth=self.bit_depth,
            context_size=self.context_size,
        )

    def predict_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("test", train=False)
