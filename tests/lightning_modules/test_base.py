"""The bases: nodata pixels (batch["valid"]) scored as perfect, the shared steps, constructor arguments."""

import warnings

import pytest
import torch
from torch import nn

from semcolor.lightning_modules.base import ImageToImageModule, SegmentationModule, score_valid_only


class Inverting(ImageToImageModule):
    """Returns 1 - input: wrong everywhere the target equals the input."""

    def configure_models(self) -> None:
        self.network = nn.Identity()

    def forward(self, x):  # type: ignore[override]
        return 1 - x


def _scores(batch: dict) -> tuple[float, float]:
    m = Inverting(train_metrics=False)
    with warnings.catch_warnings():  # self.log without a Trainer only warns
        warnings.simplefilter("ignore")
        m._evaluate(batch, "val")
    return float(m.val_metrics.compute()["val_psnr"]), float(m.val_identity.compute()["val_identity_psnr"])


def test_nodata_pixels_score_as_perfect_for_model_and_identity():
    y = torch.rand(2, 3, 16, 16) * 0.8 + 0.1
    x = y.clone()
    x[:, :, :, :8] = 1 - y[:, :, :, :8]  # the model (1 - x) is right only on the left half
    valid = torch.zeros(2, 16, 16, dtype=torch.bool)
    valid[:, :, :8] = True
    model, identity = _scores({"input": x, "target": y, "valid": valid})
    assert model > 100 and identity < 30  # left half: the model is exact, the input is not
    model, identity = _scores({"input": x, "target": y, "valid": ~valid})
    assert identity > 100 and model < 30  # right half: the input is exact, the model is not
    model, identity = _scores({"input": x, "target": y})
    assert model < 30 and identity < 30  # no mask: every pixel counts


def test_score_valid_only_without_mask_is_a_no_op():
    out = torch.rand(1, 3, 4, 4)
    assert score_valid_only(out, {"input": out, "target": out * 0}) is out


# ------------------------------------------------------------------------------------------------
# constructor arguments: options passed on through **kwargs, networks built from the hparams
# ------------------------------------------------------------------------------------------------
_SMALL_WICONET = {"local_size": 32, "context_size": 96, "dim": 32, "depth": 1, "heads": 2, "mlp_dim": 64}
#: per method: constructor arguments (own and passed on through **kwargs) that differ from the defaults
_REBUILD = {
    "unet": {"decoder_channels": (16, 8, 8, 8, 8), "lr": 3e-4, "lr_step_epochs": 2, "train_metrics": False},
    "s2color": {"base_channels": 8, "depth": 3, "lambda_m": 0.5, "lambda_l": 0.5, "lambda_f": 0.0, "lr": 2e-3,
                "betas": (0.5, 0.9)},
    "secbnet": {"base_channels": 8, "seg_network": _SMALL_WICONET, "lr": 1e-3, "lr_gamma": 0.5},
    "wiconet": {**_SMALL_WICONET, "num_classes": 5, "lr": 0.5, "momentum": 0.7, "weight_decay": 1e-3},
}


@pytest.mark.parametrize("name", sorted(_REBUILD))
def test_checkpoint_rebuilds_with_the_options_passed_on_through_kwargs(tmp_path, name):
    """unet / s2color / secbnet / wiconet list only their own arguments and pass the optimiser options on
    through ``**kwargs`` (as the GAN methods): the options reach ``hparams`` and the optimiser, and a
    checkpoint rebuilds the same module."""
    import pytorch_lightning as pl

    from semcolor.lightning_modules.base import accepted_init_args
    from semcolor.registry import METHODS

    cls, kwargs = METHODS.get(name), _REBUILD[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # secbnet's random segmentation module
        module = cls(**kwargs)
    accepted = accepted_init_args(cls)
    assert accepted is not None and set(kwargs) <= accepted and set(module.hparams) <= accepted
    for key, value in kwargs.items():
        assert module.hparams[key] == value, key
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, max_epochs=-1, max_steps=10)
    trainer.strategy.connect(module)
    module.trainer = trainer
    opt = module.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    assert opt.param_groups[0]["lr"] == kwargs["lr"]
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rebuilt = cls.load_from_checkpoint(tmp_path / "m.ckpt", weights_only=False)
    assert dict(rebuilt.hparams) == dict(module.hparams)
    for (k, a), (_, b) in zip(module.state_dict().items(), rebuilt.state_dict().items()):
        assert torch.equal(a, b), k


