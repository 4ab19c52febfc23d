"""The ch. 3 modules on their own: white balance (Eq. 3.1), saliency split (Eq. 3.2), group palette and matching."""

from __future__ import annotations

import numpy as np
import pytest

from semcolor.errors import DatasetLayoutError
from semcolor.palettes.color import linear_to_srgb_np, srgb_to_linear_np
from semcolor.palettes.group import automatic_group_size, group_palette, match_to_group
from semcolor.palettes.saliency import categorize_colors, read_saliency_map, salient_colors, spectral_residual
from semcolor.palettes.white_balance import WhiteBalancer, auto_white_balance, mean_delta_e76


def _scene(seed: int = 0) -> np.ndarray:
    """A neutral-on-average sRGB image: random patches of varied colours around grey."""
    rng = np.random.default_rng(seed)
    patches = rng.uniform(0.15, 0.85, (8, 8, 3))
    patches = patches / patches.mean((0, 1)) * 0.5
    patches[0, 0] = 0.95  # a white patch, for white-patch's assumption
    return np.clip(np.kron(patches, np.ones((8, 8, 1))), 0, 1).astype(np.float32)


@pytest.mark.parametrize("method", ["gray_world", "shades_of_gray", "white_patch"])
def test_white_balance_removes_a_diagonal_cast(method):
    img = _scene()
    cast = linear_to_srgb_np(srgb_to_linear_np(img) * np.array([1.3, 1.0, 0.6], np.float32))
    fixed = WhiteBalancer(method)(cast)
    assert mean_delta_e76(fixed, img) < 0.35 * mean_delta_e76(cast, img)


def test_eq_3_1_applies_the_correction_only_above_d_wb():
    img = _scene(1)
    mild = linear_to_srgb_np(srgb_to_linear_np(img) * np.array([1.03, 1.0, 0.97], np.float32))
    strong = linear_to_srgb_np(srgb_to_linear_np(img) * np.array([1.6, 1.0, 0.45], np.float32))
    out, applied, de = auto_white_balance(mild)
    assert not applied and de < 20 and np.array_equal(out, mild)
    out, applied, de = auto_white_balance(strong)
    assert applied and de > 20 and mean_delta_e76(out, img) < mean_delta_e76(strong, img)
    with pytest.raises(ValueError, match="unknown white-balance"):
        WhiteBalancer("knn")


def test_spectral_residual_finds_an_odd_patch():
    img = np.full((96, 128, 3), 0.4, np.float32)
    img += np.random.default_rng(0).normal(0, 0.02, img.shape).astype(np.float32)
    img[40:56, 80:96] = [0.95, 0.9, 0.2]
    sal = spectral_residual(img)
    assert sal.shape == (96, 128) and sal.min() == 0.0 and sal.max() == 1.0
    assert sal[40:56, 80:96].mean() > 3 * sal[:, :40].mean()


def test_eq_3_2_and_its_multi_class_extension():
    labels = np.array([[0, 0, 1, 1], [0, 0, 1, 2]])
    saliency = np.array([[0.0, 0.0, 0.95, 0.95], [0.0, 0.0, 0.95, 0.1]])
    # colour 1 covers 3/3 of the salient area and 0/5 of the rest; colour 2 covers 1/5 of the rest only
    assert salient_colors(labels, 3, saliency).tolist() == [False, True, False]
    assert salient_colors(labels, 3, np.zeros((2, 4))).tolist() == [False, False, False]  # no salient pixel
    classes = np.array([[5, 5, 7, 7], [5, -1, 7, 7]])
    assert categorize_colors(labels, 3, classes, 8).tolist() == [5, 7, 7]
    with pytest.raises(ValueError, match="differ in size"):
        salient_colors(labels, 3, np.zeros((3, 3)))


def test_user_saliency_map_of_another_size_names_the_file(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((10, 12), np.uint8)).save(tmp_path / "a.png")
    assert read_saliency_map(tmp_path / "a.png", (10, 12)).shape == (10, 12)
    with pytest.raises(DatasetLayoutError, match=r"a\.png.*12x10 px but its image is 20x10"):
        read_saliency_map(tmp_path / "a.png", (10, 20))


def test_group_palette_pools_matches_and_converges():
    rng = np.random.default_rng(0)
    base = np.array([[50, 10, 10], [70, -20, 30], [30, 0, -30.0]])
    centres = [base + rng.normal(0, 2, base.shape) for _ in range(4)]
    gp = group_palette(centres, [np.ones(3) / 3] * 4)
    assert gp.centers.shape == (3, 3) and 1 <= gp.iterations < 20
    for m in gp.matches:  # the same source colour of every image goes to the same group colour
        assert m.tolist() == gp.matches[0].tolist() and sorted(m.tolist()) == [0, 1, 2]
    order = gp.matches[0]
    np.testing.assert_allclose(gp.centers[order], np.mean(centres, 0), atol=1e-4)
    assert automatic_group_size([3, 4, 4, 6]) == 4 and automatic_group_size([2, 3]) == 3


def test_reduction_penalty_and_unassigned_variant():
    group = np.array([[50.0, 0, 0], [50.0, 40, 0]])
    src = np.array([[50.0, 1, 0], [50.0, -2, 0]])  # both nearest to group colour 0
    assert match_to_group(src, group, reduction_penalty=0.0).tolist() == [0, 0]
    assert sorted(match_to_group(src, group, reduction_penalty=100.0).tolist()) == [0, 1]
    far = np.array([[50.0, 1, 0], [90.0, -60, 60]])
    assert match_to_group(far, group, unassigned_cost=25.0).tolist() == [0, -1]
