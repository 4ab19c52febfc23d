"""Faults injected into a real ``semcolor`` subprocess (the fault tests load this through the CLI:
``--trainer.callbacks+=tests.fault_injection.KillAt --trainer.callbacks.init_args.at=write``).

Every kill is ``SIGKILL`` of the process itself: no ``finally``, no atexit, no flush, exactly what
``kill -9`` or the kernel's OOM killer does. The points:

* ``step``: after training batch ``step`` (global step) of the run;
* ``predict``: after predict batch ``step`` (a whole-scene predict part-way through the scene);
* ``write``: half-way through writing the bytes of ``last.ckpt`` save number ``save`` (0-based: a partial
  file on disk);
* ``rename``: after that save wrote and fsynced all its bytes, before it renames them into place.

:class:`NaNLossUNet` is the ``unet`` method whose loss becomes NaN from a given step on (what a diverging
run produces), for the NaN-stop test.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytorch_lightning as pl
import torch

from semcolor.lightning_modules.unet import UNetModule


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAt(pl.Callback):
    """SIGKILL this process at ``at`` (``"step"``, ``"predict"``, ``"write"`` or ``"rename"``; see the module
    docstring). It lists after the scene writer in a predict run, so the batch it kills after is written."""

    def __init__(self, at: str = "step", step: int = 0, save: int = 1) -> None:
        if at not in ("step", "write", "rename", "predict"):
            raise ValueError(f"at must be step, write, rename or predict, got {at!r}")
        self.at, self.step, self.save = at, step, save
        self.saves = 0
        if at in ("write", "rename"):
            self._patch_saves()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if self.at == "step" and trainer.global_step >= self.step:
            _die()

    def on_predict_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:
        if self.at == "predict" and batch_idx >= self.step:
            _die()

    def _patch_saves(self) -> None:
        real_save, real_replace = torch.save, os.replace
        killer = self

        def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
            if killer.at == "write" and killer.saves == killer.save and "last.ckpt" in str(getattr(f, "name", "")):
                import io

                buf = io.BytesIO()
                real_save(obj, buf, *args, **kwargs)
                data = buf.getvalue()
                f.write(data[: len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
                _die()
            real_save(obj, f, *args, **kwargs)

        def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if str(dst).endswith("last.ckpt"):
                if killer.at == "rename" and killer.saves == killer.save:
                    _die()
                killer.saves += 1
            real_replace(src, dst, *args, **kwargs)

        torch.save = save  # type: ignore[assignment]
        os.replace = replace  # type: ignore[assignment]


class NaNLossUNet(UNetModule):
    """``unet`` whose training loss is NaN from global step ``nan_from`` on."""

    def __init__(self, *args: Any, nan_from: int = 3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nan_from = nan_from

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        loss = super().training_step(batch, batch_idx)
        if self.global_step >= self.nan_from:
            loss = loss * float("nan")
        return loss
