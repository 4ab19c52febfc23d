"""The ``palette`` method through the CLI: fit refused, test on image groups, make recolor's files."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from PIL import Image

from semcolor.registry import METHODS
from tests.cli_helpers import run_cli
from tests.fakes.image_groups import make_fake_image_groups

RECOLOR = ["predict", "--method", "palette", "--data", "groups", "--config", "experiments/trainer/recolor.yaml"]


def _snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_registered_training_free_and_fit_is_refused_in_one_line(capsys):
    entry = METHODS.entry("palette")
    assert not entry.trainable and entry.tasks == ("recolor",)
    code, _, err = run_cli(["fit", "--method", "palette", "--trainer.logger=false"], capsys)
    assert code == 2 and "training-free" in err and len(err.strip().splitlines()) == 1
    from semcolor.registry import main

    assert main(["needs-checkpoint", "palette"]) == 1  # make eval METHOD=palette needs no CKPT


def test_test_on_groups_logs_metrics_beside_the_identity(tmp_path, capsys):
    fake = make_fake_image_groups(tmp_path / "in")
    code, out, err = run_cli(["test", "--method", "palette", "--data", "groups", f"--data.init_args.root={fake.root}",
                              "--model.init_args.grouping=semantic", "--trainer.logger=false"], capsys)
    assert code == 0, err
    for name in ("group_consistency", "class_consistency", "hue_shift"):
        assert name in out
    import json

    metrics = json.loads(next((tmp_path / "ckpts" / "palette").glob("*/test_metrics.json")).read_text())
    flat = metrics.get("metrics", metrics)
    assert flat["test_group_consistency"] < flat["test_identity_group_consistency"]
    assert flat["test_class_consistency"] < flat["test_identity_class_consistency"]


def test_make_recolor_writes_images_palettes_and_a_contact_sheet(tmp_path, capsys):
    fake = make_fake_image_groups(tmp_path / "in")
    before = _snapshot(fake.root)
    out = tmp_path / "out"
    code, _, err = run_cli([*RECOLOR, f"--data.init_args.root={fake.root}",
                            f"--trainer.callbacks.init_args.output={out}"], capsys)
    assert code == 0, err
    assert _snapshot(fake.root) == before  # INPUT untouched
    for group, files in fake.groups.items():
        for f in files:
            written = out / group / f.name
            assert written.is_file() and (out / group / "palettes" / f"{f.stem}.png").is_file()
            if f.suffix == ".tif":
                with rasterio.open(f) as a, rasterio.open(written) as b:
                    assert (b.crs, b.transform, b.count, b.dtypes, b.shape) == (a.crs, a.transform, a.count, a.dtypes, a.shape)
            else:
                with Image.open(f) as a, Image.open(written) as b:
                    assert (a.format, a.size, a.mode) == (b.format, b.size, b.mode)
        assert (out / group / "palettes" / "group.png").is_file()
    assert (out / "contact_sheet.png").is_file()
    # a second run refuses before writing anything; with the flag it replaces
    stamp = _snapshot(out)
    code, _, err = run_cli([*RECOLOR, f"--data.init_args.root={fake.root}",
                            f"--trainer.callbacks.init_args.output={out}"], capsys)
    assert code == 2 and "exists; nothing was written" in err and len(err.strip().splitlines()) == 1
    assert _snapshot(out) == stamp
    code, _, err = run_cli([*RECOLOR, f"--data.init_args.root={fake.root}", f"--trainer.callbacks.init_args.output={out}",
                            "--trainer.callbacks.init_args.overwrite=true"], capsys)
    assert code == 0, err


@pytest.mark.parametrize("case", ["inside_input", "one_image", "grey"])
def test_recolor_bad_input_is_one_line_and_input_is_kept(tmp_path, capsys, case):
    fake = make_fake_image_groups(tmp_path / "in", n_groups=1, with_maps=False)
    out = tmp_path / "out"
    if case == "inside_input":
        out, expect = fake.root / "group0" / "out", "inside the input folder"
    elif case == "one_image":
        for p in list(fake.root.glob("group0/img[12].*")):
            p.unlink()
        expect = "nothing to harmonise"
    else:
        Image.fromarray(np.zeros((40, 48), np.uint8)).save(fake.root / "group0" / "img0.png")
        expect = "img0.png"
    before = _snapshot(fake.root)
    code, _, err = run_cli([*RECOLOR, f"--data.init_args.root={fake.root}",
                            f"--trainer.callbacks.init_args.output={out}"], capsys)
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, err
    assert _snapshot(fake.root) == before and not out.exists()


def test_plain_batches_are_one_group_and_keep_their_shape():
    model = METHODS.get("palette")()
    x = torch_rand(3, 3, 32, 40)
    out = model.predict_step({"input": x}, 0)
    assert out.shape == x.shape and out.dtype == x.dtype


def torch_rand(*shape):
    import torch

    return torch.rand(*shape, generator=torch.Generator().manual_seed(0))


def test_semantic_grouping_from_a_segmentation_checkpoint(tmp_path):
    import warnings

    import pytorch_lightning as pl

    from semcolor.errors import SemcolorError
    from semcolor.lightning_modules.palette import PaletteModule
    from semcolor.palettes.pipeline import RecolorConfig

    seg_cls = METHODS.get("wiconet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = seg_cls(num_classes=3, local_size=32, context_size=96, dim=32, depth=1, heads=2, mlp_dim=64)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    trainer.strategy.connect(seg)
    seg.trainer = trainer
    trainer.save_checkpoint(tmp_path / "seg.ckpt")
    _as_cli_checkpoint(tmp_path / "seg.ckpt", METHODS.entry("wiconet").class_path)
    model = PaletteModule(grouping="semantic", seg_checkpoint=str(tmp_path / "seg.ckpt"))
    fake = make_fake_image_groups(tmp_path / "in", n_groups=1, with_maps=False)
    from semcolor.datamodules.image_groups import ImageGroups

    batch = ImageGroups(fake.root)[0]
    labels = model._labels(batch)
    assert [lbl.shape for lbl in labels] == [tuple(x.shape[1:]) for x in batch["images"]]
    assert all(set(np.unique(lbl)) <= {0, 1, 2} for lbl in labels)
    res = model.recolor(batch)
    assert len(res.outputs) == 3 and set(res.group) <= {0, 1, 2}
    assert isinstance(model.config, RecolorConfig)
    with pytest.raises(SemcolorError, match="not found"):
        PaletteModule(seg_checkpoint=str(tmp_path / "nope.ckpt"))
    unet = METHODS.get("unet")()
    trainer.strategy.connect(unet)
    unet.trainer = trainer
    trainer.save_checkpoint(tmp_path / "unet.ckpt")
    _as_cli_checkpoint(tmp_path / "unet.ckpt", METHODS.entry("unet").class_path)
    with pytest.raises(SemcolorError, match="not by a segmentation method"):
        PaletteModule(seg_checkpoint=str(tmp_path / "unet.ckpt"))


def _as_cli_checkpoint(path, class_path):
    """Store the class path as LightningCLI does in the checkpoints of `make train`."""
    import torch

    ckpt = torch.load(path, weights_only=False)
    ckpt["hyper_parameters"]["_class_path"] = class_path
    torch.save(ckpt, path)
