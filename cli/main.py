"""The ``semcolor`` command: LightningCLI with method/dataset names, run folders and one-line errors.

Usage (the Makefile wraps these)::

    semcolor fit --method unet --data embedded [--config more.yaml] [--model.lr=3e-4] ...
    semcolor test --method unet --data embedded --ckpt_path ckpts/unet/<run>/last.ckpt
    semcolor fit --method unet --ckpt_path last          # resume the newest run of unet on embedded

``--method M --data D`` expand to ``--config experiments/trainer/default.yaml --config
experiments/M/D.yaml`` placed before every other argument, so later ``--config`` files and dotted
overrides win (LightningCLI applies them in order). Everything else is plain LightningCLI:
``fit / validate / test / predict``, ``--print_config``, jsonargparse overrides.

Each run writes into a fresh folder ``ckpts/<method>/<data>-<timestamp>/`` (``last.ckpt``, the best
checkpoint, ``config.yaml``, sample grids, the W&B offline run): earlier runs are never overwritten.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from rasterio.errors import RasterioError
from pytorch_lightning.cli import (
    LightningArgumentParser,
    LightningCLI,
    SaveConfigCallback,
)

from semcolor.checkpoints import read_checkpoint
from semcolor.cli.arg_errors import check_config_files, summarize
from semcolor.cli.callbacks import MetricsTable, RandomState, SampleGrid, StopOnNonFiniteLoss
from semcolor.cli.quiet import ModelSummary, silence_library_notices
from semcolor.cli.checkpoint_io import use_safe_checkpoint_io
from semcolor.cpu_memory import keep_freed_memory
from semcolor.datamodules.base import SemcolorDataModule
from semcolor.errors import SemcolorError, UnknownNameError
from semcolor.lightning_modules.base import SemcolorModule
from semcolor.paths import ckpts_dir, experiments_dir
from semcolor.registry import DATASETS, METHODS, current_hparams
from semcolor.run_files import write_environment

SUBCOMMANDS = ("fit", "validate", "test", "predict")


def available_data(method: str) -> list[str]:
    """Dataset names that have a config for ``method`` (``experiments/<method>/<data>.yaml``)."""
    folder = experiments_dir() / method
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def method_config(method: str, data: str) -> Path:
    """The ``experiments/<method>/<data>.yaml`` file, or an error listing what exists."""
    if not method or not (experiments_dir() / method).is_dir():
        METHODS.check(method)  # lists every registered method when the name is unknown
    path = experiments_dir() / method / f"{data}.yaml"
    if not path.is_file():
        known = available_data(method)
        raise UnknownNameError(
            f"unknown dataset {data!r} for method {method!r}; available: {', '.join(known) or 'none'}"
            f" (configs in {experiments_dir() / method})"
        )
    return path


def _pop_option(argv: list[str], name: str) -> str | None:
    """Remove ``--name value`` / ``--name=value`` from argv, returning the value (last one wins)."""
    value = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == name:
            if i + 1 >= len(argv):
                raise SemcolorError(f"{name} needs a value")
            value = argv[i + 1]
            del argv[i : i + 2]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
            del argv[i]
        else:
            i += 1
    return value


def expand_names(argv: list[str]) -> list[str]:
    """Turn ``--method`` / ``--data`` / ``--trainer_config`` into ``--config`` files after the subcommand."""
    argv = list(argv)
    method = _pop_option(argv, "--method")
    data = _pop_option(argv, "--data") or "embedded"
    trainer = _pop_option(argv, "--trainer_config")
    if method is None:
        if trainer is not None:
            raise SemcolorError("--trainer_config needs --method")
        return argv
    configs = [experiments_dir() / "trainer" / "default.yaml", method_config(method, data)]
    if trainer:
        extra = experiments_dir() / "trainer" / f"{trainer}.yaml"
        if not extra.is_file():
            known = sorted(p.stem for p in (experiments_dir() / "trainer").glob("*.yaml"))
            raise UnknownNameError(f"unknown trainer config {trainer!r}; available: {', '.join(known)}")
        configs.append(extra)
    sub = next((i for i, a in enumerate(argv) if a in SUBCOMMANDS), None)
    if sub is None:
        raise SemcolorError(f"give a subcommand first: one of {', '.join(SUBCOMMANDS)}")
    inserted = [x for cfg in configs for x in ("--config", str(cfg))]
    return argv[: sub + 1] + inserted + argv[sub + 1 :]


def wandb_configured() -> bool:
    """True when the user set up W&B (API key, login in ~/.netrc, or WANDB_MODE=online)."""
    if os.environ.get("WANDB_MODE", "").lower() in ("online", "run"):
        return True
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return "api.wandb.ai" in netrc.read_text()
    except OSError:
        return False


def new_run_dir(method: str, data: str, subcommand: str, name: str | None) -> Path:
    """A run folder that does not exist yet; shared by all DDP ranks through the environment.

    Lightning's DDP launcher re-executes this program for ranks > 0 with our environment, so the
    folder chosen by rank 0 travels in ``SEMCOLOR_RUN_DIR``; under torchrun/SLURM, whose processes
    start together, the job id makes the name identical on every rank.
    """
    inherited = os.environ.get("SEMCOLOR_RUN_DIR")
    if inherited and int(os.environ.get("LOCAL_RANK", "0")) > 0:  # a DDP child of our launcher
        return Path(inherited)
    job = os.environ.get("SLURM_JOB_ID") or os.environ.get("TORCHELASTIC_RUN_ID")
    job = job if job and job != "none" else None
    stamp = f"job{job}" if job else time.strftime("%Y%m%d-%H%M%S")
    default = f"{data}-{stamp}" if subcommand == "fit" else f"{data}-{subcommand}-{stamp}"
    base = name or default
    parent = ckpts_dir() / method
    run_dir, n = parent / base, 1
    while run_dir.exists() and not job:  # never reuse an earlier run's folder
        n += 1
        run_dir = parent / f"{base}-{n}"
    os.environ["SEMCOLOR_RUN_DIR"] = str(run_dir)
    return run_dir


def latest_checkpoint(method: str, data: str) -> Path:
    """``last.ckpt`` of the newest run of ``method`` on ``data`` (for ``--ckpt_path last``)."""
    candidates = sorted(
        (ckpts_dir() / method).glob(f"{data}-*/last.ckpt"), key=lambda p: p.stat().st_mtime
    )
    if not candidates:
        raise SemcolorError(
            f"--ckpt_path last: no earlier run of {method!r} on {data!r} with a last.ckpt under"
            f" {ckpts_dir() / method}/{data}-*/"
        )
    return candidates[-1]


def check_checkpoint(path: Path, model_cls: type) -> dict[str, Any]:
    """The hyper-parameters of the checkpoint at ``path``, refused when another method wrote it (naming
    both classes). Class paths and argument names of earlier versions are translated to today's."""
    saved = dict(read_checkpoint(path).get("hyper_parameters") or {})
    hparams = current_hparams(saved)
    wanted = f"{model_cls.__module__}.{model_cls.__qualname__}"
    if hparams.get("_class_path") not in (None, wanted):
        raise SemcolorError(f"checkpoint '{path}' was written by {saved['_class_path']}, not by {wanted}")
    return hparams


