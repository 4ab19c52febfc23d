"""Scores of a stitched scene: the seam ratio, and PSNR / SSIM against a ground-truth scene.

**Seam ratio** = mean gradient magnitude *across* tile boundaries / mean gradient magnitude *inside*
tiles. Gradients are absolute differences of neighbouring pixels, averaged over bands: horizontal
differences ``|I[y, x] - I[y, x-1]|`` for pixel pairs that straddle a vertical boundary count as
"across", all other horizontal pairs as "inside"; likewise vertical differences for horizontal
boundaries. The inside mean weights the two directions like the boundary pairs do (so an image whose
gradients differ by direction still scores 1 without seams). 1.0 means the boundaries are as smooth as
the rest of the image (invisible seams); a model that shifts each tile's colours gives values well above
1 without blending.

Where are the boundaries of overlapping windows? Without blending (mode ``"none"``) each pixel comes
from the window whose centre is nearest, so the only places a per-window change can jump are the
middles of the overlaps -- :func:`seam_positions` returns those (for non-overlapping tiles: the tile
edges). The same positions are used for blended outputs, so the figures compare like with like.

Both scores stream the files in bands of rows (memory flat in the scene size) and count valid pixels
only (a pixel is invalid where every band equals the file's nodata value); scene borders without a
neighbour are not pairs at all.

**PSNR / SSIM** of a stitched scene against its ground truth (same pixel grid): values scaled to [0, 1]
by the integer type's maximum (floats as stored, data range 1). PSNR from the mean squared error over
valid pixels and bands. SSIM is the standard Gaussian-window SSIM (Wang et al. 2004; sigma 1.5, 11
taps, K1 = 0.01, K2 = 0.03 via :func:`kornia.metrics.ssim` with ``padding="valid"``, per band; invalid
pixels are set to 0 in both images first, so only valid pixels can differ inside a window),
averaged over the map positions whose centre pixel is valid and lies at least 5 pixels inside the scene
-- identical to computing the map on the whole scene at once (tested), and to scikit-image's
``structural_similarity(gaussian_weights=True, use_sample_covariance=False)`` when all pixels are valid.
This scores the scene once, instead of counting overlapping patches twice (torchgeo/torchgeo#1245).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from semcolor.datamodules.raster import check_same_grid, grid_starts, open_raster

SSIM_WINDOW = 11


def seam_positions(length: int, tile: int, overlap: int = 0) -> list[int]:
    """Boundary positions ``p`` (between pixels ``p - 1`` and ``p``) of a ``grid_starts(edge="shift")``
    tiling along an axis: the middle of each overlap, where centre-crop ownership changes window."""
    starts = grid_starts(length, tile, tile - overlap, "shift")
    return [(b + a + tile) // 2 for a, b in zip(starts, starts[1:])]


@dataclass
class SeamSums:
    """Running sums of gradients across boundaries and inside tiles, per direction (0: horizontal
    differences / vertical boundaries, 1: vertical differences / horizontal boundaries)."""

    across: list[float] = field(default_factory=lambda: [0.0, 0.0])
    n_across: list[int] = field(default_factory=lambda: [0, 0])
    inside: list[float] = field(default_factory=lambda: [0.0, 0.0])
    n_inside: list[int] = field(default_factory=lambda: [0, 0])

    def add(self, direction: int, diff: np.ndarray, pair_valid: np.ndarray | None, seam: np.ndarray) -> None:
        """``diff`` ``(n, m)`` band-averaged absolute differences; ``seam`` bool broadcastable to it."""
        ok = np.ones(diff.shape, bool) if pair_valid is None else pair_valid
        seam = np.broadcast_to(seam, diff.shape)
        a, i = ok & seam, ok & ~seam
        self.across[direction] += float(diff[a].sum(dtype=np.float64))
        self.n_across[direction] += int(a.sum())
        self.inside[direction] += float(diff[i].sum(dtype=np.float64))
        self.n_inside[direction] += int(i.sum())

    @property
    def mean_across(self) -> float:
        n = sum(self.n_across)
        return sum(self.across) / n if n else math.nan

    @property
    def mean_inside(self) -> float:
        """Mean inside-tile gradient with the directions weighted like the boundary pairs, so that an
        image whose gradients differ by direction (a horizontal ramp) still scores 1 without seams."""
        n = sum(self.n_across)
        if not n:
            return math.nan
        total = 0.0
        for d in (0, 1):
            if self.n_across[d]:
                if not self.n_inside[d]:
                    return math.nan
                total += self.n_across[d] * self.inside[d] / self.n_inside[d]
        return total / n

    @property
    def ratio(self) -> float:
        """Mean gradient across boundaries / mean gradient inside tiles (1.0: invisible seams)."""
        inside = self.mean_inside
        return self.mean_across / inside if inside else math.nan


def _seam_mask(length: int, positions: Sequence[int]) -> np.ndarray:
    """Bool over difference index ``p - 1`` (the pair ``(p - 1, p)``) for ``p`` in 1..length-1."""
    m = np.zeros(max(length - 1, 0), bool)
    for p in positions:
        if 0 < p < length:
            m[p - 1] = True
    return m


def _accumulate(sums: SeamSums, image: np.ndarray, valid: np.ndarray | None, col_mask: np.ndarray,
                row_mask_block: np.ndarray | None, prev_row: np.ndarray | None, prev_valid: np.ndarray | None,
                row_seam_first: bool) -> None:
    """Add horizontal pairs of ``image`` (C, n, W) and vertical pairs incl. the one with ``prev_row``."""
    dx = np.abs(np.diff(image, axis=2)).mean(axis=0)
    vx = None if valid is None else valid[:, 1:] & valid[:, :-1]
    sums.add(0, dx, vx, col_mask[None, :])
    if prev_row is not None:
        stack = np.concatenate([prev_row[:, None], image], axis=1)
        vstack = None if valid is None else np.concatenate([prev_valid[None], valid], axis=0)
        seam = np.concatenate([[row_seam_first], row_mask_block])
    else:
        stack, vstack, seam = image, valid, row_mask_block
    if stack.shape[1] > 1:
        dy = np.abs(np.diff(stack, axis=1)).mean(axis=0)
        vy = None if vstack is None else vstack[1:] & vstack[:-1]
        sums.add(1, dy, vy, seam[:, None])


def seam_sums(image: np.ndarray, row_seams: Sequence[int], col_seams: Sequence[int],
              valid: np.ndarray | None = None) -> SeamSums:
    """Seam sums of an in-memory ``(C, H, W)`` (or ``(H, W)``) image; see the module docstring."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[None]
    _, h, w = image.shape
    sums = SeamSums()
    rm = _seam_mask(h, row_seams)
    _accumulate(sums, image, valid, _seam_mask(w, col_seams), rm, None, None, False)
    return sums


