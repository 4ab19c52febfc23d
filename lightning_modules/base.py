"""Base LightningModules: what every method shares, and the image-to-image training logic.

Following torchgeo's ``BaseTask``, a method fills three hooks, called from ``SemcolorModule.__init__``
(after its arguments are saved as ``hparams``): ``configure_models`` (the pure ``nn.Module`` from
``networks/``), ``configure_losses`` and ``configure_metrics``. One metric collection
(``metric_collection``) is cloned per stage with ``train_`` / ``val_`` / ``test_`` prefixes; for
image-to-image methods a second clone, ``val_identity_`` / ``test_identity_``, scores the input itself
against the target, so every report shows how much the method adds over doing nothing.

The training and evaluation steps are written once, in :class:`SemcolorModule`, over three small hooks
the task bases fill: ``metric_inputs`` (what the metrics compare), ``evaluation_loss`` (what is logged as
``val_loss`` / ``test_loss``) and ``step_output`` (what the sample grids receive).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection

from semcolor.scenes.contract import PredictContract


def drop_unaccepted_hparams(module: pl.LightningModule) -> None:
    """Keep in ``hparams`` only the arguments the concrete class's ``__init__`` accepts.

    ``save_hyperparameters`` in a base class also records the base's own arguments; a subclass with
    an explicit signature that does not list one of them could then not be rebuilt from its
    checkpoint (LightningCLI passes the saved hparams back as init arguments).
    """
    accepted = accepted_init_args(type(module))
    if accepted is None:
        return
    for key in [k for k in module.hparams if k not in accepted and not k.startswith("_")]:  # keep _class_path
        module.hparams.pop(key)


def accepted_init_args(cls: type) -> set[str] | None:
    """The keyword arguments ``cls(...)`` accepts, following ``**kwargs`` into the base classes'
    ``__init__`` as jsonargparse does (a subclass may list only its own arguments and pass the rest on);
    None when ``**kwargs`` reaches a class that takes anything."""
    import inspect

    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        names |= {n for n, p in params.items() if n != "self" and p.kind in
                  (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return names
    return None


def network_arguments(network: type, hparams: Any, **override: Any) -> dict[str, Any]:
    """The keyword arguments of ``network(...)`` found in ``hparams`` (by the names of its ``__init__``),
    updated with ``override``: a method whose constructor takes its network's arguments builds the network
    with ``network(**network_arguments(network, self.hparams))`` instead of restating every name."""
    import inspect

    names = [n for n in inspect.signature(network).parameters if n in hparams]
    return {**{n: hparams[n] for n in names}, **override}


class SemcolorModule(pl.LightningModule):
    """Base of every registered method (the type the CLI accepts as ``--model``).

    ``__init__`` saves the constructor arguments of the whole class chain as ``hparams`` (only those the
    concrete class accepts, so a checkpoint rebuilds it) and then calls ``configure_models``,
    ``configure_losses`` and ``configure_metrics``. Subclasses set ``monitor`` (metric name,
    ``"max"``/``"min"``): the best checkpoint is chosen by it.
    """

    monitor: tuple[str, str] = ("val_loss", "min")
    #: stages whose metrics get a second clone scoring :meth:`identity` (``<stage>_identity_`` prefix)
    identity_stages: tuple[str, ...] = ()
    #: whole-scene prediction defaults (tile size, overlap) and the input scaling the model was trained
    #: on: None = 8-bit / 255, or (offset, scale) for (DN - offset) / scale; see scenes/datamodule.py
    predict_tiling: tuple[int, int] = (256, 64)
    input_scaling: tuple[float, float] | None = None

    @property
    def input_channels(self) -> int | None:
        """Bands the model takes: its ``in_channels`` argument; methods without one override this."""
        value = self.hparams.get("in_channels")
        return None if value is None else int(value)

    def predict_contract(self) -> PredictContract:
        """What the whole-scene pipeline needs to know of this model (:mod:`semcolor.scenes.contract`)."""
        tile, overlap = self.predict_tiling
        return PredictContract(self.input_channels, int(tile), int(overlap), self.input_scaling)

    def __init__(self) -> None:
        super().__init__()
        # logger=False: the CLI pushes the whole nested config to W&B once; hparams logged here
        # would duplicate its keys at the root of the W&B config (Lightning-AI/pytorch-lightning#19728).
        # The arguments come from every __init__ frame of the class chain (Lightning walks up the frames).
        self.save_hyperparameters(logger=False)
        drop_unaccepted_hparams(self)
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()

    # -- hooks for subclasses (called by __init__) ----------------------------------------------------
    def configure_models(self) -> None:
        """Build the networks (``self.network``)."""

    def configure_losses(self) -> None:
        """Build the loss modules."""

    def metric_collection(self) -> MetricCollection | None:
        """The metrics of this task, cloned per stage by :meth:`configure_metrics` (None: none)."""
        return None

    def configure_metrics(self) -> None:
        """``train_metrics`` / ``val_metrics`` / ``test_metrics`` (and ``<stage>_identity`` for the
        :attr:`identity_stages`): clones of :meth:`metric_collection` with the stage as prefix."""
        metrics = self.metric_collection()
        if metrics is None:
            return
        for stage in ("train", "val", "test"):
            setattr(self, f"{stage}_metrics", metrics.clone(prefix=f"{stage}_"))
        for stage in self.identity_stages:
            setattr(self, f"{stage}_identity", metrics.clone(prefix=f"{stage}_identity_"))

    def forward(self, x: Tensor) -> Any:
        return self.network(x)

    def forward_batch(self, batch: dict[str, Any]) -> Any:
        """The output for a batch in every step; methods whose forward needs more than ``batch["input"]``
        (e.g. the nodata mask) override this."""
        return self(batch["input"])

    def compute_loss(self, output: Any, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Loss terms; ``loss`` is the one optimised, the others are logged."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_loss()")

    def evaluation_loss(self, output: Any, batch: dict[str, Any]) -> dict[str, Tensor]:
        """The loss terms logged in validation / test (``<stage>_<name>``): :meth:`compute_loss`."""
        return self.compute_loss(output, batch)

    def metric_inputs(self, output: Any, batch: dict[str, Any], stage: str) -> tuple[Tensor, Tensor]:
        """``(prediction, target)`` the ``<stage>_metrics`` are updated with."""
        raise NotImplementedError(f"{type(self).__name__} must implement metric_inputs()")

    def step_output(self, output: Any) -> Tensor:
        """What validation / test steps return as ``"output"`` (the sample grids' :meth:`sample_panels`)."""
        return output

    def sample_panels(self, batch: dict[str, Any], output: Tensor) -> list[Tensor] | dict[str, Tensor] | None:
        """Columns of the sample grid, each ``(N, 3, H, W)`` in [0, 1]: a dict names them (the grid's
        header row), a list is named by position (input, output, target, panel 4 ...); None for no grid."""
        return None

    # -- steps ----------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        output = self.forward_batch(batch)
        losses = self.compute_loss(output, batch)
        bs = batch["input"].shape[0]
        self.log_dict({f"train_{k}": v for k, v in losses.items()}, prog_bar=True, batch_size=bs)
        if self.hparams.get("train_metrics", True):
            self.train_metrics.update(*self.metric_inputs(output, batch, "train"))
            self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=bs)
        return losses["loss"]

    def _evaluate(self, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        """Loss and metrics of one validation / test batch."""
        output = self.forward_batch(batch)
        losses = self.evaluation_loss(output, batch)
        bs = batch["input"].shape[0]
        self.log_dict({f"{stage}_{k}": v for k, v in losses.items()}, sync_dist=True, batch_size=bs)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(*self.metric_inputs(output, batch, stage))
        self.log_dict(metrics, batch_size=bs, prog_bar=stage == "val")
        return {"output": self.step_output(output)}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        return self._evaluate(batch, "test")

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None,
                             strict: bool | None = None, weights_only: bool | None = None, **kwargs: Any) -> Any:
        """Lightning's ``load_from_checkpoint``, reading the file through
        :func:`semcolor.checkpoints.read_checkpoint` (``weights_only``, one-line errors) and translating
        checkpoints of earlier versions (renamed classes and arguments,
        :func:`semcolor.registry.current_hparams`)."""
        import io
        from pathlib import Path

        from semcolor.checkpoints import read_checkpoint
        from semcolor.registry import current_hparams

        source = checkpoint_path
        if isinstance(checkpoint_path, (str, Path)):
            ckpt = read_checkpoint(checkpoint_path)
            saved = ckpt.get("hyper_parameters") or {}
            if current_hparams(saved) != saved:
                ckpt["hyper_parameters"] = current_hparams(saved)
                source = io.BytesIO()
                torch.save(ckpt, source)
                source.seek(0)
        return super().load_from_checkpoint(source, map_location=map_location, hparams_file=hparams_file,
                                            strict=strict, weights_only=True, **kwargs)


