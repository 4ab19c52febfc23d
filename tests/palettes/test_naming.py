"""The colour-naming table: basic colours get their names, lookups are vectorised, Eq. 3.3's gate."""

from __future__ import annotations

import numpy as np
import pytest

from semcolor.palettes.color import rgb_to_lab_np
from semcolor.palettes.naming import TERMS, ColorNamingModel, default_naming_model

BASIC = {
    "red": (255, 0, 0), "green": (0, 160, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "orange": (255, 140, 0),
    "purple": (128, 0, 128), "pink": (255, 160, 200), "brown": (130, 70, 20),
}


@pytest.mark.parametrize("name", sorted(BASIC))
def test_basic_colours_get_their_name(name):
    model = default_naming_model()
    rgb = np.array(BASIC[name], np.uint8)
    assert TERMS[int(model.name(rgb))] == name
    p = model.probabilities(rgb)
    assert p.shape == (11,) and abs(float(p.sum()) - 1.0) < 2e-3


def test_table_shape_and_rows_are_distributions():
    table = default_naming_model().table
    assert table.shape == (32768, 11) and len(TERMS) == 11 and len(set(TERMS)) == 11
    np.testing.assert_allclose(table.sum(1), 1.0, atol=3e-3)
    assert default_naming_model() is default_naming_model()  # cached


def test_uint8_and_float_inputs_agree_and_lookup_is_vectorised():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    model = default_naming_model()
    p8 = model.probabilities(img)
    pf = model.probabilities(img.astype(np.float32) / 255.0)
    assert p8.shape == (7, 5, 11)
    np.testing.assert_array_equal(p8, pf)
    # the row index follows the authors' im2c.m: R fastest, bins of 8 levels
    r, g, b = img[3, 2].astype(int)
    np.testing.assert_array_equal(p8[3, 2], model.table[r // 8 + 32 * (g // 8) + 1024 * (b // 8)])
    assert model.name(img).shape == (7, 5)


def test_name_gate_eq_3_3():
    model = default_naming_model()
    lab = rgb_to_lab_np(np.array([[200, 30, 30], [210, 40, 35], [30, 160, 40]], np.uint8))
    keep = model.associated(lab[:1].repeat(2, 0), lab[1:])
    assert keep.tolist() == [True, False]  # red-red kept, red-green broken
    assert model.associated(lab[:1], lab[2:], d_name=2.0).tolist() == [True]  # sqrt(2) is the largest distance


def test_bad_table_and_bad_shape_are_refused():
    with pytest.raises(ValueError, match="32768"):
        ColorNamingModel(np.zeros((10, 11)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        default_naming_model().probabilities(np.zeros((4, 4), np.uint8))
