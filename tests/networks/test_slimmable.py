"""Tests of the slimmable SlimSeg networks (networks/slimmable, thesis ch. 2, Table 2.2 / 2.3).

Forwards use tiny inputs; parameter / MAC counts run on the meta device (nothing is computed).
"""
from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from semcolor.networks.slimmable import (
    MODEL_NAMES,
    SlimmableConv2d,
    SlimmableMobileNetV2,
    SwitchableBatchNorm2d,
    WidthSwitchError,
    build_slimmable,
    channel_signature,
    count_macs,
    count_params,
    get_width,
    load_timm_weights,
    make_divisible,
    round_channels,
    set_width,
    slimmable_resnet18,
    slimmable_resnet50,
    width_context,
)
from semcolor.networks.slimmable.paper import TABLE_2_2

# ---------------------------------------------------------------------------------------------------
# Table 2.2 (x1.0, x0.75, x0.5, x0.25 -- x0.35 for MobileNetV2): paper figures (paper.TABLE_2_2) and ours
# ---------------------------------------------------------------------------------------------------
# our exact counts (pinned), same order.  The DFNet rows equal an independent count (plain nn.Conv2d /
# nn.BatchNorm2d networks of each width built from the official layouts, forward hooks) to the unit.
OUR_PARAMS = {
    "sfnet_r50": (31_200_595, 17_566_723, 7_822_003, 1_966_435),
    "sfnet_r18": (12_869_331, 7_243_555, 3_223_411, 808_899),
    "sfnet_dfnetv2": (17_876_339, 10_059_931, 4_475_075, 1_121_771),
    "sfnet_dfnetv1": (8_422_259, 4_740_379, 2_109_379, 529_259),
    "deeplabv3plus_r50": (40_351_667, 22_711_243, 10_105_827, 2_535_419),
    "deeplabv3plus_mbv2": (4_525_187, 2_574_075, 1_161_035, 577_963),
}
OUR_MACS = {
    "sfnet_dfnetv2": (80_244_942_208, 45_290_892_320, 20_265_489_088, 5_168_732_512),
    "sfnet_dfnetv1": (32_893_928_832, 18_623_302_688, 8_384_131_776, 2_176_416_096),
}
# Documented gaps.  Every term of a uniformly slimmed network scales with w^2 (slimmed in and out), w
# (one side fixed) or 1, so with exact int(c*w) rounding (all ResNet and DFNet channels are multiples
# of 4) P(w) >= w^2 P(1) and MACs(w) >= w^2 MACs(1).  The paper's three figures below violate that
# bound (0.79 < 12.865/16 = 0.804 M; 0.52 < 8.415/16 = 0.526 M; 347.6 < 1462.5/4 = 365.6 GMac), so no
# architecture consistent with the rest of its row reaches them; our counts are pinned instead.
PARAM_GAPS = {
    ("sfnet_r18", 3): 0.03,  # 0.809 M vs 0.79 M (< 12.865 / 16 = 0.804 M)
    ("sfnet_dfnetv1", 3): 0.02,  # 0.529 M vs 0.52 M, 1.8 % (< 8.415 / 16 = 0.526 M)
}
MAC_GAPS = {
    ("deeplabv3plus_r50", 2): 0.07,  # 368.2 vs 347.6 GMac (< 1462.5 / 4 = 365.6)
    ("sfnet_dfnetv1", 3): 0.011,  # 2.176 vs 2.2 GMac: 1.07 %, but it rounds to the printed 2.2
}
#: state_dict layout (keys and shapes) of the networks that existed before the DFNet rows; a change here
#: would break every checkpoint saved with them (strict loading)
STATE_DICT_SHA256 = {
    "sfnet_r18": "0bb2a79597484d99",
    "sfnet_r50": "b38b8d4a83e7339b",
    "deeplabv3plus_r50": "17f62d4340667553",
    "deeplabv3plus_mbv2": "ee6cb4facc50e137",
}


def _widths(name: str) -> tuple[float, ...]:
    return TABLE_2_2[name].widths


@pytest.fixture(scope="module")
def meta_models() -> dict[str, nn.Module]:
    with torch.device("meta"):
        return {name: build_slimmable(name, num_classes=19) for name in MODEL_NAMES}


# ---------------------------------------------------------------------------------------------------
# ops
# ---------------------------------------------------------------------------------------------------

def test_channel_rounding() -> None:
    assert round_channels(64, 0.25, "int") == 16
    assert round_channels(20, 0.35, "int") == 7  # 0.35 * 20 = 6.999... in floating point
    assert make_divisible(32 * 0.35, 8) == 16  # 11.2 -> 8 would lose > 10 %, so 16
    assert round_channels(24, 0.5, "div8") == 16 and round_channels(320, 0.35, "div8") == 112
    with pytest.raises(ValueError):
        round_channels(8, 0.5, "bogus")  # type: ignore[arg-type]


