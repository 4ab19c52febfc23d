"""Tests of the jsdcgan networks: U-Net generator, LCFE, GSM, joint-stream generator, discriminators."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from semcolor.networks.discriminators import (
    ConditionalDiscriminator,
    DCGANDiscriminator,
    PatchGANDiscriminator,
    receptive_field,
)
from semcolor.networks.jsdcgan import (
    ABLATIONS,
    LCFE,
    GatedSelection,
    JointStreamGenerator,
)
from semcolor.networks.unet_generator import UNetGenerator, pad_to_multiple

SMALL = {"base_channels": 8, "depth": 5}  # stride 32: 64x64 inputs


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# ----------------------------------------------------------------------------------------------- U-Net


def test_unet_feature_shapes() -> None:
    g = UNetGenerator(1, 3, depth=6, base_channels=8, max_multiplier=4)
    assert g.channels == [8, 16, 32, 32, 32, 32]
    f = g.forward_features(torch.rand(2, 1, 64, 64))
    assert [tuple(e.shape) for e in f["encoder"]] == [
        (2, 8, 32, 32), (2, 16, 16, 16), (2, 32, 8, 8), (2, 32, 4, 4), (2, 32, 2, 2), (2, 32, 1, 1)
    ]
    assert [tuple(d.shape) for d in f["decoder"]] == [(2, 32, 2, 2), (2, 32, 4, 4), (2, 32, 8, 8), (2, 16, 16, 16), (2, 8, 32, 32)]
    assert f["last"].shape == (2, 16, 32, 32)
    out = f["output"]
    assert out.shape == (2, 3, 64, 64)
    assert bool((out > 0).all() and (out < 1).all())  # sigmoid output
    # pix2pix dropout rule: decoder blocks whose in and out widths are maximal, innermost excluded
    with_dropout = [k for k, blk in enumerate(g.decoder) if any(isinstance(m, nn.Dropout) for m in blk.modules())]
    assert with_dropout == [3, 4]


def test_unet_size_requirement_and_padding() -> None:
    g = UNetGenerator(1, 3, **SMALL)
    assert g.stride == 32
    x = torch.rand(1, 1, 50, 37)
    with pytest.raises(ValueError, match="divisible by 32"):
        g.forward_features(x)
    assert g(x).shape == (1, 3, 50, 37)
    xp, pads = pad_to_multiple(x, 32)
    assert xp.shape[-2:] == (64, 64) and pads == (13, 14, 7, 7)
    g.pad_to_stride = False
    with pytest.raises(ValueError, match="divisible"):
        g(x)


def test_unet_extra_input_reaches_output() -> None:
    g = UNetGenerator(1, 4, output_activation="none", extra_channels=5, **SMALL)
    x = torch.rand(2, 1, 64, 64)
    extra = torch.rand(2, 5, 32, 32, requires_grad=True)
    f = g.forward_features(x, extra)
    assert f["last"].shape == (2, 2 * 8 + 5, 32, 32)
    f["output"].sum().backward()
    assert extra.grad is not None and extra.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="extra"):
        g.forward_features(x)
    with pytest.raises(ValueError, match="shape"):
        g.forward_features(x, torch.rand(2, 5, 16, 16))


# ----------------------------------------------------------------------------------------------- LCFE


def _manual_spatial(lcfe: LCFE, f: torch.Tensor) -> torch.Tensor:
    pooled = torch.cat([f.mean(1, keepdim=True), f.max(1, keepdim=True).values], 1)
    conv = lcfe.spatial.conv
    return f * torch.sigmoid(F.conv2d(pooled, conv.weight, conv.bias, padding=conv.padding))


def _proj(conv: nn.Conv2d, x_nc: torch.Tensor) -> torch.Tensor:
    """1x1 conv applied to a (B, N, C) matrix of positions -> (B, N, C')."""
    return x_nc @ conv.weight[:, :, 0, 0].T + conv.bias


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_lcfe_position_affinity_matches_eq1(activation: str) -> None:
    torch.manual_seed(0)
    lcfe = LCFE(8, key_channels=4, affinity="position", correlation_activation=activation).double()
    f_i = torch.randn(2, 8, 5, 6, dtype=torch.float64)  # non-square, N = 30
    b, c, h, w = f_i.shape
    x = f_i.flatten(2).transpose(1, 2)  # (B, N, C): one row per position
    q, k = _proj(lcfe.query, x), _proj(lcfe.key, x)  # (B, N, d_k)
    f_c = q @ k.transpose(1, 2)  # Eq. 1: F_c = conv(F_i) x conv'(F_i)^T, (B, N, N)
    assert f_c.shape == (2, 30, 30)
    f_s = _manual_spatial(lcfe, f_i).flatten(2).transpose(1, 2)  # (B, N, C)
    a = f_c / math.sqrt(4)
    a = torch.softmax(a, dim=-1) if activation == "softmax" else torch.sigmoid(a)
    f_o = x + a @ f_s  # F_o = F_i + sigma(F_c / sqrt(d_k)) x F_s
    expected = f_o.transpose(1, 2).reshape(b, c, h, w)
    torch.testing.assert_close(lcfe(f_i), expected)


def test_lcfe_channel_affinity_matches_eq1() -> None:
    torch.manual_seed(1)
    lcfe = LCFE(6, affinity="channel").double()
    assert lcfe.key_channels == 6
    f_i = torch.randn(2, 6, 4, 7, dtype=torch.float64)
    x = f_i.flatten(2)  # (B, C, N)
    q = lcfe.query.weight[:, :, 0, 0] @ x + lcfe.query.bias[:, None]
    k = lcfe.key.weight[:, :, 0, 0] @ x + lcfe.key.bias[:, None]
    f_c = q @ k.transpose(1, 2)  # (B, C, C)
    f_s = _manual_spatial(lcfe, f_i).flatten(2)  # (B, C, N)
    expected = x + torch.softmax(f_c / math.sqrt(28), dim=-1) @ f_s
    torch.testing.assert_close(lcfe(f_i), expected.reshape(f_i.shape))
    with pytest.raises(ValueError):
        LCFE(6, key_channels=3, affinity="channel")


def test_lcfe_default_key_channels_and_global_mixing() -> None:
    lcfe = LCFE(64)
    assert lcfe.key_channels == 8
    f = torch.randn(1, 64, 8, 8, requires_grad=True)
    lcfe(f)[0, :, 0, 0].sum().backward()  # one corner output position ...
    assert f.grad is not None and f.grad[0, :, 7, 7].abs().sum() > 0  # ... depends on the far corner


# ----------------------------------------------------------------------------------------------- GSM


def test_gsm_fixed_gates_reproduce_eq2() -> None:
    torch.manual_seed(2)
    gsm = GatedSelection(4)
    x_i, x_a = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 3, 5)
    logits = torch.randn(2, 2, 3, 5)
    g = torch.softmax(logits, dim=1)
    g_i, g_a = g[:, :1], g[:, 1:]
    torch.testing.assert_close(gsm(x_i, x_a, logits), (1 + g_i) * x_i + (1 - g_i) * g_a * x_a, rtol=0, atol=0)
    # equal logits -> G_i = G_a = 1/2 -> X = 1.5 X_i + 0.25 X_a exactly
    assert torch.equal(gsm(x_i, x_a, torch.zeros(2, 2, 3, 5)), 1.5 * x_i + 0.25 * x_a)
    # saturated gate -> G_i = 1 -> X = 2 X_i
    sat = torch.stack([torch.full((2, 3, 5), 60.0), torch.full((2, 3, 5), -60.0)], dim=1)
    assert torch.equal(gsm(x_i, x_a, sat), 2 * x_i)
    # gates from the module: softmax over the two streams, one per pixel
    gi, ga = gsm.gates(x_i, x_a)
    assert gi.shape == ga.shape == (2, 1, 3, 5)
    torch.testing.assert_close(gi + ga, torch.ones_like(gi))


