"""Two-process DDP on CPU (ddp_spawn + gloo) through the CLI: trains, validates, checkpoints once."""

from __future__ import annotations

import sys

import pytest
import torch

from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED


@pytest.mark.skipif(sys.platform != "linux", reason="gloo DDP test written for Linux")
def test_ddp_spawn_two_processes(tmp_path, capsys, monkeypatch):
    """Also what a W&B sweep agent does: a flat ``--key=value`` override reaches the model and optimiser,
    and the ranks log to exactly one (offline) W&B run."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    code, _, err = run_cli([
        "fit", "--method", "unet",
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp_spawn",
        "--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
        "--trainer.enable_progress_bar=false", "--model.init_args.lr=0.000123",  # as a sweep agent passes it
        "--model.init_args.decoder_channels=[32,16,16,8,8]", *TINY_EMBEDDED,
        "--data.init_args.scene_size=256",  # 32 tiles: 16 per rank, 4 batches of 4 each
    ], capsys)
    assert code == 0, err
    runs = list((tmp_path / "ckpts" / "unet").iterdir())
    assert len(runs) == 1  # both ranks wrote into one run folder
    ckpt = torch.load(runs[0] / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 2
    state = next(v for k, v in ckpt["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert state["best_model_score"] is not None and torch.isfinite(state["best_model_score"])  # validated
    assert ckpt["hyper_parameters"]["lr"] == 0.000123
    assert ckpt["optimizer_states"][0]["param_groups"][0]["lr"] == 0.000123  # the optimiser used it
    wandb_runs = list((runs[0] / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 1, wandb_runs  # one W&B run, not one per rank
