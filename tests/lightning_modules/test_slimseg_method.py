"""slimseg (thesis 003 ch. 2): Algorithm 1 with manual optimisation, the losses, the width sweep, BN calibration.

Tiny inputs (2 x 3 x 64 x 64, Slim-SFNet-ResNet18, 7 classes) keep every test to a few seconds on CPU.
"""

from __future__ import annotations

import csv
import math
from types import SimpleNamespace

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from semcolor.datamodules.cityscapes import label_boundary
from semcolor.lightning_modules.slimseg import (
    SlimSegModule,
    binary_soft_target_ce,
    boundary_targets,
    guided_ce,
    ohem_cross_entropy,
    soft_target_ce,
)
from semcolor.networks.slimmable import (
    SlimmableConv2d,
    SwitchableBatchNorm2d,
    get_width,
)
from semcolor.widths.sweep import BNCalibration, WidthSweep, calibrate_bn

WIDTHS = (0.25, 0.5, 0.75, 1.0)


def _samples(n: int = 4, size: int = 64, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        blocks = torch.randint(0, 7, (size // 16, size // 16), generator=g)  # 0 = ignored
        seg = blocks.repeat_interleave(16, 0).repeat_interleave(16, 1)
        x = torch.rand(3, size, size, generator=g) * 0.2 + seg[None].float() / 8
        out.append({"input": x, "seg": seg.long(), "name": f"s{i}"})
    return out


def _loader(n: int = 2, batch_size: int = 2) -> DataLoader:
    return DataLoader(_samples(n), batch_size=batch_size, shuffle=False)


def _model(**kwargs) -> SlimSegModule:
    torch.manual_seed(0)
    args = {"num_classes": 7, "ignore_index": 0, "arch": "sfnet_r18", "ohem_min_kept": 1000, **kwargs}
    return SlimSegModule(**args)


def _trainer(tmp_path, **kwargs) -> pl.Trainer:
    args = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                default_root_dir=str(tmp_path))
    args.update(kwargs)
    return pl.Trainer(**args)


# -------------------------------------------------------------------------------------------------
# Algorithm 1
# -------------------------------------------------------------------------------------------------

class _Spy(pl.Callback):
    """Counts optimizer.step / zero_grad and snapshots a shared conv's gradient after every backward."""

    def __init__(self, model: SlimSegModule) -> None:
        self.conv = next(m for m in model.network.modules() if isinstance(m, SlimmableConv2d))
        self.steps, self.zero_grads, self.snapshots, self.teachers = [], 0, [], []
        self.weight_before = self.conv.weight.detach().clone()
        orig_backward, orig_teacher = model.manual_backward, model._teacher_for

        def backward(loss, *args, **kw):
            orig_backward(loss, *args, **kw)
            self.snapshots.append((get_width(model.network), self.conv.weight.grad.detach().clone()))

        def teacher_for(stored):
            t = orig_teacher(stored)
            self.teachers.append(None if t is None else [x.requires_grad for x in t if x is not None])
            return t

        model.manual_backward = backward  # type: ignore[method-assign]
        model._teacher_for = teacher_for  # type: ignore[method-assign]

    def on_train_start(self, trainer, pl_module) -> None:
        opt, lopt = trainer.optimizers[0], pl_module.optimizers()  # raw optimizer, its Lightning wrapper
        orig_step, orig_zero = opt.step, lopt.zero_grad

        def step(*args, **kw):
            self.steps.append(self.conv.weight.grad.detach().clone())
            return orig_step(*args, **kw)

        def zero_grad(*args, **kw):
            self.zero_grads += 1
            return orig_zero(*args, **kw)

        opt.step, lopt.zero_grad = step, zero_grad


def test_one_step_per_iteration_every_width_contributes_teachers_detached(tmp_path) -> None:
    model = _model()
    spy = _Spy(model)
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0, callbacks=[spy])
    trainer.fit(model, train_dataloaders=_loader())

    # one zero_grad and one optimizer step per iteration, one backward per width, widths descending
    assert spy.zero_grads == 1 and len(spy.steps) == 1 and trainer.global_step == 1
    assert [w for w, _ in spy.snapshots] == [1.0, 0.75, 0.5, 0.25]
    conv = spy.conv
    k = dict(zip(WIDTHS, conv.out_list))
    prev = torch.zeros_like(spy.snapshots[0][1])
    for w, grad in spy.snapshots:
        inc = grad - prev
        assert inc[: k[0.25]].abs().sum() > 0, f"width {w} added no gradient to the shared filters"
        # a width's loss never reaches filters it does not use: nothing flows into larger (teacher) widths
        assert torch.equal(inc[k[w]:], torch.zeros_like(inc[k[w]:])), f"width {w} reached filters beyond {k[w]}"
        prev = grad
    # gradients accumulated over the widths (no zeroing in between) are what the single step used
    assert torch.equal(spy.steps[0], spy.snapshots[-1][1])
    assert not torch.allclose(spy.snapshots[0][1], spy.snapshots[-1][1])
    # teachers handed to the losses are detached; the largest width has none (ground truth)
    assert spy.teachers[0] is None and all(t and not any(t) for t in spy.teachers[1:])
    # SGD momentum 0.9, wd 5e-4, lr 0.01: the first update is exactly -lr * (g + wd * w)
    expected = spy.weight_before - 0.01 * (spy.steps[0] + 5e-4 * spy.weight_before)
    torch.testing.assert_close(conv.weight.detach(), expected, rtol=1e-5, atol=1e-7)
    assert get_width(model.network) == 1.0  # back at the reference width


def test_teacher_choice() -> None:
    model = _model(teacher="prev", boundary_head=False)
    stored = [(torch.full((1, 2, 1, 1), v), None) for v in (0.1, 0.3, 0.5)]
    assert model._teacher_for(stored)[0].flatten()[0].item() == pytest.approx(0.5)
    model.hparams.teacher = "largest"
    assert model._teacher_for(stored)[0].flatten()[0].item() == pytest.approx(0.1)
    model.hparams.teacher = "mean"
    assert model._teacher_for(stored)[0].flatten()[0].item() == pytest.approx(0.3)
    model.hparams.teacher = "none"
    assert model._teacher_for(stored) is None
    assert model._teacher_for([]) is None
    with pytest.raises(ValueError, match="teacher"):
        _model(teacher="biggest")


# -------------------------------------------------------------------------------------------------
# losses
# -------------------------------------------------------------------------------------------------

def test_kd_is_kl_plus_teacher_entropy_and_minimal_at_the_teacher() -> None:
    torch.manual_seed(0)
    s = torch.randn(2, 5, 4, 4, requires_grad=True)
    for T in (1.0, 2.0):
        t = F.softmax(s.detach() / T, 1)
        entropy = -(t * t.log()).sum(1).mean() * T**2
        loss = soft_target_ce(s, t, T)
        assert (loss - entropy).abs().item() < 1e-5  # KL(t || s) = 0 when s == t
        (g,) = torch.autograd.grad(loss, s)
        assert g.abs().max().item() < 1e-6
    other = torch.randn(2, 5, 4, 4)
    t = F.softmax(other, 1)
    kl = F.kl_div(F.log_softmax(s.detach(), 1), t, reduction="none").sum(1).mean()
    assert soft_target_ce(s.detach(), t) - (-(t * t.log()).sum(1).mean()) == pytest.approx(kl.item(), abs=1e-5)
    assert kl.item() > 0
    # binary (boundary) KD: BCE with soft targets, minimal at the teacher's probability
    b = torch.randn(2, 4, 4, requires_grad=True)
    p = torch.sigmoid(b.detach())
    bin_entropy = -(p * p.log() + (1 - p) * (1 - p).log()).mean()
    loss = binary_soft_target_ce(b, p)
    assert (loss - bin_entropy).abs().item() < 1e-5
    (g,) = torch.autograd.grad(loss, b)
    assert g.abs().max().item() < 1e-6


def test_boundary_guided_loss_uses_only_pixels_above_tau() -> None:
    model = _model(tau=0.7)
    torch.manual_seed(1)
    n, c, h, w = 2, 7, 8, 8
    seg = torch.randint(1, 7, (n, h, w))
    seg[0, 0, :] = 0  # an ignored row
    prob = torch.full((n, h, w), 0.69)
    prob[:, 2:5, 3:6] = 0.71
    prob[0, 0, 0] = 0.95  # above tau but ignored
    boundary = torch.logit(prob)
    mask = prob > 0.7
    logits = torch.randn(n, c, h, w, requires_grad=True)
    gt_boundary = torch.zeros(n, h, w)

    # largest width: CE over the selected, labelled pixels only
    loss = model.width_losses(logits, boundary, seg, gt_boundary, None)["guided"]
    sel = mask & (seg != 0)
    expected = F.cross_entropy(logits, seg, reduction="none")[sel].mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    (g,) = torch.autograd.grad(loss, logits)
    touched = g.abs().sum(1) > 0
    assert torch.equal(touched, sel)
    assert guided_ce(logits, seg, mask, 0).item() == pytest.approx(expected.item(), rel=1e-6)

    # smaller widths: KD against the teacher over the same pixels
    teacher = F.softmax(torch.randn(n, c, h, w), 1)
    loss = model.width_losses(logits, boundary, seg, gt_boundary, (teacher, torch.sigmoid(boundary)))["guided"]
    (g,) = torch.autograd.grad(loss, logits)
    assert torch.equal(g.abs().sum(1) > 0, mask)  # kd_ignore=True: ignored pixels distil too
    expected = -(teacher * F.log_softmax(logits, 1)).sum(1)[mask].mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)

    # nothing above tau: zero, and still differentiable
    low = torch.logit(torch.full((n, h, w), 0.5))
    loss = model.width_losses(logits, low, seg, gt_boundary, None)["guided"]
    assert loss.item() == 0.0 and loss.requires_grad


