"""How far a training run is, for schedules that depend on the run's planned length.

A run is bounded by steps / epochs (``trainer.estimated_stepping_batches`` is finite) or only by a time budget
(``max_time`` with ``max_epochs=-1``, as the leaderboard runs every method). The poly learning rate of the
segmentation methods and WiCoNet's auxiliary-loss weight decay over the run; under a time budget they decay
over the budget instead (``t`` = time spent / budget), so a time-bounded run ends its schedule where a
step-bounded one does.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def _timer(trainer: Any) -> Any:
    from pytorch_lightning.callbacks import Timer

    return next((c for c in getattr(trainer, "callbacks", []) if isinstance(c, Timer)), None)


def planned_steps(trainer: Any) -> int | None:
    """Optimizer steps the run plans (None when only a time budget bounds it)."""
    total = trainer.estimated_stepping_batches
    return None if not total or not math.isfinite(total) else max(1, int(total))


def training_progress(trainer: Any) -> float:
    """``t`` in [0, 1]: steps done / planned, or training time spent / ``max_time`` (0 when neither is known)."""
    if trainer is None:
        return 0.0
    total = planned_steps(trainer)
    if total is not None:
        return min(1.0, trainer.global_step / float(total))
    timer = _timer(trainer)
    duration = getattr(timer, "_duration", None) if timer is not None else None  # Lightning keeps the limit there
    if not duration:
        return 0.0
    return min(1.0, float(timer.time_elapsed("train")) / float(duration))


def poly_scheduler(optimizer: torch.optim.Optimizer, trainer: Any, power: float) -> Any:
    """``lr = lr0 (1 - t) ** power`` per step: torch's ``PolynomialLR`` over the planned steps, or over the time
    budget when no step count is planned (then ``t`` is :func:`training_progress`)."""
    total = planned_steps(trainer)
    if total is not None:
        return torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=total, power=power)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: (1.0 - training_progress(trainer)) ** power)
