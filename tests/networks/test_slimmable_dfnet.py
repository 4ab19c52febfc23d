"""SFNet-DFNetv1 / v2 (networks/slimmable/dfnet.py): the official SFSegNets layouts, taps and widths.

The Table 2.2 counts of both DFNet rows are pinned with the other rows in test_slimmable.py.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from semcolor.networks.slimmable import (
    SlimmableDFNet,
    build_slimmable,
    count_params,
    load_timm_weights,
    set_width,
)
from semcolor.networks.slimmable.export import static_subnet

# per version: blocks per stage, channels and downsampling of every returned feature, SFNet taps
LAYOUT = {
    "v1": ((3, 3, 3, 1), [32, 64, 64, 128, 256, 512], [2, 4, 8, 16, 32, 32], (3, 4, 5)),
    "v2": ((2, 1, 10, 1, 4, 2), [32, 64, 64, 128, 128, 256, 256, 512], [2, 4, 8, 8, 16, 16, 32, 32], (3, 5, 7)),
}
#: backbone parameters at x1.0, from an independent plain-torch build of the official layouts
BACKBONE_PARAMS = {"v1": 8_020_128, "v2": 17_474_208}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_backbone_layout_channels_and_resolutions(version: str) -> None:
    blocks, chans, reds, taps = LAYOUT[version]
    torch.manual_seed(0)
    bb = SlimmableDFNet(version, widths=(0.25, 1.0)).eval()
    assert tuple(len(getattr(bb, n)) for n in bb.stage_names) == blocks
    assert bb.reductions == reds and bb.decoder_indices == taps
    assert [bb.out_channels[i][1] for i in taps] == [128, 256, 512]  # SFNet's fpn_inplanes
    assert count_params(bb, 1.0) == BACKBONE_PARAMS[version]
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        for w, i in ((1.0, 1), (0.25, 0)):
            set_width(bb, w)
            feats = bb(x)
            assert [f.shape[1] for f in feats] == [int(c * w) for c in chans] == [c[i] for c in bb.out_channels]
            assert [64 // f.shape[-2] for f in feats] == reds and [128 // f.shape[-1] for f in feats] == reds
    # boundary inputs by resolution (Table 2.7): 1/2, the 1/4 stem ("second stage", Sec. 2.4.2), end of 1/8
    assert [reds[bb.boundary_indices[k]] for k in ("conv1", "conv2_x", "conv3_x")] == [2, 4, 8]
    assert bb.out_channels[bb.boundary_indices["conv2_x"]][-1] == 64
    assert bb.boundary_indices["conv3_x"] == (2 if version == "v1" else 3)  # stage2 / stage2_2 (128 ch)


def test_unsupported_arguments_raise() -> None:
    with pytest.raises(ValueError, match="version"):
        SlimmableDFNet("v3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="output_stride 32"):
        build_slimmable("sfnet_dfnetv1", output_stride=16)


@pytest.mark.parametrize(("name", "head_reduction"), [("sfnet_dfnetv1", 16), ("sfnet_dfnetv2", 8)])
def test_sfnet_dfnet_forward_widths_and_boundary(name: str, head_reduction: int) -> None:
    torch.manual_seed(0)
    net = build_slimmable(name, num_classes=5, widths=(0.25, 1.0))
    assert net.head.fpn_in[0][0].out_list == [16, 64]  # fpn_dim 64 (SFNet-DFNet), slimmed
    head_out = []
    net.head.register_forward_hook(lambda _m, _i, out: head_out.append(out.shape))
    x = torch.randn(2, 3, 64, 64)
    net.eval()
    outs = {}
    with torch.no_grad():
        for w in (0.25, 1.0):
            set_width(net, w)
            y, b = net(x, return_boundary=True)
            assert y.shape == (2, 5, 64, 64) and b.shape == (2, 1, 64, 64)
            outs[w] = y
    assert not torch.allclose(outs[0.25], outs[1.0])
    # the head predicts at the finest tapped level: 1/16 for v1 (two taps at 1/32), 1/8 for v2
    assert head_out[-1][-2:] == (64 // head_reduction,) * 2
    net.train()
    set_width(net, 0.25)
    y, b = net(x)
    (y.square().mean() + b.square().mean()).backward()
    assert net.backbone.stage1[0].weight.grad[:8].abs().sum() > 0  # x0.25 stem: 8 of 32 filters
    assert net.backbone.stage1[0].weight.grad[8:].abs().sum() == 0


def test_official_layout_state_dict_loads_into_full_width() -> None:
    """Keys follow lxtGH/SFSegNets' dfnetv1 (``stage1.0.weight``, ``stage5.0.downsample.1.running_mean``):
    a plain-layout state dict (here: our own x1.0 network made static) loads with the timm rule."""
    torch.manual_seed(0)
    src = SlimmableDFNet("v1", widths=(0.5, 1.0)).eval()
    for m in src.modules():  # non-trivial BN statistics, so a wrong mapping shows
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0), m.bias.data.uniform_(-0.1, 0.1)
    plain = {k.removeprefix("net."): v for k, v in static_subnet(src, 1.0).state_dict().items()}
    assert {"stage1.0.weight", "stage1.4.running_var", "stage2.0.downsample.0.weight",
            "stage5.0.downsample.1.running_mean", "stage4.2.bn2.weight"} <= plain.keys()
    dst = SlimmableDFNet("v1", widths=(0.5, 1.0))
    assert load_timm_weights(dst, plain) == []
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(dst.eval()(x), src(x)):
            torch.testing.assert_close(a, b)
