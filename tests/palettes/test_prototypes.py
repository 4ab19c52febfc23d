"""Colour prototypes (§4.3.1): counts per term, names kept, most saturated member, the disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from semcolor.palettes import prototypes as P
from semcolor.palettes.naming import TERMS, default_naming_model


def test_lattice_is_one_point_per_table_bin_with_both_ends():
    grid = P.lattice()
    assert grid.shape == (32768, 3) and grid.min() == 0 and grid.max() == 255
    rows = default_naming_model().index(grid)
    np.testing.assert_array_equal(rows, np.arange(32768))  # R fastest, one lattice colour per w2c row


def test_default_is_ten_plus_five(prototypes):
    counts = prototypes.counts()
    assert len(prototypes) == 135
    for term in TERMS:
        want = 15 if term in ("green", "blue", "purple", "red", "pink") else 10
        assert counts[term] == want, term


def test_every_prototype_keeps_its_name(prototypes):
    names = default_naming_model().name(prototypes.rgb)
    np.testing.assert_array_equal(names, prototypes.terms)
    assert np.abs(prototypes.lab - P.rgb_to_lab_np(prototypes.rgb)).max() < 1e-4


def test_one_cluster_keeps_the_most_saturated_colour_of_the_name():
    protos = P.build_prototypes(P.PrototypeSettings(n=1, extra=0))
    grid, names = P.lattice(), default_naming_model().name(P.lattice())
    sat = P._hsv_saturation(grid)
    for t in range(len(TERMS)):
        got = protos.rgb[protos.terms == t]
        assert len(got) == 1
        assert P._hsv_saturation(got)[0] == pytest.approx(sat[names == t].max())


def test_settings_are_checked_and_counted():
    assert P.PrototypeSettings(n=5, extra=0).clusters("green") == 5
    assert P.PrototypeSettings().clusters("red") == 15 and P.PrototypeSettings().clusters("grey") == 10
    with pytest.raises(ValueError, match="unknown colour term"):
        P.PrototypeSettings(extra_terms=("teal",))
    with pytest.raises(ValueError, match="space"):
        P.PrototypeSettings(space="xyz")


def test_cache_is_read_then_rebuilt_when_corrupt(tmp_path, monkeypatch, prototypes):
    first = P.load_prototypes(cache=tmp_path)
    files = list(tmp_path.glob("prototypes-*.npz"))
    assert len(files) == 1
    np.testing.assert_array_equal(first.rgb, prototypes.rgb)

    calls = []
    real = P.build_prototypes
    monkeypatch.setattr(P, "build_prototypes", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = P.load_prototypes(cache=tmp_path)
    assert calls == [] and np.array_equal(again.rgb, first.rgb)  # read from disk

    files[0].write_bytes(b"not an npz")  # corrupt
    rebuilt = P.load_prototypes(cache=tmp_path)
    assert calls == [1] and np.array_equal(rebuilt.rgb, first.rgb)
    assert P._read(files[0], rebuilt.settings, P._key(rebuilt.settings, default_naming_model())) is not None

    with np.load(files[0]) as z:  # stale: another key stored under this name
        np.savez(files[0], key=np.array("0" * 16), rgb=z["rgb"], lab=z["lab"], terms=z["terms"])
    P.load_prototypes(cache=tmp_path)
    assert calls == [1, 1]


def test_other_settings_use_another_cache_file(tmp_path):
    P.load_prototypes(P.PrototypeSettings(n=5, extra=0), cache=tmp_path)
    small = P.load_prototypes(P.PrototypeSettings(n=5, extra=0), cache=tmp_path)
    assert len(small) == 55
    assert len(list(tmp_path.glob("prototypes-*.npz"))) == 1
