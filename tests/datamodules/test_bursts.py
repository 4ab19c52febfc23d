"""Burst synthesis (Xue 2025 (thesis), Eq. 5.2 / Sec. 5.5.1): geometry, noise statistics, seeding, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcolor.datamodules.bursts import (
    TABLE_5_1,
    BurstSettings,
    add_noise,
    burst_shifts,
    channels_to_frames,
    downscale,
    frames_to_channels,
    sample_generator,
    synthesize_burst,
)
from semcolor.errors import SemcolorError


def _image(h=200, w=180, seed=0):
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def test_bilinear_downscale_is_the_mean_of_the_central_2x2():
    """x4 bilinear without antialiasing (= OpenCV INTER_LINEAR): LR[u] = mean HR[4u+1 : 4u+3]."""
    hr = torch.rand(2, 3, 16, 16)
    lr = downscale(hr, 4)
    expected = hr[..., 1::4, :][..., :4, :].add(hr[..., 2::4, :][..., :4, :]) / 2
    expected = (expected[..., 1::4] + expected[..., 2::4]) / 2
    torch.testing.assert_close(lr, expected)


def test_bilinear_downscale_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    hr = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    ref = cv2.resize(hr, (8, 8), interpolation=cv2.INTER_LINEAR)
    ours = downscale(torch.from_numpy(hr).permute(2, 0, 1)[None], 4)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_clean_aligned_burst_is_the_downscaled_centre_crop():
    img = _image()
    s = BurstSettings(num_frames=4, sigma_g=0, lambda_p=0, sigma_s=0)
    b = synthesize_burst(img, s, sample_generator(0))
    assert b["frames"].shape == (4, 3, 32, 32) and b["target"].shape == (3, 128, 128)
    top, left = (200 - 128) // 2, (180 - 128) // 2
    torch.testing.assert_close(b["target"], img[:, top:top + 128, left:left + 128])
    for f in b["frames"]:
        torch.testing.assert_close(f, downscale(b["target"][None], 4)[0], atol=1e-5, rtol=0)


def test_integer_shift_moves_the_window():
    """A frame shifted by (dx, dy) = (8, -4) HR px is the downscaled window 8 px right, 4 px up."""
    img = _image()
    s = BurstSettings(num_frames=2, sigma_g=0, lambda_p=0, shake_units="hr")
    from semcolor.datamodules.bursts import _shifted_crops

    win = _shifted_crops(img, 128, torch.tensor([[0.0, 0.0], [8.0, -4.0]], dtype=torch.float64))
    top, left = (200 - 128) // 2, (180 - 128) // 2
    torch.testing.assert_close(win[1], img[:, top - 4:top + 124, left + 8:left + 136], atol=1e-4, rtol=0)
    assert s.lr_size == 32


def test_shift_units_and_reference_frame():
    g = sample_generator(3)
    lr = burst_shifts(BurstSettings(num_frames=2000, sigma_s=2, shake_units="lr"), g)
    hr = burst_shifts(BurstSettings(num_frames=2000, sigma_s=2, shake_units="hr"), sample_generator(3))
    assert torch.all(lr[0] == 0) and torch.all(hr[0] == 0)
    torch.testing.assert_close(lr, 4 * hr)  # same draws, LR px = 4 HR px
    assert abs(hr[1:].std().item() - 2) < 0.1  # N(0, sigma_s) on both axes


def test_correlated_shake_drifts_linearly_along_x():
    s = BurstSettings(num_frames=6, sigma_s=2, shake="correlated", drift=0.5, shake_units="hr")
    d = burst_shifts(s, sample_generator(0))
    torch.testing.assert_close(d[:, 0], torch.arange(6, dtype=torch.float64) * 0.5)
    assert d[1:, 1].abs().sum() > 0 and d[0, 1] == 0


def test_noise_statistics():
    x = torch.full((200, 3, 32, 32), 0.5)
    g = add_noise(x, BurstSettings(sigma_g=20, lambda_p=0), sample_generator(1)) - x
    assert abs(g.std().item() - 20 / 255) < 2e-3 and abs(g.mean().item()) < 1e-3
    p = add_noise(x, BurstSettings(sigma_g=0, lambda_p=4), sample_generator(2)) - x  # scale: 4 sqrt(x / 255)
    assert abs(p.std().item() - 4 * np.sqrt(0.5 / 255)) < 3e-3 and abs(p.mean().item()) < 2e-3
    dark = torch.full((100, 3, 32, 32), 0.1)
    pd = add_noise(dark, BurstSettings(sigma_g=0, lambda_p=1), sample_generator(2)) - dark
    assert pd.std() < p.std() / 4 * 1.2  # signal-dependent: sqrt(0.1 / 255) vs sqrt(0.5 / 255)
    a = add_noise(x, BurstSettings(sigma_g=0, lambda_p=4, poisson_mode="additive"), sample_generator(3)) - x
    assert abs(a.std().item() - 2 / 255) < 2e-4  # literal: (P(4) - 4) / 255
    q = add_noise(x, BurstSettings(sigma_g=10, lambda_p=1, quantize=True), sample_generator(4))
    torch.testing.assert_close(q * 255, torch.round(q * 255))
    assert q.min() >= 0 and q.max() <= 1


def test_seeded_and_deterministic():
    img = _image()
    s = BurstSettings(num_frames=5, sigma_s=1)
    a, b = (synthesize_burst(img, s, sample_generator(0, 1, 2, 3)) for _ in range(2))
    c = synthesize_burst(img, s, sample_generator(0, 1, 2, 4))
    assert torch.equal(a["frames"], b["frames"]) and not torch.equal(a["frames"], c["frames"])


def test_frames_to_channels_roundtrip():
    f = torch.rand(2, 5, 3, 8, 8)
    x = frames_to_channels(f)
    assert x.shape == (2, 15, 8, 8) and torch.equal(x[:, 3:6], f[:, 1])
    assert torch.equal(channels_to_frames(x), f)


def test_table_5_1_levels_are_accepted():
    for n in TABLE_5_1["num_frames"]:
        for level in range(5):
            BurstSettings(num_frames=n, sigma_g=TABLE_5_1["sigma_g"][level], lambda_p=TABLE_5_1["lambda_p"][level],
                          sigma_s=TABLE_5_1["sigma_s"][level])


@pytest.mark.parametrize("kwargs, message", [
    ({"num_frames": 0}, "num_frames (the burst length) must be a positive integer, got 0"),
    ({"sigma_g": -1}, "sigma_g must be a finite value >= 0"),
    ({"crop_size": 130}, "crop_size must be a positive multiple of scale=4"),
    ({"shake_units": "mm"}, "shake_units must be 'lr' or 'hr'"),
])
def test_bad_settings_are_one_line(kwargs, message):
    with pytest.raises(SemcolorError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        BurstSettings(**kwargs)
    assert "\n" not in str(err.value)


def test_crop_larger_than_the_image_names_it():
    with pytest.raises(SemcolorError, match=r"dtd/x\.jpg: the 128x128 HR crop does not fit in the 100x150 image") as err:
        synthesize_burst(np.zeros((100, 150, 3), np.uint8), BurstSettings(), sample_generator(0), "dtd/x.jpg")
    assert "\n" not in str(err.value)
