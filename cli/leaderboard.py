"""The equal-terms leaderboard: every method registered for a task, on the same data and split, under the
same compute budget, over several seeds.

Usage (the Makefile wraps it: ``make leaderboard TASK=balance [BUDGET=60] [SEEDS=3] [DATA=zhcbi ROOT=...]``)::

    python -m semcolor.cli.leaderboard --task balance                       # embedded data, defaults
    python -m semcolor.cli.leaderboard --task colorize --budget 120 --seeds 3
    python -m semcolor.cli.leaderboard --task balance --data zhcbi --root /data/ZHCBI --trainer_config gpu
    python -m semcolor.cli.leaderboard --task render16 --profile smoke      # tiny cells, seconds

What runs: for every method registered for the task (``METHODS.available(task)``, so methods added later
appear without editing this file) the config ``experiments/<method>/<data>-<task>.yaml`` if it exists, else
``<data>.yaml`` when that config is for the task (its embedded ``variant``, else the method's single task,
else colorize iff the model takes one band). A *cell* is one (method, seed) pair: ``semcolor fit`` of the
config with ``trainer.max_time`` = the budget (Lightning's own Timer, which stops training once the
budget is spent; validation inside the budget counts, the sanity check and the test do not) and
``max_epochs=-1``, then ``test`` of the best checkpoint by the method's own ``monitor`` (the last weights when
no validation ran). Training-free methods (``trainable=False``) run ``test`` only; a method without trainable
parameters (the stretches) stops after its first epoch, which fits its statistics.

The cells run through :class:`semcolor.cli.main.SemcolorCLI`, i.e. with exactly the Trainer settings of
``make train`` (``--trainer_config gpu|ddp`` = ``TRAINER=``): in this process one after the other (each
model built once), or one subprocess per cell with ``--isolate`` (automatic with ``ddp``, whose launcher
re-executes the command per rank).

Resumable: a cell's result is ``<out>/cells/<key>.json``, ``key`` = a hash of its *resolved* settings (the
``--print_config`` YAML of the cell: every default of every class, the data root, the seed, the budget) and
of the embedded generator version. A finished cell is skipped when the command runs again; a changed
setting changes the key of exactly the cells it touches. Results are written to a temporary file and
renamed. ``<out>`` defaults to ``results/<task>`` (``results/<task>-<data>`` for another dataset) and holds
``leaderboard.md`` / ``.csv`` / ``.png`` (mean +- std over seeds per metric, the budget, steps reached,
parameters, throughput), ``cells/`` and ``runs/`` (each cell's run folder; checkpoints are deleted after the
test unless ``--keep_checkpoints``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml

from semcolor.errors import SemcolorError
from semcolor.paths import experiments_dir
from semcolor.registry import METHODS, TASKS

#: version of the files this module writes (cells, manifest); a folder of another version is refused
FORMAT = 1
MANIFEST = "manifest.json"
PROFILES = ("default", "smoke")

#: CLI overrides of the smoke profile: tiny embedded data and few evaluation batches (CI)
SMOKE_EMBEDDED = (
    "--data.init_args.scene_size=128", "--data.init_args.train_scenes=2", "--data.init_args.val_scenes=1",
    "--data.init_args.test_scenes=1", "--data.init_args.batch_size=4",
)  # fmt: skip
SMOKE_TRAINER = ("--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2", "--trainer.num_sanity_val_steps=0")

#: metric name fragments whose smaller values are better (everything else: larger is better)
LOWER_IS_BETTER = ("delta_e", "loss", "jump", "error", "mae", "rmse", "lpips", "niqe", "brisque", "seam")


class LeaderboardError(SemcolorError):
    """Bad leaderboard input: unknown task, a method that cannot do it, a bad budget, a foreign results folder."""


# ======================================================================================================
# what runs
# ======================================================================================================
@dataclass(frozen=True)
class Arm:
    """One row of a leaderboard: a method, one of its configs, and extra CLI overrides."""

    method: str
    config: str
    label: str = ""
    overrides: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.label or (self.method if self.config.split("-")[0] == self.config else f"{self.method} ({self.config})")


@dataclass(frozen=True)
class Cell:
    """One run: an arm at one seed and one budget (seconds of training; ignored when training-free)."""

    arm: Arm
    seed: int
    budget: int


def _config_yaml(method: str, config: str) -> dict[str, Any]:
    path = experiments_dir() / method / f"{config}.yaml"
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LeaderboardError(f"cannot read config '{path}': {exc}") from exc


def config_task(method: str, config: str) -> str | None:
    """The task a config is for: its embedded data's ``variant``, else the method's only task, else
    ``colorize`` when the model takes one band and the first other task of the method otherwise."""
    entry = METHODS.entry(method)
    cfg = _config_yaml(method, config)
    data_args = ((cfg.get("data") or {}).get("init_args") or {})
    variant = data_args.get("variant")
    if isinstance(variant, str) and variant in TASKS:
        return variant
    if len(entry.tasks) == 1:
        return entry.tasks[0]
    in_channels = ((cfg.get("model") or {}).get("init_args") or {}).get("in_channels")
    if "colorize" in entry.tasks and in_channels == 1:
        return "colorize"
    others = [t for t in entry.tasks if t != "colorize"]
    return others[0] if others else (entry.tasks[0] if entry.tasks else None)


def config_is_embedded(method: str, config: str) -> bool:
    data = _config_yaml(method, config).get("data") or {}
    return str(data.get("class_path", "")).endswith("EmbeddedDataModule")


def check_task(task: str) -> None:
    if task not in TASKS:
        raise LeaderboardError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")


def task_arms(task: str, data: str = "embedded", methods: Sequence[str] | None = None) -> tuple[list[Arm], list[str]]:
    """The arms of ``task`` on ``data`` (one per registered method with a config for it) and, for the methods
    left out, why. ``methods`` restricts the list; naming a method that cannot do the task is an error."""
    check_task(task)
    registered = METHODS.available(task)
    if methods:
        for m in methods:
            entry = METHODS.entry(m)  # unknown names list what exists
            if task not in entry.tasks:
                raise LeaderboardError(
                    f"method {m!r} cannot do task {task!r} (it is registered for {', '.join(entry.tasks) or 'no task'});"
                    f" methods for {task}: {', '.join(registered) or 'none'}"
                )
        names = list(methods)
    else:
        names = registered
    if not names:
        raise LeaderboardError(f"no method is registered for task {task!r}")
    arms, skipped = [], []
    for m in names:
        folder = experiments_dir() / m
        chosen = None
        for stem in (f"{data}-{task}", data):
            if (folder / f"{stem}.yaml").is_file() and config_task(m, stem) == task:
                chosen = stem
                break
        if chosen is None:
            have = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
            skipped.append(f"{m}: no config for {task} on {data!r} (experiments/{m}/{data}.yaml or {data}-{task}.yaml;"
                           f" has {', '.join(have) or 'none'})")
            continue
        arms.append(Arm(m, chosen))
    if methods and skipped:
        raise LeaderboardError("; ".join(skipped))
    return arms, skipped


# ======================================================================================================
# settings of a run of the leaderboard
# ======================================================================================================
@dataclass
class Settings:
    """How cells are run: data, budget, seeds, profile, Trainer config and where results go."""

    task: str
    data: str = "embedded"
    root: str | None = None
    budget: int = 60
    seeds: tuple[int, ...] = (0, 1, 2)
    profile: str = "default"
    trainer_config: str | None = None
    args: tuple[str, ...] = ()
    out: Path = field(default_factory=lambda: Path("results"))
    isolate: bool = False
    keep_checkpoints: bool = False
    wandb: bool = False

    def check(self) -> None:
        check_task(self.task)
        if self.profile not in PROFILES:
            raise LeaderboardError(f"unknown profile {self.profile!r}; profiles: {', '.join(PROFILES)}")
        if not isinstance(self.budget, int) or isinstance(self.budget, bool) or self.budget < 1:
            raise LeaderboardError(f"BUDGET must be a whole number of seconds >= 1 per run, got {self.budget!r}")
        if not self.seeds:
            raise LeaderboardError("SEEDS must be at least 1")
        if self.trainer_config:
            path = experiments_dir() / "trainer" / f"{self.trainer_config}.yaml"
            if not path.is_file():
                known = sorted(p.stem for p in (experiments_dir() / "trainer").glob("*.yaml"))
                raise LeaderboardError(f"unknown trainer config {self.trainer_config!r}; available: {', '.join(known)}")

    @property
    def must_isolate(self) -> bool:
        """DDP's launcher re-executes the command per rank: each cell then runs as its own command."""
        return self.isolate or self.trainer_config == "ddp"


