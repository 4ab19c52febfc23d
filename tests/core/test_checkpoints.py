"""Checkpoints are read as data only, through one function, and written atomically."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from semcolor.checkpoints import TMP_SUFFIX, read_checkpoint, read_torch_file, write_checkpoint
from semcolor.cli.checkpoint_io import SafeCheckpointIO, use_safe_checkpoint_io
from semcolor.errors import SemcolorError

ROOT = Path(__file__).resolve().parents[2]
CODE = ["semcolor", "colorspace", "networks", "metrics", "palettes", "datamodules", "scenes", "lightning_modules",
        "widths", "cli", "benchmarks"]


class RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture(params=["zip", "legacy"])
def evil(request, tmp_path) -> Path:
    """A checkpoint whose unpickling would run ``touch MARKER`` (torch's zip format, or a bare pickle)."""
    path = tmp_path / "evil.ckpt"
    payload = {"state_dict": {}, "hyper_parameters": {"x": RunsCode(tmp_path / "MARKER")}}
    if request.param == "zip":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    return path


def test_a_pickle_that_would_run_code_is_refused_without_running(evil):
    with pytest.raises(SemcolorError, match=r"evil\.ckpt' is not a readable checkpoint") as info:
        read_checkpoint(evil)
    assert "weights_only" not in str(info.value)  # never the advice to load unsafely
    assert not (evil.parent / "MARKER").exists()
    try:  # the payload is real: unsafe loading runs it
        torch.load(evil, weights_only=False)
    except RuntimeError:  # a bare pickle is no torch file: pickle itself runs it
        pickle.loads(evil.read_bytes())
    assert (evil.parent / "MARKER").exists()


def test_lightning_resume_path_reads_through_the_safe_io(evil, tmp_path):
    """Trainer.fit(ckpt_path=...) (what --ckpt_path does) refuses it too, with the CLI's checkpoint I/O."""
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path)
    use_safe_checkpoint_io(trainer)
    assert isinstance(trainer.strategy.checkpoint_io, SafeCheckpointIO)
    with pytest.raises(SemcolorError, match="not a readable checkpoint"):
        trainer.strategy.load_checkpoint(evil)
    with pytest.raises(SemcolorError, match="weights_only=false"):
        trainer.strategy.load_checkpoint(evil, weights_only=False)
    assert not (evil.parent / "MARKER").exists()


def test_every_torch_load_in_the_code_is_the_one_in_semcolor_checkpoints():
    calls = []
    for top in CODE:
        for path in sorted((ROOT / top).rglob("*.py")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"\btorch\.load\(|\bpl_load\(|\b_load\(.*weights_only", line):
                    calls.append(str(path.relative_to(ROOT)))
    assert sorted(set(calls)) == ["semcolor/checkpoints.py"], calls
    code = (ROOT / "semcolor" / "checkpoints.py").read_text()
    assert code.count("torch.load(path, map_location=\"cpu\", weights_only=True)") == 1


def test_weights_files_go_through_the_same_reader(tmp_path):
    path = tmp_path / "vgg.pth"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(SemcolorError, match=r"vgg\.pth' is not a readable VGG weights file"):
        read_torch_file(path, "VGG weights file")
    with pytest.raises(SemcolorError, match="not found"):
        read_torch_file(tmp_path / "none.pth")


def test_write_is_atomic_and_cleans_up_after_a_failure(tmp_path, monkeypatch):
    path = tmp_path / "run" / "last.ckpt"
    write_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        write_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    assert path.read_bytes() == before  # the previous checkpoint untouched
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # no partial file left
    monkeypatch.undo()
    mode = os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # ordinary permissions (mkstemp would give 0600)


def test_temporary_names_never_look_like_checkpoints(tmp_path):
    """``--ckpt_path last`` and users glob ``*.ckpt``: a partial file must not match."""
    from semcolor.checkpoints import TMP_PREFIX

    name = f"{TMP_PREFIX}last.ckpt.123-abcd{TMP_SUFFIX}"
    assert not Path(name).match("*.ckpt") and name.startswith(".")


def test_why_not_lightnings_atomic_save(tmp_path, monkeypatch):
    """Lightning 2.6's ``_atomic_save`` (fsspec transaction) stages the bytes in the *system* temp folder
    and moves them: a copy onto the final name when that folder is another file system. Should this
    change, semcolor.checkpoints.write_checkpoint may be replaced by it."""
    import tempfile

    from lightning_fabric.utilities.cloud_io import _atomic_save

    staged: list[str] = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        staged.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    _atomic_save({"a": torch.ones(1)}, tmp_path / "x.ckpt")
    assert len(staged) == 1 and Path(staged[0]).parent == Path(tempfile.gettempdir()) != tmp_path
