"""Whole-scene prediction: SceneDataModule -> model -> SceneWriter -> GeoTIFF, and the CLI path."""

from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import rasterio
import torch
from rasterio.transform import from_origin
from torch import nn

from semcolor.errors import CorruptFileError, DatasetLayoutError, SemcolorError
from semcolor.lightning_modules.base import ImageToImageModule
from semcolor.scenes.blending import BLEND_MODES
from semcolor.scenes.datamodule import SceneDataModule, SceneGrid
from semcolor.scenes.seams import seam_ratio_file
from semcolor.scenes.writer import OutputError, SceneWriter
from tests.cli_helpers import run_cli

CRS = "EPSG:32650"  # UTM 50N (Zhuhai, where ZHCBI was taken)
TRANSFORM = from_origin(716000.0, 2470000.0, 2.0, 2.0)


# ----------------------------------------------------------------------------------------------
# tiny models
# ----------------------------------------------------------------------------------------------
class Identity(ImageToImageModule):
    """Returns its input: a stitched scene must equal the input scene."""

    predict_tiling = (64, 16)

    def configure_models(self) -> None:
        self.network = nn.Identity()

    def configure_metrics(self) -> None:  # nothing to score in predict
        pass


class RGBIdentity(Identity):
    """Declares its input bands like the real methods do (``hparams.in_channels``)."""

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()


class TileOffset(Identity):
    """Adds a pseudo-random colour offset per window (a function of the window's content)."""

    def forward(self, x):  # type: ignore[override]
        key = torch.frac(x.mean(dim=(1, 2, 3), keepdim=True) * 9973.0)
        return (x + 0.3 * (key - 0.5)).clamp(0, 1)


class Boom(Identity):
    """Fails on its third batch, like a crash in the middle of a scene."""

    def forward(self, x):  # type: ignore[override]
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            raise RuntimeError("boom in the middle of the scene")
        return x


class Reflectance16(Identity):
    """A '16-bit model': trained on (DN - 1000) / 10000; returns its input times 2 (still in [0, 1])."""

    input_scaling = (1000.0, 10000.0)

    def forward(self, x):  # type: ignore[override]
        return x * 2.0


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def write_scene(path: Path, data: np.ndarray, nodata: float | None = 0, descriptions=None, **extra) -> Path:
    count, h, w = data.shape
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=count, dtype=data.dtype.name,
                       crs=CRS, transform=TRANSFORM, nodata=nodata, tiled=True, blockxsize=64,
                       blockysize=64, **extra) as dst:
        dst.write(data)
        for b, d in enumerate(descriptions or (), start=1):
            dst.set_band_description(b, d)
    return path


