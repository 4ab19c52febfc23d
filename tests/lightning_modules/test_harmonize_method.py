"""harmonize / charmony through Lightning: the paper's table written next to the run, predict writing
PNGs without touching inputs or overwriting outputs, bad options refused in one line."""

from __future__ import annotations

import csv
import hashlib
import warnings

import pytest
import pytorch_lightning as pl
import torch

from semcolor.datamodules.photos import ImageFolderDataModule
from semcolor.errors import SemcolorError
from semcolor.lightning_modules.harmonize import CHarmonyModule, HarmonizeModule, results_tables
from semcolor.registry import METHODS
from tests.cli_helpers import run_cli
from tests.fakes.photos import make_fake_photo_folder


def _trainer(tmp_path):
    return pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                      enable_checkpointing=False, default_root_dir=str(tmp_path), enable_model_summary=False)


def _digests(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_registered_training_free():
    assert not METHODS.entry("harmonize").trainable and not METHODS.entry("charmony").trainable
    assert "harmonize" in METHODS.entry("harmonize").tasks


def test_test_writes_the_table_of_three_rows(tmp_path, monkeypatch):
    fake = make_fake_photo_folder(tmp_path / "photos")
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setenv("SEMCOLOR_RUN_DIR", str(run))
    before = _digests(fake.root)
    model = HarmonizeModule()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _trainer(run).test(model, datamodule=ImageFolderDataModule(root=str(fake.root), short_side=192, limit=2),
                          verbose=False)
    assert _digests(fake.root) == before  # inputs never modified
    rows = list(csv.DictReader((run / "harmony_results.csv").open()))
    assert [r["method"] for r in rows] == ["identity", "charmony", "harmonize"]
    assert set(rows[0]) == {"method", "niqe", "brisque", "f_score", "mits", "pit"}
    vals = {r["method"]: {k: float(v) for k, v in r.items() if k != "method"} for r in rows}
    assert vals["charmony"]["pit"] > 99.0 and vals["charmony"]["f_score"] <= vals["identity"]["f_score"]
    assert vals["harmonize"]["mits"] > vals["identity"]["mits"]
    md = (run / "harmony_results.md").read_text()
    assert "| C-Harmony |" in md and "NIQE" in md and "Tables 4.1-4.2" in md


def test_predict_writes_pngs_and_keeps_existing_files(tmp_path):
    fake = make_fake_photo_folder(tmp_path / "photos")
    out = tmp_path / "out"
    model = CHarmonyModule(output_dir=str(out), quality_metrics=False)
    dm = ImageFolderDataModule(root=str(fake.root), short_side=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preds = _trainer(tmp_path).predict(model, datamodule=dm)
    assert len(preds) == 4 and (out / "holiday" / "beach.png").is_file()
    with pytest.raises(SemcolorError, match="exists"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _trainer(tmp_path).predict(model, datamodule=dm)


def test_gray_input_passes_through_unchanged():
    gray = torch.linspace(0, 1, 96 * 128).reshape(1, 1, 96, 128).expand(1, 3, 96, 128).contiguous()
    gray = torch.round(gray * 255) / 255
    out = HarmonizeModule(quality_metrics=False).harmonize_batch(gray)
    torch.testing.assert_close(out, gray, atol=1e-6, rtol=0)


def test_scene_window_batches_work():
    x = torch.rand(1, 3, 64, 64)
    assert HarmonizeModule().predict_step({"input": x}, 0).shape == x.shape


def test_bad_options_are_one_line_errors():
    with pytest.raises(SemcolorError, match="similarity"):
        HarmonizeModule(similarity="cosine")
    with pytest.raises(SemcolorError, match="not available"):
        HarmonizeModule(naming="parraga2009")
    with pytest.raises(SemcolorError, match="templates"):
        CHarmonyModule(templates=("Q",))


def test_fit_is_refused(capsys):
    code, _, err = run_cli(["fit", "--method", "harmonize"], capsys)
    assert code == 2 and "training-free" in err


def test_results_table_layout():
    md, table = results_tables({"identity": {"niqe": 3.5, "brisque": 40.0, "f_score": 312.4, "mits": 0.5, "pit": 98.6}})
    assert "| input | 3.500 | 40.00 | 312 | 0.500 | 98.60 |" in md
    assert table.splitlines()[0] == "method,niqe,brisque,f_score,mits,pit"
