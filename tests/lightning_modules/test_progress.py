"""Schedules over a run bounded by steps or only by a time budget (max_time, the leaderboard's runs)."""

from __future__ import annotations

import types

import pytest
import torch
from pytorch_lightning.callbacks import Timer

from semcolor.lightning_modules.progress import poly_scheduler, training_progress


def _trainer(total, step=0, elapsed=None, duration=100):
    timer = Timer(duration={"seconds": duration})
    if elapsed is not None:
        timer.time_elapsed = lambda stage=None: elapsed
    return types.SimpleNamespace(estimated_stepping_batches=total, global_step=step, callbacks=[timer])


def test_progress_by_steps_or_by_time():
    assert training_progress(_trainer(200, step=50)) == 0.25
    assert training_progress(_trainer(float("inf"), elapsed=30.0)) == pytest.approx(0.3)
    assert training_progress(_trainer(float("inf"), elapsed=300.0)) == 1.0
    assert training_progress(None) == 0.0


def test_poly_schedule_follows_the_time_budget_when_no_step_count_is_planned():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    trainer = _trainer(float("inf"), elapsed=0.0)
    sched = poly_scheduler(opt, trainer, power=0.9)
    assert isinstance(sched, torch.optim.lr_scheduler.LambdaLR) and opt.param_groups[0]["lr"] == 1.0
    trainer.callbacks[0].time_elapsed = lambda stage=None: 75.0
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.25**0.9)


def test_poly_schedule_is_torchs_polynomial_lr_over_planned_steps():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = poly_scheduler(opt, _trainer(10), power=2.0)
    assert isinstance(sched, torch.optim.lr_scheduler.PolynomialLR) and sched.total_iters == 10
