"""The `semcolor` CLI: names, errors, configs, run folders, resume, W&B sweeps."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from semcolor.cli.main import expand_names, experiments_dir
from semcolor.registry import METHODS
from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED

FIT_TINY = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
            "--trainer.logger=false", "--trainer.enable_progress_bar=false", "--trainer.callbacks=[]",
            *TINY_EMBEDDED, "--model.init_args.encoder_name=resnet18",
            "--model.init_args.decoder_channels=[32,16,16,8,8]"]


def test_unknown_method_lists_available(capsys):
    code, _, err = run_cli(["fit", "--method", "nosuch"], capsys)
    assert code == 2
    assert "unknown method 'nosuch'" in err
    for name in METHODS.available():
        assert name in err
    assert "Traceback" not in err


def test_missing_method_is_explained(capsys):
    code, _, err = run_cli(["fit", "--method", ""], capsys)
    assert code == 2 and "no METHOD" in err


def test_unknown_data_lists_available(capsys):
    code, _, err = run_cli(["fit", "--method", "unet", "--data", "nodata"], capsys)
    assert code == 2
    assert "unknown dataset 'nodata' for method 'unet'" in err and "embedded" in err


def test_unknown_config_key_fails(capsys):
    code, _, err = run_cli(["fit", "--method", "unet", "--model.init_args.no_such_key=1",
                            "--print_config"], capsys)
    assert code == 2
    assert "no_such_key" in err


def test_print_config_resolves_method_and_data(capsys):
    code, out, _ = run_cli(["fit", "--method", "unet", "--print_config"], capsys)
    assert code == 0
    cfg = yaml.safe_load(out)
    assert cfg["model"]["class_path"] == "semcolor.lightning_modules.unet.UNetModule"
    assert cfg["data"]["class_path"] == "semcolor.datamodules.embedded.EmbeddedDataModule"


def test_later_config_and_overrides_win():
    argv = expand_names(["fit", "--method", "unet", "--model.lr=0.5"])
    assert argv[0] == "fit" and argv[-1] == "--model.lr=0.5"
    configs = [argv[i + 1] for i, a in enumerate(argv) if a == "--config"]
    assert configs == [str(experiments_dir() / "trainer" / "default.yaml"),
                       str(experiments_dir() / "unet" / "embedded.yaml")]


def test_every_method_has_configs_matching_the_registry():
    for name in METHODS.available():
        configs = sorted((experiments_dir() / name).glob("*.yaml"))
        assert configs, f"no experiments/{name}/*.yaml"
        for cfg in configs:
            class_path = yaml.safe_load(cfg.read_text())["model"]["class_path"]
            cls = METHODS.get(name)
            assert class_path == f"{cls.__module__}.{cls.__qualname__}", cfg


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_fit_writes_run_folder_then_resume_continues(tmp_path, capsys):
    code, out, err = run_cli(["fit", "--method", "unet", *FIT_TINY], capsys)
    assert code == 0, err
    runs = list((tmp_path / "ckpts" / "unet").iterdir())
    assert len(runs) == 1
    first = runs[0]
    names = {p.name for p in first.iterdir()}
    assert {"last.ckpt", "config.yaml"} <= names
    assert any(n.startswith("best-epoch") for n in names)
    assert (first / "samples" / "epoch_000.png").is_file()
    assert "psnr" in out and "identity" in out  # the metrics table beside the identity baseline
    saved = yaml.safe_load((first / "config.yaml").read_text())
    assert saved["model"]["class_path"] == "semcolor.lightning_modules.unet.UNetModule"
    step = torch.load(first / "last.ckpt", map_location="cpu", weights_only=False)["global_step"]
    assert step == 2
    before = _digest(first)

    args = [a if a != "--trainer.max_epochs=1" else "--trainer.max_epochs=2" for a in FIT_TINY]
    code, _, err = run_cli(["fit", "--method", "unet", *args, "--ckpt_path", "last"], capsys)
    assert code == 0, err
    runs = sorted((tmp_path / "ckpts" / "unet").iterdir())
    assert len(runs) == 2
    resumed = next(r for r in runs if r != first)
    ckpt = torch.load(resumed / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4 and ckpt["epoch"] == 1  # continued, not restarted
    assert _digest(first) == before  # the earlier run is untouched


def test_resume_without_earlier_run_is_explained(capsys):
    code, _, err = run_cli(["fit", "--method", "unet", *FIT_TINY, "--ckpt_path", "last"], capsys)
    assert code == 2 and "no earlier run" in err


def test_checkpoint_of_another_method_is_refused(tmp_path, capsys):
    fake = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"_class_path": "somewhere.OtherMethod"}}, fake)
    code, _, err = run_cli(["test", "--method", "unet", *FIT_TINY[3:], "--ckpt_path", str(fake)], capsys)
    assert code == 2
    assert "somewhere.OtherMethod" in err and "UNetModule" in err


def test_checkpoint_that_is_not_one_is_refused(tmp_path, capsys):
    bad = tmp_path / "garbage.ckpt"
    bad.write_bytes(b"not a checkpoint")
    code, _, err = run_cli(["test", "--method", "unet", "--ckpt_path", str(bad)], capsys)
    assert code == 2 and str(bad) in err


def _sweep_args(path: Path) -> list[str]:
    sweep = yaml.safe_load(path.read_text())
    command = sweep["command"]
    assert "${args}" in command, f"{path}: command must pass ${{args}}"
    args = []
    for key, spec in sweep["parameters"].items():
        value = spec["values"][0] if "values" in spec else spec.get("min", spec.get("value"))
        value = str(value).lower() if isinstance(value, bool) else value
        args.append(f"--{key}={value}")
    rest = command[command.index("-m") + 2:]
    return [a for a in rest if a != "${args}"] + args


@pytest.mark.parametrize("sweep", sorted((Path(__file__).parents[2] / "experiments" / "sweeps").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_sweep_parameters_parse(sweep, capsys):
    code, _, err = run_cli([*_sweep_args(sweep), "--print_config"], capsys)
    assert code == 0, f"{sweep.name}: {err}"


def test_module_and_console_script_entry_points():
    exe = Path(sys.executable).parent
    for cmd in ([sys.executable, "-m", "semcolor", "--help"], [str(exe / "semcolor"), "--help"]):
        if not Path(cmd[0]).exists():
            pytest.skip("console script not installed (run make setup)")
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert "fit" in res.stdout and "predict" in res.stdout


def test_missing_data_root_is_one_clear_line(tmp_path, capsys):
    missing = tmp_path / "no" / "ZHCBI"
    code, _, err = run_cli(["fit", "--method", "unet", "--data", "zhcbi", f"--data.init_args.root={missing}",
                            "--trainer.fast_dev_run=true", "--trainer.logger=false"], capsys)
    assert code == 2
    assert str(missing) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("arg, expected", [
    ("--data.init_args.tile_size=-5", "tile_size must be in [1, scene_size=512], got -5"),  # our own check
    ("--model.init_args.encoder_name=nosuchnet", "KeyError: \"Wrong encoder name `nosuchnet`"),  # smp's
])
def test_a_value_refused_by_a_constructor_is_one_line(arg, expected, capsys):
    code, _, err = run_cli(["fit", "--method", "unet", "--trainer.fast_dev_run=true", "--trainer.logger=false",
                            arg], capsys)
    assert code == 2 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_wrong_layout_names_what_was_expected(tmp_path, capsys):
    root = tmp_path / "ZHCBI"
    (root / "train" / "pictures").mkdir(parents=True)  # not the input/label/seg triplet layout
    code, _, err = run_cli(["fit", "--method", "unet", "--data", "zhcbi", f"--data.init_args.root={root}",
                            "--trainer.fast_dev_run=true", "--trainer.logger=false"], capsys)
    assert code == 2 and "input" in err and "Traceback" not in err


def test_wandb_offline_run_gets_the_nested_config(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    args = [a for a in FIT_TINY if a != "--trainer.logger=false"]
    code, _, err = run_cli(["fit", "--method", "unet", *args], capsys)
    assert code == 0, err
    (run,) = (tmp_path / "ckpts" / "unet").iterdir()
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1  # exactly one W&B run, inside the run folder, offline
    import wandb

    try:
        assert wandb.run is not None
        pushed = dict(wandb.run.config)
        assert pushed["model"]["class_path"] == "semcolor.lightning_modules.unet.UNetModule"  # nested, as config.yaml
        assert "variant" not in pushed  # no DataModule/model hparams duplicated at the root
        assert (offline[0] / "files" / "config.yaml").is_file()
    finally:
        wandb.finish()


def test_eval_of_a_trained_checkpoint_writes_test_metrics(tmp_path, capsys):
    code, _, err = run_cli(["fit", "--method", "unet", *FIT_TINY], capsys)
    assert code == 0, err
    (run,) = (tmp_path / "ckpts" / "unet").iterdir()
    test_args = [a for a in FIT_TINY if not a.startswith(("--trainer.max_epochs", "--trainer.limit_train"))]
    code, out, err = run_cli(["test", "--method", "unet", *test_args, "--ckpt_path", str(run / "last.ckpt")], capsys)
    assert code == 0, err
    (test_run,) = [r for r in (tmp_path / "ckpts" / "unet").iterdir() if "-test-" in r.name]
    import json

    saved = json.loads((test_run / "test_metrics.json").read_text())
    assert "test_psnr" in saved["metrics"] and "test_identity_psnr" in saved["metrics"]
