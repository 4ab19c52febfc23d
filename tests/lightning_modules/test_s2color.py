"""s2color (Corpetti et al. 2023): loss weights, Laplacian and VGG terms, the residual U-Net, nodata handling, input
scaling for scene prediction; the stretch baselines; the mosaic seam metric and its test-time callback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from semcolor.datamodules.embedded import EmbeddedDataModule, input_to_tensor
from semcolor.errors import SemcolorError
from semcolor.lightning_modules.s2color import (
    S2ColorLoss,
    S2ColorModule,
    check_loss_weights,
    laplacian_loss,
)
from semcolor.lightning_modules.stretch_baselines import (
    GlobalStretchModule,
    TileStretchModule,
    tile_percentiles,
)
from semcolor.networks.perceptual import RandomVGGWarning, VGGFeatures
from semcolor.networks.residual_unet import ResidualUNet
from semcolor.scenes.mosaic_consistency import render_mosaic, seam_delta_e

TINY = dict(base_channels=4, depth=3, encoder_blocks=1, decoder_blocks=1, mosaic_check=False)


@pytest.fixture(autouse=True)
def _no_vgg_cache(tmp_path, monkeypatch):
    """Never find (or download) real VGG weights in tests: torch hub points at an empty folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)


def test_loss_weights_must_sum_to_one():
    for ok in [(1, 0, 0), (0.5, 0.5, 0), (0.4, 0.3, 0.3)]:
        check_loss_weights(*ok)
    with pytest.raises(ValueError, match="sum to 1"):
        check_loss_weights(0.5, 0.3, 0.3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_loss_weights(1.2, -0.2, 0.0)
    with pytest.raises(ValueError, match="sum to 1"):
        S2ColorModule(lambda_m=0.5, lambda_l=0.0, lambda_f=0.0, **TINY)


def test_laplacian_term():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 16, 16, generator=g)
    assert laplacian_loss(y, y.clone()) == 0
    # a constant offset changes the MAE but not the Laplacian; texture changes both
    assert laplacian_loss(y + 0.1, y) < 1e-6
    assert laplacian_loss(y + 0.05 * torch.rand(2, 3, 16, 16, generator=g), y) > 0.01
    loss = S2ColorLoss(0.5, 0.5, 0.0)
    terms = loss(y + 0.1, y)
    assert set(terms) == {"loss", "mae", "laplacian"} and loss.vgg is None
    assert torch.isclose(terms["loss"], torch.tensor(0.05), atol=1e-5)


def test_vgg_random_with_warning_then_from_file(tmp_path):
    with pytest.warns(RandomVGGWarning, match="RANDOM VGG19"):
        rand = VGGFeatures("vgg19", ("relu1_2", "relu2_2"))
    assert not rand.pretrained and len(rand.features) == 9  # truncated after relu2_2
    path = tmp_path / "vgg.pth"
    torch.save({f"features.{k}": v for k, v in rand.features.state_dict().items()}, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomVGGWarning)
        loaded = VGGFeatures("vgg19", ("relu2_2",), weights=path)
    assert loaded.pretrained
    x = torch.rand(1, 3, 20, 20)
    torch.testing.assert_close(loaded(x)[0], rand(x)[1])
    assert all(not p.requires_grad for p in loaded.parameters())
    loaded.train()
    assert not loaded.features.training
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        VGGFeatures("vgg19", ("relu9_9",))
    # the feature term: zero for identical images, gradient reaches the prediction
    with pytest.warns(RandomVGGWarning):
        loss = S2ColorLoss(0.4, 0.3, 0.3)
    y = torch.rand(1, 3, 16, 16)
    assert loss(y, y)["feature"] == 0
    pred = torch.rand(1, 3, 16, 16, requires_grad=True)
    loss(pred, y)["loss"].backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_residual_unet_shapes_and_range():
    net = ResidualUNet(base_channels=4, depth=4, encoder_blocks=1, decoder_blocks=1).eval()
    for h, w in [(32, 32), (37, 50)]:
        y = net(torch.randn(2, 3, h, w) * 0.1 + 0.15)
        assert y.shape == (2, 3, h, w) and 0 <= y.min() and y.max() <= 1
    assert net.widths == (4, 8, 16, 32)


