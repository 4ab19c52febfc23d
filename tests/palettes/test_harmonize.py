"""Palette harmonisation (§4.3.2-4.3.4): palette size rule, name-constrained matching, recolouring, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcolor.metrics.harmony import harmony_scores
from semcolor.palettes import harmonize as H
from semcolor.palettes.color import lab_to_rgb_np, rgb_to_lab_np
from semcolor.palettes.naming import TERMS, default_naming_model


def _photo(h=96, w=128, seed=0):
    """A smooth, mildly saturated test picture: sky gradient, green ground, an orange and a skin patch."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    t = np.linspace(0, 1, h)[:, None]
    img[:] = (0.45 + 0.2 * t)[..., None] * np.array([0.75, 0.85, 1.0])
    img[h // 2:] = np.array([0.35, 0.5, 0.3])
    img[h // 4: h // 2, w // 8: w // 3] = np.array([0.8, 0.55, 0.35])
    img[h // 2: 3 * h // 4, w // 2: 3 * w // 4] = np.array([0.85, 0.7, 0.6])
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def test_ab_histogram_counts_every_pixel():
    lab = rgb_to_lab_np(_photo())
    ab, counts, light = H.ab_histogram(lab, 2.0)
    assert counts.sum() == lab.shape[0] * lab.shape[1]
    assert ab.shape == (len(counts), 2) and light.shape == (len(counts),)


def test_palette_size_follows_the_explained_variance_rule():
    img = np.zeros((30, 30, 3), np.uint8)
    img[:10] = (200, 30, 30)
    img[10:20] = (30, 160, 40)
    img[20:] = (40, 60, 200)  # three equidistant-ish colours: l = 2 explains far less than 93 %
    pal = H.extract_palette(rgb_to_lab_np(img))
    assert len(pal) == 3
    np.testing.assert_allclose(np.sort(pal.shares), [1 / 3] * 3, atol=1e-6)
    # L of each palette colour is the mean L of its pixels
    want = np.sort(rgb_to_lab_np(np.array([[200, 30, 30], [30, 160, 40], [40, 60, 200]], np.uint8))[:, 0])
    np.testing.assert_allclose(np.sort(pal.lab[:, 0]), want, atol=0.5)


def test_candidate_terms_top_k_and_threshold():
    p = np.zeros(11)
    p[[5, 2, 8]] = [0.5, 0.3, 0.14]
    p[0] = 0.06
    assert list(H.candidate_terms(p, 3, 0.15)) == [5, 2]  # third is below 15 %
    assert list(H.candidate_terms(p, 1, 0.15)) == [5]
    flat = np.full(11, 1 / 11)
    assert len(H.candidate_terms(flat, 3, 0.15)) == 1  # nothing above 15 %: the most likely name


def test_matching_keeps_the_name_and_saturates(prototypes):
    model = default_naming_model()
    dull_orange = rgb_to_lab_np(np.array([[190, 130, 90]], np.uint8))
    target, terms = H.match_palette(dull_orange, prototypes, H.HarmonizeSettings(top_k=1))
    src_name = TERMS[int(model.name(lab_to_rgb_np(dull_orange))[0])]
    assert terms == [src_name]
    assert np.hypot(*target[0, 1:]) > np.hypot(*dull_orange[0, 1:])  # more chroma


@pytest.mark.parametrize("similarity", H.SIMILARITIES)
@pytest.mark.parametrize("space", ["rgb", "ab"])
def test_every_similarity_picks_a_candidate_of_an_allowed_name(prototypes, similarity, space):
    model = default_naming_model()
    s = H.HarmonizeSettings(similarity=similarity, space=space)
    pal = H.extract_palette(rgb_to_lab_np(_photo()), s)
    _, terms = H.match_palette(pal.lab, prototypes, s)
    probs = model.probabilities(lab_to_rgb_np(pal.lab))
    for c, term in enumerate(terms):
        assert TERMS.index(term) in H.candidate_terms(probs[c], s.top_k, s.min_prob)


def test_harmonize_raises_saturation_and_harmony(prototypes):
    img = _photo()
    before = img.copy()
    res = H.harmonize(img, prototypes)
    np.testing.assert_array_equal(img, before)  # input untouched
    assert res.image.shape == img.shape and res.image.dtype == np.float32 and not res.passed_through
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    y = torch.from_numpy(res.image).permute(2, 0, 1)[None]
    s0, s1 = harmony_scores(x), harmony_scores(y)
    assert s1["mits"].item() > s0["mits"].item() + 0.05
    assert s1["pit"].item() >= s0["pit"].item() - 1e-6
    # lightness kept (up to the sRGB gamut clip)
    dl = np.abs(rgb_to_lab_np(res.image)[..., 0] - rgb_to_lab_np(img)[..., 0])
    assert np.median(dl) < 0.5


def test_gray_image_passes_through(prototypes):
    gray = np.repeat(np.linspace(0, 255, 64 * 48).reshape(48, 64, 1), 3, -1).round().astype(np.uint8)
    res = H.harmonize(gray, prototypes)
    assert res.passed_through
    np.testing.assert_allclose(res.image, gray / 255.0, atol=1e-6)


def test_large_image_palette_on_a_copy_recolour_at_full_size(prototypes, monkeypatch):
    big = np.kron(_photo(60, 80), np.ones((12, 12, 1), np.uint8))  # 720 x 960
    seen = []
    real = H.extract_palette
    monkeypatch.setattr(H, "extract_palette", lambda lab, s=None: seen.append(lab.shape) or real(lab, s))
    s = H.HarmonizeSettings(palette_side=120, strip_rows=100)
    res = H.harmonize(big, prototypes, s)
    assert seen == [(120, 160, 3)] and res.image.shape == big.shape
    one_pass = H.recolor_image(big, res.source.lab, res.target_lab, lab=rgb_to_lab_np(big))
    np.testing.assert_allclose(res.image, one_pass, atol=1e-5)  # strips == one pass


def test_settings_are_checked():
    with pytest.raises(ValueError, match="similarity"):
        H.HarmonizeSettings(similarity="cosine")
    with pytest.raises(ValueError, match="k_range"):
        H.HarmonizeSettings(k_range=(3, 2))
    with pytest.raises(ValueError, match="RGB image"):
        H.harmonize(np.zeros((4, 4), np.uint8), None)