def test_networks_are_built_from_every_one_of_their_arguments():
    """wiconet and secbnet build their network from the hparams by the network's own argument names
    (:func:`network_arguments`): each network argument is a method argument with the same default, so
    none is silently left at a default of the network's (secbnet's ``seg_depth`` counts channels of the
    paper's widths and is translated; the generator's ``seg_channels`` / ``out_channels`` are fixed at 3)."""
    import inspect

    from semcolor.lightning_modules.secbnet import SECBNetModule
    from semcolor.lightning_modules.wiconet import WICONET_NETWORK_ARGS, WiCoNetModule
    from semcolor.networks.secbnet import SECBNetGenerator
    from semcolor.networks.wiconet import WiCoNet

    for module, network, fixed in ((WiCoNetModule, WiCoNet, set()),
                                   (SECBNetModule, SECBNetGenerator, {"seg_channels", "out_channels"})):
        own = inspect.signature(module).parameters
        for name, p in inspect.signature(network).parameters.items():
            if name in fixed:
                assert name not in own
                continue
            assert name in own, f"{network.__name__}.{name} is not a {module.__name__} argument"
            assert own[name].default == p.default, f"{module.__name__}.{name}"
    assert set(WICONET_NETWORK_ARGS) == set(inspect.signature(WiCoNet).parameters)
    m = WiCoNetModule(**_SMALL_WICONET, num_classes=5, local_dilation=True)
    assert (m.network.local_size, m.network.classifier[3].out_channels) == (32, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = SECBNetModule(base_channels=8, num_levels=3, seg_depth=128, seg_network=_SMALL_WICONET,
                          upsample="nearest")
    assert s.network.widths[:2] == [8, 16] and s.network.seg_depth == 16 and s.network.num_levels == 3


class TwoHeads(SegmentationModule):
    """A 1x1 conv segmenter whose training loss adds a term (as WiCoNet's auxiliary CE does)."""

    def configure_models(self) -> None:
        self.network = nn.Conv2d(3, self.hparams.num_classes, 1)

    def compute_loss(self, output, batch):
        main = super().compute_loss(output, batch)["loss"]
        return {"loss": main + 1.0, "main": main.detach()}


def test_segmentation_steps_are_the_shared_ones():
    """SemcolorModule's steps over SegmentationModule's hooks: the training loss is ``compute_loss``'s,
    the logged ``val_loss`` the CE of the main logits; metrics compare the argmax with the labels; the
    grid receives the logits; no identity clones for segmentation."""
    torch.manual_seed(0)
    m = TwoHeads(num_classes=4, ignore_index=None)
    batch = {"input": torch.rand(2, 3, 8, 8), "seg": torch.randint(0, 4, (2, 8, 8))}
    logged = {}
    m.log_dict = lambda values, **kw: logged.update({k: v for k, v in values.items()})  # type: ignore[method-assign]
    loss = m.training_step(batch, 0)
    ce = nn.functional.cross_entropy(m(batch["input"]), batch["seg"])
    assert torch.allclose(loss, ce + 1.0) and torch.allclose(logged["train_main"], ce)
    out = m.validation_step(batch, 0)["output"]
    assert torch.allclose(out, m(batch["input"])) and torch.allclose(logged["val_loss"], ce)
    acc = (out.argmax(1) == batch["seg"]).float().mean()
    assert float(m.val_metrics.compute()["val_pixel_acc"]) == pytest.approx(float(acc))
    assert not hasattr(m, "val_identity") and isinstance(m.test_metrics, type(m.val_metrics))
