"""What every run used to print and no longer does (cli/quiet.py), and CLI errors printed once."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from semcolor.cli.quiet import ModelSummary, WandbLogger, silence_library_notices

ROOT = Path(__file__).resolve().parents[2]


def test_lightning_notices_are_dropped_and_other_records_kept(caplog):
    silence_library_notices()
    silence_library_notices()  # idempotent: one filter
    log = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    assert sum(type(f).__name__ == "_DropNotices" for f in log.filters) == 1
    with caplog.at_level(logging.INFO, logger="pytorch_lightning.utilities.rank_zero"):
        log.info("💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger](...)")
        log.info("Trainer already configured with model summary callbacks: [<class 'x'>].")
        log.info("GPU available: False, used: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]


def test_pytree_deprecation_of_lightning_only_is_ignored():
    from pytorch_lightning.utilities._pytree import _tree_flatten

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        silence_library_notices()
        _tree_flatten(1)  # Lightning builds a LeafSpec: torch's FutureWarning, attributed to Lightning
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning)  # from elsewhere: shown
    assert [str(w.message) for w in seen] == ["`isinstance(treespec, LeafSpec)` is deprecated"]


def test_wandb_logger_leaves_out_anonymous_none(tmp_path):
    assert "anonymous" not in WandbLogger(save_dir=str(tmp_path), offline=True)._wandb_init
    assert WandbLogger(save_dir=str(tmp_path), offline=True, anonymous=True)._wandb_init["anonymous"] == "allow"


def test_model_summary_without_flops_when_none_were_counted(capsys):
    data = [(" ", ["0"]), ("Name", ["network"]), ("Type", ["Unet"]), ("Params", ["14.3 M"]), ("Mode", ["train"]),
            ("FLOPs", ["0"])]
    ModelSummary.summarize(data, 14_300_000, 14_300_000, 57.3, {"train": 161, "eval": 0}, 0)
    out = capsys.readouterr().out
    assert "network" in out and "14.3 M" in out and "Modules in eval mode" in out and "FLOPs" not in out
    ModelSummary.summarize(data, 14_300_000, 14_300_000, 57.3, {"train": 161, "eval": 0}, 2_000_000)
    assert "Total FLOPs" in capsys.readouterr().out  # counted FLOPs are still shown


def _console(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """The ``semcolor`` console script (as ``make`` runs the CLI), stdout and stderr apart."""
    script = Path(sys.executable).with_name("semcolor")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "semcolor"]
    env = {**os.environ, "SEMCOLOR_CKPTS": str(tmp_path / "ckpts"), "WANDB_MODE": "disabled"}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


@pytest.mark.parametrize("args", [["fit", "--method", "nosuch"], ["fit", "--method", "unet", "--model.init_args.lrr=1"]],
                         ids=["unknown-method", "misspelt-option"])
def test_each_cli_error_line_is_printed_once(tmp_path, args):
    """An error is one line on stderr, printed once in the whole output (stdout and stderr), exit code 2."""
    proc = _console(args, tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    assert len(errors) == 1 and errors[0].startswith("semcolor: error: "), lines
    assert lines.count(errors[0]) == 1 and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_run_prints_none_of_the_library_notices(tmp_path):
    """A short fit with the W&B logger (offline) and Lightning's model summary: none of the four notices."""
    from tests.conftest import TINY_EMBEDDED

    env_args = ["fit", "--method", "unet", "--trainer.max_epochs=1", "--trainer.limit_train_batches=1",
                "--trainer.limit_val_batches=1", *TINY_EMBEDDED, "--model.init_args.decoder_channels=[32,16,16,8,8]"]
    script = Path(sys.executable).with_name("semcolor")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "semcolor"]
    env = {**os.environ, "SEMCOLOR_CKPTS": str(tmp_path / "ckpts"), "WANDB_MODE": "offline",
           "SEMCOLOR_DATA": str(tmp_path / "data")}
    proc = subprocess.run([*cmd, *env_args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Total params" in out and list((tmp_path / "ckpts" / "unet").glob("*/wandb"))  # summary and W&B ran
    for notice in ("litlogger", "anonymous setting", "LeafSpec", "FLOPs", "already configured with model summary"):
        assert notice not in out, notice
