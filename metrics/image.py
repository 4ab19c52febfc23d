"""Colour and segmentation metrics: plain functions and torchmetrics ``Metric`` classes.

Functions (differentiable, no state):
    :func:`delta_e_2000`, :func:`delta_e_cam16ucs`, :func:`color_accuracy`.
Metric classes (states are sums/counts/histograms with ``dist_reduce_fx="sum"``, so DDP syncs them):
    :class:`DeltaE2000`, :class:`DeltaECAM16UCS`, :class:`ColorAccuracy`.
Collections for the LightningModules (cloned with ``train_`` / ``val_`` / ``test_`` prefixes):
    :func:`image_metrics`, :func:`colorization_metrics`, :func:`segmentation_metrics`.

Choices, documented once here:
    - All collections are built with ``compute_groups=False``. torchmetrics' compute groups merge metrics
      whose states are equal after the first ``update``; ``ColorAccuracy(2)`` and ``ColorAccuracy(5)``
      have the same state names and, on a batch where every pixel is within 2 levels, equal values, so they
      would be merged and acc5 would then report acc2 for the rest of the epoch. The saving is negligible.
    - :class:`DeltaECAM16UCS` returns a dict (mean, p95, per-class values). Lightning's
      ``self.log_dict(collection)`` needs scalar metrics, so it is *not* in any collection built here;
      the s2color module owns one and logs ``self.log_dict(metric.compute())`` at epoch end (then
      ``metric.reset()``). Its ``key_prefix`` argument names the keys (e.g. ``"val_de_cam16ucs_"``).
    - PSNR is averaged per image (``dim=(1, 2, 3)``), as papers report it, not computed from the MSE pooled
      over the whole epoch (torchmetrics' default).
    - Mean states are accumulated in float64 (per-batch sums are float32/64 as computed); counts in int64.
      (float64 states are not supported on Apple MPS.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure
from torchmetrics.utilities import rank_zero_warn

from semcolor.colorspace import (
    ViewingConditions,
    check_image,
    rgb_to_cam16ucs,
    rgb_to_lab,
    safe_sqrt,
)

__all__ = [
    "delta_e_2000",
    "delta_e_cam16ucs",
    "color_accuracy",
    "quantile_from_histogram",
    "DeltaE2000",
    "DeltaECAM16UCS",
    "ColorAccuracy",
    "image_metrics",
    "colorization_metrics",
    "segmentation_metrics",
]

# Chroma below which CIEDE2000 treats a colour as achromatic (hue 0, C'1 C'2 = 0 branches). Exact zero in
# Sharma et al.; 1e-8 (Lab units) keeps atan2's gradient (1 / C') finite. Changes Delta E by < 2e-3 and only
# for pairs where one chroma is in (0, 1e-8).
_ACHROMATIC_EPS = 1e-8


def _check_pair(a: Tensor, b: Tensor, names: tuple[str, str]) -> None:
    check_image(a, names[0])
    check_image(b, names[1])
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _hue_deg(b: Tensor, a: Tensor, achromatic: Tensor) -> Tensor:
    """atan2(b, a) in degrees in [0, 360); 0 (with zero gradient) where ``achromatic``."""
    h = torch.atan2(torch.where(achromatic, torch.zeros_like(b), b), torch.where(achromatic, torch.ones_like(a), a))
    h = torch.rad2deg(h)
    return torch.where(h < 0, h + 360.0, h)


def delta_e_2000(lab1: Tensor, lab2: Tensor, k_L: float = 1.0, k_C: float = 1.0, k_H: float = 1.0) -> Tensor:
    """CIEDE2000 colour difference, ``(*, 3, H, W)`` CIELAB pairs -> ``(*, H, W)``.

    Follows Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
    supplementary test data, and mathematical observations", Eqs. (1)-(22), including their conventions
    h' = 0 when a' = b' = 0 and the C'1 C'2 = 0 branches for the hue difference and the mean hue.
    Hand-written because no torch library (kornia, torchmetrics) implements CIEDE2000.

    Differentiable everywhere with finite gradients: square roots at 0 use :func:`semcolor.colorspace.safe_sqrt`
    (zero gradient at identical colours), sqrt(C^7 / (C^7 + 25^7)) is evaluated as C^3.5 / sqrt(C^7 + 25^7),
    and colours with chroma < 1e-8 are treated as achromatic (see ``_ACHROMATIC_EPS``).
    """
    _check_pair(lab1, lab2, ("lab1", "lab2"))
    L1, a1, b1 = lab1.unbind(dim=-3)
    L2, a2, b2 = lab2.unbind(dim=-3)
    c_bar = 0.5 * (safe_sqrt(a1 * a1 + b1 * b1) + safe_sqrt(a2 * a2 + b2 * b2))  # Eqs. 2-3
    c_bar7_root = c_bar.pow(3.5) / torch.sqrt(c_bar.pow(7) + 25.0**7)  # sqrt(C^7 / (C^7 + 25^7))
    g = 0.5 * (1.0 - c_bar7_root)  # Eq. 4
    a1p = (1.0 + g) * a1  # Eq. 5
    a2p = (1.0 + g) * a2
    sq1 = a1p * a1p + b1 * b1
    sq2 = a2p * a2p + b2 * b2
    achrom1 = sq1 <= _ACHROMATIC_EPS**2
    achrom2 = sq2 <= _ACHROMATIC_EPS**2
    c1p = safe_sqrt(torch.where(achrom1, torch.zeros_like(sq1), sq1))  # Eq. 6
    c2p = safe_sqrt(torch.where(achrom2, torch.zeros_like(sq2), sq2))
    h1p = _hue_deg(b1, a1p, achrom1)  # Eq. 7
    h2p = _hue_deg(b2, a2p, achrom2)
    zero_prod = achrom1 | achrom2  # C'1 C'2 = 0

    d_lp = L2 - L1  # Eq. 8
    d_cp = c2p - c1p  # Eq. 9
    dh = h2p - h1p  # Eq. 10
    dh = torch.where(dh > 180.0, dh - 360.0, torch.where(dh < -180.0, dh + 360.0, dh))
    dh = torch.where(zero_prod, torch.zeros_like(dh), dh)
    d_hp = 2.0 * safe_sqrt(c1p * c2p) * torch.sin(torch.deg2rad(dh / 2.0))  # Eq. 11

    l_bar = 0.5 * (L1 + L2)  # Eq. 12
    c_bar_p = 0.5 * (c1p + c2p)  # Eq. 13
    h_sum = h1p + h2p  # Eq. 14
    h_bar = torch.where(
        zero_prod,
        h_sum,
        torch.where(
            (h1p - h2p).abs() <= 180.0,
            h_sum / 2.0,
            torch.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0),
        ),
    )
    t = (  # Eq. 15
        1.0
        - 0.17 * torch.cos(torch.deg2rad(h_bar - 30.0))
        + 0.24 * torch.cos(torch.deg2rad(2.0 * h_bar))
        + 0.32 * torch.cos(torch.deg2rad(3.0 * h_bar + 6.0))
        - 0.20 * torch.cos(torch.deg2rad(4.0 * h_bar - 63.0))
    )
    d_theta = 30.0 * torch.exp(-(((h_bar - 275.0) / 25.0) ** 2))  # Eq. 16
    r_c = 2.0 * c_bar_p.pow(3.5) / torch.sqrt(c_bar_p.pow(7) + 25.0**7)  # Eq. 17
    l50 = (l_bar - 50.0) ** 2
    s_l = 1.0 + 0.015 * l50 / torch.sqrt(20.0 + l50)  # Eq. 18
    s_c = 1.0 + 0.045 * c_bar_p  # Eq. 19
    s_h = 1.0 + 0.015 * c_bar_p * t  # Eq. 20
    r_t = -torch.sin(torch.deg2rad(2.0 * d_theta)) * r_c  # Eq. 21
    tl = d_lp / (k_L * s_l)
    tc = d_cp / (k_C * s_c)
    th = d_hp / (k_H * s_h)
    return safe_sqrt(tl * tl + tc * tc + th * th + r_t * tc * th)  # Eq. 22


def delta_e_cam16ucs(
    rgb1: Tensor,
    rgb2: Tensor,
    viewing: ViewingConditions | None = None,
    **viewing_kwargs: Any,
) -> Tensor:
    """Euclidean distance in CAM16-UCS J'a'b' between two sRGB images in [0, 1], ``(*, 3, H, W)`` -> ``(*, H, W)``.

    Li et al. (2017) CAM16-UCS Delta E, the metric of the multipath colorization paper (Wang et al. 2025, Tables
    IV-V). Viewing conditions default to D65 white, L_A = 20 cd/m^2, dim surround (the paper's) and Y_b = 20
    (our choice: the paper does not state Y_b; 20 is colour-science's example value); pass a
    :class:`semcolor.colorspace.ViewingConditions` or its fields (``white_xyz``, ``L_A``, ``Y_b``, ``surround``)
    as keywords. Gradient is 0 (finite) at identical inputs.
    """
    _check_pair(rgb1, rgb2, ("rgb1", "rgb2"))
    if viewing is not None and viewing_kwargs:
        raise TypeError("pass either viewing= or keyword viewing parameters, not both")
    vc = viewing if viewing is not None else ViewingConditions(**viewing_kwargs)
    diff = rgb_to_cam16ucs(rgb1, vc) - rgb_to_cam16ucs(rgb2, vc)
    return safe_sqrt((diff * diff).sum(dim=-3))


def _color_hits(pred: Tensor, target: Tensor, k: float, scale: float, quantize: bool) -> Tensor:
    _check_pair(pred, target, ("pred", "target"))
    if quantize:
        p = torch.round(pred.detach().clamp(0.0, 1.0) * scale)
        t = torch.round(target.detach().clamp(0.0, 1.0) * scale)
        tol = 0.0
    else:
        p = pred.detach() * scale
        t = target.detach() * scale
        tol = 1e-4  # float round-off when (x + k / 255) * 255 - x * 255 is not exactly k
    return ((p - t).abs() <= k + tol).all(dim=-3)


def color_accuracy(pred: Tensor, target: Tensor, k: float, scale: float = 255.0, quantize: bool = True) -> Tensor:
    """acc@k of JSDCGAN (Wang et al. 2022, Sec. 4.3, Eq. 5): share of pixels whose colour is within ``k`` of the target
    in all three channels.

    The paper leaves the colour space and units open; here (open point in METHODS.md) the channels are the
    sRGB R, G, B and the unit is one 8-bit level: images in [0, 1] are multiplied by ``scale`` = 255. With
    ``quantize=True`` (default) both images are first clamped to [0, 1] and rounded to integer levels, as an
    8-bit image written to disk would be, so "within 2" means an integer difference of at most 2. With
    ``quantize=False`` the scaled float values are compared with a 1e-4-level tolerance for round-off.

    Args:
        pred, target: ``(*, 3, H, W)`` sRGB in [0, 1].
        k: threshold in levels (the paper uses 2 and 5).

    Returns:
        0-dim float tensor in [0, 1] (not differentiable).
    """
    return _color_hits(pred, target, k, scale, quantize).float().mean()


def quantile_from_histogram(hist: Tensor, q: float, bin_width: float, max_value: float) -> Tensor:
    """q-quantile of the values counted in ``hist`` (last bin = overflow >= ``max_value``).

    Same definition as ``torch.quantile(..., interpolation="linear")``: linear interpolation between the
    order statistics at ranks floor(q (n - 1)) and ceil(q (n - 1)), each estimated by the centre of its bin,
    so the error is at most ``bin_width / 2`` unless a rank falls in the overflow bin, which is then
    represented by ``max_value`` (a lower bound; a warning is emitted). Returns NaN for an empty histogram.
    """
    counts = hist.to(torch.float64)
    n = counts.sum()
    if n <= 0:
        return torch.tensor(float("nan"), dtype=torch.float64, device=hist.device)
    cdf = counts.cumsum(0)
    pos = q * (n - 1)
    ranks = torch.stack([pos.floor(), pos.ceil()])
    bins = torch.searchsorted(cdf, ranks, right=True).clamp(max=hist.numel() - 1)
    n_bins = hist.numel() - 1
    if bool((bins == n_bins).any()):
        rank_zero_warn(f"quantile {q} falls in the overflow bin (>= {max_value}); returning {max_value}, a lower bound.")
    centres = torch.where(bins == n_bins, torch.full_like(ranks, max_value), (bins.to(torch.float64) + 0.5) * bin_width)
    frac = pos - ranks[0]
    return centres[0] + frac * (centres[1] - centres[0])


class DeltaE2000(Metric):
    """Mean CIEDE2000 over all pixels of all images seen, from sRGB predictions and targets in [0, 1].

    Converts both with :func:`semcolor.colorspace.rgb_to_lab` (D65) then :func:`delta_e_2000`. With ``clamp=True``
    (default) predictions and targets are clamped to [0, 1] first (the displayable image).
    """

    is_differentiable = True
    higher_is_better = False
    full_state_update = False
    sum_de: Tensor
    count: Tensor

    def __init__(self, clamp: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clamp = clamp
        self.add_state("sum_de", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        _check_pair(pred, target, ("pred", "target"))
        if self.clamp:
            pred, target = pred.clamp(0.0, 1.0), target.clamp(0.0, 1.0)
        de = delta_e_2000(rgb_to_lab(pred.float()), rgb_to_lab(target.float()))
        self.sum_de += de.sum(dtype=torch.float64)
        self.count += de.numel()

    def compute(self) -> Tensor:
        return (self.sum_de / self.count).to(torch.get_default_dtype())


class ColorAccuracy(Metric):
    """acc@k (JSDCGAN Eq. 5) accumulated over pixels; see :func:`color_accuracy` for units and rounding."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    correct: Tensor
    total: Tensor

    def __init__(self, k: float, scale: float = 255.0, quantize: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        self.k, self.scale, self.quantize = k, scale, quantize
        self.add_state("correct", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        hits = _color_hits(pred, target, self.k, self.scale, self.quantize)
        self.correct += hits.sum()
        self.total += hits.numel()

    def compute(self) -> Tensor:
        return (self.correct.to(torch.float64) / self.total).to(torch.get_default_dtype())


class DeltaECAM16UCS(Metric):
    """CAM16-UCS Delta E statistics (multipath paper, Wang et al. 2025, Tables IV-V): mean and 95th percentile over
    all pixels, and per-class means (optionally per-class p95) over a semantic class map.

    ``update(pred, target, seg=None)``: ``pred``/``target`` sRGB ``(N, 3, H, W)`` in [0, 1] (clamped to
    [0, 1] when ``clamp=True``); ``seg`` an integer class map ``(N, H, W)`` (or ``(N, 1, H, W)``). The global
    mean/p95 use every pixel; per-class values use pixels whose class is not ``ignore_index``.

    The p95 is DDP-syncable: Delta E values are counted in a fixed histogram of ``bin_width`` (default 0.01)
    over ``[0, max_value)`` (default 100, i.e. 10,000 bins) plus one overflow bin, summed across ranks;
    :func:`quantile_from_histogram` reads the quantile with error <= ``bin_width / 2``. (CAM16-UCS distances
    between sRGB colours stay well below 100, so the overflow bin is a safeguard.)

    ``compute()`` returns a dict with keys ``f"{key_prefix}mean"``, ``f"{key_prefix}p95"`` and, for each
    class with at least one pixel, ``f"{key_prefix}class_{i}"`` (and ``..._p95`` when ``class_p95``).
    :meth:`per_class_mean` returns all classes as a tensor (NaN for absent classes).

    Args:
        num_classes: number of classes in ``seg`` (needed for per-class values).
        ignore_index: class value excluded from per-class statistics.
        viewing: CAM16 viewing conditions (default: D65, L_A = 20, dim -- the paper's; Y_b = 20, our choice).
        bin_width, max_value: histogram geometry.
        class_p95: also keep one histogram per class (``num_classes x (max_value / bin_width + 1)`` int64
            counts) to report per-class p95, as the paper does for traffic lights (Table IV).
        key_prefix: prefix of the returned keys.
        clamp: clamp inputs to [0, 1].
        validate_args: check that class values lie in ``[0, num_classes)`` (costs a device sync).
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False
    sum_de: Tensor
    count: Tensor
    hist: Tensor
    class_sum: Tensor
    class_count: Tensor
    class_hist: Tensor

    def __init__(
        self,
        num_classes: int | None = None,
        ignore_index: int | None = None,
        viewing: ViewingConditions | None = None,
        bin_width: float = 0.01,
        max_value: float = 100.0,
        class_p95: bool = False,
        key_prefix: str = "",
        clamp: bool = True,
        validate_args: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if bin_width <= 0 or max_value <= 0:
            raise ValueError(f"bin_width and max_value must be positive, got {bin_width}, {max_value}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.viewing = viewing if viewing is not None else ViewingConditions()
        self.bin_width = float(bin_width)
        self.max_value = float(max_value)
        self.n_bins = int(round(max_value / bin_width))
        self.class_p95 = class_p95
        self.key_prefix = key_prefix
        self.clamp = clamp
        self.validate_args = validate_args
        self.add_state("sum_de", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("hist", default=torch.zeros(self.n_bins + 1, dtype=torch.long), dist_reduce_fx="sum")
        if num_classes is not None:
            self.add_state("class_sum", default=torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("class_count", default=torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")
            if class_p95:
                shape = (num_classes, self.n_bins + 1)
                self.add_state("class_hist", default=torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")
        elif class_p95:
            raise ValueError("class_p95=True needs num_classes")

    def _bin(self, de: Tensor) -> Tensor:
        return torch.floor(de.detach().to(torch.float64) / self.bin_width).long().clamp(0, self.n_bins)

    def update(self, pred: Tensor, target: Tensor, seg: Tensor | None = None) -> None:
        _check_pair(pred, target, ("pred", "target"))
        if self.clamp:
            pred, target = pred.clamp(0.0, 1.0), target.clamp(0.0, 1.0)
        with torch.no_grad():
            de = delta_e_cam16ucs(pred.float(), target.float(), viewing=self.viewing)
        idx = self._bin(de).flatten()
        self.sum_de += de.sum(dtype=torch.float64)
        self.count += de.numel()
        self.hist += torch.bincount(idx, minlength=self.n_bins + 1)
        if seg is None:
            return
        if self.num_classes is None:
            raise ValueError("DeltaECAM16UCS got a class map but was built without num_classes")
        if seg.ndim == de.ndim + 1 and seg.shape[-3] == 1:
            seg = seg.squeeze(-3)
        if seg.shape != de.shape:
            raise ValueError(f"seg must be shaped {tuple(de.shape)} (or with a channel of 1), got {tuple(seg.shape)}")
        seg = seg.flatten().long()
        keep = seg != self.ignore_index if self.ignore_index is not None else torch.ones_like(seg, dtype=torch.bool)
        cls, vals, bins = seg[keep], de.flatten()[keep], idx[keep]
        if self.validate_args and cls.numel() and bool(((cls < 0) | (cls >= self.num_classes)).any()):
            raise ValueError(
                f"seg holds values outside [0, {self.num_classes}) other than ignore_index={self.ignore_index}: "
                f"{torch.unique(cls[(cls < 0) | (cls >= self.num_classes)]).tolist()[:10]}"
            )
        if not self.validate_args:
            ok = (cls >= 0) & (cls < self.num_classes)
            cls, vals, bins = cls[ok], vals[ok], bins[ok]
        # scatter_add_ is deterministic under torch.use_deterministic_algorithms; bincount without weights too
        self.class_sum.scatter_add_(0, cls, vals.to(torch.float64))
        self.class_count += torch.bincount(cls, minlength=self.num_classes)
        if self.class_p95:
            flat = torch.bincount(cls * (self.n_bins + 1) + bins, minlength=self.num_classes * (self.n_bins + 1))
            self.class_hist += flat.view(self.num_classes, self.n_bins + 1)

    def per_class_mean(self) -> Tensor:
        """Mean Delta E per class, ``(num_classes,)``; NaN where a class had no pixel.

        Reads the local state (under DDP, call it inside ``sync_context()`` or use :meth:`compute`'s keys).
        """
        if self.num_classes is None:
            raise ValueError("per_class_mean needs num_classes")
        return self.class_sum / self.class_count.to(torch.float64)

    def _p95(self, hist: Tensor) -> Tensor:
        return quantile_from_histogram(hist, 0.95, self.bin_width, self.max_value)

    def compute(self) -> dict[str, Tensor]:
        dtype = torch.get_default_dtype()
        p = self.key_prefix
        out = {
            f"{p}mean": (self.sum_de / self.count).to(dtype),
            f"{p}p95": self._p95(self.hist).to(dtype),
        }
        if self.num_classes:
            means = self.per_class_mean()
            for i in torch.nonzero(self.class_count > 0).flatten().tolist():
                out[f"{p}class_{i}"] = means[i].to(dtype)
                if self.class_p95:
                    out[f"{p}class_{i}_p95"] = self._p95(self.class_hist[i]).to(dtype)
        return out


def image_metrics() -> MetricCollection:
    """PSNR (per-image mean), SSIM and mean Delta E 2000 for RGB images in [0, 1]; keys psnr, ssim, delta_e.

    ``compute_groups=False``: see the module docstring.
    """
    return MetricCollection(
        {
            "psnr": PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3)),
            "ssim": StructuralSimilarityIndexMeasure(data_range=1.0),
            "delta_e": DeltaE2000(),
        },
        compute_groups=False,
    )


def colorization_metrics() -> MetricCollection:
    """:func:`image_metrics` plus acc2 and acc5 (JSDCGAN Eq. 5, 8-bit sRGB levels)."""
    metrics = image_metrics()
    metrics.add_metrics({"acc2": ColorAccuracy(2), "acc5": ColorAccuracy(5)})
    return metrics


def segmentation_metrics(num_classes: int, ignore_index: int | None = None) -> MetricCollection:
    """mIoU (``MulticlassJaccardIndex``, macro average) and pixel accuracy (``MulticlassAccuracy``, micro
    average); keys miou, pixel_acc. Pixels labelled ``ignore_index`` are ignored by both. torchmetrics'
    macro mIoU leaves out classes absent from both predictions and targets. ``update(preds, target)``
    takes logits/probabilities ``(N, C, H, W)`` or labels ``(N, H, W)`` and targets ``(N, H, W)``.
    """
    return MetricCollection(
        {
            "miou": MulticlassJaccardIndex(num_classes=num_classes, average="macro", ignore_index=ignore_index),
            "pixel_acc": MulticlassAccuracy(num_classes=num_classes, average="micro", ignore_index=ignore_index),
        },
        compute_groups=False,
    )
