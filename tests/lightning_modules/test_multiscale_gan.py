"""The Multi-D and Multi-G baselines (multi_d, multi_g): one training step, their losses, configs, checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml
from kornia import color as kc

from semcolor.cli.results_table import table_methods
from semcolor.lightning_modules.multiscale_gan import MultiDModule, MultiGModule
from tests.lightning_modules.test_colorization_methods import batch, one_step, params

SIZE = 32  # tests.lightning_modules.test_colorization_methods.batch() images


def tiny(method: str, **kwargs) -> pl.LightningModule:
    if method == "multi_d":
        return MultiDModule(depth=3, base_channels=4, d_base_channels=4, d_layers=1, d_fuse="none", dropout=0.0,
                            num_scales=2, **kwargs)
    return MultiGModule(depth=2, base_channels=4, **kwargs)


CASES = [("multi_d", {}), ("multi_d", {"fake_pyramid": "downsample"}), ("multi_g", {}),
         ("multi_g", {"gan_space": "rgb", "d_arch": "patchgan", "d_layers": 2, "d_base_channels": 4})]


@pytest.mark.parametrize(("method", "kwargs"), CASES)
def test_one_training_step_updates_both_players(method: str, kwargs: dict) -> None:
    module = tiny(method, **kwargs)
    g0, d0 = params(module.network), params(module.discriminator)
    one_step(module, batch())
    moved_g = sum(not torch.equal(a, p) for a, p in zip(g0, module.network.parameters()))
    moved_d = sum(not torch.equal(a, p) for a, p in zip(d0, module.discriminator.parameters()))
    if method == "multi_d" and kwargs.get("fake_pyramid") == "downsample":
        assert len(module.network.side_heads) == 0  # no side heads to train
    assert moved_g >= 0.9 * len(g0) and moved_d >= 0.9 * len(d0), (moved_g, len(g0), moved_d, len(d0))
    assert all(p.requires_grad for p in module.parameters())


def test_multi_d_fused_discriminator_trains_too() -> None:
    module = MultiDModule(depth=4, base_channels=4, d_base_channels=4, d_layers=2, dropout=0.0, num_scales=2)
    b = {k: F.interpolate(v, size=48, mode="bilinear") for k, v in batch().items()}  # scale 1: 24 px >= 12
    d0 = params(module.discriminator)
    one_step(module, b)
    assert len(module.discriminator.fusion) == 1
    assert not torch.equal(d0[-1], list(module.discriminator.parameters())[-1])  # the fusion conv moved


def test_multi_d_losses_average_over_scales(monkeypatch: pytest.MonkeyPatch) -> None:
    module = tiny("multi_d", lambda_l1=3.0)
    b = batch()
    x, y = b["input"], b["target"]
    fake = [torch.rand_like(t) for t in module.gan_target(y)]
    target = module.gan_target(y)
    assert [t.shape[-1] for t in target] == [SIZE, SIZE // 2]
    torch.testing.assert_close(target[1], F.avg_pool2d(y, 2))
    monkeypatch.setattr(module, "discriminate", lambda ys, x: [torch.full((2, 1, 3, 3), float(s)) for s, _ in enumerate(ys)])
    g = module.generator_loss(x, fake, target)
    adv = (-math.log(torch.sigmoid(torch.tensor(0.0)).item()) - math.log(torch.sigmoid(torch.tensor(1.0)).item())) / 2
    l1 = ((fake[0] - target[0]).abs().mean() + (fake[1] - target[1]).abs().mean()).item() / 2
    assert g["adv"].item() == pytest.approx(adv, rel=1e-5)
    assert g["loss"].item() == pytest.approx(adv + 3.0 * l1, rel=1e-5)
    single = tiny("multi_d", lambda_l1=3.0, multiscale_l1=False).generator_loss(x, fake, target)
    assert single["l1"].item() == pytest.approx((fake[0] - target[0]).abs().mean().item(), rel=1e-5)
    d = module.discriminator_loss(x, target, fake)
    bce = F.binary_cross_entropy_with_logits
    expected = sum(0.5 * (bce(torch.full((2, 1, 3, 3), float(s)), torch.ones(2, 1, 3, 3))
                          + bce(torch.full((2, 1, 3, 3), float(s)), torch.zeros(2, 1, 3, 3))) for s in range(2)) / 2
    assert d["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_multi_d_evaluates_the_full_resolution_image() -> None:
    module = tiny("multi_d").eval()
    x = batch()["input"]
    with torch.no_grad():
        torch.testing.assert_close(module(x), module.network.forward_pyramid(x)[0])
        assert module.generated_image(x, module.network.forward_pyramid(x)).shape == (4, 3, SIZE, SIZE)


def test_multi_g_plays_in_uv_and_keeps_y() -> None:
    module = tiny("multi_g")
    y = batch()["target"]
    gray = kc.rgb_to_yuv(y)[:, :1]  # BT.601 Y, what AID / NWPU give as input
    real = module.gan_target(y)
    assert real.shape == (4, 2, SIZE, SIZE)
    torch.testing.assert_close(module.generated_image(gray, real), y, atol=1e-5, rtol=0)  # Y + target UV = target
    assert module.discriminator.image_channels == 2 and module.discriminator.condition_channels == (1,)
    assert module.input_channels == 1 and module.predict_contract().in_channels == 1
    rgb = tiny("multi_g", gan_space="rgb")
    assert rgb.discriminator.image_channels == 3 and torch.equal(rgb.gan_target(y), y)
    with pytest.raises(ValueError, match="gan_space"):
        MultiGModule(gan_space="lab")


@pytest.mark.parametrize("method", ["multi_d", "multi_g"])
def test_checkpoint_rebuilds_the_same_module(tmp_path: Path, method: str) -> None:
    from semcolor.lightning_modules.base import accepted_init_args
    from semcolor.registry import METHODS

    cls = METHODS.get(method)
    module = tiny(method, lr=1e-3, g_steps=2)
    accepted = accepted_init_args(cls)
    assert accepted is not None and set(module.hparams) <= accepted and {"lr", "g_steps"} <= accepted
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "gan.ckpt")
    rebuilt = cls.load_from_checkpoint(tmp_path / "gan.ckpt", weights_only=False)
    assert dict(rebuilt.hparams) == dict(module.hparams)
    for (k, a), b in zip(module.state_dict().items(), rebuilt.state_dict().values()):
        assert torch.equal(a, b), k


def test_registered_in_the_jsdcgan_table_in_the_papers_order() -> None:
    methods = table_methods()
    assert methods.index("dcgan") < methods.index("multi_d") < methods.index("multi_g") < methods.index("jsdcgan")


@pytest.mark.parametrize("method", ["multi_d", "multi_g"])
def test_paper_configs_use_the_jsdcgan_protocol(method: str) -> None:
    root = Path(__file__).resolve().parents[2] / "experiments"
    for data in ("aid", "nwpu"):
        cfg = yaml.safe_load((root / method / f"{data}.yaml").read_text())
        ref = yaml.safe_load((root / "dcgan" / f"{data}.yaml").read_text())
        args = cfg["model"]["init_args"]
        assert (args["lr"], args["betas"], args["lambda_l1"]) == (0.003, [0.9, 0.999], 100)
        assert cfg["data"] == ref["data"] and cfg["trainer"] == ref["trainer"]
        if method == "multi_d":  # the coarsest scale of a 256 px image still leaves a PatchGAN logit map
            assert 256 // 2 ** (args["num_scales"] - 1) >= 3 * 2 ** args["d_layers"]
