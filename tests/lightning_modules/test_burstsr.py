"""burstsr: the two stages (losses, learning rates, the stage-1 checkpoint), RaGAN, interpolation checks."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from semcolor.datamodules.textures import TexturesDataModule
from semcolor.errors import SemcolorError
from semcolor.lightning_modules.burstsr import BurstSRModule, check_same_architecture, generator_from_checkpoint

TINY = dict(features=8, num_blocks=1, growth=4, d_features=8, image_size=32, perceptual_weight=0.0)


def _data(tmp_path, **kw):
    return TexturesDataModule(root=str(tmp_path / "data"), scene_size=40, crop_size=32, train_scenes=4, val_scenes=2,
                              test_scenes=2, batch_size=2, **kw)


def test_learning_rate_schedule_of_both_stages():
    m = BurstSRModule(num_frames=2, **TINY, distortion_epochs=200, lr_halving_distortion=50, lr_halving_perception=25)
    assert m.stage_learning_rates(0) == (2e-4, 1e-4)
    assert m.stage_learning_rates(149)[0] == pytest.approx(2e-4 / 4)
    assert m.stage_learning_rates(200) == (1e-4, 1e-4)  # stage 2 restarts at 1e-4
    assert m.stage_learning_rates(260) == pytest.approx((1e-4 / 4, 1e-4 / 4))
    p = BurstSRModule(num_frames=2, **TINY, stage="perception")
    assert p.stage_learning_rates(30)[0] == pytest.approx(1e-4 / 2)


def test_stage_losses():
    m = BurstSRModule(num_frames=1, **TINY, distortion_epochs=1, adversarial_weight=0.5, lambda_l1=0.1)
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    fake = m(x)
    m.in_perception_stage = lambda: False  # type: ignore[method-assign]
    g = m.generator_loss(x, fake, y)
    assert torch.equal(g["loss"], g["l1"]) and not m.discriminator_active()
    m.in_perception_stage = lambda: True  # type: ignore[method-assign]
    g = m.generator_loss(x, fake, y)
    assert g["loss"].item() == pytest.approx(0.1 * g["l1"].item() + 0.5 * g["adv"].item(), rel=1e-5)
    assert m.discriminator_active()


def test_relativistic_losses_against_the_formula():
    m = BurstSRModule(num_frames=1, **TINY)
    cr, cf = torch.tensor([[2.0], [0.0]]), torch.tensor([[-1.0], [1.0]])
    m.discriminate = lambda y, x: cr if y is real else cf  # type: ignore[method-assign]
    real, fake = torch.zeros(2, 3, 32, 32), torch.ones(2, 3, 32, 32)
    sp = torch.nn.functional.softplus  # BCE with logits: target 1 -> softplus(-z), target 0 -> softplus(z)
    d = m.discriminator_loss(None, real, fake)["loss"]
    expected_d = 0.5 * (sp(-(cr - cf.mean())).mean() + sp(cf - cr.mean()).mean())
    torch.testing.assert_close(d, expected_d)
    m.in_perception_stage = lambda: True  # type: ignore[method-assign]
    adv = m.generator_loss(None, fake, real)["adv"]
    torch.testing.assert_close(adv, 0.5 * (sp(cr - cf.mean()).mean() + sp(-(cf - cr.mean())).mean()))


def test_two_stages_in_one_fit_save_theta_d(tmp_path):
    pl.seed_everything(0)
    model = BurstSRModule(num_frames=2, **TINY, distortion_epochs=1, adversarial_weight=0.1, lambda_l1=1.0)
    trainer = pl.Trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, default_root_dir=str(tmp_path / "run"),
                         num_sanity_val_steps=0)
    d0 = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    trainer.fit(model, datamodule=_data(tmp_path))
    theta_d, hp = generator_from_checkpoint(tmp_path / "run" / "distortion.ckpt")
    assert hp["num_frames"] == 2
    now = model.network.state_dict()
    assert any(not torch.equal(theta_d[k], now[k]) for k in now)  # stage 2 moved G on from theta_D
    assert any(not torch.equal(d0[k], v) for k, v in model.discriminator.state_dict().items())  # D trained in stage 2
    theta_p, hp_p = generator_from_checkpoint(tmp_path / "run" / "perception.ckpt")  # written when training ends
    assert all(torch.equal(theta_p[k], now[k]) for k in now)
    check_same_architecture(("d", hp), ("p", hp_p))
    # stage "perception" starts from a stage-1 checkpoint's generator
    p = BurstSRModule(num_frames=2, **TINY, stage="perception", init_checkpoint=str(tmp_path / "run" / "distortion.ckpt"))
    assert all(torch.equal(p.network.state_dict()[k], theta_d[k]) for k in theta_d)


def test_distortion_only_never_runs_d(tmp_path):
    model = BurstSRModule(num_frames=1, **TINY, stage="distortion")
    d0 = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
               enable_progress_bar=False, default_root_dir=str(tmp_path)).fit(model, datamodule=_data(tmp_path))
    assert all(torch.equal(d0[k], v) for k, v in model.discriminator.state_dict().items())
    assert (tmp_path / "distortion.ckpt").is_file() and not (tmp_path / "perception.ckpt").exists()


def test_mismatched_burst_lengths_are_refused(tmp_path):
    model = BurstSRModule(num_frames=3, **TINY)
    trainer = pl.Trainer(fast_dev_run=True, logger=False, enable_progress_bar=False)
    with pytest.raises(SemcolorError, match="bursts of 3 frames .* the data makes 2"):
        trainer.fit(model, datamodule=_data(tmp_path, num_frames=2))
    with pytest.raises(SemcolorError, match=r"cannot interpolate 'a\.ckpt' and 'b\.ckpt': different burst lengths "
                                            r"\(num_frames 5 vs 10\)"):
        check_same_architecture(("a.ckpt", {"num_frames": 5}), ("b.ckpt", {"num_frames": 10}))
    with pytest.raises(SemcolorError, match="different architectures .*num_blocks 23 vs 2"):
        check_same_architecture(("a", {"num_frames": 5, "num_blocks": 23}), ("b", {"num_frames": 5, "num_blocks": 2}))


def test_identity_is_the_bicubic_reference_frame():
    m = BurstSRModule(num_frames=2, **TINY)
    x = torch.rand(1, 6, 8, 8)
    out = m.identity({"input": x})
    assert out.shape == (1, 3, 32, 32)
    torch.testing.assert_close(out, torch.nn.functional.interpolate(x[:, :3], scale_factor=4, mode="bicubic").clamp(0, 1))
    with pytest.raises(SemcolorError, match="num_frames .* must be >= 1, got 0"):
        BurstSRModule(num_frames=0)


@pytest.mark.parametrize("arg, expected", [
    ("--model.init_args.num_frames=0", "num_frames (the burst length) must be >= 1, got 0"),
    ("--data.init_args.num_frames=0", "num_frames (the burst length) must be a positive integer, got 0"),
    ("--data.init_args.crop_size=128", "textures: scene_size 96 is smaller than the HR crop crop_size=128"),
    ("--data.init_args.num_frames=3", "the model takes bursts of 5 frames (model.init_args.num_frames) but the data makes 3"),
])
def test_bad_burst_settings_are_one_line_through_the_cli(arg, expected, capsys):
    from tests.cli_helpers import run_cli

    code, _, err = run_cli(["fit", "--method", "burstsr", "--trainer.fast_dev_run=true", "--trainer.logger=false",
                            "--data.init_args.train_scenes=2", "--data.init_args.val_scenes=1",
                            "--data.init_args.test_scenes=1", arg], capsys)
    assert code == 2 and expected in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
