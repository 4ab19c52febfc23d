"""``slimseg``: slimmable semantic segmentation with boundary supervision (thesis 003, chapter 2).

One network (``semcolor.networks.slimmable``: SFNet or DeepLabv3+ on a slimmable ResNet / MobileNetV2) runs at
every width of ``widths`` (x0.25 / 0.5 / 0.75 / 1.0 by default). Training follows **Algorithm 1**
(Sec. 2.3), with Lightning's manual optimisation, per iteration:

1. ``optimizer.zero_grad()`` once;
2. for ``w`` in ``sorted(widths, reverse=True)``: switch the network to ``w`` (``set_width``: slimmable
   convs and switchable BN), forward, compute the width's loss, ``manual_backward`` (gradients of all
   widths accumulate), and keep the *detached* predictions as the teacher of the next smaller width;
3. one ``optimizer.step()`` and one poly learning-rate step.

Losses (Sec. 2.3.2-2.3.3; Eq. 2.1, 2.2, 2.4, 2.5), summed over widths ``n = N (largest) ... 1``::

    L_seg = CE_ohem(p_s^N, y_s)  + sum_n KD(p_s^n, sg(p_s^{n+1}))                    (2.1)
    L_b   = BCE(p_b^N, y_b)      + sum_n KD_bin(p_b^n, sg(p_b^{n+1}))                (2.2)
    L_g   = CE(M_b(p_s^N), y_s)  + sum_n KD(M_b(p_s^n), sg(p_s^{n+1}))               (2.4)
    L     = L_seg + lambda_1 L_b + lambda_2 L_g,    lambda_1 = 10, lambda_2 = 1        (2.5)

* ``KD`` is the soft-target cross-entropy ``-sum_c t_c log softmax(s)_c`` with temperature ``T = 1``
  (Sec. 2.3.2: "soft target cross-entropy loss ... more stable than the Kullback-Leibler divergence");
  it differs from KL(t || s) by the teacher's entropy, a constant for the student. For the one-channel
  boundary map it is the binary cross-entropy with soft targets ``sigmoid(teacher)``. With ``T != 1``
  both are computed on ``logits / T`` and multiplied by ``T^2`` (Hinton et al.).
* ``M_b`` (Eq. 2.3): pixels whose predicted boundary probability ``sigmoid(b^n) > tau`` (0.7), taken
  from the *same* width's boundary head (detached: the mask is a selection, not a path for gradients);
  L_g averages over the selected (non-ignored) pixels only, and is 0 when none is selected (early in
  training). Without a boundary head (``boundary_head=False`` or ``lambda_boundary=0``, Table 2.4's
  "w/o L_b" rows) the mask is the boundary ground truth, as the thesis does for that ablation.
* OHEM (Sec. 2.4.2, the SFNet recipe): on the ground-truth CE of L_seg only; pixels whose probability of
  the true class is <= ``ohem_thresh`` (0.7) are kept, at least ``ohem_min_kept`` (100 000, per
  process) of the hardest, as in SFNet's ``OhemCrossEntropy2d``; hand-written because no library we
  depend on has it (torch, smp, kornia do not).
* Teachers (Table 2.5, ``teacher``): ``prev`` (default: the next larger width, "stepwise downward
  distillation"), ``largest`` (every width learns from x1.0), ``mean`` (average of all larger widths'
  probabilities), ``none`` (every width supervised by the ground truth: CE/BCE/masked CE).
* Boundary ground truth ``y_b`` is the batch's ``"boundary"`` map (Cityscapes / GTA5 compute it with
  ``boundary_radius`` of the *data* config); when a batch has none (the embedded ``segment`` data) it is
  computed here from ``"seg"`` with the same function (:func:`semcolor.datamodules.cityscapes.label_boundary`)
  and this module's ``boundary_radius``.

Validation / test run every width of ``eval_widths`` (default: all) and log ``{stage}_miou_w{w}`` and
``{stage}_pixel_acc_w{w}`` per width (e.g. ``val_miou_w0.25``), ``{stage}_miou_mean`` over those widths,
and ``{stage}_miou`` / ``{stage}_pixel_acc`` / ``{stage}_loss`` at the reference width ``eval_width``
(default the largest), which picks the best checkpoint. ``forward`` / ``predict`` run at the reference
width. The width-sweep table (GFLOPs, params, latency, plot) is the job of
:class:`semcolor.widths.sweep.WidthSweep`.

Multi-GPU: every iteration leaves the other widths' BatchNorms unused in each backward, so DDP needs
``find_unused_parameters=True``; :meth:`SlimSegModule.setup` switches it on (with a warning) when a plain
``ddp`` strategy is configured. Each width's ``manual_backward`` all-reduces its gradients. Batch size
must be > 1 per process (BatchNorm over the PPM's / ASPP's 1x1 pooled maps).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semcolor.lightning_modules.base import SegmentationModule
from semcolor.registry import METHODS

__all__ = [
    "SlimSegModule",
    "TEACHERS",
    "width_tag",
    "ohem_cross_entropy",
    "soft_target_ce",
    "binary_soft_target_ce",
    "guided_ce",
    "boundary_targets",
    "model_widths",
]

TEACHERS = ("prev", "largest", "mean", "none")
Teacher = Literal["prev", "largest", "mean", "none"]


def width_tag(w: float) -> str:
    """Width as it appears in metric names: ``0.25``, ``0.5``, ``0.75``, ``1.0``, ``0.35``."""
    s = f"{float(w):g}"
    return s if "." in s else s + ".0"


def _key(w: float) -> str:
    """Width as a ModuleDict key (no dots allowed there)."""
    return "w" + width_tag(w).replace(".", "_")


def model_widths(net: nn.Module) -> tuple[float, ...]:
    """The ascending widths a slimmable network was built for."""
    from semcolor.networks.slimmable.ops import SlimmableModule

    for m in net.modules():
        if isinstance(m, SlimmableModule):
            return tuple(m.widths)
    raise ValueError(f"{type(net).__name__} contains no slimmable layer")


# ---------------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------------

def _zero(t: Tensor) -> Tensor:
    """A zero that keeps ``t`` in the graph (so ``backward`` works even when nothing is selected)."""
    return t.sum() * 0.0


def ohem_cross_entropy(
    logits: Tensor, target: Tensor, ignore_index: int = 255, thresh: float = 0.7, min_kept: int = 100_000
) -> Tensor:
    """Online hard example mining CE (the SFNet / PSPNet recipe used by the thesis, Sec. 2.4.2).

    Pixels whose predicted probability of the true class is ``<= threshold`` are averaged, where
    ``threshold = max(thresh, p_(min_kept))`` and ``p_(k)`` is the k-th smallest true-class probability,
    so at least ``min_kept`` of the hardest valid pixels are kept. With ``min_kept >= #valid`` every
    valid pixel is kept (plain CE), as in SFNet's ``OhemCrossEntropy2d``.
    """
    ce = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
    valid = target != ignore_index
    n_valid = int(valid.sum())
    if n_valid == 0:
        return _zero(logits)
    if min_kept >= n_valid:
        return ce[valid].mean()
    prob = torch.exp(-ce.detach())
    threshold = torch.as_tensor(thresh, dtype=prob.dtype, device=prob.device)
    if min_kept > 0:
        kth = torch.kthvalue(prob[valid], min_kept).values
        threshold = torch.maximum(threshold, kth)
    keep = valid & (prob <= threshold)
    if not bool(keep.any()):
        return _zero(logits)
    return ce[keep].mean()


def _masked_mean(per_pixel: Tensor, mask: Tensor | None) -> Tensor:
    if mask is None:
        return per_pixel.mean()
    if not bool(mask.any()):
        return _zero(per_pixel)
    return per_pixel[mask].mean()


def soft_target_ce(
    student_logits: Tensor, teacher_probs: Tensor, temperature: float = 1.0, mask: Tensor | None = None
) -> Tensor:
    """KD of Eq. 2.1: ``-sum_c t_c log softmax(s / T)_c`` averaged over pixels (``mask``), times ``T^2``.

    ``teacher_probs`` must already be ``softmax(teacher / T)`` and detached. Equals KL(t || s) + H(t):
    minimal (gradient zero) where the student's distribution equals the teacher's.
    """
    logp = F.log_softmax(student_logits / temperature, dim=1)
    per_pixel = -(teacher_probs * logp).sum(dim=1)
    return _masked_mean(per_pixel, mask) * temperature**2


def binary_soft_target_ce(
    student_logits: Tensor, teacher_probs: Tensor, temperature: float = 1.0, mask: Tensor | None = None
) -> Tensor:
    """KD of Eq. 2.2 for the one-channel boundary map: BCE with soft targets ``sigmoid(teacher / T)``."""
    per_pixel = F.binary_cross_entropy_with_logits(student_logits / temperature, teacher_probs, reduction="none")
    return _masked_mean(per_pixel, mask) * temperature**2


def guided_ce(logits: Tensor, target: Tensor, mask: Tensor, ignore_index: int = 255) -> Tensor:
    """Boundary-guided CE of Eq. 2.4 (largest width): CE averaged over pixels with ``mask`` (M_b) only."""
    sel = mask & (target != ignore_index)
    if not bool(sel.any()):
        return _zero(logits)
    ce = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
    return ce[sel].mean()


def boundary_targets(
    seg: Tensor, radius: int, ignore_index: int | None, ignore_is_boundary: bool = True
) -> Tensor:
    """Boundary ground truth ``(N, H, W)`` float from class maps, with the Cityscapes rule.

    Reuses :func:`semcolor.datamodules.cityscapes.label_boundary` (pixels within ``radius`` of a border between
    different labels) per sample on the CPU, so embedded / any segmentation data get the same boundary
    definition as Cityscapes and GTA5.
    """
    from semcolor.datamodules.cityscapes import label_boundary

    arr = seg.detach().cpu().numpy()
    ii = -1 if ignore_index is None else int(ignore_index)
    maps = [
        label_boundary(a.astype(np.int64), radius, ignore_index=ii, ignore_is_boundary=ignore_is_boundary)
        for a in arr
    ]
    return torch.from_numpy(np.stack(maps)).to(device=seg.device, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------------
# the method
# ---------------------------------------------------------------------------------------------------

@METHODS.register("slimseg", tasks=("segment",))
class SlimSegModule(SegmentationModule):
    """SlimSeg (thesis ch. 2): one slimmable segmentation network trained at every width at once.

    Args:
        num_classes, ignore_index: 19 / 255 for Cityscapes and GTA5 (cityscapes19), 7 / 0 embedded.
        arch: one of ``semcolor.networks.slimmable.MODEL_NAMES``: ``sfnet_r18`` | ``sfnet_r50`` |
            ``sfnet_dfnetv1`` | ``sfnet_dfnetv2`` | ``deeplabv3plus_r50`` | ``deeplabv3plus_mbv2`` (Table 2.2).
        widths: ascending width multipliers (``None``: x0.25..x1.0; x0.35..x1.0 for MobileNetV2).
        boundary_head: build the training-only boundary head (Sec. 2.3.3); ``False`` (or
            ``lambda_boundary=0``) drops the head and L_b, and masks L_g with the boundary ground truth
            instead (Table 2.4's rows without L_b).
        boundary_input: ``conv1`` / ``conv2_x`` (default, Sec. 2.4.2) / ``conv3_x`` (Table 2.7).
        slim_head: ``True`` = globally slimmable; ``False`` = partially slimmable, only the backbone
            slims (Table 2.3).
        output_stride: override the backbone's output stride (``None``: the architecture's default).
        pretrained: path to a timm ImageNet state dict (``resnet50`` / ``mobilenetv2_100``) loaded into
            the backbone at x1.0 (``semcolor.networks.slimmable.load_timm_weights``); ``None``: random init.
        teacher: ``prev`` | ``largest`` | ``mean`` | ``none`` (Table 2.5; module doc).
        kd_temperature: KD temperature ``T`` (1, Sec. 2.3.2).
        kd_ignore: also distil on pixels labelled ``ignore_index`` (default: yes; teachers predict
            everywhere, the thesis does not restrict KD). ``False`` restricts KD to labelled pixels.
        lambda_boundary, lambda_guided: lambda_1 = 10, lambda_2 = 1 of Eq. 2.5 (0 switches a term off).
        tau: boundary-probability threshold of the mask M_b (Eq. 2.3), 0.7.
        ohem, ohem_thresh, ohem_min_kept: OHEM on the ground-truth CE of L_seg (module doc).
        boundary_radius: radius (px) of the boundary ground truth computed here when a batch carries
            no ``"boundary"`` map (Cityscapes/GTA5 batches carry one: set their data's radius instead).
        eval_widths: widths scored in validation/test (``None``: all).
        eval_width: reference width for ``{stage}_miou`` (the monitored metric), forward and predict
            (``None``: the largest).
        lr, momentum, weight_decay, nesterov, poly_power: SGD 0.01 / 0.9 / 5e-4, poly 0.9 per
            iteration (Sec. 2.4.2).
    """

    @property
    def input_channels(self) -> int:
        """Bands the model takes: RGB (Cityscapes, Sec. 2.4)."""
        return 3

    monitor = ("val_miou", "max")

    def __init__(
        self,
        num_classes: int = 19,
        ignore_index: int | None = 255,
        arch: str = "sfnet_r18",
        widths: Sequence[float] | None = None,
        boundary_head: bool = True,
        boundary_input: str = "conv2_x",
        slim_head: bool = True,
        output_stride: int | None = None,
        pretrained: str | None = None,
        teacher: Teacher = "prev",
        kd_temperature: float = 1.0,
        kd_ignore: bool = True,
        lambda_boundary: float = 10.0,
        lambda_guided: float = 1.0,
        tau: float = 0.7,
        ohem: bool = True,
        ohem_thresh: float = 0.7,
        ohem_min_kept: int = 100_000,
        boundary_radius: int = 3,
        eval_widths: Sequence[float] | None = None,
        eval_width: float | None = None,
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        nesterov: bool = False,
        poly_power: float = 0.9,
    ) -> None:
        if teacher not in TEACHERS:
            raise ValueError(f"teacher must be one of {TEACHERS}, got {teacher!r}")
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"tau is a probability threshold in [0, 1], got {tau}")
        if kd_temperature <= 0:
            raise ValueError(f"kd_temperature must be > 0, got {kd_temperature}")
        super().__init__(num_classes=num_classes, ignore_index=ignore_index, lr=lr, momentum=momentum,
                         weight_decay=weight_decay, nesterov=nesterov, poly_power=poly_power)
        self.automatic_optimization = False  # Algorithm 1: several backwards, one step per iteration
        self.reset_width()

    # -- construction -------------------------------------------------------------------------------
    def configure_models(self) -> None:
        from semcolor.networks.slimmable import build_slimmable, load_timm_weights

        hp = self.hparams
        self.network = build_slimmable(
            hp.arch, num_classes=hp.num_classes, widths=hp.widths,
            boundary=hp.boundary_head and hp.lambda_boundary > 0,
            boundary_input=hp.boundary_input, slim_head=hp.slim_head, output_stride=hp.output_stride,
        )
        if hp.pretrained:
            load_timm_weights(self.network.backbone, hp.pretrained)
        self.widths: tuple[float, ...] = model_widths(self.network)
        ref = self.widths[-1] if hp.eval_width is None else float(hp.eval_width)
        if ref not in self.widths:
            raise ValueError(f"eval_width {ref} is not one of the network's widths {list(self.widths)}")
        chosen = self.widths if hp.eval_widths is None else tuple(float(w) for w in hp.eval_widths)
        unknown = [w for w in chosen if w not in self.widths]
        if unknown:
            raise ValueError(f"eval_widths {unknown} are not among the network's widths {list(self.widths)}")
        self.reference_width = ref
        self.eval_widths: tuple[float, ...] = tuple(sorted(set(chosen) | {ref}))

    def configure_losses(self) -> None:
        super().configure_losses()  # self.ce: plain CE with ignore_index (validation loss)

    def configure_metrics(self) -> None:
        from semcolor.metrics.image import segmentation_metrics

        nc, ii = self.hparams.num_classes, self.hparams.ignore_index
        self.train_metrics = segmentation_metrics(nc, ii).clone(prefix="train_")  # largest width
        self.width_metrics = nn.ModuleDict({
            stage: nn.ModuleDict({
                _key(w): segmentation_metrics(nc, ii).clone(prefix=f"{stage}_", postfix=f"_w{width_tag(w)}")
                for w in self.eval_widths
            })
            for stage in ("val", "test")
        })

    def reset_width(self) -> None:
        """Put the network back at the reference width (used by forward / predict)."""
        from semcolor.networks.slimmable import set_width

        set_width(self.network, self.reference_width)

    def setup(self, stage: str) -> None:
        """Under DDP, switch on ``find_unused_parameters`` (other widths' BNs are unused per backward)."""
        trainer = self._trainer
        strategy = getattr(trainer, "strategy", None) if trainer is not None else None
        kwargs = getattr(strategy, "_ddp_kwargs", None)
        if isinstance(kwargs, dict) and not kwargs.get("find_unused_parameters", False):
            warnings.warn(
                "slimseg: every backward leaves the other widths' BatchNorms unused; enabling DDP's "
                "find_unused_parameters (use strategy 'ddp_find_unused_parameters_true' to silence this)",
                stacklevel=2,
            )
            kwargs["find_unused_parameters"] = True

    # -- forward ------------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """Class logits at the network's current width (the reference width outside training)."""
        return self.network(x, return_boundary=False)

    def _train_forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.network.boundary_head is None:
            return self.network(x, return_boundary=False), None
        logits, boundary = self.network(x, return_boundary=True)
        return logits, boundary[:, 0]

    # -- losses -------------------------------------------------------------------------------------
    def needs_boundary_target(self) -> bool:
        hp = self.hparams
        has_head = self.network.boundary_head is not None
        return (has_head and hp.lambda_boundary > 0) or (not has_head and hp.lambda_guided > 0)

    def boundary_target(self, batch: dict[str, Any]) -> Tensor | None:
        """``y_b``: the batch's ``"boundary"`` map, or computed from ``"seg"`` (module doc)."""
        if not self.needs_boundary_target():
            return None
        if "boundary" in batch:
            return batch["boundary"].float()
        return boundary_targets(batch["seg"], self.hparams.boundary_radius, self.hparams.ignore_index)

    def _soft(self, logits: Tensor, boundary: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Detached teacher probabilities (stop-gradient of Eq. 2.1/2.2)."""
        t = self.hparams.kd_temperature
        probs = F.softmax(logits.detach() / t, dim=1)
        bprobs = torch.sigmoid(boundary.detach() / t) if boundary is not None else None
        return probs, bprobs

    def width_losses(
        self,
        logits: Tensor,
        boundary: Tensor | None,
        seg: Tensor,
        boundary_gt: Tensor | None,
        teacher: tuple[Tensor, Tensor | None] | None,
    ) -> dict[str, Tensor]:
        """The terms of Eq. 2.5 for one width: ground truth when ``teacher`` is None, else KD."""
        hp = self.hparams
        ii = -100 if hp.ignore_index is None else int(hp.ignore_index)
        t = hp.kd_temperature
        if boundary is not None:
            guide = torch.sigmoid(boundary.detach()) > hp.tau  # M_b (Eq. 2.3), from this width's head
        else:
            guide = boundary_gt > 0.5 if boundary_gt is not None else None
        kd_mask = None if hp.kd_ignore or hp.ignore_index is None else seg != ii
        zero = _zero(logits)
        if teacher is None:
            seg_loss = (ohem_cross_entropy(logits, seg, ii, hp.ohem_thresh, hp.ohem_min_kept)
                        if hp.ohem else F.cross_entropy(logits, seg, ignore_index=ii))
            b_loss = (F.binary_cross_entropy_with_logits(boundary, boundary_gt)
                      if boundary is not None and hp.lambda_boundary > 0 else zero)
            g_loss = guided_ce(logits, seg, guide, ii) if guide is not None and hp.lambda_guided > 0 else zero
        else:
            tprobs, tb = teacher
            seg_loss = soft_target_ce(logits, tprobs, t, kd_mask)
            b_loss = (binary_soft_target_ce(boundary, tb, t, kd_mask)
                      if boundary is not None and tb is not None and hp.lambda_boundary > 0 else zero)
            if guide is not None and hp.lambda_guided > 0:
                gmask = guide if kd_mask is None else guide & kd_mask
                g_loss = soft_target_ce(logits, tprobs, t, gmask)
            else:
                g_loss = zero
        total = seg_loss + hp.lambda_boundary * b_loss + hp.lambda_guided * g_loss
        return {"loss": total, "seg": seg_loss, "boundary": b_loss, "guided": g_loss}

    def _teacher_for(self, stored: list[tuple[Tensor, Tensor | None]]) -> tuple[Tensor, Tensor | None] | None:
        mode = self.hparams.teacher
        if mode == "none" or not stored:
            return None
        if mode == "prev":
            return stored[-1]
        if mode == "largest":
            return stored[0]
        probs = torch.stack([s[0] for s in stored]).mean(0)  # "mean" of all larger widths
        bs = [s[1] for s in stored]
        bprobs = torch.stack(bs).mean(0) if all(b is not None for b in bs) else None  # type: ignore[arg-type]
        return probs, bprobs

    # -- steps --------------------------------------------------------------------------------------
    def slim_iteration(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Algorithm 1, lines 3-17: zero_grad, every width (descending) forward + loss + backward.

        Returns the detached terms for logging (``loss`` = sum over widths) and ``logits`` of the
        largest width. The optimiser step is the caller's (:meth:`training_step`).
        """
        from semcolor.networks.slimmable import set_width

        opt = self.optimizers()
        x, seg = batch["input"], batch["seg"]
        boundary_gt = self.boundary_target(batch)
        opt.zero_grad()
        stored: list[tuple[Tensor, Tensor | None]] = []
        logs: dict[str, Tensor] = {}
        largest_logits: Tensor | None = None
        order = sorted(self.widths, reverse=True)
        for i, w in enumerate(order):
            set_width(self.network, w)
            logits, boundary = self._train_forward(x)
            terms = self.width_losses(logits, boundary, seg, boundary_gt, self._teacher_for(stored))
            self.manual_backward(terms["loss"])
            if i < len(order) - 1 and self.hparams.teacher != "none":  # Alg. 1 line 14: store teachers
                soft = self._soft(logits, boundary)
                if self.hparams.teacher == "mean":
                    stored.append(soft)
                elif self.hparams.teacher == "prev" or not stored:
                    stored = [soft]
            if i == 0:
                largest_logits = logits.detach()
            for k, v in terms.items():
                logs[k] = logs.get(k, 0.0) + v.detach()
            logs[f"w{width_tag(w)}"] = terms["loss"].detach()  # logged as train_loss_w{w}
            del logits, boundary, terms
        self.reset_width()
        logs["logits"] = largest_logits  # type: ignore[assignment]
        return logs

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logs = self.slim_iteration(batch)
        opt = self.optimizers()
        lr = opt.param_groups[0]["lr"]  # the rate of this update
        opt.step()  # Alg. 1 line 18: one update per iteration
        sch = self.lr_schedulers()
        if sch is not None:
            sch.step()  # poly, per iteration (manual optimisation: stepped here)
        logits = logs.pop("logits")
        bs = batch["input"].shape[0]
        self.log("train_loss", logs.pop("loss"), prog_bar=True, batch_size=bs)
        self.log_dict({f"train_loss_{k}": v for k, v in logs.items()}, batch_size=bs)
        self.log("lr", lr, batch_size=bs)
        self.train_metrics.update(logits.argmax(1), batch["seg"])
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=bs)

    def _evaluate(self, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        from semcolor.networks.slimmable import width_context

        x, seg = batch["input"], batch["seg"]
        ref_logits: Tensor | None = None
        metrics = self.width_metrics[stage]
        for w in self.eval_widths:
            with width_context(self.network, w):
                logits = self(x)
            metrics[_key(w)].update(logits.argmax(1), seg)
            if w == self.reference_width:
                ref_logits = logits
        assert ref_logits is not None
        self.log(f"{stage}_loss", self.ce(ref_logits, seg), sync_dist=True, batch_size=x.shape[0])
        return {"output": ref_logits}

    def _log_width_metrics(self, stage: str) -> None:
        """Compute (synced across processes), log and reset every width's metrics."""
        mious = []
        for w in self.eval_widths:
            coll = self.width_metrics[stage][_key(w)]
            if not any(m.update_called for m in coll.values()):
                continue
            values = coll.compute()
            coll.reset()
            self.log_dict(values)
            mious.append(values[f"{stage}_miou_w{width_tag(w)}"])
            if w == self.reference_width:
                self.log_dict({f"{stage}_miou": values[f"{stage}_miou_w{width_tag(w)}"],
                               f"{stage}_pixel_acc": values[f"{stage}_pixel_acc_w{width_tag(w)}"]},
                              prog_bar=stage == "val")
        if mious:
            self.log(f"{stage}_miou_mean", torch.stack([torch.as_tensor(m) for m in mious]).mean())

    def on_validation_epoch_end(self) -> None:
        self._log_width_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_width_metrics("test")