def test_half_width_conv_uses_only_first_filters() -> None:
    torch.manual_seed(0)
    conv = SlimmableConv2d([4, 8], [3, 6], 3, widths=(0.5, 1.0), bias=True)
    set_width(conv, 0.5)
    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    y = conv(x)
    assert y.shape == (2, 3, 9, 9)
    torch.testing.assert_close(y, F.conv2d(x, conv.weight[:3, :4], conv.bias[:3], padding=1))
    # the rest of the weights does not matter ...
    with torch.no_grad():
        conv.weight[3:].normal_()
        conv.weight[:, 4:].normal_()
        conv.bias[3:].normal_()
    torch.testing.assert_close(conv(x), y)
    # ... and receives no gradient
    conv(x).square().sum().backward()
    g = conv.weight.grad
    assert g[3:].abs().sum() == 0 and g[:, 4:].abs().sum() == 0 and g[:3, :4].abs().sum() > 0
    assert conv.bias.grad[3:].abs().sum() == 0
    with pytest.raises(RuntimeError, match="expects 4 input channels"):
        conv(torch.randn(1, 8, 5, 5))


def test_concatenated_input_uses_first_channels_of_every_part() -> None:
    torch.manual_seed(0)
    conv = SlimmableConv2d([[2, 4], [1, 3]], [2, 5], 1, widths=(0.5, 1.0))
    set_width(conv, 0.5)
    x = torch.randn(1, 3, 4, 4)  # 2 channels of part A, 1 of part B
    expected = F.conv2d(x, conv.weight[:2, [0, 1, 4]])
    torch.testing.assert_close(conv(x), expected)


def test_depthwise_conv_follows_width() -> None:
    conv = SlimmableConv2d([8, 16], [8, 16], 3, depthwise=True, widths=(0.5, 1.0))
    assert conv.groups == 16 and conv.weight.shape == (16, 1, 3, 3)
    set_width(conv, 0.5)
    x = torch.randn(1, 8, 6, 6)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight[:8], padding=1, groups=8))
    with pytest.raises(ValueError):
        SlimmableConv2d([8, 16], [8, 32], 3, depthwise=True, widths=(0.5, 1.0))


def test_switchable_bn_keeps_separate_statistics() -> None:
    bn = SwitchableBatchNorm2d([4, 8], widths=(0.5, 1.0))
    bn.train()
    set_width(bn, 0.5)
    bn(torch.randn(4, 4, 5, 5) + 3.0)
    assert bn.bn[0].running_mean.mean() > 0.2  # moved towards 3
    torch.testing.assert_close(bn.bn[1].running_mean, torch.zeros(8))  # the x1.0 BN is untouched
    assert int(bn.bn[1].num_batches_tracked) == 0
    set_width(bn, 1.0)
    bn(torch.randn(4, 8, 5, 5) - 3.0)
    assert bn.bn[1].running_mean.mean() < -0.2 and bn.bn[0].running_mean.mean() > 0.2


def test_set_width_asserts_on_silent_switch() -> None:
    # a "slimmable" model whose channels do not depend on the width: switching must not pass silently
    frozen = nn.Sequential(SlimmableConv2d(3, 5, 1, widths=(0.5, 1.0)))
    with pytest.raises(WidthSwitchError, match="no effective channel"):
        set_width(frozen, 0.5)
    with pytest.raises(AssertionError):  # WidthSwitchError is an AssertionError
        set_width(nn.Sequential(nn.Conv2d(3, 3, 1)), 0.5)
    conv = SlimmableConv2d([2, 4], [2, 4], 1, widths=(0.5, 1.0))
    set_width(conv, 1.0)  # same width: allowed, nothing to do
    with pytest.raises(ValueError, match="cannot run at width 0.3"):
        set_width(conv, 0.3)
    before = channel_signature(conv)
    set_width(conv, 0.5)
    assert channel_signature(conv) != before and get_width(conv) == 0.5
    with width_context(conv, 1.0):
        assert get_width(conv) == 1.0
    assert get_width(conv) == 0.5


# ---------------------------------------------------------------------------------------------------
# networks (tiny inputs, two widths to stay fast)
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def r18() -> nn.Module:
    torch.manual_seed(0)
    return build_slimmable("sfnet_r18", num_classes=5, widths=(0.25, 0.5, 1.0))


