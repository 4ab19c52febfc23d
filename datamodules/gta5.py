"""GTA5 "Playing for Data" for segmentation-guided colorization (multipath) and cross-domain segmentation.

Released layout (DATASETS.md "GTA5")::

    {root}/images/00001.png ... 24966.png   8-bit RGB, nominally 1914x1052 (W x H)
    {root}/labels/00001.png ... 24966.png   palette ("P") PNG whose indices are Cityscapes label ids
    {root}/split.mat                        keys trainIds, valIds, testIds (1-based; file f"{id:05d}.png")

Labels are read as palette indices (:func:`semcolor.datamodules.io.read_label`, never ``convert()``). Labels
whose size differs from their image (60 in the release) are resized to the image size with nearest
neighbour and counted with a warning naming the file (``mis_sized_labels``); never a crash.

Classes (``classes``):

* ``"multipath11"`` (default): the 11 classes of multipath (Wang et al. 2025, Sec. 2.5, Table V), in the
  table's order, as :data:`MULTIPATH_CLASSES` = name -> Cityscapes ids. The paper says the labels have
  19 categories and lists 11 used (building, bus, car, road, sidewalk, sky, traffic sign, tree, truck,
  vegetation, wall) and 8 unused (bicycle, person, fence, motorcycle, pole, rider, traffic light,
  train). Of the 19 Cityscapes classes only *terrain* is in neither list, so its "tree" and
  "vegetation" must be Cityscapes' vegetation (21: trees, hedges, vertical vegetation) and terrain
  (22: grass, horizontal vegetation, soil). Default: tree = [21], vegetation = [22]. Everything else
  -> 255.
* ``"cityscapes19"``: the 19 Cityscapes trainIds (table imported from :mod:`semcolor.datamodules.cityscapes`),
  for slimseg / cross-domain experiments.
* a dict ``{name: [Cityscapes ids]}`` (ordered: class index = position), e.g. from a YAML config.

Splits (``protocol``):

* ``"multipath"`` (default): the paper's 20,466 train / 4,500 test (Sec. 2.5). The paper's own lists are
  not public; the rule shipped here: take the ids that have both an image and a label, sorted; permute
  them with ``numpy.random.default_rng(seed).permutation``; the first ``n_test`` go to test, the rest to
  train, with ``n_test = max(1, floor(N * 4500 / 24966 + 0.5))`` (exactly 4,500 on the full release;
  scales with N for partial copies). The paper shows results on "the GTA5 validation set" and averages
  over "4500 test images", so val and test are the same 4,500 images.
* ``"small"``: the small-data protocol (2,000 train / 500 val, Sec. 2.5 / 3): the first
  ``floor(N*2000/24966 + 0.5)`` ids of the multipath train part of the same permutation and the first
  ``floor(N*500/24966 + 0.5)`` of its test part (at least 1 each); test = val.
* ``"official"``: ``split.mat`` (trainIds / valIds / testIds).

The seeded splits are written once as ``{split_dir}/gta5-{protocol}-{train,test|val}.txt`` (ids, one
per line) plus ``gta5-{protocol}-split.json`` recording the rule and seed, and read back afterwards; an
existing file is never overwritten (placement as in :mod:`semcolor.datamodules.scene_classes`).

Tasks: ``"colorization"`` (input BT.709 gray (1,H,W), multipath Sec. 2.1; target RGB; seg) and
``"segmentation"`` (input RGB; seg). Augmentation: random horizontal flip with p = 0.5 on train
(Sec. 2.5). ``resize``: images (and labels, nearest) are resized to a fixed ``(H, W)`` — the paper
resizes to its network's input ("Prior to importing the model, it underwent a resizing process").
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import albumentations as A
import cv2
import numpy as np
import scipy.io
from torch.utils.data import Dataset

from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.cityscapes import (
    CITYSCAPES_CLASSES,
    IGNORE_INDEX,
    LABEL_ID_TO_TRAIN_ID,
    TRAIN_ID_COLOURS,
    Task,
    apply_lut,
    make_lut,
    make_street_sample,
)
from semcolor.datamodules.io import read_label, read_rgb
from semcolor.datamodules.scene_classes import (
    check_disjoint,
    locate_split_dir,
    meta_file,
    read_list,
    read_meta,
    split_file,
    write_split_files,
)
from semcolor.errors import CorruptFileError, DatasetLayoutError, DatasetNotFoundError
from semcolor.registry import DATASETS

#: multipath's 11 classes (Wang et al. 2025, Table V order) -> Cityscapes label ids (module doc for tree/vegetation)
MULTIPATH_CLASSES: dict[str, list[int]] = {
    "building": [11],
    "bus": [28],
    "car": [26],
    "road": [7],
    "sidewalk": [8],
    "sky": [23],
    "traffic sign": [20],
    "tree": [21],
    "truck": [27],
    "vegetation": [22],
    "wall": [12],
}

#: size of the full release and the split sizes of multipath (Wang et al. 2025, Sec. 2.5)
GTA5_SIZE = 24966
MULTIPATH_TEST = 4500
SMALL_TRAIN, SMALL_VAL = 2000, 500

EXPECTED_LAYOUT = "{root}/images/NNNNN.png, {root}/labels/NNNNN.png (palette PNG of Cityscapes ids), {root}/split.mat"

SplitProtocol = Literal["multipath", "small", "official"]

#: which split files each protocol has, and which of them serves the DataModule's train/val/test
PROTOCOL_SPLITS: dict[str, dict[str, str]] = {
    "multipath": {"train": "train", "val": "test", "test": "test"},
    "small": {"train": "train", "val": "val", "test": "val"},
    "official": {"train": "train", "val": "val", "test": "test"},
}


def class_table(classes: str | Mapping[str, Sequence[int]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(names, lut id -> class index, colours)`` for a class setting (module doc)."""
    if classes == "cityscapes19":
        return list(CITYSCAPES_CLASSES), make_lut(LABEL_ID_TO_TRAIN_ID), TRAIN_ID_COLOURS
    if classes == "multipath11":
        classes = MULTIPATH_CLASSES
    if isinstance(classes, str) or not isinstance(classes, Mapping):
        raise ValueError(f"classes must be 'multipath11', 'cityscapes19' or a dict name -> ids, got {classes!r}")
    mapping: dict[int, int] = {}
    names = list(classes)
    if not names or len(names) > 254:
        raise ValueError(f"classes must name 1..254 classes, got {len(names)}")
    for idx, name in enumerate(names):
        for cid in classes[name]:
            if not 0 <= int(cid) <= 255:
                raise ValueError(f"class '{name}': id {cid} is not a label id (0..255)")
            if int(cid) in mapping:
                raise ValueError(f"id {cid} is mapped to both '{names[mapping[int(cid)]]}' and '{name}'")
            mapping[int(cid)] = idx
    # colour of a class = Cityscapes colour of its first id's trainId when it has one, else grey
    colours = np.full((len(names), 3), 128, dtype=np.uint8)
    for idx, name in enumerate(names):
        ids = [int(c) for c in classes[name] if int(c) in LABEL_ID_TO_TRAIN_ID]
        if ids:
            colours[idx] = TRAIN_ID_COLOURS[LABEL_ID_TO_TRAIN_ID[ids[0]]]
    return names, make_lut(mapping), colours


