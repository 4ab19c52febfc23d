"""The bad-input catalogue: each row a bad input built on the fly in a released layout (tests/fakes/),
the ``semcolor`` command a user would run on it, and what must come back: exit code 2 and ONE line
``semcolor: error: ...`` naming the file (or option) at fault and what was expected. Rows cover datasets,
scenes, checkpoints, config files and the newer methods' inputs (palette groups, harmonize photos, burstsr).

``ROWS[i].before`` records what the same input did before issue 16 (the closing note's table is
``python -m tests.test_bad_input``).
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from rasterio.enums import ColorInterp

from semcolor.errors import DatasetLayoutError
from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--trainer.fast_dev_run=1", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
LIGHT_UNET = ["--model.init_args.encoder_name=resnet18", "--model.init_args.decoder_channels=[16,8,8,8,8]"]
PREDICT_YAML = str(ROOT / "experiments" / "trainer" / "predict.yaml")


@dataclass(frozen=True)
class Row:
    id: str
    before: str
    build: Callable[[Path], list[str]]  # writes the bad input under the folder, returns the CLI arguments
    expect: tuple[str, ...]  # regular expressions the one error line must all match
    marker: str | None = None  # a file the input would create if it ran code: must not exist afterwards


# ----------------------------------------------------------------------------------------------
# builders
# ----------------------------------------------------------------------------------------------
def _zhcbi(tmp: Path, mutate: Callable[[Path], None], *extra: str) -> list[str]:
    from tests.fakes.remote_sensing import make_fake_zhcbi

    fake = make_fake_zhcbi(tmp / "ZHCBI")
    mutate(fake.root / "train")
    return ["fit", "--method", "unet", "--data", "zhcbi", f"--data.init_args.root={fake.root}",
            "--data.init_args.tile_size=64", "--data.init_args.batch_size=8", "--data.init_args.num_workers=0",
            *LIGHT_UNET, *FAST, *extra]


def _first(folder: Path) -> Path:
    return sorted(folder.glob("*.png"))[0]


def _png16(train: Path) -> None:  # a 16-bit RGB PNG (GDAL writes one; Pillow cannot)
    path = _first(train / "input")
    rgb = np.asarray(Image.open(path)).astype(np.uint16) * 257
    with rasterio.open(path, "w", driver="PNG", width=rgb.shape[1], height=rgb.shape[0], count=3,
                       dtype="uint16") as dst:
        dst.write(rgb.transpose(2, 0, 1))


def _transparent(train: Path) -> None:
    path = _first(train / "input")
    rgba = np.asarray(Image.open(path).convert("RGBA")).copy()
    rgba[:8, :8, 3] = 0
    Image.fromarray(rgba).save(path)


def _gray16_target(train: Path) -> None:
    path = _first(train / "label")
    Image.fromarray((np.asarray(Image.open(path).convert("L")).astype(np.uint16) * 257)).save(path)


def _empty(train: Path) -> None:
    _first(train / "input").write_bytes(b"")


def _truncated(train: Path) -> None:
    path = _first(train / "label")
    path.write_bytes(path.read_bytes()[:200])


def _rgb_seg(train: Path) -> None:  # an index seg map saved as a colour image in the middle of L maps
    path = sorted((train / "seg").glob("*.png"))[1]
    Image.open(path).convert("RGB").save(path)


def _symlink_loop(train: Path) -> None:
    stem = _first(train / "input").stem
    for sub in ("input", "label", "seg"):
        (train / sub / f"{stem}.png").unlink()
    (train / "input" / f"{stem}.png").symlink_to(train / "label" / f"{stem}.png")
    (train / "label" / f"{stem}.png").symlink_to(train / "input" / f"{stem}.png")
    (train / "seg" / "loop").symlink_to(train / "seg")  # a folder loop too


def _aid_split_missing(tmp: Path) -> list[str]:
    from tests.fakes.scene_classes import make_fake_aid

    fake = make_fake_aid(tmp / "AID")
    args = ["fit", "--method", "unet", "--data", "aid", f"--data.init_args.root={fake.root}",
            "--data.init_args.resize=32", "--data.init_args.num_workers=0", *LIGHT_UNET, *FAST]
    from semcolor.datamodules.aid import AIDDataModule

    AIDDataModule(root=str(fake.root)).prepare_data()  # first use writes the split files into the root
    split = fake.root / "aid-train.txt"
    first = split.read_text().splitlines()[0]
    (fake.root / first).unlink()
    return args


def _gid16(tmp: Path) -> list[str]:
    from tests.fakes.remote_sensing import make_fake_gid, write_geotiff

    fake = make_fake_gid(tmp / "GID", size=(64, 64))
    scene = fake.tree / "image_RGB" / f"{fake.scenes[0]}.tif"
    write_geotiff(scene, fake.rgb[fake.scenes[0]].astype(np.uint16) * 257)
    return ["fit", "--method", "wiconet", "--data", "gid", f"--data.init_args.root={fake.root}",
            "--data.init_args.patch_size=32", "--data.init_args.batch_size=2", "--model.init_args.pretrained=false",
            *FAST]


def _bgra_scene_tiles(tmp: Path) -> list[str]:
    """ZHCBI's scene mode on a GeoTIFF tagged B, G, R, alpha whose alpha masks a corner."""
    from tests.fakes.remote_sensing import make_fake_scene_pair

    pair = make_fake_scene_pair(tmp / "scene", size=(128, 128))
    for path in (pair.input, pair.target):
        with rasterio.open(path) as src:
            data, profile = src.read(), src.profile
        alpha = np.full((1, 128, 128), 255, np.uint8)
        alpha[:, :16, :16] = 0
        profile.update(count=4)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.concatenate([data[::-1], alpha]))
            dst.colorinterp = [ColorInterp.blue, ColorInterp.green, ColorInterp.red, ColorInterp.alpha]
    return _scene_mode(pair.input, pair.target, 128)


