"""Tests of the ``secbnet`` method (lightning_modules/secbnet.py): frozen segmentation module, losses,
checkpoints, shapes, parameter counts, and the CLI test runs (stitched scenes, GID balance test)."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.secbnet import (
    RandomSegmentationModuleWarning,
    SECBNetModule,
    frozen_parameters,
    trainable_parameters,
)
from semcolor.lightning_modules.wiconet import masked_cross_entropy
from semcolor.registry import METHODS
from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED

#: a WiCoNet small enough for CPU tests (the ResNet-50 trunk stays; it is cheap at 32 px)
SMALL_SEG = {"local_size": 32, "context_size": 96, "dim": 32, "depth": 1, "heads": 2, "mlp_dim": 64}
SMALL = {"base_channels": 8, "seg_num_classes": 7, "seg_network": SMALL_SEG}
#: CLI overrides giving the same small model
SMALL_CLI = [
    "--model.init_args.base_channels=8",
    "--model.init_args.seg_checkpoint=null",
    "--model.init_args.seg_network=" + json.dumps(SMALL_SEG),
]

# Regression pins: trainable parameters = the generator's (paper widths), per Table V variant.
PAPER_TRAINABLE = {None: 32_270_403, 64: 32_428_739}
#: the frozen WiCoNet at SECBNet's setting (RGB, 16 classes, 256 / 768 windows)
PAPER_FROZEN = 39_073_696


_CACHE: dict[str, SECBNetModule] = {}


def small(**kw) -> SECBNetModule:
    """A fresh test-size SECBNet (default settings: a copy of one cached instance; building the ResNet-50
    trunk of WiCoNet costs a second or two, copying it a fraction of that)."""
    if not kw and "default" in _CACHE:
        return copy.deepcopy(_CACHE["default"])
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomSegmentationModuleWarning)
        m = SECBNetModule(**{**SMALL, **kw})
    if not kw:
        _CACHE["default"] = copy.deepcopy(m)
    return m


def batch(n: int = 2, size: int = 32, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 3, size, size, generator=g)
    return {"input": (0.7 * target + 0.2).clamp(0, 1), "target": target}


@pytest.fixture(scope="module")
def module() -> SECBNetModule:
    return small()  # shared by tests that do not change it


def test_registered():
    assert METHODS.get("secbnet") is SECBNetModule


@pytest.mark.parametrize("seg_depth", list(PAPER_TRAINABLE))
def test_param_counts_pinned(seg_depth):
    with warnings.catch_warnings(), torch.device("meta"):  # structure only: no memory, no init time
        warnings.simplefilter("ignore", RandomSegmentationModuleWarning)
        m = SECBNetModule(seg_depth=seg_depth)  # paper widths, 16-class WiCoNet at 256 / 768
    n, frozen = trainable_parameters(m), frozen_parameters(m)
    print(f"SECBNet(seg_depth={seg_depth}): generator {n:,} trainable, segmentation module {frozen:,} frozen")
    assert n == PAPER_TRAINABLE[seg_depth] == m.network.param_count()
    assert frozen == (PAPER_FROZEN if seg_depth is not None else 0)
    assert (m.seg_module is None) == (seg_depth is None)


def test_small_config_param_count(module):
    n = trainable_parameters(module)
    print(f"test-size SECBNet (base 8, Seg64): {n:,} trainable, {frozen_parameters(module):,} frozen")
    assert n == module.network.param_count(trainable_only=True) == 509_019


@pytest.mark.parametrize("size", [(256, 256), (48, 80), (96, 64), (16, 16)])
def test_shapes_at_multiples_of_16(module, size):
    module.eval()
    with torch.no_grad():
        out = module(torch.rand(1, 3, *size))
    assert out.shape == (1, 3, *size)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("seg_depth", [None, 512])  # 64: the default, tested throughout; all: test_secbnet_networks
def test_seg_depths_train_one_step(seg_depth):
    m = small(seg_depth=seg_depth).train()
    b = batch()
    losses = m.compute_loss(m(b["input"]), b)
    assert set(losses) == ({"loss", "pix_loss"} if seg_depth is None else {"loss", "pix_loss", "seg_loss"})
    losses["loss"].backward()
    assert all(p.grad is not None for p in m.network.parameters())


def test_seg_loss_switch_independent_of_branch():
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore", RandomSegmentationModuleWarning)
        assert SECBNetModule(**SMALL, seg_depth=None, seg_loss=True).seg_module is not None
        m = SECBNetModule(**SMALL, seg_depth=64, seg_loss=False)
    assert not m.uses_seg_loss and m.network.seg_branch is not None


def test_loss_is_100_seg_plus_pix(module):
    module.train()
    b = batch()
    out = module(b["input"])
    losses = module.compute_loss(out, b)
    assert torch.allclose(losses["loss"], 100 * losses["seg_loss"] + losses["pix_loss"])
    assert torch.allclose(losses["pix_loss"], (out - b["target"]).abs().mean())
    # Eq. 3: CE over the non-ignored pixels, divided by all pixels N
    with torch.no_grad():
        t = module.seg_logits(b["target"]).argmax(1)
        logits = module.seg_logits(out)
    per_pixel = torch.nn.functional.cross_entropy(logits, t, reduction="none") * (t != 0)
    assert torch.allclose(losses["seg_loss"], per_pixel.sum() / t.numel())


def test_all_zero_target_classes_give_zero_seg_loss_and_finite_gradients():
    m = small().train()
    head = m.seg_module.module.classifier[3]
    with torch.no_grad():
        head.bias[0] = 1e4  # the frozen module now predicts class 0 ("unrecognised") everywhere
    b = batch()
    m.zero_grad()
    out = m(b["input"])
    losses = m.compute_loss(out, b)
    assert losses["seg_loss"].item() == 0.0
    assert torch.allclose(losses["loss"], losses["pix_loss"])
    losses["loss"].backward()
    grads = [p.grad for p in m.network.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    zeros = torch.zeros(2, 8, 8, dtype=torch.long)
    for norm in ("all", "valid"):
        assert masked_cross_entropy(torch.randn(2, 7, 8, 8), zeros, 0, torch.ones(7), norm).item() == 0.0


def test_class_weights_and_their_length(module):
    m = copy.deepcopy(module)
    m.hparams.class_weights = [0, 1, 1, 1, 1, 1, 5]
    m.configure_losses()
    assert torch.equal(m.seg_ce.weight, torch.tensor([0.0, 1, 1, 1, 1, 1, 5]))
    m.hparams.class_weights = [1, 1, 1]
    with pytest.raises(SemcolorError, match="class_weights has 3 values"):
        m.configure_losses()


def test_gradients_reach_the_generator_through_l_seg_only():
    m = small().train()
    m.hparams.pix_loss_weight = 0.0
    m.zero_grad()
    b = batch()
    losses = m.compute_loss(m(b["input"]), b)
    assert torch.allclose(losses["loss"], 100 * losses["seg_loss"]) and losses["seg_loss"] > 0
    losses["loss"].backward()
    gen = [p.grad for p in m.network.parameters()]
    assert all(g is not None for g in gen) and sum(g.abs().sum() for g in gen) > 0
    assert all(p.grad is None for p in m.seg_module.parameters())


def test_frozen_module_bit_identical_after_training(tmp_path):
    """Weights and BN running statistics of the segmentation module survive fit steps and validation."""
    m = small()
    before = {k: v.clone() for k, v in m.seg_module.state_dict().items()}
    gen_before = [p.detach().clone() for p in m.network.parameters()]
    samples = [{k: v[0] for k, v in batch(1, seed=i).items()} for i in range(4)]
    trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, limit_val_batches=1,
                         val_check_interval=1, num_sanity_val_steps=1)
    trainer.fit(m, DataLoader(samples, batch_size=2), DataLoader(samples, batch_size=2))
    after = m.seg_module.state_dict()
    assert before.keys() == after.keys()
    assert any("running_mean" in k for k in after)
    for k, v in before.items():
        assert torch.equal(v, after[k]), k
    assert not m.seg_module.module.training and all(not s.training for s in m.seg_module.module.modules())
    assert all(not p.requires_grad for p in m.seg_module.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(gen_before, m.network.parameters()))


def test_missing_seg_checkpoint_warns_loudly():
    with pytest.warns(RandomSegmentationModuleWarning, match="RANDOM"):
        SECBNetModule(**SMALL)


def _wiconet_state(num_classes: int) -> dict:
    """A WiCoNet state dict with SMALL_SEG settings (the test module's, heads cut to ``num_classes``)."""
    state = {k: v.clone() for k, v in small().seg_module.module.state_dict().items()}
    for head in ("classifier.3", "classifier_aux.3"):
        for p in ("weight", "bias"):
            state[f"{head}.{p}"] = (state[f"{head}.{p}"][:num_classes] + 0.5).clone()  # differ from the default
    return state


def test_plain_state_dict_checkpoint_loads(tmp_path):
    state = _wiconet_state(7)
    path = tmp_path / "wiconet.pt"
    torch.save(state, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomSegmentationModuleWarning)
        m = SECBNetModule(**SMALL, seg_checkpoint=str(path))
    for k, v in m.seg_module.module.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_lightning_wiconet_checkpoint_loads_with_its_network_settings(tmp_path):
    state = _wiconet_state(7)
    path = tmp_path / "best.ckpt"
    hp = {"_class_path": "semcolor.lightning_modules.wiconet.WiCoNetModule", "num_classes": 7, **SMALL_SEG}
    torch.save({"state_dict": {f"network.{k}": v for k, v in state.items()}, "hyper_parameters": hp}, path)
    m = small(seg_network=None, seg_checkpoint=str(path))  # network settings come from the checkpoint
    assert m.seg_module.module.local_size == 32
    assert torch.equal(m.seg_module.module.classifier[3].weight, state["classifier.3.weight"])


def test_secbnet_checkpoint_restores_its_segmentation_module(module):
    """A SECBNet checkpoint loads into a module configured with other WiCoNet settings (``make eval``)."""
    ckpt = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(ckpt)
    assert ckpt["secbnet_seg_network"]["dim"] == 32
    other = small(seg_network={**SMALL_SEG, "dim": 16})
    other.on_load_checkpoint(ckpt)  # Lightning calls this before load_state_dict
    other.load_state_dict(ckpt["state_dict"])
    assert other.seg_module.module.transformer.norm.weight.shape == (32,)
    assert all(not p.requires_grad for p in other.seg_module.parameters()) and not other.seg_module.module.training
    b = batch()
    module.eval(), other.eval()
    with torch.no_grad():
        assert torch.equal(module(b["input"]), other(b["input"]))


def test_checkpoint_for_other_class_count_is_a_clear_error(tmp_path):
    path = tmp_path / "wiconet_gid5.pt"
    torch.save(_wiconet_state(6), path)
    with pytest.raises(SemcolorError) as info:
        small(seg_checkpoint=str(path))
    msg = str(info.value)
    assert str(path) in msg and "6 classes" in msg and "expects 7" in msg


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "not found"), (b"garbage", "cannot read"), ({"foo": 1}, "neither"), ({"x.weight": torch.zeros(1)}, "no WiCoNet")],
)
def test_bad_seg_checkpoints(tmp_path, content, match):
    path = tmp_path / "seg.ckpt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(SemcolorError, match=match):
        small(seg_checkpoint=str(path))