def random_scene(h: int, w: int, count: int = 3, seed: int = 0, dtype=np.uint8, hole: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    data = rng.integers(1, top, (count, h, w), dtype=dtype)
    if hole:
        data[:, : h // 5, : w // 7] = 0  # a nodata corner
    return data


def smooth_scene(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.5 + 0.2 * np.sin(x / 37.0) * np.cos(y / 53.0)
    return np.stack([base, base * 0.9, 1 - base]).__mul__(255).round().clip(1, 255).astype(np.uint8)


def predict(model: pl.LightningModule, src: Path, out: Path, *, data: dict | None = None, **writer) -> SceneWriter:
    dm = SceneDataModule(str(src), **{"batch_size": 5, **(data or {})})
    cb = SceneWriter(str(out), progress=False, **writer)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[cb])
    trainer.predict(model, datamodule=dm)
    return cb


def expected_uint8(data: np.ndarray, nodata: int = 0) -> np.ndarray:
    """What the writer makes of an identity prediction: valid pixels equal to nodata move by one."""
    out = data.copy()
    valid = ~(data == nodata).all(0)
    out[(out == nodata) & valid[None]] = nodata + 1
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------------------------
# exactness: weights sum to one everywhere, in every mode, at odd sizes
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("blend", BLEND_MODES)
def test_identity_model_reproduces_the_scene_exactly(tmp_path, blend):
    data = random_scene(1000, 777)
    src = write_scene(tmp_path / "in.tif", data)
    out = tmp_path / "out.tif"
    predict(Identity(), src, out, blend=blend, data={"tile_size": 128, "overlap": 40})
    with rasterio.open(out) as res:
        np.testing.assert_array_equal(res.read(), expected_uint8(data))


@pytest.mark.parametrize(("h", "w", "tile", "overlap"), [(97, 130, 64, 16), (50, 70, 64, 16), (64, 200, 64, 0),
                                                         (131, 67, 32, 20), (40, 1100, 32, 8)])  # > CHUNK wide
@pytest.mark.parametrize("blend", BLEND_MODES)
def test_odd_sizes_and_scenes_smaller_than_a_tile(tmp_path, h, w, tile, overlap, blend):
    data = random_scene(h, w, hole=False)
    src = write_scene(tmp_path / "in.tif", data, nodata=None)
    out = tmp_path / "out.tif"
    predict(Identity(), src, out, blend=blend, data={"tile_size": tile, "overlap": overlap}, dtype="float32")
    with rasterio.open(out) as res:
        assert (res.height, res.width) == (h, w)
        np.testing.assert_allclose(res.read(), data / np.float32(255), rtol=0, atol=1e-6)


def test_round_trip_keeps_georeferencing_nodata_and_band_names(tmp_path):
    data = random_scene(300, 250)
    src = write_scene(tmp_path / "in.tif", data, descriptions=("red", "green", "blue"))
    out = tmp_path / "out.tif"
    cb = predict(Identity(), src, out)
    with rasterio.open(src) as a, rasterio.open(out) as b:
        assert b.crs == a.crs and b.crs.to_epsg() == 32650
        assert b.transform == a.transform
        assert (b.height, b.width, b.count) == (a.height, a.width, 3)
        assert b.nodata == a.nodata == 0
        assert b.descriptions == ("red", "green", "blue")
        assert b.profile["tiled"] and b.compression is not None
        result = b.read()
    valid = ~(data == 0).all(0)
    assert (result[:, ~valid] == 0).all()  # nodata stays nodata
    assert (result[:, valid] != 0).any(axis=0).all()  # and no valid pixel became nodata
    np.testing.assert_array_equal(result, expected_uint8(data))
    assert cb.stats["windows"] == len(SceneGrid.build(300, 250, 64, 16)) and cb.stats["windows_per_s"] > 0
    assert leftovers(tmp_path) == []


def test_band_selection_nir_rgb_to_rgb(tmp_path):
    data = random_scene(100, 90, count=4, hole=False)
    src = write_scene(tmp_path / "nirrgb.tif", data, nodata=None)  # no descriptions: NIR, R, G, B assumed
    out = tmp_path / "rgb.tif"
    predict(Identity(), src, out, data={"bands": ["R", "G", "B"]})
    with rasterio.open(out) as res:
        np.testing.assert_array_equal(res.read(), data[1:])
        assert res.descriptions == ("R", "G", "B") and res.nodata is None


def test_cog_output(tmp_path):
    data = random_scene(600, 520)
    src = write_scene(tmp_path / "in.tif", data, descriptions=("R", "G", "B"))
    out = tmp_path / "out.tif"
    predict(Identity(), src, out, cog=True, block_size=128)
    with rasterio.open(out) as res:
        assert res.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert res.overviews(1)  # COG with overviews
        assert res.block_shapes[0] == (128, 128)
        assert res.crs.to_epsg() == 32650 and res.nodata == 0 and res.descriptions == ("R", "G", "B")
        np.testing.assert_array_equal(res.read(), expected_uint8(data))
    assert leftovers(tmp_path) == []
    from rio_cogeo.cogeo import cog_validate  # what `rio cogeo validate` runs

    valid, errors, _ = cog_validate(str(out), quiet=True)
    assert valid and not errors, errors


# ----------------------------------------------------------------------------------------------
# bit depth
# ----------------------------------------------------------------------------------------------
def test_16bit_input_to_an_8bit_model_needs_a_scale(tmp_path):
    data = random_scene(80, 80, dtype=np.uint16, hole=False)
    src = write_scene(tmp_path / "in16.tif", data, nodata=None)
    out = tmp_path / "out.tif"
    with pytest.raises(DatasetLayoutError, match="uint16.*bit_depth"):
        predict(Identity(), src, out)
    assert not out.exists() and leftovers(tmp_path) == []
    predict(Identity(), src, out, data={"bit_depth": 16}, dtype="uint16")
    with rasterio.open(out) as res:
        np.testing.assert_array_equal(res.read(), data)


def test_16bit_model_declares_its_scaling(tmp_path):
    dn = np.full((3, 70, 90), 1000, np.uint16)
    dn[:, :, 45:] = 4000  # reflectance 0.3
    src = write_scene(tmp_path / "dn.tif", dn, nodata=None)
    out = tmp_path / "out.tif"
    predict(Reflectance16(), src, out, dtype="float32")
    with rasterio.open(out) as res:
        got = res.read()
    np.testing.assert_allclose(got[:, :, :45], 0.0, atol=1e-6)
    np.testing.assert_allclose(got[:, :, 45:], 0.6, atol=1e-6)
    with pytest.raises(DatasetLayoutError, match="8-bit data"):  # 8-bit input to the 16-bit model
        predict(Reflectance16(), write_scene(tmp_path / "u8.tif", random_scene(40, 40)), tmp_path / "o2.tif")


# ----------------------------------------------------------------------------------------------
# seams
# ----------------------------------------------------------------------------------------------
def test_blending_removes_the_seams_of_a_per_tile_offset(tmp_path):
    src = write_scene(tmp_path / "in.tif", smooth_scene(400, 330), nodata=None)
    ratios = {}
    for blend in ("none", "linear", "hann"):
        out = tmp_path / f"{blend}.tif"
        predict(TileOffset(), src, out, blend=blend, data={"tile_size": 64, "overlap": 24})
        ratios[blend] = seam_ratio_file(out, 64, 24).ratio
    identity = tmp_path / "identity.tif"
    predict(Identity(), src, identity, data={"tile_size": 64, "overlap": 24})
    assert seam_ratio_file(identity, 64, 24).ratio == pytest.approx(1.0, abs=0.15)
    assert ratios["none"] > 3.0
    assert ratios["linear"] < ratios["none"] / 3 and ratios["hann"] < ratios["none"] / 3, ratios


def test_writer_scores_against_a_target_and_reports_seams(tmp_path, capsys):
    data = smooth_scene(200, 170)
    src = write_scene(tmp_path / "in.tif", data, nodata=None)
    cb = predict(Identity(), src, tmp_path / "same.tif", target=str(src), seams=True,
                 data={"tile_size": 64, "overlap": 24})
    assert cb.stats["scores"]["psnr"] == math.inf and cb.stats["scores"]["ssim"] == pytest.approx(1.0)
    assert cb.stats["scores"]["seam_ratio"] == pytest.approx(1.0, abs=0.15)
    assert "seam ratio" in capsys.readouterr().out
    # a model that shifts each window scores worse than identity, and seams only when asked
    cb = predict(TileOffset(), src, tmp_path / "off.tif", target=str(src), blend="none",
                 data={"tile_size": 64, "overlap": 24})
    assert 5.0 < cb.stats["scores"]["psnr"] < 40.0 and "seam_ratio" not in cb.stats["scores"]


def test_target_on_another_grid_fails_before_writing(tmp_path):
    src = write_scene(tmp_path / "in.tif", smooth_scene(200, 170), nodata=None)
    other = write_scene(tmp_path / "gt.tif", smooth_scene(200, 171), nodata=None)
    with pytest.raises(DatasetLayoutError, match="share one pixel grid"):
        predict(Identity(), src, tmp_path / "out.tif", target=str(other))
    assert not (tmp_path / "out.tif").exists() and leftovers(tmp_path) == []
    with pytest.raises(OutputError, match="does not exist"):
        predict(Identity(), src, tmp_path / "out.tif", target=str(tmp_path / "missing.tif"))


def test_seams_command_compares_written_scenes(tmp_path, capsys):
    from semcolor.scenes.seams import main

    src = write_scene(tmp_path / "in.tif", smooth_scene(200, 170), nodata=None)
    for blend in ("none", "linear"):
        predict(TileOffset(), src, tmp_path / f"{blend}.tif", blend=blend, data={"tile_size": 64, "overlap": 24})
    assert main([str(tmp_path / "none.tif"), str(tmp_path / "linear.tif"), "--tile", "64", "--overlap", "24",
                 "--target", str(src), "--json"]) == 0
    import json

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["seam_ratio"] > 2 * rows[1]["seam_ratio"] and rows[1]["psnr"] > 0
    assert main([str(tmp_path / "nothere.tif"), "--tile", "64", "--overlap", "24"]) == 2
    assert "nothere.tif" in capsys.readouterr().out


class FailAt(Identity):
    """Returns its input, but fails on forward call ``n`` (a crash part-way through a scene)."""

    def __init__(self, n: int = 10**9) -> None:
        super().__init__()
        self.n, self.calls = n, 0

    def forward(self, x):  # type: ignore[override]
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("crash part-way through the scene")
        return x


RESUME = {"resumable": True, "chunk_rows": 64, "block_size": 32}
GRID = {"tile_size": 64, "overlap": 16, "batch_size": 4}


def test_a_resumed_run_is_byte_identical_and_predicts_only_the_rest(tmp_path):
    src = write_scene(tmp_path / "in.tif", random_scene(400, 300))
    full = tmp_path / "full" / "out.tif"
    full.parent.mkdir()
    cb = predict(FailAt(), src, full, data=GRID, **RESUME)
    n_windows = cb.stats["windows"]
    assert not list(full.parent.glob(".*resume*"))  # the chunks are gone once OUTPUT is complete
    out = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="part-way"):
        predict(FailAt(n=8), src, out, data=GRID, **RESUME)  # 7 batches of 4 windows (of 12) done
    assert not out.exists()
    chunks = sorted(p.name for p in (tmp_path / ".out.tif.resume").iterdir())
    assert "manifest.json" in chunks and any(c.startswith("rows_") for c in chunks)
    assert not any(c.endswith(".tmp.tif") for c in chunks)  # the chunk being written was removed
    cb = predict(FailAt(), src, out, data=GRID, **RESUME)
    assert 0 < cb.stats["windows"] <= n_windows - 2 * 6  # the rest only: 2+ of the 8 window rows skipped
    assert out.read_bytes() == full.read_bytes()
    assert leftovers(tmp_path) == []
    with rasterio.open(out) as res:
        np.testing.assert_array_equal(res.read(), expected_uint8(random_scene(400, 300)))


def test_resume_refuses_chunks_of_other_settings_and_writes_nothing(tmp_path):
    src = write_scene(tmp_path / "in.tif", random_scene(400, 300))
    out = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="part-way"):
        predict(FailAt(n=8), src, out, data=GRID, **RESUME)
    before = sorted(p.name for p in (tmp_path / ".out.tif.resume").iterdir())
    with pytest.raises(SemcolorError, match="blend"):
        predict(Identity(), src, out, data=GRID, blend="hann", **RESUME)
    assert not out.exists()
    assert sorted(p.name for p in (tmp_path / ".out.tif.resume").iterdir()) == before  # nothing lost
    with pytest.raises(SemcolorError, match="multiple of block_size"):
        predict(Identity(), src, out, data=GRID, resumable=True, chunk_rows=100, block_size=32)


