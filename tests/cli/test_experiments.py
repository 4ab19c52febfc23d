"""Every experiment config runs end to end through the CLI (fast_dev_run) on generated data.

Each dataset name maps to a function that writes a tiny fake copy in the released layout and
returns the CLI arguments that point the DataModule at it; a config whose dataset has no entry
here fails, so a new dataset cannot land untested.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from semcolor.cli.main import experiments_dir
from semcolor.registry import METHODS
from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED
from tests.fakes.image_groups import cli_args as image_groups_cli_args
from tests.fakes.remote_sensing import (
    make_fake_gid,
    make_fake_scene_pair,
    make_fake_zhcbi,
)
from tests.fakes.dtd import make_fake_dtd
from tests.fakes.scene_classes import make_fake_aid, make_fake_nwpu
from tests.fakes.photos import make_fake_fivek, make_fake_kodak, make_fake_photo_folder, make_fake_ppr10k
from tests.fakes.sentinel2 import cli_args as sentinel2_cli_args
from tests.fakes.street import make_fake_cityscapes, make_fake_gta5

FakeData = Callable[[Path], list[str]]

FAKE_DATA: dict[str, FakeData] = {
    "embedded": lambda tmp: list(TINY_EMBEDDED),
    "zhcbi": lambda tmp: [f"--data.init_args.root={make_fake_zhcbi(tmp).root}", "--data.init_args.tile_size=64", "--data.init_args.batch_size=2", "--data.init_args.num_workers=0"],
    "gid": lambda tmp: [f"--data.init_args.root={make_fake_gid(tmp, n_scenes=3).root}", "--data.init_args.patch_size=64", "--data.init_args.batch_size=2", "--data.init_args.num_workers=0", f"--data.init_args.balance_scene={(pair := make_fake_scene_pair(tmp / 'pair', size=(130, 140))).input}", f"--data.init_args.balance_target={pair.target}"],
    "sentinel2": sentinel2_cli_args,
    "groups": image_groups_cli_args,
    "aid": lambda tmp: [f"--data.init_args.root={make_fake_aid(tmp).root}", "--data.init_args.resize=64", "--data.init_args.batch_size=4", "--data.init_args.num_workers=0"],
    "nwpu": lambda tmp: [f"--data.init_args.root={make_fake_nwpu(tmp).root}", "--data.init_args.resize=64", "--data.init_args.batch_size=4", "--data.init_args.num_workers=0"],
    "cityscapes": lambda tmp: [f"--data.init_args.root={make_fake_cityscapes(tmp).root}", "--data.init_args.crop_size=64", "--data.init_args.resize=null", "--data.init_args.batch_size=2", "--data.init_args.num_workers=0"],
    "fivek": lambda tmp: [f"--data.init_args.root={make_fake_fivek(tmp).root}", "--data.init_args.short_side=192"],
    "ppr10k": lambda tmp: [f"--data.init_args.root={make_fake_ppr10k(tmp).root}", "--data.init_args.short_side=192"],
    "kodak": lambda tmp: [f"--data.init_args.root={make_fake_kodak(tmp).root}", "--data.init_args.short_side=192"],
    "folder": lambda tmp: [f"--data.init_args.root={make_fake_photo_folder(tmp).root}", "--data.init_args.short_side=192"],
    "gta5": lambda tmp: [f"--data.init_args.root={make_fake_gta5(tmp).root}", "--data.init_args.resize=[64,128]", "--data.init_args.batch_size=2", "--data.init_args.num_workers=0"],
    "dtd": lambda tmp: [f"--data.init_args.root={make_fake_dtd(tmp).root}", "--data.init_args.batch_size=2", "--data.init_args.num_workers=0"],
}


#: method -> model overrides that shrink paper-size networks for the fake (non-embedded) data (64x64 images)
_GAN_FAST = ["--model.init_args.depth=4", "--model.init_args.base_channels=8", "--model.init_args.d_base_channels=8"]
FAST_MODEL: dict[str, list[str]] = {"pix2pix": _GAN_FAST, "dcgan": [*_GAN_FAST, "--model.init_args.d_layers=4", "--model.init_args.image_size=64"], "jsdcgan": [*_GAN_FAST, "--model.init_args.d_layers=4", "--model.init_args.image_size=64"]}
FAST_MODEL |= {"multi_d": [*_GAN_FAST, "--model.init_args.d_layers=2"], "multi_g": ["--model.init_args.depth=3", "--model.init_args.base_channels=8"]}
FAST_MODEL |= {"burstsr": ["--model.init_args.features=8", "--model.init_args.num_blocks=1", "--model.init_args.growth=4", "--model.init_args.d_features=8", "--model.init_args.perceptual_weight=0"]}
FAST_MODEL |= {"secbnet": ["--model.init_args.base_channels=8", "--model.init_args.seg_checkpoint=null", '--model.init_args.seg_network={"local_size": 32, "context_size": 96, "dim": 32, "depth": 1, "heads": 2, "mlp_dim": 64}'], "wiconet": ["--model.init_args.local_size=32", "--model.init_args.context_size=96", "--model.init_args.dim=32", "--model.init_args.mlp_dim=64", "--model.init_args.pretrained=false", "--data.init_args.context_size=192"]}


def all_configs() -> list[tuple[str, str]]:
    return sorted(
        (cfg.parent.name, cfg.stem)
        for cfg in experiments_dir().glob("*/*.yaml")
        if cfg.parent.name not in ("trainer", "sweeps")
    )


def run_cases() -> list:
    """Every config; ablation variants (``<data>-<variant>``) run only in ``make smoke`` / ``test-full``
    to keep ``make test`` within its time budget (they all still parse in :func:`test_config_parses`)."""
    return [pytest.param(m, d, marks=[pytest.mark.slow] if "-" in d else [], id=f"{m}-{d}")
            for m, d in all_configs()]


@pytest.mark.parametrize(("method", "data"), all_configs(), ids=lambda x: f"{x}")
def test_config_parses(method, data, capsys):
    data_name = data.split("-")[0]
    extra = FAST_MODEL.get(method, []) if data_name != "embedded" else []
    code, _, err = run_cli(["fit", "--method", method, "--data", data, *extra, "--print_config"], capsys)
    assert code == 0, err


@pytest.mark.parametrize(("method", "data"), run_cases())
def test_fast_dev_run(method, data, tmp_path, capsys):
    data_name = data.split("-")[0]  # ablation variants are named <data>-<variant>.yaml
    assert data_name in FAKE_DATA, f"no fake data generator for dataset {data_name!r} in tests/"
    extra = FAKE_DATA[data_name](tmp_path / "fake") + (FAST_MODEL.get(method, []) if data_name != "embedded" else [])
    # configs marked test-only (e.g. secbnet's GID colour-balance test: tiles without training data) run `test`
    config = experiments_dir() / method / f"{data}.yaml"
    # and training-free methods (registered trainable=False: fit is refused) run `test` too
    test_only = config.read_text().startswith("# semcolor: test-only") or not METHODS.entry(method).trainable
    subcommand = "test" if test_only else "fit"
    code, _, err = run_cli([subcommand, "--method", method, "--data", data, "--trainer.fast_dev_run=true",
                            "--trainer.logger=false", *extra], capsys)
    assert code == 0, err
