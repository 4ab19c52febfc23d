"""semcolor.metrics.image against independent references (scikit-image, colour-science, Sharma et al.)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

colour = pytest.importorskip("colour")
skcolor = pytest.importorskip("skimage.color")

from semcolor.colorspace import CAM16_D65_WHITE_XYZ, rgb_to_lab  # noqa: E402
from semcolor.metrics.image import (  # noqa: E402
    ColorAccuracy,
    DeltaE2000,
    DeltaECAM16UCS,
    color_accuracy,
    colorization_metrics,
    delta_e_2000,
    delta_e_cam16ucs,
    image_metrics,
    quantile_from_histogram,
    segmentation_metrics,
)

# Sharma, Wu & Dalal (2005), Table 1: L1, a1, b1, L2, a2, b2, Delta E 2000 (published to 4 decimals).
SHARMA_PAIRS = [
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


def _img(a: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(n, 3) -> (1, 3, n, 1)."""
    return torch.tensor(a.T.reshape(1, 3, -1, 1).copy(), dtype=dtype)


def _random_lab_pairs(n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lab1 = np.stack([rng.uniform(0, 100, n), rng.uniform(-110, 110, n), rng.uniform(-110, 110, n)], axis=1)
    lab2 = lab1 + rng.normal(0.0, 8.0, (n, 3)) * rng.choice([0.01, 0.3, 1.0, 5.0], (n, 1))
    lab1[:20, 1:] = 0.0  # achromatic first colour
    lab2[10:30, 1:] = 0.0  # achromatic second colour (10..19 both)
    lab2[30:40] = lab1[30:40]  # identical
    return lab1, lab2


def _colour_science_cam16ucs(rgb: np.ndarray) -> np.ndarray:
    """Independent sRGB -> CAM16-UCS, all colour-science: sRGB->XYZ (IEC 61966-2-1 matrix), CAM16 (D65, L_A 20,
    Y_b 20, dim) + UCS. (skimage's rgb2xyz uses kornia's 6-decimal matrix: up to 1.2e-2 off in Delta E.)"""
    xyz = colour.sRGB_to_XYZ(rgb) * 100.0
    spec = colour.XYZ_to_CAM16(xyz, np.array(CAM16_D65_WHITE_XYZ), 20.0, 20.0, colour.VIEWING_CONDITIONS_CAM16["Dim"])
    return colour.JMh_CAM16_to_CAM16UCS(np.stack([spec.J, spec.M, spec.h], axis=-1))


# ---------------------------------------------------------------------------------------- Delta E 2000


def test_delta_e_2000_sharma_pairs() -> None:
    d = np.array(SHARMA_PAIRS)
    for dtype in (torch.float64, torch.float32):
        de = delta_e_2000(_img(d[:, :3], dtype), _img(d[:, 3:6], dtype))[0, :, 0].double().numpy()
        # published to 4 decimals -> rounding error <= 5e-5 (float64); float32 adds round-off
        tol = 5.1e-5 if dtype == torch.float64 else 2e-4
        assert np.abs(de - d[:, 6]).max() < tol


def test_delta_e_2000_matches_skimage() -> None:
    lab1, lab2 = _random_lab_pairs()
    ref = skcolor.deltaE_ciede2000(lab1, lab2)
    de64 = delta_e_2000(_img(lab1), _img(lab2))[0, :, 0].numpy()
    de32 = delta_e_2000(_img(lab1, torch.float32), _img(lab2, torch.float32))[0, :, 0].double().numpy()
    assert np.abs(de64 - ref).max() < 1e-9
    assert np.abs(de32 - ref).max() < 1e-3
    assert np.all(de64[30:40] == 0.0)


def test_delta_e_2000_shapes() -> None:
    lab1 = rgb_to_lab(torch.rand(3, 4, 5))
    lab2 = rgb_to_lab(torch.rand(3, 4, 5))
    assert delta_e_2000(lab1, lab2).shape == (4, 5)
    assert delta_e_2000(lab1[None], lab2[None]).shape == (1, 4, 5)
    with pytest.raises(ValueError, match="same shape"):
        delta_e_2000(lab1, lab2[:, :2])


def test_delta_e_2000_gradients_finite_including_identical_and_grey() -> None:
    lab1, lab2 = _random_lab_pairs(200)
    for dtype in (torch.float32, torch.float64):
        a = _img(lab1, dtype).requires_grad_(True)
        b = _img(lab2, dtype).requires_grad_(True)
        delta_e_2000(a, b).sum().backward()
        assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    same = torch.tensor([[50.0, 0.0, 0.0], [50.0, 20.0, -30.0]], dtype=torch.float64).T.reshape(1, 3, 2, 1)
    x = same.clone().requires_grad_(True)
    y = same.clone().requires_grad_(True)
    delta_e_2000(x, y).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_delta_e_2000_gradcheck() -> None:
    lab1, lab2 = _random_lab_pairs(48, seed=4)
    a = _img(lab1[40:]).requires_grad_(True)  # generic pairs (rows < 40 are grey/identical by construction)
    b = _img(lab2[40:]).requires_grad_(True)
    assert torch.autograd.gradcheck(delta_e_2000, (a, b), eps=1e-6, atol=1e-5)


# ----------------------------------------------------------------------------------- Delta E CAM16-UCS


def test_delta_e_cam16ucs_matches_colour_science() -> None:
    rng = np.random.default_rng(1)
    rgb1 = np.concatenate([[[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5]], rng.random((500, 3))])
    rgb2 = np.clip(rgb1 + rng.normal(0, 0.05, rgb1.shape), 0, 1)
    ref = np.linalg.norm(_colour_science_cam16ucs(rgb1) - _colour_science_cam16ucs(rgb2), axis=-1)
    de64 = delta_e_cam16ucs(_img(rgb1), _img(rgb2))[0, :, 0].numpy()
    de32 = delta_e_cam16ucs(_img(rgb1, torch.float32), _img(rgb2, torch.float32))[0, :, 0].double().numpy()
    assert np.abs(de64 - ref).max() < 1e-9
    assert np.abs(de32 - ref).max() < 1e-3


def test_cam16ucs_and_delta_e_within_1e_3_of_colour_science_on_1000_random_pairs() -> None:
    """Issue 17: J'a'b' and Delta E CAM16-UCS (function and metric) within 1e-3 of colour-science, float32 too.

    1000 independent random sRGB pairs (Delta E ~1..90). Before the IEC matrix (kornia's sRGB -> XYZ) the gap
    was 1.2e-2 in Delta E and in b'; float64 now agrees to rounding, float32 to ~1e-4.
    """
    from semcolor.colorspace import rgb_to_cam16ucs

    rng = np.random.default_rng(0)
    rgb1, rgb2 = rng.random((1000, 3)), rng.random((1000, 3))
    jab1, jab2 = _colour_science_cam16ucs(rgb1), _colour_science_cam16ucs(rgb2)
    ref = np.linalg.norm(jab1 - jab2, axis=-1)
    for dtype, tol in ((torch.float64, 1e-9), (torch.float32, 1e-3)):
        for rgb, jab in ((rgb1, jab1), (rgb2, jab2)):
            ours = rgb_to_cam16ucs(_img(rgb, dtype))[0, :, :, 0].T.double().numpy()
            assert np.abs(ours - jab).max() < tol, dtype
        de = delta_e_cam16ucs(_img(rgb1, dtype), _img(rgb2, dtype))[0, :, 0].double().numpy()
        assert np.abs(de - ref).max() < tol, dtype
        metric = DeltaECAM16UCS()  # accumulates in float32 whatever the input
        metric.update(_img(rgb1, dtype), _img(rgb2, dtype))
        assert abs(metric.compute()["mean"].item() - ref.mean()) < 1e-4, dtype


def test_delta_e_cam16ucs_viewing_conditions_are_parameters() -> None:
    rgb1, rgb2 = torch.rand(1, 3, 4, 4, dtype=torch.float64), torch.rand(1, 3, 4, 4, dtype=torch.float64)
    dim = delta_e_cam16ucs(rgb1, rgb2)
    avg = delta_e_cam16ucs(rgb1, rgb2, surround="average", L_A=64.0)
    assert not torch.allclose(dim, avg)
    x = rgb1.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    y = rgb2.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    w = np.array(CAM16_D65_WHITE_XYZ)
    vc = colour.VIEWING_CONDITIONS_CAM16["Average"]

    def ucs(rgb: np.ndarray) -> np.ndarray:
        s = colour.XYZ_to_CAM16(colour.sRGB_to_XYZ(rgb) * 100.0, w, 64.0, 20.0, vc)
        return colour.JMh_CAM16_to_CAM16UCS(np.stack([s.J, s.M, s.h], axis=-1))

    np.testing.assert_allclose(avg.flatten().numpy(), np.linalg.norm(ucs(x) - ucs(y), axis=-1), atol=1e-9)


def test_delta_e_cam16ucs_gradients_finite_at_identical_inputs() -> None:
    rgb = torch.rand(2, 3, 4, 4)
    rgb[0, :, 0, 0] = 0.0  # black
    rgb[0, :, 0, 1] = 0.5  # grey
    x = rgb.clone().requires_grad_(True)
    y = rgb.clone().requires_grad_(True)
    de = delta_e_cam16ucs(x, y)
    assert torch.all(de == 0)
    de.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    z = (rgb + 0.01 * torch.randn_like(rgb)).clamp(0, 1).requires_grad_(True)
    delta_e_cam16ucs(z, rgb).mean().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


# -------------------------------------------------------------------------------------------- acc@k


def test_colour_accuracy_thresholds_in_8bit_levels() -> None:
    target = torch.full((1, 3, 1, 4), 100.0) / 255.0
    pred = target.clone()
    pred[0, 0, 0, 1] = 102.0 / 255.0  # off by exactly 2 levels in R
    pred[0, 1, 0, 2] = 103.0 / 255.0  # off by 3 levels in G
    pred[0, :, 0, 3] = 102.0 / 255.0  # off by 2 in all three channels
    assert color_accuracy(pred, target, 2).item() == pytest.approx(3 / 4)
    assert color_accuracy(pred, target, 5).item() == pytest.approx(1.0)
    assert color_accuracy(pred, target, 1).item() == pytest.approx(1 / 4)
    assert color_accuracy(pred, target, 2, quantize=False).item() == pytest.approx(3 / 4)
    # all three channels must be within the threshold: 3 levels in one channel fails even if the others are exact
    assert color_accuracy(pred[..., 2:3], target[..., 2:3], 2).item() == 0.0


def test_colour_accuracy_metric_accumulates() -> None:
    torch.manual_seed(0)
    target = torch.randint(0, 256, (4, 3, 6, 6)).float() / 255.0
    pred = (target + torch.randint(-4, 5, target.shape) / 255.0).clamp(0, 1)
    m = ColorAccuracy(2)
    m.update(pred[:2], target[:2])
    m.update(pred[2:], target[2:])
    torch.testing.assert_close(m.compute(), color_accuracy(pred, target, 2))


# --------------------------------------------------------------------------------------- Metric classes


def test_delta_e_2000_metric_two_updates_equal_one() -> None:
    torch.manual_seed(0)
    pred, target = torch.rand(4, 3, 5, 5), torch.rand(4, 3, 5, 5)
    a, b = DeltaE2000(), DeltaE2000()
    a.update(pred[:1], target[:1])
    a.update(pred[1:], target[1:])
    b.update(pred, target)
    torch.testing.assert_close(a.compute(), b.compute())
    ref = skcolor.deltaE_ciede2000(
        skcolor.rgb2lab(pred.permute(0, 2, 3, 1).double().numpy()),
        skcolor.rgb2lab(target.permute(0, 2, 3, 1).double().numpy()),
    ).mean()
    assert abs(a.compute().item() - ref) < 1e-4


def _cam16_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(4, 3, 8, 8, generator=g)
    pred = (target + 0.08 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    seg = torch.randint(0, 3, (4, 8, 8), generator=g)
    seg[:, 0] = 255  # first row ignored
    return pred, target, seg


def test_delta_e_cam16ucs_metric_two_updates_equal_one_and_p95() -> None:
    pred, target, seg = _cam16_batch()
    a = DeltaECAM16UCS(num_classes=3, ignore_index=255, class_p95=True)
    b = DeltaECAM16UCS(num_classes=3, ignore_index=255, class_p95=True)
    a.update(pred[:3], target[:3], seg[:3])
    a.update(pred[3:], target[3:], seg[3:])
    b.update(pred, target, seg)
    ra, rb = a.compute(), b.compute()
    assert ra.keys() == rb.keys() >= {"mean", "p95", "class_0", "class_1", "class_2", "class_0_p95"}
    for k in ra:
        torch.testing.assert_close(ra[k], rb[k])
    de = delta_e_cam16ucs(pred, target)
    torch.testing.assert_close(ra["mean"], de.mean(), atol=1e-5, rtol=0)
    assert abs(ra["p95"].item() - torch.quantile(de.flatten().double(), 0.95).item()) <= 0.01
    for c in range(3):
        sel = de[seg == c].double()
        assert abs(ra[f"class_{c}"].item() - sel.mean().item()) < 1e-5
        assert abs(ra[f"class_{c}_p95"].item() - torch.quantile(sel, 0.95).item()) <= 0.01


def test_delta_e_cam16ucs_metric_merged_states_like_ddp() -> None:
    """merge_state applies the dist_reduce_fx (sum) as DDP sync would; result equals one metric on all data."""
    pred, target, seg = _cam16_batch(1)
    r0, r1, full = (DeltaECAM16UCS(num_classes=3, ignore_index=255) for _ in range(3))
    r0.update(pred[:2], target[:2], seg[:2])
    r1.update(pred[2:], target[2:], seg[2:])
    full.update(pred, target, seg)
    r0.merge_state(r1)
    for k, v in full.compute().items():
        torch.testing.assert_close(r0.compute()[k], v)


def test_delta_e_cam16ucs_per_class_on_constructed_map() -> None:
    target = torch.full((1, 3, 2, 4), 0.5)
    pred = target.clone()
    pred[0, 0, :, 2:] = 0.7  # right half (class 1) differs, left half (class 0) is exact
    seg = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 255]]])
    m = DeltaECAM16UCS(num_classes=3, ignore_index=255, key_prefix="de_")
    m.update(pred, target, seg)
    out = m.compute()
    d = delta_e_cam16ucs(pred[:, :, :1, 2:3], target[:, :, :1, 2:3]).item()
    assert out["de_class_0"].item() == 0.0
    assert out["de_class_1"].item() == pytest.approx(d, rel=1e-5)
    assert "de_class_2" not in out  # no pixel of class 2
    assert out["de_mean"].item() == pytest.approx(4 * d / 8, rel=1e-5)  # ignored pixel still counts globally
    pc = m.per_class_mean()
    assert torch.isnan(pc[2]) and pc[1].item() == pytest.approx(d, rel=1e-5)
    with pytest.raises(ValueError, match="outside"):
        m.update(pred, target, torch.full((1, 2, 4), 7))


