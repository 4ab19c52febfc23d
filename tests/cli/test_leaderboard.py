"""The leaderboard: a smoke run end to end, resuming, a changed setting, and every bad input."""

from __future__ import annotations

import json

import pytest

from semcolor.cli import leaderboard as lb
from semcolor.registry import METHODS


def _run(args, capsys):
    code = lb.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_arms_follow_the_registry_and_the_task():
    arms, _ = lb.task_arms("colorize")
    chosen = {a.method: a.config for a in arms}
    assert chosen["unet"] == "embedded-colorize"  # unet/embedded.yaml is the balance variant
    assert set(chosen) <= set(METHODS.available("colorize"))
    arms, _ = lb.task_arms("balance")
    names = {a.method for a in arms}
    assert {"unet", "secbnet", "hist_match", "reinhard", "wallis", "gain_offset"} <= names
    assert {a.config for a in arms if a.method == "unet"} == {"embedded"}


def test_smoke_leaderboard_resumes_and_reruns_only_what_changed(tmp_path, capsys):
    out = tmp_path / "balance"
    args = ["--task", "balance", "--profile", "smoke", "--methods", "unet,wallis,gain_offset", "--out", str(out)]
    code, text, err = _run(args, capsys)
    assert code == 0, err
    cells = sorted((out / "cells").glob("*.json"))
    assert len(cells) == 3
    records = [json.loads(p.read_text()) for p in cells]
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    unet = next(r for r in records if r["method"] == "unet")
    assert unet["budget"] == 1 and unet["train"]["batches"] >= 1 and unet["params"]["trainable"] > 0
    assert unet["tested"] in ("best", "last") and not list((out / "runs").rglob("*.ckpt"))  # checkpoints removed
    md = (out / "leaderboard.md").read_text()
    for name in ("unet", "wallis", "gain_offset", "input (identity)", "psnr"):
        assert name in md
    assert (out / "leaderboard.csv").read_text().startswith("method,")
    assert (out / "leaderboard.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(out.rglob("*.tmp"))
    mtimes = {p.name: p.stat().st_mtime_ns for p in cells}

    code, text, err = _run(args, capsys)  # again: nothing runs
    assert code == 0 and "3 already done, 0 to run" in text
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")} == mtimes

    code, text, err = _run([*args, "--budget", "2"], capsys)  # a changed budget touches the trained method only
    assert code == 0 and "2 already done, 1 to run" in text
    assert len(list((out / "cells").glob("*.json"))) == 4


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "paint"], "unknown task 'paint'"),
    (["--task", "balance", "--methods", "wiconet"], "method 'wiconet' cannot do task 'balance'"),
    (["--task", "balance", "--methods", "nosuch"], "unknown method 'nosuch'"),
    (["--task", "balance", "--budget", "0"], "BUDGET must be a whole number of seconds >= 1"),
    (["--task", "balance", "--budget", "1.5"], "BUDGET must be a whole number of seconds >= 1"),
    (["--task", "balance", "--seeds", "0"], "SEEDS must be at least 1"),
    (["--task", "balance", "--profile", "huge"], "unknown profile"),
    (["--task", "balance", "--trainer_config", "tpu"], "unknown trainer config 'tpu'"),
])
def test_bad_input_is_one_line(args, message, tmp_path, capsys):
    code, _, err = _run([*args, "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_a_folder_of_another_version_or_of_something_else_is_refused(tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    (old / lb.MANIFEST).write_text(json.dumps({"format": 0, "kind": "leaderboard"}))
    code, _, err = _run(["--task", "balance", "--methods", "wallis", "--profile", "smoke", "--out", str(old)], capsys)
    assert code == 2 and "written by another version of the settings" in err
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, _, err = _run(["--task", "balance", "--methods", "wallis", "--profile", "smoke", "--out", str(other)], capsys)
    assert code == 2 and "is not a leaderboard results folder" in err
    assert (other / "notes.txt").read_text() == "keep me" and len(list(other.iterdir())) == 1


def test_a_real_dataset_root(tmp_path, capsys):
    """DATA= and a root: the methods with a config for that dataset, pointed at the root (fake ZHCBI)."""
    from tests.fakes.remote_sensing import make_fake_zhcbi

    arms, skipped = lb.task_arms("balance", "zhcbi")
    assert {a.method for a in arms} >= {"unet", "secbnet", "wallis"} and all(a.config == "zhcbi" for a in arms)
    root = make_fake_zhcbi(tmp_path / "zhcbi").root
    out = tmp_path / "r"
    code, text, err = _run(["--task", "balance", "--data", "zhcbi", "--root", str(root), "--methods", "wallis",
                            "--profile", "smoke", "--out", str(out), "--", "--data.init_args.tile_size=64",
                            "--data.init_args.num_workers=0"], capsys)
    assert code == 0, err
    record = json.loads(next((out / "cells").glob("*.json")).read_text())
    assert record["status"] == "ok" and str(root) in record["resolved_config"]
    assert "balance on zhcbi" in (out / "leaderboard.md").read_text()
