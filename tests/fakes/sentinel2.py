"""Seeded fake Sentinel-2 data in the released layouts (DATASETS.md, "Sentinel-2"), for s2color tests.

* :func:`write_safe`: a tiny SAFE product, L2A or L1C, with real-looking names
  (``S2B_MSIL2A_20231217T135659_N0510_R067_T21JUK_20231217T175625.SAFE/GRANULE/L2A_T21JUK_.../IMG_DATA/R10m/
  T21JUK_20231217T135659_B04_10m.jp2``), uint16 JPEG2000 bands B02/B03/B04 (lossless) plus the 8-bit TCI,
  and ``MTD_MSIL2A.xml`` / ``MTD_MSIL1C.xml`` with the processing baseline, the special values, the
  quantification value and -- only for baselines >= 04.00 -- the ``BOA_ADD_OFFSET`` / ``RADIO_ADD_OFFSET``
  list (-1000 for every band). A nodata triangle (DN 0 in every band) sits in the top-left corner and a
  few pixels are SATURATED (65535). The true reflectance is returned for checks.
* :func:`write_geotiff_pair`: a 16-bit RGB GeoTIFF and its ``_8bit`` rendering, on the same grid or on
  another one (``target_grid``: shifted/larger extent, coarser pixels in another CRS, or far away).
* :func:`make_fake_sentinel2`: ``{root}/{train,val,test}/`` with products of both levels and baselines
  and GeoTIFF pairs (one target on a different grid); :func:`cli_args` for ``tests/test_experiments.py``.

Bands are written with rasterio's ``JP2OpenJPEG`` driver when the GDAL build has it; otherwise the same
names end in ``.tif`` (the reader accepts both), see :data:`JP2_AVAILABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

#: UTM zone 21S (tile T21JUK, the DATASETS.md example)
CRS_T21 = CRS.from_epsg(32721)
ORIGIN = (600000.0, 7100000.0)  # west, north of the fake tiles
PIXEL = 10.0
RENDER_WHITE, RENDER_GAMMA = 0.4, 2.2  # the embedded render16 display rendering


def _jp2_available() -> bool:
    with rasterio.Env() as env:
        return "JP2OpenJPEG" in env.drivers()


#: whether fake bands are JPEG2000 (else GeoTIFFs with the same names)
JP2_AVAILABLE = _jp2_available()


def reflectance_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """float32 ``(3, h, w)`` reflectance in about [0.01, 0.45]: smooth gradients, blocks and noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([0.05 + 0.2 * xx / w, 0.05 + 0.15 * yy / h, 0.04 + 0.1 * (xx + yy) / (h + w)])
    blocks = np.kron(rng.uniform(0.0, 0.15, size=(3, -(-h // 8), -(-w // 8))), np.ones((1, 8, 8)))[:, :h, :w]
    noise = rng.normal(0.0, 0.005, size=(3, h, w))
    return np.clip(base + blocks + noise, 0.01, 0.45).astype(np.float32)


def render8(refl: np.ndarray) -> np.ndarray:
    """Reflectance -> 8-bit display rendering ``255 (r / 0.4)^(1/2.2)`` in 1..255 (0 stays nodata)."""
    v = 255.0 * np.power(np.clip(refl / RENDER_WHITE, 0.0, 1.0), 1.0 / RENDER_GAMMA)
    return np.clip(np.round(v), 1, 255).astype(np.uint8)


def _write(path: Path, data: np.ndarray, crs: CRS | None, transform: Affine, driver: str | None = None,
           nodata: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    drv = driver or ("JP2OpenJPEG" if path.suffix == ".jp2" else "GTiff")
    opts = {"QUALITY": "100", "REVERSIBLE": "YES"} if drv == "JP2OpenJPEG" else {}
    with rasterio.open(path, "w", driver=drv, height=data.shape[1], width=data.shape[2], count=data.shape[0],
                       dtype=data.dtype, crs=crs, transform=transform, nodata=nodata, **opts) as dst:
        dst.write(data)
    return path


def _ext() -> str:
    return ".jp2" if JP2_AVAILABLE else ".tif"


@dataclass
class FakeSafe:
    """What :func:`write_safe` wrote."""

    path: Path
    level: str
    baseline: str
    offset: int | None  # the DN offset written into the metadata (None: no offset list)
    reflectance: np.ndarray  # float32 (3, H, W), R, G, B truth (before DN rounding)
    dn: np.ndarray  # uint16 (3, H, W) as written (B04, B03, B02)
    valid: np.ndarray  # bool (H, W): not nodata, not saturated
    band_files: dict[str, Path] = field(default_factory=dict)


def _mtd_xml(level: str, baseline: str, offset: int | None, product: str) -> str:
    """Product metadata with the elements the reader uses, in ESA's namespaced layout."""
    if level == "L2A":
        ns, root_tag = "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd", "Level-2A_User_Product"
        quant = (
            "<QUANTIFICATION_VALUES_LIST>\n"
            '          <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>\n'
            '          <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>\n'
            '          <WVP_QUANTIFICATION_VALUE unit="cm">1000.0</WVP_QUANTIFICATION_VALUE>\n'
            "        </QUANTIFICATION_VALUES_LIST>"
        )
        offsets = (
            "<BOA_ADD_OFFSET_VALUES_LIST>\n"
            + "".join(f'          <BOA_ADD_OFFSET band_id="{i}">{offset}</BOA_ADD_OFFSET>\n' for i in range(13))
            + "        </BOA_ADD_OFFSET_VALUES_LIST>"
            if offset is not None else ""
        )
    else:
        ns, root_tag = "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd", "Level-1C_User_Product"
        quant = '<QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>'
        offsets = (
            "<Radiometric_Offset_List>\n"
            + "".join(f'          <RADIO_ADD_OFFSET band_id="{i}">{offset}</RADIO_ADD_OFFSET>\n' for i in range(13))
            + "        </Radiometric_Offset_List>"
            if offset is not None else ""
        )
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:{root_tag} xmlns:n1="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_URI>{product}.SAFE</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-{level[1:]}</PROCESSING_LEVEL>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values>
        <SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>
        <SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX>
      </Special_Values>
      <Special_Values>
        <SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT>
        <SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX>
      </Special_Values>
      {quant}
      {offsets}
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:{root_tag}>
"""


def write_safe(
    folder: Path,
    level: str = "L2A",
    baseline: str = "05.10",
    *,
    size: int = 64,
    seed: int = 0,
    date: str = "20231217T135659",
    tile: str = "T21JUK",
    nodata_corner: bool = True,
    saturated: int = 3,
    tci: bool = True,
) -> FakeSafe:
    """Write one SAFE product under ``folder``; offset -1000 iff ``baseline >= 04.00``."""
    rng = np.random.default_rng(seed)
    offset = -1000 if float(baseline) >= 4.0 else None
    sat = "S2B" if level == "L2A" else "S2A"
    product = f"{sat}_MSI{level}_{date}_N{baseline.replace('.', '')}_R067_{tile}_{date[:8]}T175625"
    safe = folder / f"{product}.SAFE"
    granule = safe / "GRANULE" / f"{level}_{tile}_A035418_{date[:8]}T135901" / "IMG_DATA"
    img_dir = granule / "R10m" if level == "L2A" else granule
    suffix = "_10m" if level == "L2A" else ""
    h = w = size
    refl = reflectance_field(rng, h, w)  # R, G, B
    dn = np.round(refl * 10000.0 - (offset or 0)).astype(np.uint16)
    valid = np.ones((h, w), dtype=bool)
    if nodata_corner:
        yy, xx = np.mgrid[0:h, 0:w]
        corner = yy + xx < size // 3
        dn[:, corner] = 0
        valid &= ~corner
    if saturated:
        rows = rng.integers(size // 2, h, saturated)
        cols = rng.integers(size // 2, w, saturated)
        dn[rng.integers(0, 3, saturated), rows, cols] = 65535
        valid[rows, cols] = False
    transform = Affine(PIXEL, 0.0, ORIGIN[0], 0.0, -PIXEL, ORIGIN[1])
    files = {}
    for i, band in enumerate(("B04", "B03", "B02")):
        files[band] = _write(img_dir / f"{tile}_{date}_{band}{suffix}{_ext()}", dn[i : i + 1], CRS_T21, transform)
    # the other 10 m band, as in real products (never read)
    files["B08"] = _write(img_dir / f"{tile}_{date}_B08{suffix}{_ext()}", dn[:1], CRS_T21, transform)
    if tci:
        t = render8(refl)
        t[:, ~valid] = 0
        files["TCI"] = _write(img_dir / f"{tile}_{date}_TCI{suffix}{_ext()}", t, CRS_T21, transform)
    (safe / f"MTD_MSI{level}.xml").write_text(_mtd_xml(level, baseline, offset, product))
    (safe / "manifest.safe").write_text("<xfdu/>\n")
    return FakeSafe(safe, level, baseline, offset, refl, dn, valid, files)


@dataclass
class FakePair:
    """What :func:`write_geotiff_pair` wrote."""

    input: Path
    target: Path
    reflectance: np.ndarray  # float32 (3, H, W) of the input grid
    expected_target: np.ndarray  # uint8 (3, H, W): the target as it should look on the input grid


def write_geotiff_pair(
    folder: Path,
    name: str,
    *,
    size: int = 64,
    seed: int = 0,
    target_grid: str = "same",
    offset: int = 0,
) -> FakePair:
    """A 16-bit input ``<name>.tif`` (DN = reflectance * 10000 - offset) and ``<name>_8bit.tif``.

    ``target_grid``: ``"same"``; ``"shifted"`` (same CRS and pixel size, extent 7 columns further west
    and 5 rows further north and larger, so aligning is an exact integer shift: ``expected_target`` is
    exact); ``"coarse_crs"`` (20 m pixels in the neighbouring UTM zone 22S, EPSG:32722, covering the
    input: aligning needs a real reprojection); ``"disjoint"`` (100 km away, no overlap).
    """
    rng = np.random.default_rng(seed)
    h = w = size
    pad_r, pad_c, extra = 5, 7, 6
    big = reflectance_field(rng, h + pad_r + extra, w + pad_c + extra)
    refl = big[:, pad_r : pad_r + h, pad_c : pad_c + w]
    dn = np.round(refl * 10000.0 - offset).astype(np.uint16)
    west, north = ORIGIN
    t_in = Affine(PIXEL, 0.0, west, 0.0, -PIXEL, north)
    inp = _write(folder / f"{name}.tif", dn, CRS_T21, t_in)
    expected = render8(refl)
    tgt_path = folder / f"{name}_8bit.tif"
    if target_grid == "same":
        _write(tgt_path, expected, CRS_T21, t_in)
    elif target_grid == "shifted":
        t_tgt = Affine(PIXEL, 0.0, west - pad_c * PIXEL, 0.0, -PIXEL, north + pad_r * PIXEL)
        _write(tgt_path, render8(big), CRS_T21, t_tgt)
    elif target_grid == "coarse_crs":
        from rasterio.warp import Resampling, calculate_default_transform, reproject

        src_big = Affine(PIXEL, 0.0, west - pad_c * PIXEL, 0.0, -PIXEL, north + pad_r * PIXEL)
        dst_crs = CRS.from_epsg(32722)
        bh, bw = big.shape[1:]
        left, top = src_big.c, src_big.f
        right, bottom = left + bw * PIXEL, top - bh * PIXEL
        transform, tw, th = calculate_default_transform(CRS_T21, dst_crs, bw, bh, left, bottom, right, top,
                                                        resolution=2 * PIXEL)
        out = np.zeros((3, th, tw), dtype=np.float32)
        reproject(big, out, src_transform=src_big, src_crs=CRS_T21, dst_transform=transform, dst_crs=dst_crs,
                  resampling=Resampling.average)
        _write(tgt_path, render8(out), dst_crs, transform)
    elif target_grid == "disjoint":
        t_far = Affine(PIXEL, 0.0, west + 100_000.0, 0.0, -PIXEL, north - 100_000.0)
        _write(tgt_path, expected, CRS_T21, t_far)
    else:
        raise ValueError(f"unknown target_grid {target_grid!r}")
    return FakePair(inp, tgt_path, refl, expected)


@dataclass
class FakeSentinel2:
    root: Path
    safes: dict[str, list[FakeSafe]]
    pairs: dict[str, list[FakePair]]


def make_fake_sentinel2(root: Path, size: int = 64, seed: int = 0) -> FakeSentinel2:
    """``{root}/{train,val,test}/``: train holds an L2A 05.10 product (offset, TCI target), an L1C 04.00
    product (offset) with an 8-bit sidecar target, a same-grid and a shifted-grid GeoTIFF pair; val an L1C
    03.01 product (no offset) and a pair; test an L2A 03.01 product (no offset) and a pair."""
    root = Path(root)
    safes: dict[str, list[FakeSafe]] = {"train": [], "val": [], "test": []}
    pairs: dict[str, list[FakePair]] = {"train": [], "val": [], "test": []}
    tr = root / "train"
    safes["train"].append(write_safe(tr, "L2A", "05.10", size=size, seed=seed))
    l1c = write_safe(tr, "L1C", "04.00", size=size, seed=seed + 1, date="20220315T135121", tci=False)
    t = render8(l1c.reflectance)
    t[:, ~l1c.valid] = 0
    _write(tr / f"{l1c.path.stem}_8bit.tif", t, CRS_T21, Affine(PIXEL, 0.0, ORIGIN[0], 0.0, -PIXEL, ORIGIN[1]))
    safes["train"].append(l1c)
    pairs["train"].append(write_geotiff_pair(tr, "brittany_2021", size=size, seed=seed + 2))
    pairs["train"].append(write_geotiff_pair(tr, "sahara_2020", size=size, seed=seed + 3, target_grid="shifted"))
    safes["val"].append(write_safe(root / "val", "L1C", "03.01", size=size, seed=seed + 4, date="20210315T135121"))
    pairs["val"].append(write_geotiff_pair(root / "val", "alps_2022", size=size, seed=seed + 5))
    safes["test"].append(write_safe(root / "test", "L2A", "03.01", size=size, seed=seed + 6, date="20210601T135659"))
    pairs["test"].append(write_geotiff_pair(root / "test", "amazon_2019", size=size, seed=seed + 7))
    return FakeSentinel2(root, safes, pairs)


def cli_args(tmp: Path) -> list[str]:
    """Write the fake data under ``tmp`` and return CLI overrides pointing ``Sentinel2DataModule`` at it."""
    fake = make_fake_sentinel2(Path(tmp) / "sentinel2")
    return [f"--data.init_args.root={fake.root}", "--data.init_args.patch_size=32",
            "--data.init_args.batch_size=2", "--data.init_args.scene_size=64"]
