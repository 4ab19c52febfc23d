"""Tests of the ``wiconet`` method (lightning_modules/wiconet.py): loss, context, resizing, optimiser."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from semcolor.lightning_modules.wiconet import WiCoNetModule, masked_cross_entropy
from semcolor.registry import METHODS

SMALL = dict(num_classes=7, local_size=32, context_size=96, dim=32, depth=1, heads=2, mlp_dim=64)


@pytest.fixture(scope="module")
def module() -> WiCoNetModule:
    torch.manual_seed(0)
    return WiCoNetModule(**SMALL)


def _batch(n: int = 2, size: int = 32, context: bool = False) -> dict:
    g = torch.Generator().manual_seed(n)
    batch = {"input": torch.rand(n, 3, size, size, generator=g), "seg": torch.randint(0, 7, (n, size, size), generator=g)}
    if context:
        batch["context"] = torch.rand(n, 3, 3 * size, 3 * size, generator=g)
    return batch


def test_registered():
    assert METHODS.get("wiconet") is WiCoNetModule


def test_param_count_at_the_gid_setting():
    with torch.device("meta"):
        m = WiCoNetModule(num_classes=16, in_channels=3)
    n = sum(p.numel() for p in m.parameters())
    print(f"wiconet (RGB, 16 classes, 256/768): {n:,} parameters")
    assert n == 39_077_408 - 64 * 7 * 7 - 64 * 3 * 3  # the 4-band pin of tests/test_wiconet.py minus one band


def test_loss_is_main_plus_decaying_aux(module, monkeypatch):
    module.train()
    batch = _batch()
    out = module(batch["input"])
    assert out.aux is not None
    losses = module.compute_loss(out, batch)
    assert torch.allclose(losses["loss"], losses["main_loss"] + losses["aux_loss"])  # t = 0: weight (1 - 0)^2 = 1
    monkeypatch.setattr(module, "progress", lambda: 0.5)
    assert torch.allclose(module.compute_loss(out, batch)["loss"], losses["main_loss"] + 0.25 * losses["aux_loss"])
    monkeypatch.setattr(module, "progress", lambda: 1.0)
    assert torch.allclose(module.compute_loss(out, batch)["loss"], losses["main_loss"])


def test_aux_target_is_the_local_window_at_the_centre(module):
    seg = torch.arange(32 * 32).view(1, 32, 32) % 7
    target, span = module.aux_target(seg, aux_size=24)  # context 96 / 4 = 24, local 32 / 4 = 8
    assert target.shape == (1, 8, 8) and span == slice(8, 16)
    assert torch.equal(target[0], seg[0, ::4, ::4])


def test_all_unlabelled_patch_gives_zero_loss_and_finite_gradients(module):
    module.train()
    module.zero_grad()
    batch = _batch()
    batch["seg"].zero_()
    losses = module.compute_loss(module(batch["input"]), batch)
    assert losses["loss"].item() == 0.0
    losses["loss"].backward()
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_masked_cross_entropy_matches_torch_and_is_safe():
    logits = torch.randn(2, 5, 4, 4)
    target = torch.randint(0, 5, (2, 4, 4))
    weight = torch.tensor([0.0, 1.0, 2.0, 0.5, 1.0])
    assert torch.allclose(masked_cross_entropy(logits, target, 0), F.cross_entropy(logits, target, ignore_index=0))
    assert torch.allclose(
        masked_cross_entropy(logits, target, 0, weight), F.cross_entropy(logits, target, weight=weight, ignore_index=0)
    )
    per_pixel = F.cross_entropy(logits, target, ignore_index=0, reduction="none")
    assert torch.allclose(masked_cross_entropy(logits, target, 0, normalise="all"), per_pixel.sum() / target.numel())
    assert torch.isnan(F.cross_entropy(logits, torch.zeros_like(target), ignore_index=0))  # why it exists
    for norm in ("valid", "all"):
        assert masked_cross_entropy(logits, torch.zeros_like(target), 0, normalise=norm).item() == 0.0


def test_context_from_the_batch_is_used(module):
    module.eval()
    batch = _batch(context=True)
    with torch.no_grad():
        own = module(batch["input"]).logits
        with module._context_of(batch):
            with_ctx = module(batch["input"]).logits
    assert with_ctx.shape == own.shape == (2, 7, 32, 32)
    assert not torch.allclose(own, with_ctx)
    assert module._batch_context is None  # cleared after the step


def test_other_window_sizes_are_resized(module):
    module.eval()
    with torch.no_grad():
        out = module(torch.rand(2, 3, 64, 64))
    assert out.logits.shape == (2, 7, 64, 64)
    module.train()
    batch = _batch(size=64)
    losses = module.compute_loss(module(batch["input"]), batch)
    assert torch.isfinite(losses["loss"])


def test_training_uses_sgd_nesterov_with_poly_decay(tmp_path):
    torch.manual_seed(0)
    m = WiCoNetModule(**SMALL)
    data = [_batch(1)] * 3
    loader = DataLoader([{k: v[0] for k, v in b.items()} for b in data], batch_size=2)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(m, train_dataloaders=loader)
    opt = trainer.optimizers[0]
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert group["nesterov"] and group["momentum"] == 0.9 and group["weight_decay"] == 5e-4
    sched = trainer.lr_scheduler_configs[0]
    assert isinstance(sched.scheduler, torch.optim.lr_scheduler.PolynomialLR) and sched.interval == "step"
    assert sched.scheduler.power == 1.5
    assert group["lr"] < 0.1 * 0.5  # 4 steps of 4 planned: (1 - 3/4)^1.5 * 0.1 at the last step
    assert m.progress() == 1.0
