"""Burst super-resolution data shared by the DTD and generated-texture DataModules (Xue 2025 (thesis), Sec. 5.5.1).

A :class:`BurstDataset` turns a list of images into bursts with :func:`semcolor.datamodules.bursts.synthesize_burst`.
Samples: ``input`` ``(3n, h, w)`` (the n LR frames concatenated, frame 1 first), ``target`` ``(3, 128, 128)``,
``shifts`` ``(n, 2)`` HR px, ``name``, ``label``.

Seeding: every burst is drawn from a generator seeded by ``(seed, split, epoch, index)``. Validation and test
bursts are fixed (epoch 0); training bursts are drawn anew each epoch (``resample_train``) through
:class:`EpochSampler`, whose ``set_epoch`` Lightning calls at every epoch start, so a run is reproducible
whatever the number of loader workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from semcolor.datamodules.base import SPLITS, SemcolorDataModule
from semcolor.datamodules.bursts import BurstSettings, PoissonMode, ShakeKind, ShakeUnits, frames_to_channels, \
    sample_generator, synthesize_burst
from semcolor.errors import SemcolorError

__all__ = ["BurstDataModule", "BurstDataset", "EpochSampler"]

#: (image as uint8 (H, W, 3), name, label) of one source image
ImageLoader = Callable[[int], tuple[np.ndarray, str, int]]


class BurstDataset(Dataset):
    """Bursts of ``count`` source images; an index is an int (epoch 0) or ``(epoch, index)``.

    Args:
        load: ``load(i) -> (uint8 (H, W, 3), name, label)``.
        count: number of source images.
        settings: the degradation (:class:`BurstSettings`).
        seed, split: with the epoch and the index, the seed of each burst.
    """

    def __init__(self, load: ImageLoader, count: int, settings: BurstSettings, seed: int = 0,
                 split: str = "train") -> None:
        self.load, self.count, self.settings = load, count, settings
        self.seed, self.split_id = int(seed), SPLITS.index(split)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        if not 0 <= index < self.count:
            raise IndexError(index)
        image, name, label = self.load(index)
        burst = synthesize_burst(image, self.settings, sample_generator(self.seed, self.split_id, epoch, index), name)
        return {"input": frames_to_channels(burst["frames"]), "target": burst["target"], "shifts": burst["shifts"],
                "name": name, "label": label}


class EpochSampler(Sampler):
    """Yields ``(epoch, index)``: a permutation seeded by ``(seed, epoch)`` (or in order without ``shuffle``)."""

    def __init__(self, count: int, seed: int = 0, shuffle: bool = True, resample: bool = True) -> None:
        self.count, self.seed, self.shuffle, self.resample = count, int(seed), shuffle, resample
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = (torch.randperm(self.count, generator=sample_generator(self.seed, 99, self.epoch)).tolist()
                 if self.shuffle else range(self.count))
        tag = self.epoch if self.resample else 0
        return iter([(tag, int(i)) for i in order])


class BurstDataModule(SemcolorDataModule):
    """Base of the burst DataModules: the degradation of Table 5.1 and the loaders.

    Subclasses implement :meth:`image_source` (``(load, count)`` of a split).

    Args:
        num_frames: burst length; ``None`` takes the ``num_frames`` of the model this DataModule feeds
            (so one value in a config, or one sweep key, sets both).
        crop_size, scale, sigma_g, lambda_p, sigma_s, shake_units, shake, drift, poisson_mode, quantize: the
            degradation, see :class:`semcolor.datamodules.bursts.BurstSettings` (Table 5.1 levels).
        seed: seed of every burst (with split, epoch and index).
        resample_train: draw new training bursts every epoch (True) or keep epoch 0's.
        batch_size: 16 (Sec. 5.5.1); num_workers, eval_batch_size, pin_memory: :class:`SemcolorDataModule`.
    """

    def __init__(
        self,
        num_frames: int | None = None,
        crop_size: int = 128,
        scale: int = 4,
        sigma_g: float = 10.0,
        lambda_p: float = 1.0,
        sigma_s: float = 0.0,
        shake_units: ShakeUnits = "lr",
        shake: ShakeKind = "random",
        drift: float | None = None,
        poisson_mode: PoissonMode = "scale",
        quantize: bool = False,
        seed: int = 0,
        resample_train: bool = True,
        batch_size: int = 16,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, eval_batch_size=eval_batch_size,
                         pin_memory=pin_memory)
        self.degradation = dict(crop_size=crop_size, scale=scale, sigma_g=sigma_g, lambda_p=lambda_p,
                                sigma_s=sigma_s, shake_units=shake_units, shake=shake, drift=drift,
                                poisson_mode=poisson_mode, quantize=quantize)
        self.num_frames = num_frames
        BurstSettings(num_frames=1 if num_frames is None else num_frames, **self.degradation)  # refuse bad values now, in one line
        self.seed, self.resample_train = seed, resample_train

    # -- to implement ---------------------------------------------------------------------------------
    def image_source(self, split: str) -> tuple[ImageLoader, int]:
        raise NotImplementedError(f"{type(self).__name__} must implement image_source(split)")

    # -- settings -------------------------------------------------------------------------------------
    def burst_length(self) -> int:
        """``num_frames``, or the model's when it is None."""
        if self.num_frames is not None:
            return int(self.num_frames)
        model = getattr(getattr(self, "trainer", None), "lightning_module", None)
        n = getattr(model, "num_frames", None)
        if n is None:
            raise SemcolorError(f"{type(self).__name__}: num_frames is None and no model gives it; set "
                                "data.init_args.num_frames")
        return int(n)

    @property
    def settings(self) -> BurstSettings:
        return BurstSettings(num_frames=self.burst_length(), **self.degradation)

    def build_dataset(self, split: str) -> BurstDataset:
        load, count = self.image_source(split)
        if count < 1:
            raise SemcolorError(f"{type(self).__name__}: the {split} split has no images")
        return BurstDataset(load, count, self.settings, self.seed, split)

    def train_dataloader(self) -> DataLoader:
        if "train" not in self.datasets:
            self.datasets["train"] = self.build_dataset("train")
        ds = self.datasets["train"]
        return DataLoader(ds, batch_size=self.batch_size, num_workers=self.num_workers,
                          sampler=EpochSampler(len(ds), self.seed, shuffle=True, resample=self.resample_train),
                          drop_last=len(ds) > self.batch_size, pin_memory=self.pin_memory and torch.cuda.is_available(),
                          persistent_workers=self.num_workers > 0)
