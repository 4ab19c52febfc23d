"""Stitched-scene evaluation: SECBNet's weighted-average post-processing (Chen et al. 2024, Sec. III-D, Algorithm 1).

A scene is predicted as overlapping tiles (neighbours share ``R`` pixels) and put back together:

1. each *column* of tiles is stitched vertically: between tile ``E_ij`` and ``E_(i+1)j`` the shared rows
   are the weighted average ``P1 * E_ij + P2 * E_(i+1)j`` with ``P1`` falling and ``P2`` rising
   linearly across the overlap (``P1 + P2 = 1``), giving single-column images ``E_j``;
2. the columns are stitched horizontally the same way (``P1 * E_j + P2 * E_(j+1)``).

The paper uses ``R = 100`` on 256 x 256 tiles (Sec. IV-F: ``R = 12`` and Gaussian filtering leave seams).

This module holds the in-memory, per-tile-grid side of it, for the ``test`` of a LightningModule on
whole scenes (the embedded data's ``load_scene``); whole-GeoTIFF prediction is
``scenes/datamodule.py`` + ``scenes/writer.py``. It reuses, rather than repeats:

- the tile grid of :func:`semcolor.datamodules.raster.grid_starts` (``edge="shift"``: step ``tile - R``, one
  more tile flush with the scene border when the step does not end there; never padded);
- the blend weights of :mod:`semcolor.scenes.blending`: ``"linear"`` is Algorithm 1 (the sequential
  column-then-row stitching is linear in the tiles, so it equals separable per-axis weights; ramp
  ``P2 = (k + 1) / (L + 1)`` over the actual overlap ``L``, see that module), ``"none"`` is the no-blend
  variant (each pixel from the tile whose centre is nearest: a hard cut in the middle of each overlap),
  ``"cosine"`` / ``"hann"`` are alternatives;
- the scene scores of :mod:`semcolor.scenes.seams` (PSNR over the whole scene, Gaussian SSIM
  computed once over the scene, and the seam ratio = gradient across tile boundaries / inside tiles).

Functions: :func:`tile_starts`, :func:`cut_tiles`, :func:`stitch_grid` (pure, over a grid of tiles),
:func:`predict_tiles`, :func:`evaluate_scene`, :func:`mean_scores`, :func:`write_results`.
The sum is accumulated in float64 and cast back, so identical tiles reproduce the scene bit for bit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from semcolor.scenes.blending import BLEND_MODES, axis_weights

__all__ = [
    "tile_starts",
    "cut_tiles",
    "stitch_grid",
    "predict_tiles",
    "evaluate_scene",
    "mean_scores",
    "write_results",
    "STITCH_LABELS",
]

#: evaluate_scene's modes -> what they are (for tables)
STITCH_LABELS: dict[str, str] = {
    "tiles": "tiles side by side (R = 0)",
    "cut": "overlap R, cut at the middle (no blending)",
    "blend": "overlap R, weighted average (Algorithm 1)",
    "identity": "identity (input scene)",
}


def tile_starts(length: int, tile: int, overlap: int = 0) -> list[int]:
    """Start offsets of ``tile``-pixel tiles along an axis of ``length`` pixels, neighbours sharing at least
    ``overlap`` pixels, the last one flush with the end (:func:`semcolor.datamodules.raster.grid_starts`, shift)."""
    from semcolor.datamodules.raster import grid_starts

    if tile <= 0 or tile > length:
        raise ValueError(f"tile size {tile} must be in [1, {length}] (the scene side)")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap R={overlap} must be in [0, tile size {tile})")
    return grid_starts(length, tile, tile - overlap, "shift")


def cut_tiles(image: Tensor, tile: int, overlap: int) -> tuple[list[list[Tensor]], list[int], list[int]]:
    """Overlapping tiles of ``image`` ``(C, H, W)``: ``(grid, row_starts, col_starts)`` (views, no copies)."""
    rows = tile_starts(image.shape[-2], tile, overlap)
    cols = tile_starts(image.shape[-1], tile, overlap)
    return [[image[..., r : r + tile, c : c + tile] for c in cols] for r in rows], rows, cols


def stitch_grid(
    tiles: Sequence[Sequence[Tensor]],
    row_starts: Sequence[int],
    col_starts: Sequence[int],
    *,
    mode: str = "linear",
) -> Tensor:
    """Stitch ``tiles[i][j]`` ``(C, t, t)`` placed at ``(row_starts[i], col_starts[j])`` into one scene.

    ``mode``: ``"linear"`` (Algorithm 1), ``"none"`` (no blending), or ``"cosine"`` / ``"hann"``
    (:mod:`semcolor.scenes.blending`). Returns ``(C, row_starts[-1] + t, col_starts[-1] + t)`` in the
    tiles' dtype and device.
    """
    if mode not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {mode!r}; choose one of {', '.join(BLEND_MODES)}")
    n_rows, n_cols = len(row_starts), len(col_starts)
    if len(tiles) != n_rows or any(len(row) != n_cols for row in tiles):
        raise ValueError(f"expected a {n_rows} x {n_cols} grid of tiles")
    first = tiles[0][0]
    c, th, tw = first.shape
    if th != tw:
        raise ValueError(f"tiles must be square, got {th}x{tw}")
    height, width = row_starts[-1] + th, col_starts[-1] + tw
    a = [torch.from_numpy(w) for w in axis_weights(row_starts, th, height, mode)]  # float64 per-axis weights
    b = [torch.from_numpy(w) for w in axis_weights(col_starts, tw, width, mode)]
    out = torch.zeros(c, height, width, dtype=torch.float64, device=first.device)
    for i, r in enumerate(row_starts):
        for j, col in enumerate(col_starts):
            w = torch.outer(a[i], b[j]).to(first.device)
            out[:, r : r + th, col : col + tw] += tiles[i][j].double() * w
    return out.to(first.dtype)


@torch.no_grad()
def predict_tiles(
    predict: Callable[[Tensor], Tensor],
    image: Tensor,
    tile: int,
    overlap: int,
    batch_size: int = 16,
) -> tuple[list[list[Tensor]], list[int], list[int]]:
    """Run ``predict`` (``(B, C, t, t) -> (B, 3, t, t)``) on the overlapping tiles of ``image`` ``(C, H, W)``.

    Tiles are batched in row-major order; the predictions come back as a grid.
    """
    grid, rows, cols = cut_tiles(image, tile, overlap)
    flat = [t for row in grid for t in row]
    preds: list[Tensor] = []
    for i in range(0, len(flat), batch_size):
        preds.extend(predict(torch.stack(flat[i : i + batch_size])).unbind(0))
    return [preds[r * len(cols) : (r + 1) * len(cols)] for r in range(len(rows))], rows, cols


def _scores(pred: Tensor, target: Tensor, tile: int, overlap: int) -> dict[str, float]:
    from semcolor.scenes.seams import scene_scores, seam_positions, seam_ratio

    p = pred.detach().float().clamp(0, 1).cpu().numpy()
    t = target.detach().float().cpu().numpy()
    s = scene_scores(p, t)
    seams_r = seam_positions(p.shape[-2], tile, overlap)
    seams_c = seam_positions(p.shape[-1], tile, overlap)
    return {"psnr": s.psnr, "ssim": s.ssim, "seam_ratio": seam_ratio(p, seams_r, seams_c)}


def evaluate_scene(
    predict: Callable[[Tensor], Tensor],
    image: Tensor,
    target: Tensor,
    tile: int,
    overlap: int,
    batch_size: int = 16,
    identity: Tensor | None = None,
) -> dict[str, dict[str, float]]:
    """Predict ``image`` ``(C, H, W)`` tile by tile and score the stitched scene against ``target`` ``(3, H, W)``.

    Returns ``{mode: {"psnr", "ssim", "seam_ratio"}}`` (see :data:`STITCH_LABELS`) for ``"tiles"``
    (non-overlapping tiles side by side, the paper's images "before processing"), ``"cut"`` (overlap
    ``R``, no blending), ``"blend"`` (overlap ``R``, Algorithm 1) and ``"identity"`` (``identity``,
    default the input's first three bands, against the target). Seam ratios are measured at the seams
    of the mode's own tiling (the identity's at those of the overlapping tiling).
    """
    if image.shape[-2:] != target.shape[-2:]:
        raise ValueError(f"scene input {tuple(image.shape)} and target {tuple(target.shape)} differ in size")
    out: dict[str, dict[str, float]] = {}
    grid, rows, cols = predict_tiles(predict, image, tile, 0, batch_size)
    out["tiles"] = _scores(stitch_grid(grid, rows, cols, mode="none"), target, tile, 0)
    grid, rows, cols = predict_tiles(predict, image, tile, overlap, batch_size)
    out["cut"] = _scores(stitch_grid(grid, rows, cols, mode="none"), target, tile, overlap)
    out["blend"] = _scores(stitch_grid(grid, rows, cols, mode="linear"), target, tile, overlap)
    ident = identity if identity is not None else (image[:3] if image.shape[0] >= 3 else image.expand(3, -1, -1))
    out["identity"] = _scores(ident.clamp(0, 1), target, tile, overlap)
    return out


def mean_scores(per_scene: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Average :func:`evaluate_scene` results over scenes (each score averaged per scene)."""
    if not per_scene:
        return {}
    return {
        mode: {k: float(np.mean([s[mode][k] for s in per_scene])) for k in per_scene[0][mode]}
        for mode in per_scene[0]
    }


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4f}"
    return "" if v is None else str(v)


