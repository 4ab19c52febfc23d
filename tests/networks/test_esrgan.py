"""ESRGAN networks (RRDBNet, VGG-style discriminator) and network interpolation."""

from __future__ import annotations

import pytest
import torch

from semcolor.networks.esrgan import RRDBNet, VGGStyleDiscriminator, interpolate_state_dicts


def _count(m):
    return sum(p.numel() for p in m.parameters())


def test_rrdbnet_paper_size_matches_esrgan():
    """23 RRDBs, 64 features, growth 32, x4: the official RRDB_ESRGAN_x4 has 16,697,987 parameters; a burst
    of n frames only widens the first conv (3n inputs)."""
    assert _count(RRDBNet(3)) == 16_697_987
    assert _count(RRDBNet(15)) - _count(RRDBNet(3)) == 12 * 64 * 9


def test_rrdbnet_shapes_and_residual_scaling():
    net = RRDBNet(9, features=8, num_blocks=1, growth=4, scale=4)
    assert net(torch.rand(2, 9, 8, 8)).shape == (2, 3, 32, 32)
    assert RRDBNet(3, features=8, num_blocks=1, growth=4, scale=2)(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)
    block = net.body[0]
    x = torch.rand(1, 8, 5, 5)
    torch.testing.assert_close(block(x), block.blocks(x) * 0.2 + x)
    with pytest.raises(ValueError, match=r"expects \(B, 9, h, w\)"):
        net(torch.rand(1, 6, 8, 8))
    with pytest.raises(ValueError, match="power of two"):
        RRDBNet(3, scale=3)


def test_vgg_discriminator_layout():
    d = VGGStyleDiscriminator(3, 64, 128)
    convs = [m for m in d.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2] * 5
    assert d.head[0].in_features == 512 * 4 * 4
    assert d(torch.rand(2, 3, 128, 128)).shape == (2, 1)
    assert VGGStyleDiscriminator(3, 8, 64)(torch.rand(2, 3, 64, 64)).shape == (2, 1)
    with pytest.raises(ValueError, match="built for"):
        d(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="input_size"):
        VGGStyleDiscriminator(input_size=100)


def test_interpolation_endpoints_and_midpoint():
    a, b = RRDBNet(3, features=8, num_blocks=1, growth=4), RRDBNet(3, features=8, num_blocks=1, growth=4)
    sa, sb = a.state_dict(), b.state_dict()
    for alpha, ref in ((0.0, sa), (1.0, sb)):
        out = interpolate_state_dicts(sa, sb, alpha)
        assert all(torch.allclose(out[k], ref[k]) for k in sa)
    mid = interpolate_state_dicts(sa, sb, 0.5)
    torch.testing.assert_close(mid["conv_first.weight"], (sa["conv_first.weight"] + sb["conv_first.weight"]) / 2)


def test_interpolating_different_architectures_names_both():
    a = RRDBNet(3, features=8, num_blocks=1, growth=4).state_dict()
    b = RRDBNet(15, features=8, num_blocks=1, growth=4).state_dict()
    with pytest.raises(ValueError, match=r"d\.ckpt and p\.ckpt are different architectures: 'conv_first.weight'"):
        interpolate_state_dicts(a, b, 0.5, ("d.ckpt", "p.ckpt"))
    c = RRDBNet(3, features=8, num_blocks=2, growth=4).state_dict()
    with pytest.raises(ValueError, match="in only one"):
        interpolate_state_dicts(a, c, 0.5)


def test_global_skip_adds_the_bicubic_reference_frame():
    net = RRDBNet(6, features=8, num_blocks=1, growth=4, global_skip=True)
    torch.nn.init.zeros_(net.conv_last.weight)
    torch.nn.init.zeros_(net.conv_last.bias)
    x = torch.rand(1, 6, 8, 8)
    ref = torch.nn.functional.interpolate(x[:, :3], scale_factor=4, mode="bicubic", align_corners=False)
    torch.testing.assert_close(net(x), ref)
