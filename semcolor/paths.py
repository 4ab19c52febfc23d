"""Where the suite reads configs and writes runs and data, each overridable by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

#: the repository (the folder holding ``experiments/``, ``ckpts/``, ``pyproject.toml``)
REPO_ROOT = Path(__file__).resolve().parents[1]


def experiments_dir() -> Path:
    """Folder of the YAML configs: ``$SEMCOLOR_EXPERIMENTS``, else the repository's ``experiments/``."""
    return Path(os.environ.get("SEMCOLOR_EXPERIMENTS", REPO_ROOT / "experiments"))


def ckpts_dir() -> Path:
    """Root of run folders: ``$SEMCOLOR_CKPTS``, else ``./ckpts`` in the working directory."""
    return Path(os.environ.get("SEMCOLOR_CKPTS", "ckpts"))
