"""Recolouring metrics: palette distance against colour-science's CIEDE2000, accumulation over groups."""

from __future__ import annotations

import colour
import numpy as np
import pytest
import torch

from semcolor.metrics.palette import ClassConsistency, GroupConsistency, HueShift, palette_distance


def _reference_distance(a, sa, b, sb):
    de = np.array([[colour.delta_E(x, y, method="CIE 2000") for y in b] for x in a])
    sa, sb = sa / sa.sum(), sb / sb.sum()
    return 0.5 * (sa @ de.min(1) + sb @ de.min(0))


def test_palette_distance_matches_colour_science():
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(10, 90, 4), rng.uniform(-60, 60, (4, 2))])
    b = np.column_stack([rng.uniform(10, 90, 6), rng.uniform(-60, 60, (6, 2))])
    sa, sb = rng.uniform(0.1, 1, 4), rng.uniform(0.1, 1, 6)
    np.testing.assert_allclose(float(palette_distance(a, sa, b, sb)), _reference_distance(a, sa, b, sb), rtol=1e-6)
    assert float(palette_distance(a, sa, a, sa)) == pytest.approx(0.0, abs=1e-9)


def test_group_consistency_is_the_mean_over_pairs_and_groups():
    rng = np.random.default_rng(1)
    pals = [np.column_stack([rng.uniform(10, 90, 3), rng.uniform(-60, 60, (3, 2))]) for _ in range(4)]
    shares = [np.ones(3) / 3] * 4
    metric = GroupConsistency()
    metric.update(pals[:3], shares[:3])
    metric.update(pals[3:] + pals[:1], shares[:2])
    pairs = [(0, 1), (0, 2), (1, 2), (3, 0)]
    expected = np.mean([_reference_distance(pals[i], shares[0], pals[j], shares[0]) for i, j in pairs])
    assert float(metric.compute()) == pytest.approx(expected, rel=1e-5)


def test_class_consistency_uses_classes_present_in_two_images():
    lab_a = torch.zeros(3, 4, 8, dtype=torch.float64)
    lab_a[0] = 50.0
    lab_b = lab_a.clone()
    lab_b[1] = 10.0  # every pixel of image b is 10 a* units off
    labels_a = torch.zeros(4, 8, dtype=torch.long)
    labels_a[:, 4:] = 1
    labels_b = torch.full((4, 8), 2, dtype=torch.long)
    labels_b[:, :4] = 0  # class 0 in both, class 1 only in a, class 2 only in b
    metric = ClassConsistency(num_classes=3, min_pixels=4)
    metric.update([lab_a, lab_b], [labels_a, labels_b])
    expected = colour.delta_E([50, 0, 0], [50, 10, 0], method="CIE 2000")
    assert int(metric.pairs) == 1 and float(metric.compute()) == pytest.approx(expected, rel=1e-5)
    ignored = ClassConsistency(num_classes=3, ignore_index=0, min_pixels=4)
    ignored.update([lab_a, lab_b], [labels_a, labels_b])
    assert torch.isnan(ignored.compute())


def test_hue_shift_counts_changed_names():
    metric = HueShift()
    metric.update(torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [0, 4]]))
    metric.update(torch.tensor([5, 5]), torch.tensor([5, 6]))
    assert float(metric.compute()) == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="differ in shape"):
        metric.update(torch.zeros(2), torch.zeros(3))