def test_resumed_plan_skips_finished_rows():
    g = SceneGrid.build(400, 300, 64, 16)
    plan = g.partition(1)[0]
    r = g.resumed(plan, 128)
    assert r.own_start == 128 and r.own_end == 400 and r.stop == plan.stop
    assert g.row_starts[r.first_row] + 64 > 128 >= g.row_starts[r.first_row - 1] + 64  # first row reaching 128
    assert g.resumed(plan, 0) == plan


# ----------------------------------------------------------------------------------------------
# failures: nothing at OUTPUT
# ----------------------------------------------------------------------------------------------
def test_interrupted_run_leaves_no_file_at_output(tmp_path):
    src = write_scene(tmp_path / "in.tif", random_scene(400, 300))
    out = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="boom"):
        predict(Boom(), src, out, data={"batch_size": 2})
    assert not out.exists()
    assert leftovers(tmp_path) == []  # temporary files removed too


def test_existing_output_is_not_overwritten_unless_asked(tmp_path):
    src = write_scene(tmp_path / "in.tif", random_scene(100, 100))
    out = tmp_path / "out.tif"
    out.write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists"):
        predict(Identity(), src, out)
    assert out.read_bytes() == b"precious"
    predict(Identity(), src, out, overwrite=True)
    with rasterio.open(out) as res:
        assert res.shape == (100, 100)