def test_quantile_from_histogram_matches_torch_quantile() -> None:
    torch.manual_seed(0)
    width = 0.01
    for values in (torch.rand(1001, dtype=torch.float64) * 30, torch.tensor([0.0, 99.99], dtype=torch.float64),
                   torch.distributions.Exponential(0.3).sample((5000,)).double().clamp(max=99.9)):
        idx = (values / width).floor().long().clamp(0, 10000)
        hist = torch.bincount(idx, minlength=10001)
        for q in (0.05, 0.5, 0.95):
            est = quantile_from_histogram(hist, q, width, 100.0).item()
            assert abs(est - torch.quantile(values, q).item()) <= width / 2 + 1e-9
    assert torch.isnan(quantile_from_histogram(torch.zeros(11, dtype=torch.long), 0.95, 1.0, 10.0))


# ------------------------------------------------------------------------------------------ collections


def test_image_metrics_keys_prefixes_and_values() -> None:
    torch.manual_seed(0)
    target = torch.rand(2, 3, 16, 16)
    pred = (target + 0.05 * torch.randn_like(target)).clamp(0, 1)
    val = image_metrics().clone(prefix="val_")
    val.update(pred[:1], target[:1])
    val.update(pred[1:], target[1:])
    out = val.compute()
    assert set(out) == {"val_psnr", "val_ssim", "val_delta_e"}
    mse = ((pred - target) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(out["val_psnr"], (10 * torch.log10(1.0 / mse)).mean())  # per-image mean
    lab_p = skcolor.rgb2lab(pred.permute(0, 2, 3, 1).double().numpy())
    lab_t = skcolor.rgb2lab(target.permute(0, 2, 3, 1).double().numpy())
    assert abs(out["val_delta_e"].item() - skcolor.deltaE_ciede2000(lab_p, lab_t).mean()) < 1e-4
    same = image_metrics()
    same.update(target, target)
    assert same.compute()["ssim"].item() == pytest.approx(1.0, abs=1e-6)


def test_colorization_metrics_acc2_acc5_not_merged_by_compute_groups() -> None:
    """A first batch where every pixel is within 2 levels gives acc2 and acc5 equal states; they must stay apart."""
    target = torch.full((1, 3, 16, 16), 100.0 / 255.0)
    coll = colorization_metrics()
    assert set(coll.keys()) == {"psnr", "ssim", "delta_e", "acc2", "acc5"}
    coll.update(target.clone(), target)
    coll.update(target + 3.0 / 255.0, target)
    out = coll.compute()
    assert out["acc2"].item() == pytest.approx(0.5)
    assert out["acc5"].item() == pytest.approx(1.0)


def test_segmentation_metrics_ignore_index() -> None:
    target = torch.tensor([[[0, 0, 1, 1], [2, 2, 255, 255]]])
    pred = target.clone()
    pred[target == 255] = 0  # wrong only where the label is ignored
    seg = segmentation_metrics(num_classes=3, ignore_index=255)
    seg.update(pred, target)
    out = seg.compute()
    assert out["miou"].item() == pytest.approx(1.0)
    assert out["pixel_acc"].item() == pytest.approx(1.0)
    # without ignoring, the same pixels count as errors (labels 255 -> mapped to class 1 here to stay in range)
    t2 = torch.where(target == 255, torch.ones_like(target), target)
    plain = segmentation_metrics(num_classes=3)
    plain.update(pred, t2)
    res = plain.compute()
    assert res["pixel_acc"].item() == pytest.approx(6 / 8)
    assert res["miou"].item() < 1.0