def test_total_loss_weights_and_boundary_bce() -> None:
    model = _model(lambda_boundary=10.0, lambda_guided=1.0, ohem=False)
    torch.manual_seed(2)
    logits, boundary = torch.randn(2, 7, 8, 8), torch.randn(2, 8, 8)
    seg, gt = torch.randint(0, 7, (2, 8, 8)), (torch.rand(2, 8, 8) > 0.7).float()
    t = model.width_losses(logits, boundary, seg, gt, None)
    assert t["seg"].item() == pytest.approx(F.cross_entropy(logits, seg, ignore_index=0).item(), rel=1e-6)
    assert t["boundary"].item() == pytest.approx(F.binary_cross_entropy_with_logits(boundary, gt).item(), rel=1e-6)
    assert t["loss"].item() == pytest.approx((t["seg"] + 10 * t["boundary"] + t["guided"]).item(), rel=1e-6)

    # no boundary head (lambda_boundary = 0): L_b vanishes and L_g is masked by the boundary ground truth
    no_head = _model(lambda_boundary=0.0, ohem=False)
    teacher = F.softmax(torch.randn(2, 7, 8, 8), 1)
    t = no_head.width_losses(logits, None, seg, gt, (teacher, None))
    expected = -(teacher * F.log_softmax(logits, 1)).sum(1)[gt > 0.5].mean()
    assert t["boundary"].item() == 0.0 and t["guided"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_ohem_keeps_hard_pixels() -> None:
    logits = torch.zeros(1, 2, 1, 6)
    logits[0, 0, 0] = torch.tensor([5.0, 4.0, 3.0, -1.0, -2.0, 0.0])  # class 0 prob high -> low
    target = torch.zeros(1, 1, 6, dtype=torch.long)
    target[0, 0, 5] = 255
    ce = F.cross_entropy(logits, target, ignore_index=255, reduction="none")[0, 0]
    prob = torch.exp(-ce)
    # min_kept >= #valid: plain CE
    assert ohem_cross_entropy(logits, target, 255, 0.7, 5).item() == pytest.approx(ce[:5].mean().item())
    # threshold 0.7 keeps the two hard pixels (prob 0.27, 0.12); min_kept 1 does not raise it
    assert (prob[:5] <= 0.7).sum() == 2
    assert ohem_cross_entropy(logits, target, 255, 0.7, 1).item() == pytest.approx(ce[3:5].mean().item())
    # min_kept 3 raises the threshold to the 3rd smallest probability
    assert ohem_cross_entropy(logits, target, 255, 0.7, 3).item() == pytest.approx(ce[2:5].mean().item())


def test_boundary_target_from_seg_or_batch() -> None:
    seg = torch.from_numpy(np.kron(np.array([[1, 2], [3, 0]]), np.ones((8, 8), dtype=np.int64)))[None]
    b = boundary_targets(seg, 2, ignore_index=0)
    assert torch.equal(b[0], torch.from_numpy(label_boundary(seg[0].numpy(), 2, ignore_index=0)).float())
    assert b.sum() > 0 and b[0, 0, 0] == 0
    model = _model(boundary_radius=2)
    assert torch.equal(model.boundary_target({"seg": seg}), b)
    given = torch.rand(1, 16, 16)
    assert model.boundary_target({"seg": seg, "boundary": given}) is given
    # without L_b there is no boundary head: L_g is masked by the ground truth (Table 2.4), still needed
    no_head = _model(lambda_boundary=0.0, boundary_radius=2)
    assert no_head.network.boundary_head is None and torch.equal(no_head.boundary_target({"seg": seg}), b)
    assert _model(lambda_boundary=0.0, lambda_guided=0.0).boundary_target({"seg": seg}) is None


def test_ddp_gets_find_unused_parameters(recwarn) -> None:
    model = _model()
    kwargs: dict = {}
    model._trainer = SimpleNamespace(strategy=SimpleNamespace(_ddp_kwargs=kwargs))
    try:
        model.setup("fit")
    finally:
        model._trainer = None
    assert kwargs == {"find_unused_parameters": True}


# -------------------------------------------------------------------------------------------------
# width sweep and BN calibration
# -------------------------------------------------------------------------------------------------

def test_width_sweep_writes_table_and_plot(tmp_path) -> None:
    # the module scores x0.25 and x1.0; the callback evaluates x0.5 itself
    model = _model(widths=[0.25, 0.5, 1.0], eval_widths=[0.25, 1.0])
    sweep = WidthSweep(input_size=(64, 64), latency_size=(32, 32), latency_reps=1, latency_warmup=0)
    trainer = _trainer(tmp_path, callbacks=[sweep])
    trainer.validate(model, dataloaders=_loader())
    metrics = trainer.callback_metrics
    assert {"val_miou_w0.25", "val_miou_w1.0", "val_miou", "val_miou_mean"} <= set(metrics)
    assert "val_miou_w0.5" not in metrics
    assert metrics["val_miou"] == metrics["val_miou_w1.0"]

    for suffix in ("md", "csv", "png"):
        assert (tmp_path / f"width_sweep_val.{suffix}").is_file(), suffix
    rows = list(csv.DictReader(open(tmp_path / "width_sweep_val.csv")))
    assert [float(r["width"]) for r in rows] == [1.0, 0.5, 0.25]
    assert all(r["miou"] and 0 <= float(r["miou"]) <= 1 for r in rows)
    assert float(rows[0]["miou"]) == pytest.approx(float(metrics["val_miou_w1.0"]), abs=1e-6)
    assert float(rows[2]["miou"]) == pytest.approx(float(metrics["val_miou_w0.25"]), abs=1e-6)
    gmac = [float(r["gmac"]) for r in rows]
    assert gmac == sorted(gmac, reverse=True) and gmac[-1] < gmac[0] / 8  # ~ width^2
    params = [float(r["params_m"]) for r in rows]
    assert params == sorted(params, reverse=True) and params[0] == pytest.approx(12.87, abs=0.01)  # Table 2.2
    assert all(float(r["latency_ms"]) > 0 for r in rows)
    assert "x0.25" in (tmp_path / "width_sweep_val.md").read_text()
    assert (tmp_path / "width_sweep_val_history.csv").is_file()


def test_bn_calibration_is_idempotent_and_per_width(tmp_path) -> None:
    model = _model()
    batches = [torch.stack([s["input"] for s in _samples(2, seed=i)]) for i in range(2)]

    def stats() -> list[torch.Tensor]:
        return [t.clone() for m in model.network.modules() if isinstance(m, SwitchableBatchNorm2d)
                for bn in m.bn for t in (bn.running_mean, bn.running_var)]

    before = stats()
    model.eval()
    calibrate_bn(model, batches, num_batches=2)
    first = stats()
    calibrate_bn(model, batches, num_batches=2)
    second = stats()
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert any(not torch.equal(a, b) for a, b in zip(before, first))
    assert not model.training and get_width(model.network) == 1.0
    # the first (stem) BN at width 1.0 holds the exact mean over both batches of its input channels
    bn = next(m for m in model.network.modules() if isinstance(m, SwitchableBatchNorm2d)).bn[-1]
    assert int(bn.num_batches_tracked) == 2 and bn.momentum == 0.1

    # as a callback: validation uses (and checkpoints store) the calibrated statistics
    model = _model()
    cal = BNCalibration(num_batches=1)
    trainer = _trainer(tmp_path, max_steps=1, callbacks=[cal])
    trainer.fit(model, train_dataloaders=_loader(), val_dataloaders=_loader())
    bn = next(m for m in model.network.modules() if isinstance(m, SwitchableBatchNorm2d)).bn[0]
    assert int(bn.num_batches_tracked) == 1  # reset and one calibration batch at x0.25
    assert math.isfinite(float(trainer.callback_metrics["val_miou"]))
