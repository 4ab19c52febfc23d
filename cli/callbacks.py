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


#: column names of a grid whose method gives none, by position
DEFAULT_PANEL_NAMES = ("input", "output", "target")


def panel_names(panels: list[Tensor] | dict[str, Tensor]) -> tuple[list[str], list[Tensor]]:
    """Column names and images of what ``sample_panels`` returned: a dict's keys, or for a list
    :data:`DEFAULT_PANEL_NAMES` by position (``panel 4``, ``panel 5`` ... after them)."""
    if isinstance(panels, dict):
        return [str(k) for k in panels], list(panels.values())
    names = [DEFAULT_PANEL_NAMES[i] if i < len(DEFAULT_PANEL_NAMES) else f"panel {i + 1}" for i in range(len(panels))]
    return names, list(panels)


def labelled_grid(names: list[str], panels: list[Tensor], min_side: int = 192, padding: int = 4) -> Any:
    """One row per sample, one column per panel, under a header row naming the columns: an RGB
    :class:`PIL.Image.Image`. Panels are ``(N, 3, H, W)`` in [0, 1]; tiles smaller than ``min_side`` are
    enlarged by an integer factor with nearest-neighbour sampling (pixels stay visible, nothing is
    interpolated), so that 64 px tiles are judged at 192 px."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = panels[0].shape[-2:]
    factor = max(1, math.ceil(min_side / max(h, w)))
    rows = torch.stack([p.detach().float().cpu().clamp(0, 1) for p in panels], dim=1)  # (N, P, 3, H, W)
    if factor > 1:
        rows = rows.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)  # nearest neighbour
    n, cols, _, th, tw = rows.shape
    grid = torch.ones(3, padding + n * (th + padding), padding + cols * (tw + padding))  # white gaps
    for r in range(n):
        for c in range(cols):
            y, x = padding + r * (th + padding), padding + c * (tw + padding)
            grid[:, y : y + th, x : x + tw] = rows[r, c]
    body = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    try:
        font = ImageFont.load_default(size=16)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    header = 28
    image = Image.new("RGB", (body.width, body.height + header), "white")
    image.paste(body, (0, header))
    draw = ImageDraw.Draw(image)
    for i, name in enumerate(names):
        left, _, right, bottom = draw.textbbox((0, 0), name, font=font)
        x0 = padding + i * (tw + padding)
        draw.text((max(x0 + (tw - (right - left)) // 2, x0), (header - bottom) // 2 + 2), name, fill="black",
                  font=font)
    return image


class SampleGrid(pl.Callback):
    """Saves validation/test samples as a labelled grid: a header row naming the columns (e.g.
    input | output | target, from the method's ``sample_panels``), then one row per sample.

    Samples come from the first batches of the epoch's first dataloader until ``max_samples`` rows are
    collected; tiles smaller than ``min_side`` are enlarged (nearest neighbour, integer factor). PNGs go
    to ``<folder>/epoch_<epoch, three digits>.png`` (``epoch_007.png``) and ``test.png``; W&B loggers also receive the image.

    Args:
        folder: where PNGs are written (the run folder's ``samples/``).
        max_samples: rows in a grid (fewer when the split is smaller).
        min_side: tiles are enlarged until their longer side is at least this many pixels.
    """

    def __init__(self, folder: str | Path, max_samples: int = 8, min_side: int = 192) -> None:
        self.folder = Path(folder)
        self.max_samples, self.min_side = max_samples, min_side
        self._names: list[str] = []
        self._rows: list[list[Tensor]] = []  # per batch: its panels (cpu), up to max_samples rows in all

    def _collect(self, trainer: pl.Trainer, pl_module: Any, batch: Any, outputs: Any, batch_idx: int,
                 dataloader_idx: int) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run or dataloader_idx != 0 or not isinstance(outputs, dict):
            return
        if batch_idx == 0:
            self._names, self._rows = [], []
        have = sum(p[0].shape[0] for p in self._rows)
        if have >= self.max_samples:
            return
        panels = pl_module.sample_panels(batch, outputs["output"])
        if not panels:
            return
        names, images = panel_names(panels)
        if self._rows and (names != self._names or images[0].shape[1:] != self._rows[0][0].shape[1:]):
            return  # another layout or tile size than the first batch's: the grid stays as it is
        n = min(self.max_samples - have, images[0].shape[0])
        self._names = names
        self._rows.append([p[:n].detach().float().cpu() for p in images])

    def _save(self, trainer: pl.Trainer, name: str) -> None:
        if not self._rows:
            return
        panels = [torch.cat([rows[i] for rows in self._rows]) for i in range(len(self._names))]
        image = labelled_grid(self._names, panels, self.min_side)
        self._rows = []
        self.folder.mkdir(parents=True, exist_ok=True)
        image.save(self.folder / f"{name}.png")
        from pytorch_lightning.loggers import WandbLogger

        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="samples", images=[image], caption=[f"{name}: {' | '.join(self._names)}"])

    @rank_zero_only
    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        self._collect(trainer, pl_module, batch, outputs, batch_idx, dataloader_idx)

    @rank_zero_only
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self._save(trainer, f"epoch_{trainer.current_epoch:03d}")

    @rank_zero_only
    def on_test_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        self._collect(trainer, pl_module, batch, outputs, batch_idx, dataloader_idx)

    @rank_zero_only
    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._save(trainer, "test")


class RandomState(pl.Callback):
    """Saves the random generators' states (torch, CUDA, numpy's global, Python's) in every checkpoint
    and restores them on resume, so that a run resumed with ``--ckpt_path`` draws the same shuffling,
    augmentation (which draws from torch, ``datamodules/transforms.py``) and dropout as the uninterrupted
    run: same machine and versions, ``num_workers=0``, same final metrics (tests/faults). Lightning saves
    model, optimiser, scheduler and loop state but no generator state.

    States are stored as tensors and lists of ints so that checkpoints stay readable with
    ``weights_only=True``.
    """

    def state_dict(self) -> dict[str, Any]:
        import random

        import numpy as np

        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        version, py_state, py_gauss = random.getstate()
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "python": {"version": int(version), "state": list(py_state), "gauss": py_gauss},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import random

        import numpy as np

        torch.set_rng_state(state["torch"])
        if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
        n = state["numpy"]
        np.random.set_state((n["kind"], n["keys"].numpy().astype("uint32"), n["pos"], n["has_gauss"], n["gauss"]))
        p = state["python"]
        random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


class StopOnNonFiniteLoss(pl.Callback):
    """Stops training at the first NaN / infinite loss, before its backward pass (so the weights it
    would spoil are never updated), with one line naming the step. Nothing is saved after it: the last
    checkpoint on disk is the last good one, and the message names it."""

    def __init__(self) -> None:
        self.batch_idx = -1

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self.batch_idx = batch_idx

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Tensor) -> None:
        if bool(torch.isfinite(loss.detach()).all()):
            return
        from semcolor.errors import SemcolorError

        written = [Path(p) for cb in trainer.checkpoint_callbacks
                   for p in (getattr(cb, "last_model_path", ""), getattr(cb, "best_model_path", "")) if p]
        written = [p for p in written if p.is_file()]
        ckpt = str(max(written, key=lambda p: p.stat().st_mtime)) if written else ""
        kept = f"the last good checkpoint is '{ckpt}'" if ckpt else "no checkpoint had been written yet"
        raise SemcolorError(
            f"training loss is {float(loss.detach().float().mean()):g} at step {trainer.global_step} (epoch "
            f"{trainer.current_epoch}, batch {self.batch_idx}); training stopped before that step's update, "
            f"{kept} (resume from it with a lower learning rate, or check the data)")
