"""Tests of the SECBNet generator (networks/secbnet.py) and the shared blocks (networks/blocks.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from semcolor.networks.blocks import (
    DecoderStage,
    EncoderStage,
    FrozenModule,
    ResidualBlock,
    freeze,
)
from semcolor.networks.secbnet import (
    GID15_PALETTE,
    SECBNetGenerator,
    SegmentationColorizer,
)

# Regression pins: exact parameter counts of the paper configuration (base 64, 4 levels, defaults).
PARAMS_BY_SEG_DEPTH = {
    None: 32_270_403,
    64: 32_428_739,
    128: 33_089_603,
    256: 35_434_819,
    512: 44_811_075,
}


@pytest.mark.parametrize("seg_depth", list(PARAMS_BY_SEG_DEPTH))
def test_param_count_pinned(seg_depth):
    with torch.device("meta"):
        net = SECBNetGenerator(seg_depth=seg_depth)
    n = net.param_count()
    print(f"SECBNetGenerator(seg_depth={seg_depth}): {n:,} parameters")
    assert n == PARAMS_BY_SEG_DEPTH[seg_depth]


def test_param_count_options_differ():
    with torch.device("meta"):
        base = SECBNetGenerator().param_count()
        assert SECBNetGenerator(upsample="transpose").param_count() != base
        assert SECBNetGenerator(residual_block="preact").param_count() != base
        assert SECBNetGenerator(encoder_blocks=2).param_count() > base


def _small(seg_level: int | None, base: int = 8, **kw) -> SECBNetGenerator:
    seg_depth = None if seg_level is None else base * 2**seg_level
    return SECBNetGenerator(base_channels=base, seg_depth=seg_depth, **kw)


@pytest.mark.parametrize("seg_level", [None, 0, 1, 2, 3])
@pytest.mark.parametrize("size", [(64, 64), (128, 128), (320, 192), (100, 72)])
def test_shapes_every_seg_depth(seg_level, size):
    torch.manual_seed(0)
    net = _small(seg_level).eval()
    image = torch.rand(2, 3, *size)
    seg = None if seg_level is None else torch.rand(2, 3, *size)
    with torch.no_grad():
        out = net(image, seg)
    assert out.shape == (2, 3, *size)
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output


@pytest.mark.parametrize("seg_depth", [64, 128, 256, 512])
def test_seg_features_fused_at_their_depth(seg_depth):
    """Fig. 7: segmentation features of depth d = 64/128/256/512 have 256/128/64/32 px at 256 input."""
    torch.manual_seed(0)
    net = SECBNetGenerator(seg_depth=seg_depth)
    k = net.seg_level
    assert net.widths[k] == seg_depth
    # the segmentation branch alone (cheap: only seg_depth levels deep) at the paper's 256x256 tiles
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        for layer in net.seg_branch:
            x = layer(x)
    assert x.shape == (1, seg_depth, 256 // 2**k, 256 // 2**k)
    if seg_depth == 64:  # Fig. 2a: concat 64 + 64 = 128, full-size module 128 -> 64
        assert net.seg_fusion is None
        assert net.full_size[0].body[0][0].in_channels == 128
        assert net.full_size[0].body[0][0].out_channels == 64
    else:
        assert net.seg_fusion[0].body[0][0].in_channels == 2 * seg_depth
        assert net.full_size[0].body[0][0].in_channels == 64


def test_paper_size_forward_256():
    torch.manual_seed(0)
    net = SECBNetGenerator().eval()
    image, seg = torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        out = net(image, seg)
    assert out.shape == (1, 3, 256, 256)


@pytest.mark.parametrize("seg_level", [None, 0, 2])
def test_seg_map_influences_output_only_with_branch(seg_level):
    torch.manual_seed(0)
    net = _small(seg_level).eval()
    image = torch.rand(1, 3, 64, 64)
    if seg_level is None:
        with pytest.raises(ValueError, match="no segmentation branch"):
            net(image, torch.rand(1, 3, 64, 64))
        return
    with torch.no_grad():
        a = net(image, torch.zeros(1, 3, 64, 64))
        b = net(image, torch.ones(1, 3, 64, 64))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("upsample", ["bilinear", "nearest", "transpose"])
@pytest.mark.parametrize("residual_block", ["basic", "preact"])
def test_gradients_reach_image_and_seg_branches(upsample, residual_block):
    torch.manual_seed(0)
    net = _small(1, upsample=upsample, residual_block=residual_block).train()
    image = torch.rand(2, 3, 32, 48, requires_grad=True)
    seg = torch.rand(2, 3, 32, 48)
    net(image, seg).mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    for name, branch in (("image", net.image_branch), ("seg", net.seg_branch)):
        grads = [p.grad for p in branch.parameters()]
        assert all(g is not None for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name


def test_output_activation_options():
    net = _small(0, output_activation="identity").eval()
    assert isinstance(net.output_activation, nn.Identity)
    with pytest.raises(ValueError, match="output_activation"):
        _small(0, output_activation="tanh")


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="seg_depth"):
        SECBNetGenerator(seg_depth=1024)
    with pytest.raises(ValueError, match="seg_depth"):
        SECBNetGenerator(seg_depth=100)
    net = _small(0)
    with pytest.raises(ValueError, match="needs a seg_map"):
        net(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="must match"):
        net(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 16))
    with pytest.raises(ValueError, match=">= 16"):
        net(torch.rand(1, 3, 8, 32), torch.rand(1, 3, 8, 32))


# --- segmentation colour coding -------------------------------------------------------------------


def test_colouriser_hard_and_soft():
    col_hard = SegmentationColorizer(mode="hard")
    col_soft = SegmentationColorizer(mode="soft")
    classes = torch.tensor([[[0, 1], [5, 15]]])  # (1, 2, 2)
    logits = nn.functional.one_hot(classes, 16).permute(0, 3, 1, 2).float() * 50.0
    expected = torch.tensor([GID15_PALETTE[c] for c in (0, 1, 5, 15)], dtype=torch.float32) / 255
    expected = expected.T.reshape(1, 3, 2, 2)
    assert torch.equal(col_hard(logits), expected)
    assert torch.allclose(col_soft(logits), expected, atol=1e-6)
    # soft mode: uniform logits give the mean palette colour, and gradients flow
    uniform = torch.zeros(1, 16, 1, 1, requires_grad=True)
    out = col_soft(uniform)
    assert torch.allclose(out.flatten(), col_soft.palette.mean(0))
    out[0, 0].sum().backward()
    assert uniform.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="16"):
        col_soft(torch.zeros(1, 17, 2, 2))


# --- shared blocks --------------------------------------------------------------------------------


def test_residual_block_shortcuts():
    same = ResidualBlock(8, 8)
    assert isinstance(same.shortcut, nn.Identity)
    proj = ResidualBlock(8, 16, stride=2)
    assert proj(torch.rand(1, 8, 10, 10)).shape == (1, 16, 5, 5)
    pre = ResidualBlock(8, 16, kind="preact")
    assert pre(torch.rand(1, 8, 10, 10)).shape == (1, 16, 10, 10)
    with pytest.raises(ValueError):
        ResidualBlock(8, 8, kind="bottleneck")


def test_encoder_and_decoder_stage_odd_sizes():
    enc = EncoderStage(4, 8, num_blocks=2)
    dec_t = DecoderStage(8, 4, 4, upsample="transpose")
    dec_b = DecoderStage(8, 4, 4, upsample="bilinear", num_convs=1)
    skip = torch.rand(1, 4, 11, 7)
    low = enc(skip)
    assert low.shape == (1, 8, 5, 3)
    assert dec_t(low, skip).shape == (1, 4, 11, 7)
    assert dec_b(low, skip).shape == (1, 4, 11, 7)
    assert DecoderStage(8, 0, 4)(low).shape == (1, 4, 10, 6)
    assert EncoderStage(4, 8, block="double_conv", downsample=False)(skip).shape == (1, 8, 11, 7)


def test_freeze_and_frozen_module_keep_eval_and_pass_gradients():
    torch.manual_seed(0)
    seg = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Dropout(0.5))
    frozen = FrozenModule(seg)
    parent = nn.ModuleDict({"gen": nn.Conv2d(3, 3, 1), "seg": frozen})
    parent.train()
    assert parent["gen"].training and frozen.training
    assert not any(m.training for m in seg.modules())
    assert not any(p.requires_grad for p in seg.parameters())
    stats = seg[1].running_mean.clone()
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    out1 = frozen(parent["gen"](x))
    out1.sum().backward()
    assert torch.equal(seg[1].running_mean, stats)  # BN statistics untouched
    assert torch.equal(out1, frozen(parent["gen"](x)))  # dropout off: deterministic
    assert x.grad is not None and x.grad.abs().sum() > 0  # gradients flow through the frozen net
    assert parent["gen"].weight.grad is not None
    assert all(p.grad is None for p in seg.parameters())
    parent.eval()
    assert not frozen.training and not seg.training
    # freeze alone returns the module, frozen, but a parent's train() would switch it back
    m = freeze(nn.BatchNorm2d(2))
    assert not m.training and not m.weight.requires_grad
