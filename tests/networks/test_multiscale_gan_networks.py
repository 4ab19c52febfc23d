"""Networks of the Multi-D (Li et al. 2018) and Multi-G (Wu et al. 2020) baselines: shapes, sizes, the
properties their docstrings claim (side outputs, coarse-ward fusion, U/V ranges, Y kept)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from kornia import color as kc

from semcolor.networks.discriminators import ConditionalDiscriminator, PatchGANDiscriminator
from semcolor.networks.multi_discriminator import MultiScaleUNetGenerator, PyramidDiscriminator, image_pyramid
from semcolor.networks.multiscale_generator import (
    UV_RANGE,
    MultiKernelConv,
    SymmetricMultiScaleGenerator,
    yuv_to_rgb,
)
from semcolor.networks.unet_generator import UNetGenerator


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# ------------------------------------------------------------------------------------------- Multi-D


def test_multiscale_unet_pyramid_shapes_and_main_path_is_the_plain_unet() -> None:
    torch.manual_seed(0)
    g = MultiScaleUNetGenerator(1, 3, depth=4, base_channels=4, dropout=0.0, num_scales=3).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        ys = g.forward_pyramid(x)
        assert [tuple(y.shape) for y in ys] == [(2, 3, 32, 32), (2, 3, 16, 16), (2, 3, 8, 8)]
        assert all(0 <= y.min() and y.max() <= 1 for y in ys)  # sigmoid heads
        plain = UNetGenerator(1, 3, depth=4, base_channels=4, dropout=0.0, pad_to_stride=False).eval()
        plain.load_state_dict(g.unet.state_dict())
        torch.testing.assert_close(ys[0], plain(x))  # the side heads leave the U-Net itself unchanged
        torch.testing.assert_close(g(x), ys[0])
        assert g(torch.rand(1, 1, 40, 24)).shape == (1, 3, 40, 24)  # forward pads to the stride
    # one 1x1 head (+ bias) per extra scale on the decoder outputs at H/2 (c_0 channels) and H/4 (c_1)
    assert n_params(g) - n_params(g.unet) == (4 * 3 + 3) + (8 * 3 + 3)
    with pytest.raises(ValueError, match="num_scales"):
        MultiScaleUNetGenerator(depth=4, num_scales=5)
    with pytest.raises(ValueError, match="divisible"):
        g.forward_pyramid(torch.rand(1, 1, 40, 40))


def test_image_pyramid_is_area_downsampling() -> None:
    x = torch.rand(2, 3, 16, 16)
    p = image_pyramid(x, 3)
    assert p[0] is x
    torch.testing.assert_close(p[2], F.interpolate(x, size=(4, 4), mode="area"))


def test_patchgan_run_levels_compose_to_forward() -> None:
    d = PatchGANDiscriminator(4, 8, 3).eval()
    x = torch.rand(2, 4, 64, 64)
    with torch.no_grad():
        h = d.run_levels(x, 0, 2)
        assert h.shape == (2, d.level_width(1), 16, 16)
        torch.testing.assert_close(d.run_levels(h, 2), d(x))
    assert [d.level_width(k) for k in range(5)] == [8, 16, 32, 64, 1]


@pytest.mark.parametrize("fuse", ["add", "none"])
def test_pyramid_discriminator_logits_and_fusion(fuse: str) -> None:
    torch.manual_seed(0)
    d = PyramidDiscriminator(3, 1, num_scales=3, base_channels=4, n_layers=2, fuse=fuse).eval()
    x = torch.rand(2, 1, 64, 64)
    ys = image_pyramid(torch.rand(2, 3, 64, 64), 3)
    with torch.no_grad():
        logits = d(ys, x)
        assert [tuple(t.shape) for t in logits] == [(2, 1, 14, 14), (2, 1, 6, 6), (2, 1, 2, 2)]
        changed = d([torch.rand_like(ys[0]), ys[1], ys[2]], x)
    # a different finest image reaches the coarser discriminators only through the fusion
    for s in (1, 2):
        assert (not torch.equal(changed[s], logits[s])) == (fuse == "add"), s
    assert not torch.allclose(changed[0], logits[0])
    assert len(d.fusion) == (2 if fuse == "add" else 0)
    with pytest.raises(ValueError, match="judges 3 images"):
        d(ys[:2], x)
    with pytest.raises(ValueError, match="num_scales"):
        d(image_pyramid(torch.rand(1, 3, 32, 32), 3), torch.rand(1, 1, 32, 32))  # 8 px < 3 * 2**2
    with pytest.raises(ValueError, match="n_layers >= 2"):
        PyramidDiscriminator(n_layers=1, fuse="add")


# ------------------------------------------------------------------------------------------- Multi-G


def test_multi_kernel_conv_branches_and_reach() -> None:
    block = MultiKernelConv(4, 7, (3, 5, 7), norm="none").eval()
    assert [b.kernel_size for b in block.branches] == [(3, 3), (5, 5), (7, 7)]
    assert [b.out_channels for b in block.branches] == [3, 2, 2]
    x = torch.zeros(1, 4, 15, 15)
    y = x.clone()
    y[..., 7, 10] = 1.0  # 3 px right of the centre: only the 7x7 branch sees it from the centre
    with torch.no_grad():
        assert not torch.allclose(block(x)[..., 7, 7], block(y)[..., 7, 7])
    with pytest.raises(ValueError, match="odd"):
        MultiKernelConv(4, 8, (3, 4))


def test_symmetric_generator_uv_range_gray_kept_and_any_size() -> None:
    torch.manual_seed(0)
    g = SymmetricMultiScaleGenerator(1, depth=3, base_channels=8).eval()
    y = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        uv = g.forward_uv(y)
        rgb = g(y)
        assert uv.shape == (2, 2, 32, 32) and rgb.shape == (2, 3, 32, 32)
        assert (uv[:, 0].abs() <= UV_RANGE[0]).all() and (uv[:, 1].abs() <= UV_RANGE[1]).all()
        assert g(torch.rand(1, 1, 40, 24)).shape == (1, 3, 40, 24)
    # where no channel was clamped, the RGB output has the input as its Y
    unclamped = (kc.yuv_to_rgb(torch.cat([y, uv], 1)) - rgb).abs().amax(1, keepdim=True) < 1e-6
    torch.testing.assert_close(kc.rgb_to_yuv(rgb)[:, :1][unclamped], y[unclamped], atol=1e-5, rtol=0)
    # U = V = 0 is the gray image itself
    torch.testing.assert_close(yuv_to_rgb(y, torch.zeros(2, 2, 32, 32)), y.expand(-1, 3, -1, -1), atol=1e-6, rtol=0)
    # skips double the decoder inputs: without them the network is smaller
    assert n_params(SymmetricMultiScaleGenerator(depth=3, base_channels=8, skips=False)) < n_params(g)
    with pytest.raises(ValueError, match="multiples of 8"):
        SymmetricMultiScaleGenerator(depth=3, base_channels=8, pad_to_stride=False).forward_uv(torch.rand(1, 1, 20, 20))


def test_symmetric_generator_default_size() -> None:
    """The documented size of the default generator (17.9 M parameters)."""
    assert round(n_params(SymmetricMultiScaleGenerator()) / 1e6, 1) == 17.9


def test_resnet18_discriminator_one_logit_any_size() -> None:
    d = ConditionalDiscriminator(2, (1,), arch="resnet18").eval()
    with torch.no_grad():
        for size in (64, 96):
            assert d(torch.rand(2, 2, size, size), torch.rand(2, 1, size, size)).shape == (2, 1)
    assert d.backbone.conv1.in_channels == 3  # U, V + Y
    with pytest.raises(ValueError, match="resnet18"):
        ConditionalDiscriminator(arch="vgg")
