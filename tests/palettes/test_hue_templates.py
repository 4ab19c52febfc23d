"""C-Harmony (Cohen-Or et al. 2006): hues land inside the best template, S and V kept."""

from __future__ import annotations

import torch
from kornia.color import rgb_to_hsv

from semcolor.metrics.harmony import Scheme, harmony_scores, template_distance
from semcolor.palettes.hue_templates import charmony, shift_hues


def test_shifted_hues_are_inside_and_centres_stay():
    hue = torch.linspace(0, 359.9, 3600, dtype=torch.float64)
    for scheme in (Scheme("i", 30.0), Scheme("X", 100.0), Scheme("L", 250.0), Scheme("T", 0.0)):
        moved = shift_hues(hue, scheme)
        assert template_distance(moved, scheme.template, scheme.alpha).max().item() < 1e-9, scheme
    centre = torch.tensor([30.0], dtype=torch.float64)
    assert shift_hues(centre, Scheme("i", 30.0)).item() == 30.0
    near, far = shift_hues(torch.tensor([35.0, 120.0], dtype=torch.float64), Scheme("i", 30.0))
    assert 30.0 < near.item() < far.item() <= 39.0  # order kept on one side, inside the 18-degree sector


def test_charmony_makes_an_image_harmonious_and_keeps_s_and_v():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(2, 3, 24, 32, generator=g)
    out, schemes = charmony(rgb)
    assert out.shape == rgb.shape and len(schemes) == 2
    after = harmony_scores(out)
    assert after["pit"].min().item() > 0.99 and after["f_score"].max().item() < 1.0
    hsv0, hsv1 = rgb_to_hsv(rgb), rgb_to_hsv(out)
    torch.testing.assert_close(hsv1[:, 1:], hsv0[:, 1:], atol=1e-4, rtol=0)
