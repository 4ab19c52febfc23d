"""Callbacks every run gets: a metrics table on the console, and sample grids saved as PNG.

Both stay out of the methods' code: a method only says which images make its grid
(``SemcolorModule.sample_panels``) and which metrics it logs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only
from torch import Tensor


def _scalar(value: Any) -> float | None:
    if isinstance(value, Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


def metric_rows(metrics: dict[str, Any], stage: str) -> list[tuple[str, float, float | None]]:
    """``(name, model value, identity value)`` for every ``<stage>_<name>`` metric logged.

    Losses are left out; the identity column is the same metric on the input (``<stage>_identity_``).
    """
    rows = []
    prefix, ident = f"{stage}_", f"{stage}_identity_"
    for key in sorted(metrics):
        if not key.startswith(prefix) or key.startswith(ident) or "loss" in key:
            continue
        value = _scalar(metrics[key])
        if value is None:
            continue
        name = key[len(prefix):]
        rows.append((name, value, _scalar(metrics.get(ident + name))))
    return rows


class MetricsTable(pl.Callback):
    """Prints validation/test metrics beside the identity baseline (input scored as the output)."""

    def __init__(self, run_dir: str | Path | None = None) -> None:
        self.last_val: list[tuple[str, float, float | None]] = []
        self.run_dir = run_dir

    @staticmethod
    def _print(title: str, rows: list[tuple[str, float, float | None]]) -> None:
        if not rows:
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for col in ("metric", "model", "identity (input)", "model - identity"):
            table.add_column(col, justify="right" if col != "metric" else "left")
        for name, value, base in rows:
            diff = "" if base is None or math.isnan(base) else f"{value - base:+.4f}"
            table.add_row(name, f"{value:.4f}", "" if base is None else f"{base:.4f}", diff)
        Console().print(table)

    @rank_zero_only
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # on_validation_end, not ..._epoch_end: callbacks' epoch-end hooks run before the module's,
        # so metrics a module logs in its own on_validation_epoch_end would show one epoch late.
        if trainer.sanity_checking:
            return
        self.last_val = metric_rows(trainer.callback_metrics, "val")
        self._print(f"validation, epoch {trainer.current_epoch}", self.last_val)

    @rank_zero_only
    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._print("test", metric_rows(trainer.callback_metrics, "test"))
        # every method's test scalars go to <run folder>/test_metrics.json for the results tables
        from semcolor.run_files import write_test_metrics

        write_test_metrics(trainer, self.run_dir)

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        ckpt = trainer.checkpoint_callback
        if ckpt is not None and getattr(ckpt, "dirpath", None) and not trainer.fast_dev_run:
            print(f"checkpoints: {ckpt.dirpath} (best: {Path(ckpt.best_model_path).name or 'none'})")


class SampleGrid(pl.Callback):
    """Saves the first validation/test batch as a grid (one row per sample, e.g. input | output | target).

    PNGs go to ``<folder>/epoch_XXX.png`` (and ``test.png``); W&B loggers also receive the image.

    Args:
        folder: where PNGs are written (the run folder's ``samples/``).
        max_samples: rows in a grid.
    """

    def __init__(self, folder: str | Path, max_samples: int = 4) -> None:
        self.folder = Path(folder)
        self.max_samples = max_samples

    def _save(self, trainer: pl.Trainer, pl_module: Any, batch: Any, outputs: Any, name: str) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run or not isinstance(outputs, dict):
            return
        panels = pl_module.sample_panels(batch, outputs["output"])
        if not panels:
            return
        from torchvision.utils import make_grid, save_image

        n = min(self.max_samples, panels[0].shape[0])
        rows = torch.stack([p[:n].detach().float().cpu().clamp(0, 1) for p in panels], dim=1)
        grid = make_grid(rows.flatten(0, 1), nrow=len(panels), padding=2, pad_value=1.0)
        self.folder.mkdir(parents=True, exist_ok=True)
        save_image(grid, self.folder / f"{name}.png")
        from pytorch_lightning.loggers import WandbLogger

        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="samples", images=[grid], caption=[name])

    @rank_zero_only
    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        if batch_idx == 0 and dataloader_idx == 0:
            self._save(trainer, pl_module, batch, outputs, f"epoch_{trainer.current_epoch:03d}")

    @rank_zero_only
    def on_test_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        if batch_idx == 0 and dataloader_idx == 0:
            self._save(trainer, pl_module, batch, outputs, "test")