class ImageToImageModule(SemcolorModule):
    """Shared steps for methods mapping an image to an RGB image in [0, 1] (balancing, colorization).

    Batches are dicts with ``input`` ``(N, C, H, W)`` and ``target`` ``(N, 3, H, W)``; subclasses
    build ``self.network`` in :meth:`configure_models` and may override :meth:`compute_loss`.

    Args:
        lr: learning rate of Adam.
        betas: Adam's betas.
        weight_decay: Adam's weight decay.
        lr_step_epochs: multiply the learning rate by ``lr_gamma`` every this many epochs (None: constant).
        lr_gamma: the factor of that step schedule.
        train_metrics: also compute metrics on training batches (costs a little time per step).
        metrics: ``"image"`` (PSNR, SSIM, Delta E 2000), ``"colorization"`` (those plus acc2 / acc5,
            JSDCGAN Eq. 5) or ``"auto"``: colorization when the module's ``in_channels`` hparam is 1.
    """

    monitor = ("val_psnr", "max")
    identity_stages = ("val", "test")

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        lr_step_epochs: int | None = None,
        lr_gamma: float = 0.8,
        train_metrics: bool = True,
        metrics: str = "auto",
    ) -> None:
        super().__init__()

    # -- hooks for subclasses ---------------------------------------------------------------------
    def configure_models(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must build self.network in configure_models()")

    def configure_losses(self) -> None:
        self.pixel_loss = nn.L1Loss()

    def metric_collection(self) -> MetricCollection:
        """The metrics of this task (``metrics`` hparam); cloned per stage by :meth:`configure_metrics`."""
        from semcolor.metrics.image import colorization_metrics, image_metrics

        kind = self.hparams.get("metrics", "auto")
        if kind == "auto":
            kind = "colorization" if self.hparams.get("in_channels") == 1 else "image"
        if kind not in ("image", "colorization"):
            raise ValueError(f"metrics must be 'image', 'colorization' or 'auto', got {kind!r}")
        return colorization_metrics() if kind == "colorization" else image_metrics()

    def compute_loss(self, output: Tensor, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Loss terms; ``loss`` is the one optimised, the others are logged."""
        return {"loss": self.pixel_loss(output, batch["target"])}

    def identity(self, batch: dict[str, Any]) -> Tensor:
        """The do-nothing prediction: the input as an RGB image in [0, 1]."""
        x = batch["input"]
        return (x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]).clamp(0, 1)

    def to_rgb(self, output: Tensor) -> Tensor:
        """Network output -> RGB in [0, 1] for metrics and pictures."""
        return output.clamp(0, 1)

    def metric_inputs(self, output: Tensor, batch: dict[str, Any], stage: str) -> tuple[Tensor, Tensor]:
        """RGB output against the target; in validation / test, pixels a batch marks as nodata
        (``batch["valid"]`` False) are scored as perfect (:func:`score_valid_only`)."""
        rgb = self.to_rgb(output.detach())
        return (rgb if stage == "train" else score_valid_only(rgb, batch)), batch["target"]

    # -- steps ----------------------------------------------------------------------------------------
    def _evaluate(self, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        """Loss, metrics and the identity baseline of one batch; pixels a batch marks as nodata
        (``batch["valid"]`` False) are scored as perfect for both (:func:`score_valid_only`)."""
        result = super()._evaluate(batch, stage)
        identity = getattr(self, f"{stage}_identity")
        identity.update(score_valid_only(self.identity(batch), batch), batch["target"])
        self.log_dict(identity, batch_size=batch["input"].shape[0])
        return result

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        return self.to_rgb(self.forward_batch(batch) if isinstance(batch, dict) else self(batch))

    def sample_panels(self, batch: dict[str, Any], output: Tensor) -> list[Tensor]:
        return [self.identity(batch), self.to_rgb(output), batch["target"]]

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        optimizer = torch.optim.Adam(
            self.parameters(), lr=hp.lr, betas=tuple(hp.betas), weight_decay=hp.weight_decay
        )
        if not hp.lr_step_epochs:
            return optimizer
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=hp.lr_step_epochs, gamma=hp.lr_gamma)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def score_valid_only(output: Tensor, batch: dict[str, Any]) -> Tensor:
    """``output`` with the pixels outside ``batch["valid"]`` (``(N, H, W)`` bool) replaced by the target, so
    nodata neither trains nor scores; unchanged when the batch has no mask (or no target)."""
    valid = batch.get("valid") if isinstance(batch, dict) else None
    if valid is None or "target" not in batch:
        return output
    return torch.where(valid[:, None].bool(), output, batch["target"])


def class_palette(num_classes: int) -> Tensor:
    """A fixed colour per class index, ``(num_classes, 3)`` in [0, 1] (matplotlib's tab20, repeated)."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return torch.tensor([cmap(i % 20)[:3] for i in range(num_classes)], dtype=torch.float32)


def colorize_labels(seg: Tensor, palette: Tensor, ignore_index: int | None = None) -> Tensor:
    """``(N, H, W)`` class indices -> ``(N, 3, H, W)`` colours; ignored / out-of-range pixels black."""
    valid = (seg >= 0) & (seg < palette.shape[0])
    if ignore_index is not None:
        valid &= seg != ignore_index
    rgb = palette.to(seg.device)[seg.clamp(0, palette.shape[0] - 1)].permute(0, 3, 1, 2)
    return rgb * valid[:, None]


class SegmentationModule(SemcolorModule):
    """Shared steps for semantic segmentation methods (``wiconet``, ``slimseg``).

    Batches hold ``input`` ``(N, C, H, W)`` and ``seg`` ``(N, H, W)`` class indices; the network
    returns logits ``(N, K, H, W)``. Metrics: mIoU and pixel accuracy, ``ignore_index`` left out.

    Args:
        num_classes: number of output classes K (including an ignored class when it has an index).
        ignore_index: label value left out of loss and metrics (0 for GID's "unrecognised",
            255 for Cityscapes).
        lr, momentum, weight_decay, nesterov: SGD settings.
        poly_power: poly learning-rate decay ``(1 - t)^power`` over the whole run (0: constant).
    """

    monitor = ("val_miou", "max")

    def __init__(
        self,
        num_classes: int = 7,
        ignore_index: int | None = 0,
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        nesterov: bool = False,
        poly_power: float = 0.9,
    ) -> None:
        super().__init__()
        self.register_buffer("palette", class_palette(num_classes), persistent=False)

    def configure_models(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must build self.network in configure_models()")

    def configure_losses(self) -> None:
        from semcolor.networks.losses import MaskedCrossEntropy

        # NaN-safe: a batch whose pixels are all ignored (common on GID) gives 0, not 0/0
        self.ce = MaskedCrossEntropy(ignore_index=self.hparams.ignore_index)

    def metric_collection(self) -> MetricCollection:
        from semcolor.metrics.image import segmentation_metrics

        return segmentation_metrics(self.hparams.num_classes, self.hparams.ignore_index)

    def logits(self, output: Any) -> Tensor:
        """The main logits of whatever the network returns (override for tuples / named outputs)."""
        return output

    def compute_loss(self, output: Any, batch: dict[str, Any]) -> dict[str, Tensor]:
        return {"loss": self.ce(self.logits(output), batch["seg"])}

    def evaluation_loss(self, output: Any, batch: dict[str, Any]) -> dict[str, Tensor]:
        """``<stage>_loss``: the cross-entropy of the main logits, also when a subclass's
        :meth:`compute_loss` adds training-only terms (WiCoNet's auxiliary loss)."""
        return SegmentationModule.compute_loss(self, output, batch)

    def metric_inputs(self, output: Any, batch: dict[str, Any], stage: str) -> tuple[Tensor, Tensor]:
        """Predicted classes (argmax of the main logits) against the labels."""
        return self.logits(output).detach().argmax(1), batch["seg"]

    def step_output(self, output: Any) -> Tensor:
        return self.logits(output)

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        x = batch["input"] if isinstance(batch, dict) else batch
        return self.logits(self(x)).argmax(1)

    def sample_panels(self, batch: dict[str, Any], output: Tensor) -> dict[str, Tensor]:
        x = batch["input"][:, :3] if batch["input"].shape[1] >= 3 else batch["input"].expand(-1, 3, -1, -1)
        ignore = self.hparams.ignore_index
        return {"input": x.clamp(0, 1), "predicted classes": colorize_labels(output.argmax(1), self.palette, ignore),
                "labels": colorize_labels(batch["seg"], self.palette, ignore)}

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        optimizer = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum,
                                    weight_decay=hp.weight_decay, nesterov=hp.nesterov)
        if not hp.poly_power:
            return optimizer
        from semcolor.lightning_modules.progress import poly_scheduler

        scheduler = poly_scheduler(optimizer, self.trainer, hp.poly_power)  # over the steps, or the time budget
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
