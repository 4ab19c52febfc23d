"""make pd-curve: interpolated burstsr generators scored, P-D points, plots, AUR table; mismatched pairs refused."""

from __future__ import annotations

import csv

import pytest
import pytorch_lightning as pl
import yaml

from semcolor.cli.pd_curve import main
from semcolor.datamodules.textures import TexturesDataModule
from semcolor.errors import SemcolorError
from semcolor.lightning_modules.burstsr import BurstSRModule

TINY = dict(features=8, num_blocks=1, growth=4, d_features=8, image_size=32, perceptual_weight=0.0,
            distortion_epochs=1, adversarial_weight=0.1, lambda_l1=1.0, global_skip=True)
DATA = dict(scene_size=40, crop_size=32, train_scenes=2, val_scenes=1, test_scenes=3, batch_size=2)


def _run(tmp_path, name, n):
    run = tmp_path / name
    data = TexturesDataModule(root=str(tmp_path / "data"), num_frames=n, **DATA)
    pl.seed_everything(0)
    trainer = pl.Trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, default_root_dir=str(run))
    trainer.fit(BurstSRModule(num_frames=n, **TINY), datamodule=data)
    config = {"data": {"class_path": "semcolor.datamodules.textures.TexturesDataModule",
                       "init_args": {"root": str(tmp_path / "data"), "num_frames": None, **DATA}}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pd")
    return _run(tmp, "n2", 2), _run(tmp, "n3", 3)


def test_pd_curve_writes_points_plots_and_table(runs, tmp_path, capsys):
    n2, n3 = runs
    out = tmp_path / "pd"
    assert main(["--runs", str(n2), str(n3), "--alphas", "0", "0.5", "1", "--niqe-block", "8", "--out", str(out)]) == 0
    with open(out / "pd_points.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {r["num_frames"] for r in rows} == {"2", "3"}
    assert all(0 <= float(r["rmse"]) < 1 and float(r["brisque"]) >= 0 for r in rows)
    table = (out / "results.md").read_text()
    assert "AUR niqe" in table and table.count("\n| 2 |") + table.count("\n| 3 |") == 2
    for png in ("pd_plane.png", "aur_vs_burst_length.png"):
        assert (out / png).stat().st_size > 10_000
    assert main(["--ckpt-d", str(n2 / "distortion.ckpt"), "--ckpt-p", str(n2 / "perception.ckpt"), "--alphas", "0", "1",
                 "--niqe-block", "8", "--out", str(tmp_path / "one")]) == 0
    with pytest.raises(SemcolorError, match="not empty"):
        main(["--runs", str(n2), "--out", str(out)])


def test_interpolating_different_burst_lengths_is_refused(runs, tmp_path):
    n2, n3 = runs
    with pytest.raises(SemcolorError, match=r"cannot interpolate '.*n2/distortion\.ckpt' and '.*n3/perception\.ckpt': "
                                            r"different burst lengths \(num_frames 2 vs 3\)"):
        main(["--ckpt-d", str(n2 / "distortion.ckpt"), "--ckpt-p", str(n3 / "perception.ckpt"), "--out", str(tmp_path / "x")])
    with pytest.raises(SemcolorError, match="has no distortion.ckpt"):
        main(["--runs", str(tmp_path), "--out", str(tmp_path / "y")])
