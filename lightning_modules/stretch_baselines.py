"""Classical 16-bit -> 8-bit renderings the s2color paper argues against (Corpetti et al. 2023, Sec. 1), in the same harness.

* ``stretch_tile`` (:class:`TileStretchModule`): each tile is stretched on its own, its ``low``-``high``
  percentiles (2-98 %, the usual "cumulative count cut") mapped linearly to 0-1. Good contrast for one
  tile, but the parameters depend on the tile's content, so neighbouring tiles of a mosaic disagree
  ("drastic consistency problems", Sec. 1, Fig. 1).
* ``stretch_global`` (:class:`GlobalStretchModule`): one stretch for everything, its percentiles taken over all
  (valid) pixels of the training set. Consistent across tiles by construction (a pointwise map), but one
  set of parameters cannot suit every landscape ("getting common parameters for the full range of
  images ... is almost impossible", Sec. 1).

Both are ``ImageToImageModule`` s, so ``make train METHOD=stretch_global`` "fits" them (one epoch: the
global percentiles are computed in ``on_fit_start`` by streaming the DataModule's training loader, then
stored as buffers so checkpoints keep them) and ``make eval`` scores them like any method, including the
mosaic-consistency check (``semcolor.scenes.mosaic_consistency``). They have no trainable parameters:
``configure_optimizers`` returns ``None`` (Lightning then runs without an optimiser) and ``training_step``
returns ``None`` (nothing to optimise); the configs use ``max_epochs: 1`` and ``limit_train_batches: 1``.

Choices (constructor arguments): percentiles per channel (``per_channel=True``, each band stretched on its
own, which also white-balances) or one pair for all bands; an optional display gamma (``gamma=1``: plain
linear stretch, the classical baseline; 2.2 brightens the dark end like an sRGB encoding). Invalid pixels
(``batch["valid"]`` False) are left out of every percentile.
"""

from __future__ import annotations

from typing import Any

import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.base import ImageToImageModule, score_valid_only
from semcolor.lightning_modules.s2color import RenderingMixin
from semcolor.registry import METHODS

__all__ = ["TileStretchModule", "GlobalStretchModule", "linear_stretch", "tile_percentiles", "histogram_quantile"]


def linear_stretch(x: Tensor, low: Tensor, high: Tensor, gamma: float = 1.0) -> Tensor:
    """``clamp((x - low) / (high - low), 0, 1) ** (1 / gamma)``; ``low`` / ``high`` broadcast to ``x``."""
    y = ((x - low) / (high - low).clamp_min(1e-6)).clamp(0.0, 1.0)
    return y if gamma == 1.0 else y.pow(1.0 / gamma)


