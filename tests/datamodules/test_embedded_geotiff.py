"""Embedded scenes as GeoTIFF pairs (make scene): georeferenced, nodata corner, mosaics, files kept."""

import numpy as np
import pytest
import rasterio

from semcolor.datamodules.embedded import make_scene
from semcolor.datamodules.embedded_geotiff import (
    NODATA_TRIANGLE,
    main,
    write_scene_pair,
)
from semcolor.errors import SemcolorError


def test_pair_is_georeferenced_and_a_mosaic_of_generated_pieces(tmp_path):
    inp, tgt = write_scene_pair(tmp_path, size=640, piece=320, seed=3)
    with rasterio.open(inp) as a, rasterio.open(tgt) as b:
        assert (a.width, a.height, a.count) == (640, 640, 3) and a.crs.to_epsg() == 32650
        assert a.transform == b.transform and a.nodata == 0 and b.nodata is None
        assert a.descriptions == ("R", "G", "B")
        x, y = a.read(), b.read()
    assert (x[:, 0, 0] == 0).all() and (x[:, 10, NODATA_TRIANGLE] != 0).any()  # the nodata corner only
    assert (x[:, 320:, 320:] != 0).all()  # valid pixels never read as nodata
    piece = make_scene(320, seed=3 + 3, variant="balance")  # bottom-right piece: seed + i * n + j
    np.testing.assert_array_equal(y[:, 320:, 320:], piece["target"].transpose(2, 0, 1))


def test_existing_files_are_kept_and_bad_sizes_refused(tmp_path, capsys):
    inp, _ = write_scene_pair(tmp_path, size=128)
    stamp = inp.stat().st_mtime_ns
    write_scene_pair(tmp_path, size=128, seed=9)
    assert inp.stat().st_mtime_ns == stamp
    with pytest.raises(SemcolorError, match="multiple"):
        write_scene_pair(tmp_path, size=300, piece=128)
    assert main(["--size", "300", "--out", str(tmp_path)]) == 0  # one piece of 300: fine
    assert main(["--size", "0", "--out", str(tmp_path)]) == 2
    assert "positive" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
