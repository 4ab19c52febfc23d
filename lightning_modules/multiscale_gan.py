"""The two multi-scale GAN baselines of the jsdcgan comparison (Wang et al. 2022, Tables 1-2).

* ``multi_d`` (:class:`MultiDModule`): "Multi-D", Li et al. 2018 -- a U-Net generator giving an image per
  decoder scale and a discriminator per scale (:mod:`semcolor.networks.multi_discriminator`).
* ``multi_g`` (:class:`MultiGModule`): "Multi-G", Wu et al. 2020 -- a symmetric encoder-decoder of multi-kernel
  convolution blocks predicting U, V from Y, and a ResNet-18 discriminator
  (:mod:`semcolor.networks.multiscale_generator`).

Neither paper's text is available to us: both are built from Wang et al. 2022's description (Secs. 1, 2
and 4.4) and, for Multi-G, Wu et al.'s public abstract; the network modules' docstrings quote what was
used and list every choice, each a constructor argument here. What is shared with the other GAN
baselines (:mod:`semcolor.lightning_modules.gan`): alternating 1 D : 1 G updates, D's loss the mean of the
real and fake BCE terms, G's loss ``-log D(G | c) + lambda_l1 * L1`` (lambda 100), Adam; the configs use
the jsdcgan paper's protocol (Sec. 4.2: batch 8, 30 epochs, lr 0.003, betas (0.9, 0.999) as for jsdcgan),
since neither original's training settings are known to us. Both predict from the gray image alone, so
validation, test, prediction and the results table (``results_table="jsdcgan"``, rows "Multi-D" and
"Multi-G") are those of every colorization method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from kornia import color as kc
from torch import Tensor

from semcolor.lightning_modules.gan import ConditionalGANModule
from semcolor.networks.discriminators import ConditionalDiscriminator
from semcolor.networks.multi_discriminator import MultiScaleUNetGenerator, PyramidDiscriminator, image_pyramid
from semcolor.networks.multiscale_generator import SymmetricMultiScaleGenerator, yuv_to_rgb
from semcolor.networks.unet_generator import NormName
from semcolor.registry import METHODS

__all__ = ["MultiDModule", "MultiGModule"]


@METHODS.register("multi_d", tasks=("colorize",), results_table="jsdcgan")
class MultiDModule(ConditionalGANModule):
    """``multi_d``: multi-scale U-Net G and one conditional PatchGAN per scale ``D_s(y_s | x_s)`` (Li et al. 2018).

    Training: G produces ``num_scales`` images (:meth:`generate`); each scale's discriminator judges the
    generated image against the target average-pooled to that scale; the adversarial terms (and with
    ``multiscale_l1`` the L1 terms) are averaged over scales. Evaluation uses the full-resolution image.

    Args:
        in_channels: gray input channels (1).
        depth, base_channels, norm, dropout: the U-Net (pix2pix ``unet_256``: 8, 64, batch, 0.5).
        num_scales: images judged (3: H, H/2, H/4; not given by the papers).
        d_base_channels, d_layers, d_norm: each scale's PatchGAN (64, 3, batch); the coarsest scale must
            still leave a logit map (H / 2**(num_scales - 1) >= 3 * 2**d_layers).
        d_fuse: ``"add"`` (finer discriminators' features added into coarser ones: "the features of the
            local layer are added to the next layer of discriminator") or ``"none"`` (independent).
        fake_pyramid: ``"side_outputs"`` (G's own image per decoder scale, "generate color images of
            different scales") or ``"downsample"`` (the full-resolution output average-pooled; no side heads
            are trained then).
        multiscale_l1: L1 on every scale (averaged; True) or on the full-resolution image only.
        **kwargs: :class:`~semcolor.lightning_modules.gan.ConditionalGANModule`'s options (``lambda_l1``,
            ``lr``, ``betas``, ``g_steps`` ...).
    """

    def __init__(
        self,
        in_channels: int = 1,
        depth: int = 8,
        base_channels: int = 64,
        norm: NormName = "batch",
        dropout: float = 0.5,
        num_scales: int = 3,
        d_base_channels: int = 64,
        d_layers: int = 3,
        d_norm: NormName = "batch",
        d_fuse: Literal["add", "none"] = "add",
        fake_pyramid: Literal["side_outputs", "downsample"] = "side_outputs",
        multiscale_l1: bool = True,
        **kwargs: Any,
    ) -> None:
        if fake_pyramid not in ("side_outputs", "downsample"):
            raise ValueError(f"fake_pyramid must be 'side_outputs' or 'downsample', got {fake_pyramid!r}")
        super().__init__(**kwargs)

    def configure_models(self) -> None:
        hp = self.hparams
        self.network = MultiScaleUNetGenerator(
            hp.in_channels, 3, hp.depth, hp.base_channels, norm=hp.norm, dropout=hp.dropout,
            num_scales=hp.num_scales if hp.fake_pyramid == "side_outputs" else 1,
        )
        self.discriminator = PyramidDiscriminator(
            3, hp.in_channels, hp.num_scales, hp.d_base_channels, hp.d_layers, norm=hp.d_norm, fuse=hp.d_fuse
        )

    def generate(self, x: Tensor) -> list[Tensor]:
        """G's images, finest first: its side outputs, or its output average-pooled (``fake_pyramid``)."""
        if self.hparams.fake_pyramid == "side_outputs":
            return self.network.forward_pyramid(x)
        return image_pyramid(self(x), self.hparams.num_scales)

    def gan_target(self, y: Tensor) -> list[Tensor]:
        return image_pyramid(y, self.hparams.num_scales)

    def generated_image(self, x: Tensor, fake: Sequence[Tensor]) -> Tensor:
        return fake[0]

    def discriminate(self, y: Sequence[Tensor], x: Tensor) -> list[Tensor]:  # type: ignore[override]
        """One logit map per scale for the images ``y`` (finest first) given the gray input ``x``."""
        return self.discriminator(y, x)

    def discriminator_loss(self, x: Tensor, real: Sequence[Tensor], fake: Sequence[Tensor]) -> dict[str, Tensor]:
        """Eq. 4 per scale as a minimisation, averaged over scales; no gradient reaches G."""
        logits_real = self.discriminate(real, x)
        logits_fake = self.discriminate([f.detach() for f in fake], x)
        label = self.hparams.real_label
        losses = [0.5 * (self._bce(r, label) + self._bce(f, 0.0)) for r, f in zip(logits_real, logits_fake)]
        return {
            "loss": torch.stack(losses).mean(),
            "d_real": torch.stack([torch.sigmoid(r).mean() for r in logits_real]).mean().detach(),
            "d_fake": torch.stack([torch.sigmoid(f).mean() for f in logits_fake]).mean().detach(),
        }

    def generator_loss(self, x: Tensor, fake: Sequence[Tensor], target: Sequence[Tensor]) -> dict[str, Tensor]:
        """``adversarial_weight * mean_s -log D_s(G_s | x_s) + lambda_l1 * L1`` (L1 per ``multiscale_l1``)."""
        hp = self.hparams
        adv = torch.stack([self._bce(logit, 1.0) for logit in self.discriminate(fake, x)]).mean()
        pairs = list(zip(fake, target)) if hp.multiscale_l1 else [(fake[0], target[0])]
        l1 = torch.stack([self.pixel_loss(f, t) for f, t in pairs]).mean()
        return {"loss": hp.adversarial_weight * adv + hp.lambda_l1 * l1, "adv": adv.detach(), "l1": l1.detach()}


