"""Base LightningModules: what every method shares, and the image-to-image training logic.

Following torchgeo's ``BaseTask``, a method fills three hooks, called from ``__init__``:
``configure_models`` (the pure ``nn.Module`` from ``networks/``), ``configure_losses`` and
``configure_metrics``. One metric collection is cloned per stage with ``train_`` / ``val_`` /
``test_`` prefixes; a second clone, ``val_identity_`` / ``test_identity_``, scores the input itself
against the target, so every report shows how much the method adds over doing nothing.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection


class SemcolorModule(pl.LightningModule):
    """Base of every registered method (the type the CLI accepts as ``--model``).

    Subclasses set ``monitor`` (metric name, ``"max"``/``"min"``): the best checkpoint is chosen by it.
    """

    monitor: tuple[str, str] = ("val_loss", "min")

    def sample_panels(self, batch: dict[str, Any], output: Tensor) -> list[Tensor] | None:
        """Columns of the sample grid, each ``(N, 3, H, W)`` in [0, 1]; None for no grid."""
        return None


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
    """

    monitor = ("val_psnr", "max")

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        lr_step_epochs: int | None = None,
        lr_gamma: float = 0.8,
        train_metrics: bool = True,
    ) -> None:
        super().__init__()
        # logger=False: the CLI pushes the whole nested config to W&B once; hparams logged here
        # would duplicate its keys at the root of the W&B config (Lightning-AI/pytorch-lightning#19728).
        self.save_hyperparameters(logger=False)
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()

    # -- hooks for subclasses ---------------------------------------------------------------------
    def configure_models(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must build self.network in configure_models()")

    def configure_losses(self) -> None:
        self.pixel_loss = nn.L1Loss()

    def metric_collection(self) -> MetricCollection:
        """The metrics of this task; cloned per stage by :meth:`configure_metrics`."""
        from lightning_modules.metrics import image_metrics

        return image_metrics()

    def configure_metrics(self) -> None:
        metrics = self.metric_collection()
        self.train_metrics = metrics.clone(prefix="train_")
        self.val_metrics = metrics.clone(prefix="val_")
        self.test_metrics = metrics.clone(prefix="test_")
        self.val_identity = metrics.clone(prefix="val_identity_")
        self.test_identity = metrics.clone(prefix="test_identity_")

    def forward(self, x: Tensor) -> Tensor:
        return self.network(x)

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

    # -- steps ----------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        output = self(batch["input"])
        losses = self.compute_loss(output, batch)
        bs = batch["input"].shape[0]
        self.log_dict({f"train_{k}": v for k, v in losses.items()}, prog_bar=True, batch_size=bs)
        if self.hparams.get("train_metrics", True):
            self.train_metrics.update(self.to_rgb(output.detach()), batch["target"])
            self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=bs)
        return losses["loss"]

    def _evaluate(self, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        output = self(batch["input"])
        losses = self.compute_loss(output, batch)
        bs = batch["input"].shape[0]
        self.log_dict({f"{stage}_{k}": v for k, v in losses.items()}, sync_dist=True, batch_size=bs)
        metrics, identity = getattr(self, f"{stage}_metrics"), getattr(self, f"{stage}_identity")
        metrics.update(self.to_rgb(output), batch["target"])
        identity.update(self.identity(batch), batch["target"])
        self.log_dict(metrics, batch_size=bs, prog_bar=stage == "val")
        self.log_dict(identity, batch_size=bs)
        return {"output": output}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        return self._evaluate(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        x = batch["input"] if isinstance(batch, dict) else batch
        return self.to_rgb(self(x))

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