def _scene_mode(scene: Path, target: Path, size: int) -> list[str]:
    """ZHCBI's scene mode (tiles cut from a scene pair): top half trains, bottom half validates."""
    areas = f'{{"train": [[0, 0, {size // 2}, {size}]], "val": [[{size // 2}, 0, {size}, {size}]]}}'
    return ["fit", "--method", "unet", "--data", "zhcbi", "--data.init_args.mode=scene",
            f"--data.init_args.scene_input={scene}", f"--data.init_args.scene_target={target}",
            f"--data.init_args.areas={areas}", "--data.init_args.tile_size=32", "--data.init_args.batch_size=8",
            "--data.init_args.num_workers=0", *LIGHT_UNET, *FAST]


def _float_scene_tiles(tmp: Path) -> list[str]:
    from tests.fakes.remote_sensing import make_fake_scene_pair, write_geotiff

    pair = make_fake_scene_pair(tmp / "scene", size=(96, 96))
    write_geotiff(pair.input, pair.input_data.astype(np.float32))  # 0..255 stored as floats
    return _scene_mode(pair.input, pair.target, 96)


def _sentinel2_target16(tmp: Path) -> list[str]:
    from tests.fakes.sentinel2 import cli_args

    args = cli_args(tmp)
    root = Path(args[0].split("=", 1)[1])
    target = sorted((root / "train").glob("*_8bit.tif"))[0]
    with rasterio.open(target) as src:
        data, profile = src.read(), src.profile
    profile.update(dtype="uint16")
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(data.astype(np.uint16) * 257)
    return ["fit", "--method", "s2color", "--data", "sentinel2", *args, *FAST]


def _cityscapes_one_image(tmp: Path) -> list[str]:
    from tests.fakes.street import make_fake_cityscapes

    fake = make_fake_cityscapes(tmp / "cs", cities={"train": ["aachen"], "val": ["frankfurt"]}, n_per_city=1)
    return ["fit", "--method", "slimseg", "--data", "cityscapes", f"--data.init_args.root={fake.root}", *FAST]


def _cityscapes_rgb_label(tmp: Path) -> list[str]:
    from tests.fakes.street import make_fake_cityscapes

    fake = make_fake_cityscapes(tmp / "cs", cities={"train": ["aachen"], "val": ["frankfurt"]}, n_per_city=2)
    for label in (fake.root / "gtFine").rglob("*_labelIds.png"):
        Image.open(label).convert("RGB").save(label)
    return ["fit", "--method", "slimseg", "--data", "cityscapes", f"--data.init_args.root={fake.root}",
            "--data.init_args.batch_size=2", *FAST]