def _rule_size(n: int, count: int) -> int:
    return max(1, int(math.floor(n * count / GTA5_SIZE + 0.5)))


def seeded_splits(ids: Sequence[int], protocol: str, seed: int = 0) -> dict[str, list[int]]:
    """The seeded multipath / small split of ``ids`` (module doc); lists sorted."""
    ids = sorted(int(i) for i in ids)
    n = len(ids)
    perm = [ids[k] for k in np.random.default_rng(int(seed)).permutation(n)]
    n_test = min(_rule_size(n, MULTIPATH_TEST), n - 1) if n > 1 else 0
    test, train = perm[:n_test], perm[n_test:]
    if protocol == "multipath":
        return {"train": sorted(train), "test": sorted(test)}
    if protocol == "small":
        return {"train": sorted(train[: _rule_size(n, SMALL_TRAIN)]), "val": sorted(test[: _rule_size(n, SMALL_VAL)])}
    raise ValueError(f"no seeded rule for protocol {protocol!r}")


def read_split_mat(path: Path) -> dict[str, list[int]]:
    """``split.mat`` -> ``{"train": ids, "val": ids, "test": ids}`` (1-based ids as stored)."""
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:
        raise CorruptFileError(path, "a MATLAB file with trainIds, valIds, testIds", exc) from exc
    out = {}
    for split, key in (("train", "trainIds"), ("val", "valIds"), ("test", "testIds")):
        if key not in mat:
            keys = sorted(k for k in mat if not k.startswith("__"))
            raise DatasetLayoutError(f"GTA5: '{path}' has no '{key}' (keys: {keys}); expected trainIds, valIds, testIds")
        out[split] = sorted(int(v) for v in np.asarray(mat[key]).ravel())
    return out