def test_nodata_is_ignored_and_predict_scaling():
    model = S2ColorModule(lambda_m=0.5, lambda_l=0.5, lambda_f=0.0, **TINY).eval()
    y = torch.rand(2, 3, 16, 16)
    valid = torch.ones(2, 16, 16, dtype=torch.bool)
    valid[:, :4] = False
    wrong_outside = y.clone()
    wrong_outside[:, :, :4] = 1 - y[:, :, :4]
    batch = {"input": torch.zeros(2, 3, 16, 16), "target": y, "valid": valid}
    assert model.compute_loss(wrong_outside, batch)["loss"] == 0
    del batch["valid"]
    assert model.compute_loss(wrong_outside, batch)["loss"] > 0
    # the declared scaling is the DataModules' one: (DN - 1000) / 10000, as the embedded render16 data
    assert S2ColorModule.input_scaling == (1000.0, 10000.0)
    dn = np.array([[[1000, 3500, 11000]]], dtype=np.uint16).repeat(3, 0).transpose(1, 2, 0)
    torch.testing.assert_close(model.dn_to_input(torch.from_numpy(dn.astype(np.int32)).permute(2, 0, 1)),
                               input_to_tensor(dn))
    out = model.predict_step({"input": torch.rand(2, 3, 16, 16) * 0.3, "valid": valid}, 0)
    assert out.shape == (2, 3, 16, 16) and (out[:, :, :4] == 0).all() and (out[:, :, 4:] > 0).all()


def test_stretches():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 20, 20, generator=g) * torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1)
    tile = TileStretchModule(mosaic_check=False)
    lo, hi = tile_percentiles(x, 2, 98)
    torch.testing.assert_close(lo[1, 2, 0, 0], torch.quantile(x[1, 2], 0.02))
    out = tile(x)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
    assert 0.01 < (out == 0).float().mean() < 0.04  # about 2 % of the pixels at black
    # percentiles of valid pixels only: nodata zeros do not pull the black point down
    valid = torch.ones(2, 20, 20, dtype=torch.bool)
    valid[:, :5] = False
    xz = x.clone()
    xz[:, :, :5] = 0
    lo_v, _ = tile_percentiles(xz, 2, 98, valid=valid)
    assert (lo_v > 0).all()

    glob = GlobalStretchModule(mosaic_check=False, hist_range=(-0.1, 1.5), hist_bins=16000)
    with pytest.raises(SemcolorError, match="fit"):
        glob(x)
    glob.fit_percentiles([{"input": x[:1]}, {"input": x[1:]}])
    for c in range(3):
        assert abs(float(glob.low_value[c]) - float(torch.quantile(x[:, c], 0.02))) < 2e-4
        assert abs(float(glob.high_value[c]) - float(torch.quantile(x[:, c], 0.98))) < 2e-4
    state = glob.state_dict()
    assert {"low_value", "high_value", "fitted"} <= set(state)
    again = GlobalStretchModule(mosaic_check=False)
    again.load_state_dict(state)
    torch.testing.assert_close(again(x), glob(x))
    assert list(glob.parameters()) == [] and glob.configure_optimizers() is None


def test_seam_metric():
    g = torch.Generator().manual_seed(2)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    img = torch.stack([0.2 + 0.5 * xx, 0.3 + 0.4 * yy, 0.5 - 0.3 * xx * yy])
    img = (img + 0.02 * torch.rand(3, 64, 64, generator=g)).clamp(0, 1)
    base = seam_delta_e(img, 16)
    assert abs(base["jump_de"]) < 0.2 * base["interior_de"]  # one continuous image: no seam
    jumps = []
    for offset in (0.02, 0.05, 0.1):
        tiles = img.clone()
        for i in range(4):
            for j in range(4):
                tiles[:, 16 * i : 16 * (i + 1), 16 * j : 16 * (j + 1)] += offset * ((i + j) % 2)
        jumps.append(seam_delta_e(tiles.clamp(0, 1), 16)["jump_de"])
    assert base["jump_de"] < jumps[0] < jumps[1] < jumps[2]
    # render_mosaic puts independently rendered tiles back in place (identity render = the image)
    torch.testing.assert_close(render_mosaic(lambda x, v: x, img, 16, batch_size=5), img)
    # a per-tile stretch makes seams; a pointwise global one does not
    stretched = render_mosaic(lambda x, v: TileStretchModule(mosaic_check=False)(x), img, 16)
    assert seam_delta_e(stretched, 16)["jump_de"] > 5 * max(base["jump_de"], 0.05)


def test_mosaic_check_at_test_time(tmp_path):
    dm = EmbeddedDataModule(variant="render16", root=str(tmp_path), tile_size=32, scene_size=64,
                            train_scenes=1, val_scenes=1, test_scenes=1, batch_size=8)
    results = {}
    for model in (GlobalStretchModule(), TileStretchModule(), S2ColorModule(lambda_m=1.0, lambda_l=0.0, lambda_f=0.0,
                                                             **{**TINY, "mosaic_check": True})):
        trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(model, datamodule=dm)
            metrics = trainer.test(model, datamodule=dm, verbose=False)[0]
        assert {"test_psnr", "test_mosaic_jump_de", "test_mosaic_edge_de", "test_mosaic_psnr"} <= set(metrics)
        results[type(model).__name__] = metrics
    assert results["GlobalStretchModule"]["test_mosaic_jump_de"] < results["TileStretchModule"]["test_mosaic_jump_de"]