def test_outputs_differ_between_widths_and_boundary_only_in_training(r18: nn.Module) -> None:
    x = torch.randn(2, 3, 64, 64)
    outs = {}
    r18.eval()
    with torch.no_grad():
        for w in (0.25, 0.5, 1.0):
            set_width(r18, w)
            y = r18(x)
            assert isinstance(y, torch.Tensor) and y.shape == (2, 5, 64, 64)  # eval: no boundary head
            outs[w] = y
        assert not torch.allclose(outs[0.25], outs[1.0]) and not torch.allclose(outs[0.5], outs[1.0])
        y, b = r18(x, return_boundary=True)
        assert b.shape == (2, 1, 64, 64)
    r18.train()
    set_width(r18, 0.25)
    y, b = r18(x)  # training: (logits, boundary logits)
    assert y.shape == (2, 5, 64, 64) and b.shape == (2, 1, 64, 64)
    assert isinstance(r18(x, return_boundary=False), torch.Tensor)
    nob = build_slimmable("sfnet_r18", num_classes=5, widths=(0.5, 1.0), boundary=False)
    with pytest.raises(RuntimeError, match="without a boundary head"):
        nob.train()(x)


def test_small_width_backward_touches_only_its_slice(r18: nn.Module) -> None:
    r18.train()
    r18.zero_grad(set_to_none=True)
    set_width(r18, 0.25)
    y, b = r18(torch.randn(2, 3, 64, 64))
    (y.square().mean() + b.square().mean()).backward()
    n_conv = 0
    for m in r18.modules():
        if isinstance(m, SlimmableConv2d):
            g = m.weight.grad
            mask = torch.zeros_like(g, dtype=torch.bool)
            rows = slice(0, m.active_out_channels)
            if m.depthwise or len(m.in_parts) == 1:
                mask[rows, : (1 if m.depthwise else m.active_in_channels)] = True
            else:
                for off, part in zip(m._in_offsets, m.in_parts):
                    mask[rows, off : off + part[m.width_index]] = True
            assert g[~mask].abs().sum() == 0, m
            n_conv += 1
        elif isinstance(m, SwitchableBatchNorm2d):
            for i, bn in enumerate(m.bn):
                if i != m.width_index:
                    assert bn.weight.grad is None
    assert n_conv > 30


def test_state_dict_loads_strict_into_fresh_model(r18: nn.Module) -> None:
    fresh = build_slimmable("sfnet_r18", num_classes=5, widths=(0.25, 0.5, 1.0))
    fresh.load_state_dict(r18.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    r18.eval(), fresh.eval()
    with torch.no_grad():
        for w in (0.25, 1.0):
            set_width(r18, w), set_width(fresh, w)
            torch.testing.assert_close(fresh(x), r18(x))


@pytest.mark.parametrize("name", ["deeplabv3plus_mbv2", "deeplabv3plus_r50"])
def test_deeplab_forward(name: str) -> None:
    torch.manual_seed(0)
    widths = (0.35, 1.0) if name.endswith("mbv2") else (0.25, 1.0)
    net = build_slimmable(name, num_classes=3, widths=widths).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ys = []
        for w in widths:
            set_width(net, w)
            ys.append(net(x))
    assert ys[0].shape == (1, 3, 64, 64) and not torch.allclose(ys[0], ys[1])


def test_backbone_features_and_output_stride() -> None:
    bb = slimmable_resnet50(widths=(0.25, 1.0), output_stride=8).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        set_width(bb, 0.25)
        feats = bb(x)
    assert [f.shape[1] for f in feats] == [16, 64, 128, 256, 512]
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 8, 8]
    r18 = slimmable_resnet18(widths=(0.5, 1.0))
    assert r18.out_channels[0] == [64, 128]  # deep stem 3 -> 64 -> 64 -> 128