def test_bad_seg_depth():
    with pytest.raises(SemcolorError, match="seg_depth"):
        small(seg_depth=32)


def test_sample_panels_include_the_seg_map(module):
    b = batch()
    module.eval()
    with torch.no_grad():
        panels = module.sample_panels(b, module(b["input"]))
    assert len(panels) == 4 and all(p.shape == (2, 3, 32, 32) for p in panels.values())
    assert list(panels) == ["input", "seg map (seg input)", "output", "target"]  # the grid's column names


# --- through the CLI ------------------------------------------------------------------------------------
def test_cli_test_writes_stitched_results(tmp_path, capsys):
    """`semcolor test` on the embedded data: tile metrics, stitched scenes with / without blending, a table."""
    args = ["test", "--method", "secbnet", "--data", "embedded", *TINY_EMBEDDED, *SMALL_CLI,
            "--trainer.limit_test_batches=1", "--trainer.logger=false", "--run_name", "eval",
            "--model.init_args.stitch_overlap=16"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    run = Path(tmp_path / "ckpts" / "secbnet" / "eval")
    table = (run / "results.md").read_text()
    data = json.loads((run / "results.json").read_text())
    assert "Stitched scenes" in table and "weighted average" in table and "overlap R 16" in table
    modes = {r["mode"].split(",")[0] for r in data["stitched"]}
    assert {"tiles side by side (R = 0)", "overlap R", "identity (input scene)"} <= modes
    assert {r["metric"] for r in data["tiles"]} == {"psnr", "ssim", "delta_e"}
    assert all(r["identity"] is not None for r in data["tiles"])


def test_cli_gid_balance_test_fast_dev_run(tmp_path, capsys):
    """secbnet x gid (colour-balance test on tiles of a true-colour scene, no retraining)."""
    from tests.fakes.remote_sensing import make_fake_gid, make_fake_scene_pair

    gid = make_fake_gid(tmp_path / "gid", n_scenes=2)
    pair = make_fake_scene_pair(tmp_path / "pair", size=(130, 140))
    args = ["test", "--method", "secbnet", "--data", "gid", *SMALL_CLI, "--model.init_args.seg_num_classes=16",
            f"--data.init_args.root={gid.root}", f"--data.init_args.balance_scene={pair.input}",
            f"--data.init_args.balance_target={pair.target}", "--data.init_args.patch_size=64",
            "--trainer.fast_dev_run=true", "--trainer.logger=false"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "test_psnr" in out or "psnr" in out
