"""Weighted k-means and the source palette (§3.3.1): k by the explained-variance rule, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from semcolor.palettes.kmeans import Palette, source_palette, weighted_kmeans


def _blobs(n_colours: int, spread: float, seed: int = 0) -> np.ndarray:
    """A 60 x 60 CIELAB image of ``n_colours`` flat regions (+ noise of std ``spread``)."""
    rng = np.random.default_rng(seed)
    colours = np.array([[30, 40, 30], [70, -40, 40], [50, 10, -50], [85, 0, 80], [20, -30, -20]])[:n_colours]
    lab = colours[np.arange(60 * 60) % n_colours].reshape(60, 60, 3)
    return (lab + rng.normal(0, spread, lab.shape)).astype(np.float32)


@pytest.mark.parametrize(("n_colours", "ratio"), [(2, 0.1), (3, 0.1), (5, 0.05)])
def test_explained_variance_rule_finds_the_number_of_colours(n_colours, ratio):
    # five equal colours: four clusters already leave only 9.7 % of the variance, so 0.1 stops at k = 4
    pal = source_palette(_blobs(n_colours, 1.0), ratio=ratio)
    assert len(pal) == n_colours
    assert pal.labels.shape == (60, 60) and set(np.unique(pal.labels)) == set(range(n_colours))
    np.testing.assert_allclose(pal.shares.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.sort(pal.shares), 1.0 / n_colours, atol=0.01)


def test_no_k_reaches_the_ratio_gives_the_largest_k_and_a_strict_ratio_gives_more_colours():
    noise = _blobs(2, 25.0)
    assert len(source_palette(noise)) == 7
    assert len(source_palette(noise, k_range=(2, 4))) == 4
    assert len(source_palette(_blobs(5, 1.0))) == 4
    assert len(source_palette(_blobs(3, 3.0), ratio=0.5)) == 2  # lax: two colours explain half the variance


def test_deterministic_and_masked():
    lab = _blobs(4, 4.0)
    a, b = source_palette(lab, seed=3), source_palette(lab, seed=3)
    np.testing.assert_array_equal(a.centers, b.centers)
    mask = np.zeros((60, 60), bool)
    mask[:30] = True
    masked = source_palette(lab, mask=mask)
    assert (masked.labels[30:] == -1).all() and (masked.labels[:30] >= 0).all()


def test_weighted_kmeans_respects_weights_and_few_points():
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    centers, shares = weighted_kmeans(pts, np.array([1.0, 1.0, 8.0]), k=2)
    order = np.argsort(centers[:, 0])
    np.testing.assert_allclose(centers[order, 0], [0.5, 10.0], atol=1e-5)
    np.testing.assert_allclose(shares[order], [0.2, 0.8], atol=1e-6)
    c, s = weighted_kmeans(np.array([[1.0, 1.0], [1.0, 1.0]]), np.ones(2), k=3)
    assert c.shape == (1, 2) and s.tolist() == [1.0]
    with pytest.raises(ValueError, match="same|one weight"):
        weighted_kmeans(pts, np.ones(2), 2)
    with pytest.raises(ValueError, match="colours"):
        Palette(np.zeros((2, 3)), np.ones(3))