def max_time(seconds: int) -> str:
    """Lightning's ``max_time`` string ``DD:HH:MM:SS`` for a budget in seconds."""
    d, rest = divmod(int(seconds), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d:02d}:{h:02d}:{m:02d}:{s:02d}"


def cell_args(cell: Cell, settings: Settings, subcommand: str | None = None) -> list[str]:
    """The ``semcolor`` command line of a cell (before :func:`semcolor.cli.main.expand_names`)."""
    arm = cell.arm
    trainable = METHODS.entry(arm.method).trainable
    sub = subcommand or ("fit" if trainable else "test")
    args = [sub, "--method", arm.method, "--data", arm.config]
    if settings.trainer_config:
        args += ["--trainer_config", settings.trainer_config]
    if settings.profile == "smoke":
        if config_is_embedded(arm.method, arm.config):
            args += list(SMOKE_EMBEDDED)
        args += list(SMOKE_TRAINER)
    if settings.root:
        args.append(f"--data.init_args.root={settings.root}")
    args += [f"--seed_everything={cell.seed}", "--trainer.enable_progress_bar=false"]
    if not settings.wandb:
        args.append("--trainer.logger=false")
    if sub == "fit":
        args += [f"--trainer.max_time={max_time(cell.budget)}", "--trainer.max_epochs=-1", "--trainer.max_steps=-1"]
    return args + list(arm.overrides) + list(settings.args)


