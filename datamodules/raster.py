"""Shared rasterio helpers: open and read windows with errors that name the file, band selection,
bit-depth scaling, window grids over a scene, colour-table labels, and a Dataset of scene tiles.

Remote-sensing scenes (GID: 6800 x 7200; ZHCBI's source: 17,900 x 13,800) are far larger than a
training tile, so everything here reads *windows* (``rasterio.windows.Window``) and never a whole
scene per sample (DATASETS.md, GID: "read windows with rasterio, never whole scenes per sample").
The window grid is general on purpose: the whole-scene predictor reuses :func:`window_grid` with
overlapping strides, and :class:`SceneTiles` with ``return_window=True`` gives each tile's position.

Conventions
-----------
* Windows are ``rasterio.windows.Window(col_off, row_off, width, height)``; regions (area rectangles)
  are pixel rectangles ``(row0, col0, row1, col1)`` with exclusive ends, like numpy slices
  ``scene[row0:row1, col0:col1]``.
* Band selections name bands (``"R"``, case-insensitive, looked up in the file's band names) or give
  **0-based** positions in the file's band order (Python-like; rasterio's own indexes are 1-based and
  stay inside this module).
* Every failure caused by the user's files raises a :class:`~semcolor.errors.SemcolorError`
  subclass naming the file and what was expected.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
import torch
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window
from torch.utils.data import Dataset

from semcolor.datamodules.io import check_opaque, check_pixels, check_values
from semcolor.datamodules.transforms import apply_paired, image_to_tensor, seg_to_tensor
from semcolor.errors import CorruptFileError, DatasetLayoutError

#: a pixel rectangle ``(row0, col0, row1, col1)``, ends exclusive
Region = tuple[int, int, int, int]
#: how a grid treats the strip left over when the scene size is not a multiple of the stride
EdgeMode = Literal["shift", "pad", "drop"]
#: file suffixes GDAL reads as rasters here (GeoTIFF first; PNG/JP2 work too)
RASTER_SUFFIXES = (".tif", ".tiff")


# ----------------------------------------------------------------------------------------------
# opening and reading
# ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def open_raster(
    path: str | Path, expected: str = "a raster GDAL can read (GeoTIFF)"
) -> Iterator[rasterio.io.DatasetReader]:
    """Open ``path`` with rasterio; a missing or unreadable file raises :class:`CorruptFileError`.

    ``NotGeoreferencedWarning`` is silenced: plain TIFF/PNG tiles without a CRS are legitimate input.
    """
    p = Path(path)
    if not p.is_file():
        raise CorruptFileError(p, expected, "file does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(p)
    except RasterioError as exc:  # RasterioIOError for foreign/truncated files
        raise CorruptFileError(p, expected, f"{type(exc).__name__}: {exc}") from exc
    try:
        yield src
    finally:
        src.close()


def window_inside(window: Window, height: int, width: int) -> bool:
    """True when ``window`` lies entirely inside a ``height x width`` raster."""
    return (
        window.row_off >= 0
        and window.col_off >= 0
        and window.row_off + window.height <= height
        and window.col_off + window.width <= width
    )


def read_window(
    src: rasterio.io.DatasetReader,
    window: Window,
    bands: Sequence[int] | None = None,
    *,
    boundless: bool = False,
    fill_value: float = 0,
) -> np.ndarray:
    """Read ``window`` of ``src`` as ``(C, h, w)`` in the file's dtype.

    Args:
        src: an open rasterio dataset (see :func:`open_raster`).
        window: the pixels to read.
        bands: **1-based** rasterio band indexes (as returned by :func:`resolve_bands`); ``None`` = all.
        boundless: allow windows reaching past the scene; outside pixels get ``fill_value``.
            Without it, a window not inside the scene is an error (rasterio would silently return a
            clipped array, which breaks batching far from where the bug is).
    """
    if not boundless and not window_inside(window, src.height, src.width):
        raise DatasetLayoutError(
            f"window rows {window.row_off}:{window.row_off + window.height}, cols "
            f"{window.col_off}:{window.col_off + window.width} lies outside '{src.name}' "
            f"({src.height} x {src.width} pixels)"
        )
    indexes = list(bands) if bands is not None else list(range(1, src.count + 1))
    # Read the part inside the scene and pad by hand instead of rasterio's boundless/fill_value read:
    # with ``fill_value`` rasterio applies the dataset mask, and GDAL takes the 4th band of a 4-band
    # uint8 GeoTIFF as *alpha*, so NIR-R-G-B pixels whose last band is 0 would come back as
    # ``fill_value`` (a real hazard for GID's image_NirRGB; tests/test_gid.py catches it). The
    # boundless path also builds a VRT per read, which is slower.
    h, w = int(window.height), int(window.width)
    r0, c0 = int(window.row_off), int(window.col_off)
    rr0, cc0 = max(r0, 0), max(c0, 0)
    rr1, cc1 = min(r0 + h, src.height), min(c0 + w, src.width)
    inner = Window(cc0, rr0, max(cc1 - cc0, 0), max(rr1 - rr0, 0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            if inner.width > 0 and inner.height > 0:
                arr = src.read(indexes, window=inner)
            else:
                arr = np.zeros((len(indexes), 0, 0), dtype=src.dtypes[indexes[0] - 1])
    except RasterioError as exc:
        raise CorruptFileError(
            src.name, f"readable pixels in window {window!r}", f"{type(exc).__name__}: {exc}"
        ) from exc
    if (inner.height, inner.width) == (h, w):
        return arr
    out = np.full((len(indexes), h, w), fill_value, dtype=arr.dtype)
    if arr.size:
        out[:, rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = arr
    return out


def resolve_bands(
    selection: Sequence[str | int] | None, band_names: Sequence[str], path: str | Path
) -> list[int]:
    """Turn a band selection into 1-based rasterio indexes for a file whose bands are ``band_names``.

    Args:
        selection: band names (case-insensitive) or 0-based positions; ``None`` selects every band.
        band_names: the names of the file's bands in file order, e.g. ``("NIR", "R", "G", "B")``.
        path: the file, named in errors.

    Raises:
        DatasetLayoutError: a band the file does not have (e.g. ``"NIR"`` from a 3-band RGB file).
    """
    n = len(band_names)
    if selection is None:
        return list(range(1, n + 1))
    if isinstance(selection, (str, int)):
        selection = [selection]
    upper = [b.upper() for b in band_names]
    out: list[int] = []
    for band in selection:
        if isinstance(band, str):
            if band.upper() not in upper:
                raise DatasetLayoutError(
                    f"'{path}' has {n} bands ({', '.join(band_names)}); band {band!r} is not among "
                    f"them (asked for {list(selection)})"
                )
            out.append(upper.index(band.upper()) + 1)
        else:
            if not 0 <= int(band) < n:
                raise DatasetLayoutError(
                    f"'{path}' has {n} bands ({', '.join(band_names)}); band position {band} is "
                    f"out of range 0..{n - 1} (asked for {list(selection)})"
                )
            out.append(int(band) + 1)
    if not out:
        raise DatasetLayoutError(f"empty band selection for '{path}'")
    return out


def unit_scale(dtype: np.dtype | str, bit_depth: int | None = None) -> float:
    """The value that maps to 1.0: ``2**bit_depth - 1`` if given, else the integer dtype's maximum
    (255 for uint8, 65535 for uint16); 1.0 for float data (assumed already in [0, 1])."""
    if bit_depth is not None:
        return float(2**bit_depth - 1)
    dt = np.dtype(dtype)
    if np.issubdtype(dt, np.integer):
        return float(np.iinfo(dt).max)
    return 1.0


def to_unit_float(
    arr: np.ndarray, *, bit_depth: int | None = None, path: str | Path = "<array>", where: str = ""
) -> np.ndarray:
    """Scale raster values to float32 in [0, 1] (see :func:`unit_scale`).

    The values are checked first (:func:`semcolor.datamodules.io.check_values`): NaN / infinities, float
    data outside [0, 1] and integers above ``2**bit_depth - 1`` raise an error naming ``path`` instead of
    being clipped.
    """
    check_values(arr, path, bit_depth=bit_depth, where=where)
    scale = unit_scale(arr.dtype, bit_depth)
    out = arr.astype(np.float32)
    if scale != 1.0:
        out /= scale
    return np.clip(out, 0.0, 1.0, out=out)


def check_scene_format(src: rasterio.io.DatasetReader, bands: Sequence[int], bit_depth: int | None,
                       expected: str = "8-bit data") -> None:
    """Refuse a raster whose selected bands are not 8-bit unsigned integers (or floats in [0, 1]) unless
    ``bit_depth`` says how many bits they hold: a 16-bit scene is never scaled by 65535 silently."""
    dtypes = sorted({src.dtypes[b - 1] for b in bands})
    if len(dtypes) != 1:
        raise DatasetLayoutError(f"'{src.name}': the selected bands {list(bands)} have different data types {dtypes}")
    if bit_depth is not None:
        check_pixels(src.name, dtypes[0], len(bands), bits=None, kinds="u", bands=None,
                     expected=f"unsigned integers of at most {bit_depth} bits (bit_depth={bit_depth})")
    elif np.dtype(dtypes[0]).kind != "f":
        check_pixels(src.name, dtypes[0], len(bands), bits=(8,), kinds="u", bands=None,
                     expected=f"{expected} (8-bit unsigned integers, or floats in [0, 1])",
                     hint="give bit_depth=<significant bits, e.g. 12 or 16> to scale higher bit depths")


# ----------------------------------------------------------------------------------------------
# window grids
# ----------------------------------------------------------------------------------------------
def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    a, b = v
    return int(a), int(b)


def grid_starts(length: int, size: int, stride: int, edge: EdgeMode = "shift") -> list[int]:
    """Start offsets of windows of ``size`` every ``stride`` along an axis of ``length`` pixels.

    ``edge`` says what happens to the strip left over when ``length - size`` is not a multiple of
    ``stride``:

    * ``"shift"``: add one last window ending exactly at the edge (it overlaps its neighbour more);
      every window lies inside the scene and every pixel is covered. If ``length < size`` there is one
      window at 0 that overhangs (read it with ``boundless=True``).
    * ``"pad"``: keep the regular stride and let the last window overhang the edge (read with
      ``boundless=True``; the padding is ``fill_value``). Every pixel covered, regular spacing.
    * ``"drop"``: only windows entirely inside; the leftover strip is not covered (non-overlapping
      tiles as ZHCBI was cut).
    """
    if size <= 0 or stride <= 0:
        raise ValueError(f"window size and stride must be positive, got size={size}, stride={stride}")
    if length <= 0:
        return []
    if edge == "drop":
        return list(range(0, length - size + 1, stride))
    if edge == "shift":
        if length <= size:
            return [0]
        starts = list(range(0, length - size + 1, stride))
        if starts[-1] + size < length:
            starts.append(length - size)
        return starts
    if edge == "pad":
        starts = [0]
        while starts[-1] + size < length:
            starts.append(starts[-1] + stride)
        return starts
    raise ValueError(f"edge must be 'shift', 'pad' or 'drop', got {edge!r}")


def window_grid(
    shape: tuple[int, int],
    size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    *,
    edge: EdgeMode = "shift",
    offset: tuple[int, int] = (0, 0),
) -> list[Window]:
    """Windows of ``size`` on a regular grid over a ``(height, width)`` area, row-major order.

    Hand-written: rasterio's ``block_windows`` follows the file's internal tiling, not an arbitrary
    size/stride, and torchgeo (which has a grid sampler) is not a dependency.

    Args:
        shape: ``(height, width)`` of the area (a scene, or a region of one).
        size: window size, ``int`` or ``(h, w)``.
        stride: step between windows (default ``size``: no overlap); smaller than ``size`` overlaps,
            as the whole-scene predictor does.
        edge: leftover-strip policy, see :func:`grid_starts`.
        offset: ``(row, col)`` added to every window (the region's top-left corner in the scene).
    """
    sh, sw = _pair(size)
    th, tw = _pair(stride if stride is not None else (sh, sw))
    rows = grid_starts(shape[0], sh, th, edge)
    cols = grid_starts(shape[1], sw, tw, edge)
    r0, c0 = offset
    return [Window(c0 + c, r0 + r, sw, sh) for r in rows for c in cols]


def region_windows(
    region: Region,
    size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    *,
    edge: EdgeMode = "drop",
) -> list[Window]:
    """:func:`window_grid` over a pixel rectangle ``(row0, col0, row1, col1)`` of a scene."""
    row0, col0, row1, col1 = (int(v) for v in region)
    return window_grid((row1 - row0, col1 - col0), size, stride, edge=edge, offset=(row0, col0))


def random_window(
    shape: tuple[int, int], size: int | Sequence[int], generator: torch.Generator | None = None
) -> Window:
    """A window of ``size`` at a uniformly random position fully inside ``shape`` (at 0 on an axis
    shorter than the window, which then overhangs). Uses torch's RNG so DataLoader workers and
    ``seed_everything`` give distinct, reproducible draws."""
    sh, sw = _pair(size)
    r = int(torch.randint(0, max(shape[0] - sh, 0) + 1, (1,), generator=generator))
    c = int(torch.randint(0, max(shape[1] - sw, 0) + 1, (1,), generator=generator))
    return Window(c, r, sw, sh)


def check_region(region: Sequence[int], height: int, width: int, path: str | Path) -> Region:
    """Validate a ``(row0, col0, row1, col1)`` rectangle against a scene; return it as a tuple."""
    if len(region) != 4:
        raise DatasetLayoutError(
            f"area rectangle {list(region)} for '{path}' must be (row0, col0, row1, col1)"
        )
    row0, col0, row1, col1 = (int(v) for v in region)
    if not (0 <= row0 < row1 <= height and 0 <= col0 < col1 <= width):
        raise DatasetLayoutError(
            f"area rectangle (row0={row0}, col0={col0}, row1={row1}, col1={col1}) is empty or lies "
            f"outside '{path}' ({height} x {width} pixels)"
        )
    return row0, col0, row1, col1


def regions_overlap(a: Region, b: Region) -> bool:
    """True when two ``(row0, col0, row1, col1)`` rectangles share at least one pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_same_grid(a: rasterio.io.DatasetReader, b: rasterio.io.DatasetReader) -> None:
    """Raise :class:`DatasetLayoutError` unless two rasters share size, transform and CRS."""
    problems = []
    if (a.height, a.width) != (b.height, b.width):
        problems.append(f"size {a.height}x{a.width} vs {b.height}x{b.width}")
    if not a.transform.almost_equals(b.transform):
        problems.append(f"transform {tuple(a.transform)[:6]} vs {tuple(b.transform)[:6]}")
    if a.crs != b.crs:
        problems.append(f"CRS {a.crs} vs {b.crs}")
    if problems:
        raise DatasetLayoutError(
            f"'{a.name}' and '{b.name}' must share one pixel grid (same size, transform and CRS) "
            f"but differ in {'; '.join(problems)}"
        )


# ----------------------------------------------------------------------------------------------
# colour-coded labels
# ----------------------------------------------------------------------------------------------
class UnknownColorWarning(UserWarning):
    """A colour label contained colours outside the dataset's colour table (mapped to index 0)."""


def rgb_to_index(
    rgb: np.ndarray, colours: Sequence[Sequence[int]], unknown_index: int = 0
) -> tuple[np.ndarray, int, tuple[int, int, int] | None]:
    """Map an ``(H, W, 3)`` colour label to class indices via a colour table.

    Args:
        rgb: uint8 colour label, channels last.
        colours: ``colours[i]`` is the RGB colour of class ``i``.
        unknown_index: index given to colours not in the table.

    Returns:
        ``(index int64 (H, W), number of unknown pixels, one unknown colour or None)``.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) colour label, got shape {rgb.shape}")
    rgb = rgb.astype(np.int64)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    table = np.array([(int(r) << 16) | (int(g) << 8) | int(b) for r, g, b in colours], dtype=np.int64)
    order = np.argsort(table)
    keys = table[order]
    pos = np.clip(np.searchsorted(keys, codes), 0, len(keys) - 1)
    known = keys[pos] == codes
    index = np.where(known, order[pos], unknown_index).astype(np.int64)
    n_unknown = int((~known).sum())
    example = None
    if n_unknown:
        c = int(codes[~known].flat[0])
        example = ((c >> 16) & 255, (c >> 8) & 255, c & 255)
    return index, n_unknown, example


class UnknownColorLog:
    """Counts unknown label colours per file and warns (:class:`UnknownColorWarning`) the first time
    a file shows one, for at most ``max_files`` files (then once more, saying further files are only
    counted). Counts are per process: with DataLoader workers each worker keeps its own."""

    def __init__(self, dataset: str, table_name: str, unknown_index: int = 0, max_files: int = 20):
        self.dataset, self.table_name = dataset, table_name
        self.unknown_index, self.max_files = unknown_index, max_files
        self.counts: dict[str, int] = {}

    def record(self, path: str | Path, n_unknown: int, example: Any, where: str = "") -> None:
        if not n_unknown:
            return
        key = str(path)
        first = key not in self.counts
        self.counts[key] = self.counts.get(key, 0) + n_unknown
        if not first:
            return
        n_files = len(self.counts)
        if n_files <= self.max_files:
            warnings.warn(
                f"{self.dataset}: {n_unknown} pixels{where} of '{key}' have colours not in the "
                f"{self.table_name} colour table (e.g. {example}); mapped to index "
                f"{self.unknown_index}. Later windows of this file are counted without warning.",
                UnknownColorWarning,
                stacklevel=3,
            )
        elif n_files == self.max_files + 1:
            warnings.warn(
                f"{self.dataset}: more than {self.max_files} files have unknown label colours; "
                f"further files are counted (dataset.unknown_colors) without warnings",
                UnknownColorWarning,
                stacklevel=3,
            )


# ----------------------------------------------------------------------------------------------
# tiles of a scene
# ----------------------------------------------------------------------------------------------
#: band names given by GDAL colour interpretations (the rest are named by position)
_INTERP_NAMES = {"red": "R", "green": "G", "blue": "B", "alpha": "alpha"}


def band_names_of(src: rasterio.io.DatasetReader, given: Sequence[str] | None = None) -> tuple[str, ...]:
    """The names of a raster's bands, in file order: ``given`` (checked against the band count), else the
    band descriptions when every band has a distinct one, else the bands' colour interpretation when it
    names red, green and blue once each and is not GDAL's default for an 8-bit file (a GeoTIFF tagged
    B, G, R, alpha is named so, and read as R, G, B in that order, never in file order), else
    :func:`default_band_names`.

    GDAL tags every 3- or 4-band 8-bit GeoTIFF it writes R, G, B(, alpha) whatever the bands hold, so
    those tags say nothing: a 4-band 8-bit file so tagged keeps the NIR, R, G, B reading of GID's release
    (give ``band_names`` for an RGBA file).
    """
    if given is not None:
        names = tuple(given)
        if len(names) != src.count:
            raise DatasetLayoutError(
                f"'{src.name}' has {src.count} bands but {len(names)} band names were given ({list(names)})")
        return names
    descriptions = tuple(src.descriptions)
    if all(descriptions) and len(set(descriptions)) == src.count:
        return tuple(str(d) for d in descriptions)
    tags = tuple(ci.name for ci in src.colorinterp)
    rgb_once = all(tags.count(c) == 1 for c in ("red", "green", "blue"))
    gdal_default = src.dtypes[0] == "uint8" and tags in (("red", "green", "blue"), ("red", "green", "blue", "alpha"))
    if rgb_once and not gdal_default:
        return tuple(_INTERP_NAMES.get(t, f"b{i}") for i, t in enumerate(tags))
    return default_band_names(src.count)


def default_selection(names: Sequence[str]) -> list[str] | None:
    """``["R", "G", "B"]`` when the bands are R, G and B in some order plus alpha bands only (a BGR or
    BGRA file is then read as R, G, B); None when the bands need an explicit selection."""
    upper = [n.upper() for n in names]
    if all(upper.count(c) == 1 for c in "RGB") and all(n in ("R", "G", "B", "ALPHA") for n in upper):
        return ["R", "G", "B"]
    return None


def alpha_band(names: Sequence[str]) -> int | None:
    """The 1-based index of the band named ``alpha`` (from its colour interpretation), or None."""
    upper = [n.upper() for n in names]
    return upper.index("ALPHA") + 1 if "ALPHA" in upper else None


def default_band_names(count: int) -> tuple[str, ...]:
    """Band names assumed for a file with ``count`` bands when no better knowledge exists:
    3 -> R, G, B; 4 -> NIR, R, G, B (GID's NIR-RGB order); otherwise ``b0, b1, ...``."""
    if count == 3:
        return ("R", "G", "B")
    if count == 4:
        return ("NIR", "R", "G", "B")
    return tuple(f"b{i}" for i in range(count))


class SceneTiles(Dataset):
    """Tiles cut by windows from a scene GeoTIFF, with an optional target scene and class raster on
    the same pixel grid (checked). Nothing is held in memory but the window list; each sample opens
    the files and reads its window.

    Used for ZHCBI-like data cut from a scene pair, for GID colour-balance test tiles, and usable by
    whole-scene prediction (``edge="shift"`` or ``"pad"``, ``stride < tile_size``,
    ``return_window=True``).

    Args:
        input_path: the input scene.
        target_path: a scene on the same grid whose tiles become ``"target"`` (e.g. the expert-balanced
            scene); ``None`` for input-only tiles.
        seg_path: a class raster on the same grid: one band of indices, or three bands of colours
            mapped with ``seg_palette``; ``None`` for no ``"seg"``.
        regions: ``(row0, col0, row1, col1)`` rectangles to tile; ``None`` tiles the whole scene.
        tile_size: tile side in pixels.
        stride: step between tiles (default ``tile_size``, no overlap).
        edge: leftover policy at region borders (:func:`grid_starts`); default ``"drop"``: only whole
            tiles, never padding, as ZHCBI's 256 x 256 tiles were cut.
        bands: band selection of the input (and target) scene, names or 0-based positions; ``None``
            takes all bands, which must then be 3.
        band_names: names of the input scene's bands (default :func:`default_band_names`).
        bit_depth: significant bits of the scenes' data (default: from the dtype, 255 for uint8).
        seg_palette: colour table for a 3-band class raster.
        transform: paired geometric transform (``semcolor.datamodules.transforms.paired_geometric``).
        return_window: add ``"window"``: int64 ``(row_off, col_off, height, width)``.
        name_prefix: prefix of sample names (default: the input file's stem); names are
            ``{prefix}_{row_off}_{col_off}``.
    """

    def __init__(
        self,
        input_path: str | Path,
        target_path: str | Path | None = None,
        seg_path: str | Path | None = None,
        *,
        regions: Sequence[Sequence[int]] | None = None,
        tile_size: int = 256,
        stride: int | None = None,
        edge: EdgeMode = "drop",
        bands: Sequence[str | int] | None = None,
        band_names: Sequence[str] | None = None,
        bit_depth: int | None = None,
        seg_palette: Sequence[Sequence[int]] | None = None,
        transform: Any = None,
        return_window: bool = False,
        name_prefix: str | None = None,
        dataset_name: str = "scene tiles",
    ) -> None:
        self.input_path = Path(input_path)
        self.target_path = Path(target_path) if target_path is not None else None
        self.seg_path = Path(seg_path) if seg_path is not None else None
        self.tile_size, self.bit_depth = tile_size, bit_depth
        self.seg_palette = seg_palette
        self.transform, self.return_window = transform, return_window
        self.prefix = name_prefix if name_prefix is not None else self.input_path.stem
        self.unknown = UnknownColorLog(dataset_name, "class raster")

        with contextlib.ExitStack() as stack:
            src = stack.enter_context(open_raster(self.input_path, "an input scene GeoTIFF"))
            names = band_names_of(src, band_names)
            if bands is None:
                bands = default_selection(names)  # R, G, B of a B, G, R(, alpha) file, in that order
            self.bands = resolve_bands(bands, names, self.input_path)
            if bands is None and src.count != 3:
                raise DatasetLayoutError(
                    f"'{self.input_path}' has {src.count} bands ({', '.join(names)}); expected 3 "
                    f"(R, G, B) or a band selection such as bands=['R', 'G', 'B']"
                )
            check_scene_format(src, self.bands, bit_depth, "an 8-bit input scene")
            alpha = alpha_band(names)
            self.alpha = alpha if alpha is not None and alpha not in self.bands else None
            self.height, self.width = src.height, src.width
            if self.target_path is not None:
                tgt = stack.enter_context(open_raster(self.target_path, "a target scene GeoTIFF"))
                check_same_grid(src, tgt)
                if max(self.bands) <= tgt.count:
                    check_scene_format(tgt, self.bands, bit_depth, "an 8-bit target scene")
                if max(self.bands) > tgt.count:
                    raise DatasetLayoutError(
                        f"'{self.target_path}' has {tgt.count} bands; the band selection "
                        f"{list(bands) if bands else None} of '{self.input_path}' needs "
                        f"{max(self.bands)}"
                    )
            if self.seg_path is not None:
                seg = stack.enter_context(open_raster(self.seg_path, "a class raster GeoTIFF"))
                check_same_grid(src, seg)
                if seg.count == 3 and seg_palette is None:
                    raise DatasetLayoutError(
                        f"'{self.seg_path}' has 3 bands (a colour-coded class map); give seg_palette "
                        f"to map colours to indices, or use a 1-band index raster"
                    )
                if seg.count not in (1, 3):
                    raise DatasetLayoutError(
                        f"'{self.seg_path}' has {seg.count} bands; expected 1 (class indices) or 3 "
                        f"(colour-coded classes)"
                    )
        rects = (
            [check_region(r, self.height, self.width, self.input_path) for r in regions]
            if regions is not None
            else [(0, 0, self.height, self.width)]
        )
        self.regions = rects
        self.windows: list[Window] = []
        for rect in rects:
            self.windows += region_windows(rect, tile_size, stride, edge=edge)
        if not self.windows:
            raise DatasetLayoutError(
                f"no {tile_size} x {tile_size} tile fits in the regions {rects} of '{self.input_path}'"
            )
        self.boundless = any(not window_inside(w, self.height, self.width) for w in self.windows)

    def __len__(self) -> int:
        return len(self.windows)

    def _read_image(self, path: Path, window: Window) -> np.ndarray:
        where = f" in window rows {window.row_off}:{window.row_off + window.height}, cols {window.col_off}:" \
                f"{window.col_off + window.width}"
        with open_raster(path) as src:
            arr = read_window(src, window, self.bands, boundless=self.boundless)
            if self.alpha is not None and path == self.input_path:
                check_opaque(read_window(src, window, [self.alpha], boundless=self.boundless)[0], path, where)
        return to_unit_float(arr, bit_depth=self.bit_depth, path=path, where=where).transpose(1, 2, 0)

    def _read_seg(self, window: Window) -> np.ndarray:
        assert self.seg_path is not None
        with open_raster(self.seg_path) as src:
            arr = read_window(src, window, boundless=self.boundless)
        if arr.shape[0] == 1:
            return arr[0].astype(np.int64)
        idx, n, example = rgb_to_index(arr.transpose(1, 2, 0), self.seg_palette or [])
        self.unknown.record(self.seg_path, n, example, f" in window {window.row_off},{window.col_off}")
        return idx

    def __getitem__(self, i: int) -> dict[str, Any]:
        w = self.windows[i]
        image = self._read_image(self.input_path, w)
        target = self._read_image(self.target_path, w) if self.target_path is not None else None
        seg = self._read_seg(w) if self.seg_path is not None else None
        image, target, seg = apply_paired(self.transform, image, target, seg)
        sample: dict[str, Any] = {
            "input": image_to_tensor(image, scale=1.0),
            "name": f"{self.prefix}_{int(w.row_off)}_{int(w.col_off)}",
        }
        if target is not None:
            sample["target"] = image_to_tensor(target, scale=1.0)
        if seg is not None:
            sample["seg"] = seg_to_tensor(seg)
        if self.return_window:
            sample["window"] = torch.tensor(
                [int(w.row_off), int(w.col_off), int(w.height), int(w.width)], dtype=torch.int64
            )
        return sample


def count_tiles(shape: tuple[int, int], size: int, stride: int | None = None, edge: EdgeMode = "drop") -> int:
    """Number of windows :func:`window_grid` makes (handy for docs and sanity checks)."""
    stride = stride or size
    return len(grid_starts(shape[0], size, stride, edge)) * len(grid_starts(shape[1], size, stride, edge))


__all__ = [
    "EdgeMode",
    "RASTER_SUFFIXES",
    "Region",
    "SceneTiles",
    "UnknownColorLog",
    "UnknownColorWarning",
    "check_region",
    "check_same_grid",
    "count_tiles",
    "alpha_band",
    "band_names_of",
    "check_scene_format",
    "default_band_names",
    "default_selection",
    "grid_starts",
    "open_raster",
    "random_window",
    "read_window",
    "region_windows",
    "regions_overlap",
    "resolve_bands",
    "rgb_to_index",
    "to_unit_float",
    "unit_scale",
    "window_grid",
    "window_inside",
]
