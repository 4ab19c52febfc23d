"""Files a run writes into its run folder that other tools read back (results tables, leaderboards)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

METRICS_FILE = "test_metrics.json"


def scalar_metrics(metrics: Mapping[str, Any], prefix: str = "test_") -> dict[str, float]:
    """``{name: float}`` of the scalar entries whose key starts with ``prefix`` (prefix kept)."""
    out = {}
    for key, value in metrics.items():
        if not key.startswith(prefix):
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):  # non-scalar tensors, dicts
            continue
    return out


def write_test_metrics(trainer: Any, folder: str | Path | None = None, **extra: Any) -> Path | None:
    """Write the trainer's ``test_*`` scalars to ``<run folder>/test_metrics.json``.

    The run folder is ``folder``, else the CLI's run folder (``$SEMCOLOR_RUN_DIR``); without either
    (a plain ``Trainer`` in a script or test) nothing is written, so no file lands in the working
    directory. Skipped (None) for ``fast_dev_run`` and on ranks other than 0.
    """
    if getattr(trainer, "fast_dev_run", False) or not getattr(trainer, "is_global_zero", True):
        return None
    folder = folder or os.environ.get("SEMCOLOR_RUN_DIR")
    if not folder:
        return None
    path = Path(folder) / METRICS_FILE
    model = getattr(trainer, "lightning_module", None)
    record = {
        "class_path": f"{type(model).__module__}.{type(model).__qualname__}" if model is not None else None,
        "ckpt_path": str(trainer.ckpt_path) if getattr(trainer, "ckpt_path", None) else None,
        **extra,
        "metrics": scalar_metrics(trainer.callback_metrics),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True))
    return path


ENVIRONMENT_FILE = "environment.json"
#: distributions whose versions decide a run's numbers (or its data), recorded in every run folder
RECORDED_PACKAGES = ("torch", "torchvision", "pytorch-lightning", "torchmetrics", "timm",
                     "segmentation-models-pytorch", "albumentations", "albucore", "numpy", "kornia", "rasterio",
                     "pillow", "opencv-python-headless", "scikit-image", "jsonargparse")


def environment() -> dict[str, Any]:
    """What a run's numbers depend on besides its config and seed: resolved package versions, Python,
    the machine, torch's thread counts and math libraries, the determinism settings."""
    import importlib.metadata as md
    import platform

    import torch

    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    threads = {"torch_intra_op": torch.get_num_threads(), "torch_inter_op": torch.get_num_interop_threads(),
               "cpu_count": os.cpu_count(),
               "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}
    threads |= {var: os.environ[var] for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if var in os.environ}
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "packages": versions,
        "threads": threads,
        "torch_build": {"version": torch.__version__, "mkl": torch.backends.mkl.is_available(), "mkldnn": torch.backends.mkldnn.is_available(),
                        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()
                        if torch.backends.cudnn.is_available() else None},
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def write_environment(folder: str | Path) -> Path:
    """Write :func:`environment` to ``<folder>/environment.json`` (the CLI does at the start of every run)."""
    path = Path(folder) / ENVIRONMENT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(environment(), indent=2, sort_keys=True))
    return path