def resolved_config(args: list[str]) -> str:
    """The ``--print_config`` YAML of a command line (parsed in this process; nothing is built)."""
    from semcolor.cli.main import SemcolorCLI, expand_names

    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            SemcolorCLI(args=expand_names([*args, "--print_config"]))
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise LeaderboardError(f"the cell's config does not parse: {' '.join(args)}") from None
    return buf.getvalue()


def cell_key(cell: Cell, settings: Settings, resolved: str) -> str:
    """Hash of everything that decides a cell's result."""
    import torch

    from semcolor.datamodules import synthetic

    trainable = METHODS.entry(cell.arm.method).trainable
    payload = {
        "format": FORMAT, "config": resolved, "generator_version": synthetic.GENERATOR_VERSION,
        "budget": cell.budget if trainable else None, "trainer_config": settings.trainer_config,
        # under a time budget the CPU threads decide how far a run gets (OMP_NUM_THREADS=1 on a shared machine)
        "threads": torch.get_num_threads() if trainable else None,
    }  # fmt: skip
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
    return f"{cell.arm.method}-s{cell.seed}-{digest}"


# ======================================================================================================
# files
# ======================================================================================================
def atomic_write(path: Path, text: str | bytes) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_folder(out: Path, kind: str, name: str) -> None:
    """Refuse a results folder written by another version of this module (or not by it at all)."""
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            info = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise LeaderboardError(f"results folder '{out}' has an unreadable {MANIFEST} ({exc}); move the folder away") from exc
        if info.get("format") != FORMAT or info.get("kind") != kind:
            raise LeaderboardError(
                f"results folder '{out}' was written by another version of the settings ({kind} format "
                f"{info.get('format')!r}, this is {FORMAT}); move it away or pass another --out"
            )
        return
    if out.is_dir() and any(out.iterdir()):
        raise LeaderboardError(f"'{out}' exists and is not a {kind} results folder (no {MANIFEST}); pass another --out")
    atomic_write(manifest, json.dumps({"format": FORMAT, "kind": kind, "name": name}, indent=2))