def test_bad_inputs_are_explained_and_write_nothing(tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    rgb = write_scene(tmp_path / "rgb.tif", random_scene(50, 50))
    four = write_scene(tmp_path / "four.tif", random_scene(50, 50, count=4))
    out = tmp_path / "out.tif"
    with pytest.raises(CorruptFileError, match="notes.tif"):
        predict(Identity(), text, out)
    with pytest.raises(CorruptFileError, match="does not exist"):
        SceneDataModule(str(tmp_path / "missing.tif")).scene
    with pytest.raises(DatasetLayoutError, match="NIR"):  # too few bands for the selection
        predict(Identity(), rgb, out, data={"bands": ["NIR", "R", "G"]})
    with pytest.raises(DatasetLayoutError, match="out of range"):
        SceneDataModule(str(rgb), bands=[1, 2, 3]).scene
    with pytest.raises(DatasetLayoutError, match="takes 3"):  # 4 bands to a 3-band model
        predict(RGBIdentity(), four, out)
    with pytest.raises(OutputError, match="does not exist"):
        predict(Identity(), rgb, tmp_path / "no" / "such" / "dir" / "out.tif")
    with pytest.raises(OutputError, match=".tif"):
        predict(Identity(), rgb, tmp_path / "out.png")
    with pytest.raises(SemcolorError, match="blend"):
        predict(Identity(), rgb, out, blend="gaussian")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["four.tif", "notes.tif", "rgb.tif"]


def test_a_cut_short_run_writes_nothing(tmp_path):
    src = write_scene(tmp_path / "in.tif", random_scene(300, 300))
    out = tmp_path / "out.tif"
    dm = SceneDataModule(str(src), batch_size=4)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[SceneWriter(str(out), progress=False)], limit_predict_batches=2)
    with pytest.raises(SemcolorError, match="incomplete"):
        trainer.predict(Identity(), datamodule=dm)
    assert not out.exists() and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------------------------
