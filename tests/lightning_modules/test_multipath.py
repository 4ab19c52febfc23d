"""multipath (Wang et al. 2025): Table III shapes, gradients to both heads, chroma x1.3 applied once, L* kept,
per-class Delta E CAM16-UCS and the results table, config wiring (AdaDelta, early stopping)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from semcolor.colorspace import lab_to_rgb, rgb_to_lab
from semcolor.lightning_modules.multipath import (
    MultipathModule,
    lightness_from_gray,
    perceptual_vgg16,
    write_results,
)
from semcolor.metrics.image import delta_e_cam16ucs
from semcolor.networks.multipath import (
    TABLE_III,
    ColorizationNet,
    MultipathColorizer,
    RandomBackboneWarning,
    load_imagenet_resnet,
    resolve_size,
    table_iii_shapes,
)
from semcolor.networks.perceptual import RandomVGGWarning
from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED

#: a tiny network for CPU tests (the paper's widths are 32 / 128 / 256 and ResNet-50)
TINY = dict(backbone="resnet18", context_pretrained=False, base_channels=8, context_channels=16, fusion_channels=32)


def tiny_module(**kwargs) -> MultipathModule:
    args = dict(num_classes=3, ignore_index=255, perceptual_weight=0.0, chroma_scale=1.3, **TINY)
    args.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomVGGWarning)
        return MultipathModule(**args)


# -- network ------------------------------------------------------------------------------------------
def test_table_iii_constants_are_the_papers():
    assert table_iii_shapes(896, 32) == {k: ((2 if k == "US10" else c), s, s) for k, (s, c) in TABLE_III.items()}
    net = ColorizationNet(base_channels=32, seg_channels=128)
    w = {k: m[0].weight.shape for k, m in net.layers.items()}
    # filter sizes of Table III: Conv2d (out, in, k, k); ConvTranspose2d (in, out, k, k)
    assert w["DS1"] == (32, 3, 3, 3) and w["DS3"] == (64, 32, 3, 3) and w["DS9"] == (256, 256, 3, 3)
    assert w["DS12"] == (256, 256, 3, 3) and w["US1"] == (256, 128, 3, 3) and w["US2"] == (256, 128, 3, 3)
    assert w["US5"] == (128, 64, 3, 3) and w["US8"] == (64, 32, 3, 3) and w["US10"] == (2, 32, 1, 1)
    strides = {k: m[0].stride[0] for k, m in net.layers.items()}
    assert [k for k, s in strides.items() if s == 2] == ["DS3", "DS6", "DS9", "US1", "US4", "US7"]
    assert isinstance(net.layers["US10"][1], nn.BatchNorm2d) and isinstance(net.layers["US10"][2], nn.Sigmoid)


@pytest.mark.parametrize("size", [(64, 64), (32, 48)])
def test_table_iii_shapes_at_small_input(size):
    c = 8
    net = ColorizationNet(base_channels=c, seg_channels=4 * c).eval()
    seen: dict[str, tuple[int, ...]] = {}
    for name, layer in net.layers.items():
        layer.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:])))
    h, w = size
    out = net(torch.rand(2, 3, h, w), torch.rand(2, 4 * c, h // 4, w // 4))
    expected = table_iii_shapes(size, c)
    assert list(seen) == list(TABLE_III)  # every DS / US layer ran, in the table's order
    assert seen == expected
    assert seen["DS9"] == (8 * c, h // 8, w // 8) and seen["US7"] == (c, h, w)
    assert out.shape == (2, 2, h, w) and bool(((out > 0) & (out < 1)).all())


def test_instance_norm_switch_on_skips():
    on, off = ColorizationNet(base_channels=8, skip_norm=True), ColorizationNet(base_channels=8, skip_norm=False)
    assert all(isinstance(m, nn.InstanceNorm2d) for m in on.skip_norms.values())
    assert all(isinstance(m, nn.Identity) for m in off.skip_norms.values())
    with pytest.raises(ValueError, match="multiples of 8"):
        off(torch.rand(1, 3, 20, 20), torch.rand(1, 32, 5, 5))


def test_sizes_follow_the_data_or_are_fixed():
    assert resolve_size((896, 896), None, 1.0, 8) == (896, 896)
    assert resolve_size((896, 896), None, 0.25, 32) == (224, 224)  # the paper's context input
    assert resolve_size((24, 48), None, 0.25, 32) == (32, 32)  # lower bound: one multiple
    assert resolve_size((24, 48), 64, 1.0, 8) == (64, 64)
    with pytest.raises(ValueError):
        resolve_size((64, 64), 60, 1.0, 8)


def test_full_network_shapes_and_ab_range():
    net = MultipathColorizer(num_classes=5, chroma_scale=1.3, **TINY).eval()
    x = torch.rand(2, 1, 40, 56)
    with torch.no_grad():
        out = net(x)
    assert out.ab.shape == out.ab_raw.shape == out.ab_sigmoid.shape == (2, 2, 40, 56)
    assert out.seg_logits.shape == (2, 5, 40, 56)
    assert float(out.ab_raw.abs().max()) < 128.0
    assert net.sizes((896, 896)) == ((896, 896), (224, 224))


def test_context_weights_loaded_from_a_file_or_warned(tmp_path, monkeypatch):
    import timm

    import semcolor.networks.multipath as mp

    src = timm.create_model("resnet18", features_only=True, out_indices=(2, 4))
    path = tmp_path / "resnet18.pth"
    torch.save({**src.state_dict(), "fc.weight": torch.zeros(3, 512), "fc.bias": torch.zeros(3)}, path)
    dst = timm.create_model("resnet18", features_only=True, out_indices=(2, 4))
    assert load_imagenet_resnet(dst, path) is True
    assert torch.equal(dst.state_dict()["layer4.1.conv2.weight"], src.state_dict()["layer4.1.conv2.weight"])
    with pytest.raises(FileNotFoundError):
        load_imagenet_resnet(dst, tmp_path / "missing.pth")
    monkeypatch.setattr(mp, "torchvision_resnet50_caches", lambda: [tmp_path / "no-cache.pth"])
    with pytest.warns(RandomBackboneWarning, match="RANDOMLY"):
        assert load_imagenet_resnet(dst, None) is False
    monkeypatch.setattr(mp, "torchvision_resnet50_caches", lambda: [tmp_path / "no-cache.pth", path])
    assert load_imagenet_resnet(dst, None) is True  # torchvision's cache is used when it is there


# -- method --------------------------------------------------------------------------------------------
def test_both_heads_receive_gradients_from_the_total_loss():
    torch.manual_seed(0)
    m = tiny_module(num_classes=3, ignore_index=255)
    x, y = torch.rand(2, 1, 32, 32), torch.rand(2, 3, 32, 32)
    seg = torch.randint(0, 3, (2, 32, 32))
    seg[:, :4] = 255
    losses = m.compute_loss(m(x), {"input": x, "target": y, "seg": seg})
    assert set(losses) == {"loss", "huber", "ce", "perceptual"}
    assert float(losses["ce"]) > 0 and float(losses["huber"]) > 0
    losses["loss"].backward()
    net = m.network
    for name, p in [("seg head", net.seg_head.weight), ("colour head US10", net.colour.layers["US10"][0].weight),
                    ("feature head", net.feature_head[0].weight), ("context backbone", net.context.backbone.conv1.weight),
                    ("spatial path", net.spatial[0][0].weight)]:  # fmt: skip
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_perceptual_term_is_in_the_loss_and_warns_when_random(tmp_path, monkeypatch):
    import semcolor.networks.perceptual as perceptual

    monkeypatch.setattr(perceptual, "torchvision_vgg_cache", lambda arch: tmp_path / "no-cache.pth")
    with pytest.warns(RandomVGGWarning, match="multipath: no VGG16 weights.*RANDOM VGG16"):
        vgg = perceptual_vgg16(16)
    assert vgg.features[-1].__class__ is nn.ReLU and len(vgg.features) == 16  # relu3_3
    path = tmp_path / "vgg.pth"
    torch.save({f"features.{k}": v for k, v in vgg.features.state_dict().items()}, path)
    loaded = perceptual_vgg16(16, weights=path)
    assert loaded.pretrained and torch.equal(loaded.features[14].weight, vgg.features[14].weight)
    with pytest.raises(FileNotFoundError):
        perceptual_vgg16(16, weights=tmp_path / "none.pth")
    m = tiny_module(perceptual_weight=15.0, perceptual_weights=str(path))
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 3, 16, 16)
    losses = m.compute_loss(m(x), {"input": x, "target": y, "seg": torch.zeros(2, 16, 16, dtype=torch.long)})
    assert float(losses["perceptual"]) > 0
    assert all(not p.requires_grad for p in m.vgg.parameters())


class _KnownAB(nn.Module):
    """Stands in for the colorization net: a constant sigmoid output (s_a, s_b)."""

    def __init__(self, s_a: float, s_b: float) -> None:
        super().__init__()
        self.s = torch.tensor([s_a, s_b]).view(1, 2, 1, 1)

    def forward(self, x, seg_features):
        return self.s.expand(x.shape[0], 2, x.shape[-2], x.shape[-1]).clone()


def test_chroma_scale_applied_exactly_once():
    m = tiny_module(chroma_scale=1.3).eval()
    m.network.colour = _KnownAB(0.6, 0.45)  # ab_raw = 128 * (2 s - 1) = (25.6, -12.8)
    gray = torch.full((1, 1, 16, 16), 0.5)
    with torch.no_grad():
        out = m.network(gray)
        rgb = m.to_rgb(m(gray))
    assert torch.allclose(out.ab_raw[0, :, 0, 0], torch.tensor([25.6, -12.8]), atol=1e-4)
    assert torch.allclose(out.ab, 1.3 * out.ab_raw)
    L = lightness_from_gray(gray)
    expect = lab_to_rgb(torch.cat([L, 1.3 * out.ab_raw], 1))
    assert torch.allclose(rgb, expect, atol=1e-5)
    for wrong in (1.0, 1.3 * 1.3):  # not forgotten, not applied twice
        assert not torch.allclose(rgb, lab_to_rgb(torch.cat([L, wrong * out.ab_raw], 1)), atol=1e-3)
    # the losses see the unscaled prediction: a target equal to the unscaled colours gives ~0 Huber
    target = lab_to_rgb(torch.cat([L, out.ab_raw], 1))
    batch = {"input": gray, "target": target, "seg": torch.zeros(1, 16, 16, dtype=torch.long)}
    with torch.no_grad():
        assert float(m.compute_loss(m(gray), batch)["huber"]) < 1e-8
        m.hparams.chroma_in_loss = True
        assert float(m.compute_loss(m(gray), batch)["huber"]) > 1e-4


def test_output_lightness_equals_input_lightness():
    m = tiny_module(chroma_scale=1.0).eval()
    gray = torch.linspace(0.25, 0.75, 16 * 16).view(1, 1, 16, 16)
    m.network.colour = _KnownAB(0.5, 0.5)  # a* = b* = 0: the gray image itself
    with torch.no_grad():
        assert torch.allclose(m.to_rgb(m(gray)), gray.expand(-1, 3, -1, -1), atol=1e-4)
        m.network.colour = _KnownAB(0.55, 0.46)  # a* 12.8, b* -10.2: inside the sRGB gamut here
        rgb = m.to_rgb(m(gray))
    assert bool(((rgb > 0) & (rgb < 1)).all())  # no clipping, so L* survives the round trip exactly
    assert torch.allclose(rgb_to_lab(rgb)[:, :1], lightness_from_gray(gray), atol=1e-3)
    # (out-of-gamut a*, b* are clipped in sRGB by lab_to_rgb, which changes L*: see the module docstring)
    assert torch.allclose(lightness_from_gray(gray, "linear"), 100 * gray)


def test_label_remap_and_traffic_light_pixels():
    m = tiny_module(num_classes=3, ignore_index=255, traffic_light_class=3, label_remap={7: 0, 8: 1, 9: 2, 6: 3})
    seg = torch.tensor([[[7, 8, 9, 6, 0, 255]]])
    batch = m.prepare_batch({"seg": seg})
    assert batch["seg"].tolist() == [[[0, 1, 2, 3, 255, 255]]]
    assert m.loss_seg(batch["seg"]).tolist() == [[[0, 1, 2, 255, 255, 255]]]
    assert m.metric_classes == 4
    x = torch.rand(2, 1, 16, 16)
    only_tl = torch.full((2, 16, 16), 3)
    losses = m.compute_loss(m(x), {"input": x, "target": torch.rand(2, 3, 16, 16), "seg": only_tl})
    assert float(losses["ce"]) == 0.0 and torch.isfinite(losses["loss"])
    with pytest.raises(ValueError, match="traffic_light_class"):
        tiny_module(num_classes=3, traffic_light_class=2)


def test_per_class_delta_e_on_a_constructed_example(tmp_path):
    """Class 0 (left) is off by a known colour error, class 1 (right) by another, class 2 = traffic light."""
    m = tiny_module(num_classes=2, ignore_index=255, traffic_light_class=2,
                    class_names=["road", "sky", "traffic light"])  # fmt: skip
    a_true, a_pred = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.6, 0.3, 0.2])
    b_true, b_pred = torch.tensor([0.2, 0.4, 0.8]), torch.tensor([0.2, 0.4, 0.7])
    t_true, t_pred = torch.tensor([0.9, 0.1, 0.1]), torch.tensor([0.1, 0.9, 0.1])
    px = lambda c: c.view(1, 3, 1, 1)  # noqa: E731
    d_a = float(delta_e_cam16ucs(px(a_pred), px(a_true)))
    d_b = float(delta_e_cam16ucs(px(b_pred), px(b_true)))
    d_t = float(delta_e_cam16ucs(px(t_pred), px(t_true)))
    assert d_a > 1 and d_b > 1 and d_t > 10 and abs(d_a - d_b) > 0.5
    target, pred = torch.empty(1, 3, 8, 8), torch.empty(1, 3, 8, 8)
    seg = torch.full((1, 8, 8), 255)
    for rows, cols, true, wrong, cls in [(slice(None), slice(0, 4), a_true, a_pred, 0),
                                         (slice(None), slice(4, 8), b_true, b_pred, 1),
                                         (slice(0, 1), slice(0, 2), t_true, t_pred, 2)]:  # 2 traffic-light px
        target[0, :, rows, cols], pred[0, :, rows, cols] = true.view(3, 1, 1), wrong.view(3, 1, 1)
        seg[0, rows, cols] = cls
    seg[0, 7, 7] = 255  # an ignored pixel still counts globally
    m.test_de.update(pred, target, seg)
    res = m.test_de.compute()
    p = "test_de_cam16ucs_"
    assert res[p + "class_0"] == pytest.approx(d_a, abs=1e-4)
    assert res[p + "class_1"] == pytest.approx(d_b, abs=1e-4)
    assert res[p + "class_2"] == pytest.approx(d_t, abs=1e-4)
    assert res[p + "class_2_p95"] == pytest.approx(d_t, abs=0.01)
    n_a, n_b = 4 * 8 - 2, 4 * 8  # left half minus the 2 traffic-light pixels; right half (incl. the ignored)
    assert res[p + "mean"] == pytest.approx((n_a * d_a + n_b * d_b + 2 * d_t) / 64, abs=1e-4)
    metrics = {k: float(v) for k, v in res.items()} | {"test_identity_de_cam16ucs_mean": 9.0, "test_psnr": 20.0,
                                                       "test_identity_de_cam16ucs_class_0": 7.0}
    md, js = write_results(tmp_path, metrics, m.class_names(), traffic_light_class=2)
    data = json.loads(js.read_text())
    assert data["per_class"]["road"]["mean"] == pytest.approx(d_a, abs=1e-4)
    assert data["per_class"]["road"]["identity_mean"] == 7.0
    assert data["traffic_light"]["mean"] == pytest.approx(d_t, abs=1e-4)
    assert data["other"] == {"psnr": 20.0}
    text = md.read_text()
    assert "| road |" in text and "| traffic light |" in text and "paper Method 6" in text
    assert "| 3.1 |" not in text  # the paper's "road" (GTA5, Table V) is not shown for another class list
    from semcolor.lightning_modules.multipath import PAPER_TABLE_V

    md, _ = write_results(tmp_path / "gta5", metrics, [*PAPER_TABLE_V, "traffic light"], traffic_light_class=11)
    assert "| building | " in md.read_text() and "| 4.5 |" in md.read_text()


def test_optimizer_is_adadelta():
    opt = tiny_module(lr=0.004).configure_optimizers()
    assert isinstance(opt, torch.optim.Adadelta) and opt.defaults["lr"] == 0.004


# -- configs / CLI -------------------------------------------------------------------------------------
def test_gta5_config_has_paper_settings_and_early_stopping(tmp_path):
    from pytorch_lightning.callbacks import EarlyStopping, ProgressBar

    from semcolor.cli.main import SemcolorCLI, experiments_dir

    args = ["--config", str(experiments_dir() / "trainer" / "default.yaml"),
            "--config", str(experiments_dir() / "multipath" / "gta5.yaml"),
            f"--data.init_args.root={tmp_path}", "--trainer.logger=false",
            "--model.init_args.backbone=resnet18", "--model.init_args.perceptual_weight=0"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cli = SemcolorCLI(args=args, run=False)
    stops = [c for c in cli.trainer.callbacks if isinstance(c, EarlyStopping)]
    assert len(stops) == 1 and stops[0].patience == 16 and stops[0].monitor == "val_loss"
    assert len([c for c in cli.trainer.callbacks if isinstance(c, ProgressBar)]) == 1
    hp = cli.model.hparams
    assert (hp.huber_weight, hp.huber_delta, hp.ce_weight, hp.lr, hp.chroma_scale) == (10000.0, 0.5, 8.0, 0.004, 1.3)
    assert cli.datamodule.batch_size == 4 and cli.datamodule.class_names[11] == "traffic light"
    assert cli.model.metric_classes == 12 and cli.model.hparams.traffic_light_class == 11


def test_cli_test_writes_results_table(capsys):
    args = ["test", "--method", "multipath", "--data", "embedded-method1", *TINY_EMBEDDED,
            "--trainer.logger=false", "--trainer.limit_test_batches=1", "--model.init_args.backbone=resnet18",
            "--model.init_args.base_channels=8", "--model.init_args.context_channels=16",
            "--model.init_args.fusion_channels=32"]  # fmt: skip
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    runs = list((Path(os.environ["SEMCOLOR_CKPTS"]) / "multipath").glob("embedded-test-*"))
    assert len(runs) == 1
    data = json.loads((runs[0] / "multipath_results.json").read_text())
    assert data["global"]["mean"] > 0 and data["identity_global"]["mean"] > 0
    assert data["per_class"] and set(data["per_class"]) <= set(data["class_names"])
    assert (runs[0] / "multipath_results.md").is_file() and (runs[0] / "test_metrics.json").is_file()