def read_cell(path: Path) -> dict[str, Any] | None:
    """A cell's record, None when absent; another format is refused (see :func:`check_folder`)."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # unreadable: rerun the cell (files are renamed into place, so this is not ours)
    if record.get("format") != FORMAT:
        raise LeaderboardError(f"cell '{path}' was written by another version of the settings (format "
                               f"{record.get('format')!r}, this is {FORMAT}); move its folder away")
    return record


# ======================================================================================================
# running one cell
# ======================================================================================================
class CellProbe(pl.Callback):
    """What a cell's numbers need beyond Lightning's: the time spent *in* training steps (the throughput of
    the model, without validation or data loading), the time the loop waited for the next batch (the data
    loader), and a stop after the first epoch for a model without trainable parameters (a stretch fitting
    its statistics: more epochs would only repeat it)."""

    def __init__(self) -> None:
        self.step_seconds = self.wait_seconds = 0.0
        self.steps = 0
        self._start: float | None = None
        self._last_end: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_end = None

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last_end = None  # the pause for validation is not waiting for data

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        now = time.perf_counter()
        if self._last_end is not None:
            self.wait_seconds += now - self._last_end
        self._start = now

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        now = time.perf_counter()
        if self._start is not None:
            self.step_seconds += now - self._start
            self.steps += 1
        self._last_end = now

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not any(p.requires_grad for p in pl_module.parameters()):
            trainer.should_stop = True


def _param_counts(model: Any) -> dict[str, int]:
    params = list(model.parameters())
    return {"trainable": sum(p.numel() for p in params if p.requires_grad), "total": sum(p.numel() for p in params)}


def _train_stats(trainer: pl.Trainer, datamodule: Any) -> dict[str, Any]:
    from pytorch_lightning.callbacks import Timer

    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    probe = next((c for c in trainer.callbacks if isinstance(c, CellProbe)), None)
    seconds = float(timer.time_elapsed("train")) if timer is not None else float("nan")
    batches = probe.steps if probe is not None else 0
    batch_size = int(getattr(datamodule, "batch_size", 0) or 0) * max(1, trainer.world_size)
    step_s = probe.step_seconds if probe is not None else 0.0
    budget = timer._duration if timer is not None else None  # noqa: SLF001 - Lightning keeps the limit there
    return {
        "seconds": seconds, "batches": batches, "epochs": int(trainer.current_epoch),
        "optimizer_steps": int(trainer.global_step), "batch_size": batch_size, "step_seconds": step_s,
        "loader_wait_seconds": probe.wait_seconds if probe is not None else None,
        "samples_per_s": batches * batch_size / step_s if step_s > 0 and batches else None,
        "stopped_by_budget": bool(budget is not None and seconds >= budget - 1e-3),
    }  # fmt: skip


def _scalars(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    from semcolor.run_files import scalar_metrics

    out = {}
    for key, value in scalar_metrics(metrics, prefix).items():
        name = key[len(prefix):]
        if prefix == "test_" and name.startswith("identity_"):
            continue
        if "loss" not in name and math.isfinite(value):
            out[name] = value
    return out


def probed_cli(args: list[str]) -> Any:
    """Run ``SemcolorCLI`` on expanded ``args`` with a :class:`CellProbe` among its callbacks; the CLI object."""
    from semcolor.cli.main import SemcolorCLI

    class CellCLI(SemcolorCLI):
        def before_instantiate_classes(self) -> None:
            super().before_instantiate_classes()
            self.trainer_defaults["callbacks"].append(CellProbe())

    return CellCLI(args=args)


def run_cell(cell: Cell, settings: Settings, key: str, runs: Path) -> dict[str, Any]:
    """Run a cell in this process: fit under the budget and test (or test only); the record to store."""
    from semcolor.cli.main import _init_error, expand_names

    arm, entry = cell.arm, METHODS.entry(cell.arm.method)
    record: dict[str, Any] = {
        "format": FORMAT, "key": key, "task": settings.task, "method": arm.method, "config": arm.config,
        "label": arm.name, "overrides": list(arm.overrides), "seed": cell.seed,
        "budget": cell.budget if entry.trainable else None, "profile": settings.profile,
        "trainer_config": settings.trainer_config, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "threads": __import__("torch").get_num_threads(),
    }  # fmt: skip
    run_dir = runs / arm.method / key
    if run_dir.exists():  # an earlier attempt of this very cell that did not finish
        shutil.rmtree(run_dir)
    old_ckpts = os.environ.get("SEMCOLOR_CKPTS")
    os.environ["SEMCOLOR_CKPTS"] = str(runs)
    cli = None
    try:
        args = expand_names([*cell_args(cell, settings), f"--run_name={key}"])
        t0 = time.perf_counter()
        cli = probed_cli(args)
        trainer, model, dm = cli.trainer, cli.model, cli.datamodule
        record["params"] = _param_counts(model)
        tested = "none"
        if entry.trainable:
            record["train"] = _train_stats(trainer, dm)
            best = getattr(trainer.checkpoint_callback, "best_model_path", "") or ""
            tested = "best" if best and Path(best).is_file() else "last"
            t1 = time.perf_counter()
            trainer.test(model, datamodule=dm, ckpt_path=best if tested == "best" else None, verbose=False)
            record["test_seconds"] = time.perf_counter() - t1
        else:
            record["test_seconds"] = time.perf_counter() - t0
        record["tested"] = tested if entry.trainable else "training-free"
        metrics = trainer.callback_metrics
        record["metrics"] = _scalars(metrics, "test_")
        record["identity"] = _scalars(metrics, "test_identity_")
        record["device"] = str(getattr(trainer.strategy, "root_device", "cpu"))
        record["status"] = "ok" if record["metrics"] else "failed"
        if not record["metrics"]:
            record["error"] = "the test logged no metric"
        record["is_global_zero"] = bool(trainer.is_global_zero)
    except SemcolorError as exc:
        record.update(status="failed", error=str(exc).splitlines()[0])
    except ValueError as exc:
        cause = _init_error(exc) or exc
        record.update(status="failed", error=f"{type(cause).__name__}: {(str(cause).splitlines() or [''])[0][:300]}")
    except RuntimeError as exc:
        record.update(status="failed", error=f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}")
    finally:
        if old_ckpts is None:
            os.environ.pop("SEMCOLOR_CKPTS", None)
        else:
            os.environ["SEMCOLOR_CKPTS"] = old_ckpts
        del cli
        gc.collect()
    if not settings.keep_checkpoints and run_dir.is_dir():
        for ckpt in run_dir.glob("*.ckpt"):
            ckpt.unlink()
    record["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return record


def run_cell_isolated(cell: Cell, settings: Settings, key: str, runs: Path, dest: Path) -> dict[str, Any] | None:
    """Run a cell as its own command (``python -m semcolor.cli.leaderboard _cell SPEC``), e.g. under DDP."""
    spec = runs / f"{key}.spec.json"
    payload = {"cell": {"arm": asdict(cell.arm), "seed": cell.seed, "budget": cell.budget},
               "settings": {**asdict(settings), "out": str(settings.out)}, "key": key, "runs": str(runs),
               "dest": str(dest)}  # fmt: skip
    atomic_write(spec, json.dumps(payload, indent=2))
    proc = subprocess.run([sys.executable, "-m", "semcolor.cli.leaderboard", "_cell", str(spec)], check=False)
    spec.unlink(missing_ok=True)
    if proc.returncode != 0 and not dest.is_file():
        return {"format": FORMAT, "key": key, "method": cell.arm.method, "label": cell.arm.name, "seed": cell.seed,
                "status": "failed", "error": f"the cell's process exited with code {proc.returncode}"}
    return read_cell(dest)


def _cell_main(spec_path: str) -> int:
    """Entry of an isolated cell (each DDP rank runs it; rank 0 writes the record)."""
    spec = json.loads(Path(spec_path).read_text())
    c = spec["cell"]
    arm = Arm(**{**c["arm"], "overrides": tuple(c["arm"]["overrides"])})
    s = spec["settings"]
    settings = Settings(**{**s, "seeds": tuple(s["seeds"]), "args": tuple(s["args"]), "out": Path(s["out"])})
    record = run_cell(Cell(arm, int(c["seed"]), int(c["budget"])), settings, spec["key"], Path(spec["runs"]))
    if record.get("is_global_zero", True):
        atomic_write(Path(spec["dest"]), json.dumps(record, indent=2, sort_keys=True))
    return 0 if record.get("status") == "ok" else 1


# ======================================================================================================
# running many cells
# ======================================================================================================
@dataclass
class Store:
    """A results folder: ``cells/`` (one JSON per finished cell), ``runs/`` (run folders), the tables."""

    out: Path
    kind: str = "leaderboard"

    def __post_init__(self) -> None:
        check_folder(self.out, self.kind, self.out.name)
        self.cells, self.runs = self.out / "cells", self.out / "runs"

    def path(self, key: str) -> Path:
        return self.cells / f"{key}.json"


def run_cells(cells: Iterable[Cell], settings: Settings, store: Store, *, log: Any = print) -> list[dict[str, Any]]:
    """Run (or reuse) every cell; returns the records in order. Each finished cell is stored at once."""
    from semcolor.cpu_memory import keep_freed_memory
    from semcolor.cli.main import _quiet_known_warnings

    _quiet_known_warnings()
    keep_freed_memory()
    cells = list(cells)
    planned = []
    for cell in cells:
        resolved = resolved_config(cell_args(cell, settings))
        planned.append((cell, cell_key(cell, settings, resolved), resolved))
    todo = [(c, k, r) for c, k, r in planned if (read_cell(store.path(k)) or {}).get("status") != "ok"]
    budgets = sorted({c.budget for c in cells})
    log(f"leaderboard: {len(planned)} cells, {len(planned) - len(todo)} already done, {len(todo)} to run"
        f" (budget {', '.join(map(str, budgets))} s per training run)")
    records = []
    for cell, key, resolved in planned:
        path = store.path(key)
        record = read_cell(path)
        if record is None or record.get("status") != "ok":
            log(f"  run  {cell.arm.name} seed {cell.seed} [{key}]")
            if settings.must_isolate:
                record = run_cell_isolated(cell, settings, key, store.runs, path) or {}
            else:
                record = run_cell(cell, settings, key, store.runs)
            record["resolved_config"] = resolved
            atomic_write(path, json.dumps(record, indent=2, sort_keys=True))
            status = record.get("status")
            extra = f": {record.get('error')}" if status != "ok" else ""
            log(f"       -> {status}{extra}")
        records.append(record)
    return records


# ======================================================================================================
# tables and the chart
# ======================================================================================================
def lower_is_better(metric: str) -> bool:
    """Colour differences (``*_de``, ``de_*``, ``delta_e``), losses, errors, seam jumps: smaller is better."""
    return any(part in metric for part in LOWER_IS_BETTER) or metric.endswith("_de") or metric.startswith("de_")


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


@dataclass
class Row:
    """One arm's aggregate over its seeds."""

    label: str
    method: str
    seeds: int
    failed: int
    metrics: dict[str, tuple[float, float]]
    budget: int | None
    batches: float | None
    params: int | None
    samples_per_s: float | None
    loader_share: float | None = None
    errors: list[str] = field(default_factory=list)


