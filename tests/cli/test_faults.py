"""Faults, for real: ``semcolor`` subprocesses killed with SIGKILL at chosen points (tests/fault_injection.py),
then resumed; a NaN loss; a write error part-way through a scene. Everything on tiny data (a U-Net with a
MobileNetV2 encoder on 64 px embedded tiles, 3 epochs of 2 steps).

What each proves:

* kill -9 in a training step, half-way through writing ``last.ckpt``, or between its fsync and its rename,
  then ``--ckpt_path=last``: the run resumes from the last complete checkpoint and ends with bit-identical
  weights and the same validation score as an uninterrupted run (generator states are in the checkpoint);
  no checkpoint is ever half-written (the partial bytes stay in a hidden ``.partial`` file);
* kill -9 of a whole-scene predict: nothing at OUTPUT; with ``resumable=true`` the rerun continues from the
  kept rows and OUTPUT is byte-identical to an uninterrupted run;
* a file-size limit hit while writing a scene (what a full disk does to GDAL's writes): one line, exit 2,
  nothing at OUTPUT, the input untouched;
* a NaN loss: training stops with one line naming the step, and the last good checkpoint stays loadable.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from semcolor.checkpoints import TMP_SUFFIX, read_checkpoint
from tests.conftest import TINY_EMBEDDED

ROOT = Path(__file__).resolve().parents[2]
EPOCHS, STEPS_PER_EPOCH = 3, 2
TINY_FIT = [
    "fit", "--method", "unet", *TINY_EMBEDDED,
    "--model.init_args.encoder_name=mobilenet_v2", "--model.init_args.decoder_channels=[32,16,16,8,8]",
    f"--trainer.max_epochs={EPOCHS}", "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0",
    "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
]
KILL = ["--trainer.callbacks+=tests.fault_injection.KillAt"]


def _env(ckpts: Path, data: str | None = None) -> dict[str, str]:
    env = {**os.environ, "SEMCOLOR_CKPTS": str(ckpts), "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
    if data is not None:
        env["SEMCOLOR_DATA"] = data
    env.pop("SEMCOLOR_RUN_DIR", None)
    return env


def semcolor(args: list[str], ckpts: Path, *, data: str | None = None, limit_fsize: int | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m semcolor ARGS`` in a subprocess writing runs under ``ckpts`` (data: the session's folder)."""
    env = _env(ckpts, data)

    def limit() -> None:  # runs in the child: GDAL's writes past the limit fail with EFBIG
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))

    return subprocess.run([sys.executable, "-m", "semcolor", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit if limit_fsize else None)


def runs(ckpts: Path) -> list[Path]:
    return sorted((ckpts / "unet").glob("embedded-*"))


def final_metrics(stdout: str) -> list[str]:
    """The rows of the last validation table the CLI printed (``psnr 19.3135 ...``)."""
    table = stdout.rsplit(f"validation, epoch {EPOCHS - 1}", 1)[1].split("└", 1)[0]
    rows = [" ".join(c.strip() for c in line.split("│") if c.strip()) for line in table.splitlines()]
    return [r for r in rows if r.split(" ")[0] in ("psnr", "ssim", "delta_e")]


def assert_same_training(a: Path, b: Path, out_a: str, out_b: str) -> None:
    """Two runs: ``last.ckpt`` at the same step with bit-identical weights and optimiser state, and the
    same final validation metrics printed."""
    ca, cb = read_checkpoint(a), read_checkpoint(b)
    assert ca["global_step"] == cb["global_step"] == EPOCHS * STEPS_PER_EPOCH
    differing = [k for k in ca["state_dict"] if not torch.equal(ca["state_dict"][k], cb["state_dict"][k])]
    assert differing == [], f"{len(differing)} tensors differ, e.g. {differing[:3]}"
    sa, sb = ca["optimizer_states"][0]["state"], cb["optimizer_states"][0]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    assert len(final_metrics(out_a)) == 3 and final_metrics(out_a) == final_metrics(out_b)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, data_root: str) -> tuple[Path, str]:
    """``last.ckpt`` and the output of an uninterrupted tiny run."""
    ckpts = tmp_path_factory.mktemp("reference")
    done = semcolor(TINY_FIT, ckpts, data=data_root)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = runs(ckpts)
    assert read_checkpoint(run / "last.ckpt")["global_step"] == EPOCHS * STEPS_PER_EPOCH  # the last epoch's
    return run / "last.ckpt", done.stdout


