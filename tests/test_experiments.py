"""Every experiment config runs end to end through the CLI (fast_dev_run) on generated data.

Each dataset name maps to a function that writes a tiny fake copy in the released layout and
returns the CLI arguments that point the DataModule at it; a config whose dataset has no entry
here fails, so a new dataset cannot land untested.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lightning_modules.cli import experiments_dir
from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED

FakeData = Callable[[Path], list[str]]

FAKE_DATA: dict[str, FakeData] = {
    "embedded": lambda tmp: list(TINY_EMBEDDED),
}


def all_configs() -> list[tuple[str, str]]:
    return sorted(
        (cfg.parent.name, cfg.stem)
        for cfg in experiments_dir().glob("*/*.yaml")
        if cfg.parent.name not in ("trainer", "sweeps")
    )


@pytest.mark.parametrize(("method", "data"), all_configs(), ids=lambda x: x)
def test_fast_dev_run(method, data, tmp_path, capsys):
    data_name = data.split("-")[0]  # ablation variants are named <data>-<variant>.yaml
    assert data_name in FAKE_DATA, f"no fake data generator for dataset {data_name!r} in tests/"
    extra = FAKE_DATA[data_name](tmp_path / "fake")
    code, _, err = run_cli(["fit", "--method", method, "--data", data, "--trainer.fast_dev_run=true",
                            "--trainer.logger=false", *extra], capsys)
    assert code == 0, err