def tile_percentiles(
    x: Tensor, low: float, high: float, per_channel: bool = True, valid: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Per-image ``low`` / ``high`` percentiles of ``x`` ``(N, C, H, W)`` over valid pixels, shaped
    ``(N, C, 1, 1)`` (``per_channel``) or ``(N, 1, 1, 1)``. An image with no valid pixel gets 0 and 1."""
    n, c = x.shape[:2]
    v = x.float()
    if valid is not None:
        v = torch.where(valid[:, None].bool(), v, torch.full_like(v, float("nan")))
    flat = v.reshape(n, c, -1) if per_channel else v.reshape(n, 1, -1)
    q = torch.tensor([low / 100.0, high / 100.0], dtype=flat.dtype, device=flat.device)
    lo, hi = torch.nanquantile(flat, q, dim=-1)  # (N, C') each
    lo = torch.nan_to_num(lo, nan=0.0)
    hi = torch.nan_to_num(hi, nan=1.0)
    return lo[..., None, None], hi[..., None, None]


def histogram_quantile(hist: Tensor, q: float, lo: float, bin_width: float) -> float:
    """``q``-quantile of values counted in ``hist`` whose bin ``k`` covers ``[lo + k w, lo + (k+1) w)``
    (values outside the range were clamped into the end bins); see
    :func:`semcolor.metrics.image.quantile_from_histogram`."""
    from semcolor.metrics.image import quantile_from_histogram

    top = hist.numel() * bin_width
    return float(quantile_from_histogram(hist, q, bin_width, top)) + lo


class _Stretch(RenderingMixin, ImageToImageModule):
    """Shared: no network, no optimiser, no training step; subclasses define :meth:`forward`."""

    def configure_models(self) -> None:
        self.network = None

    def compute_loss(self, output: Tensor, batch: dict[str, Any]) -> dict[str, Tensor]:
        """L1 to the target (logged as ``val_loss`` / ``test_loss``), nodata excluded."""
        return {"loss": self.pixel_loss(score_valid_only(output, batch), batch["target"])}

    def configure_optimizers(self) -> Any:
        return None  # nothing to train (Lightning warns once and runs without an optimiser)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        return None  # skipped by Lightning's automatic optimisation


@METHODS.register("stretch_tile", tasks=("render16",))
class TileStretchModule(_Stretch):
    """Per-tile percentile stretch (``stretch_tile``): every input tile mapped by its own percentiles.

    Args:
        low, high: percentiles mapped to 0 and 1 (2 and 98).
        per_channel: one pair per band (default) or one for all bands.
        gamma: display gamma applied after the stretch (1: linear).
        mosaic_check, mosaic_tile, mosaic_scenes: see :class:`semcolor.lightning_modules.s2color.S2ColorModule`.
    """

    def __init__(
        self,
        low: float = 2.0,
        high: float = 98.0,
        per_channel: bool = True,
        gamma: float = 1.0,
        mosaic_check: bool = True,
        mosaic_tile: int | None = None,
        mosaic_scenes: int = 4,
    ) -> None:
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"need 0 <= low < high <= 100, got low={low}, high={high}")
        super().__init__()

    @property
    def input_channels(self) -> int:
        """Bands it renders: R, G, B (B04, B03, B02); any extra bands are stretched and dropped."""
        return 3

    def render(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        return self(x, valid)

    def forward(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """Stretch each image of ``x`` by its own percentiles over its ``valid`` pixels."""
        hp = self.hparams
        lo, hi = tile_percentiles(x, hp.low, hp.high, hp.per_channel, valid)
        return linear_stretch(x.float(), lo, hi, hp.gamma)[:, :3]


@METHODS.register("stretch_global", tasks=("render16",))
class GlobalStretchModule(_Stretch):
    """One percentile stretch fitted on the training set (``stretch_global``).

    ``on_fit_start`` streams the DataModule's training loader once and accumulates, per band (or for all
    bands), a histogram of the valid input values over ``hist_range`` with ``hist_bins`` bins (default
    -0.1 ... 1.5 in steps of 1e-4, i.e. one Sentinel-2 DN per bin; values outside fall in the end bins),
    then stores the ``low`` / ``high`` percentiles in the buffers ``low_value`` / ``high_value`` (kept in
    checkpoints; a resumed or re-run ``fit`` whose module is already fitted does not refit).
    Every DDP rank streams the whole loader and gets the same numbers.

    Args:
        low, high, per_channel, gamma: as :class:`TileStretchModule`.
        in_channels: input bands.
        hist_range, hist_bins: the histogram's value range and bin count.
        fit_batches: stream at most this many training batches (``None``: all).
        mosaic_check, mosaic_tile, mosaic_scenes: see :class:`semcolor.lightning_modules.s2color.S2ColorModule`.
    """

    def __init__(
        self,
        low: float = 2.0,
        high: float = 98.0,
        per_channel: bool = True,
        gamma: float = 1.0,
        in_channels: int = 3,
        hist_range: tuple[float, float] = (-0.1, 1.5),
        hist_bins: int = 16000,
        fit_batches: int | None = None,
        mosaic_check: bool = True,
        mosaic_tile: int | None = None,
        mosaic_scenes: int = 4,
    ) -> None:
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"need 0 <= low < high <= 100, got low={low}, high={high}")
        if not hist_range[0] < hist_range[1] or hist_bins < 2:
            raise ValueError(f"need hist_range[0] < hist_range[1] and hist_bins >= 2, got {hist_range}, {hist_bins}")
        super().__init__()
        c = in_channels if per_channel else 1
        self.register_buffer("low_value", torch.zeros(c))
        self.register_buffer("high_value", torch.ones(c))
        self.register_buffer("fitted", torch.tensor(False))

    # -- fitting ------------------------------------------------------------------------------------
    def histogram(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """``(C', hist_bins)`` int64 counts of one batch ``(N, C, H, W)`` (valid pixels only)."""
        hp = self.hparams
        lo, hi = hp.hist_range
        width = (hi - lo) / hp.hist_bins
        v = x.detach().float()
        bands = v.transpose(0, 1).reshape(v.shape[1], -1)  # (C, N*H*W)
        if valid is not None:
            bands = bands[:, valid.reshape(-1).bool()]
        if not hp.per_channel:
            bands = bands.reshape(1, -1)
        idx = ((bands - lo) / width).floor().clamp(0, hp.hist_bins - 1).long()
        return torch.stack([torch.bincount(row, minlength=hp.hist_bins) for row in idx])

    def fit_percentiles(self, batches: Any) -> None:
        """Accumulate the histogram over ``batches`` (an iterable of sample dicts) and set the buffers."""
        hp = self.hparams
        hist = torch.zeros(self.low_value.numel(), hp.hist_bins, dtype=torch.long)
        seen = 0
        for i, batch in enumerate(batches):
            if hp.fit_batches is not None and i >= hp.fit_batches:
                break
            valid = batch.get("valid")
            hist += self.histogram(batch["input"][:, : hp.in_channels], valid).cpu()
            seen += 1
        if seen == 0 or int(hist.sum()) == 0:
            raise SemcolorError("stretch_global: the training loader gave no valid pixels to fit percentiles on")
        lo, width = hp.hist_range[0], (hp.hist_range[1] - hp.hist_range[0]) / hp.hist_bins
        low = [histogram_quantile(h, hp.low / 100.0, lo, width) for h in hist]
        high = [histogram_quantile(h, hp.high / 100.0, lo, width) for h in hist]
        self.low_value.copy_(torch.tensor(low))
        self.high_value.copy_(torch.tensor(high))
        self.fitted.fill_(True)
        rank_zero_info(
            f"stretch_global: fitted on {seen} training batches ({int(hist.sum(1)[0])} valid values per band): "
            f"{hp.low:g}% = {[round(v, 4) for v in low]}, {hp.high:g}% = {[round(v, 4) for v in high]}"
        )

    def on_fit_start(self) -> None:
        if bool(self.fitted):
            rank_zero_info("stretch_global: already fitted (from a checkpoint); not refitting")
            return
        dm = getattr(self.trainer, "datamodule", None)
        if dm is None:
            raise SemcolorError("stretch_global fits on a DataModule's training loader; run it with --data")
        with torch.no_grad():
            self.fit_percentiles(dm.train_dataloader())

    # -- rendering ----------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        if not bool(self.fitted):
            raise SemcolorError(
                "stretch_global has no fitted percentiles: run `fit` first (make train METHOD=stretch_global) "
                "or load one of its checkpoints"
            )
        c = x.shape[1] if self.hparams.per_channel else 1
        lo = self.low_value[:c].view(1, -1, 1, 1).to(x.device)
        hi = self.high_value[:c].view(1, -1, 1, 1).to(x.device)
        return linear_stretch(x.float(), lo, hi, self.hparams.gamma)[:, :3]
