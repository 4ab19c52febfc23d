"""colourspace: conversions against scikit-image and CAM16(-UCS) against colour-science."""

from __future__ import annotations

import numpy as np
import pytest
import torch

colour = pytest.importorskip("colour")
skcolor = pytest.importorskip("skimage.color")

from semcolor.colorspace import (  # noqa: E402
    CAM16_D65_WHITE_XYZ,
    ViewingConditions,
    lab_to_rgb,
    linear_to_srgb,
    luma_bt709,
    rgb_to_cam16ucs,
    rgb_to_lab,
    rgb_to_xyz,
    rgb_to_xyz_iec,
    srgb_to_linear,
    xyz_to_cam16,
    xyz_to_cam16ucs,
    xyz_to_rgb,
)

SURROUND_NAMES = {"average": "Average", "dim": "Dim", "dark": "Dark"}


def _colours(n: int = 400, seed: int = 0) -> np.ndarray:
    """Random sRGB colours (n, 3) in [0, 1] plus black, white, greys, primaries and near-black."""
    rng = np.random.default_rng(seed)
    special = np.array(
        [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [0.01, 0.01, 0.01], [1, 0, 0], [0, 1, 0], [0, 0, 1],
         [1e-4, 0, 0], [0, 0, 1e-3], [0.2, 0.2, 0.21]]
    )
    return np.concatenate([special, rng.random((n, 3))])


