"""Cityscapes (gtFine) for slimmable segmentation (slimseg) and cross-domain colorization (multipath).

Released layout (DATASETS.md "Cityscapes")::

    {root}/leftImg8bit/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png   2048x1024 RGB
    {root}/gtFine/{split}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_labelIds.png     mode L, value = id

``*_labelTrainIds.png`` is not part of the release, so the ``_labelIds`` files are read and mapped
id -> trainId with :data:`ID_TO_TRAIN_ID_LUT` (19 classes, every other value -> 255 = ignore).
The official label table has id -1 for "license plate", but that id never appears in the released
PNGs: cityscapesScripts' ``json2labelImg`` does not draw polygons with a negative id, so those pixels
keep the label drawn below them (usually car). Values 34..255 cannot occur either; the table maps them
to 255 all the same.

Boundary ground truth (slimseg, thesis 003 ch. 2, "Boundary groundtruth" and Table 2.6: generated from
the semantic labels, borders between different categories only, "radius of the boundary region" 3 px
by default, 1/3/5 compared) is computed on the fly on the final (augmented) trainId map by
:func:`label_boundary`: a pixel is a boundary pixel when its ``(2r+1) x (2r+1)`` square neighbourhood
(Chebyshev distance <= r) holds two different classes, so a straight border gives a band ``2r`` pixels
wide (r on each side). Grey dilation and erosion with OpenCV do it (~10x faster than scipy.ndimage,
~25 ms at 1024x2048). Ignore pixels (255) never form a border among themselves (all void ids are one
value after the mapping, so e.g. "static" next to "dynamic" is no boundary). A border between a class
and ignore *does* count by default (``ignore_is_boundary=True``): in Cityscapes the ignored regions
are mostly real objects of unused classes (ego vehicle, static, dynamic, ground, rail track...) whose
contours are real image edges; ``False`` makes ignore pixels neutral (only class/class borders count).
Crop padding is always neutral: it never creates a boundary, and boundary is 0 inside it. Image edges
create no boundary.

Training augmentation (slimseg, thesis 003 ch. 2, "Training": "random horizontal flip, random resizing
with the scale range of [0.5, 2.0], and random cropping to 768 x 768"): random scale in ``scale_range``
(default [0.5, 2.0], one factor for both sides), random crop ``crop_size`` (default 768 square) padded
with 0 (image) and 255 (label) where the scaled image is smaller, random horizontal flip; all with
albumentations (2.x API: ``fill`` / ``fill_mask``). Evaluation is at full resolution (or ``resize``).

``task="colorization"``: input = BT.709 luma (multipath Wang et al. 2025, Sec. 2.1) rounded to 8 bits, 1
channel; target = RGB; seg and boundary as above.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.io import read_label, read_rgb
from semcolor.datamodules.scene_classes import gray_from_rgb
from semcolor.datamodules.transforms import image_to_tensor, seg_to_tensor
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError
from semcolor.registry import DATASETS

IGNORE_INDEX = 255

#: the 19 evaluated classes, index = trainId
CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
    "bicycle",
)  # fmt: skip

#: Cityscapes label id -> trainId for the 19 classes (every other id -> 255)
LABEL_ID_TO_TRAIN_ID: dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip

#: colours per trainId, for visualisation (row = trainId)
TRAIN_ID_COLOURS = np.array(
    [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
        (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
        (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ],
    dtype=np.uint8,
)  # fmt: skip


def make_lut(mapping: dict[int, int], ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """256-entry uint8 lookup table: ``lut[id] = mapping.get(id, ignore_index)``."""
    lut = np.full(256, ignore_index, dtype=np.uint8)
    for src, dst in mapping.items():
        lut[src] = dst
    return lut


#: lookup table id -> trainId (index with a uint8 labelIds array)
ID_TO_TRAIN_ID_LUT = make_lut(LABEL_ID_TO_TRAIN_ID)


def apply_lut(label: np.ndarray, lut: np.ndarray, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Map an integer label map through a 256-entry table; values outside 0..255 -> ``ignore_index``."""
    if label.dtype == np.uint8:
        return lut[label]
    out = np.full(label.shape, ignore_index, dtype=np.uint8)
    ok = (label >= 0) & (label < 256)
    out[ok] = lut[label[ok]]
    return out