def _loader_share(record: dict[str, Any]) -> float | None:
    """Share of the training loop's step + wait time spent waiting for the next batch."""
    train = record.get("train") or {}
    wait, step = train.get("loader_wait_seconds"), train.get("step_seconds")
    if wait is None or not step:
        return None
    return wait / (wait + step)


def aggregate(records: list[dict[str, Any]]) -> list[Row]:
    """Rows in first-seen order of the records' labels."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(r.get("label") or r.get("method", "?"), []).append(r)
    rows = []
    for label, recs in groups.items():
        ok = [r for r in recs if r.get("status") == "ok"]
        names = sorted({k for r in ok for k in r.get("metrics", {})})
        metrics = {n: _mean_std([r["metrics"][n] for r in ok if n in r["metrics"]]) for n in names}

        def mean_of(get: Any) -> float | None:
            vals = [v for v in (get(r) for r in ok) if isinstance(v, (int, float)) and math.isfinite(v)]
            return sum(vals) / len(vals) if vals else None

        rows.append(Row(
            label=label, method=recs[0].get("method", "?"), seeds=len(ok), failed=len(recs) - len(ok), metrics=metrics,
            budget=recs[0].get("budget"), batches=mean_of(lambda r: (r.get("train") or {}).get("batches")),
            params=(ok[0].get("params") or {}).get("trainable") if ok else None,
            samples_per_s=mean_of(lambda r: (r.get("train") or {}).get("samples_per_s")),
            loader_share=mean_of(_loader_share),
            errors=sorted({r.get("error", "") for r in recs if r.get("status") != "ok"}),
        ))  # fmt: skip
    return rows


def identity_row(records: list[dict[str, Any]], label: str = "input (identity)") -> Row | None:
    """The do-nothing baseline: the input scored as the output (every image-to-image cell logs it)."""
    ok = [r for r in records if r.get("status") == "ok" and r.get("identity")]
    if not ok:
        return None
    names = sorted(ok[0]["identity"])
    metrics = {n: _mean_std([r["identity"][n] for r in ok if n in r["identity"]]) for n in names}
    return Row(label, "identity", 1, 0, {n: (m, 0.0) for n, (m, _) in metrics.items()}, None, None, 0, None)


def table_metrics(rows: list[Row]) -> list[str]:
    """Metrics every successful row has (the comparable columns), then the others."""
    have = [set(r.metrics) for r in rows if r.seeds]
    if not have:
        return []
    common = sorted(set.intersection(*have))
    return common


def _cell_text(stat: tuple[float, float] | None, seeds: int) -> str:
    if stat is None:
        return "—"
    mean, std = stat
    return f"{mean:.4f} ± {std:.4f}" if seeds > 1 else f"{mean:.4f}"


def markdown_table(rows: list[Row], metrics: list[str], title: str, notes: Sequence[str] = ()) -> str:
    """The leaderboard as markdown: best mean per metric in bold."""
    best: dict[str, float] = {}
    for m in metrics:
        vals = [r.metrics[m][0] for r in rows if m in r.metrics and r.method != "identity"]
        if vals:
            best[m] = min(vals) if lower_is_better(m) else max(vals)
    head = ["method", *[f"{m} {'↓' if lower_is_better(m) else '↑'}" for m in metrics], "seeds", "budget (s)",
            "steps reached", "trainable params", "train samples/s", "loader wait"]
    lines = [f"# {title}", "", *notes, "" if notes else "", "| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in rows:
        cells = []
        for m in metrics:
            text = _cell_text(r.metrics.get(m), r.seeds)
            if m in best and m in r.metrics and r.metrics[m][0] == best[m]:
                text = f"**{text}**"
            cells.append(text)
        seeds = f"{r.seeds}" + (f" (+{r.failed} failed)" if r.failed else "")
        lines.append("| " + " | ".join([
            r.label, *cells, seeds if r.method != "identity" else "—", "—" if r.budget is None else str(r.budget),
            "—" if r.batches is None else f"{r.batches:.0f}", "—" if r.params is None else f"{r.params:,}",
            "—" if r.samples_per_s is None else f"{r.samples_per_s:.1f}",
            "—" if r.loader_share is None else f"{100 * r.loader_share:.1f} %",
        ]) + " |")  # fmt: skip
    errors = [(r.label, e) for r in rows for e in r.errors if e]
    if errors:
        lines += ["", "Failed cells:"] + [f"- {label}: {e}" for label, e in errors]
    return "\n".join(lines) + "\n"


def csv_text(rows: list[Row]) -> str:
    """Every metric of every row (mean and std columns), plus the run figures."""
    metrics = sorted({m for r in rows for m in r.metrics})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["method", *[x for m in metrics for x in (f"{m}_mean", f"{m}_std")], "seeds", "failed", "budget_s",
                "steps_reached", "trainable_params", "train_samples_per_s", "loader_wait_share"])
    for r in rows:
        vals = [x for m in metrics for x in ((f"{r.metrics[m][0]:.6g}", f"{r.metrics[m][1]:.6g}") if m in r.metrics else ("", ""))]
        w.writerow([r.label, *vals, r.seeds, r.failed, r.budget if r.budget is not None else "",
                    f"{r.batches:.0f}" if r.batches is not None else "", r.params if r.params is not None else "",
                    f"{r.samples_per_s:.2f}" if r.samples_per_s is not None else "",
                    f"{r.loader_share:.4f}" if r.loader_share is not None else ""])
    return buf.getvalue()


def bar_chart(rows: list[Row], metrics: list[str], title: str, path: Path) -> None:
    """One PNG: a panel per metric (up to three), bars = mean, whiskers = std over seeds, the identity dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = metrics[:3]
    if not shown:
        return
    methods = [r for r in rows if r.method != "identity" and r.seeds]
    ident = next((r for r in rows if r.method == "identity"), None)
    fig, axes = plt.subplots(1, len(shown), figsize=(max(5.0, 0.55 * len(methods) + 2) * len(shown) / 1.6, 4.2),
                             squeeze=False)
    for ax, m in zip(axes[0], shown):
        have = [r for r in methods if m in r.metrics]
        have.sort(key=lambda r: r.metrics[m][0], reverse=not lower_is_better(m))
        means = [r.metrics[m][0] for r in have]
        stds = [r.metrics[m][1] for r in have]
        colors = ["#4c72b0" if METHODS.entry(r.method).trainable else "#dd8452" for r in have]
        ax.bar(range(len(have)), means, yerr=stds, color=colors, capsize=3)
        ax.set_xticks(range(len(have)), [r.label for r in have], rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{m} ({'lower' if lower_is_better(m) else 'higher'} is better)", fontsize=9)
        if ident is not None and m in ident.metrics:
            ax.axhline(ident.metrics[m][0], color="k", ls="--", lw=1, label="input (identity)")
            ax.legend(fontsize=7, loc="best")
        if means:
            lo = min(means + ([ident.metrics[m][0]] if ident is not None and m in ident.metrics else []))
            hi = max(v + s for v, s in zip(means, stds))
            pad = 0.1 * (hi - lo or abs(hi) or 1.0)
            ax.set_ylim(lo - pad if lo > 0 and lo - pad > 0 else min(0.0, lo - pad), hi + pad)
    fig.suptitle(title + "  (blue: trained, orange: training-free; whiskers: std over seeds)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def write_leaderboard(store: Store, settings: Settings, records: list[dict[str, Any]], skipped: Sequence[str]) -> Path:
    """``leaderboard.md`` / ``.csv`` / ``.png`` of the records (all written via rename)."""
    rows = aggregate(records)
    ident = identity_row(records)
    if ident is not None:
        rows.append(ident)
    metrics = table_metrics([r for r in rows if r.method != "identity"])
    title = f"Leaderboard: {settings.task} on {settings.data}"
    device = next((r.get("device") for r in records if r.get("device")), "cpu")
    notes = [
        f"Budget: {settings.budget} s of training per run (Lightning `max_time`; validation inside it, test outside),"
        f" seeds {', '.join(map(str, settings.seeds))}, profile `{settings.profile}`,"
        f" trainer config `{settings.trainer_config or 'default'}`, device `{device}`; test split, mean ± std over seeds.",
        "Training-free methods (budget —) are deterministic and ran once, through the same test loop; `input"
        " (identity)` is the input scored as the output. Steps reached = training batches; train samples/s = samples"
        " per second inside training steps (no validation, no loading); loader wait = share of the loop spent waiting"
        " for the next batch.",
        f"Written by `python -m semcolor.cli.leaderboard --task {settings.task}` on {time.strftime('%Y-%m-%d %H:%M')}.",
    ]
    if skipped:
        notes.append("Not run: " + "; ".join(skipped) + ".")
    md = store.out / "leaderboard.md"
    atomic_write(md, markdown_table(rows, metrics, title, [n + "  " for n in notes]))
    atomic_write(store.out / "leaderboard.csv", csv_text(rows))
    bar_chart(rows, metrics, title, store.out / "leaderboard.png")
    return md


# ======================================================================================================
# the command
# ======================================================================================================
def default_out(task: str, data: str) -> Path:
    base = Path(os.environ.get("SEMCOLOR_RESULTS", "results"))
    return base / (task if data == "embedded" else f"{task}-{data}")


def parse_seeds(text: str) -> tuple[int, ...]:
    """``3`` -> seeds 0, 1, 2; ``0,4,7`` -> those seeds."""
    text = str(text).strip()
    try:
        if "," in text:
            seeds = tuple(int(s) for s in text.split(",") if s.strip())
        else:
            n = int(text)
            if n < 1:
                raise LeaderboardError(f"SEEDS must be at least 1, got {n}")
            seeds = tuple(range(n))
    except ValueError:
        raise LeaderboardError(f"SEEDS must be a count (3) or a list of seeds (0,1,2), got {text!r}") from None
    return seeds


def parse_budget(text: str | int | float) -> int:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise LeaderboardError(f"BUDGET must be a whole number of seconds >= 1 per run, got {text!r}") from None
    if not math.isfinite(value) or value < 1 or value != int(value):
        raise LeaderboardError(f"BUDGET must be a whole number of seconds >= 1 per run, got {text!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m semcolor.cli.leaderboard", description=__doc__.split("\n")[0])
    p.add_argument("--task", required=True, help=f"one of {', '.join(TASKS)}")
    p.add_argument("--data", default="embedded", help="dataset name (experiments/<method>/<data>.yaml)")
    p.add_argument("--root", default=None, help="dataset root (data.init_args.root)")
    p.add_argument("--budget", default=None, help="seconds of training per run (default 60; smoke profile 1)")
    p.add_argument("--seeds", default=None, help="number of seeds (default 3; smoke 1) or a list 0,1,2")
    p.add_argument("--methods", default=None, help="comma-separated subset of the task's methods")
    p.add_argument("--profile", default="default", help=f"{' | '.join(PROFILES)} (smoke: tiny cells for CI)")
    p.add_argument("--trainer_config", default=None, help="extra trainer config as in make train TRAINER= (gpu, ddp)")
    p.add_argument("--out", default=None, help="results folder (default results/<task>[-<data>])")
    p.add_argument("--isolate", action="store_true", help="run each cell as its own process (always under ddp)")
    p.add_argument("--keep_checkpoints", action="store_true", help="keep each cell's checkpoints")
    p.add_argument("--wandb", action="store_true", help="log each cell to W&B as make train does (off by default)")
    p.add_argument("args", nargs="*", help="extra CLI overrides for every cell, after --, e.g. -- --data.init_args.num_workers=2")
    return p


def settings_from_args(ns: argparse.Namespace) -> Settings:
    smoke = ns.profile == "smoke"
    settings = Settings(
        task=ns.task, data=ns.data, root=ns.root,
        budget=parse_budget(ns.budget if ns.budget not in (None, "") else (1 if smoke else 60)),
        seeds=parse_seeds(ns.seeds if ns.seeds not in (None, "") else (1 if smoke else 3)), profile=ns.profile,
        trainer_config=ns.trainer_config or None, args=tuple(ns.args),
        out=Path(ns.out) if ns.out else default_out(ns.task, ns.data), isolate=ns.isolate,
        keep_checkpoints=ns.keep_checkpoints, wandb=ns.wandb,
    )  # fmt: skip
    settings.check()
    return settings


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_cell"]:
        return _cell_main(argv[1])
    ns = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(ns)
        methods = [m.strip() for m in ns.methods.split(",") if m.strip()] if ns.methods else None
        arms, skipped = task_arms(settings.task, settings.data, methods)
        store = Store(settings.out)
        cells = [Cell(arm, seed, settings.budget) for arm in arms
                 for seed in (settings.seeds if METHODS.entry(arm.method).trainable else settings.seeds[:1])]
        records = run_cells(cells, settings, store)
        md = write_leaderboard(store, settings, records, skipped)
    except SemcolorError as exc:
        print(f"leaderboard: error: {exc}", file=sys.stderr)
        return 2
    print(md.read_text())
    print(f"written: {md}, {md.with_suffix('.csv')}, {md.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
