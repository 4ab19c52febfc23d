"""Seeded generators of tiny fake remote-sensing datasets in the released layouts (DATASETS.md).

* :func:`make_fake_gid`: GID trees with folder names containing spaces, 3-band RGB and 4-band NIR-RGB
  GeoTIFFs (EPSG:32650, 4 m pixels) whose R, G, B bands are identical, RGB colour labels with a few
  pixels of a colour outside the table, the real GID-15 scene names, and a stray non-image file.
* :func:`make_fake_zhcbi`: ``{root}/{train,val}/{input,label,seg}/<stem>.png`` triplets.
* :func:`make_fake_scene_pair`: an input scene, its "balanced" twin and a class raster on one grid.

Everything is small (a few hundred pixels a side) and deterministic for a given ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from rasterio.crs import CRS

from semcolor.datamodules.gid import (
    GID5_COLOURS,
    GID15_COLOURS,
    GID15_SCENES,
    IMAGE_DIRS,
    TREES,
)

CRS_UTM50N = CRS.from_epsg(32650)  # Guangdong / Hubei area of GF-2 scenes
#: a colour in neither GID table
UNKNOWN_COLOUR = (123, 45, 67)
#: GID-5 scene names: the example from DATASETS.md, then made-up ids of the same form
GID5_SCENES = tuple(f"GF2_PMS1__L1A00005645{39 + i:02d}-MSS1" for i in range(20))


def _blocky(rng: np.random.Generator, shape: tuple[int, int], n: int, block: int = 16) -> np.ndarray:
    """A class map of ``n`` classes made of ``block``-pixel squares (so windows see several classes)."""
    h, w = shape
    small = rng.integers(0, n, size=(-(-h // block), -(-w // block)))
    return np.kron(small, np.ones((block, block), dtype=small.dtype))[:h, :w].astype(np.int64)


def _smooth_rgb(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """uint8 ``(3, H, W)`` image with gradients plus noise (so windows differ)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / max(w, 1), yy / max(h, 1), (xx + yy) / max(h + w, 1)]) * 180.0
    noise = rng.normal(0.0, 20.0, size=(3, h, w))
    return np.clip(base + noise + 30, 0, 255).astype(np.uint8)


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    """North-up affine transform (rasterio's ``from_origin`` without its ``*`` deprecation)."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def write_geotiff(
    path: Path,
    data: np.ndarray,
    *,
    crs: CRS | None = CRS_UTM50N,
    transform: Affine | None = None,
) -> Path:
    """Write ``(C, H, W)`` ``data`` as a GeoTIFF with ``crs`` and ``transform``."""
    c, h, w = data.shape
    transform = transform if transform is not None else from_origin(500000.0, 2500000.0, 4.0, 4.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path, "w", driver="GTiff", height=h, width=w, count=c, dtype=data.dtype,
        crs=crs, transform=transform,
    ) as dst:
        dst.write(data)
    return path


@dataclass
class FakeGID:
    """What :func:`make_fake_gid` wrote."""

    root: Path
    tree: Path
    classes: int
    scenes: list[str]
    #: scene -> the class map written into the label (unknown-colour pixels included as 0)
    seg: dict[str, np.ndarray] = field(default_factory=dict)
    #: scene -> ``(3, H, W)`` uint8 RGB data (the same as bands 2..4 of the NIR-RGB file)
    rgb: dict[str, np.ndarray] = field(default_factory=dict)
    #: scene -> number of label pixels painted with :data:`UNKNOWN_COLOUR`
    unknown_pixels: dict[str, int] = field(default_factory=dict)
    stray: list[Path] = field(default_factory=list)


def make_fake_gid(
    root: str | Path,
    classes: int = 15,
    n_scenes: int | None = None,
    size: tuple[int, int] = (300, 320),
    *,
    seed: int = 0,
    underscores: bool = False,
    n_unknown: int = 7,
) -> FakeGID:
    """Write a fake GID class tree under ``root``.

    Args:
        root: the GID root (the tree folder is created inside it).
        classes: 15 (the 10 real GID-15 scene names) or 5 (DATASETS.md's example name and made-up ones).
        n_scenes: how many scenes (default 4 for GID-15, taking the two common validation scenes and
            two others; 5 for GID-5).
        size: ``(H, W)`` of every scene (not a multiple of typical patch sizes on purpose).
        underscores: folder names with underscores instead of spaces.
        n_unknown: pixels per label painted with :data:`UNKNOWN_COLOUR` (in the top-left 8 x 8 block).
    """
    rng = np.random.default_rng(seed)
    tree_name, label_dir = TREES[classes]
    if underscores:
        tree_name = tree_name.replace(" ", "_")
    tree = Path(root) / tree_name
    if classes == 15:
        n = 4 if n_scenes is None else n_scenes
        val = [s for s in GID15_SCENES if "L1A0001680858" in s or "L1A0001821754" in s]
        rest = [s for s in GID15_SCENES if s not in val]
        names = sorted(val + rest[: max(n - 2, 0)]) if n >= 2 else rest[:n]
        colours = GID15_COLOURS
    else:
        names = list(GID5_SCENES[: 5 if n_scenes is None else n_scenes])
        colours = GID5_COLOURS
    table = np.array(colours, dtype=np.uint8)
    out = FakeGID(Path(root), tree, classes, names)
    for k, name in enumerate(names):
        # Each scene gets a different geolocation, as real scenes do.
        transform = from_origin(500000.0 + 3000.0 * k, 2500000.0, 4.0, 4.0)
        rgb = _smooth_rgb(rng, size)
        nir = rng.integers(0, 256, size=(1, *size), dtype=np.uint8)
        write_geotiff(tree / IMAGE_DIRS["RGB"] / f"{name}.tif", rgb, transform=transform)
        write_geotiff(
            tree / IMAGE_DIRS["NirRGB"] / f"{name}.tif", np.concatenate([nir, rgb]), transform=transform
        )
        seg = _blocky(rng, size, len(colours))
        colour = table[seg].transpose(2, 0, 1).copy()  # (3, H, W)
        ys, xs = np.unravel_index(rng.choice(64, size=n_unknown, replace=False), (8, 8))
        colour[:, ys, xs] = np.array(UNKNOWN_COLOUR, dtype=np.uint8)[:, None]
        seg[ys, xs] = 0
        write_geotiff(tree / label_dir / f"{name}_label.tif", colour, transform=transform)
        out.seg[name], out.rgb[name], out.unknown_pixels[name] = seg, rgb, n_unknown
    for stray in (tree / IMAGE_DIRS["RGB"] / "readme.txt", tree / label_dir / "Thumbs.db"):
        stray.write_text("not an image\n")
        out.stray.append(stray)
    return out


@dataclass
class FakeZHCBI:
    root: Path
    #: split folder -> stems
    stems: dict[str, list[str]]


def make_fake_zhcbi(
    root: str | Path,
    n_train: int = 4,
    n_val: int = 2,
    tile: int = 64,
    *,
    seed: int = 0,
    seg_mode: str = "L",
    n_classes: int = 16,
) -> FakeZHCBI:
    """Write ZHCBI triplets ``{root}/{train,val}/{input,label,seg}/<stem>.png``.

    The target ("label", expert-balanced) is a smooth image; the input is the target with a per-tile
    colour cast (what colour balancing undoes). ``seg_mode``: ``"L"`` (indices), ``"P"`` (palette PNG
    storing indices) or ``"RGB"`` (colours of the GID-15 table). Stems look like ``<area>_<row>_<col>``.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    stems: dict[str, list[str]] = {}
    for split, n, areas in (("train", n_train, (1, 4, 5, 6, 8)), ("val", n_val, (2, 3, 7))):
        stems[split] = []
        for i in range(n):
            stem = f"{areas[i % len(areas)]}_{(i // len(areas)) * tile}_{i * tile}"
            target = _smooth_rgb(rng, (tile, tile)).transpose(1, 2, 0)
            gain = rng.uniform(0.7, 1.3, size=3)
            inp = np.clip(target.astype(np.float32) * gain + rng.uniform(-20, 20, size=3), 0, 255)
            seg = _blocky(rng, (tile, tile), n_classes, block=8).astype(np.uint8)
            for sub, arr in (("input", inp.astype(np.uint8)), ("label", target)):
                (root / split / sub).mkdir(parents=True, exist_ok=True)
                Image.fromarray(arr, "RGB").save(root / split / sub / f"{stem}.png")
            (root / split / "seg").mkdir(parents=True, exist_ok=True)
            if seg_mode == "L":
                img = Image.fromarray(seg, "L")
            elif seg_mode == "P":
                img = Image.fromarray(seg, "P")
                img.putpalette([v for c in GID15_COLOURS for v in c])
            elif seg_mode == "RGB":
                img = Image.fromarray(np.array(GID15_COLOURS, dtype=np.uint8)[seg % 16], "RGB")
            else:
                raise ValueError(f"seg_mode must be L, P or RGB, got {seg_mode!r}")
            img.save(root / split / "seg" / f"{stem}.png")
            stems[split].append(stem)
    (root / "train" / "input" / "desktop.ini").write_text("stray\n")
    return FakeZHCBI(root, stems)


@dataclass
class FakeScenePair:
    input: Path
    target: Path
    seg: Path
    input_data: np.ndarray   # (3, H, W) uint8
    target_data: np.ndarray  # (3, H, W) uint8
    seg_data: np.ndarray     # (H, W) uint8


def make_fake_scene_pair(
    directory: str | Path, size: tuple[int, int] = (300, 340), *, seed: int = 0, n_classes: int = 16
) -> FakeScenePair:
    """An unbalanced scene, its balanced twin and a 1-band class raster, one grid (EPSG:32650)."""
    rng = np.random.default_rng(seed)
    d = Path(directory)
    target = _smooth_rgb(rng, size)
    # A colour cast varying across the scene, as mosaicked acquisitions have.
    cast = np.linspace(0.75, 1.25, size[1], dtype=np.float32)[None, None, :]
    inp = np.clip(target.astype(np.float32) * cast + 10, 0, 255).astype(np.uint8)
    seg = _blocky(rng, size, n_classes).astype(np.uint8)
    return FakeScenePair(
        write_geotiff(d / "scene_input.tif", inp),
        write_geotiff(d / "scene_balanced.tif", target),
        write_geotiff(d / "scene_classes.tif", seg[None]),
        inp,
        target,
        seg,
    )