def ids_to_train_ids(label: np.ndarray) -> np.ndarray:
    """Cityscapes labelIds ``(H, W)`` -> trainIds (uint8, 255 = ignore)."""
    return apply_lut(label, ID_TO_TRAIN_ID_LUT)


def colourize(train_ids: np.ndarray | torch.Tensor, colours: np.ndarray = TRAIN_ID_COLOURS) -> np.ndarray:
    """trainId map ``(H, W)`` -> RGB ``(H, W, 3)`` uint8; ignore (and unknown values) are black."""
    arr = train_ids.cpu().numpy() if isinstance(train_ids, torch.Tensor) else np.asarray(train_ids)
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(colours)] = colours
    return table[np.clip(arr, 0, 255).astype(np.int64)]


def label_boundary(
    seg: np.ndarray,
    radius: int = 3,
    *,
    ignore_index: int = IGNORE_INDEX,
    ignore_is_boundary: bool = True,
    neutral: np.ndarray | None = None,
) -> np.ndarray:
    """Boundary map (uint8 0/1): pixels whose ``(2r+1)^2`` square window holds two different labels.

    Args:
        seg: integer class map ``(H, W)``.
        radius: ``r`` in pixels (Chebyshev distance); ``0`` gives an all-zero map.
        ignore_index: value of ignored pixels; they never border each other.
        ignore_is_boundary: whether a class/ignore border counts (module doc).
        neutral: optional bool mask of pixels that neither create nor carry a boundary (crop padding).
    """
    if radius <= 0:
        return np.zeros(seg.shape, dtype=np.uint8)
    if seg.min() < 0 or seg.max() > 65533:
        raise ValueError("label_boundary expects class values in 0..65533")
    lab = seg.astype(np.uint16) + 1  # 1..65534; 0 and 65535 are free for transparent pixels
    transparent = np.zeros(seg.shape, dtype=bool) if neutral is None else neutral.astype(bool).copy()
    if not ignore_is_boundary:
        transparent |= seg == ignore_index
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    # grey dilation / erosion (window max / min) with a square kernel; transparent pixels get values
    # that never win the max / min, so they cannot create a border. OpenCV's default border value
    # for dilate / erode never wins either, so image edges create none.
    hi = cv2.dilate(np.where(transparent, 0, lab).astype(np.uint16), kernel)
    lo = cv2.erode(np.where(transparent, 65535, lab).astype(np.uint16), kernel)
    edge = (hi > 0) & (lo < 65535) & (hi != lo)
    if neutral is not None:
        edge &= ~neutral.astype(bool)
    return edge.astype(np.uint8)


def _hw(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int):
        return (size, size)
    h, w = size
    return (int(h), int(w))


# internal value for crop padding in the label while augmenting (never a trainId, never 255)
_PAD = 254

Task = Literal["segmentation", "colorization"]

EXPECTED_LAYOUT = (
    "{root}/leftImg8bit/{split}/{city}/*_leftImg8bit.png and "
    "{root}/gtFine/{split}/{city}/*_gtFine_labelIds.png"
)