class RunConfig(SaveConfigCallback):
    """Writes the resolved ``config.yaml`` into the run folder and pushes it to W&B, nested, once."""

    def __init__(self, *args: Any, run_dir: Path, **kwargs: Any) -> None:
        super().__init__(*args, save_to_log_dir=False, **kwargs)
        self.run_dir = run_dir

    def save_config(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.parser.save(
            self.config, self.run_dir / self.config_filename, skip_none=False, overwrite=True,
            multifile=False,
        )
        from pytorch_lightning.loggers import WandbLogger

        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.config.update(self.config.clone().as_dict(), allow_val_change=True)
                logger.experiment.save(str(self.run_dir / self.config_filename), base_path=str(self.run_dir),
                                       policy="now")


class SemcolorArgumentParser(LightningArgumentParser):
    """LightningCLI's parser, whose refusals of misspelt options are one line naming the option, the
    class and the closest valid names (:func:`semcolor.cli.arg_errors.summarize`)."""

    def error(self, message: str, ex: Exception | None = None) -> Any:
        if self.exit_on_error:  # nested parsers that raise instead of exiting keep jsonargparse's behaviour
            line = summarize(message, getattr(ex, "subcommand_parser", None) or self)
            if line is not None:
                raise SemcolorError(line)
        return super().error(message, ex)


class SemcolorCLI(LightningCLI):
    """LightningCLI over every registered method and DataModule (subclass mode)."""

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        self.run_dir: Path | None = None
        super().__init__(
            model_class=SemcolorModule,
            subclass_mode_model=True,
            datamodule_class=SemcolorDataModule,
            subclass_mode_data=True,
            save_config_callback=None,  # RunConfig is added per run in before_instantiate_classes
            seed_everything_default=0,
            parser_class=SemcolorArgumentParser,
            args=args,
            run=run,
            parser_kwargs={"description": __doc__.split("\n")[0]},
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--run_name", type=str | None, default=None,
                            help="Name of the run folder under ckpts/<method>/ (default <data>-<time>).")

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except (OSError, RasterioError) as exc:  # a write error while writing a scene (disk full, quota, limit)
            from semcolor.scenes.writer import SceneWriter

            writer = next((cb for cb in self.trainer.callbacks if isinstance(cb, SceneWriter)), None)
            if writer is None or isinstance(exc, SemcolorError):
                raise
            raise SemcolorError(
                f"cannot write '{writer.output}': {_write_failure(exc)}; nothing was written to OUTPUT (the "
                f"temporary files next to it were removed) and the input is untouched") from exc
        except ValueError as exc:  # BatchNorm given one value per channel: a batch of one sample
            if "Expected more than 1 value per channel when training" not in str(exc) or not isinstance(
                    self.datamodule, SemcolorDataModule):
                raise
            _, smallest = self.datamodule.smallest_batch("train")
            raise SemcolorError(
                f"{self.datamodule.split_description('train')}, so a training batch holds {smallest}: the network's "
                f"BatchNorm layers need at least 2 samples per training batch; give a train split of 2 or more "
                f"samples") from exc

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """Lightning's trainer, whose checkpoint reads are data-only and whose writes are atomic
        (:class:`~semcolor.cli.checkpoint_io.SafeCheckpointIO`: resuming with ``--ckpt_path`` included)."""
        trainer = super().instantiate_trainer(**kwargs)
        use_safe_checkpoint_io(trainer)
        return trainer

    # -- names of what runs ----------------------------------------------------------------------
    def _sub(self) -> Namespace:
        return self.config[self.config["subcommand"]] if "subcommand" in self.config else self.config

    def _model_cls(self) -> type:
        import importlib

        path = self._sub().model.class_path
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)

    def _names(self) -> tuple[str, str]:
        import importlib

        model_cls = self._model_cls()
        method = METHODS.name_of(model_cls) or model_cls.__name__.lower()
        data_path = self._sub().data.class_path
        module, _, name = data_path.rpartition(".")
        data_cls = getattr(importlib.import_module(module), name)
        data = DATASETS.name_of(data_cls) or data_cls.__name__.lower()
        return method, data

    # -- hooks -------------------------------------------------------------------------------------
    def _parse_ckpt_path(self) -> None:
        sub = self._sub()
        ckpt = sub.get("ckpt_path") if "subcommand" in self.config else None
        if ckpt:
            method, data = self._names()
            path = latest_checkpoint(method, data) if ckpt == "last" else Path(ckpt)
            hparams = check_checkpoint(path, self._model_cls())
            sub.ckpt_path = str(path)
            self._merge_checkpoint_hparams(hparams)

    def _merge_checkpoint_hparams(self, hparams: dict[str, Any]) -> None:
        """What LightningCLI's ``_parse_ckpt_path`` does (the model's saved init arguments override the
        config), from the hyper-parameters :func:`check_checkpoint` read and translated."""
        hparams.pop("_instantiator", None)
        if not hparams:
            return
        if "_class_path" in hparams:
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        self.config = self.parser.parse_object({self.config.subcommand: {"model": hparams}}, self.config)

    def before_instantiate_classes(self) -> None:
        if "subcommand" not in self.config:
            return
        subcommand = self.config["subcommand"]
        sub = self._sub()
        method, data = self._names()
        entry = METHODS.entry(method) if METHODS.name_of(self._model_cls()) else None
        if subcommand == "fit" and entry is not None and not entry.trainable:
            raise SemcolorError(f"{method} is training-free: there is nothing to fit; run `make eval METHOD={method}`"
                                f" (semcolor test) or predict")
        self.run_dir = run_dir = new_run_dir(method, data, subcommand, sub.get("run_name"))
        if not sub.trainer.get("fast_dev_run"):
            run_dir.mkdir(parents=True, exist_ok=True)
            if int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("RANK", "0")) == 0:
                write_environment(run_dir)  # versions, threads: what the numbers depend on besides the config
        model_cls = self._model_cls()
        metric, mode = model_cls.monitor
        callbacks: list[Any] = [MetricsTable(run_dir), SampleGrid(run_dir / "samples")]
        if sub.trainer.get("enable_progress_bar") is not False:
            from pytorch_lightning.callbacks import RichProgressBar

            callbacks.append(RichProgressBar())
        if sub.trainer.get("enable_model_summary") is not False:
            callbacks.append(ModelSummary())  # Lightning's, without "Total FLOPs: 0" (semcolor/cli/quiet.py)
        if subcommand == "fit":
            from pytorch_lightning.callbacks import ModelCheckpoint

            callbacks += [RandomState(), StopOnNonFiniteLoss()]  # exact resume; stop at a NaN loss

            callbacks.append(ModelCheckpoint(
                dirpath=run_dir, filename="best-epoch{epoch:03d}", monitor=metric, mode=mode,
                save_top_k=1, save_last=False, auto_insert_metric_name=False,
            ))
            # last.ckpt after every epoch: Lightning 2.6's save_last writes it only when the monitored metric
            # improved (then it is the best epoch, and --ckpt_path=last would resume from there)
            callbacks.append(ModelCheckpoint(dirpath=run_dir, filename="last", monitor=None, save_top_k=1,
                                             enable_version_counter=False))
        if not sub.trainer.get("fast_dev_run"):
            callbacks.append(RunConfig(self._parser(subcommand), sub, run_dir=run_dir, overwrite=True))
        self.trainer_defaults["callbacks"] = callbacks
        if sub.trainer.get("logger") in (None, True):
            sub.trainer.logger = self._default_logger(method, data, run_dir)
        if sub.trainer.get("default_root_dir") is None:
            sub.trainer.default_root_dir = str(run_dir)

    @staticmethod
    def _default_logger(method: str, data: str, run_dir: Path) -> Namespace | bool:
        """W&B, offline unless the user configured it; never prompts. WANDB_MODE=disabled turns it off."""
        if os.environ.get("WANDB_MODE", "").lower() == "disabled":
            return False
        online = wandb_configured()
        os.environ.setdefault("WANDB_SILENT", "true")
        if not online:
            os.environ.setdefault("WANDB_MODE", "offline")
        return Namespace(
            class_path="semcolor.cli.quiet.WandbLogger",  # Lightning's, without wandb's "anonymous" warning
            init_args=Namespace(
                name=run_dir.name, save_dir=str(run_dir), offline=not online,
                project=os.environ.get("WANDB_PROJECT", "semcolor"), group=method, tags=[method, data],
                log_model=False,
            ),
        )


