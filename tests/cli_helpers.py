"""Run the CLI in-process and capture its exit code and output."""

from __future__ import annotations

import pytest

from semcolor.cli.main import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(args)`` -> (exit code, stdout, stderr); 0 when it returns normally."""
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    out, err = capsys.readouterr()
    return code, out, err
