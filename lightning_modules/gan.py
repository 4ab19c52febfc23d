"""Shared base of the conditional-GAN colorization methods (``pix2pix``, ``dcgan``, ``jsdcgan``, ``multi_d``,
``multi_g``).

One training step (Lightning manual optimisation, ``automatic_optimization = False``) does, per batch:

1. ``fake = G(x)`` (the generator is ``self.network``, so validation / test / predict / sample grids are
   inherited from :class:`~semcolor.lightning_modules.base.ImageToImageModule` unchanged); what D and the
   L1 term see is :meth:`~ConditionalGANModule.generate` (default the RGB output) against
   :meth:`~ConditionalGANModule.gan_target` (default the RGB target), so a method may play the game in
   another space (``multi_g``: the U, V channels) or on several images (``multi_d``: an image pyramid);
2. a discriminator update on ``D(real | c)`` vs ``D(fake.detach() | c)`` (``c`` = :meth:`conditions` of
   the input), binary cross-entropy with logits: JSDCGAN Eq. 4 / pix2pix Eq. 1, maximising
   ``log D(y | c) + log(1 - D(G(x) | c))``;
3. ``g_steps`` generator updates (1 by default) on ``adversarial_weight * -log D(G(x) | c) +
   lambda_l1 * |G(x) - y|_1`` (JSDCGAN Eq. 3, lambda = 100), using the discriminator *after* its update
   (the pix2pix order). The non-saturating ``-log D(G)`` is Nazeri et al.'s "maximise the probability
   of the discriminator being wrong" (Wang et al. 2022, Sec. 1).

Choices (all constructor arguments):

* The discriminator loss is the mean of its real and fake terms (pix2pix halves it); JSDCGAN Eq. 4 and
  Nazeri's code sum them. With Adam the factor 2 only interacts with ``eps``, i.e. it is immaterial.
* The generator's adversarial term uses the conditional ``D(G(x) | c)``, the same discriminator as Eq. 4.
  JSDCGAN's Eq. 3 writes ``D(G(x1, x2))`` without the condition; D is only ever trained conditioned, so an
  unconditioned term could not be evaluated with it (pix2pix's Eq. 1 conditions both terms).
* ``real_label`` < 1 gives one-sided label smoothing (Salimans et al. 2016); default 1 (none), as the
  papers state nothing.
* Images stay in RGB [0, 1] with a sigmoid output (Nazeri predicts CIELAB; JSDCGAN says nothing).
* Validation / test losses are the L1 term only (``val_loss``): the discriminator is not run outside
  training, so evaluation and prediction work at any image size.
* The best checkpoint is picked by ``val_psnr`` (inherited, the same as the ``unet`` baseline); the
  paper "train[s] 30 epochs to choose the best result" without naming the criterion.
* A StepLR schedule (``lr_step_epochs``) is stepped by hand at the end of each training epoch.
* After ``test``, every scalar ``test_*`` metric is written to ``<run folder>/test_metrics.json``
  (the run folder is ``trainer.default_root_dir``, set by the CLI) for the results table
  (:mod:`semcolor.cli.results_table`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection

from semcolor.lightning_modules.base import ImageToImageModule


class ConditionalGANModule(ImageToImageModule):
    """Base for conditional-GAN colorization: ``self.network`` = G, ``self.discriminator`` = D.

    Subclasses build both in :meth:`configure_models` and may override :meth:`conditions` (what D is
    conditioned on besides the judged image; default ``(x,)``, pix2pix's ``D(y | x)``).

    Args:
        lambda_l1: weight of the L1 term of the generator loss (100 in JSDCGAN Eq. 3, pix2pix, Nazeri).
        adversarial_weight: weight of the generator's ``-log D(G)`` term (1; 0 trains G with L1 only,
            D is then still trained but has no effect).
        real_label: target of real samples in D's loss (1; e.g. 0.9 for one-sided label smoothing).
        g_steps: generator updates per batch after the discriminator update (1; Nazeri's code uses 2).
        lr: generator learning rate (Adam). lr_d: discriminator learning rate (None: ``lr``).
        betas: Adam's betas for both optimisers (DCGAN / pix2pix: (0.5, 0.999)).
        weight_decay, lr_step_epochs, lr_gamma, train_metrics: as :class:`ImageToImageModule`.
    """

    def __init__(
        self,
        lambda_l1: float = 100.0,
        adversarial_weight: float = 1.0,
        real_label: float = 1.0,
        g_steps: int = 1,
        lr: float = 2e-4,
        lr_d: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 0.0,
        lr_step_epochs: int | None = None,
        lr_gamma: float = 0.8,
        train_metrics: bool = True,
    ) -> None:
        if g_steps < 1:
            raise ValueError(f"g_steps must be >= 1, got {g_steps}")
        if not 0.0 < real_label <= 1.0:
            raise ValueError(f"real_label must be in (0, 1], got {real_label}")
        super().__init__(lr=lr, betas=betas, weight_decay=weight_decay, lr_step_epochs=lr_step_epochs,
                         lr_gamma=lr_gamma, train_metrics=train_metrics)
        self.automatic_optimization = False
        for name in ("network", "discriminator"):
            if not isinstance(getattr(self, name, None), nn.Module):
                raise NotImplementedError(f"{type(self).__name__}.configure_models() must set self.{name}")

    # -- pieces -----------------------------------------------------------------------------------
    def metric_collection(self) -> MetricCollection:
        from semcolor.metrics.image import colorization_metrics

        return colorization_metrics()

    def conditions(self, x: Tensor) -> tuple[Tensor, ...]:
        """What D is conditioned on besides the judged image (default ``(x,)``: ``D(y | x)``)."""
        return (x,)

    def discriminator_active(self) -> bool:
        """Whether this training step updates D (default always; a method with a D-free phase, e.g.
        burstsr's L1-only first stage, returns False there and D is then not run at all)."""
        return True

    def discriminate(self, y: Tensor, x: Tensor) -> Tensor:
        """Logits of D for image ``y`` given the input ``x`` (through :meth:`conditions`)."""
        return self.discriminator(y, *self.conditions(x))

    def generate(self, x: Tensor) -> Any:
        """G's output as D and the L1 term see it during training (default ``self(x)``, the RGB image)."""
        return self(x)

    def gan_target(self, y: Tensor) -> Any:
        """The real sample in the form :meth:`generate` returns (default the RGB target ``y``)."""
        return y

    def generated_image(self, x: Tensor, fake: Any) -> Tensor:
        """The RGB image of a :meth:`generate` output, for the training metrics (default ``fake``)."""
        return fake

    def _bce(self, logits: Tensor, target: float) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

    def discriminator_loss(self, x: Tensor, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """D's loss (Eq. 4 as a minimisation); ``fake`` is detached here, so no gradient reaches G."""
        logits_real = self.discriminate(real, x)
        logits_fake = self.discriminate(fake.detach(), x)
        loss = 0.5 * (self._bce(logits_real, self.hparams.real_label) + self._bce(logits_fake, 0.0))
        return {
            "loss": loss,
            "d_real": torch.sigmoid(logits_real).mean().detach(),
            "d_fake": torch.sigmoid(logits_fake).mean().detach(),
        }

    def generator_loss(self, x: Tensor, fake: Tensor, target: Tensor) -> dict[str, Tensor]:
        """G's loss (Eq. 3): ``adversarial_weight * -log D(G(x) | c) + lambda_l1 * L1``."""
        hp = self.hparams
        adv = self._bce(self.discriminate(fake, x), 1.0)
        l1 = self.pixel_loss(fake, target)
        return {"loss": hp.adversarial_weight * adv + hp.lambda_l1 * l1, "adv": adv.detach(), "l1": l1.detach()}

    def compute_loss(self, output: Tensor, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Validation / test loss: the L1 term (D is not run outside training)."""
        return {"loss": self.pixel_loss(output, batch["target"])}

    # -- training ---------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:  # type: ignore[override]
        opt_g, opt_d = self.optimizers()  # type: ignore[misc]
        x, y = batch["input"], batch["target"]
        bs = x.shape[0]
        fake, real = self.generate(x), self.gan_target(y)

        d = None
        if self.discriminator_active():
            self.toggle_optimizer(opt_d)
            d = self.discriminator_loss(x, real, fake)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d["loss"])
            opt_d.step()
            self.untoggle_optimizer(opt_d)

        self.toggle_optimizer(opt_g)
        for step in range(self.hparams.g_steps):
            if step:  # G changed: a fresh fake for the next update
                fake = self.generate(x)
            g = self.generator_loss(x, fake, real)
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(g["loss"])
            opt_g.step()
        self.untoggle_optimizer(opt_g)

        logs = {"train_loss_g": g["loss"].detach(), "train_l1": g["l1"], "train_adv": g["adv"]}
        if d is not None:
            logs |= {"train_loss_d": d["loss"].detach(), "train_d_real": d["d_real"], "train_d_fake": d["d_fake"]}
        self.log_dict(logs, prog_bar=True, batch_size=bs)
        if self.hparams.get("train_metrics", True):
            self.train_metrics.update(self.to_rgb(self.generated_image(x, fake).detach()), y)
            self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=bs)

    def on_train_epoch_end(self) -> None:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()

    def configure_optimizers(self) -> Any:  # type: ignore[override]
        hp = self.hparams
        betas = tuple(hp.betas)
        opt_g = torch.optim.Adam(self.network.parameters(), lr=hp.lr, betas=betas, weight_decay=hp.weight_decay)
        lr_d = hp.lr if hp.lr_d is None else hp.lr_d
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr_d, betas=betas, weight_decay=hp.weight_decay)
        if not hp.lr_step_epochs:
            return [opt_g, opt_d]
        scheds = [torch.optim.lr_scheduler.StepLR(o, step_size=hp.lr_step_epochs, gamma=hp.lr_gamma) for o in (opt_g, opt_d)]
        return [opt_g, opt_d], scheds