def _cityscapes_truncated(tmp: Path) -> list[str]:
    from tests.fakes.street import make_fake_cityscapes

    fake = make_fake_cityscapes(tmp / "cs", cities={"train": ["aachen"], "val": ["frankfurt"]}, n_per_city=2)
    for image in (fake.root / "leftImg8bit").rglob("*.png"):
        image.write_bytes(image.read_bytes()[:300])
    return ["fit", "--method", "slimseg", "--data", "cityscapes", f"--data.init_args.root={fake.root}",
            "--data.init_args.batch_size=2", "--data.init_args.num_workers=1", *FAST]


# -- scenes (whole-scene predict) -------------------------------------------------------------------
def _predict(tmp: Path, src: Path, *extra: str, out: Path | None = None) -> list[str]:
    from tests.scenes.test_scene_predict import _tiny_unet_checkpoint

    ckpt = _tiny_unet_checkpoint(tmp / "tiny.ckpt")
    out = out or tmp / "out.tif"
    return ["predict", "--method", "unet", "--ckpt_path", str(ckpt), "--config", PREDICT_YAML,
            f"--data.init_args.input={src}", "--data.init_args.tile_size=64", "--data.init_args.num_workers=0",
            f"--trainer.callbacks.init_args.output={out}", *extra]


def _scene(tmp: Path, data: np.ndarray, **kw) -> Path:
    from tests.scenes.test_scene_predict import write_scene

    return write_scene(tmp / "scene.tif", data, **kw)


def _scene16(tmp: Path) -> list[str]:
    from tests.scenes.test_scene_predict import random_scene

    return _predict(tmp, _scene(tmp, random_scene(80, 80, dtype=np.uint16)))


def _scene_nan(tmp: Path) -> list[str]:
    data = np.full((3, 80, 80), 0.5, np.float32)
    data[:, 10, 10] = np.nan
    return _predict(tmp, _scene(tmp, data, nodata=None))


def _scene_two_bands(tmp: Path) -> list[str]:
    from tests.scenes.test_scene_predict import random_scene

    return _predict(tmp, _scene(tmp, random_scene(80, 80, count=2)))


def _scene_output_exists(tmp: Path) -> list[str]:
    from tests.scenes.test_scene_predict import random_scene

    out = tmp / "mine.tif"
    out.write_bytes(b"a user's file")
    return _predict(tmp, _scene(tmp, random_scene(80, 80)), out=out)


def _scene_output_folder_missing(tmp: Path) -> list[str]:
    from tests.scenes.test_scene_predict import random_scene

    return _predict(tmp, _scene(tmp, random_scene(80, 80)), out=tmp / "nowhere" / "out.tif")


def _scene_not_a_raster(tmp: Path) -> list[str]:
    (tmp / "scene.tif").write_text("not a GeoTIFF\n")
    return _predict(tmp, tmp / "scene.tif")


# -- checkpoints ----------------------------------------------------------------------------------
class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # what a malicious checkpoint does: a call made while unpickling
        return (os.system, (f"touch '{self.marker}'",))


def _evil_zip(tmp: Path) -> list[str]:
    path = tmp / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": _RunsCode(tmp / "RAN")}}, path)
    return ["fit", "--method", "unet", "--ckpt_path", str(path), *TINY_EMBEDDED, *FAST]


def _evil_pickle(tmp: Path) -> list[str]:
    path = tmp / "evil_legacy.ckpt"
    path.write_bytes(pickle.dumps({"state_dict": _RunsCode(tmp / "RAN")}))
    return ["test", "--method", "unet", "--ckpt_path", str(path), *TINY_EMBEDDED, *FAST]


def _random_bytes(tmp: Path) -> list[str]:
    path = tmp / "random.ckpt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return ["test", "--method", "unet", "--ckpt_path", str(path), *TINY_EMBEDDED, *FAST]