def seam_ratio(image: np.ndarray, row_seams: Sequence[int], col_seams: Sequence[int],
               valid: np.ndarray | None = None) -> float:
    """Mean gradient across the given boundaries / mean gradient elsewhere (1.0 = invisible seams)."""
    return seam_sums(image, row_seams, col_seams, valid).ratio


def _scale_of(dtype: str) -> float:
    dt = np.dtype(dtype)
    return float(np.iinfo(dt).max) if np.issubdtype(dt, np.integer) else 1.0


def _valid_of(arr: np.ndarray, nodata: float | None) -> np.ndarray | None:
    if nodata is None:
        return None
    if isinstance(nodata, float) and math.isnan(nodata):
        return ~np.isnan(arr).all(0)
    return ~(arr == nodata).all(0)


def seam_ratio_file(path: str | Path, tile: int, overlap: int, block_rows: int = 512) -> SeamSums:
    """Seam sums of a stitched GeoTIFF tiled with ``tile`` / ``overlap`` (streams rows; valid pixels)."""
    with open_raster(path, "a stitched scene GeoTIFF") as src, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        h, w = src.height, src.width
        scale = _scale_of(src.dtypes[0])
        row_mask = _seam_mask(h, seam_positions(h, tile, overlap))
        col_mask = _seam_mask(w, seam_positions(w, tile, overlap))
        sums = SeamSums()
        prev = prev_valid = None
        for y0 in range(0, h, block_rows):
            y1 = min(h, y0 + block_rows)
            raw = src.read(window=Window(0, y0, w, y1 - y0))
            valid = _valid_of(raw, src.nodata)
            img = raw.astype(np.float32) / scale
            # vertical pairs (y - 1, y) for y in y0..y1-1: the mask entry of pair index y - 1
            block_mask = row_mask[y0 : y1 - 1]
            first = bool(row_mask[y0 - 1]) if y0 > 0 else False
            _accumulate(sums, img, valid, col_mask, block_mask, prev, prev_valid, first)
            prev = img[:, -1]
            prev_valid = None if valid is None else valid[-1]
        return sums


