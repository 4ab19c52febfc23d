"""The embedded generator's scenes as georeferenced GeoTIFF pairs, for whole-scene prediction.

``make scene [SIZE=2048]`` (``python -m semcolor.datamodules.embedded_geotiff``) writes
``$SEMCOLOR_DATA/scenes/embedded_<size>_input.tif`` (the unbalanced acquisition, 8-bit RGB, nodata 0 with
a nodata triangle in the top-left corner, as scene edges have) and ``..._target.tif`` (the balanced
rendering, the ground truth) on one UTM grid (EPSG:32650, 2 m pixels). They are what ``make predict``
and ``benchmarks/predict_scene.py`` run on when the user has no scene of their own.

Scenes larger than ``piece`` pixels are mosaics of ``piece``-sized generated scenes (seeds ``seed``,
``seed + 1``, ...), generated one at a time and written by windows, so memory stays at one piece
(generating 8192^2 in one go would need about 16 GB). Files are written to a temporary name and renamed
when complete; existing files are kept unless ``overwrite``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from semcolor.datamodules.embedded import default_root, make_scene
from semcolor.errors import SemcolorError

CRS = "EPSG:32650"  # UTM 50N
ORIGIN = (716000.0, 2470000.0)
PIXEL = 2.0
NODATA_TRIANGLE = 300  # pixels along each edge of the top-left nodata corner


def scene_paths(folder: str | Path, size: int) -> tuple[Path, Path]:
    folder = Path(folder)
    return folder / f"embedded_{size}_input.tif", folder / f"embedded_{size}_target.tif"


def write_scene_pair(folder: str | Path, size: int = 2048, seed: int = 0, piece: int = 2048,
                     overwrite: bool = False, progress: bool = False) -> tuple[Path, Path]:
    """Write the input / target GeoTIFFs of a ``size`` x ``size`` scene into ``folder``; return their paths."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    if size <= 0 or piece <= 0:
        raise SemcolorError(f"scene size and piece must be positive, got size={size}, piece={piece}")
    piece = min(piece, size)
    if size % piece:
        raise SemcolorError(f"scene size {size} must be a multiple of the generated piece size {piece}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = scene_paths(folder, size)
    if not overwrite and all(p.is_file() for p in paths):
        return paths
    n = size // piece
    prof = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=CRS,
                transform=from_origin(*ORIGIN, PIXEL, PIXEL), tiled=True, blockxsize=256, blockysize=256,
                compress="deflate", predictor=2, photometric="RGB")
    tmp = [p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in paths]
    try:
        with rasterio.open(tmp[0], "w", nodata=0, **prof) as di, rasterio.open(tmp[1], "w", **prof) as dt:
            for b, name in enumerate(("R", "G", "B"), start=1):
                di.set_band_description(b, name)
                dt.set_band_description(b, name)
            for i in range(n):
                for j in range(n):
                    sc = make_scene(piece, seed=seed + i * n + j, variant="balance")
                    x = np.ascontiguousarray(sc["input"].transpose(2, 0, 1))
                    x[x == 0] = 1  # 0 is the nodata value
                    if i == j == 0:
                        yy, xx = np.mgrid[0:piece, 0:piece]
                        x[:, yy + xx < NODATA_TRIANGLE] = 0
                    win = Window(j * piece, i * piece, piece, piece)
                    di.write(x, window=win)
                    dt.write(np.ascontiguousarray(sc["target"].transpose(2, 0, 1)), window=win)
                    del sc, x
                    if progress:
                        print(f"  generated piece {i * n + j + 1}/{n * n} of the {size}^2 scene", flush=True)
        for t, p in zip(tmp, paths):
            os.replace(t, p)
    finally:
        for t in tmp:
            t.unlink(missing_ok=True)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m semcolor.datamodules.embedded_geotiff",
                                 description="Write an embedded scene as input / target GeoTIFFs.")
    ap.add_argument("--size", type=int, default=2048, help="scene side in pixels (a multiple of 2048 above it)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="folder (default $SEMCOLOR_DATA/scenes)")
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args(argv)
    folder = a.out if a.out is not None else default_root() / "scenes"
    try:
        inp, tgt = write_scene_pair(folder, a.size, a.seed, overwrite=a.overwrite, progress=True)
    except SemcolorError as err:
        print(f"error: {err}")
        return 2
    print(f"input:  {inp}\ntarget: {tgt}")
    return 0


__all__ = ["CRS", "scene_paths", "write_scene_pair"]

if __name__ == "__main__":
    raise SystemExit(main())
