"""AUR (Xue 2025 (thesis), Eq. 5.5) and the modified P-D curve on curves whose area is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcolor.metrics.perception_distortion import aur, modified_curve, pareto_front, rmse

BOX = 0.3 * 150


@pytest.mark.parametrize("d, p, linear, stair", [
    ([0.1, 0.2], [100, 20], 0.1 * 150 + 0.1 * 60 + 0.1 * 20, 27.0),         # straight line
    ([0.15], [50], 0.15 * 150 + 0.15 * 50, 30.0),                            # one point: two rectangles
    ([0.12, 0.10, 0.15, 0.20], [60, 70, 30, 40], 15 + 1.3 + 1.35 + 4.5, 22.7),  # inflections removed
    ([0.05, 0.25], [200, 0], 15 + 11.25 + 0, 37.5),                          # clamped at P_max after interpolation
    ([0.35], [10], BOX, BOX),                                                # the whole curve beyond D_max
])
def test_aur_closed_forms(d, p, linear, stair):
    assert aur(d, p, normalize=False) == pytest.approx(linear, abs=1e-9)
    assert aur(d, p) == pytest.approx(linear / BOX, abs=1e-12)
    assert aur(d, p, mode="stair", normalize=False) == pytest.approx(stair, abs=1e-9)


def test_aur_of_a_hyperbola_against_its_integral():
    """P = c / D on [a, b], dense samples: area = 150 a + c ln(b / a) + (0.3 - b) c / b."""
    a, b, c = 0.05, 0.25, 3.0
    d = np.linspace(a, b, 20001)
    expected = 150 * a + c * np.log(b / a) + (0.3 - b) * c / b
    assert aur(d, c / d, normalize=False) == pytest.approx(expected, rel=1e-6)


def test_clamping_after_not_before_interpolation():
    clamped_first = aur([0.05, 0.25], [150, 0], normalize=False)  # what clamping the points would give
    assert clamped_first == pytest.approx(22.5) and aur([0.05, 0.25], [200, 0], normalize=False) == pytest.approx(26.25)


def test_aur_is_monotone_and_order_free():
    rng = np.random.default_rng(0)
    d, p = rng.uniform(0.02, 0.28, 9), rng.uniform(5, 140, 9)
    base = aur(d, p)
    perm = rng.permutation(9)
    assert aur(d[perm], p[perm]) == pytest.approx(base)
    assert aur(d + 0.01, p) >= base and aur(d, p + 5) >= base and aur(d, p - 5) <= base
    assert 0 <= base <= 1


def test_p_min_is_the_floor_of_the_area():
    assert aur([0.1], [20], p_range=(10, 150), normalize=False) == pytest.approx(0.1 * 140 + 0.2 * 10)


def test_pareto_front_and_modified_curve():
    d, p = pareto_front([0.12, 0.10, 0.15, 0.20, 0.10], [60, 70, 30, 40, 80])
    assert d.tolist() == [0.10, 0.12, 0.15] and p.tolist() == [70, 60, 30]
    xs, ys = modified_curve([0.1, 0.2], [100, 20])
    assert xs.tolist() == [0.1, 0.1, 0.2, 0.3] and ys.tolist() == [150, 100, 20, 20]


def test_bad_curves():
    with pytest.raises(ValueError, match="as many"):
        aur([0.1, 0.2], [1.0])
    with pytest.raises(ValueError, match="finite"):
        aur([np.nan], [1.0])
    with pytest.raises(ValueError, match="box"):
        aur([0.1], [1.0], d_range=(0.3, 0.0))


def test_rmse_per_image():
    a, b = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    b[1] = 0.5
    torch.testing.assert_close(rmse(a, b), torch.tensor([0.0, 0.5]))
    torch.testing.assert_close(rmse(a + 2, b), torch.tensor([1.0, 0.5]))  # prediction clamped to [0, 1]
