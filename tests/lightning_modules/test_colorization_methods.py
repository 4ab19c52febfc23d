"""The GAN colorization methods (pix2pix, dcgan, jsdcgan): one training step, losses, configs, results table."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml
from torch import nn
from torch.utils.data import DataLoader

from semcolor.cli.results_table import evaluate_run, markdown_table, read_run
from semcolor.cli.results_table import main as table_main
from semcolor.lightning_modules.base import ImageToImageModule
from semcolor.lightning_modules.colorization import (
    DCGANModule,
    JSDCGANModule,
    Pix2PixModule,
)
from semcolor.run_files import write_test_metrics
from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED

SIZE = 32
TINY = dict(depth=3, base_channels=4, d_base_channels=4, dropout=0.0)


def tiny(method: str, **kwargs) -> pl.LightningModule:
    if method == "pix2pix":
        return Pix2PixModule(**TINY, d_layers=2, **kwargs)
    if method == "dcgan":
        return DCGANModule(**TINY, d_layers=3, image_size=SIZE, **kwargs)
    return JSDCGANModule(**TINY, d_layers=3, image_size=SIZE, **kwargs)


def batch(n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(n, 3, SIZE, SIZE, generator=g)
    return {"input": (0.2126 * y[:, :1] + 0.7152 * y[:, 1:2] + 0.0722 * y[:, 2:]), "target": y}


class OneBatch(torch.utils.data.Dataset):
    def __init__(self, b: dict[str, torch.Tensor]) -> None:
        self.b = b

    def __len__(self) -> int:
        return self.b["input"].shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.b.items()}


def one_step(module: pl.LightningModule, b: dict[str, torch.Tensor]) -> None:
    """Exactly one training step on batch ``b`` through a real Trainer."""
    trainer = pl.Trainer(max_steps=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         accelerator="cpu")
    trainer.fit(module, DataLoader(OneBatch(b), batch_size=len(OneBatch(b)), shuffle=False))


def params(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


@pytest.mark.parametrize("method", ["pix2pix", "dcgan", "jsdcgan"])
def test_one_training_step_steps_both_optimisers(method: str) -> None:
    module = tiny(method)
    assert module.automatic_optimization is False
    g0, d0 = params(module.network), params(module.discriminator)
    one_step(module, batch())
    # every parameter tensor of G and of D moved (Adam moves each one with a nonzero gradient)
    moved_g = sum(not torch.equal(a, p) for a, p in zip(g0, module.network.parameters()))
    moved_d = sum(not torch.equal(a, p) for a, p in zip(d0, module.discriminator.parameters()))
    assert moved_g >= 0.9 * len(g0) and moved_d >= 0.9 * len(d0), (moved_g, len(g0), moved_d, len(d0))
    # toggle_optimizer / untoggle_optimizer left every parameter trainable
    assert all(p.requires_grad for p in module.parameters())
    opt_g, opt_d = module.trainer.optimizers
    assert {id(p) for p in opt_g.param_groups[0]["params"]} == {id(p) for p in module.network.parameters()}
    assert {id(p) for p in opt_d.param_groups[0]["params"]} == {id(p) for p in module.discriminator.parameters()}


@pytest.mark.parametrize("method", ["pix2pix", "jsdcgan"])
def test_step_order_d_on_pre_step_fake_then_g_against_updated_d(method: str) -> None:
    """Reference computed by hand: D's update uses G's output *before* G steps; G's update then uses the
    updated D (pix2pix order). A G-first order, or a fake recomputed after G's step, would not match."""
    module = tiny(method)
    ref = copy.deepcopy(module)
    b = batch()
    x, y = b["input"], b["target"]
    hp = module.hparams
    opt_g = torch.optim.Adam(ref.network.parameters(), lr=hp.lr, betas=tuple(hp.betas))
    opt_d = torch.optim.Adam(ref.discriminator.parameters(), lr=hp.lr, betas=tuple(hp.betas))
    ref.train()
    fake = ref.network(x)
    conds = ref.conditions(x)
    r, f = ref.discriminator(y, *conds), ref.discriminator(fake.detach(), *conds)
    loss_d = 0.5 * (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                    + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    for p in ref.discriminator.parameters():
        p.requires_grad_(False)
    g = ref.discriminator(fake, *conds)
    loss_g = F.binary_cross_entropy_with_logits(g, torch.ones_like(g)) + 100.0 * (fake - y).abs().mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()

    one_step(module, b)
    for name, a, e in [("D", module.discriminator, ref.discriminator), ("G", module.network, ref.network)]:
        for (n, p), q in zip(a.named_parameters(), e.parameters()):
            torch.testing.assert_close(p.detach(), q.detach(), atol=1e-6, rtol=1e-5, msg=f"{name}.{n}")


def test_discriminator_loss_detaches_fake_and_is_eq4() -> None:
    module = tiny("jsdcgan")
    b = batch()
    fake = module(b["input"])
    d = module.discriminator_loss(b["input"], b["target"], fake)
    d["loss"].backward()
    assert all(p.grad is None for p in module.network.parameters()), "gradient reached G through D's loss"
    assert all(p.grad is not None for p in module.discriminator.parameters())
    # Eq. 4 as a minimisation: 0.5 * (-log D(y|c) - log(1 - D(G(x)|c)))
    with torch.no_grad():
        r = module.discriminate(b["target"], b["input"])
        f = module.discriminate(fake, b["input"])
    module.discriminator.train()  # discriminate() above ran in train mode too; BN batch statistics match
    expected = 0.5 * (-F.logsigmoid(r).mean() - F.logsigmoid(-f).mean())
    torch.testing.assert_close(d["loss"].detach(), expected, atol=1e-5, rtol=1e-5)


def test_generator_loss_is_eq3(monkeypatch: pytest.MonkeyPatch) -> None:
    module = tiny("dcgan", lambda_l1=7.0, adversarial_weight=0.5)
    b = batch()
    fake = torch.rand_like(b["target"])
    monkeypatch.setattr(module, "discriminate", lambda y, x: torch.full((y.shape[0], 1), 2.0))
    g = module.generator_loss(b["input"], fake, b["target"])
    adv = -math.log(torch.sigmoid(torch.tensor(2.0)).item())  # -log D(G(x))
    l1 = (fake - b["target"]).abs().mean().item()
    assert g["adv"].item() == pytest.approx(adv, rel=1e-5)
    assert g["loss"].item() == pytest.approx(0.5 * adv + 7.0 * l1, rel=1e-5)


def test_real_label_smoothing_and_g_steps() -> None:
    module = tiny("pix2pix", real_label=0.9, g_steps=2)
    b = batch()
    logits = torch.zeros(2, 1)
    assert module._bce(logits, 0.9).item() == pytest.approx(math.log(2), rel=1e-6)  # BCE at 0.5 is log 2 for any target
    calls = []
    forward = module.forward
    module.forward = lambda x: (calls.append(1), forward(x))[1]  # type: ignore[method-assign]
    one_step(module, b)
    assert len(calls) == 2  # one fake for D + first G step, one more for the second G step
    with pytest.raises(ValueError, match="g_steps"):
        tiny("pix2pix", g_steps=0)


def test_jsdcgan_discriminator_conditions() -> None:
    joint, single = tiny("jsdcgan"), tiny("jsdcgan", ablation="single_stream")
    x = batch()["input"]
    c = joint.conditions(x)
    assert len(c) == 2 and torch.equal(c[0], x)
    torch.testing.assert_close(c[1], F.avg_pool2d(x, 2))
    assert joint.discriminator.condition_channels == (1, 1)
    assert len(single.conditions(x)) == 1 and single.discriminator.condition_channels == (1,)
    assert not single.network.joint_stream
    for m in (joint, single):
        assert m(x).shape == (4, 3, SIZE, SIZE)
    with pytest.raises(ValueError, match="unknown ablation"):
        JSDCGANModule(ablation="nope")


def test_dcgan_discriminator_size_mismatch_names_the_option() -> None:
    module = tiny("dcgan")
    b = batch()
    y = F.interpolate(b["target"], size=2 * SIZE)
    with pytest.raises(ValueError, match="image_size"):
        module.discriminate(y, F.interpolate(b["input"], size=2 * SIZE))
    # evaluation never runs D: any size works, the generator pads to its stride
    module.eval()
    with torch.no_grad():
        assert module(torch.rand(1, 1, 40, 24)).shape == (1, 3, 40, 24)


def test_gan_validation_step_logs_colorization_metrics() -> None:
    module = tiny("pix2pix")
    assert {"acc2", "acc5", "psnr", "ssim", "delta_e"} <= set(module.val_metrics.keys(keep_base=True)) | {
        k.removeprefix("val_") for k in module.val_metrics.keys()}
    out = module.compute_loss(torch.zeros(1, 3, 4, 4), {"target": torch.ones(1, 3, 4, 4)})
    assert out["loss"].item() == pytest.approx(1.0)  # validation loss is the L1 term only


class _Tiny(ImageToImageModule):
    def __init__(self, metrics: str = "auto", in_channels: int = 3) -> None:
        super().__init__(metrics=metrics)

    def configure_models(self) -> None:
        self.network = nn.Conv2d(self.hparams.in_channels, 3, 1)


def test_image_to_image_metrics_option() -> None:
    names = lambda m: {k.removeprefix("val_") for k in m.val_metrics.keys()}  # noqa: E731
    assert "acc2" not in names(_Tiny("image", 1)) and "psnr" in names(_Tiny("image", 1))
    assert {"acc2", "acc5"} <= names(_Tiny("colorization", 3))
    assert {"acc2", "acc5"} <= names(_Tiny("auto", 1)) and "acc2" not in names(_Tiny("auto", 3))
    with pytest.raises(ValueError, match="metrics must be"):
        _Tiny("colour")


ABLATION_FILES = {"single": "single_stream", "joint": "joint_stream", "concat": "js_concat", "lcfe": "js_lcfe",
                  "gsm": "js_lcfe_gsm"}


@pytest.mark.parametrize("data", ["aid", "nwpu", "embedded"])
def test_ablation_configs_parse(data: str) -> None:
    root = Path(__file__).resolve().parents[2] / "experiments" / "jsdcgan"
    flags = []
    for suffix, row in ABLATION_FILES.items():
        cfg = yaml.safe_load((root / f"{data}-{suffix}.yaml").read_text())
        assert cfg["model"]["class_path"] == "semcolor.lightning_modules.colorization.JSDCGANModule"
        args = dict(cfg["model"]["init_args"])
        assert args["ablation"] == row
        if data != "embedded":  # paper sizes: build a tiny copy
            args.update(depth=4, base_channels=4, d_base_channels=4, d_layers=4, image_size=64)
        net = JSDCGANModule(**args).network
        flags.append((net.joint_stream, getattr(net, "macro_shortcut", False), net.use_lcfe, net.fusion))
        assert net(torch.rand(1, 1, 64, 64)).shape == (1, 3, 64, 64)
    assert flags == [(False, False, False, "concat"), (True, False, False, "concat"), (True, True, False, "concat"),
                     (True, True, True, "concat"), (True, True, True, "gsm")]


def test_paper_and_lr_configs() -> None:
    root = Path(__file__).resolve().parents[2] / "experiments" / "jsdcgan"
    for data in ("aid", "nwpu"):
        paper = yaml.safe_load((root / f"{data}.yaml").read_text())
        usual = yaml.safe_load((root / f"{data}-lr2e-4.yaml").read_text())
        assert paper["model"]["init_args"]["lr"] == 0.003 and paper["data"]["init_args"]["batch_size"] == 8
        assert paper["trainer"]["max_epochs"] == 30 and paper["model"]["init_args"]["lambda_l1"] == 100
        assert usual["model"]["init_args"]["lr"] == 0.0002 and usual["model"]["init_args"]["betas"] == [0.5, 0.999]


def _experiment(method: str, name: str) -> dict:
    return yaml.safe_load((Path(__file__).resolve().parents[2] / "experiments" / method / f"{name}.yaml").read_text())


@pytest.mark.parametrize("data", ["aid", "nwpu", "embedded"])
def test_single_stream_ablation_is_the_dcgan_run(data: str) -> None:
    """Wang et al. 2022 print identical numbers for DCGAN (Tables 1-2) and the single-stream ablation
    (Tables 3-4): one run. Our two configs must train the same module the same way: same data and trainer,
    same hyper-parameters, the same weights at the same seed and the same weights after a training step."""
    dcgan, single = _experiment("dcgan", data), _experiment("jsdcgan", f"{data}-single")
    assert dcgan["data"] == single["data"] and dcgan["trainer"] == single["trainer"]
    a_args, b_args = dict(dcgan["model"]["init_args"]), dict(single["model"]["init_args"])
    assert b_args.pop("ablation") == "single_stream" and b_args.pop("d_arch") == "dcgan"
    assert a_args.pop("g_steps", 1) == b_args.pop("g_steps", 1) == 1
    assert a_args == b_args
    shrink = dict(depth=3, base_channels=4, d_base_channels=4, d_layers=3, image_size=SIZE, dropout=0.0)
    torch.manual_seed(0)
    a = DCGANModule(**{**a_args, **shrink})
    torch.manual_seed(0)
    b = JSDCGANModule(ablation="single_stream", **{**b_args, **shrink})
    for name in ("lr", "betas", "lambda_l1", "g_steps", "lr_d", "adversarial_weight", "real_label"):
        assert a.hparams[name] == b.hparams[name], name
    pa, pb = list(a.parameters()), list(b.parameters())
    assert len(pa) == len(pb) and all(torch.equal(x, y) for x, y in zip(pa, pb))
    bt, before = batch(), params(a)
    torch.manual_seed(1)
    one_step(a, bt)
    torch.manual_seed(1)
    one_step(b, bt)
    assert any(not torch.equal(x, y) for x, y in zip(before, a.parameters()))  # the step did something
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_dcgan_paper_and_nazeri_configs() -> None:
    for data in ("aid", "nwpu"):
        paper, nazeri = _experiment("dcgan", data)["model"]["init_args"], _experiment("dcgan", f"{data}-nazeri")
        assert (paper["lr"], paper["betas"], paper["g_steps"]) == (0.003, [0.9, 0.999], 1)
        nz = nazeri["model"]["init_args"]
        assert (nz["lr"], nz["betas"], nz["g_steps"]) == (0.0002, [0.5, 0.999], 2)


def _fake_trainer(tmp_path: Path, acc2: float) -> SimpleNamespace:
    metrics = {"test_acc2": torch.tensor(acc2), "test_acc5": torch.tensor(0.8), "test_psnr": torch.tensor(25.0),
               "test_ssim": torch.tensor(0.9), "test_delta_e": torch.tensor(3.0), "test_loss": torch.tensor(0.1),
               "test_identity_acc2": torch.tensor(0.01), "val_psnr": torch.tensor(1.0), "test_vec": torch.ones(3)}
    return SimpleNamespace(callback_metrics=metrics, default_root_dir=str(tmp_path), fast_dev_run=False,
                           is_global_zero=True, ckpt_path=None, lightning_module=None)


def test_results_table_from_written_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for method, acc2 in (("unet", 0.2), ("jsdcgan", 0.3)):
        run = tmp_path / "ckpts" / method / "aid-test-20250101-000000"
        path = write_test_metrics(_fake_trainer(run, acc2), run)
        assert path == run / "test_metrics.json"
        saved = json.loads(path.read_text())["metrics"]
        assert "val_psnr" not in saved and "test_vec" not in saved and saved["test_acc2"] == pytest.approx(acc2)
    assert write_test_metrics(SimpleNamespace(**{**vars(_fake_trainer(tmp_path, 0.1)), "fast_dev_run": 1})) is None
    r = read_run(tmp_path / "ckpts" / "jsdcgan" / "aid-test-20250101-000000")
    assert r.method == "jsdcgan" and r.metrics["acc2"] == pytest.approx(0.3) and r.identity["acc2"] == pytest.approx(0.01)
    assert "| jsdcgan | aid-test-20250101-000000 | 30.00 | 80.00 | 25.00 | 0.9000 | 3.00 |" in markdown_table([r], "aid")
    assert table_main(["--data", "aid", "--ckpts", str(tmp_path / "ckpts")]) == 0
    table = (tmp_path / "ckpts" / "results-aid.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in rows[1:3]] == ["unet", "jsdcgan"]  # the paper's row order
    assert "| paper: JSDCGAN | Wang et al. 2022 | 28.64 | 82.02 |" in table and "identity (gray input)" in table
    assert table_main(["--data", "nwpu", "--ckpts", str(tmp_path / "ckpts")]) == 1  # nothing for nwpu


def test_fit_test_and_table_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CLI fit (1 step) -> CLI test writes test_metrics.json -> the table; evaluate_run on the fit run."""
    common = ["--method", "pix2pix", "--data", "embedded", *TINY_EMBEDDED, "--trainer.logger=false",
              "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1",
              "--model.init_args.depth=4", "--model.init_args.base_channels=4", "--model.init_args.d_base_channels=4"]
    code, _, err = run_cli(["fit", *common, "--trainer.max_steps=1", "--run_name=fit"], capsys)
    assert code == 0, err
    fit_run = Path(tmp_path / "ckpts" / "pix2pix" / "fit")
    assert (fit_run / "last.ckpt").is_file() and (fit_run / "config.yaml").is_file()
    code, _, err = run_cli(["test", *common, f"--ckpt_path={fit_run / 'last.ckpt'}", "--run_name=embedded-test-x"], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "ckpts" / "pix2pix" / "embedded-test-x" / "test_metrics.json").read_text())
    assert {"test_acc2", "test_acc5", "test_psnr"} <= set(metrics["metrics"])
    assert table_main(["--data", "embedded", "--methods", "pix2pix"]) == 0
    assert "| pix2pix | embedded-test-x |" in capsys.readouterr().out
    path = evaluate_run(fit_run, accelerator="cpu")
    again = json.loads(path.read_text())["metrics"]
    assert again["test_psnr"] == pytest.approx(metrics["metrics"]["test_psnr"], rel=1e-4)


@pytest.mark.parametrize("name", ["pix2pix", "dcgan", "jsdcgan"])
def test_gan_checkpoint_rebuilds_with_its_hparams(tmp_path, name) -> None:
    """The GAN methods pass their optimiser options on through ``**kwargs``: a checkpoint must still
    rebuild the same module (hparams limited to what the class chain accepts)."""
    import pytorch_lightning as pl

    from semcolor.lightning_modules.base import accepted_init_args
    from semcolor.registry import METHODS

    cls = METHODS.get(name)
    kwargs = {"depth": 6, "base_channels": 16, "g_steps": 2, "lr": 1e-3}
    if name != "pix2pix":
        kwargs.update(d_layers=4, image_size=64)
    module = cls(**kwargs)
    accepted = accepted_init_args(cls)
    assert accepted is not None and {"lr", "g_steps", "depth"} <= accepted and "metrics" not in accepted
    assert set(module.hparams) <= accepted
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "gan.ckpt")
    rebuilt = cls.load_from_checkpoint(tmp_path / "gan.ckpt", weights_only=False)
    assert dict(rebuilt.hparams) == dict(module.hparams) and rebuilt.hparams.lr == 1e-3
