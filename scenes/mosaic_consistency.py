"""Mosaic consistency: render the tiles of one scene independently and measure the colour jump at their seams.

The point of s2color (Corpetti et al. 2023, Sec. 1 and Fig. 1) is that one model renders every tile so that a mosaic
of independently processed tiles shows no block effect, unlike per-tile histogram stretching whose
parameters depend on each tile's content. This module measures exactly that (USER-NEEDS #8, "Delta E2000
across seamlines against an interior baseline"):

1. cut a scene into non-overlapping ``tile_size`` tiles, render each one *on its own* (no overlap, no
   blending: the worst case a tile server meets), and put the renders back in place;
2. ``edge_de``: mean CIEDE2000 between horizontally / vertically adjacent pixels that lie on the two sides
   of a tile border (the last row/column of a tile vs the first of its neighbour);
3. ``interior_de``: the same between adjacent pixels inside tiles (every other neighbouring pair), the
   image's own pixel-to-pixel variation;
4. ``jump_de = edge_de - interior_de``: about 0 for a mosaic that is one continuous image (a pointwise
   rendering such as a global stretch, or the ground truth), growing with the colour offset between tiles.

Pixels marked invalid (nodata) are left out of both means. Hand-written: no library measures seams.

:class:`MosaicConsistency` runs this at the start of ``test`` on the DataModule's whole test scenes and
logs ``test_mosaic_edge_de``, ``test_mosaic_interior_de``, ``test_mosaic_jump_de``, ``test_mosaic_psnr``
(the stitched mosaic vs the target) and ``test_mosaic_target_jump_de`` (the target's own value at the same
seams, the floor). The renderers (``s2color``, ``stretch_tile``, ``stretch_global``) add it through
``configure_callbacks``. DataModules expose scenes with ``scene_count(split)`` and either
``scene_tensors(split, i)`` (dict of tensors: ``input`` ``(C, H, W)``, optional ``target`` ``(3, H, W)``
and ``valid`` ``(H, W)``) or the embedded dataset's ``load_scene(split, i)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor

from semcolor.colorspace import rgb_to_lab
from semcolor.metrics.image import delta_e_2000

__all__ = ["seam_sums", "seam_delta_e", "render_mosaic", "scene_tensors", "mosaic_report", "MosaicConsistency"]


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def seam_sums(mosaic: Tensor, tile_size: int | tuple[int, int], valid: Tensor | None = None) -> dict[str, Tensor]:
    """Sums and counts of neighbour Delta E2000 on tile borders (``edge``) and inside tiles (``interior``).

    Args:
        mosaic: RGB in [0, 1], ``(3, H, W)`` or ``(N, 3, H, W)``, tiles of ``tile_size`` from the top-left.
        tile_size: tile side, or ``(height, width)``.
        valid: ``(H, W)`` / ``(N, H, W)`` bool, False at nodata; a pair counts only if both pixels are valid.

    Returns float64 ``edge_sum, edge_count, interior_sum, interior_count`` (sums, to pool over scenes).
    """
    th, tw = _pair(tile_size)
    x = mosaic if mosaic.ndim == 4 else mosaic[None]
    h, w = x.shape[-2:]
    lab = rgb_to_lab(x.float().clamp(0, 1))
    if valid is None:
        valid = torch.ones(x.shape[0], h, w, dtype=torch.bool, device=x.device)
    valid = (valid if valid.ndim == 3 else valid[None]).bool()
    de_c = delta_e_2000(lab[..., :, :-1], lab[..., :, 1:])  # (N, H, W-1): pair (j-1, j) at index j-1
    de_r = delta_e_2000(lab[..., :-1, :], lab[..., 1:, :])  # (N, H-1, W)
    ok_c = valid[..., :, :-1] & valid[..., :, 1:]
    ok_r = valid[..., :-1, :] & valid[..., 1:, :]
    seam_c = (torch.arange(1, w, device=x.device) % tw == 0).view(1, 1, -1)
    seam_r = (torch.arange(1, h, device=x.device) % th == 0).view(1, -1, 1)
    out = {}
    for name, on_seam in (("edge", True), ("interior", False)):
        mc = ok_c & (seam_c if on_seam else ~seam_c)
        mr = ok_r & (seam_r if on_seam else ~seam_r)
        out[f"{name}_sum"] = de_c[mc].sum(dtype=torch.float64) + de_r[mr].sum(dtype=torch.float64)
        out[f"{name}_count"] = (mc.sum() + mr.sum()).to(torch.float64)
    return out


def _finish(sums: dict[str, Tensor]) -> dict[str, float]:
    edge = float(sums["edge_sum"] / sums["edge_count"]) if sums["edge_count"] > 0 else math.nan
    inner = float(sums["interior_sum"] / sums["interior_count"]) if sums["interior_count"] > 0 else math.nan
    return {"edge_de": edge, "interior_de": inner, "jump_de": edge - inner}


def seam_delta_e(mosaic: Tensor, tile_size: int | tuple[int, int], valid: Tensor | None = None) -> dict[str, float]:
    """``edge_de``, ``interior_de`` and ``jump_de = edge_de - interior_de`` of a mosaic (see module docstring)."""
    return _finish(seam_sums(mosaic, tile_size, valid))


def _tiles(x: Tensor, t: int) -> Tensor:
    """``(C, H, W)`` -> ``(nh * nw, C, t, t)`` row-major tiles (H, W multiples of t)."""
    c, h, w = x.shape
    return x.reshape(c, h // t, t, w // t, t).permute(1, 3, 0, 2, 4).reshape(-1, c, t, t)


def render_mosaic(
    render: Callable[[Tensor, Tensor | None], Tensor], scene: Tensor, tile_size: int, batch_size: int = 16,
    valid: Tensor | None = None,
) -> Tensor:
    """Render each ``tile_size`` tile of ``scene`` ``(C, H, W)`` independently with ``render``
    (``(n, C, t, t)``, ``(n, t, t)`` mask or None -> ``(n, 3, t, t)``) and reassemble; the scene is cropped
    to whole tiles, so the result is ``(3, t * (H // t), t * (W // t))``."""
    c, h, w = scene.shape
    t = int(tile_size)
    nh, nw = h // t, w // t
    if nh < 1 or nw < 1:
        raise ValueError(f"a {h} x {w} scene holds no {t} x {t} tile")
    tiles = _tiles(scene[:, : nh * t, : nw * t], t)
    masks = _tiles(valid[None, : nh * t, : nw * t], t)[:, 0] if valid is not None else None
    outs = [
        render(tiles[i : i + batch_size], masks[i : i + batch_size] if masks is not None else None)
        for i in range(0, tiles.shape[0], batch_size)
    ]
    out = torch.cat(outs).reshape(nh, nw, 3, t, t).permute(2, 0, 3, 1, 4).reshape(3, nh * t, nw * t)
    return out


def scene_tensors(datamodule: Any, split: str, index: int) -> dict[str, Tensor]:
    """Scene ``index`` of ``split`` as tensors (``input``, optional ``target`` / ``valid``) from a
    DataModule with ``scene_tensors`` or the embedded dataset's ``load_scene``."""
    if hasattr(datamodule, "scene_tensors"):
        return datamodule.scene_tensors(split, index)
    from semcolor.datamodules.embedded import input_to_tensor
    from semcolor.datamodules.transforms import image_to_tensor

    sc = datamodule.load_scene(split, index)
    out = {"input": input_to_tensor(sc["input"])}
    if "target" in sc:
        out["target"] = image_to_tensor(sc["target"])
    return out


def has_scenes(datamodule: Any) -> bool:
    return datamodule is not None and hasattr(datamodule, "scene_count") and (
        hasattr(datamodule, "scene_tensors") or hasattr(datamodule, "load_scene"))


@torch.no_grad()
def mosaic_report(
    module: Any, datamodule: Any, split: str = "test", tile_size: int | None = None, max_scenes: int = 4,
    batch_size: int = 16,
) -> dict[str, float]:
    """Mosaic metrics of ``module`` (an ``ImageToImageModule``: ``to_rgb(module(x))``) over the first
    ``max_scenes`` scenes of ``split``, pooled over scenes: ``edge_de``, ``interior_de``, ``jump_de``,
    ``psnr`` (stitched mosaic vs target, per scene, averaged), ``target_jump_de``, ``scenes``, ``tile``."""
    t = int(tile_size or getattr(datamodule, "tile_size", None) or getattr(datamodule, "patch_size", None) or 64)
    was_training = module.training
    module.eval()
    device = getattr(module, "device", torch.device("cpu"))

    def render(x: Tensor, valid: Tensor | None) -> Tensor:
        x = x.to(device)
        if hasattr(module, "render"):
            out = module.render(x, valid.to(device) if valid is not None else None)
        else:
            out = module(x)
        return module.to_rgb(out).float().cpu()

    pred_sums: dict[str, Tensor] = {}
    tgt_sums: dict[str, Tensor] = {}
    psnrs: list[float] = []
    n = min(int(datamodule.scene_count(split)), max_scenes)
    for i in range(n):
        sc = scene_tensors(datamodule, split, i)
        mosaic = render_mosaic(render, sc["input"], t, batch_size, sc.get("valid"))
        hh, ww = mosaic.shape[-2:]
        valid = sc["valid"][:hh, :ww] if "valid" in sc else None
        for acc, img in ((pred_sums, mosaic), (tgt_sums, sc["target"][:, :hh, :ww] if "target" in sc else None)):
            if img is None:
                continue
            for k, v in seam_sums(img, t, valid).items():
                acc[k] = acc.get(k, 0) + v
        if "target" in sc:
            tgt = sc["target"][:, :hh, :ww]
            err = (mosaic - tgt) ** 2
            mse = err.mean() if valid is None else err[:, valid].mean()
            psnrs.append(float(-10 * torch.log10(mse.clamp_min(1e-12))))
    module.train(was_training)
    if not pred_sums:
        return {}
    out = _finish(pred_sums)
    out["psnr"] = sum(psnrs) / len(psnrs) if psnrs else math.nan
    out["target_jump_de"] = _finish(tgt_sums)["jump_de"] if tgt_sums else math.nan
    out["scenes"], out["tile"] = float(n), float(t)
    return out


class MosaicConsistency(pl.Callback):
    """At the start of ``test``, renders whole test scenes tile by tile and logs the seam metrics
    (``test_mosaic_*``, see the module docstring), so they appear in the test metrics table.

    Args:
        tile_size: tile side (``None``: the DataModule's ``tile_size`` / ``patch_size``).
        max_scenes: at most this many scenes (the check costs one forward pass per scene pixel).
        batch_size: tiles per forward pass.
    """

    def __init__(self, tile_size: int | None = None, max_scenes: int = 4, batch_size: int = 16) -> None:
        self.tile_size, self.max_scenes, self.batch_size = tile_size, max_scenes, batch_size
        self.last: dict[str, float] = {}

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        dm = getattr(trainer, "datamodule", None)
        if not has_scenes(dm) or trainer.sanity_checking:
            rank_zero_info("mosaic consistency: the DataModule exposes no whole scenes; skipped")
            return
        if trainer.fast_dev_run:
            return
        self.last = mosaic_report(pl_module, dm, "test", self.tile_size, self.max_scenes, self.batch_size)
        for k in ("edge_de", "interior_de", "jump_de", "psnr", "target_jump_de"):
            if k in self.last and not math.isnan(self.last[k]):
                pl_module.log(f"test_mosaic_{k}", self.last[k], on_step=False, on_epoch=True)