def _quiet_known_warnings() -> None:
    """Silence warnings that are expected with this CLI's design and would only confuse users."""
    import warnings

    # run folders are created before the checkpoint callback writes into them (config.yaml first)
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    # main() hands LightningCLI the expanded argv, which differs from sys.argv by design
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
    silence_library_notices()  # litlogger tip, torch's _pytree deprecation (semcolor/cli/quiet.py)


def _init_error(exc: BaseException) -> BaseException | None:
    """The error a model / DataModule / callback ``__init__`` raised, when ``exc`` is jsonargparse's
    wrapper of it ("Does not validate against any of the Union subtypes"); None otherwise."""
    if "Does not validate against any of the" not in str(exc) or exc.__cause__ is None:
        return None
    cause: BaseException = exc.__cause__
    while cause.__cause__ is not None:
        cause = cause.__cause__
    return cause


def _write_failure(exc: BaseException) -> str:
    """What went wrong in a failed write, from the exception and its causes: the operating system's reason
    (no space left on device, file too large) when one is there, else GDAL's message."""
    messages, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        messages.append(exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip())
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    reasons = ("No space left", "File too large", "Disk quota", "Read-only file system", "Permission denied")
    hit = next((m for m in messages for r in reasons if r in m), None)
    return (hit or next((m for m in messages if m), "write error")).splitlines()[0][:300]