class CityscapesDataset(Dataset):
    """One split of Cityscapes (fine annotations).

    Args:
        root: folder holding ``leftImg8bit/`` and ``gtFine/``.
        split: ``"train"``, ``"val"`` or ``"test"`` (test labels only mark void: seg is all 255).
        task: ``"segmentation"`` (input RGB (3,H,W)) or ``"colorization"`` (input BT.709 gray (1,H,W),
            plus ``"target"`` RGB).
        train: apply the training augmentation (default: ``split == "train"``).
        crop_size: training crop, int (square) or ``(H, W)``; default 768; ``None``: no crop.
        scale_range: training random scale range; ``None``: no scaling.
        flip: random horizontal flip in training.
        boundary_radius: ``r`` of the boundary ground truth (default 3, slimseg).
        ignore_is_boundary: whether class/ignore borders are boundaries (module doc).
        resize: optional fixed ``(H, W)`` (or square int) every image and label is resized to first
            (e.g. for cross-domain colorization); ``None``: full resolution.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        task: Task = "segmentation",
        train: bool | None = None,
        crop_size: int | Sequence[int] | None = 768,
        scale_range: Sequence[float] | None = (0.5, 2.0),
        flip: bool = True,
        boundary_radius: int = 3,
        ignore_is_boundary: bool = True,
        resize: int | Sequence[int] | None = None,
    ) -> None:
        if task not in ("segmentation", "colorization"):
            raise ValueError(f"task must be 'segmentation' or 'colorization', got {task!r}")
        if scale_range is not None and not (0 < scale_range[0] <= scale_range[1]):
            raise ValueError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range}")
        self.root, self.split, self.task = Path(root), split, task
        self.train = split == "train" if train is None else train
        self.boundary_radius, self.ignore_is_boundary = boundary_radius, ignore_is_boundary
        self.samples = self._find(self.root, split)
        self.transform = self._build_transform(
            _hw(crop_size) if self.train else None,
            scale_range if self.train else None,
            flip and self.train,
            _hw(resize),
        )

    @staticmethod
    def _find(root: Path, split: str) -> list[tuple[Path, Path, str]]:
        img_dir = root / "leftImg8bit" / split
        if not img_dir.is_dir():
            raise DatasetNotFoundError("Cityscapes", root, EXPECTED_LAYOUT, f"folder '{img_dir}' does not exist")
        images = sorted(img_dir.glob("*/*_leftImg8bit.png"))
        if not images:
            raise DatasetNotFoundError(
                "Cityscapes", root, EXPECTED_LAYOUT, f"no '*_leftImg8bit.png' in the city folders of '{img_dir}'"
            )
        samples, missing = [], []
        for img in images:
            stem = img.name[: -len("_leftImg8bit.png")]
            lab = root / "gtFine" / split / img.parent.name / f"{stem}_gtFine_labelIds.png"
            if not lab.is_file():
                missing.append(lab)
            samples.append((img, lab, stem))
        if missing:
            raise DatasetLayoutError(
                f"Cityscapes: {len(missing)} of {len(images)} images of split '{split}' have no label file "
                f"(e.g. '{missing[0]}'); expected {EXPECTED_LAYOUT}"
            )
        return samples

    @staticmethod
    def _build_transform(
        crop: tuple[int, int] | None,
        scale_range: Sequence[float] | None,
        flip: bool,
        resize: tuple[int, int] | None,
    ) -> A.Compose | None:
        ops: list[A.BasicTransform] = []
        if resize is not None:
            ops.append(A.Resize(*resize, interpolation=cv2.INTER_LINEAR))
        if scale_range is not None and tuple(scale_range) != (1.0, 1.0):
            lo, hi = scale_range
            ops.append(A.RandomScale(scale_limit=(lo - 1.0, hi - 1.0), interpolation=cv2.INTER_LINEAR, p=1.0))
        if crop is not None:
            ops.append(
                A.RandomCrop(
                    *crop, pad_if_needed=True, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=_PAD
                )
            )
        if flip:
            ops.append(A.HorizontalFlip(p=0.5))
        return A.Compose(ops) if ops else None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        img_path, lab_path, stem = self.samples[i]
        rgb = read_rgb(img_path)
        seg = ids_to_train_ids(read_label(lab_path))
        if seg.shape != rgb.shape[:2]:
            raise DatasetLayoutError(
                f"Cityscapes: label '{lab_path}' is {seg.shape[1]}x{seg.shape[0]} but its image is "
                f"{rgb.shape[1]}x{rgb.shape[0]} (W x H); expected equal sizes"
            )
        if self.transform is not None:
            out = self.transform(image=rgb, mask=seg)
            rgb, seg = out["image"], out["mask"]
        return make_street_sample(
            rgb, seg, stem, self.task, self.boundary_radius, self.ignore_is_boundary, pad_value=_PAD
        )


def make_street_sample(
    rgb: np.ndarray,
    seg: np.ndarray,
    name: str,
    task: Task,
    boundary_radius: int | None,
    ignore_is_boundary: bool = True,
    pad_value: int | None = None,
) -> dict[str, Any]:
    """Build the sample dict of a street-scene dataset (shared with GTA5).

    ``pad_value``: label value marking crop padding; it becomes 255 and is neutral for the boundary.
    """
    neutral = None
    if pad_value is not None:
        neutral = seg == pad_value
        if neutral.any():
            seg = np.where(neutral, IGNORE_INDEX, seg).astype(np.uint8)
        else:
            neutral = None
    sample: dict[str, Any] = {"name": name, "seg": seg_to_tensor(seg)}
    if boundary_radius is not None:
        b = label_boundary(seg, boundary_radius, ignore_is_boundary=ignore_is_boundary, neutral=neutral)
        sample["boundary"] = torch.from_numpy(b).float()
    if task == "colorization":
        sample["input"] = image_to_tensor(gray_from_rgb(rgb, "bt709"))
        sample["target"] = image_to_tensor(rgb)
    else:
        sample["input"] = image_to_tensor(rgb)
    return sample


@DATASETS.register("cityscapes")
class CityscapesDataModule(SemcolorDataModule):
    """Cityscapes for slimseg (segmentation + boundary) or multipath cross-domain checks (colorization).

    Args:
        root: folder holding ``leftImg8bit/`` and ``gtFine/``.
        crop_size: training crop (768, slimseg); int or ``(H, W)``; ``None``: no crop.
        scale_range: training random scale (``(0.5, 2.0)``, slimseg); ``None``: none.
        boundary_radius: boundary ground-truth radius in pixels (3, slimseg; ablations 1/3/5).
        task: ``"segmentation"`` or ``"colorization"`` (gray BT.709 in, RGB target, seg kept).
        flip: random horizontal flip in training.
        ignore_is_boundary: whether class/ignore borders count as boundary (module doc; default yes).
        resize: optional fixed size applied to every split first (``None``: evaluation at full
            resolution, 1024x2048).
        test_split: the split served by ``test_dataloader``: ``"val"`` by default, since the released
            test labels only mark void; ``"test"`` for prediction on the test images.
        batch_size: 8 (slimseg); others as :class:`SemcolorDataModule`.
    """

    num_classes = len(CITYSCAPES_CLASSES)
    ignore_index = IGNORE_INDEX
    class_names = CITYSCAPES_CLASSES
    colours = TRAIN_ID_COLOURS

    def __init__(
        self,
        root: str | Path,
        crop_size: int | Sequence[int] | None = 768,
        scale_range: Sequence[float] | None = (0.5, 2.0),
        boundary_radius: int = 3,
        task: Task = "segmentation",
        flip: bool = True,
        ignore_is_boundary: bool = True,
        resize: int | Sequence[int] | None = None,
        test_split: str = "val",
        batch_size: int = 8,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, eval_batch_size, pin_memory)
        self.root, self.task, self.test_split = Path(root), task, test_split
        self.crop_size, self.scale_range, self.flip = crop_size, scale_range, flip
        self.boundary_radius, self.ignore_is_boundary, self.resize = boundary_radius, ignore_is_boundary, resize

    def build_dataset(self, split: str) -> Dataset:
        folder = self.test_split if split == "test" else split
        return CityscapesDataset(
            self.root,
            folder,
            task=self.task,
            train=split == "train",
            crop_size=self.crop_size,
            scale_range=self.scale_range,
            flip=self.flip,
            boundary_radius=self.boundary_radius,
            ignore_is_boundary=self.ignore_is_boundary,
            resize=self.resize,
        )
