"""Embedded image groups: crops of the suite's procedural scenes, each with its own colour cast.

No paper defines this data; it stands in for the thesis's hand-picked photo groups (MIT-Adobe FiveK,
Flickr; Xue 2025 (thesis), §3.4.1) so that ``make eval METHOD=palette`` runs offline with no argument, and,
unlike the thesis's groups, it has a ground truth. A *group* is one scene of the embedded dataset
(:mod:`semcolor.datamodules.embedded`: the balanced land-cover rendering, its class map), cut into
``images_per_group`` crops of different sizes and places (sides 35-65 % of the scene's), like the tiles
of a mosaic taken on different days. Each crop gets its own colour cast, a change of illuminant applied
as a diagonal (von Kries) gain on linear RGB, normalised to keep the luminance of grey:

* mild casts (most images): log-gains ~ N(0, 0.06) per channel;
* strong casts (each image with probability ``strong_fraction``, at least one per group): a warm or cool
  shift of log-gain 0.7-1.0 along the red-blue axis (a red:blue gain ratio of 4-7, as an uncorrected tungsten light) plus a small green-magenta term, enough for Eq. 3.1
  (mean ΔE76 > 20 after white balance) to call for a correction.

The cast-free crop is the ground truth (``targets``): every crop shares the scene's class colours, so the
consistent version of the group is known. Class maps go with the crops (``labels``, the embedded classes,
0 = unrecognised). The group of a split depends only on ``seed``, the split and its index; the scenes are
those of the embedded dataset's cache (generated once under ``$SEMCOLOR_DATA``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from semcolor.datamodules import embedded
from semcolor.datamodules.base import SPLITS
from semcolor.datamodules.image_groups import GroupDataModule
from semcolor.datamodules.synthetic import CLASSES
from semcolor.errors import SemcolorError
from semcolor.palettes.color import linear_to_srgb_np, srgb_to_linear_np
from semcolor.registry import DATASETS

__all__ = ["EmbeddedGroups", "EmbeddedGroupsDataModule", "make_group", "cast_gains"]

_LUMA = np.array([0.2126, 0.7152, 0.0722])


def cast_gains(rng: np.random.Generator, strong: bool) -> np.ndarray:
    """Per-channel linear-RGB gains of one image's cast (module docstring), luminance of grey kept."""
    if strong:
        t = rng.uniform(0.7, 1.0) * rng.choice([-1.0, 1.0])  # warm (+, tungsten-like) or cool (-)
        log_g = np.array([t, 0.0, -t]) + np.array([0.0, 1.0, 0.0]) * rng.normal(0, 0.08)
    else:
        log_g = rng.normal(0.0, 0.06, 3)
    g = np.exp(log_g)
    return (g / float(_LUMA @ g)).astype(np.float32)


def make_group(target: np.ndarray, seg: np.ndarray, n_images: int, rng: np.random.Generator,
               strong_fraction: float = 1 / 3, crop_range: tuple[float, float] = (0.35, 0.65)) -> dict[str, Any]:
    """One group from a scene (``target`` uint8 ``(S, S, 3)``, ``seg`` ``(S, S)``): lists ``inputs`` / ``targets``
    (float32 ``(h, w, 3)``), ``labels``, and per-image ``params`` (crop box, gains, strong)."""
    size = target.shape[0]
    strong = rng.random(n_images) < strong_fraction
    if not strong.any():
        strong[rng.integers(n_images)] = True
    inputs, targets, labels, params = [], [], [], []
    for i in range(n_images):
        h, w = (round(rng.uniform(*crop_range) * size) for _ in range(2))
        h, w = max(8, min(h, size)), max(8, min(w, size))
        y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
        clean = target[y:y + h, x:x + w].astype(np.float32) / np.float32(255.0)
        gains = cast_gains(rng, bool(strong[i]))
        cast = linear_to_srgb_np(srgb_to_linear_np(clean) * gains)
        inputs.append(np.round(cast * 255.0).astype(np.float32) / np.float32(255.0))  # 8-bit, as a file would be
        targets.append(clean)
        labels.append(seg[y:y + h, x:x + w].astype(np.int64))
        params.append({"box": [y, x, h, w], "gains": [round(float(v), 4) for v in gains], "strong": bool(strong[i])})
    return {"inputs": inputs, "targets": targets, "labels": labels, "params": params}


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


class EmbeddedGroups(Dataset):
    """Groups cut from the scenes of one split (module docstring); made on the fly, deterministic."""

    def __init__(self, targets: np.ndarray, seg: np.ndarray, n_images: int, seed: int, split: str,
                 strong_fraction: float = 1 / 3) -> None:
        self.targets, self.seg, self.n_images = targets, seg, n_images
        self.seed, self.split, self.strong_fraction = seed, split, strong_fraction

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, SPLITS.index(self.split), index, 12]))
        g = make_group(self.targets[index], self.seg[index], self.n_images, rng, self.strong_fraction)
        names = [f"scene{index:03d}_crop{i}.png" for i in range(self.n_images)]
        return {"images": [_chw(x) for x in g["inputs"]], "targets": [_chw(x) for x in g["targets"]],
                "saliency": [None] * self.n_images, "labels": [torch.from_numpy(x) for x in g["labels"]],
                "names": names, "paths": None, "group": f"scene{index:03d}", "params": json.dumps(g["params"])}


@DATASETS.register("embedded_groups")
class EmbeddedGroupsDataModule(GroupDataModule):
    """Embedded image groups with ground truth (module docstring): one group per scene of a split.

    Args:
        root: data root of the embedded scenes (None: ``$SEMCOLOR_DATA`` or ``./data``).
        scene_size: side of the scenes the crops are cut from.
        train_scenes, val_scenes, test_scenes: groups per split (one per scene; the method is training-free,
            so only ``test`` (``make eval``) and ``val`` are used; the counts are part of the scenes' cache key).
        batch_size: images per group (a batch is one group).
        strong_fraction: probability that an image gets a strong cast.
        seed: scene and cast seed.
        num_workers: DataLoader workers.
    """

    num_classes = len(CLASSES)
    ignore_index = 0
    class_names = CLASSES

    def __init__(self, root: str | None = None, scene_size: int = 512, train_scenes: int = 16, val_scenes: int = 4,
                 test_scenes: int = 8, batch_size: int = 6, strong_fraction: float = 1 / 3, seed: int = 0,
                 num_workers: int = 0) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if batch_size < 2:
            raise SemcolorError(f"a group needs two or more images to harmonise; batch_size (images per group) is {batch_size}")
        if scene_size < 32:
            raise SemcolorError(f"scene_size must be at least 32 px, got {scene_size}")
        self.root, self.scene_size, self.seed, self.strong_fraction = root, scene_size, seed, strong_fraction
        self.counts = {"train": train_scenes, "val": val_scenes, "test": test_scenes}
        if any(n < 1 for n in self.counts.values()):
            raise SemcolorError(f"every split needs at least one scene, got {self.counts}")

    def prepare_data(self) -> None:
        for split in ("val", "test"):
            embedded.ensure_split(self.root, split, self.scene_size, self.counts, self.seed)

    def build_dataset(self, split: str) -> EmbeddedGroups:
        arrays = embedded.load_split(self.root, split, ("target", "seg"), self.scene_size, self.counts, self.seed)
        return EmbeddedGroups(arrays["target"], arrays["seg"], self.batch_size, self.seed, split, self.strong_fraction)

    @property
    def cache_dir(self) -> Path:
        return embedded.cache_dir(self.root, self.scene_size, self.counts, self.seed)