def _worker_error(exc: BaseException) -> str | None:
    """The one-line message of a :class:`SemcolorError` raised in a DataLoader worker: torch re-raises it in
    the main process as ``type(exc)(text)`` (or a ``RuntimeError`` when that constructor needs more
    arguments) whose text is "Caught X in DataLoader worker process N" plus the worker's traceback."""
    text = str(exc)
    if "in DataLoader worker process" not in text or "Original Traceback" not in text:
        return None
    last = next((line for line in reversed(text.splitlines()) if line.strip()), "")
    name, _, message = last.partition(": ")
    return message.strip() if name.startswith("semcolor.") and message else None


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``semcolor`` and ``python -m semcolor``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet_known_warnings()
    keep_freed_memory()  # CPU batches reuse freed buffers instead of page-faulting them (cpu_memory.py)
    try:
        args = expand_names(argv)
        check_config_files(args)  # read as data first: a file that is not a YAML mapping is named
        SemcolorCLI(args=args)
    except SemcolorError as exc:
        print(f"semcolor: error: {_worker_error(exc) or exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except ValueError as exc:  # jsonargparse wraps what a class's __init__ raised while building it
        cause = _init_error(exc)
        if cause is None:
            raise
        text = (str(cause).strip().splitlines() or [""])[0][:500]
        if not isinstance(cause, SemcolorError):
            text = f"{type(cause).__name__}: {text}"
        print(f"semcolor: error: {text}", file=sys.stderr)
        raise SystemExit(2) from None
    except RuntimeError as exc:  # a checkpoint whose tensors do not fit the configured network
        worker = _worker_error(exc)  # or a SemcolorError of a DataLoader worker that torch could not rebuild
        if worker is not None:
            print(f"semcolor: error: {worker}", file=sys.stderr)
            raise SystemExit(2) from None
        if "Error(s) in loading state_dict" not in str(exc):
            raise
        first = str(exc).splitlines()[0]
        print(f"semcolor: error: checkpoint does not match the configured model: {first}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