# ---------------------------------------------------------------------------------------------------
# ImageNet weights from timm
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "timm_name,output_stride",
    [("resnet50", 32), ("resnet50", 8), ("mobilenetv2_100", 32), ("mobilenetv2_100", 16)],
)
def test_timm_weights_give_timm_features_at_full_width(timm_name: str, output_stride: int, tmp_path) -> None:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    ref = timm.create_model(timm_name, pretrained=False, features_only=True, out_indices=(1, 2, 3, 4),
                            output_stride=output_stride).eval()
    full = timm.create_model(timm_name, pretrained=False)
    # randomise BN statistics so that a wrong BN mapping cannot go unnoticed
    for m in full.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0), m.bias.data.uniform_(-0.1, 0.1)
    path = tmp_path / "timm.pth"
    torch.save(full.state_dict(), path)
    missing, _ = ref.load_state_dict(full.state_dict(), strict=False)
    assert not missing
    if timm_name == "resnet50":
        ours = slimmable_resnet50(widths=(0.25, 1.0), output_stride=output_stride)
    else:
        ours = SlimmableMobileNetV2(widths=(0.35, 1.0), output_stride=output_stride)
    unused = load_timm_weights(ours, path)
    assert unused and all(k.startswith(("fc.", "classifier.", "conv_head.", "bn2.")) for k in unused)
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x)[1:], ref(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        set_width(ours, ours.widths[0])  # smaller widths run on the inherited sub-network
        assert torch.isfinite(ours(x)[-1]).all()


def test_deep_stem_resnet18_rejects_timm_resnet18d() -> None:
    timm = pytest.importorskip("timm")
    sd = timm.create_model("resnet18d", pretrained=False).state_dict()
    assert sd["conv1.0.weight"].shape[0] == 32  # timm's deep stem is 32/32/64, ours 64/64/128
    with pytest.raises((KeyError, ValueError)):
        load_timm_weights(slimmable_resnet18(widths=(0.5, 1.0)), sd)


# ---------------------------------------------------------------------------------------------------
# counts (meta device)
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_param_counts_match_table_2_2(name: str, meta_models: dict[str, nn.Module]) -> None:
    net = meta_models[name]
    for i, w in enumerate(_widths(name)):
        n = count_params(net, w)
        assert n == OUR_PARAMS[name][i], (name, w, n)
        paper = TABLE_2_2[name].params_m[i]
        assert abs(n / 1e6 - paper) <= PARAM_GAPS.get((name, i), 0.015) * paper, (name, w, n)


def test_param_count_convention(meta_models: dict[str, nn.Module]) -> None:
    net = meta_models["sfnet_r18"]
    def inactive_bn(module: nn.Module) -> int:  # params of the BNs of the widths below x1.0
        return sum(
            p.numel() for m in module.modules() if isinstance(m, SwitchableBatchNorm2d) for bn in m.bn[:-1]
            for p in bn.parameters()
        )

    boundary = sum(p.numel() for p in net.boundary_head.parameters())
    total = sum(p.numel() for p in net.parameters())
    assert count_params(net, 1.0) == total - inactive_bn(net) - boundary + inactive_bn(net.boundary_head)
    assert count_params(net, 1.0, include_training_only=True) == total - inactive_bn(net)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_macs_match_table_2_2(name: str, meta_models: dict[str, nn.Module]) -> None:
    net = meta_models[name]
    exact = [count_macs(net, w) for w in _widths(name)]
    if name in OUR_MACS:
        assert tuple(exact) == OUR_MACS[name]
    macs = [m / 1e9 for m in exact]
    assert all(a > b for a, b in zip(macs, macs[1:]))  # FLOPs differ between widths (USER-NEEDS #13)
    for i, m in enumerate(macs):
        paper = TABLE_2_2[name].gmac[i]
        assert abs(m - paper) <= MAC_GAPS.get((name, i), 0.01) * paper, (name, i, macs)


@pytest.mark.parametrize("name", sorted(STATE_DICT_SHA256))
def test_state_dict_layout_of_existing_networks_is_unchanged(name: str, meta_models: dict[str, nn.Module]) -> None:
    sd = meta_models[name].state_dict()
    layout = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in sd.items())
    assert hashlib.sha256(layout.encode()).hexdigest()[:16] == STATE_DICT_SHA256[name]


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if TABLE_2_2[n].slimmable_params_m is not None])
def test_slimmable_model_size_matches_table_2_2(name: str, meta_models: dict[str, nn.Module]) -> None:
    """The single slimmable model = x1.0 weights + the smaller widths' switchable BNs (boundary head left out)."""
    net = meta_models[name]
    total = sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in net.boundary_head.parameters())
    boundary = set(net.boundary_head.modules())
    smaller_bns = sum(p.numel() for m in net.modules() if isinstance(m, SwitchableBatchNorm2d) and m not in boundary
                      for bn in m.bn[:-1] for p in bn.parameters())
    assert total == count_params(net, 1.0) + smaller_bns
    assert round(total / 1e6, 2) == TABLE_2_2[name].slimmable_params_m


def test_conv_only_macs_and_flop_convention(meta_models: dict[str, nn.Module]) -> None:
    net = meta_models["sfnet_r50"]
    conv_only = count_macs(net, 1.0, convention="conv") / 1e9
    with_bn = count_macs(net, 1.0) / 1e9
    assert 606.0 < conv_only < with_bn < 609.0  # paper: 607.9 GMac
    # MACs scale with the input area (meta device: the 1024 x 2048 count costs no compute)
    small = count_macs(net, 1.0, input_size=(512, 1024), convention="conv") / 1e9
    assert abs(small * 4 - conv_only) < 0.01 * conv_only


def test_partially_slimmable_counts_match_table_2_3() -> None:
    with torch.device("meta"):
        net = build_slimmable("sfnet_r50", slim_head=False)
    assert abs(count_params(net, 0.25) / 1e6 - 6.9) < 0.05
    assert abs(count_macs(net, 0.25) / 1e9 - 436.0) < 0.01 * 436.0
    assert abs(count_params(net, 0.75) / 1e6 - 20.2) < 0.05
