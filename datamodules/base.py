"""The one DataModule shape every dataset shares.

A subclass says how to build the Dataset of a split (``build_dataset``); this base holds the loader
settings and makes the loaders, so batch size, workers and pinning are configured the same way for
every dataset (and appear once in every config as ``data.init_args.batch_size`` etc.).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

SPLITS = ("train", "val", "test")


class SemcolorDataModule(pl.LightningDataModule):
    """Base DataModule: ``build_dataset(split)`` in subclasses, loaders here.

    Args:
        batch_size: samples per batch for training (evaluation uses ``eval_batch_size`` or the same).
        num_workers: DataLoader worker processes (0 loads in the main process; DDP tests need 0).
        eval_batch_size: batch size for val/test/predict; ``None`` means ``batch_size``.
        pin_memory: pin host memory when a GPU is used.
    """

    #: number of classes of the ``seg`` maps this data provides (``None`` when there are none)
    num_classes: int | None = None
    #: class index ignored by losses and metrics (``None`` when none)
    ignore_index: int | None = None

    def __init__(
        self,
        batch_size: int = 16,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.eval_batch_size = eval_batch_size or batch_size
        self.pin_memory = pin_memory
        self.datasets: dict[str, Dataset] = {}

    # -- to implement ---------------------------------------------------------------------------
    def build_dataset(self, split: str) -> Dataset:
        """Return the Dataset of ``split`` (one of ``train``, ``val``, ``test``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_dataset(split)")

    # -- Lightning hooks ------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in wanted.get(stage or "fit", SPLITS):
            if split not in self.datasets:
                self.datasets[split] = self.build_dataset(split)

    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self.datasets:
            self.datasets[split] = self.build_dataset(split)
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            drop_last=train and len(self.datasets[split]) > self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def smallest_batch(self, split: str = "train") -> tuple[int, int]:
        """``(samples in split, samples in its smallest batch)`` as :meth:`_loader` batches it."""
        n = len(self.datasets[split]) if split in self.datasets else len(self.build_dataset(split))  # type: ignore[arg-type]
        train = split == "train"
        size = self.batch_size if train else self.eval_batch_size
        drop_last = train and n > size
        return n, (size if drop_last or n % size == 0 else n % size) if n >= size else n

    def split_description(self, split: str = "train") -> str:
        """``"the train split of CityscapesDataModule ('root') has 1 sample (batch_size=8)"``, for errors."""
        n, _ = self.smallest_batch(split)
        root = getattr(self, "root", None)
        where = f" ('{root}')" if root is not None else ""
        size = self.batch_size if split == "train" else self.eval_batch_size
        return (f"the {split} split of {type(self).__name__}{where} has {n} sample{'s' if n != 1 else ''} "
                f"(batch_size={size})")

    def describe(self) -> dict[str, Any]:
        """Sizes of the built splits, for logs and the README."""
        return {split: len(ds) for split, ds in self.datasets.items()}  # type: ignore[arg-type]