@METHODS.register("multi_g", tasks=("colorize",), results_table="jsdcgan")
class MultiGModule(ConditionalGANModule):
    """``multi_g``: Y -> U, V multi-kernel generator and a ResNet-18 ``D(U, V | Y)`` (Wu et al. 2020).

    ``gan_space="yuv"`` (default, Wu et al. colorize "in YUV color space"): D judges the U, V channels
    given Y = the gray input, and the L1 term compares U, V with the target's (kornia's BT.601
    ``rgb_to_yuv``); the target's own Y is not used, so real and fake pairs share Y exactly. ``"rgb"``: D
    and L1 on the RGB image (``yuv_to_rgb([Y, U, V])``, clamped), like the other baselines. The RGB image is
    what validation, test and prediction score in both cases.

    Args:
        depth, base_channels, max_multiplier, kernel_sizes, norm, skips: the generator
            (:class:`~semcolor.networks.multiscale_generator.SymmetricMultiScaleGenerator`; 5, 32, 8,
            (3, 5, 7), batch, True).
        gan_space: ``"yuv"`` or ``"rgb"`` (above).
        d_arch: ``"resnet18"`` (Wu et al.'s abstract), or ``"dcgan"`` / ``"patchgan"`` for comparison.
        d_base_channels, d_layers, d_norm, image_size: for the ``dcgan`` / ``patchgan`` discriminators.
        **kwargs: :class:`~semcolor.lightning_modules.gan.ConditionalGANModule`'s options.

    The input is always one channel (Y); there is no ``in_channels`` argument.
    """

    def __init__(
        self,
        depth: int = 5,
        base_channels: int = 32,
        max_multiplier: int = 8,
        kernel_sizes: tuple[int, ...] = (3, 5, 7),
        norm: NormName = "batch",
        skips: bool = True,
        gan_space: Literal["yuv", "rgb"] = "yuv",
        d_arch: Literal["resnet18", "dcgan", "patchgan"] = "resnet18",
        d_base_channels: int = 64,
        d_layers: int | None = None,
        d_norm: NormName = "batch",
        image_size: int = 256,
        **kwargs: Any,
    ) -> None:
        if gan_space not in ("yuv", "rgb"):
            raise ValueError(f"gan_space must be 'yuv' or 'rgb', got {gan_space!r}")
        super().__init__(**kwargs)

    @property
    def input_channels(self) -> int:
        """Bands the model takes: one, the Y (gray) image."""
        return 1

    def configure_models(self) -> None:
        hp = self.hparams
        self.network = SymmetricMultiScaleGenerator(
            1, hp.depth, hp.base_channels, hp.max_multiplier, tuple(hp.kernel_sizes), hp.norm, hp.skips
        )
        self.discriminator = ConditionalDiscriminator(
            2 if hp.gan_space == "yuv" else 3, (1,), arch=hp.d_arch, base_channels=hp.d_base_channels,
            n_layers=hp.d_layers, input_size=hp.image_size, norm=hp.d_norm,
        )

    def generate(self, x: Tensor) -> Tensor:
        return self.network.forward_uv(x) if self.hparams.gan_space == "yuv" else self(x)

    def gan_target(self, y: Tensor) -> Tensor:
        return kc.rgb_to_yuv(y)[:, 1:] if self.hparams.gan_space == "yuv" else y

    def generated_image(self, x: Tensor, fake: Tensor) -> Tensor:
        return yuv_to_rgb(x, fake) if self.hparams.gan_space == "yuv" else fake
