"""``multipath``: automatic colorization with semantic segmentation and multipath networks (Wang et al. 2025).

Method (Sec. 2): the BT.709 gray image ``Y = 0.2126 R + 0.7152 G + 0.0722 B`` (the datamodules' colorization
input, on gamma-encoded values) gives the lightness L*; the network (:class:`semcolor.networks.multipath.MultipathColorizer`:
context path, spatial path, fusion with a segmentation head, Table III colorization U-Net) predicts a*, b*;
the Lab image is converted to sRGB (D65, :func:`semcolor.colorspace.lab_to_rgb`, clipped to [0, 1]) as the output.

Choices (all constructor arguments):

* Lightness (``lightness``): the paper "treats the input grayscale image as the lightness channel" (Sec. 2,
  after Iizuka et al.). ``"cie"`` (default): L* is the CIELAB lightness of the gray value seen as an
  achromatic sRGB colour, ``L* = 116 f(Y_lin) - 16`` (what converting the gray image itself to Lab gives),
  which makes an a* = b* = 0 output reproduce the gray image exactly. ``"linear"``: ``L* = 100 Y`` (the gray
  byte stored as OpenCV's 8-bit L channel); its L* is off by up to ~7 units in the mid-tones, an error no
  a*, b* can repair, so it is not the default.
* a*, b* mapping: the sigmoid output ``s`` of US10 maps to ``ab = ab_range (2 s - 1)``, ``ab_range = 128``
  (nominal CIELAB range). The ground truth's a*, b* (from the sRGB target) are mapped the same way,
  ``s* = (ab / 128 + 1) / 2``, and the Huber loss compares ``s`` with ``s*`` (unitless (0, 1) values, which is
  what delta = 0.5 and the weight 10,000 suit; in Lab units delta 0.5 would make Huber an L1 loss).
* Resolution: the network works at its own sizes (``colour_*`` / ``context_*``) and returns a*, b* and the
  segmentation logits upsampled (bilinear) to the data's size; L* always comes from the full-size gray image.
* Chroma x1.3 (Sec. 2.4, Method 6; ``chroma_scale``): applied once, in the network's output
  (``MultipathOutput.ab``), i.e. to the image that is displayed and scored. The paper describes it as an
  empirically chosen boost of the output's chroma, so the training losses see the *unscaled* prediction
  (``chroma_in_loss=False``, default; otherwise the network would learn to undo the factor).
* Loss (Eq. 7): ``10000 Huber(delta 0.5) + 8 CE + 15 perceptual``. CE over the segmentation logits with
  ``ignore_index`` (255 for GTA5 / Cityscapes, 0 for the embedded data). Perceptual (Eq. 6): mean squared
  difference of VGG16 features (``perceptual_layer = 16``: torchvision's ``vgg16().features[:16]``, i.e. up
  to relu3_3, the "16th layer"), ImageNet-normalised, between the sRGB output (unscaled chroma) and the
  sRGB target. VGG16 weights: ``perceptual_weights`` (a file) or torchvision's cache; never downloaded;
  random otherwise with a :class:`~semcolor.networks.perceptual.RandomVGGWarning` (the term is then *not* the paper's perceptual loss).
  ``perceptual_weight = 0`` (Methods 1-3) builds no VGG.
* Optimiser (Sec. 2.4): AdaDelta, lr 0.004 (rho 0.9, eps 1e-6: torch defaults), batch 4 (data config);
  early stopping with patience 16 on ``val_loss`` is an ``EarlyStopping`` callback in the configs; the best
  checkpoint is the one with the lowest ``val_loss`` ("the model outputs the image with the lowest loss").

Evaluation (Tables IV-V): Delta E in CAM16-UCS (D65, L_A = 20 cd/m^2, dim surround as the paper; Y_b = 20,
which the paper does not state, is our choice; :class:`semcolor.metrics.image.DeltaECAM16UCS`) between output
and target sRGB: mean and p95 over all pixels (``{stage}_de_cam16ucs_mean`` / ``_p95``), per class
(``..._class_<i>`` and ``..._class_<i>_p95``) and the same for the gray input
(``{stage}_identity_de_cam16ucs_*``), plus the base's PSNR / SSIM / Delta E 2000 / acc@2 / acc@5 and identity
rows, and the segmentation head's mIoU / pixel accuracy.

Traffic lights (Table IV's second column): the paper's 11 training classes do not include "traffic light"
(Cityscapes id 19), so its pixels need a class of their own in the label map. ``traffic_light_class`` names
that label value: it is scored by the Delta E metric like any class (mean and p95) but is *not* a class of
the segmentation head -- those pixels are ignored by the CE loss and the mIoU. The GTA5 config maps
``traffic light: [19]`` to index 11 after the paper's 11 classes (``num_classes: 11``,
``traffic_light_class: 11``). ``label_remap`` maps another dataset's labels onto these classes (the
Cityscapes config maps its 19 trainIds; unmapped values -> ``ignore_index``).

Results table: ``semcolor test`` (``make eval``) writes ``multipath_results.md`` and ``multipath_results.json``
into the run folder (``trainer.default_root_dir``) -- global / traffic-light / per-class Delta E next to the
gray input's and the paper's Tables IV-V -- and ``test_metrics.json`` for
:mod:`semcolor.cli.results_table`.

``forward`` returns one tensor ``(N, 3 + 2 + K, H, W)``: the sRGB output, the sigmoid a*, b* (unscaled) and
the K segmentation logits, so the base class's steps, metrics and sample grids work unchanged;
:meth:`MultipathModule.split` names the parts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from semcolor.colorspace import lab_to_rgb, rgb_to_lab
from semcolor.lightning_modules.base import (
    ImageToImageModule,
    class_palette,
    colorize_labels,
)
from semcolor.networks.multipath import MultipathColorizer
from semcolor.networks.perceptual import VGGFeatures, feature_mse, vgg_layer_names
from semcolor.registry import METHODS

__all__ = [
    "MultipathModule",
    "PAPER_TABLE_IV",
    "PAPER_TABLE_V",
    "perceptual_vgg16",
    "lightness_from_gray",
    "results_markdown",
    "write_results",
]

#: Wang et al. 2025, Table IV: method -> ((global mean, p95), (traffic light mean, p95)), Delta E CAM16-UCS, GTA5 test
PAPER_TABLE_IV: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "Method 1": ((3.8, 10.3), (20.9, 27.6)), "Method 2": ((3.5, 8.4), (21.2, 27.7)),
    "Method 3": ((3.0, 8.7), (20.6, 25.3)), "Method 4": ((2.8, 8.0), (0.66, 5.4)),
    "Method 5": ((2.7, 7.6), (0.61, 5.8)), "Method 6": ((2.7, 7.3), (0.52, 5.0)),
}  # fmt: skip

#: Wang et al. 2025, Table V, row "Ours" (Method 6): mean Delta E CAM16-UCS per class
PAPER_TABLE_V: dict[str, float] = {
    "building": 4.5, "bus": 0.26, "car": 4.8, "road": 3.1, "sidewalk": 3.9, "sky": 3.2, "traffic sign": 1.4,
    "tree": 4.6, "truck": 3.4, "vegetation": 3.6, "wall": 4.1,
}  # fmt: skip

RESULTS_STEM = "multipath_results"


def perceptual_vgg16(layer: int, weights: str | None = None) -> VGGFeatures:
    """Eq. 6's frozen VGG16: ``vgg16().features[:layer]`` (``layer = 16`` ends at relu3_3, 256 channels,
    1/4 resolution: the paper's "16th layer" read as the first 16 modules of torchvision's feature stack)."""
    if not 1 <= layer <= 31:
        raise ValueError(f"perceptual_layer must be in 1..31 (modules of vgg16().features), got {layer}")
    return VGGFeatures("vgg16", [vgg_layer_names("vgg16")[layer - 1]], weights, owner="multipath",
                       option="perceptual_weights")


def lightness_from_gray(gray: Tensor, mode: Literal["cie", "linear"] = "cie") -> Tensor:
    """L* ``(N, 1, H, W)`` from gray ``(N, 1, H, W)`` in [0, 1] (module docstring: ``"cie"`` / ``"linear"``)."""
    if mode == "cie":
        return rgb_to_lab(gray.expand(-1, 3, -1, -1))[:, :1]
    if mode == "linear":
        return 100.0 * gray
    raise ValueError(f"lightness must be 'cie' or 'linear', got {mode!r}")


@METHODS.register("multipath", tasks=("colorize",))
class MultipathModule(ImageToImageModule):
    """The multipath method (module docstring). Defaults are the paper's Method 6.

    Args:
        num_classes: classes of the segmentation head (11 for GTA5, 7 for the embedded data).
        ignore_index: label value ignored by CE, mIoU and per-class Delta E (255; 0 for the embedded data).
        traffic_light_class: label value of traffic-light pixels (scored by Delta E, ignored by CE / mIoU);
            ``None``: no traffic-light statistics.
        label_remap: ``{data label: class}`` applied to every batch's ``seg`` first (values not listed ->
            ``ignore_index``); ``None``: labels are used as they are.
        class_names: names of the Delta E classes for the results table (default: the datamodule's
            ``class_names`` when their number fits, else ``class_<i>``).
        backbone, context_pretrained, context_weights, color_size, color_scale, context_size,
        context_scale, base_channels, context_channels, fusion_channels, se_reduction, skip_norm,
        final_bn, ab_range, chroma_scale: :class:`semcolor.networks.multipath.MultipathColorizer`.
        lightness: ``"cie"`` or ``"linear"`` (module docstring).
        huber_weight, huber_delta, ce_weight, perceptual_weight: Eq. 7 (10000, 0.5, 8, 15).
        perceptual_layer, perceptual_weights: the VGG16 of the perceptual term.
        chroma_in_loss: let the losses see the chroma-scaled prediction (default False).
        lr, rho, eps, weight_decay: AdaDelta (0.004, 0.9, 1e-6, 0).
        train_metrics, metrics: :class:`~semcolor.lightning_modules.base.ImageToImageModule` (colorization metrics).
    """

    @property
    def input_channels(self) -> int:
        """Bands the model takes: one, the gray image (Sec. 2)."""
        return 1

    monitor = ("val_loss", "min")

    def __init__(
        self,
        num_classes: int = 11,
        ignore_index: int | None = 255,
        traffic_light_class: int | None = None,
        label_remap: dict[int, int] | None = None,
        class_names: list[str] | None = None,
        backbone: str = "resnet50",
        context_pretrained: bool = True,
        context_weights: str | None = None,
        color_size: int | None = None,
        color_scale: float = 1.0,
        context_size: int | None = None,
        context_scale: float = 0.25,
        base_channels: int = 32,
        context_channels: int = 128,
        fusion_channels: int = 256,
        se_reduction: int = 16,
        skip_norm: bool = True,
        final_bn: bool = True,
        ab_range: float = 128.0,
        chroma_scale: float = 1.3,
        lightness: Literal["cie", "linear"] = "cie",
        huber_weight: float = 10000.0,
        huber_delta: float = 0.5,
        ce_weight: float = 8.0,
        perceptual_weight: float = 15.0,
        perceptual_layer: int = 16,
        perceptual_weights: str | None = None,
        chroma_in_loss: bool = False,
        lr: float = 0.004,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        train_metrics: bool = True,
        metrics: str = "colorization",
    ) -> None:
        if lightness not in ("cie", "linear"):
            raise ValueError(f"lightness must be 'cie' or 'linear', got {lightness!r}")
        if traffic_light_class is not None and traffic_light_class < num_classes:
            raise ValueError(
                f"traffic_light_class={traffic_light_class} must not be a class of the segmentation head "
                f"(0..{num_classes - 1}); give it the label value after them (e.g. {num_classes})"
            )
        super().__init__(lr=lr, weight_decay=weight_decay, train_metrics=train_metrics, metrics=metrics)
        lut = None
        if label_remap is not None:
            fill = -1 if ignore_index is None else ignore_index
            lut = torch.full((256,), fill, dtype=torch.long)
            for k, v in label_remap.items():
                if not 0 <= int(k) < 256:
                    raise ValueError(f"label_remap keys must be label values 0..255, got {k}")
                lut[int(k)] = int(v)
        self.register_buffer("remap_lut", lut, persistent=False)
        self.register_buffer("palette", class_palette(num_classes), persistent=False)

    # -- hooks ----------------------------------------------------------------------------------------
    def configure_models(self) -> None:
        hp = self.hparams
        self.network = MultipathColorizer(
            num_classes=hp.num_classes, backbone=hp.backbone, context_pretrained=hp.context_pretrained,
            context_weights=hp.context_weights, color_size=hp.color_size, color_scale=hp.color_scale,
            context_size=hp.context_size, context_scale=hp.context_scale, base_channels=hp.base_channels,
            context_channels=hp.context_channels, fusion_channels=hp.fusion_channels,
            se_reduction=hp.se_reduction, skip_norm=hp.skip_norm, final_bn=hp.final_bn, ab_range=hp.ab_range,
            chroma_scale=hp.chroma_scale,
        )  # fmt: skip

    def configure_losses(self) -> None:
        hp = self.hparams
        self.vgg = perceptual_vgg16(hp.perceptual_layer, hp.perceptual_weights) if hp.perceptual_weight > 0 else None

    def configure_metrics(self) -> None:
        super().configure_metrics()
        from semcolor.metrics.image import DeltaECAM16UCS, segmentation_metrics

        hp = self.hparams
        n = self.metric_classes
        for stage in ("val", "test"):
            setattr(self, f"{stage}_de", DeltaECAM16UCS(n, hp.ignore_index, class_p95=True,
                                                        key_prefix=f"{stage}_de_cam16ucs_"))
            setattr(self, f"{stage}_identity_de", DeltaECAM16UCS(n, hp.ignore_index,
                                                                 key_prefix=f"{stage}_identity_de_cam16ucs_"))
            setattr(self, f"{stage}_seg", segmentation_metrics(hp.num_classes, hp.ignore_index).clone(prefix=f"{stage}_seg_"))
        self._test_results: dict[str, float] = {}

    @property
    def metric_classes(self) -> int:
        """Classes of the Delta E statistics: the head's classes plus the traffic-light label if it follows them."""
        tl = self.hparams.traffic_light_class
        return max(self.hparams.num_classes, (tl + 1) if tl is not None else 0)

    # -- forward ----------------------------------------------------------------------------------------
    def colorize(self, gray: Tensor, ab: Tensor) -> Tensor:
        """sRGB in [0, 1] from the gray input's L* and ``ab`` ``(N, 2, H, W)`` (Lab -> sRGB, D65, clipped)."""
        lab = torch.cat([lightness_from_gray(gray[:, :1], self.hparams.lightness), ab], dim=1)
        return lab_to_rgb(lab, clip=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.network(x)
        return torch.cat([self.colorize(x, out.ab), out.ab_sigmoid, out.seg_logits], dim=1)

    @staticmethod
    def split(output: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(rgb (N, 3, H, W), ab sigmoid (N, 2, H, W) unscaled, seg logits (N, K, H, W))`` of :meth:`forward`."""
        return output[:, :3], output[:, 3:5], output[:, 5:]

    def to_rgb(self, output: Tensor) -> Tensor:
        return output[:, :3]

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Apply ``label_remap`` to ``batch["seg"]`` (a new dict; called first by every step)."""
        if "seg" not in batch or self.remap_lut is None:
            return batch
        seg = batch["seg"]
        inside = (seg >= 0) & (seg < 256)
        fill = -1 if self.hparams.ignore_index is None else self.hparams.ignore_index
        return {**batch, "seg": torch.where(inside, self.remap_lut[seg.clamp(0, 255)], torch.full_like(seg, fill))}

    def loss_seg(self, seg: Tensor) -> Tensor:
        """Labels for CE / mIoU: the traffic-light label (not a head class) becomes ``ignore_index``."""
        tl, ignore = self.hparams.traffic_light_class, self.hparams.ignore_index
        if tl is None:
            return seg
        return torch.where(seg == tl, torch.full_like(seg, -100 if ignore is None else ignore), seg)

    # -- loss -------------------------------------------------------------------------------------------
    def compute_loss(self, output: Tensor, batch: dict[str, Any]) -> dict[str, Tensor]:
        hp = self.hparams
        _, s, logits = self.split(output)
        target = batch["target"]
        ab_target = rgb_to_lab(target)[:, 1:]
        s_target = (ab_target / hp.ab_range + 1.0) / 2.0
        s_pred = ((2.0 * s - 1.0) * hp.chroma_scale + 1.0) / 2.0 if hp.chroma_in_loss else s
        huber = F.huber_loss(s_pred, s_target, delta=hp.huber_delta)
        zero = logits.sum() * 0.0
        ce = zero
        if hp.ce_weight and "seg" in batch:
            seg = self.loss_seg(batch["seg"])
            ignore = -100 if hp.ignore_index is None else hp.ignore_index
            if bool((seg != ignore).any()):  # CE of an all-ignored batch is NaN
                ce = F.cross_entropy(logits, seg, ignore_index=ignore)
        perceptual = zero
        if self.vgg is not None:
            ab = hp.ab_range * (2.0 * s_pred - 1.0)
            rgb = self.colorize(batch["input"], ab)
            perceptual = feature_mse(self.vgg, rgb, target)
        loss = hp.huber_weight * huber + hp.ce_weight * ce + hp.perceptual_weight * perceptual
        return {"loss": loss, "huber": huber.detach(), "ce": ce.detach(), "perceptual": perceptual.detach()}

    # -- evaluation -------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return super().training_step(self.prepare_batch(batch), batch_idx)

    def _evaluate(self, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        batch = self.prepare_batch(batch)
        result = super()._evaluate(batch, stage)
        rgb, _, logits = self.split(result["output"])
        seg = batch.get("seg")
        getattr(self, f"{stage}_de").update(rgb, batch["target"], seg)
        getattr(self, f"{stage}_identity_de").update(self.identity(batch), batch["target"], seg)
        if seg is not None:
            seg_metrics = getattr(self, f"{stage}_seg")
            seg_metrics.update(logits.argmax(1), self.loss_seg(seg))
            self.log_dict(seg_metrics, batch_size=seg.shape[0])
        return result

    def validation_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        result = self._evaluate(batch, "val")
        if self._last_batch("val", batch_idx, dataloader_idx):
            self._log_delta_e("val")
        return result

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        result = self._evaluate(batch, "test")
        if self._last_batch("test", batch_idx, dataloader_idx):
            self._test_results = self._log_delta_e("test")
        return result

    def _last_batch(self, stage: str, batch_idx: int, dataloader_idx: int) -> bool:
        """Whether this is the epoch's last batch. The Delta E statistics are logged there rather than in
        ``on_*_epoch_end``: Lightning runs the callbacks' epoch-end hooks (the console metrics table) before
        the module's, so values logged in the module's hook would be shown one epoch late."""
        trainer = self._trainer
        if trainer is None:
            return False
        if stage == "val":
            counts = trainer.num_sanity_val_batches if trainer.sanity_checking else trainer.num_val_batches
        else:
            counts = trainer.num_test_batches
        counts = counts if isinstance(counts, list) else [counts]
        if dataloader_idx != len(counts) - 1 or not math.isfinite(counts[-1]):
            return False
        return batch_idx == int(counts[-1]) - 1

    def _log_delta_e(self, stage: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for name in (f"{stage}_de", f"{stage}_identity_de"):
            metric = getattr(self, name)
            if not metric.update_called:
                continue
            computed = metric.compute()
            self.log_dict(computed, batch_size=1)  # epoch statistics, logged once
            values.update({k: float(v) for k, v in computed.items()})
            metric.reset()
        return values

    def on_validation_epoch_end(self) -> None:  # only if the last batch was not recognised (no len())
        self._log_delta_e("val")

    def on_test_epoch_end(self) -> None:
        results = self._log_delta_e("test")
        if results:
            self._test_results = results

    def on_test_end(self) -> None:
        trainer = self.trainer
        if getattr(trainer, "fast_dev_run", False) or not trainer.is_global_zero:
            return
        from semcolor.run_files import scalar_metrics, write_test_metrics

        metrics = {**scalar_metrics(trainer.callback_metrics), **self._test_results}
        write_results(trainer.default_root_dir, metrics, self.class_names(), self.hparams.traffic_light_class,
                      extra={"ckpt_path": str(trainer.ckpt_path) if trainer.ckpt_path else None,
                             "chroma_scale": self.hparams.chroma_scale})
        write_test_metrics(trainer)

    def class_names(self) -> list[str]:
        """Names of the Delta E classes (``class_names`` hparam, the datamodule's, or ``class_<i>``)."""
        n = self.metric_classes
        names = self.hparams.class_names
        if not names:
            dm = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
            names = list(getattr(dm, "class_names", None) or [])
        if len(names) != n:
            names = [f"class_{i}" for i in range(n)]
        return list(names)

    def sample_panels(self, batch: dict[str, Any], output: Tensor) -> list[Tensor]:
        _, _, logits = self.split(output)
        return [*super().sample_panels(batch, output), colorize_labels(logits.argmax(1), self.palette)]

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adadelta(params, lr=hp.lr, rho=hp.rho, eps=hp.eps, weight_decay=hp.weight_decay)


# ======================================================================================================
# results table
# ======================================================================================================
def _f(v: float | None, fmt: str = "{:.2f}") -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)


def results_markdown(
    metrics: dict[str, float],
    class_names: Sequence[str],
    traffic_light_class: int | None = None,
    stage: str = "test",
) -> tuple[str, dict[str, Any]]:
    """Markdown tables (and their numbers as a dict) of the Delta E CAM16-UCS results of one run.

    ``metrics`` holds ``{stage}_de_cam16ucs_*``, ``{stage}_identity_de_cam16ucs_*`` and the other
    ``{stage}_*`` scalars. Tables: global and traffic-light mean / p95 (model, gray input, paper Table IV),
    per class (model, gray input, paper Table V when the class names are the paper's 11), and the other
    image / segmentation metrics.
    """
    p, ip = f"{stage}_de_cam16ucs_", f"{stage}_identity_de_cam16ucs_"
    g = (metrics.get(p + "mean"), metrics.get(p + "p95"))
    gi = (metrics.get(ip + "mean"), metrics.get(ip + "p95"))
    tl = None
    if traffic_light_class is not None:
        tl = (metrics.get(f"{p}class_{traffic_light_class}"), metrics.get(f"{p}class_{traffic_light_class}_p95"))
    data: dict[str, Any] = {
        "global": {"mean": g[0], "p95": g[1]},
        "identity_global": {"mean": gi[0], "p95": gi[1]},
        "traffic_light": None if tl is None else {"mean": tl[0], "p95": tl[1]},
        "per_class": {},
        "other": {k[len(stage) + 1:]: v for k, v in sorted(metrics.items())
                  if k.startswith(f"{stage}_") and not k.startswith((p, ip)) and "loss" not in k},
    }  # fmt: skip
    lines = ["## Delta E CAM16-UCS (D65, L_A 20 cd/m^2, dim), mean / 95th percentile", "",
             "| | global mean | global p95 | traffic light mean | traffic light p95 |", "|---|---|---|---|---|"]
    tl_cells = ["", ""] if tl is None else [_f(tl[0]), _f(tl[1])]
    lines.append(f"| this run | {_f(g[0])} | {_f(g[1])} | {tl_cells[0]} | {tl_cells[1]} |")
    lines.append(f"| gray input (identity) | {_f(gi[0])} | {_f(gi[1])} | | |")
    for name, ((m, q), (tm, tq)) in PAPER_TABLE_IV.items():
        lines.append(f"| paper {name} (GTA5, Table IV) | {m} | {q} | {tm} | {tq} |")
    paper_classes = set(PAPER_TABLE_V) <= set(class_names)  # GTA5's classes, not a look-alike name
    lines += ["", "## Per class (Table V)", "",
              "| class | mean | p95 | gray input mean | paper (Table V, Method 6) |", "|---|---|---|---|---|"]
    for i, name in enumerate(class_names):
        m, q = metrics.get(f"{p}class_{i}"), metrics.get(f"{p}class_{i}_p95")
        if m is None:
            continue
        im = metrics.get(f"{ip}class_{i}")
        data["per_class"][name] = {"index": i, "mean": m, "p95": q, "identity_mean": im}
        paper = PAPER_TABLE_V.get(name) if paper_classes else None
        lines.append(f"| {name} | {_f(m)} | {_f(q)} | {_f(im)} | {'' if paper is None else paper} |")
    if data["other"]:
        lines += ["", "## Other metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_f(v, '{:.4f}')} |" for k, v in data["other"].items()]
    return "\n".join(lines) + "\n", data


def write_results(
    folder: str | Path,
    metrics: dict[str, float],
    class_names: Sequence[str],
    traffic_light_class: int | None = None,
    stage: str = "test",
    extra: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``multipath_results.md`` and ``multipath_results.json`` into ``folder``; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text, data = results_markdown(metrics, class_names, traffic_light_class, stage)
    md, js = folder / f"{RESULTS_STEM}.md", folder / f"{RESULTS_STEM}.json"
    md.write_text(f"# multipath results ({stage})\n\n{text}")
    js.write_text(json.dumps({**(extra or {}), "class_names": list(class_names), **data}, indent=2, default=str))
    return md, js