def write_results(folder: str | Path, results: dict[str, Any], name: str = "results") -> tuple[Path, Path]:
    """Write ``results`` as ``<name>.json`` and a markdown table ``<name>.md`` into ``folder``.

    ``results`` holds ``"title"``, ``"meta"`` (dict of strings/numbers), ``"tiles"`` (rows
    ``{metric, model, identity}``) and optionally ``"stitched"`` (rows ``{mode, psnr, ssim, seam_ratio}``)
    with ``"stitched_settings"``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / f"{name}.json", folder / f"{name}.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    lines = [f"# {results.get('title', 'Results')}", ""]
    for k, v in results.get("meta", {}).items():
        lines.append(f"- {k}: {_fmt(v)}")
    if results.get("tiles"):
        lines += ["", "## Tiles", "", "| metric | model | identity (input) |", "|---|---|---|"]
        lines += [f"| {r['metric']} | {_fmt(r['model'])} | {_fmt(r.get('identity'))} |" for r in results["tiles"]]
    if results.get("stitched"):
        settings = results.get("stitched_settings", {})
        desc = ", ".join(f"{k} {v}" for k, v in settings.items())
        lines += ["", f"## Stitched scenes ({desc})", "", "| stitching | PSNR | SSIM | seam ratio |", "|---|---|---|---|"]
        lines += [
            f"| {r['mode']} | {_fmt(r.get('psnr'))} | {_fmt(r.get('ssim'))} | {_fmt(r.get('seam_ratio'))} |"
            for r in results["stitched"]
        ]
    md_path.write_text("\n".join(lines) + "\n")
    return md_path, json_path
