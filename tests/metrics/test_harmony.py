"""Harmony metrics (Eq. 4.3-4.5) on images whose answer is known, and the vectorised scheme search
against a brute-force one."""

from __future__ import annotations

import math

import pytest
import torch
from kornia.color import hsv_to_rgb

from semcolor.metrics.harmony import (
    TEMPLATE_NAMES,
    TEMPLATES,
    HarmonyScores,
    Scheme,
    best_scheme,
    harmony_scores,
    hue_saturation,
    scheme_scores,
    template_distance,
)


def _image(hue_deg: torch.Tensor, sat: torch.Tensor | float = 1.0, value: float = 1.0) -> torch.Tensor:
    """RGB ``(1, 3, H, W)`` with the given HSV hue map (degrees) and saturation."""
    h = torch.deg2rad(hue_deg.float())
    s = torch.as_tensor(sat, dtype=torch.float32).expand_as(h)
    return hsv_to_rgb(torch.stack([h, s, torch.full_like(h, value)])[None])


def test_templates_are_cohen_or_widths():
    assert set(TEMPLATE_NAMES) == set("iVLITYX")
    assert TEMPLATES["X"] == ((0.0, 93.6), (180.0, 93.6)) and TEMPLATES["T"] == ((90.0, 180.0),)


def test_hues_inside_one_narrow_sector_give_pit_100_and_f_0():
    hue = 40.0 + 12.0 * torch.rand(32, 48, generator=torch.Generator().manual_seed(0))  # inside 18 degrees
    scores = harmony_scores(_image(hue, 0.8))
    assert scores["f_score"].item() == pytest.approx(0.0, abs=1e-9)
    assert scores["pit"].item() == 1.0
    assert scores["mits"].item() == pytest.approx(0.8, abs=2e-3)


def test_complementary_pair_is_inside_a_two_sector_template():
    hue = torch.zeros(20, 20)
    hue[:, 10:] = 180.0
    s = harmony_scores(_image(hue))
    assert s["f_score"].item() == pytest.approx(0.0, abs=1e-9) and s["pit"].item() == 1.0
    h, sat = (t[0] for t in hue_saturation(_image(hue)))
    assert scheme_scores(h, sat, Scheme("I", 0.0))["pit"].item() == 1.0
    assert scheme_scores(h, sat, Scheme("i", 0.0))["pit"].item() == 0.5


def test_uniform_hues_match_the_closed_form():
    # hues uniform on the circle, S = 1: the best template is X (two 93.6-degree sectors, 187.2 degrees
    # covered); the two 86.4-degree gaps have a mean distance of 21.6 degrees to the nearest border
    n = 3600
    hue = ((torch.arange(n, dtype=torch.float64) + 0.5) * 360.0 / n).reshape(60, 60)
    h, s = hue, torch.ones_like(hue)
    scheme = best_scheme(h, s)
    assert scheme.template == "X"
    got = scheme_scores(h, s, scheme)
    assert got["pit"].item() == pytest.approx(187.2 / 360.0, abs=2e-3)
    assert got["f_score"].item() == pytest.approx(n * (172.8 / 360.0) * math.radians(21.6), rel=1e-2)
    assert got["mits"].item() == pytest.approx(1.0)


def test_saturation_weighs_f_and_mits_counts_inside_only():
    hue = torch.zeros(10, 10)
    hue[:, 5:] = 90.0  # 81 degrees outside the i sector at alpha 0
    sat = torch.full((10, 10), 0.2)
    sat[:, 5:] = 0.9
    h, s = hue, sat
    sch = Scheme("i", 0.0)
    sc = scheme_scores(h, s, sch)
    assert sc["pit"].item() == 0.5
    assert sc["mits"].item() == pytest.approx(0.2)
    assert sc["f_score"].item() == pytest.approx(50 * 0.9 * math.radians(90 - 9), rel=1e-6)


def test_template_distance_values():
    hue = torch.tensor([0.0, 9.0, 10.0, 179.0, 350.0])
    torch.testing.assert_close(template_distance(hue, "i", 0.0), torch.tensor([0.0, 0.0, 1.0, 170.0, 1.0]))
    torch.testing.assert_close(template_distance(hue, "I", 0.0), torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="unknown hue template"):
        template_distance(hue, "Z", 0.0)


def test_vectorised_search_equals_brute_force():
    g = torch.Generator().manual_seed(3)
    hue = torch.cat([30 + 20 * torch.rand(300, generator=g), 200 + 60 * torch.rand(200, generator=g)]).reshape(20, 25)
    sat = torch.rand(20, 25, generator=g)
    found = best_scheme(hue, sat)
    f_found = scheme_scores(hue, sat, found)["f_score"].item()
    brute = min(scheme_scores(hue, sat, Scheme(t, float(a)))["f_score"].item()
                for t in TEMPLATE_NAMES for a in range(360))
    assert f_found == pytest.approx(brute, abs=1e-3 * 500)  # binning error < 0.05 deg x S per pixel


def test_gray_image_is_harmonious_and_metric_class_averages():
    gray = torch.full((2, 3, 16, 16), 0.5)
    metric = HarmonyScores()
    metric.update(gray)
    out = metric.compute()
    assert out["f_score"].item() == 0.0 and out["pit"].item() == 100.0 and out["mits"].item() == 0.0
    with pytest.raises(ValueError, match="RGB batches"):
        harmony_scores(torch.rand(1, 1, 8, 8))
