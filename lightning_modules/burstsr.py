"""``burstsr``: burst super-resolution with ESRGAN in two stages, for the burst perception-distortion study
(Xue 2025 (thesis), ch. 5: Sec. 5.3.2 Eq. 5.2-5.3, Sec. 5.5.1).

Network (:mod:`semcolor.networks.esrgan`): the RRDB generator (23 RRDBs, 64 features, growth 32, x4) on the
``3n`` channels of the burst's frames concatenated, and ESRGAN's VGG-style discriminator.

Training (Sec. 5.5.1), one ``fit`` for both stages by default (``stage="both"``):

1. distortion stage, epochs ``[0, distortion_epochs)``: L1 only, Adam ``lr`` 2e-4, betas (0.9, 0.99), halved
   every ``lr_halving_distortion`` (50) epochs; D is not run. At its end the generator ``theta_D`` is saved as
   ``<run folder>/distortion.ckpt``;
2. perception stage, the remaining epochs of ``trainer.max_epochs``, from stage 1's weights (fresh Adam
   state): ``perceptual_weight * L_percep + adversarial_weight * L_G^Ra + lambda_l1 * L_1``, lr
   ``lr_perception`` 1e-4 for G and D, halved every ``lr_halving_perception`` (25) epochs; at the end the
   generator ``theta_P`` is saved as ``<run folder>/perception.ckpt``.

``stage="distortion"`` runs stage 1 only; ``stage="perception"`` runs stage 2 only, from the generator of
``init_checkpoint`` (a stage-1 checkpoint). The P-D curve between ``theta_D`` and ``theta_P``:
``python -m semcolor.cli.pd_curve`` (``make pd-curve``).

Not in the thesis, taken from ESRGAN (Wang et al. 2018) and its BasicSR configs (the thesis's lr, betas and
batch match those configs exactly): the loss weights (perceptual 1 on VGG19 ``conv5_4`` before the ReLU, L1
distance; relativistic average GAN 5e-3; L1 1e-2), the relativistic average GAN itself (Eq. 5.3 writes a vanilla
GAN + L1 and no perceptual term, while the text says "adversarial loss and perceptual loss"), the
discriminator, and D's learning rate (the same as G's). The thesis gives no epoch counts: ``distortion_epochs``
and ``trainer.max_epochs`` are config values (200 + 100 in ``experiments/burstsr/dtd.yaml``). The VGG19 is
torchvision's ImageNet one from a weights file (:mod:`semcolor.networks.perceptual`; never downloaded).

Evaluation: PSNR / SSIM / Delta E 2000 against the HR target; the identity baseline is the reference frame
upsampled bicubically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.gan import ConditionalGANModule
from semcolor.networks.esrgan import RRDBNet, VGGStyleDiscriminator
from semcolor.registry import METHODS

__all__ = ["ARCHITECTURE_KEYS", "BurstSRModule", "generator_from_checkpoint"]

Stage = Literal["both", "distortion", "perception"]
#: the hparams that fix the generator's shape (two checkpoints interpolate only when all are equal)
ARCHITECTURE_KEYS = ("num_frames", "features", "num_blocks", "growth", "scale", "global_skip")
DISTORTION_CHECKPOINT = "distortion.ckpt"
PERCEPTION_CHECKPOINT = "perception.ckpt"


def generator_from_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The generator's state dict and the hparams of a ``burstsr`` checkpoint (one-line errors)."""
    from semcolor.checkpoints import read_checkpoint

    ckpt = read_checkpoint(path)
    hparams = dict(ckpt.get("hyper_parameters") or {})
    cls = hparams.get("_class_path", "")
    if cls and not cls.endswith(".BurstSRModule"):
        raise SemcolorError(f"checkpoint '{path}' was written by {cls}, not by burstsr")
    state = {k[len("network."):]: v for k, v in (ckpt.get("state_dict") or {}).items() if k.startswith("network.")}
    if not state or any(k not in hparams for k in ARCHITECTURE_KEYS):
        raise SemcolorError(f"checkpoint '{path}' holds no burstsr generator (network.* weights and "
                            f"{', '.join(ARCHITECTURE_KEYS)})")
    return state, hparams