# several ranks
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("h", "tile", "overlap", "world"), [(1000, 128, 40, 2), (1000, 64, 40, 3), (100, 64, 16, 4),
                                                             (300, 64, 0, 2)])
def test_partition_covers_every_row_once_with_halos(h, tile, overlap, world):
    grid = SceneGrid.build(h, 50, tile, overlap)
    plans = grid.partition(world)
    owned = np.zeros(h, int)
    for p in plans:
        owned[p.own_start : p.own_end] += 1
        if p.empty:
            continue
        rows = range(p.first_row, p.stop_row)
        needed = [i for i in range(grid.n_rows)
                  if grid.row_starts[i] < p.own_end and grid.row_starts[i] + min(tile, h - grid.row_starts[i]) > p.own_start]
        assert list(rows) == needed  # exactly the window rows touching its own rows
    assert (owned == 1).all()


class _FakeStrategy:
    def broadcast(self, obj, src=0):
        return "sharedtoken0"

    def barrier(self, name=None):
        pass


class _FakeTrainer:
    """Just what SceneWriter reads from a Trainer, for one rank of a simulated DDP run."""

    def __init__(self, dm, rank, world):
        self.datamodule, self.global_rank, self.world_size = dm, rank, world
        self.strategy = _FakeStrategy()
        self.predict_loop = type("Loop", (), {"return_predictions": True})()


@pytest.mark.parametrize("blend", ["linear", "hann"])
def test_ranks_writing_parts_equal_a_single_run(tmp_path, blend):
    data = smooth_scene(500, 230)
    data[:, 100:140, 50:90] = 0  # nodata across a rank boundary
    src = write_scene(tmp_path / "in.tif", data)
    single = tmp_path / "single.tif"
    predict(TileOffset(), src, single, blend=blend, data={"tile_size": 64, "overlap": 24})
    model, world = TileOffset(), 3
    merged = tmp_path / "merged.tif"
    for rank in reversed(range(world)):  # rank 0 last: it merges the others' parts
        dm = SceneDataModule(str(src), tile_size=64, overlap=24, batch_size=3)
        dm.configure_for(model)
        writer = SceneWriter(str(merged), blend=blend, progress=False)
        trainer = _FakeTrainer(dm, rank, world)
        writer.on_predict_start(trainer, model)
        loader = dm.dataloader(rank, world)
        with torch.no_grad():
            for batch in loader:
                writer.write_on_batch_end(trainer, model, model.predict_step(batch, 0), None, batch, 0)
        writer.on_predict_end(trainer, model)
        assert not trainer.predict_loop.return_predictions
    with rasterio.open(single) as a, rasterio.open(merged) as b:
        np.testing.assert_array_equal(a.read(), b.read())
        assert b.transform == a.transform and b.nodata == a.nodata
    assert leftovers(tmp_path) == []