def kill_then_resume(tmp_path: Path, kill_args: list[str]) -> tuple[Path, Path, str]:
    ckpts = tmp_path / "ckpts"
    killed = semcolor(TINY_FIT + KILL + kill_args, ckpts)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-3000:])
    (first,) = runs(ckpts)
    # whatever the kill interrupted, every checkpoint under its final name is complete
    for ckpt in first.glob("*.ckpt"):
        read_checkpoint(ckpt)
    resumed = semcolor(TINY_FIT + ["--ckpt_path=last"], ckpts)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Restoring states from the checkpoint path" in resumed.stdout + resumed.stderr
    second = [r for r in runs(ckpts) if r != first]
    assert len(second) == 1  # resumed into a new run folder; the killed run's folder is kept
    return first, second[0] / "last.ckpt", resumed.stdout


def test_sigkill_while_writing_a_checkpoint_then_resume_ends_as_uninterrupted(tmp_path, reference):
    # killed half-way through the bytes of the second last.ckpt (end of epoch 1)
    first, resumed, out = kill_then_resume(tmp_path, ["--trainer.callbacks.init_args.at=write",
                                                      "--trainer.callbacks.init_args.save=1"])
    partial = list(first.glob(f".last.ckpt.*{TMP_SUFFIX}"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0  # the kill did land inside the write
    assert read_checkpoint(first / "last.ckpt")["global_step"] == STEPS_PER_EPOCH  # epoch 0's, intact
    assert_same_training(reference[0], resumed, reference[1], out)
    env = json.loads((first / "environment.json").read_text())  # what the run's numbers depended on
    assert env["packages"]["torch"] == torch.__version__.split("+")[0] and env["threads"]["torch_intra_op"] >= 1


@pytest.mark.slow
def test_two_seeded_runs_are_bit_identical(tmp_path, reference):
    """Same machine, versions and threads: a second run of the same config ends bit-identical."""
    done = semcolor(TINY_FIT, tmp_path / "ckpts")
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = runs(tmp_path / "ckpts")
    assert_same_training(reference[0], run / "last.ckpt", reference[1], done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("kill", [["--trainer.callbacks.init_args.at=step", "--trainer.callbacks.init_args.step=3"],
                                  ["--trainer.callbacks.init_args.at=rename", "--trainer.callbacks.init_args.save=1"]],
                         ids=["mid-epoch", "before-rename"])
def test_sigkill_then_resume_ends_as_uninterrupted(tmp_path, reference, kill):
    first, resumed, out = kill_then_resume(tmp_path, kill)
    assert read_checkpoint(first / "last.ckpt")["global_step"] == STEPS_PER_EPOCH
    assert_same_training(reference[0], resumed, reference[1], out)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_broken_checkpoint(tmp_path):
    """kill -9 from outside at 12 moments spread over a run: every *.ckpt left is complete."""
    import time

    ckpts = tmp_path / "ckpts"
    env = _env(ckpts)
    rng = np.random.default_rng(0)
    for delay in sorted(rng.uniform(8.0, 40.0, size=12)):
        proc = subprocess.Popen([sys.executable, "-m", "semcolor", *TINY_FIT], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        for ckpt in ckpts.rglob("*.ckpt"):
            read_checkpoint(ckpt)


@pytest.mark.slow
def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    ckpts = tmp_path / "ckpts"
    nan_from = STEPS_PER_EPOCH + 1  # the second step of epoch 1
    done = semcolor(TINY_FIT + ["--model=tests.fault_injection.NaNLossUNet", f"--model.init_args.nan_from={nan_from}"],
                    ckpts)
    assert done.returncode == 2, done.stderr[-3000:]
    line = [x for x in done.stderr.splitlines() if x.startswith("semcolor: error:")]
    assert len(line) == 1 and f"at step {nan_from} (epoch 1, batch 1)" in line[0] and "nan" in line[0]
    (run,) = sorted((ckpts / "nanlossunet").glob("embedded-*"))
    assert f"'{run / 'last.ckpt'}'" in line[0]
    last = read_checkpoint(run / "last.ckpt")
    assert last["global_step"] == STEPS_PER_EPOCH  # epoch 0's checkpoint, nothing written after the NaN
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


# ----------------------------------------------------------------------------------------------
# whole-scene predict
# ----------------------------------------------------------------------------------------------
def _scene(path: Path) -> Path:
    from tests.scenes.test_scene_predict import random_scene, write_scene

    return write_scene(path, random_scene(320, 256, hole=False), nodata=None)


def _predict(ckpt: Path, src: Path, out: Path, *extra: str) -> list[str]:
    return ["predict", "--method", "unet", "--ckpt_path", str(ckpt), "--config",
            str(ROOT / "experiments" / "trainer" / "predict.yaml"), f"--data.init_args.input={src}",
            "--data.init_args.tile_size=64", "--data.init_args.overlap=16", "--data.init_args.batch_size=4",
            "--data.init_args.num_workers=0", f"--trainer.callbacks.init_args.output={out}", *extra]


RESUMABLE = ["--trainer.callbacks.init_args.resumable=true", "--trainer.callbacks.init_args.chunk_rows=64",
             "--trainer.callbacks.init_args.block_size=32"]


def _windows(stdout: str) -> int:
    """Windows predicted, from the writer's summary line ("rank 0: 42 windows in ...")."""
    import re

    return int(re.search(r"rank 0: (\d+) windows", stdout).group(1))


def _scene_and_output(tmp_path: Path, folder: str) -> tuple[Path, str, Path]:
    """A scene, the sha256 of its bytes (to prove it untouched) and an OUTPUT path in a new folder."""
    src = _scene(tmp_path / "in.tif")
    out = tmp_path / folder / "out.tif"
    out.parent.mkdir()
    return src, hashlib.sha256(src.read_bytes()).hexdigest(), out


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.slow
def test_sigkill_during_predict_leaves_nothing_at_output_and_resumes_byte_identical(tmp_path, reference):
    src, before, full = _scene_and_output(tmp_path, "full")
    done = semcolor(_predict(reference[0], src, full, *RESUMABLE), tmp_path / "ckpts")
    assert done.returncode == 0, done.stderr[-3000:]

    out = tmp_path / "out" / "out.tif"
    out.parent.mkdir()
    plain = semcolor(_predict(reference[0], src, out, *KILL, "--trainer.callbacks.init_args.at=predict",
                              "--trainer.callbacks.init_args.step=6"), tmp_path / "ckpts")
    assert plain.returncode == -9
    assert not out.exists()  # nothing at OUTPUT (a hidden temporary file may stay: it is never OUTPUT)

    killed = semcolor(_predict(reference[0], src, out, *RESUMABLE, *KILL, "--trainer.callbacks.init_args.at=predict",
                               "--trainer.callbacks.init_args.step=7"), tmp_path / "ckpts")
    assert killed.returncode == -9
    assert not out.exists()
    chunks = sorted(p.name for p in (out.parent / ".out.tif.resume").iterdir() if p.name.startswith("rows_"))
    assert chunks and not any(c.endswith(".tmp.tif") for c in chunks)  # only complete chunks count
    resumed = semcolor(_predict(reference[0], src, out, *RESUMABLE), tmp_path / "ckpts")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _windows(resumed.stdout) < _windows(done.stdout)  # it continued: only the rows not kept
    assert out.read_bytes() == full.read_bytes()
    assert not (out.parent / ".out.tif.resume").exists()
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # the input untouched


@pytest.mark.slow
def test_write_error_mid_scene_is_one_line_and_leaves_nothing(tmp_path, reference):
    src, before, out = _scene_and_output(tmp_path, "out")
    # the scene is 320 x 256 x 3 bytes uncompressed; any file may grow to 40 kB, far less than OUTPUT
    done = semcolor(_predict(reference[0], src, out, "--trainer.callbacks.init_args.compress=none"),
                    tmp_path / "ckpts", limit_fsize=40_000)
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    errors = [x for x in done.stderr.splitlines() if x.startswith("semcolor: error:")]
    assert len(errors) == 1 and str(out) in errors[0] and "writ" in errors[0].lower(), done.stderr[-2000:]
    assert not out.exists() and _hidden(out.parent) == []  # nothing partial at OUTPUT, no temporary left
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
