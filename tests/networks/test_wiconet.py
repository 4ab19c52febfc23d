"""Tests of WiCoNet (networks/wiconet.py), SECBNet's segmentation module."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from semcolor.networks.blocks import FrozenModule
from semcolor.networks.wiconet import WiCoNet, WiCoNetOutput, _symmetric_pad

# Regression pins at the GID setting (local 256, context 768, scale 4, 4 bands); the paper reports
# "about 39 M". 16 outputs = SECBNet's classes, 17 = the WiCoNet code's GID head (16 + ignored 0).
GID_PARAMS = {16: 39_077_408, 17: 39_077_538}


@pytest.mark.parametrize("num_classes", list(GID_PARAMS))
def test_param_count_at_gid_setting(num_classes):
    with torch.device("meta"):
        net = WiCoNet(in_channels=4, num_classes=num_classes, local_size=256, context_size=768, scale=4)
    n = net.param_count()
    print(f"WiCoNet(in_channels=4, num_classes={num_classes}, 256/768): {n:,} parameters")
    assert n == GID_PARAMS[num_classes]
    assert abs(n - 39e6) < 0.5e6
    # parts: ResNet-50 trunk (4-band conv1), 2048->512 head, context branch, transformer
    parts = {name: sum(p.numel() for p in m.parameters()) for name, m in net.named_children()}
    assert parts["local_branch"] == 23_511_168
    assert parts["head"] == 2048 * 512 + 2 * 512
    assert parts["transformer"] == 9_760_768
    # the positional embeddings fix the token grids: 32x32 local, 24x24 context
    assert net.transformer.embed_local.pos.shape == (1, 32 * 32, 512)
    assert net.transformer.embed_context.pos.shape == (1, 24 * 24, 512)


def test_dilated_variant_same_params():
    with torch.device("meta"):
        a = WiCoNet(in_channels=4).param_count()
        b = WiCoNet(in_channels=4, local_dilation=True).param_count()
        c = WiCoNet(in_channels=3).param_count()
    assert a == b
    assert a - c == 64 * 7 * 7 + 64 * 3 * 3  # one more band in conv1 (local) and the first context conv


@pytest.fixture(scope="module")
def small_net() -> WiCoNet:
    torch.manual_seed(0)
    return WiCoNet(in_channels=4, num_classes=6, local_size=32, context_size=96, scale=4)


def test_forward_shapes_train_and_eval(small_net):
    local = torch.rand(2, 4, 32, 32)
    small_net.train()
    out = small_net(local)
    assert isinstance(out, WiCoNetOutput)
    assert out.logits.shape == (2, 6, 32, 32)
    assert out.aux is not None and out.aux.shape == (2, 6, 24, 24)
    small_net.eval()
    with torch.no_grad():
        out = small_net(local)
    assert out.logits.shape == (2, 6, 32, 32)
    assert out.aux is None


def test_context_inputs(small_net):
    small_net.eval()
    local = torch.rand(1, 4, 32, 32)
    full_ctx = torch.rand(1, 4, 96, 96)
    with torch.no_grad():
        a = small_net(local, full_ctx).logits
        b = small_net(local, nn.functional.interpolate(full_ctx, size=(24, 24), mode="area")).logits
        c = small_net(local).logits
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c)  # the context matters
    with pytest.raises(ValueError, match="context"):
        small_net(local, torch.rand(1, 4, 100, 100))
    with pytest.raises(ValueError, match="local window"):
        small_net(torch.rand(1, 4, 64, 64))
    with pytest.raises(ValueError, match="local window"):
        small_net(torch.rand(1, 3, 32, 32))


def test_context_from_local_modes():
    net = WiCoNet(in_channels=3, num_classes=4, local_size=64, context_size=192, scale=4)
    local = torch.rand(2, 3, 64, 64)
    ctx = net.context_from(local)
    assert ctx.shape == (2, 3, 48, 48)
    # symmetric_pad: the 4x-downscaled tile sits in the centre, mirrored around it
    small = nn.functional.interpolate(local, size=(16, 16), mode="area")
    assert torch.allclose(ctx[..., 16:32, 16:32], small)
    assert torch.equal(ctx[..., 15, 16:32], ctx[..., 16, 16:32])  # edge pixel repeated
    net.context_from_local = "resize"
    assert net.context_from(local).shape == (2, 3, 48, 48)
    with pytest.raises(ValueError, match="context_from_local"):
        WiCoNet(local_size=64, context_size=192, context_from_local="zeros")
    with pytest.raises(ValueError, match="context_size"):
        WiCoNet(local_size=64, context_size=32)


@pytest.mark.parametrize("pads", [(2, 1, 0, 3), (5, 5, 7, 2), (9, 0, 0, 12)])
def test_symmetric_pad_matches_numpy(pads):
    x = torch.arange(2 * 4 * 5, dtype=torch.float32).reshape(1, 2, 4, 5)
    top, bottom, left, right = pads
    ref = np.pad(x.numpy(), ((0, 0), (0, 0), (top, bottom), (left, right)), mode="symmetric")
    assert np.array_equal(_symmetric_pad(x, top, bottom, left, right).numpy(), ref)


def test_input_normalisation(small_net):
    mean, std = (0.5, 0.4, 0.3, 0.2), (0.2, 0.25, 0.3, 0.35)
    norm_net = WiCoNet(in_channels=4, num_classes=6, local_size=32, context_size=96, input_mean=mean, input_std=std)
    norm_net.load_state_dict(small_net.state_dict(), strict=False)
    small_net.eval(), norm_net.eval()
    x = torch.rand(1, 4, 32, 32)
    xn = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    with torch.no_grad():
        assert torch.allclose(norm_net(x).logits, small_net(xn).logits, atol=1e-4)
    with pytest.raises(ValueError, match="input_mean"):
        WiCoNet(in_channels=4, local_size=32, context_size=96, input_mean=mean)


def test_frozen_wiconet_passes_gradients_to_its_input(small_net):
    """SECBNet's use: a frozen WiCoNet scores the generated image, gradients reach the generator."""
    frozen = FrozenModule(small_net)
    generator = nn.Conv2d(4, 4, 3, padding=1)
    parent = nn.ModuleDict({"gen": generator, "seg": frozen}).train()
    assert not small_net.training
    image = torch.rand(1, 4, 32, 32)
    out = frozen(generator(image))
    assert out.aux is None  # eval mode inside the wrapper
    nn.functional.cross_entropy(out.logits, torch.zeros(1, 32, 32, dtype=torch.long)).backward()
    assert generator.weight.grad is not None and generator.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in small_net.parameters())
    parent.eval()