def _truncated_ckpt(tmp: Path) -> list[str]:
    from tests.scenes.test_scene_predict import _tiny_unet_checkpoint

    path = _tiny_unet_checkpoint(tmp / "cut.ckpt")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return ["test", "--method", "unet", "--ckpt_path", str(path), *TINY_EMBEDDED, *FAST]


def _other_method_ckpt(tmp: Path) -> list[str]:
    from tests.scenes.test_scene_predict import _tiny_unet_checkpoint

    path = _tiny_unet_checkpoint(tmp / "unet.ckpt")
    return ["test", "--method", "s2color", "--ckpt_path", str(path), *FAST]


def _weights_only_false(tmp: Path) -> list[str]:
    from tests.scenes.test_scene_predict import _tiny_unet_checkpoint

    path = _tiny_unet_checkpoint(tmp / "unet.ckpt")
    return ["test", "--method", "unet", "--ckpt_path", str(path), "--weights_only=false", *TINY_EMBEDDED,
            *LIGHT_UNET, *FAST]


# -- config files and options ---------------------------------------------------------------------
def _config(text: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        path = tmp / "mine.yaml"
        path.write_text(text.replace("MARKER", str(tmp / "RAN")))
        return ["fit", "--method", "unet", "--config", str(path), *TINY_EMBEDDED, *FAST]

    return build


def _args(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["fit", "--method", "unet", *args, *TINY_EMBEDDED, *FAST]


# -- the newer methods ----------------------------------------------------------------------------
def _groups(tmp: Path, mutate: Callable[[Path], None]) -> list[str]:
    from tests.fakes.image_groups import make_fake_image_groups

    fake = make_fake_image_groups(tmp / "groups", n_groups=1)
    mutate(fake.root / "group0")
    return ["test", "--method", "palette", "--data", "groups", f"--data.init_args.root={fake.root}", *FAST]


def _group_png16(folder: Path) -> None:
    path = folder / "img0.png"
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.uint16) * 257
    with rasterio.open(path, "w", driver="PNG", width=rgb.shape[1], height=rgb.shape[0], count=3,
                       dtype="uint16") as dst:
        dst.write(rgb.transpose(2, 0, 1))


def _group_transparent(folder: Path) -> None:
    path = folder / "img0.png"
    rgba = np.asarray(Image.open(path).convert("RGBA")).copy()
    rgba[:4, :4, 3] = 0
    Image.fromarray(rgba).save(path)


def _photos_nan(tmp: Path) -> list[str]:
    folder = tmp / "photos"
    folder.mkdir()
    data = np.full((3, 40, 48), 0.5, np.float32)
    data[0, 3, 3] = np.nan
    with rasterio.open(folder / "a.tif", "w", driver="GTiff", width=48, height=40, count=3, dtype="float32") as dst:
        dst.write(data)
    return ["test", "--method", "harmonize", "--data", "folder", f"--data.init_args.root={folder}", *FAST]


def _photos_float_range(tmp: Path) -> list[str]:
    folder = tmp / "photos"
    folder.mkdir()
    with rasterio.open(folder / "a.tif", "w", driver="GTiff", width=48, height=40, count=3, dtype="float32") as dst:
        dst.write(np.full((3, 40, 48), 200.0, np.float32))
    return ["test", "--method", "harmonize", "--data", "folder", f"--data.init_args.root={folder}", *FAST]


ROWS = [
    # -- datasets ------------------------------------------------------------------------------------
    Row("zhcbi-16bit-png", "exit 0: trained on the high bytes (Pillow opens 16-bit RGB PNGs as 8-bit RGB)",
        lambda t: _zhcbi(t, _png16), (r"train/input/\S+\.png", "16-bit", "expected an 8-bit RGB image")),
    Row("zhcbi-alpha-transparent", "exit 0: alpha dropped, masked pixels' colours trained on",
        lambda t: _zhcbi(t, _transparent), (r"train/input/\S+\.png", "alpha", "64 transparent", "opaque")),
    Row("zhcbi-16bit-gray-target", "exit 0: a 16-bit grey target clipped to 255 by convert('RGB')",
        lambda t: _zhcbi(t, _gray16_target), (r"train/label/\S+\.png", "16-bit", "8-bit")),
    Row("zhcbi-zero-size", "one line (Pillow: cannot identify image file)",
        lambda t: _zhcbi(t, _empty), (r"train/input/\S+\.png", "cannot read", "8-bit RGB")),
    Row("zhcbi-truncated", "one line", lambda t: _zhcbi(t, _truncated), (r"train/label/\S+\.png", "cannot read")),
    Row("zhcbi-rgb-seg-among-index", "one line", lambda t: _zhcbi(t, _rgb_seg),
        (r"train/seg/\S+\.png", "single-channel or palette")),
    Row("zhcbi-symlink-loop", "exit 0: the looping tile skipped silently (the split one tile short)",
        lambda t: _zhcbi(t, _symlink_loop), (r"train/input/\S+\.png", "symbolic link that loops")),
    Row("aid-split-file-names-missing-image", "one line", _aid_split_missing,
        (r"aid-train\.txt", "name no image on disk")),
    Row("gid-16bit-without-bit-depth", "exit 0: 16-bit scaled by 65535 (12-bit data nearly black)", _gid16,
        (r"image_RGB/\S+\.tif", "16-bit", "8-bit GID image", "bit_depth")),
    Row("scene-tiles-bgra-alpha", "asked for a band selection (4 bands named NIR, R, G, B); bands=[R,G,B] read G, R, alpha",
        _bgra_scene_tiles, (r"scene_input\.tif", "alpha", "transparent", "rows 0:32, cols 0:32")),
    Row("scene-tiles-float-0-255", "exit 0: every pixel clipped to 1.0 (white)", _float_scene_tiles,
        (r"scene_input\.tif", "float values from", "must already be in \\[0, 1\\]")),
    Row("sentinel2-16bit-target", "one line (own dtype check)", _sentinel2_target16,
        (r"_8bit\.tif", "16-bit", "expected an 8-bit RGB target")),
    Row("cityscapes-one-image-batchnorm", "traceback: Expected more than 1 value per channel when training",
        _cityscapes_one_image, ("train split of CityscapesDataModule", "has 1 sample", "BatchNorm")),
    Row("cityscapes-rgb-label", "the DataLoader worker's traceback (num_workers > 0)", _cityscapes_rgb_label,
        (r"_labelIds\.png", "single-channel or palette")),
    Row("cityscapes-truncated-image-in-worker", "traceback: RuntimeError 'Caught CorruptFileError in DataLoader "
        "worker process 0'", _cityscapes_truncated, (r"_leftImg8bit\.png", "cannot read")),
    # -- scenes --------------------------------------------------------------------------------------
    Row("scene-16bit-into-8bit-model", "one line", _scene16, (r"scene\.tif", "uint16", "bit_depth")),
    Row("scene-nan-pixels", "one line", _scene_nan, (r"scene\.tif", "NaN")),
    Row("scene-two-bands", "one line", _scene_two_bands, (r"scene\.tif", "2 band", "takes 3")),
    Row("scene-output-exists", "one line; the user's file kept", _scene_output_exists, (r"mine\.tif", "exists")),
    Row("scene-output-folder-missing", "one line", _scene_output_folder_missing, (r"nowhere", "does not exist")),
    Row("scene-not-a-raster", "one line", _scene_not_a_raster, (r"scene\.tif", "cannot read")),
    # -- checkpoints ---------------------------------------------------------------------------------
    Row("ckpt-pickle-runs-code-zip", "in the issue: torch's advice to retry with weights_only=False; one line since read_checkpoint", _evil_zip,
        (r"evil\.ckpt", "not a readable checkpoint", "refused without loading"), marker="RAN"),
    Row("ckpt-pickle-runs-code-legacy", "one line since read_checkpoint",
        _evil_pickle, (r"evil_legacy\.ckpt", "not a readable checkpoint"), marker="RAN"),
    Row("ckpt-random-bytes", "in the issue: torch's advice to retry with weights_only=False; one line since "
        "read_checkpoint", _random_bytes,
        (r"random\.ckpt", "not a readable checkpoint")),
    Row("ckpt-truncated", "one line", _truncated_ckpt, (r"cut\.ckpt", "not a readable checkpoint")),
    Row("ckpt-of-another-method", "one line", _other_method_ckpt, (r"unet\.ckpt", "UNetModule", "S2Color")),
    Row("ckpt-weights-only-false", "exit 0: Lightning re-read the file with weights_only=False", _weights_only_false,
        (r"unet\.ckpt", "weights_only=false", "data only")),
    # -- config files and options --------------------------------------------------------------------
    Row("config-not-a-mapping", "usage text + 'Unexpected config' without the file name",
        _config("- trainer\n- model\n"), (r"mine\.yaml", "holds a list", "expected a mapping")),
    Row("config-python-tag", "usage text + 'could not determine a constructor' without the file name",
        _config('model: !!python/object/apply:os.system ["touch MARKER"]\n'),
        (r"mine\.yaml", "line 1", "python/object/apply:os.system", "plain data"), marker="RAN"),
    Row("config-not-yaml", "usage text + the YAML parser's trace without the file name",
        _config("trainer: {max_epochs: 1\n"), (r"mine\.yaml", "not valid YAML", "line 2")),
    Row("config-misspelt-key", "usage text + 'Does not validate against any of the Union subtypes'",
        _config("model:\n  init_args:\n    lrr: 0.1\n"), ("lrr", "UNetModule", "closest: lr")),
    Row("option-misspelt-model", "usage text + 'Does not validate against any of the Union subtypes'",
        _args("--model.init_args.lrr=1"), (r"--model\.init_args\.lrr", "UNetModule", "closest: lr")),
    Row("option-misspelt-data", "usage text + 'Does not validate against any of the Union subtypes'",
        _args("--data.init_args.batchsize=2"), ("batchsize", "EmbeddedDataModule", "closest: batch_size")),
    Row("option-misspelt-trainer", "usage text + 'unrecognized arguments'", _args("--trainer.max_epocs=1"),
        (r"--trainer\.max_epocs", r"closest: --trainer\.max_epochs")),
    Row("option-wrong-type", "usage text + the Union subtypes text", _args("--model.init_args.lr=abc"),
        (r"--model\.init_args\.lr", "float", "abc")),
    # -- the newer methods' inputs -------------------------------------------------------------------
    Row("palette-group-16bit-png", "exit 0: a 16-bit PNG read as its high bytes",
        lambda t: _groups(t, _group_png16), (r"group0/img0\.png", "16-bit")),
    Row("palette-group-transparent", "exit 0: transparent pixels' colours recoloured",
        lambda t: _groups(t, _group_transparent), (r"group0/img0\.png", "transparent")),
    Row("harmonize-photo-nan", "exit 0: NaN set to 0", _photos_nan, (r"a\.tif", "NaN")),
    Row("harmonize-photo-float-0-255", "exit 0: clipped to white", _photos_float_range,
        (r"a\.tif", "float values from 200", r"\[0, 1\]")),
    Row("burstsr-burst-length-0", "one line", lambda t: ["fit", "--method", "burstsr",
                                                         "--model.init_args.num_frames=0", *FAST],
        ("num_frames", "0")),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_is_one_line_naming_what_is_wrong(row: Row, tmp_path, capsys):
    args = row.build(tmp_path)
    capsys.readouterr()
    code, out, err = run_cli(args, capsys)
    errors = [line for line in err.splitlines() if line.startswith("semcolor: error:")]
    assert code == 2, f"exit {code}\n{err[-3000:]}"
    assert len(errors) == 1, err[-3000:]
    assert "Traceback" not in err and "usage:" not in err, err[-3000:]
    for pattern in row.expect:
        assert __import__("re").search(pattern, errors[0]), f"{pattern!r} not in: {errors[0]}"
    if row.marker:
        assert not (tmp_path / row.marker).exists(), "the input ran code"


def test_the_malicious_checkpoint_would_run_code_if_loaded_unsafely(tmp_path):
    """The payload of the pickle rows is real: unsafe loading runs it (so the rows above prove a refusal)."""
    _evil_zip(tmp_path)
    assert not (tmp_path / "RAN").exists()
    torch.load(tmp_path / "evil.ckpt", weights_only=False)
    assert (tmp_path / "RAN").exists()


def test_catalogue_size():
    assert len(ROWS) >= 25 and len({r.id for r in ROWS}) == len(ROWS)


if __name__ == "__main__":  # the catalogue as a markdown table for the closing note
    sys.stdout.write("| input | before | after (exit 2, one line matching) |\n|---|---|---|\n")
    for r in ROWS:
        sys.stdout.write(f"| {r.id} | {r.before} | {' / '.join(r.expect)} |\n")


# ----------------------------------------------------------------------------------------------
# band colour interpretation: a file tagged B, G, R(, alpha) is read as R, G, B, never in file order
# ----------------------------------------------------------------------------------------------
def _write_tagged(path: Path, rgb: np.ndarray, alpha: np.ndarray | None, dtype: str = "uint8") -> Path:
    from tests.scenes.test_scene_predict import CRS, TRANSFORM

    bands = [rgb[2], rgb[1], rgb[0]] + ([alpha] if alpha is not None else [])
    tags = [ColorInterp.blue, ColorInterp.green, ColorInterp.red] + ([ColorInterp.alpha] if alpha is not None else [])
    with rasterio.open(path, "w", driver="GTiff", width=rgb.shape[2], height=rgb.shape[1], count=len(bands),
                       dtype=dtype, crs=CRS, transform=TRANSFORM, tiled=True, blockxsize=64, blockysize=64) as dst:
        dst.write(np.stack(bands).astype(dtype))
        dst.colorinterp = tags
    return path


def test_bgr_alpha_scene_is_predicted_as_rgb_with_alpha_as_mask(tmp_path):
    from tests.scenes.test_scene_predict import Identity, predict, random_scene

    rgb = random_scene(100, 90, hole=False)
    alpha = np.full((100, 90), 255, np.uint8)
    alpha[:20, :30] = 0
    src = _write_tagged(tmp_path / "bgra.tif", rgb, alpha)
    out = tmp_path / "out.tif"
    predict(Identity(), src, out, data={"tile_size": 64, "overlap": 16})
    with rasterio.open(out) as res:
        got, nodata = res.read(), res.nodata
    valid = alpha > 0
    assert nodata is not None and (got[:, ~valid] == nodata).all()  # the alpha band masks, as nodata
    moved = rgb.copy()
    moved[(moved == nodata) & valid[None]] = nodata + 1  # valid pixels equal to nodata move by one
    np.testing.assert_array_equal(got[:, valid], moved[:, valid])  # R, G, B in that order


def test_bgr_scene_tiles_are_read_as_rgb(tmp_path):
    from semcolor.datamodules.raster import SceneTiles
    from tests.scenes.test_scene_predict import random_scene

    rgb = random_scene(64, 64, hole=False)
    src = _write_tagged(tmp_path / "bgr16.tif", rgb.astype(np.uint16) * 257, None, dtype="uint16")
    tiles = SceneTiles(src, tile_size=64, bit_depth=16)
    np.testing.assert_allclose(tiles[0]["input"].numpy(), rgb / 255.0, atol=1e-6)
    with pytest.raises(DatasetLayoutError, match="16-bit.*bit_depth"):  # without bit_depth: refused, not scaled silently
        SceneTiles(src, tile_size=64)


def test_through_make_the_error_line_appears_once(tmp_path):
    """Issue 16, item 5: every CLI error line appeared twice in ``make`` output. ``-o`` keeps make from
    reinstalling the venv when pyproject.toml is newer than its stamp."""
    import subprocess

    env = {**os.environ, "SEMCOLOR_CKPTS": str(tmp_path / "ckpts"), "WANDB_MODE": "disabled"}
    done = subprocess.run(["make", "-s", "-o", ".venv/.installed", "train", "METHOD=unet",
                           "ARGS=--model.init_args.lrr=1"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    lines = (done.stdout + done.stderr).splitlines()
    errors = [line for line in lines if line.startswith("semcolor: error:")]
    assert done.returncode == 2 and len(errors) == 1, done.stdout + done.stderr
    assert "--model.init_args.lrr" in errors[0] and "closest: lr" in errors[0]
    assert not any("usage:" in line or "Traceback" in line for line in lines)
