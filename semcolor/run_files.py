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
