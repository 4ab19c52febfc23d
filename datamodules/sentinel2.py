"""Sentinel-2 16-bit -> 8-bit training pairs (s2color, Corpetti et al. 2023), read window by window with rasterio.

Layout (DATASETS.md, "Sentinel-2")::

    {root}/{train,val,test}/
        S2B_MSIL2A_20231217T135659_N0510_R067_T21JUK_20231217T175625.SAFE/     a SAFE product (L2A or L1C)
            MTD_MSIL2A.xml                        (MTD_MSIL1C.xml for L1C)
            GRANULE/L2A_T21JUK_.../IMG_DATA/R10m/T21JUK_20231217T135659_{B02,B03,B04,TCI}_10m.jp2
                  (L1C: GRANULE/L1C_T21JUK_.../IMG_DATA/T21JUK_20210315T135121_{B02,B03,B04,TCI}.jp2)
        S2B_MSIL2A_..._20231217T175625_8bit.tif   optional 8-bit target of that product ("sidecar")
        <name>.tif + <name>_8bit.tif              a plain GeoTIFF pair: 16-bit input, 8-bit target

**Inputs** are the bands B04, B03, B02 (R, G, B). SAFE band files are found by name: ``*_B04_10m.jp2`` in
``IMG_DATA/R10m`` for L2A, ``*_B04.jp2`` in ``IMG_DATA`` for L1C (``.tif`` is accepted too, for products
converted by the user or written by a GDAL without the JP2OpenJPEG driver). They become reflectance::

    input = (DN + offset) / quantification

with the per-band offsets of the product metadata: ``BOA_ADD_OFFSET_VALUES_LIST/BOA_ADD_OFFSET`` (L2A) or
``Radiometric_Offset_List/RADIO_ADD_OFFSET`` (L1C), ``band_id`` 0..12 = B01..B12 (B8A at 8), -1000 since
processing baseline 04.00, **absent before (offset 0)**; quantification ``BOA_QUANTIFICATION_VALUE`` /
``QUANTIFICATION_VALUE`` (10000). This matches the embedded ``render16`` data, ``(DN - 1000) / 10000``,
and ``S2Color.input_scaling``. Plain 16-bit GeoTIFF inputs carry no baseline: ``(DN + geotiff_offset) /
scale`` with ``geotiff_offset = 0`` by default (set -1000 for raw L2A DN of baseline >= 04.00 exported
as they are; harmonised exports, e.g. Earth Engine's ``S2_SR_HARMONIZED``, need 0).

**Nodata**: DN ``0`` (NODATA) and ``65535`` (SATURATED) in any band, and a GeoTIFF input's own nodata
value, make a pixel invalid: its input is set to 0 and the sample's ``valid`` mask is False there (the
s2color loss and metrics ignore it). Target pixels outside the target's footprint or equal to its
nodata value are invalid too.

**Targets** are 8-bit RGB of the same footprint: a plain pair's ``<name>_8bit.tif``; for a SAFE product
its sidecar ``<product>_8bit.tif`` next to the ``.SAFE`` folder, else (``use_tci=True``) the product's own
8-bit true-colour image ``TCI`` (ESA's fixed rendering). A target on another pixel grid (another CRS,
resolution or extent) is aligned by georeference: a ``rasterio.vrt.WarpedVRT`` puts it onto the input's
grid (``resampling``, bilinear by default), and pixels it does not cover are invalid. A pair whose
footprints do not overlap is refused, naming both files.

**Patches**: ``patch_size`` windows (the paper's 512) on a grid with ``patch_stride`` over each input,
read one window at a time; windows whose valid fraction is below ``min_valid_fraction`` are skipped. The
fraction is estimated at setup from a decimated read of the input (and of the warped target's coverage),
so setup does not read full-resolution scenes.

Samples: ``input`` float32 ``(3, P, P)`` reflectance (not clipped), ``target`` float32 ``(3, P, P)`` in
[0, 1], ``valid`` bool ``(P, P)``, ``name`` ``<product or stem>_<row>_<col>``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rasterio.enums import MaskFlags, Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from torch.utils.data import Dataset

from semcolor.datamodules.base import SemcolorDataModule
from semcolor.datamodules.io import check_pixels
from semcolor.datamodules.raster import (
    check_same_grid,
    default_band_names,
    open_raster,
    read_window,
    resolve_bands,
    window_grid,
)
from semcolor.datamodules.transforms import (
    apply_paired,
    image_to_tensor,
    paired_geometric,
)
from semcolor.errors import (
    CorruptFileError,
    DatasetLayoutError,
    DatasetNotFoundError,
    SemcolorError,
)
from semcolor.registry import DATASETS

__all__ = [
    "BAND_IDS", "NODATA_DN", "SATURATED_DN", "RGB_BANDS", "SafeMetadata", "S2Pair", "Sentinel2DataModule",
    "Sentinel2Patches", "discover_pairs", "dn_to_reflectance", "find_band_file", "open_pair",
    "read_pair_window", "read_safe_metadata",
]  # fmt: skip

#: Sentinel-2 band names by the ``band_id`` used in the product metadata
BAND_IDS: dict[str, int] = {
    "B01": 0, "B02": 1, "B03": 2, "B04": 3, "B05": 4, "B06": 5, "B07": 6,
    "B08": 7, "B8A": 8, "B09": 9, "B10": 10, "B11": 11, "B12": 12,
}  # fmt: skip
#: special DN values (``Special_Values`` of the product metadata)
NODATA_DN = 0
SATURATED_DN = 65535
#: R, G, B
RGB_BANDS = ("B04", "B03", "B02")
DEFAULT_QUANTIFICATION = 10000.0
DATASET = "Sentinel-2"
LAYOUT = (
    "{root}/{train,val,test}/ holding *.SAFE products (optionally with <product>_8bit.tif targets) and/or "
    "<name>.tif (16-bit) + <name>_8bit.tif (8-bit) GeoTIFF pairs"
)
_SUFFIXES = (".tif", ".tiff", ".TIF", ".TIFF")


# ======================================================================================================
# SAFE products
# ======================================================================================================
@dataclass(frozen=True)
class SafeMetadata:
    """What the product metadata says about turning DN into reflectance."""

    path: Path
    level: str  # "L2A" or "L1C"
    baseline: str | None
    quantification: float
    #: band name -> additive DN offset (only bands listed in the metadata; others 0)
    offsets: dict[str, float] = field(default_factory=dict)

    def offset(self, band: str) -> float:
        return float(self.offsets.get(band, 0.0))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_safe_metadata(safe: str | Path) -> SafeMetadata:
    """Level, processing baseline, quantification value and per-band offsets of a SAFE product.

    Reads ``MTD_MSIL2A.xml`` (``BOA_ADD_OFFSET`` / ``BOA_QUANTIFICATION_VALUE``) or ``MTD_MSIL1C.xml``
    (``RADIO_ADD_OFFSET`` / ``QUANTIFICATION_VALUE``); namespaces are ignored. Missing offsets mean 0
    (baselines before 04.00); a missing quantification value means 10000.
    """
    safe = Path(safe)
    candidates = [(safe / "MTD_MSIL2A.xml", "L2A"), (safe / "MTD_MSIL1C.xml", "L1C")]
    found = [(p, lvl) for p, lvl in candidates if p.is_file()]
    if not found:
        raise DatasetLayoutError(
            f"'{safe}' is not a Sentinel-2 SAFE product: expected MTD_MSIL2A.xml (L2A) or MTD_MSIL1C.xml (L1C) in it"
        )
    path, level = found[0]
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise CorruptFileError(path, f"the {level} product metadata XML", exc) from exc
    offset_tag = "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET"
    quant_tag = "BOA_QUANTIFICATION_VALUE" if level == "L2A" else "QUANTIFICATION_VALUE"
    names = {v: k for k, v in BAND_IDS.items()}
    offsets: dict[str, float] = {}
    baseline, quant = None, DEFAULT_QUANTIFICATION
    for el in root.iter():
        tag = _local(el.tag)
        text = (el.text or "").strip()
        try:
            if tag == offset_tag:
                band_id = int(el.attrib.get("band_id", el.attrib.get("bandId", "-1")))
                if band_id in names:
                    offsets[names[band_id]] = float(text)
            elif tag == quant_tag and text:
                quant = float(text)
            elif tag == "PROCESSING_BASELINE" and text:
                baseline = text
        except ValueError as exc:
            raise CorruptFileError(path, f"a number in <{tag}>", f"got {text!r}") from exc
    if quant <= 0:
        raise CorruptFileError(path, f"a positive <{quant_tag}>", f"got {quant}")
    if not offsets and baseline is not None and _baseline_number(baseline) >= 4.0:
        warnings.warn(
            f"'{path}' says processing baseline {baseline} but lists no {offset_tag}; baselines >= 04.00 "
            f"normally carry -1000. Using offset 0 as the metadata says.",
            stacklevel=2,
        )
    return SafeMetadata(path=path, level=level, baseline=baseline, quantification=quant, offsets=offsets)


def _baseline_number(baseline: str) -> float:
    try:
        return float(baseline)
    except ValueError:
        return math.nan


def find_band_file(safe: str | Path, band: str, level: str) -> Path:
    """The file of ``band`` (``B04``, ``TCI``, ...) at 10 m in a SAFE product, found by name.

    L2A: ``GRANULE/*/IMG_DATA/R10m/*_<band>_10m.jp2``; L1C: ``GRANULE/*/IMG_DATA/*_<band>.jp2``
    (``.tif`` accepted as well). Exactly one match is required.
    """
    safe = Path(safe)
    if level == "L2A":
        pattern = f"GRANULE/*/IMG_DATA/R10m/*_{band}_10m"
    else:
        pattern = f"GRANULE/*/IMG_DATA/*_{band}"
    hits = sorted(p for ext in (".jp2", ".tif") for p in safe.glob(pattern + ext))
    if not hits:
        raise DatasetLayoutError(f"no {band} band file '{pattern}.jp2' (or .tif) in the {level} product '{safe}'")
    if len(hits) > 1:
        raise DatasetLayoutError(
            f"{len(hits)} files match band {band} ('{pattern}.jp2') in '{safe}': {[str(h) for h in hits]}"
        )
    return hits[0]


def dn_to_reflectance(dn: np.ndarray, offsets: Sequence[float], scale: float) -> np.ndarray:
    """``(C, h, w)`` DN -> float32 ``(DN + offset_c) / scale`` (not clipped)."""
    off = np.asarray(offsets, dtype=np.float32).reshape(-1, 1, 1)
    return (dn.astype(np.float32) + off) / np.float32(scale)


# ======================================================================================================
# pairs
# ======================================================================================================
@dataclass
class S2Pair:
    """One 16-bit input (a SAFE product or a GeoTIFF) and its 8-bit target, with everything needed to
    read a window: band files, offsets, the target's alignment."""

    name: str
    input_files: list[Path]  # one multi-band GeoTIFF, or one file per band (SAFE)
    input_bands: list[int]  # 1-based band indexes (into the single GeoTIFF; [1, 1, 1] for SAFE files)
    offsets: list[float]
    scale: float
    target: Path
    height: int = 0
    width: int = 0
    input_nodata: float | None = None
    target_same_grid: bool = True
    kind: str = "geotiff"  # "L2A", "L1C" or "geotiff"
    baseline: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # -- reading ----------------------------------------------------------------------------------
    def read_dn(self, window: Window) -> np.ndarray:
        """``(3, h, w)`` input DN of ``window``."""
        if len(self.input_files) == 1:
            with open_raster(self.input_files[0]) as src:
                return read_window(src, window, self.input_bands)
        bands = []
        for path in self.input_files:
            with open_raster(path) as src:
                bands.append(read_window(src, window, [1])[0])
        return np.stack(bands)

    def input_valid(self, dn: np.ndarray) -> np.ndarray:
        """``(h, w)`` bool: no band is NODATA (0), SATURATED (65535) or the file's nodata value."""
        bad = (dn == NODATA_DN) | (dn == SATURATED_DN)
        if self.input_nodata is not None:
            bad |= dn == self.input_nodata
        return ~bad.any(axis=0)

    @contextlib.contextmanager
    def open_target(self, resampling: Resampling = Resampling.bilinear) -> Iterator[Any]:
        """The target as a dataset on the input's grid (the file itself, or a WarpedVRT of it)."""
        with open_raster(self.target, "an 8-bit RGB target GeoTIFF/JP2") as tgt:
            if self.target_same_grid:
                yield tgt
                return
            has_alpha = any(MaskFlags.alpha in f for f in tgt.mask_flag_enums)
            with WarpedVRT(
                tgt, crs=self.meta["crs"], transform=self.meta["transform"], width=self.width,
                height=self.height, resampling=resampling, add_alpha=not has_alpha,
            ) as vrt:
                yield vrt

    def read_target(self, window: Window, resampling: Resampling = Resampling.bilinear) -> tuple[np.ndarray, np.ndarray]:
        """``(3, h, w)`` uint8 target and ``(h, w)`` bool coverage (False outside its footprint / at nodata)."""
        with self.open_target(resampling) as tgt:
            alpha = _alpha_band(tgt)
            bands = [1, 2, 3] + ([alpha] if alpha else [])
            arr = read_window(tgt, window, bands)
            rgb = arr[:3]
            ok = arr[3] > 0 if alpha else np.ones(rgb.shape[1:], dtype=bool)
            if tgt.nodata is not None:
                ok &= ~(rgb == tgt.nodata).all(axis=0)
        return rgb, ok

    # -- coverage at low resolution (setup) ---------------------------------------------------------
    def coverage(self, factor: int, resampling: Resampling = Resampling.bilinear) -> np.ndarray:
        """Valid-pixel mask of the whole pair decimated by ``factor`` (nearest), ``(ceil(H/f), ceil(W/f))``."""
        shape = (max(1, -(-self.height // factor)), max(1, -(-self.width // factor)))
        if len(self.input_files) == 1:
            with open_raster(self.input_files[0]) as src:
                dn = src.read(self.input_bands, out_shape=(len(self.input_bands), *shape), resampling=Resampling.nearest)
        else:
            parts = []
            for path in self.input_files:
                with open_raster(path) as src:
                    parts.append(src.read(1, out_shape=shape, resampling=Resampling.nearest))
            dn = np.stack(parts)
        ok = self.input_valid(dn)
        with self.open_target(resampling) as tgt:
            alpha = _alpha_band(tgt)
            if alpha:
                ok &= tgt.read(alpha, out_shape=shape, resampling=Resampling.nearest) > 0
        return ok


def _alpha_band(ds: Any) -> int | None:
    """1-based index of an alpha band of ``ds`` (a WarpedVRT with ``add_alpha``, or an RGBA file), or None."""
    for i, flags in enumerate(ds.mask_flag_enums, start=1):
        if i > 3 and MaskFlags.alpha in flags:
            return i
    if ds.count >= 4 and ds.colorinterp[3].name == "alpha":
        return 4
    return None


def _bounds_overlap(a: Any, b: Any) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _align_target(pair: S2Pair, inp: Any, tgt: Any) -> None:
    """Decide whether the target shares the input's grid; refuse targets that cannot be aligned."""
    check_pixels(pair.target, tgt.dtypes[0], tgt.count, bands=range(3, 64),
                 expected="an 8-bit RGB target (3 or 4 bands of 8-bit unsigned integers)")
    same = (
        (inp.height, inp.width) == (tgt.height, tgt.width)
        and inp.transform.almost_equals(tgt.transform)
        and inp.crs == tgt.crs
    )
    pair.target_same_grid = same
    if same:
        return
    if inp.crs is None or tgt.crs is None:
        raise DatasetLayoutError(
            f"'{pair.input_files[0]}' ({inp.height}x{inp.width}, CRS {inp.crs}) and target '{pair.target}' "
            f"({tgt.height}x{tgt.width}, CRS {tgt.crs}) are on different pixel grids and one has no CRS, "
            f"so they cannot be aligned by georeference"
        )
    tb = tgt.bounds if tgt.crs == inp.crs else transform_bounds(tgt.crs, inp.crs, *tgt.bounds, densify_pts=21)
    if not _bounds_overlap(tuple(inp.bounds), tuple(tb)):
        raise DatasetLayoutError(
            f"the 8-bit target '{pair.target}' does not overlap the 16-bit input '{pair.input_files[0]}': "
            f"target bounds {tuple(round(v, 3) for v in tb)} vs input bounds "
            f"{tuple(round(v, 3) for v in inp.bounds)} (in {inp.crs})"
        )


def open_pair(
    input_path: Path,
    target: Path | None,
    *,
    use_tci: bool = True,
    bands: Sequence[str | int] | None = None,
    geotiff_offset: float = 0.0,
    scale: float = DEFAULT_QUANTIFICATION,
) -> S2Pair:
    """Build an :class:`S2Pair` from a ``.SAFE`` folder or a 16-bit GeoTIFF and its target (``None`` for a
    SAFE product: its TCI when ``use_tci``); checks bands, bit depth, grids and overlap."""
    if input_path.is_dir():
        meta = read_safe_metadata(input_path)
        files = [find_band_file(input_path, b, meta.level) for b in RGB_BANDS]
        if target is None:
            if not use_tci:
                raise DatasetLayoutError(
                    f"no 8-bit target for '{input_path}': expected '{input_path.with_suffix('')}_8bit.tif' next to "
                    f"it (or use_tci=True to train on the product's own TCI image)"
                )
            target = find_band_file(input_path, "TCI", meta.level)
        pair = S2Pair(
            name=input_path.stem, input_files=files, input_bands=[1, 1, 1],
            offsets=[meta.offset(b) for b in RGB_BANDS], scale=meta.quantification, target=target,
            kind=meta.level, baseline=meta.baseline,
        )
    else:
        assert target is not None
        pair = S2Pair(name=input_path.stem, input_files=[input_path], input_bands=[], offsets=[],
                      scale=float(scale), target=target)
    with contextlib.ExitStack() as stack:
        srcs = [stack.enter_context(open_raster(p, "a 16-bit Sentinel-2 band / RGB GeoTIFF")) for p in pair.input_files]
        first = srcs[0]
        for s in srcs:
            check_pixels(s.name, s.dtypes[0], s.count, bits=(16, 32), kinds="ui", bands=None,
                         expected="16-bit integers (uint16 DN)",
                         hint="is it an 8-bit target missing its '_8bit' suffix?" if s.dtypes[0] == "uint8" else "")
        if len(srcs) > 1:
            for s in srcs[1:]:
                check_same_grid(first, s)
        else:
            names = default_band_names(first.count) if first.count == 3 else tuple(f"b{i}" for i in range(first.count))
            if bands is None and first.count != 3:
                raise DatasetLayoutError(
                    f"'{first.name}' has {first.count} bands; expected 3 (B04, B03, B02 = R, G, B) or a band "
                    f"selection (bands=[positions]) naming them"
                )
            pair.input_bands = resolve_bands(bands, names, first.name)
            if len(pair.input_bands) != 3:
                raise DatasetLayoutError(f"select exactly 3 bands (R, G, B) of '{first.name}', got {list(bands or [])}")
            pair.offsets = [float(geotiff_offset)] * 3
            pair.input_nodata = first.nodata if first.nodata not in (None, NODATA_DN, SATURATED_DN) else None
        pair.height, pair.width = first.height, first.width
        pair.meta = {"crs": first.crs, "transform": first.transform}
        tgt = stack.enter_context(open_raster(pair.target, "an 8-bit RGB target GeoTIFF/JP2"))
        _align_target(pair, first, tgt)
    return pair


def discover_pairs(
    folder: Path, target_suffix: str = "_8bit", **kwargs: Any
) -> list[S2Pair]:
    """Every SAFE product and GeoTIFF pair in ``folder`` (one split), sorted by name; see the module docstring."""
    pairs: list[S2Pair] = []
    entries = sorted(folder.iterdir())
    for safe in (p for p in entries if p.is_dir() and p.suffix.upper() == ".SAFE"):
        sidecar = next((safe.parent / f"{safe.stem}{target_suffix}{ext}" for ext in _SUFFIXES
                        if (safe.parent / f"{safe.stem}{target_suffix}{ext}").is_file()), None)
        pairs.append(open_pair(safe, sidecar, **kwargs))
    safe_stems = {p.stem for p in entries if p.is_dir() and p.suffix.upper() == ".SAFE"}
    for tif in (p for p in entries if p.is_file() and p.suffix in _SUFFIXES):
        if tif.stem.endswith(target_suffix):
            base = tif.stem[: -len(target_suffix)]
            if base not in safe_stems and not any((folder / f"{base}{ext}").is_file() for ext in _SUFFIXES):
                warnings.warn(f"target '{tif}' has no 16-bit input '{base}.tif' or '{base}.SAFE'; ignored", stacklevel=2)
            continue
        target = next((folder / f"{tif.stem}{target_suffix}{ext}" for ext in _SUFFIXES
                       if (folder / f"{tif.stem}{target_suffix}{ext}").is_file()), None)
        if target is None:
            raise DatasetLayoutError(
                f"16-bit input '{tif}' has no 8-bit target '{tif.stem}{target_suffix}.tif' next to it"
            )
        pairs.append(open_pair(tif, target, **{k: v for k, v in kwargs.items() if k != "use_tci"}))
    return pairs


# ======================================================================================================
# dataset
# ======================================================================================================
def _resampling(name: str) -> Resampling:
    try:
        return Resampling[name]
    except KeyError:
        raise SemcolorError(f"unknown resampling {name!r}; use one of rasterio's: {[r.name for r in Resampling]}") from None


def read_pair_window(pair: S2Pair, window: Window, resampling: Resampling = Resampling.bilinear) -> dict[str, np.ndarray]:
    """``input`` reflectance float32 ``(3, h, w)`` (0 at invalid pixels), ``target`` uint8 ``(3, h, w)`` and
    ``valid`` bool ``(h, w)`` (input neither nodata nor saturated, and covered by the target) of a window."""
    dn = pair.read_dn(window)
    valid = pair.input_valid(dn)
    x = dn_to_reflectance(dn, pair.offsets, pair.scale)
    x[:, ~valid] = 0.0
    rgb, covered = pair.read_target(window, resampling)
    return {"input": x, "target": rgb, "valid": valid & covered}


class Sentinel2Patches(Dataset):
    """``patch_size`` windows of a list of :class:`S2Pair`, nodata-poor windows skipped (see module docstring).

    Args:
        pairs: the pairs of one split.
        patch_size, patch_stride: window size and step (stride default = size: no overlap).
        min_valid_fraction: skip windows whose estimated valid fraction is lower.
        mask_decimation: decimation of the setup-time validity estimate (``None``: ``patch_size // 16``).
        transform: paired geometric augmentation or ``None``.
        resampling: how a target on another grid is resampled onto the input grid.
    """

    def __init__(
        self,
        pairs: Sequence[S2Pair],
        patch_size: int = 512,
        patch_stride: int | None = None,
        min_valid_fraction: float = 0.9,
        mask_decimation: int | None = None,
        transform: Any = None,
        resampling: str = "bilinear",
    ) -> None:
        if not 0.0 <= min_valid_fraction <= 1.0:
            raise SemcolorError(f"min_valid_fraction must be in [0, 1], got {min_valid_fraction}")
        self.pairs = list(pairs)
        self.patch_size = int(patch_size)
        self.transform = transform
        self.resampling = _resampling(resampling)
        factor = max(1, int(mask_decimation or self.patch_size // 16))
        self.items: list[tuple[int, Window]] = []
        self.skipped = 0
        for k, pair in enumerate(self.pairs):
            wins = window_grid((pair.height, pair.width), self.patch_size, patch_stride, edge="drop")
            if not wins:
                continue
            cov = pair.coverage(factor, self.resampling).astype(np.float32)
            for w in wins:
                r0, c0 = int(w.row_off) // factor, int(w.col_off) // factor
                r1 = -(-(int(w.row_off) + self.patch_size) // factor)
                c1 = -(-(int(w.col_off) + self.patch_size) // factor)
                frac = float(cov[r0:r1, c0:c1].mean()) if cov[r0:r1, c0:c1].size else 0.0
                if frac >= min_valid_fraction:
                    self.items.append((k, w))
                else:
                    self.skipped += 1

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        k, w = self.items[index]
        arrays = read_pair_window(self.pairs[k], w, self.resampling)
        image = arrays["input"].transpose(1, 2, 0)
        target = arrays["target"].transpose(1, 2, 0)
        image, target, valid = apply_paired(self.transform, image, target, arrays["valid"].astype(np.uint8))
        return {
            "input": image_to_tensor(image, scale=1.0),
            "target": image_to_tensor(target, scale=255.0),
            "valid": torch.from_numpy(np.ascontiguousarray(valid)).bool(),
            "name": f"{self.pairs[k].name}_{int(w.row_off)}_{int(w.col_off)}",
        }


@DATASETS.register("sentinel2")
class Sentinel2DataModule(SemcolorDataModule):
    """Sentinel-2 SAFE products and 16-bit/8-bit GeoTIFF pairs in ``{root}/{train,val,test}/``.

    Args:
        root: the folder holding the split folders (see the module docstring for the layout).
        patch_size: training/evaluation window size (the paper's 512).
        patch_stride: step between windows (``None``: ``patch_size``).
        min_valid_fraction: windows with less valid (not nodata/saturated, covered by the target) area are
            skipped.
        use_tci: train a SAFE product without a ``<product>_8bit.tif`` sidecar on its own TCI image.
        target_suffix: name suffix of targets (``<name><suffix>.tif``).
        bands: input bands of plain GeoTIFFs (0-based positions; ``None``: the file's 3 bands as R, G, B).
        geotiff_offset: DN offset of plain GeoTIFF inputs (``(DN + offset) / scale``; SAFE offsets come
            from the metadata).
        scale: DN per unit reflectance of plain GeoTIFF inputs (SAFE: the metadata's quantification).
        resampling: resampling of a target on another grid (a rasterio ``Resampling`` name).
        mask_decimation: decimation of the setup-time valid-fraction estimate (``None``: patch_size // 16).
        scene_size: the largest centred crop :meth:`scene_tensors` returns (mosaic-consistency check).
        augment: random flips / 90-degree rotations of training patches (input, target and mask together).
        batch_size, num_workers, eval_batch_size, pin_memory: see :class:`SemcolorDataModule`.
    """

    in_channels = 3

    def __init__(
        self,
        root: str,
        patch_size: int = 512,
        patch_stride: int | None = None,
        min_valid_fraction: float = 0.9,
        use_tci: bool = True,
        target_suffix: str = "_8bit",
        bands: list[int] | None = None,
        geotiff_offset: float = 0.0,
        scale: float = DEFAULT_QUANTIFICATION,
        resampling: str = "bilinear",
        mask_decimation: int | None = None,
        scene_size: int = 1024,
        augment: bool = True,
        batch_size: int = 8,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, eval_batch_size=eval_batch_size,
                         pin_memory=pin_memory)
        if patch_size < 1 or (patch_stride is not None and patch_stride < 1):
            raise SemcolorError(f"patch_size and patch_stride must be positive, got {patch_size}, {patch_stride}")
        _resampling(resampling)
        self.root = Path(root).expanduser()
        self.patch_size, self.patch_stride = patch_size, patch_stride
        self.min_valid_fraction, self.mask_decimation = min_valid_fraction, mask_decimation
        self.use_tci, self.target_suffix, self.bands = use_tci, target_suffix, bands
        self.geotiff_offset, self.scale, self.resampling = geotiff_offset, scale, resampling
        self.scene_size, self.augment = scene_size, augment
        self._pairs: dict[str, list[S2Pair]] = {}
        self.save_hyperparameters()

    @property
    def tile_size(self) -> int:
        """The patch size (used as the tile size of the mosaic-consistency check)."""
        return self.patch_size

    def pairs(self, split: str) -> list[S2Pair]:
        """The pairs of ``split``, discovered once."""
        if split not in self._pairs:
            folder = self.root / split
            if not folder.is_dir():
                raise DatasetNotFoundError(DATASET, self.root, LAYOUT, f"missing split folder '{folder}'")
            pairs = discover_pairs(
                folder, self.target_suffix, use_tci=self.use_tci, bands=self.bands,
                geotiff_offset=self.geotiff_offset, scale=self.scale,
            )
            if not pairs:
                raise DatasetNotFoundError(DATASET, self.root, LAYOUT, f"no SAFE product or GeoTIFF pair in '{folder}'")
            self._pairs[split] = pairs
        return self._pairs[split]

    def build_dataset(self, split: str) -> Sentinel2Patches:
        transform = paired_geometric(flip=True, rot90=True) if (self.augment and split == "train") else None
        ds = Sentinel2Patches(
            self.pairs(split), self.patch_size, self.patch_stride, self.min_valid_fraction,
            self.mask_decimation, transform, self.resampling,
        )
        if len(ds) == 0:
            raise DatasetLayoutError(
                f"{DATASET}: no {self.patch_size} x {self.patch_size} patch with at least "
                f"{self.min_valid_fraction:.0%} valid pixels in '{self.root / split}' "
                f"({ds.skipped} skipped for nodata; lower patch_size or min_valid_fraction)"
            )
        return ds

    # -- whole scenes (mosaic-consistency check) ----------------------------------------------------
    def scene_count(self, split: str) -> int:
        return len(self.pairs(split))

    def scene_tensors(self, split: str, index: int) -> dict[str, torch.Tensor]:
        """The centred ``scene_size`` crop of pair ``index``: ``input`` / ``target`` float ``(3, H, W)``,
        ``valid`` bool ``(H, W)``."""
        pair = self.pairs(split)[index]
        h, w = min(pair.height, self.scene_size), min(pair.width, self.scene_size)
        win = Window((pair.width - w) // 2, (pair.height - h) // 2, w, h)
        arrays = read_pair_window(pair, win, _resampling(self.resampling))
        return {
            "input": torch.from_numpy(arrays["input"]),
            "target": torch.from_numpy(arrays["target"].astype(np.float32) / 255.0),
            "valid": torch.from_numpy(arrays["valid"]),
        }
