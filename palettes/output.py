"""Files a recolouring run writes: the recoloured images (same format, size, GeoTIFF georeferencing),
palette strips, and one before/after contact sheet. Nothing existing is overwritten unless asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from semcolor.errors import SemcolorError
from semcolor.palettes.color import lab_to_rgb_np, to_uint8

__all__ = ["write_like", "palette_strip", "contact_sheet", "check_free", "OutputExistsError"]


class OutputExistsError(SemcolorError):
    """An output file exists and overwriting was not asked for."""


def check_free(paths: Sequence[Path], overwrite: bool, flag: str = "overwrite=true") -> None:
    """Raise :class:`OutputExistsError` naming the first existing path, unless ``overwrite``."""
    if overwrite:
        return
    for p in paths:
        if Path(p).exists():
            raise OutputExistsError(f"output file '{p}' exists; nothing was written (give {flag} to replace it)")


def write_like(rgb: np.ndarray, source: str | Path, out: str | Path) -> None:
    """Write sRGB ``rgb`` ``(H, W, 3)`` in [0, 1] to ``out`` in ``source``'s format: GeoTIFFs keep the source's
    profile (CRS, transform, nodata, dtype, compression; bands past the third copied unchanged), 16-bit
    GeoTIFFs are scaled by 65535; PNG / JPEG (quality 95) through Pillow."""
    source, out = Path(source), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix.lower() in (".tif", ".tiff"):
        import warnings

        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(source) as src:
                profile = src.profile.copy()
                extra = src.read(list(range(4, src.count + 1))) if src.count > 3 else None
            scale = 255.0 if profile["dtype"] == "uint8" else 65535.0
            bands = np.clip(np.rint(rgb.transpose(2, 0, 1) * scale), 0, scale).astype(profile["dtype"])
            with rasterio.open(out, "w", **profile) as dst:
                dst.write(bands, [1, 2, 3])
                if extra is not None:
                    dst.write(extra, list(range(4, 4 + len(extra))))
        return
    img = Image.fromarray(to_uint8(rgb))
    if source.suffix.lower() in (".jpg", ".jpeg"):
        img.save(out, quality=95)
    else:
        img.save(out)


def palette_strip(lab_colors: np.ndarray, shares: np.ndarray | None = None, width: int = 480,
                  height: int = 48) -> Image.Image:
    """A strip of swatches of CIELAB colours ``(k, 3)``, widths proportional to ``shares`` (equal when None)."""
    lab_colors = np.asarray(lab_colors, np.float32).reshape(-1, 3)
    k = len(lab_colors)
    strip = Image.new("RGB", (width, height), (255, 255, 255))
    if k == 0:
        return strip
    shares = np.ones(k) if shares is None else np.asarray(shares, np.float64)
    edges = np.rint(np.concatenate([[0], np.cumsum(shares / shares.sum())]) * width).astype(int)
    rgb = to_uint8(lab_to_rgb_np(lab_colors))
    draw = ImageDraw.Draw(strip)
    for i in range(k):
        draw.rectangle([edges[i], 0, max(edges[i], edges[i + 1] - 1), height - 1], fill=tuple(int(v) for v in rgb[i]))
    return strip


def _thumb(rgb: np.ndarray, height: int) -> Image.Image:
    img = Image.fromarray(to_uint8(rgb))
    w = max(1, round(img.width * height / img.height))
    return img.resize((w, height), Image.Resampling.LANCZOS)


def contact_sheet(groups: Sequence[tuple[str, Sequence[np.ndarray], Sequence[np.ndarray]]], out: str | Path,
                  height: int = 128, gap: int = 6) -> None:
    """One PNG: per group a row of inputs ("before") above a row of outputs ("after"), with the group's name."""
    rows: list[tuple[str, list[Image.Image]]] = []
    for name, before, after in groups:
        rows.append((f"{name}: before", [_thumb(x, height) for x in before]))
        rows.append((f"{name}: after", [_thumb(x, height) for x in after]))
    label_h = 14
    width = max(sum(t.width for t in thumbs) + gap * (len(thumbs) + 1) for _, thumbs in rows)
    total_h = sum(height + label_h + gap for _ in rows) + gap
    sheet = Image.new("RGB", (width, total_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    y = gap
    for label, thumbs in rows:
        draw.text((gap, y), label, fill=(0, 0, 0))
        x = gap
        for t in thumbs:
            sheet.paste(t, (x, y + label_h))
            x += t.width + gap
        y += height + label_h + gap
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