# ----------------------------------------------------------------------------------------------
# PSNR / SSIM of a stitched scene against its ground truth
# ----------------------------------------------------------------------------------------------
@dataclass
class SceneScores:
    """Accumulated squared error and SSIM over valid pixels."""

    sq_err: float = 0.0
    n_err: int = 0
    ssim_sum: float = 0.0
    n_ssim: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def mse(self) -> float:
        return self.sq_err / self.n_err if self.n_err else math.nan

    @property
    def psnr(self) -> float:
        mse = self.mse
        return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)

    @property
    def ssim(self) -> float:
        return self.ssim_sum / self.n_ssim if self.n_ssim else math.nan


def _ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-band SSIM map (``padding="valid"``) of ``(C, h, w)`` arrays in [0, 1] -> ``(C, h-10, w-10)``."""
    from kornia.metrics import ssim

    ta = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]
    tb = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))[None]
    with torch.no_grad():
        return ssim(ta, tb, SSIM_WINDOW, max_val=1.0, padding="valid")[0].numpy()


def scene_scores(pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> SceneScores:
    """PSNR / SSIM of in-memory ``(C, H, W)`` images in [0, 1] over ``valid`` pixels (all if None)."""
    scores = SceneScores()
    _score_block(scores, np.asarray(pred, np.float32), np.asarray(target, np.float32), valid, 0, pred.shape[1],
                 0, pred.shape[1])
    return scores


def _score_block(scores: SceneScores, pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None,
                 r0: int, r1: int, y_read0: int, height: int) -> None:
    """Score rows ``[r0, r1)`` of the scene given arrays covering rows ``[y_read0, ...)`` (with halo)."""
    c, n, w = pred.shape
    a, b = r0 - y_read0, r1 - y_read0
    err = (pred[:, a:b] - target[:, a:b]) ** 2
    if valid is None:
        scores.sq_err += float(err.sum(dtype=np.float64))
        scores.n_err += err.size
    else:
        v = valid[a:b]
        scores.sq_err += float(err[:, v].sum(dtype=np.float64))
        scores.n_err += int(v.sum()) * c
    half = SSIM_WINDOW // 2
    if n < SSIM_WINDOW or w < SSIM_WINDOW:
        return
    if valid is not None and not valid.all():  # only valid pixels may differ inside an SSIM window
        pred, target = np.where(valid, pred, 0.0), np.where(valid, target, 0.0)
    # centres r in [max(r0, half), min(r1, height - half)) need rows r - half .. r + half in the arrays
    c0, c1 = max(r0, half), min(r1, height - half)
    if c0 >= c1:
        return
    lo, hi = c0 - half - y_read0, c1 + half - y_read0
    smap = _ssim_map(pred[:, lo:hi], target[:, lo:hi])  # centres c0..c1, columns half..w-half
    if valid is None:
        scores.ssim_sum += float(smap.sum(dtype=np.float64))
        scores.n_ssim += smap.size
    else:
        v = valid[c0 - y_read0 : c1 - y_read0, half : w - half]
        scores.ssim_sum += float(smap[:, v].sum(dtype=np.float64))
        scores.n_ssim += int(v.sum()) * c


def scene_scores_file(pred_path: str | Path, target_path: str | Path, bands: Sequence[int] | None = None,
                      block_rows: int = 512) -> SceneScores:
    """PSNR / SSIM of a stitched GeoTIFF against a ground-truth GeoTIFF on the same grid, streamed.

    Valid pixels: not nodata in the prediction and not nodata in the target. ``bands``: 1-based bands of
    the target to compare (default: the first ``count`` of the prediction).
    """
    half = SSIM_WINDOW // 2
    with open_raster(pred_path, "a stitched scene GeoTIFF") as ps, \
            open_raster(target_path, "a ground-truth scene GeoTIFF") as ts, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        check_same_grid(ps, ts)
        tb = list(bands) if bands is not None else list(range(1, ps.count + 1))
        if len(tb) != ps.count or max(tb) > ts.count:
            from semcolor.errors import DatasetLayoutError

            raise DatasetLayoutError(f"'{target_path}' has {ts.count} bands; cannot compare bands {tb} with the "
                                     f"{ps.count} bands of '{pred_path}'")
        h, w = ps.height, ps.width
        sp, st = _scale_of(ps.dtypes[0]), _scale_of(ts.dtypes[tb[0] - 1])
        scores = SceneScores()
        for r0 in range(0, h, block_rows):
            r1 = min(h, r0 + block_rows)
            y0, y1 = max(0, r0 - half), min(h, r1 + half)
            win = Window(0, y0, w, y1 - y0)
            pr, tr = ps.read(window=win), ts.read(tb, window=win)
            vp, vt = _valid_of(pr, ps.nodata), _valid_of(tr, ts.nodata)
            valid = vp if vt is None else (vt if vp is None else vp & vt)
            _score_block(scores, pr.astype(np.float32) / sp, tr.astype(np.float32) / st, valid, r0, r1, y0, h)
        return scores


def score_scene_file(path: str | Path, tile: int | None = None, overlap: int | None = None,
                     target: str | Path | None = None, bands: Sequence[int] | None = None) -> dict[str, float]:
    """The scores of a written scene as a dict: ``seam_ratio`` (when ``tile`` is given) and ``psnr`` /
    ``ssim`` against ``target`` (when given)."""
    res: dict[str, float] = {}
    if tile is not None:
        res["seam_ratio"] = seam_ratio_file(path, tile, overlap or 0).ratio
    if target is not None:
        sc = scene_scores_file(path, target, bands)
        res.update(psnr=sc.psnr, ssim=sc.ssim)
    return res


def format_scores(scores: dict[str, float]) -> str:
    parts = []
    if "seam_ratio" in scores:
        parts.append(f"seam ratio {scores['seam_ratio']:.3f} (1 = invisible)")
    if "psnr" in scores:
        parts.append(f"PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f} vs the target")
    return "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m semcolor.scenes.seams OUT.tif [OUT2.tif ...] --tile T --overlap R [--target GT.tif]``:
    score written scenes, e.g. a blended and an unblended prediction of one input, side by side."""
    import argparse
    import json

    from semcolor.errors import SemcolorError

    ap = argparse.ArgumentParser(prog="python -m semcolor.scenes.seams", description=main.__doc__.split(":")[0])
    ap.add_argument("scenes", nargs="+", help="stitched scene GeoTIFFs (e.g. outputs of make predict)")
    ap.add_argument("--tile", type=int, required=True, help="window size the scenes were predicted with")
    ap.add_argument("--overlap", type=int, required=True, help="overlap the scenes were predicted with")
    ap.add_argument("--target", help="ground-truth GeoTIFF on the same grid: adds PSNR / SSIM")
    ap.add_argument("--bands", type=int, nargs="+", help="1-based bands of the target to compare")
    ap.add_argument("--json", action="store_true", help="print one JSON object per scene")
    a = ap.parse_args(argv)
    try:
        for scene in a.scenes:
            scores = score_scene_file(scene, a.tile, a.overlap, a.target, a.bands)
            print(json.dumps({"scene": scene, **scores}) if a.json else f"{scene}: {format_scores(scores)}")
    except SemcolorError as err:
        print(f"error: {err}")
        return 2
    return 0


__all__ = ["SSIM_WINDOW", "SceneScores", "SeamSums", "format_scores", "scene_scores", "scene_scores_file",
           "score_scene_file", "seam_positions", "seam_ratio", "seam_ratio_file", "seam_sums"]


if __name__ == "__main__":
    raise SystemExit(main())