def check_same_architecture(first: tuple[str, dict[str, Any]], second: tuple[str, dict[str, Any]]) -> None:
    """Refuse two checkpoints whose generators differ (burst length, width, depth ...), naming both."""
    (name_a, hp_a), (name_b, hp_b) = first, second
    diff = [k for k in ARCHITECTURE_KEYS if hp_a.get(k) != hp_b.get(k)]
    if diff:
        what = "burst lengths" if "num_frames" in diff else "architectures"
        detail = ", ".join(f"{k} {hp_a.get(k)} vs {hp_b.get(k)}" for k in diff)
        raise SemcolorError(f"cannot interpolate '{name_a}' and '{name_b}': different {what} ({detail})")


@METHODS.register("burstsr", tasks=("super_resolve",))
class BurstSRModule(ConditionalGANModule):
    """ESRGAN burst super-resolution, distortion then perception stage (Xue 2025 (thesis), Sec. 5.5.1).

    Args:
        num_frames: burst length n (the input has 3n channels).
        features, num_blocks, growth, residual_scale, scale: the RRDB generator (64, 23, 32, 0.2, 4).
        global_skip: add the bicubic reference frame to the output (not ESRGAN's; for the CPU-sized configs).
        d_features: width of the discriminator's first stage (64).
        image_size: HR crop side the discriminator is built for (128).
        stage: ``"both"`` (default), ``"distortion"`` or ``"perception"`` (see the module docstring).
        distortion_epochs: length of stage 1 when ``stage="both"``; stage 2 takes the rest of max_epochs.
        init_checkpoint: for ``stage="perception"``: the stage-1 checkpoint whose generator is the start.
        lr: stage-1 learning rate (2e-4). lr_perception: stage-2 learning rate of G and D (1e-4).
        lr_halving_distortion, lr_halving_perception: epochs between halvings (50, 25).
        perceptual_weight: weight of the VGG feature L1 term (1; 0 leaves it out and builds no VGG).
        vgg_layer: VGG19 layer of that term (``conv5_4``, before the ReLU).
        vgg_weights: torchvision ``vgg19-*.pth`` state dict (None: torchvision's cache, else random + warning).
        adversarial_weight: weight of the relativistic G loss (5e-3). lambda_l1: stage-2 L1 weight (1e-2).
        betas: Adam's betas (0.9, 0.99). lr_d: D's learning rate (None: ``lr_perception``).
        train_metrics: image metrics on training batches too (off: they cost time).
        **kwargs: further options of :class:`~semcolor.lightning_modules.gan.ConditionalGANModule`.
    """

    predict_tiling = (32, 8)  # LR windows: the training LR size (the 128 HR crop / 4)

    def __init__(
        self,
        num_frames: int = 5,
        features: int = 64,
        num_blocks: int = 23,
        growth: int = 32,
        residual_scale: float = 0.2,
        scale: int = 4,
        global_skip: bool = False,
        d_features: int = 64,
        image_size: int = 128,
        stage: Stage = "both",
        distortion_epochs: int = 200,
        init_checkpoint: str | None = None,
        lr: float = 2e-4,
        lr_perception: float = 1e-4,
        lr_halving_distortion: int = 50,
        lr_halving_perception: int = 25,
        perceptual_weight: float = 1.0,
        vgg_layer: str = "conv5_4",
        vgg_weights: str | None = None,
        adversarial_weight: float = 5e-3,
        lambda_l1: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.99),
        lr_d: float | None = None,
        train_metrics: bool = False,
        **kwargs: Any,
    ) -> None:
        if num_frames < 1:
            raise SemcolorError(f"burstsr: num_frames (the burst length) must be >= 1, got {num_frames}")
        if stage not in ("both", "distortion", "perception"):
            raise SemcolorError(f"burstsr: stage must be 'both', 'distortion' or 'perception', got {stage!r}")
        if stage == "both" and distortion_epochs < 1:
            raise SemcolorError(f"burstsr: distortion_epochs must be >= 1 with stage='both', got {distortion_epochs}")
        if min(lr_halving_distortion, lr_halving_perception) < 1:
            raise SemcolorError("burstsr: lr_halving_distortion and lr_halving_perception must be >= 1 epoch")
        super().__init__(lambda_l1=lambda_l1, adversarial_weight=adversarial_weight, lr=lr, lr_d=lr_d, betas=betas,
                         train_metrics=train_metrics, **kwargs)
        self.num_frames = num_frames  # read by a burst DataModule whose num_frames is None
        if stage == "perception" and init_checkpoint:
            self._load_initial_generator(init_checkpoint)

    # -- model ------------------------------------------------------------------------------------------
    def configure_models(self) -> None:
        hp = self.hparams
        self.network = RRDBNet(3 * hp.num_frames, 3, hp.features, hp.num_blocks, hp.growth, hp.scale, hp.residual_scale,
                               hp.global_skip)
        self.discriminator = VGGStyleDiscriminator(3, hp.d_features, hp.image_size)
        self.vgg = None
        if hp.perceptual_weight > 0:
            from semcolor.networks.perceptual import VGGFeatures

            self.vgg = VGGFeatures("vgg19", (hp.vgg_layer,), hp.vgg_weights, owner="burstsr",
                                   option="model.init_args.vgg_weights")

    def _load_initial_generator(self, path: str) -> None:
        state, hparams = generator_from_checkpoint(path)
        check_same_architecture((path, hparams), ("this model", dict(self.hparams)))
        self.network.load_state_dict(state)

    @property
    def output_scale(self) -> int:
        """Output side / input side (the whole-scene contract test reads it)."""
        return int(self.hparams.scale)

    @property
    def input_channels(self) -> int:
        return 3 * int(self.hparams.num_frames)

    def metric_collection(self) -> MetricCollection:
        from semcolor.metrics.image import image_metrics

        return image_metrics()

    def identity(self, batch: dict[str, Any]) -> Tensor:
        """The reference frame (frame 1) upsampled bicubically to the HR size."""
        ref = batch["input"][:, :3]
        return F.interpolate(ref, scale_factor=self.hparams.scale, mode="bicubic", align_corners=False).clamp(0, 1)

    def setup(self, stage: str) -> None:
        data = getattr(self._trainer, "datamodule", None)
        n = getattr(data, "num_frames", None)
        if n is not None and int(n) != self.hparams.num_frames:
            raise SemcolorError(f"burstsr: the model takes bursts of {self.hparams.num_frames} frames "
                                f"(model.init_args.num_frames) but the data makes {n} (data.init_args.num_frames)")

    # -- stages -----------------------------------------------------------------------------------------
    def in_perception_stage(self) -> bool:
        hp = self.hparams
        return hp.stage == "perception" or (hp.stage == "both" and self.current_epoch >= hp.distortion_epochs)

    def discriminator_active(self) -> bool:
        return self.in_perception_stage() and self.hparams.adversarial_weight > 0

    def stage_learning_rates(self, epoch: int) -> tuple[float, float]:
        """(G, D) learning rates of ``epoch``: step halving within each stage."""
        hp = self.hparams
        lr_d = hp.lr_perception if hp.lr_d is None else hp.lr_d
        if hp.stage == "distortion" or (hp.stage == "both" and epoch < hp.distortion_epochs):
            return hp.lr * 0.5 ** (epoch // hp.lr_halving_distortion), lr_d
        e = epoch - (hp.distortion_epochs if hp.stage == "both" else 0)
        factor = 0.5 ** (e // hp.lr_halving_perception)
        return hp.lr_perception * factor, lr_d * factor

    def on_train_epoch_start(self) -> None:
        opt_g, opt_d = self.optimizers()  # type: ignore[misc]
        if self.hparams.stage == "both" and self.current_epoch == self.hparams.distortion_epochs:
            opt_g.optimizer.state.clear()  # stage 2 starts from stage 1's weights with a fresh Adam
        lr_g, lr_d = self.stage_learning_rates(self.current_epoch)
        for opt, lr in ((opt_g, lr_g), (opt_d, lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
        self.log_dict({"lr_g": lr_g, "perception_stage": float(self.in_perception_stage())}, batch_size=1)

    def _save_stage(self, name: str) -> None:
        if self.trainer.fast_dev_run:
            return
        folder = Path(self.trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self.trainer.save_checkpoint(folder / name)

    def on_train_epoch_end(self) -> None:
        hp = self.hparams
        if hp.stage == "both" and self.current_epoch == hp.distortion_epochs - 1:
            self._save_stage(DISTORTION_CHECKPOINT)

    def on_train_end(self) -> None:
        """The end of a stage's training: ``perception.ckpt`` (theta_P) or, for ``stage="distortion"``,
        ``distortion.ckpt`` -- saved here because ``last.ckpt`` is only rewritten after a validation."""
        if self.in_perception_stage():
            self._save_stage(PERCEPTION_CHECKPOINT)
        elif self.hparams.stage == "distortion":
            self._save_stage(DISTORTION_CHECKPOINT)

    def configure_optimizers(self) -> Any:  # type: ignore[override]
        hp = self.hparams
        lr_g, lr_d = self.stage_learning_rates(0)
        opt_g = torch.optim.Adam(self.network.parameters(), lr=lr_g, betas=tuple(hp.betas), weight_decay=hp.weight_decay)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr_d, betas=tuple(hp.betas),
                                 weight_decay=hp.weight_decay)
        return [opt_g, opt_d]

    # -- losses -----------------------------------------------------------------------------------------
    def conditions(self, x: Tensor) -> tuple[Tensor, ...]:
        return ()  # ESRGAN's D judges the HR image alone

    def discriminator_loss(self, x: Tensor, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Relativistic average D loss (ESRGAN): ``real`` more realistic than the mean fake, and vice versa."""
        c_real, c_fake = self.discriminate(real, x), self.discriminate(fake.detach(), x)
        loss = 0.5 * (self._bce(c_real - c_fake.mean(), self.hparams.real_label) + self._bce(c_fake - c_real.mean(), 0.0))
        return {"loss": loss, "d_real": torch.sigmoid(c_real - c_fake.mean()).mean().detach(),
                "d_fake": torch.sigmoid(c_fake - c_real.mean()).mean().detach()}

    def generator_loss(self, x: Tensor, fake: Tensor, target: Tensor) -> dict[str, Tensor]:
        """Stage 1: L1. Stage 2: ``w_p L_percep + w_adv L_G^Ra + lambda_l1 L1`` (ESRGAN's G loss)."""
        hp = self.hparams
        l1 = self.pixel_loss(fake, target)
        zero = l1.new_zeros(())
        if not self.in_perception_stage():
            return {"loss": l1, "l1": l1.detach(), "adv": zero, "percep": zero}
        loss, adv, percep = hp.lambda_l1 * l1, zero, zero
        if hp.adversarial_weight > 0:
            with torch.no_grad():
                c_real = self.discriminate(target, x)
            c_fake = self.discriminate(fake, x)
            adv = 0.5 * (self._bce(c_real - c_fake.mean(), 0.0) + self._bce(c_fake - c_real.mean(), 1.0))
            loss = loss + hp.adversarial_weight * adv
        if self.vgg is not None:
            with torch.no_grad():
                ref = self.vgg(target)[0]
            percep = F.l1_loss(self.vgg(fake)[0], ref)
            loss = loss + hp.perceptual_weight * percep
        return {"loss": loss, "l1": l1.detach(), "adv": adv.detach(), "percep": percep.detach()}