# ----------------------------------------------------------------------------------------------
# the CLI
# ----------------------------------------------------------------------------------------------
def _tiny_unet_checkpoint(path: Path) -> Path:
    from semcolor.lightning_modules.unet import UNetModule

    model = UNetModule(decoder_channels=(16, 8, 8, 8, 8))
    trainer = pl.Trainer(logger=False, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    accepted = inspect.signature(UNetModule).parameters  # only what the CLI would have configured
    ckpt["hyper_parameters"] = {k: v for k, v in ckpt["hyper_parameters"].items() if k in accepted}
    ckpt["hyper_parameters"]["_class_path"] = "semcolor.lightning_modules.unet.UNetModule"  # as the CLI saves it
    torch.save(ckpt, path)
    return path


def test_cli_predict_with_the_unet_method(tmp_path, capsys):
    ckpt = _tiny_unet_checkpoint(tmp_path / "tiny.ckpt")
    data = random_scene(150, 110)
    src = write_scene(tmp_path / "in.tif", data)
    out = tmp_path / "out.tif"
    config = Path(__file__).parents[2] / "experiments" / "trainer" / "predict.yaml"
    args = ["predict", "--method", "unet", "--ckpt_path", str(ckpt), "--config", str(config),
            f"--data.init_args.input={src}", "--data.init_args.tile_size=64", "--data.init_args.num_workers=0",
            f"--trainer.callbacks.init_args.output={out}", "--trainer.callbacks.init_args.blend=hann",
            "--trainer.accelerator=cpu"]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    assert "windows/s" in stdout
    with rasterio.open(out) as res:
        assert res.shape == (150, 110) and res.crs.to_epsg() == 32650 and res.nodata == 0
        result = res.read()
    assert (result[:, :30, :15] == 0).all()  # the nodata corner
    assert not math.isnan(float(result.mean()))
    code, _, err = run_cli(args, capsys)  # the second time OUTPUT exists
    assert code == 2 and "exists" in err
    bad = [a if not a.startswith("--data.init_args.input=") else f"--data.init_args.input={tmp_path / 'x.tif'}"
           for a in args]
    code, _, err = run_cli(bad + ["--trainer.callbacks.init_args.overwrite=true"], capsys)
    assert code == 2 and "x.tif" in err and "does not exist" in err
    code, _, err = run_cli(args + ["--trainer.callbacks.init_args.overwrite=true",
                                   "--trainer.callbacks.init_args.resumable=true",
                                   "--trainer.callbacks.init_args.chunk_rows=100"], capsys)
    assert code == 2 and "chunk_rows must be a positive multiple of block_size" in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="gloo DDP test written for Linux")
@pytest.mark.parametrize("writer", [{}, {"resumable": True, "chunk_rows": 64, "block_size": 32}], ids=["parts", "chunks"])
def test_two_process_ddp_equals_one_process(tmp_path, writer):
    src = write_scene(tmp_path / "in.tif", smooth_scene(300, 200))
    single, double = tmp_path / "single.tif", tmp_path / "ddp.tif"
    predict(TileOffset(), src, single, data={"tile_size": 64, "overlap": 24})
    dm = SceneDataModule(str(src), tile_size=64, overlap=24, batch_size=4)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[SceneWriter(str(double), progress=False, **writer)])
    trainer.predict(TileOffset(), datamodule=dm, return_predictions=False)
    with rasterio.open(single) as a, rasterio.open(double) as b:
        np.testing.assert_array_equal(a.read(), b.read())
    assert leftovers(tmp_path) == []