class GTA5Dataset(Dataset):
    """One split of GTA5.

    Args:
        root: folder holding ``images/``, ``labels/`` (and ``split.mat``).
        split: ``"train"``, ``"val"`` or ``"test"`` in the DataModule's sense, mapped per protocol
            (:data:`PROTOCOL_SPLITS`).
        protocol: ``"multipath"`` (default), ``"small"`` or ``"official"`` (module doc).
        task: ``"colorization"`` (default) or ``"segmentation"``.
        classes: ``"multipath11"`` (default), ``"cityscapes19"`` or a dict name -> Cityscapes ids.
        resize: fixed ``(H, W)`` (or square int) for images and labels; ``None``: native size.
        flip: random horizontal flip (train only, p = 0.5).
        train: apply augmentation (default: ``split == "train"``).
        seed: seed of the seeded protocols (used only when split files are created).
        split_dir: where the seeded split files live (``None``: the root if writable, else a cache).
        boundary_radius: add a ``"boundary"`` map like Cityscapes (``None``: no boundary).
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        protocol: SplitProtocol = "multipath",
        task: Task = "colorization",
        classes: str | Mapping[str, Sequence[int]] = "multipath11",
        resize: int | Sequence[int] | None = None,
        flip: bool = True,
        train: bool | None = None,
        seed: int = 0,
        split_dir: str | Path | None = None,
        boundary_radius: int | None = None,
    ) -> None:
        if protocol not in PROTOCOL_SPLITS:
            raise ValueError(f"protocol must be one of {list(PROTOCOL_SPLITS)}, got {protocol!r}")
        if split not in PROTOCOL_SPLITS[protocol]:
            raise ValueError(f"split must be one of {list(PROTOCOL_SPLITS[protocol])}, got {split!r}")
        if task not in ("segmentation", "colorization"):
            raise ValueError(f"task must be 'segmentation' or 'colorization', got {task!r}")
        self.root, self.split, self.protocol, self.task = Path(root), split, protocol, task
        self.class_names, self.lut, self.colours = class_table(classes)
        self.boundary_radius = boundary_radius
        self.train = split == "train" if train is None else train
        ids = self.split_ids(self.root, protocol, seed=seed, split_dir=split_dir)[PROTOCOL_SPLITS[protocol][split]]
        self.ids = ids
        size = None if resize is None else ((resize, resize) if isinstance(resize, int) else tuple(resize))
        ops: list[A.BasicTransform] = []
        if size is not None:
            ops.append(A.Resize(int(size[0]), int(size[1]), interpolation=cv2.INTER_AREA))
        if flip and self.train:
            ops.append(A.HorizontalFlip(p=0.5))
        self.transform = A.Compose(ops) if ops else None
        #: distinct label files resized to their image's size (in this process; warned once each)
        self.mis_sized_labels: list[str] = []

    # -- layout -----------------------------------------------------------------------------------
    @staticmethod
    def available_ids(root: Path) -> list[int]:
        """Ids with both an image and a label; raises when the layout is not there."""
        img_dir, lab_dir = root / "images", root / "labels"
        for d in (root, img_dir, lab_dir):
            if not d.is_dir():
                raise DatasetNotFoundError("GTA5", root, EXPECTED_LAYOUT, f"folder '{d}' does not exist")
        imgs = {int(p.stem) for p in img_dir.glob("*.png") if p.stem.isdigit()}
        labs = {int(p.stem) for p in lab_dir.glob("*.png") if p.stem.isdigit()}
        if not imgs:
            raise DatasetNotFoundError("GTA5", root, EXPECTED_LAYOUT, f"no NNNNN.png in '{img_dir}'")
        both = imgs & labs
        if not both:
            detail = f"no image of '{img_dir}' has a label in '{lab_dir}'"
            raise DatasetNotFoundError("GTA5", root, EXPECTED_LAYOUT, detail)
        if len(both) < len(imgs | labs):
            lone = sorted((imgs | labs) - both)
            warnings.warn(
                f"GTA5: {len(lone)} id(s) in '{root}' have an image or a label but not both (e.g. {lone[0]:05d}.png); "
                "they are left out",
                stacklevel=3,
            )
        return sorted(both)

    @classmethod
    def split_ids(
        cls,
        root: str | Path,
        protocol: SplitProtocol = "multipath",
        *,
        seed: int = 0,
        split_dir: str | Path | None = None,
    ) -> dict[str, list[int]]:
        """Ids of every split file of ``protocol``; seeded split files are created on first use."""
        root = Path(root)
        available = cls.available_ids(root)
        names = list(dict.fromkeys(PROTOCOL_SPLITS[protocol].values()))
        if protocol == "official":
            mat = root / "split.mat"
            if not mat.is_file():
                detail = f"'{mat}' does not exist (protocol='official')"
                raise DatasetNotFoundError("GTA5", root, EXPECTED_LAYOUT, detail)
            lists, where = read_split_mat(mat), str(mat)
        else:
            prefix = f"gta5-{protocol}"
            folder, exists = locate_split_dir(root, split_dir, prefix, names)
            if exists:
                raw = {s: read_list(split_file(folder, prefix, s)) for s in names}
                try:
                    lists = {s: [int(Path(v).stem) for v in vals] for s, vals in raw.items()}
                except ValueError as exc:
                    raise DatasetLayoutError(
                        f"GTA5: split files '{folder / prefix}-*.txt' must hold one id per line ({exc})"
                    ) from exc
                meta = read_meta(folder, prefix)
                if meta and meta.get("seed") != seed:
                    warnings.warn(
                        f"GTA5: using the existing split files in '{folder}' made with seed={meta.get('seed')}, not "
                        f"seed={seed}; delete them or pass another split_dir to make a new split",
                        stacklevel=2,
                    )
            else:
                lists = seeded_splits(available, protocol, seed)
                meta = {
                    "dataset": "GTA5",
                    "protocol": protocol,
                    "seed": int(seed),
                    "rule": "ids with image and label, sorted; numpy default_rng(seed).permutation; first "
                    "n_test = max(1, floor(N*4500/24966+0.5)) -> test, rest -> train; small: first "
                    "floor(N*2000/24966+0.5) of train, first floor(N*500/24966+0.5) of test (>= 1)",
                    "n_available": len(available),
                    "counts": {s: len(v) for s, v in lists.items()},
                }
                write_split_files(folder, prefix, {s: [f"{i:05d}" for i in v] for s, v in lists.items()}, meta)
            where = str(meta_file(folder, prefix).with_name(f"{prefix}-*.txt"))
        check_disjoint({s: [str(i) for i in v] for s, v in lists.items()}, where)
        have = set(available)
        for s, v in lists.items():
            missing = [i for i in v if i not in have]
            if missing:
                raise DatasetLayoutError(
                    f"GTA5: {len(missing)} id(s) of the {s} split in '{where}' have no image+label pair in "
                    f"'{root}' (e.g. {missing[0]:05d}.png)"
                )
        return lists

    # -- samples ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    def read_pair(self, i: int) -> tuple[np.ndarray, np.ndarray, str]:
        """RGB image and Cityscapes-id label (resized to the image when mis-sized) of sample ``i``."""
        name = f"{self.ids[i]:05d}"
        img_path, lab_path = self.root / "images" / f"{name}.png", self.root / "labels" / f"{name}.png"
        rgb = read_rgb(img_path)
        ids = read_label(lab_path)
        h, w = rgb.shape[:2]
        if ids.shape != (h, w):
            if str(lab_path) not in self.mis_sized_labels:  # warn once per file (per process)
                self.mis_sized_labels.append(str(lab_path))
                warnings.warn(
                    f"GTA5: label '{lab_path}' is {ids.shape[1]}x{ids.shape[0]}, its image {w}x{h} (W x H); "
                    f"resized with nearest neighbour ({len(self.mis_sized_labels)} mis-sized label(s) so far)",
                    stacklevel=2,
                )
            small = ids.astype(np.uint8 if ids.max() < 256 else np.uint16)  # dtypes cv2.resize takes
            ids = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        return rgb, ids, name

    def __getitem__(self, i: int) -> dict[str, Any]:
        rgb, ids, name = self.read_pair(i)
        seg = apply_lut(ids, self.lut)
        if self.transform is not None:
            out = self.transform(image=rgb, mask=seg)
            rgb, seg = out["image"], out["mask"]
        return make_street_sample(rgb, seg, name, self.task, self.boundary_radius)


@DATASETS.register("gta5")
class GTA5DataModule(SemcolorDataModule):
    """GTA5 for multipath (11 classes, gray -> RGB) or slimseg / cross-domain (19 trainIds).

    Args:
        root: folder holding ``images/``, ``labels/``, ``split.mat``.
        protocol: ``"multipath"`` (20,466 / 4,500; val = test), ``"small"`` (2,000 / 500; test = val)
            or ``"official"`` (split.mat).
        task: ``"colorization"`` (default) or ``"segmentation"``.
        classes: ``"multipath11"`` (default), ``"cityscapes19"`` or a dict name -> Cityscapes ids.
        resize: ``(H, W)`` every sample is resized to; default 896x896, the colorization network's input
            of multipath (Wang et al. 2025, Table III, Method 3+); ``None`` keeps 1052x1914.
        flip: random horizontal flip on train (p = 0.5, Sec. 2.5).
        seed: seed of the seeded split rule; split_dir: where its files go (module doc).
        boundary_radius: add a ``"boundary"`` map (``None``: none).
        batch_size: 4 (multipath); others as :class:`SemcolorDataModule`.
    """

    ignore_index = IGNORE_INDEX

    def __init__(
        self,
        root: str | Path,
        protocol: SplitProtocol = "multipath",
        task: Task = "colorization",
        classes: str | dict[str, list[int]] = "multipath11",
        resize: int | Sequence[int] | None = (896, 896),
        flip: bool = True,
        seed: int = 0,
        split_dir: str | Path | None = None,
        boundary_radius: int | None = None,
        batch_size: int = 4,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, eval_batch_size, pin_memory)
        self.root, self.protocol, self.task, self.classes = Path(root), protocol, task, classes
        self.resize, self.flip, self.seed, self.split_dir = resize, flip, seed, split_dir
        self.boundary_radius = boundary_radius
        self.class_names, _, self.colours = class_table(classes)
        self.num_classes = len(self.class_names)

    def prepare_data(self) -> None:
        """Create the seeded split files once (rank 0)."""
        GTA5Dataset.split_ids(self.root, self.protocol, seed=self.seed, split_dir=self.split_dir)

    def build_dataset(self, split: str) -> Dataset:
        return GTA5Dataset(
            self.root,
            split,
            protocol=self.protocol,
            task=self.task,
            classes=self.classes,
            resize=self.resize,
            flip=self.flip,
            seed=self.seed,
            split_dir=self.split_dir,
            boundary_radius=self.boundary_radius,
        )
