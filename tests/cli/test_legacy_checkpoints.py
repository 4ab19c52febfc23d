"""Checkpoints written by earlier versions of the suite keep working.

``tests/data/legacy/s2color_before_restructure.ckpt`` was written by ``semcolor fit --method s2color``
(base_channels 4, depth 3, lambda_f 0; 2 steps) *before* the package restructure, when the class lived at
``semcolor.lightning_modules.s2color.S2ColorModule``; its ``config.yaml`` lies beside it. These tests load it through the
CLI (``test`` and a resumed ``fit``) and through the LightningModule class.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED

LEGACY = Path(__file__).parents[1] / "data" / "legacy" / "s2color_before_restructure.ckpt"
TINY = [*TINY_EMBEDDED, "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1", "--trainer.enable_progress_bar=false",
        "--model.init_args.mosaic_check=false"]


def test_legacy_checkpoint_is_tested_through_the_cli(tmp_path, capsys):
    code, _, err = run_cli(["test", "--method", "s2color", *TINY, "--ckpt_path", str(LEGACY)], capsys)
    assert code == 0, err
    (metrics,) = (tmp_path / "ckpts" / "s2color").glob("*/test_metrics.json")
    assert "test_psnr" in json.loads(metrics.read_text())["metrics"]


def test_legacy_checkpoint_resumes_training(tmp_path, capsys):
    code, _, err = run_cli(["fit", "--method", "s2color", *TINY, "--trainer.max_epochs=2",
                            "--ckpt_path", str(LEGACY)], capsys)
    assert code == 0, err
    (last,) = (tmp_path / "ckpts" / "s2color").glob("*/last.ckpt")
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 4 and ckpt["epoch"] == 1  # continued from step 2
    assert ckpt["hyper_parameters"]["base_channels"] == 4  # the architecture came from the checkpoint


def test_legacy_checkpoint_loads_into_the_class():
    from semcolor.lightning_modules.s2color import S2ColorModule

    model = S2ColorModule.load_from_checkpoint(LEGACY, map_location="cpu", weights_only=True)
    saved = torch.load(LEGACY, map_location="cpu", weights_only=True)["state_dict"]
    assert model.hparams.base_channels == 4
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, saved[name]), name
