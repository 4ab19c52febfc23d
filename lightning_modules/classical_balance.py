"""Classical colour-balancing baselines: no training, one reference, the same test loop as the learned methods.

Each maps every image (tile) towards a *reference*, the balanced look a user wants. Here the reference is
the balanced targets of the DataModule's training split (a pixel sample streamed once, at the start of
``test`` / ``validate`` / ``predict``), or an 8-bit image file a user names (``reference=path``). The
sample is kept as a buffer, so a checkpoint, if one is written, carries it.

* ``hist_match`` (:class:`HistogramMatchModule`): per-channel histogram matching of each image to the
  reference (scikit-image's :func:`skimage.exposure.match_histograms`; Gonzalez & Woods, *Digital Image
  Processing*, Sec. 3.3.2).
* ``reinhard`` (:class:`ReinhardModule`): Reinhard et al. 2001, "Color transfer between images": per-channel
  mean and standard deviation of each image moved to the reference's, in a decorrelated opponent space.
  Reinhard used l-alpha-beta; CIELAB (``space="lab"``, the default, through :mod:`semcolor.colorspace`) is
  the usual modern substitute and ``space="rgb"`` is the plain-RGB variant.
* ``wallis`` (:class:`WallisModule`): the Wallis (1976) filter used for dodging satellite mosaics: with local
  mean ``m_g`` and standard deviation ``s_g`` in a ``window``-pixel box, ``f = (g - m_g) * c s_f / (c s_g +
  (1 - c) s_f) + b m_f + (1 - b) m_g`` per band, ``m_f`` / ``s_f`` the reference's; ``c`` (contrast expansion)
  and ``b`` (brightness forcing) in [0, 1].
* ``gain_offset`` (:class:`GainOffsetModule`): a least-squares gain and offset per image and band: the line
  ``a x + b`` that best maps the image's quantiles onto the reference's (``quantiles`` from 1 to 99 %), i.e.
  a linear, outlier-robust histogram match (the relative radiometric normalisation of mosaicking software,
  fitted against the reference's distribution because tiles here share no overlap).

Why these are hand-written where no package is used: Reinhard, Wallis and the quantile regression are a few
tensor lines each. Packages for mosaics were considered: rio-hist (histogram matching of rasters, last
release 2017/2020, works on files through its CLI) and spectralmatch (global regression / local block
adjustment on *overlapping* georeferenced rasters, files in and out, with GDAL, geopandas and a cloud-mask
model as dependencies) both need whole rasters on disk with overlaps, while this test loop scores
non-overlapping tiles held in memory; scikit-image is maintained and works on arrays.

All are registered with ``trainable=False``: ``fit`` is refused, ``make eval METHOD=hist_match`` (``semcolor
test``) runs them, and the leaderboard lists them beside the learned methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.base import ImageToImageModule
from semcolor.registry import METHODS

__all__ = [
    "HistogramMatchModule", "ReinhardModule", "WallisModule", "GainOffsetModule", "reinhard_transfer",
    "wallis_filter", "quantile_gain_offset",
]  # fmt: skip


def _masked_moments(x: Tensor, valid: Tensor | None) -> tuple[Tensor, Tensor]:
    """Per-image, per-channel mean and std of ``x`` ``(N, C, H, W)`` over ``valid`` ``(N, H, W)`` pixels."""
    if valid is None:
        return x.mean((2, 3), keepdim=True), x.std((2, 3), keepdim=True, unbiased=False)
    w = valid[:, None].to(x.dtype)
    n = w.sum((2, 3), keepdim=True).clamp_min(1.0)
    mean = (x * w).sum((2, 3), keepdim=True) / n
    var = (((x - mean) ** 2) * w).sum((2, 3), keepdim=True) / n
    return mean, var.sqrt()


def reinhard_transfer(x: Tensor, ref_mean: Tensor, ref_std: Tensor, valid: Tensor | None = None) -> Tensor:
    """Reinhard et al. 2001, Eq. 10-11: ``(x - mean(x)) * std_ref / std(x) + mean_ref`` per image and channel,
    ``x`` ``(N, C, H, W)`` in any space, ``ref_mean`` / ``ref_std`` ``(C,)``."""
    mean, std = _masked_moments(x, valid)
    scale = ref_std.view(1, -1, 1, 1) / std.clamp_min(1e-6)
    return (x - mean) * scale + ref_mean.view(1, -1, 1, 1)


def wallis_filter(
    x: Tensor, ref_mean: Tensor, ref_std: Tensor, window: int, contrast: float = 1.0, brightness: float = 1.0
) -> Tensor:
    """The Wallis filter on ``x`` ``(N, C, H, W)``: local box mean / std over ``window`` px (reflect-padded),
    ``f = (g - m_g) c s_f / (c s_g + (1 - c) s_f) + b m_f + (1 - b) m_g`` (Wallis 1976)."""
    if window < 1 or window % 2 == 0:
        raise SemcolorError(f"wallis: window must be an odd number of pixels >= 1, got {window}")
    pad = window // 2
    if pad >= min(x.shape[-2:]):  # reflect padding needs a pad smaller than the image
        pad = min(x.shape[-2:]) - 1
        window = 2 * pad + 1
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    m_g = F.avg_pool2d(padded, window, stride=1)
    s_g = (F.avg_pool2d(padded**2, window, stride=1) - m_g**2).clamp_min(0.0).sqrt()
    m_f, s_f = ref_mean.view(1, -1, 1, 1), ref_std.view(1, -1, 1, 1)
    gain = contrast * s_f / (contrast * s_g + (1.0 - contrast) * s_f).clamp_min(1e-6)
    return (x - m_g) * gain + brightness * m_f + (1.0 - brightness) * m_g


def quantile_gain_offset(x: Tensor, ref_quantiles: Tensor, q: Tensor, valid: Tensor | None = None) -> Tensor:
    """Least-squares ``a x + b`` per image and channel mapping the image's quantiles ``q`` onto ``ref_quantiles``
    ``(C, Q)``; returns the mapped ``x``. A flat channel (no spread) gets gain 1 and the mean offset."""
    n, c = x.shape[:2]
    v = x.reshape(n, c, -1).float()
    if valid is not None:
        v = torch.where(valid.reshape(n, 1, -1).bool(), v, torch.full_like(v, float("nan")))
    src = torch.nanquantile(v, q.to(v), dim=-1).permute(1, 2, 0)  # (N, C, Q)
    src = torch.nan_to_num(src, nan=0.0)
    ref = ref_quantiles.to(v)[None].expand_as(src)
    sm, rm = src.mean(-1, keepdim=True), ref.mean(-1, keepdim=True)
    cov = ((src - sm) * (ref - rm)).sum(-1, keepdim=True)
    var = ((src - sm) ** 2).sum(-1, keepdim=True)
    gain = torch.where(var > 1e-10, cov / var.clamp_min(1e-10), torch.ones_like(var))
    offset = rm - gain * sm
    return x * gain[..., None] + offset[..., None]


class _ReferenceBalance(ImageToImageModule):
    """Shared: no network and no optimiser; a reference pixel sample, gathered at the start of evaluation.

    Args:
        reference: an 8-bit RGB image file whose colours are the reference; ``None``: the balanced targets
            of the DataModule's ``reference_split``.
        reference_split: split whose targets form the reference (``train``: never the split being scored).
        reference_batches: at most this many batches of that split are streamed.
        reference_pixels: pixels kept in the reference sample (drawn uniformly, seeded).
        metrics: see :class:`ImageToImageModule`.
    """

    def __init__(
        self,
        reference: str | None = None,
        reference_split: str = "train",
        reference_batches: int = 32,
        reference_pixels: int = 262144,
        metrics: str = "image",
    ) -> None:
        if reference_batches < 1 or reference_pixels < 16:
            raise SemcolorError(f"need reference_batches >= 1 and reference_pixels >= 16, got {reference_batches}, "
                                f"{reference_pixels}")
        super().__init__(metrics=metrics)
        self.register_buffer("reference_sample", torch.zeros(0, 3))

    def configure_models(self) -> None:
        self.network = None

    @property
    def input_channels(self) -> int:
        return 3

    def configure_optimizers(self) -> Any:
        return None

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        return None

    # -- the reference -------------------------------------------------------------------------------
    def _keep(self, pixels: list[Tensor], generator: torch.Generator) -> Tensor:
        sample = torch.cat(pixels)
        keep = self.hparams.reference_pixels
        if sample.shape[0] > keep:
            sample = sample[torch.randperm(sample.shape[0], generator=generator)[:keep]]
        return sample

    def reference_from_file(self, path: str | Path) -> Tensor:
        from semcolor.datamodules.io import read_rgb

        path = Path(path).expanduser()
        if not path.is_file():
            raise SemcolorError(f"reference image not found: '{path}' (an 8-bit RGB image file)")
        rgb = torch.from_numpy(read_rgb(path).reshape(-1, 3).astype(np.float32) / 255.0)
        return self._keep([rgb], torch.Generator().manual_seed(0))

    def reference_from_datamodule(self, datamodule: Any) -> Tensor:
        hp = self.hparams
        split = hp.reference_split
        if datamodule is None or not hasattr(datamodule, f"{split}_dataloader"):
            raise SemcolorError(f"{self.registry_name}: no reference: give model.init_args.reference=<image> "
                                f"or run it with a DataModule that has a '{split}' split")
        loader = getattr(datamodule, f"{split}_dataloader")()
        generator = torch.Generator().manual_seed(0)
        pixels: list[Tensor] = []
        per_batch = max(1, hp.reference_pixels // hp.reference_batches)
        for i, batch in enumerate(loader):
            if i >= hp.reference_batches:
                break
            target = batch.get("target") if isinstance(batch, dict) else None
            if target is None:
                raise SemcolorError(f"{self.registry_name}: the '{split}' split has no targets to take a reference from")
            rgb = target[:, :3].permute(0, 2, 3, 1).reshape(-1, 3).float()
            if batch.get("valid") is not None:
                rgb = rgb[batch["valid"].reshape(-1).bool()]
            if rgb.shape[0] > per_batch:
                rgb = rgb[torch.randperm(rgb.shape[0], generator=generator)[:per_batch]]
            pixels.append(rgb.cpu())
        if not pixels or sum(p.shape[0] for p in pixels) == 0:
            raise SemcolorError(f"{self.registry_name}: the '{split}' split gave no reference pixels")
        return self._keep(pixels, generator)

    def ensure_reference(self) -> None:
        """Gather the reference sample once (from the file, else the DataModule) and derive the statistics."""
        self._prepared = False
        if self.reference_sample.numel() == 0:
            hp = self.hparams
            if hp.reference:
                sample = self.reference_from_file(hp.reference)
                where = f"'{hp.reference}'"
            else:
                sample = self.reference_from_datamodule(getattr(self._trainer, "datamodule", None) if self._trainer else None)
                where = f"the {hp.reference_split} split's targets"
            self.reference_sample = sample.to(self.reference_sample.device)
            rank_zero_info(f"{self.registry_name}: reference = {sample.shape[0]} pixels of {where}")
        self.prepare_reference(self.reference_sample)
        self._prepared = True

    def prepare_reference(self, sample: Tensor) -> None:
        """Derive what :meth:`balance` needs from the reference pixels ``(P, 3)`` in [0, 1]."""

    def on_validation_start(self) -> None:
        self.ensure_reference()

    def on_test_start(self) -> None:
        self.ensure_reference()

    def on_predict_start(self) -> None:
        self.ensure_reference()

    # -- applying it ----------------------------------------------------------------------------------
    def balance(self, x: Tensor, valid: Tensor | None) -> Tensor:
        raise NotImplementedError

    def forward_batch(self, batch: dict[str, Any]) -> Tensor:
        if not getattr(self, "_prepared", False):  # called outside test/validate/predict (or a sample was set)
            self.ensure_reference()
        return self.balance(batch["input"][:, :3].float(), batch.get("valid"))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_batch({"input": x})


@METHODS.register("hist_match", tasks=("balance",), trainable=False)
class HistogramMatchModule(_ReferenceBalance):
    """Per-channel histogram matching to the reference (scikit-image ``match_histograms``)."""

    def balance(self, x: Tensor, valid: Tensor | None) -> Tensor:
        """Each image matched on its own; values are quantised to 8 bits first (exact for 8-bit data), which
        puts scikit-image on its bincount path (a ``np.unique`` of the reference per call otherwise)."""
        from skimage.exposure import match_histograms

        ref = self._ref_u8
        out = torch.empty_like(x)
        arr = (x.detach().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().permute(0, 2, 3, 1).numpy()
        for i in range(arr.shape[0]):
            if valid is None:
                matched = match_histograms(arr[i], ref, channel_axis=-1)
            else:
                m = valid[i].cpu().numpy().astype(bool)
                matched = arr[i].astype(np.float64)
                if m.any():
                    matched[m] = match_histograms(arr[i][m][:, None], ref, channel_axis=-1)[:, 0]
            out[i] = torch.from_numpy(np.ascontiguousarray(matched, dtype=np.float32)).permute(2, 0, 1)
        return (out / 255.0).clamp(0, 1)

    def prepare_reference(self, sample: Tensor) -> None:
        # (P, 1, 3) uint8: match_histograms flattens each channel, so any shape works
        self._ref_u8 = (sample.clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()[:, None, :]


@METHODS.register("reinhard", tasks=("balance",), trainable=False)
class ReinhardModule(_ReferenceBalance):
    """Reinhard et al. 2001 mean / std colour transfer to the reference.

    Args:
        space: ``lab`` (CIELAB, default) or ``rgb``.
        **kwargs: see :class:`_ReferenceBalance`.
    """

    def __init__(self, space: Literal["lab", "rgb"] = "lab", **kwargs: Any) -> None:
        if space not in ("lab", "rgb"):
            raise SemcolorError(f"reinhard: space must be 'lab' or 'rgb', got {space!r}")
        super().__init__(**kwargs)

    def _to(self, rgb: Tensor) -> Tensor:
        from semcolor.colorspace import rgb_to_lab

        return rgb_to_lab(rgb.clamp(0, 1)) if self.hparams.space == "lab" else rgb

    def _back(self, x: Tensor) -> Tensor:
        from semcolor.colorspace import lab_to_rgb

        return lab_to_rgb(x) if self.hparams.space == "lab" else x

    def prepare_reference(self, sample: Tensor) -> None:
        ref = self._to(sample.T[None, :, :, None])  # (1, 3, P, 1)
        self._ref_mean, self._ref_std = ref.mean((0, 2, 3)), ref.std((0, 2, 3), unbiased=False)

    def balance(self, x: Tensor, valid: Tensor | None) -> Tensor:
        out = reinhard_transfer(self._to(x), self._ref_mean.to(x), self._ref_std.to(x), valid)
        return self._back(out).clamp(0, 1)


@METHODS.register("wallis", tasks=("balance",), trainable=False)
class WallisModule(_ReferenceBalance):
    """The Wallis filter (Wallis 1976) towards the reference's per-band mean and standard deviation.

    Args:
        window: side of the local box in pixels (odd; capped at the image size).
        contrast: ``c`` in [0, 1] (1: the local std becomes the reference's).
        brightness: ``b`` in [0, 1] (1: the local mean becomes the reference's).
        **kwargs: see :class:`_ReferenceBalance`.
    """

    def __init__(self, window: int = 31, contrast: float = 0.8, brightness: float = 0.9, **kwargs: Any) -> None:
        if not (0.0 <= contrast <= 1.0 and 0.0 <= brightness <= 1.0):
            raise SemcolorError(f"wallis: contrast and brightness must be in [0, 1], got {contrast}, {brightness}")
        if window < 1 or window % 2 == 0:
            raise SemcolorError(f"wallis: window must be an odd number of pixels >= 1, got {window}")
        super().__init__(**kwargs)

    def prepare_reference(self, sample: Tensor) -> None:
        self._ref_mean, self._ref_std = sample.mean(0), sample.std(0, unbiased=False)

    def balance(self, x: Tensor, valid: Tensor | None) -> Tensor:
        hp = self.hparams
        out = wallis_filter(x, self._ref_mean.to(x), self._ref_std.to(x), hp.window, hp.contrast, hp.brightness)
        return out.clamp(0, 1)


@METHODS.register("gain_offset", tasks=("balance",), trainable=False)
class GainOffsetModule(_ReferenceBalance):
    """Least-squares gain and offset per image and band, fitted on quantiles against the reference's.

    Args:
        quantiles: number of evenly spaced quantiles from 1 % to 99 % used in the fit.
        **kwargs: see :class:`_ReferenceBalance`.
    """

    def __init__(self, quantiles: int = 99, **kwargs: Any) -> None:
        if quantiles < 2:
            raise SemcolorError(f"gain_offset: quantiles must be >= 2, got {quantiles}")
        super().__init__(**kwargs)

    def prepare_reference(self, sample: Tensor) -> None:
        self._q = torch.linspace(0.01, 0.99, self.hparams.quantiles)
        self._ref_q = torch.quantile(sample.T.float(), self._q.to(sample), dim=1).T  # (3, Q)

    def balance(self, x: Tensor, valid: Tensor | None) -> Tensor:
        return quantile_gain_offset(x, self._ref_q.to(x), self._q.to(x), valid).clamp(0, 1)
