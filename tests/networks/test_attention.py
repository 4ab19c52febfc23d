"""Tests of networks/attention.py: CBAM spatial attention, SE and ECA."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from semcolor.networks.attention import (
    EfficientChannelAttention,
    SpatialAttention,
    SqueezeExcitation,
    eca_kernel_size,
)


def test_spatial_attention_shape_and_equation() -> None:
    torch.manual_seed(0)
    sa = SpatialAttention(kernel_size=7)
    x = torch.randn(2, 5, 9, 11)
    y = sa(x)
    assert y.shape == x.shape
    m = sa.attention_map(x)
    assert m.shape == (2, 1, 9, 11)
    assert bool((m > 0).all() and (m < 1).all())
    # CBAM Eq. 3: sigmoid(conv7x7([avg_c(F); max_c(F)])), broadcast over channels.
    pooled = torch.cat([x.mean(1, keepdim=True), x.max(1, keepdim=True).values], dim=1)
    expected = x * torch.sigmoid(F.conv2d(pooled, sa.conv.weight, sa.conv.bias, padding=3))
    torch.testing.assert_close(y, expected)


def test_spatial_attention_with_norm_and_bad_kernel() -> None:
    sa = SpatialAttention(kernel_size=3, norm=True)
    assert sa.conv.bias is None and isinstance(sa.norm, torch.nn.BatchNorm2d)
    assert sa(torch.randn(2, 4, 6, 6)).shape == (2, 4, 6, 6)
    with pytest.raises(ValueError, match="odd"):
        SpatialAttention(kernel_size=4)


@pytest.mark.parametrize(("channels", "reduction", "squeeze"), [(64, 16, 4), (256, 16, 16), (8, 16, 1), (32, 4, 8)])
def test_squeeze_excitation_shape_and_bottleneck(channels: int, reduction: int, squeeze: int) -> None:
    se = SqueezeExcitation(channels, reduction)
    assert se.squeeze_channels == squeeze
    assert se.se.fc1.out_channels == squeeze and se.se.fc2.in_channels == squeeze
    x = torch.randn(2, channels, 5, 4)
    assert se(x).shape == x.shape


def test_squeeze_excitation_equation() -> None:
    torch.manual_seed(1)
    se = SqueezeExcitation(32, 8)
    x = torch.randn(3, 32, 6, 5)
    z = x.mean(dim=(2, 3))  # squeeze
    s = torch.sigmoid(F.linear(F.relu(F.linear(z, se.se.fc1.weight[:, :, 0, 0], se.se.fc1.bias)), se.se.fc2.weight[:, :, 0, 0], se.se.fc2.bias))
    torch.testing.assert_close(se(x), x * s[:, :, None, None])


# k = |(log2 C + 1) / 2|_odd, worked by hand: e.g. C=256 -> 4.5 -> 4 -> 5; C=96 -> 3.79 -> 3; C=2048 -> 6 -> 7.
ECA_TABLE = {1: 1, 2: 1, 4: 1, 8: 3, 16: 3, 32: 3, 64: 3, 96: 3, 128: 5, 256: 5, 512: 5, 1024: 5, 2048: 7}


@pytest.mark.parametrize(("channels", "k"), sorted(ECA_TABLE.items()))
def test_eca_kernel_size_follows_formula(channels: int, k: int) -> None:
    assert eca_kernel_size(channels) == k
    eca = EfficientChannelAttention(channels)
    assert eca.kernel_size == k
    assert eca.eca.conv.kernel_size == (k,)
    assert eca.eca.conv.padding == ((k - 1) // 2,)
    assert eca.eca.conv.bias is None


def test_eca_kernel_size_other_constants() -> None:
    assert eca_kernel_size(64, gamma=1, b=0) == 7  # t = 6 -> even -> 7
    assert eca_kernel_size(32, gamma=1, b=0) == 5
    assert EfficientChannelAttention(64, kernel_size=9).kernel_size == 9
    with pytest.raises(ValueError):
        EfficientChannelAttention(64, kernel_size=4)


def test_eca_equation_and_locality() -> None:
    torch.manual_seed(2)
    eca = EfficientChannelAttention(64)  # k = 3
    x = torch.randn(2, 64, 5, 7)
    y = eca(x)
    assert y.shape == x.shape
    w = torch.sigmoid(F.conv1d(x.mean(dim=(2, 3)).unsqueeze(1), eca.eca.conv.weight, padding=1)).view(2, 64, 1, 1)
    torch.testing.assert_close(y, x * w)
    torch.testing.assert_close(eca.attention_weights(x), w)
    # a 1-D conv of size 3 across channels: changing channel 10 moves only the weights of channels 9..11.
    x2 = x.clone()
    x2[:, 10] += 3.0
    changed = (eca.attention_weights(x2) - w).abs().flatten(1).amax(0) > 0
    assert changed.nonzero().flatten().tolist() == [9, 10, 11]
    with pytest.raises(ValueError):
        eca(torch.randn(1, 32, 4, 4))
