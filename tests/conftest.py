"""Shared test settings: runs and data go to temporary folders; W&B is off unless a test turns it on."""

from __future__ import annotations

import os

import pytest

# Small, fast embedded data for every CLI test (the default config trains on bigger scenes).
TINY_EMBEDDED = [
    "--data.init_args.scene_size=128",
    "--data.init_args.train_scenes=2",
    "--data.init_args.val_scenes=1",
    "--data.init_args.test_scenes=1",
    "--data.init_args.batch_size=4",
]


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One generated-data folder for the whole session (the embedded cache is reused across tests)."""
    return str(tmp_path_factory.mktemp("data"))


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, data_root, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SEMCOLOR_CKPTS", str(tmp_path / "ckpts"))
    monkeypatch.setenv("SEMCOLOR_DATA", data_root)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.delenv("SEMCOLOR_RUN_DIR", raising=False)
    yield
    os.environ.pop("SEMCOLOR_RUN_DIR", None)