def test_gsm_inside_generator_with_overridden_gate() -> None:
    torch.manual_seed(3)
    g = JointStreamGenerator(**SMALL).eval()
    fixed = torch.randn(1, 2, 64, 64)

    class FixedGate(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return fixed.expand(x.shape[0], -1, -1, -1)

    g.gsm.gate = FixedGate()  # type: ignore[union-attr]
    f = g.forward_features(torch.rand(2, 1, 64, 64))
    gate = torch.softmax(fixed, dim=1)
    g_i, g_a = gate[:, :1], gate[:, 1:]
    torch.testing.assert_close(f["g_i"], g_i.expand(2, -1, -1, -1))
    torch.testing.assert_close(f["fused"], (1 + g_i) * f["x_i"] + (1 - g_i) * g_a * f["x_a"], rtol=0, atol=0)
    torch.testing.assert_close(f["output"], g.head(f["fused"]))


# ---------------------------------------------------------------------------------- joint-stream generator


def test_generator_intermediate_shapes() -> None:
    g = JointStreamGenerator(**SMALL)
    assert g.macro_depth == 4 and g.stride == 32
    x = torch.rand(2, 1, 64, 64)
    f = g.forward_features(x)
    shapes = {k: tuple(v.shape) for k, v in f.items()}
    assert shapes == {
        "x2": (2, 1, 32, 32), "f_i": (2, 8, 16, 16), "f_o": (2, 8, 16, 16), "x_i": (2, 8, 64, 64),
        "x_a": (2, 8, 64, 64), "g_i": (2, 1, 64, 64), "g_a": (2, 1, 64, 64), "fused": (2, 8, 64, 64),
        "output": (2, 3, 64, 64),
    }
    torch.testing.assert_close(f["x2"], F.avg_pool2d(x, 2))
    out = f["output"]
    assert bool((out > 0).all() and (out < 1).all())


def test_generator_macro_input_is_average_pooling() -> None:
    g = JointStreamGenerator(macro_factor=4, **SMALL)
    assert g.macro_depth == 3 and g.stride == 32
    x = torch.arange(64.0).view(1, 1, 8, 8)
    torch.testing.assert_close(g.macro_input(x)[0, 0, 0, 0], x[0, 0, :4, :4].mean())


@pytest.mark.parametrize("row", list(ABLATIONS))
def test_ablation_rows_forward_backward(row: str) -> None:
    torch.manual_seed(4)
    g = JointStreamGenerator.from_ablation(row, **SMALL)
    cfg = ABLATIONS[row]
    assert (getattr(g, "lcfe", None) is not None) == cfg["lcfe"]
    assert (getattr(g, "gsm", None) is not None) == (cfg["fusion"] == "gsm" and cfg["joint_stream"])
    assert g.micro.extra_channels == (8 if cfg["macro_shortcut"] else 0)
    x = torch.rand(2, 1, 64, 64)
    y = g(x)
    assert y.shape == (2, 3, 64, 64)
    F.l1_loss(y, torch.rand_like(y)).backward()
    for name, p in g.named_parameters():
        assert p.grad is not None, f"{row}: no gradient for {name}"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{row}: zero/non-finite gradient for {name}"


def test_single_stream_is_plain_unet() -> None:
    torch.manual_seed(5)
    g = JointStreamGenerator.from_ablation("single_stream", **SMALL).eval()
    unet = UNetGenerator(1, 3, base_channels=8, depth=5).eval()
    assert n_params(g) == n_params(unet)
    g.micro.load_state_dict(unet.state_dict())
    x = torch.rand(1, 1, 64, 64)
    torch.testing.assert_close(g(x), unet(x))


def test_generator_padding_and_invalid_configs() -> None:
    g = JointStreamGenerator(**SMALL).eval()
    assert g(torch.rand(1, 1, 50, 70)).shape == (1, 3, 50, 70)
    with pytest.raises(ValueError, match="divisible by 32"):
        g.forward_features(torch.rand(1, 1, 50, 70))
    with pytest.raises(ValueError, match="macro_shortcut"):
        JointStreamGenerator(macro_shortcut=False, lcfe=True, **SMALL)
    with pytest.raises(ValueError, match="single-stream"):
        JointStreamGenerator(joint_stream=False, **SMALL)
    with pytest.raises(ValueError, match="power of two"):
        JointStreamGenerator(macro_factor=3, **SMALL)
    with pytest.raises(ValueError, match="unknown ablation"):
        JointStreamGenerator.from_ablation("nope")
    g3 = JointStreamGenerator(macro_factor=3, macro_depth=3, base_channels=8, depth=5)
    assert g3.stride == math.lcm(32, 24) == 96


# ------------------------------------------------------------------------------------------ discriminators


def test_patchgan_70_at_256() -> None:
    d = PatchGANDiscriminator(4).eval()
    assert d.receptive_field == 70
    assert receptive_field([(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)]) == 70
    x = torch.rand(1, 4, 256, 256, requires_grad=True)
    out = d(x)
    assert out.shape == (1, 1, 30, 30)
    out[0, 0, 15, 15].backward()  # empirical receptive field of one logit
    support = x.grad[0].abs().sum(0) > 0  # type: ignore[index]
    rows, cols = support.any(1).nonzero().flatten(), support.any(0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_patchgan_output_size_formula_small() -> None:
    for n_layers, size in [(3, 64), (2, 64), (3, 96)]:
        d = PatchGANDiscriminator(2, base_channels=4, n_layers=n_layers)
        expected = size // 2**n_layers - 2  # stride-2 convs halve; the two stride-1 4x4 convs remove 1 each
        assert d(torch.rand(2, 2, size, size)).shape == (2, 1, expected, expected)
    assert PatchGANDiscriminator(2, n_layers=1).receptive_field == 16
    assert PatchGANDiscriminator(2, n_layers=4).receptive_field == 142


def test_dcgan_discriminator_shapes() -> None:
    d = DCGANDiscriminator(4, base_channels=8, n_layers=4, input_size=64)
    assert d(torch.rand(3, 4, 64, 64)).shape == (3, 1)
    assert d.classifier.in_features == 64 * 4 * 4
    with pytest.raises(ValueError, match="built for"):
        d(torch.rand(3, 4, 32, 32))
    with pytest.raises(ValueError, match="divisible"):
        DCGANDiscriminator(4, n_layers=6, input_size=100)


def test_conditional_discriminator_uses_both_conditions() -> None:
    torch.manual_seed(6)
    d = ConditionalDiscriminator(condition_channels=(1, 1), base_channels=8, n_layers=4, input_size=64)
    y = torch.rand(2, 3, 64, 64)
    x1 = torch.rand(2, 1, 64, 64, requires_grad=True)
    x2 = torch.rand(2, 1, 32, 32, requires_grad=True)  # macro input, upsampled inside
    out = d(y, x1, x2)
    assert out.shape == (2, 1)
    out.sum().backward()
    assert x1.grad is not None and x1.grad.abs().sum() > 0
    assert x2.grad is not None and x2.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="conditions"):
        d(y, x1)
    p = ConditionalDiscriminator(condition_channels=(1,), arch="patchgan", base_channels=8)
    assert p(y, x1).shape == (2, 1, 6, 6)


def test_generator_discriminator_together() -> None:
    g = JointStreamGenerator(**SMALL)
    d = ConditionalDiscriminator(base_channels=8, n_layers=4, input_size=64)
    x1 = torch.rand(2, 1, 64, 64)
    logits = d(g(x1), x1, g.macro_input(x1))
    assert logits.shape == (2, 1)


# ------------------------------------------------------------------------------------------ parameter counts

# Built on the meta device (no memory, no init time).  pix2pix's published counts: unet_256 (3 -> 3)
# 54.414 M, 70x70 PatchGAN on 6 channels 2.769 M.
PINNED = {
    "UNetGenerator(3->3, tanh) = pix2pix unet_256": (lambda: UNetGenerator(3, 3, output_activation="tanh"), 54_413_955),
    "UNetGenerator() 1->3 (U-Net / pix2pix / DCGAN baselines)": (lambda: UNetGenerator(), 54_411_907),
    "JointStreamGenerator single_stream": (lambda: JointStreamGenerator.from_ablation("single_stream"), 54_411_907),
    "JointStreamGenerator joint_stream": (lambda: JointStreamGenerator.from_ablation("joint_stream"), 96_489_219),
    "JointStreamGenerator js_concat": (lambda: JointStreamGenerator.from_ablation("js_concat"), 96_554_755),
    "JointStreamGenerator js_lcfe": (lambda: JointStreamGenerator.from_ablation("js_lcfe"), 96_555_894),
    "JointStreamGenerator() = js_lcfe_gsm": (lambda: JointStreamGenerator(), 96_555_960),
    "PatchGANDiscriminator(6) = pix2pix 70x70": (lambda: PatchGANDiscriminator(6), 2_768_705),
    "PatchGANDiscriminator(4) gray+RGB": (lambda: PatchGANDiscriminator(4), 2_766_657),
    "DCGANDiscriminator(4) Nazeri 256": (lambda: DCGANDiscriminator(4), 11_157_313),
    "ConditionalDiscriminator() D(y|x1,x2)": (lambda: ConditionalDiscriminator(), 11_158_337),
}


def test_parameter_counts_pinned() -> None:
    rows = []
    for name, (build, expected) in PINNED.items():
        with torch.device("meta"):
            model = build()
        rows.append((name, n_params(model), expected))
    print("\n" + "\n".join(f"{name:60s} {n:>12,d}" for name, n, _ in rows))
    assert [n for _, n, _ in rows] == [e for _, _, e in rows]


@pytest.mark.slow
def test_default_generator_full_size_forward() -> None:
    g = JointStreamGenerator().eval()
    with torch.no_grad():
        f = g.forward_features(torch.rand(1, 1, 256, 256))
    assert f["f_i"].shape == (1, 64, 64, 64)
    assert f["output"].shape == (1, 3, 256, 256)