def _to_image(a: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(n, 3) -> (1, 3, n, 1)."""
    return torch.tensor(a.T.reshape(1, 3, -1, 1).copy(), dtype=dtype)


def _from_image(t: torch.Tensor) -> np.ndarray:
    """(1, 3, n, 1) -> (n, 3)."""
    return t.detach()[0, :, :, 0].T.double().numpy()


def _colour_cam16ucs(xyz100: np.ndarray, L_A: float = 20.0, Y_b: float = 20.0, surround: str = "dim") -> np.ndarray:
    spec = colour.XYZ_to_CAM16(
        xyz100, np.array(CAM16_D65_WHITE_XYZ), L_A, Y_b, colour.VIEWING_CONDITIONS_CAM16[SURROUND_NAMES[surround]]
    )
    return colour.JMh_CAM16_to_CAM16UCS(np.stack([spec.J, spec.M, spec.h], axis=-1))


def test_rgb_to_lab_matches_skimage() -> None:
    rgb = _colours()
    ref = skcolor.rgb2lab(rgb)
    err64 = np.abs(_from_image(rgb_to_lab(_to_image(rgb))) - ref).max()
    err32 = np.abs(_from_image(rgb_to_lab(_to_image(rgb, torch.float32))) - ref).max()
    assert err64 < 1e-9, err64
    assert err32 < 2e-3, err32


def test_lab_to_rgb_matches_skimage_and_round_trips() -> None:
    rgb = _colours()
    lab = skcolor.rgb2lab(rgb)
    back = _from_image(lab_to_rgb(_to_image(lab)))
    assert np.abs(back - skcolor.lab2rgb(lab)).max() < 1e-9
    assert np.abs(back - rgb).max() < 1e-9


def test_lab_to_rgb_clip_option() -> None:
    lab = torch.tensor([50.0, 120.0, -120.0], dtype=torch.float64).view(1, 3, 1, 1)  # out of sRGB gamut
    clipped, raw = lab_to_rgb(lab), lab_to_rgb(lab, clip=False)
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert raw.min() < 0 or raw.max() > 1


def test_xyz_matches_skimage_and_inverts() -> None:
    rgb = _colours()
    xyz = rgb_to_xyz(_to_image(rgb))
    assert np.abs(_from_image(xyz) - skcolor.rgb2xyz(rgb)).max() < 1e-12
    assert np.abs(_from_image(xyz_to_rgb(xyz)) - rgb).max() < 1e-9


def test_xyz_iec_matches_colour_science() -> None:
    """rgb_to_xyz_iec (the CAM16-UCS path) is colour.sRGB_to_XYZ; rgb_to_xyz (kornia, = skimage) is not."""
    rgb = _colours()
    ref = colour.sRGB_to_XYZ(rgb)
    assert np.abs(_from_image(rgb_to_xyz_iec(_to_image(rgb))) - ref).max() < 1e-12
    assert np.abs(_from_image(rgb_to_xyz_iec(_to_image(rgb, torch.float32))) - ref).max() < 1e-6
    assert np.abs(_from_image(rgb_to_xyz(_to_image(rgb))) - ref).max() > 1e-4  # the two matrices differ


def test_srgb_transfer_function() -> None:
    x = torch.tensor([0.0, 0.04045, 0.5, 1.0], dtype=torch.float64).view(1, 1, 4).expand(3, 1, 4)  # (3, H, W)
    lin = srgb_to_linear(x)
    expected = torch.tensor([0.0, 0.04045 / 12.92, ((0.5 + 0.055) / 1.055) ** 2.4, 1.0], dtype=torch.float64)
    torch.testing.assert_close(lin[0, 0], expected)
    torch.testing.assert_close(linear_to_srgb(lin), x)


def test_conversions_ignore_enclosing_autocast() -> None:
    """kornia's einsum/conv2d would run in bf16 under autocast (1.8 Lab units off); ours stays float32."""
    x = torch.rand(2, 3, 8, 8)
    ref = rgb_to_lab(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = rgb_to_lab(x)
        cam = rgb_to_cam16ucs(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(cam, rgb_to_cam16ucs(x))


def test_luma_bt709() -> None:
    rgb = torch.eye(3).view(3, 3, 1, 1)  # pure R, G, B as a batch of 3
    y = luma_bt709(rgb)
    assert y.shape == (3, 1, 1, 1)
    torch.testing.assert_close(y.flatten(), torch.tensor([0.2126, 0.7152, 0.0722]))
    torch.testing.assert_close(luma_bt709(torch.ones(3, 4, 5)), torch.ones(1, 4, 5))


def test_bad_shape_raises() -> None:
    with pytest.raises(ValueError, match=r"\(\*, 3, H, W\)"):
        rgb_to_lab(torch.rand(2, 4, 5, 5))
    with pytest.raises(ValueError, match="surround"):
        ViewingConditions(surround="bright")


@pytest.mark.parametrize(
    ("L_A", "Y_b", "surround"),
    [(20.0, 20.0, "dim"), (20.0, 20.0, "average"), (318.31, 20.0, "average"), (64.0, 10.0, "dark")],
)
def test_cam16ucs_matches_colour_science(L_A: float, Y_b: float, surround: str) -> None:
    xyz = skcolor.rgb2xyz(_colours()) * 100.0
    ref = _colour_cam16ucs(xyz, L_A, Y_b, surround)
    out = _from_image(xyz_to_cam16ucs(_to_image(xyz), L_A=L_A, Y_b=Y_b, surround=surround))
    assert np.abs(out - ref).max() < 1e-9, np.abs(out - ref).max()
    out32 = _from_image(xyz_to_cam16ucs(_to_image(xyz, torch.float32), L_A=L_A, Y_b=Y_b, surround=surround))
    assert np.abs(out32 - ref).max() < 5e-3


def test_cam16_jmh_matches_colour_science() -> None:
    xyz = skcolor.rgb2xyz(_colours(200, seed=3)) * 100.0
    spec = colour.XYZ_to_CAM16(xyz, np.array(CAM16_D65_WHITE_XYZ), 20.0, 20.0, colour.VIEWING_CONDITIONS_CAM16["Dim"])
    out = _from_image(xyz_to_cam16(_to_image(xyz)))
    # row 0 is black: the chroma clamps give M = 1.3e-8 instead of 2e-22 there (a', b' stay ~1e-19)
    np.testing.assert_allclose(out[:, :2], np.stack([spec.J, spec.M], axis=-1), atol=1e-6)
    np.testing.assert_allclose(out[1:, :2], np.stack([spec.J, spec.M], axis=-1)[1:], atol=1e-9)
    chromatic = spec.M > 1e-3  # hue is meaningless at zero colourfulness
    dh = (out[chromatic, 2] - spec.h[chromatic] + 180.0) % 360.0 - 180.0
    assert np.abs(dh).max() < 1e-7


def test_rgb_to_cam16ucs_shapes_and_viewing_object() -> None:
    rgb = torch.rand(3, 4, 5, dtype=torch.float64)
    vc = ViewingConditions(L_A=20.0, Y_b=20.0, surround="dim")
    out3 = rgb_to_cam16ucs(rgb, vc)
    assert out3.shape == (3, 4, 5)
    torch.testing.assert_close(rgb_to_cam16ucs(rgb.unsqueeze(0))[0], out3)
    ref = _colour_cam16ucs(colour.sRGB_to_XYZ(rgb.permute(1, 2, 0).numpy()) * 100.0)
    np.testing.assert_allclose(out3.permute(1, 2, 0).numpy(), ref, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cam16ucs_gradients_finite_at_black_grey_white(dtype: torch.dtype) -> None:
    rgb = torch.tensor(_colours(50), dtype=dtype).T.reshape(1, 3, -1, 1).clone().requires_grad_(True)
    rgb_to_cam16ucs(rgb).sum().backward()
    assert rgb.grad is not None and torch.isfinite(rgb.grad).all()
    # also each channel separately (a' and b' alone exercise the hue-direction terms)
    for ch in range(3):
        x = rgb.detach().clone().requires_grad_(True)
        rgb_to_cam16ucs(x)[:, ch].sum().backward()
        assert torch.isfinite(x.grad).all()


def test_cam16ucs_gradcheck() -> None:
    torch.manual_seed(0)
    rgb = (0.1 + 0.8 * torch.rand(1, 3, 2, 3, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(rgb_to_cam16ucs, (rgb,), eps=1e-6, atol=1e-5)
