"""Colorization methods of the jsdcgan comparison (Wang et al. 2022, Tables 1-4) as LightningModules.

* ``pix2pix`` (:class:`Pix2PixModule`): Isola et al. 2017 -- U-Net generator (:class:`UNetGenerator`) and the
  70x70 PatchGAN on ``[x, y]`` (``D(y | x)``), lambda = 100. The "PatchGAN" row of Tables 1-2.
* ``dcgan`` (:class:`DCGANModule`): Nazeri et al. 2018 -- the same U-Net generator and a plain
  convolutional discriminator with one logit per image (:class:`DCGANDiscriminator`) on ``[x, y]``.
  The "DCGAN" row of Tables 1-2 and the "single stream" baseline of the ablation (Tables 3-4).
* ``jsdcgan`` (:class:`JSDCGANModule`): the joint-stream generator (:class:`JointStreamGenerator`: micro and
  macro U-Nets, LCFE Eq. 1, GSM Eq. 2) with the conditional DCGAN discriminator ``D(y | x1, x2)``
  (Eq. 3-4); ``ablation`` picks a row of Tables 3-4 (:data:`semcolor.networks.jsdcgan.ABLATIONS`).

The ``U-Net`` row of Tables 1-2 is the registered ``unet`` method (``UNetModule`` with
``in_channels: 1``, L1 only). Training (alternating D / G updates, losses): :mod:`semcolor.lightning_modules.gan`.

Paper settings (Wang et al. 2022, Sec. 4.2): batch 8, 30 epochs, Adam with lr 0.003 "as printed" (betas not
given: TensorFlow's default (0.9, 0.999) in the paper configs). 0.003 is 15x the usual GAN rate
2e-4 / betas (0.5, 0.999) of pix2pix, DCGAN and Nazeri's code, which ``experiments/jsdcgan/*-lr2e-4.yaml``
offers for jsdcgan.

Protocol of the baselines (the paper gives none): the DCGAN row of Tables 1-2 and the single-stream row of
Tables 3-4 carry identical numbers (one run), so ``dcgan/<data>.yaml`` trains with the paper's settings above
and builds the same module as ``jsdcgan/<data>-single.yaml``; Nazeri's own optimiser is
``dcgan/<data>-nazeri.yaml``. ``multi_d`` and ``multi_g`` (:mod:`semcolor.lightning_modules.multiscale_gan`),
whose own papers' settings are not available, use the paper's settings too; ``pix2pix`` keeps Isola et al.'s
(2e-4, (0.5, 0.999)), the settings of its own paper.

Sizes: the default generators are pix2pix's ``unet_256`` (depth 8, 64 base channels; jsdcgan has two of
them, about 97 M parameters); the DCGAN discriminator has a linear layer, so it is built for a fixed
``image_size`` (256 with ``n_layers`` 6, the 4x4x512 feature map of Nazeri's 256x256 model).
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from semcolor.lightning_modules.gan import ConditionalGANModule
from semcolor.networks.discriminators import ConditionalDiscriminator
from semcolor.networks.jsdcgan import ABLATIONS, JointStreamGenerator
from semcolor.networks.unet_generator import NormName, UNetGenerator
from semcolor.registry import METHODS

__all__ = ["JSDCGANModule", "DCGANModule", "Pix2PixModule"]


def _check_image_size(module: ConditionalGANModule, y: Tensor) -> None:
    """The DCGAN discriminator is built for one size; say which option to change when it differs."""
    size = module.hparams.image_size
    if tuple(y.shape[-2:]) != (size, size):
        raise ValueError(
            f"{type(module).__name__}: the DCGAN discriminator was built for {size}x{size} images "
            f"(model.init_args.image_size) but the batch is {y.shape[-2]}x{y.shape[-1]}; set image_size to the "
            "training image size (a multiple of 2**d_layers) or resize / crop the data to it"
        )


@METHODS.register("pix2pix", tasks=("colorize",), results_table="jsdcgan")
class Pix2PixModule(ConditionalGANModule):
    """``pix2pix``: U-Net generator + 70x70 PatchGAN ``D(y | x)``, G loss ``-log D(G) + 100 L1``.

    Args:
        in_channels: channels of the grayscale input (1).
        depth, base_channels, norm, dropout: the U-Net generator (pix2pix ``unet_256``: 8, 64, batch, 0.5).
        d_base_channels, d_layers, d_norm: the PatchGAN (64, 3 -> 70x70 receptive field, batch).
        **kwargs: the GAN and optimiser options of :class:`~semcolor.lightning_modules.gan.ConditionalGANModule`
            (``lambda_l1``, ``g_steps``, ``lr``, ``betas`` ...); LightningCLI lists and checks them as this
            class's own (jsonargparse follows ``**kwargs`` into the base class).
    """

    def __init__(
        self,
        in_channels: int = 1,
        depth: int = 8,
        base_channels: int = 64,
        norm: NormName = "batch",
        dropout: float = 0.5,
        d_base_channels: int = 64,
        d_layers: int = 3,
        d_norm: NormName = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)

    def _generator(self) -> UNetGenerator:
        hp = self.hparams
        return UNetGenerator(hp.in_channels, 3, hp.depth, hp.base_channels, norm=hp.norm, dropout=hp.dropout)

    def configure_models(self) -> None:
        hp = self.hparams
        self.network = self._generator()
        self.discriminator = ConditionalDiscriminator(
            3, (hp.in_channels,), arch="patchgan", base_channels=hp.d_base_channels, n_layers=hp.d_layers,
            norm=hp.d_norm,
        )


@METHODS.register("dcgan", tasks=("colorize",), results_table="jsdcgan")
class DCGANModule(Pix2PixModule):
    """``dcgan`` (Nazeri et al. 2018): U-Net generator + plain conv discriminator ``D(y | x)`` -> 1 logit.

    Nazeri's released code (facts): D sees ``[gray, colour]``, Adam 2e-4 / beta1 0.5, L1 weight 100,
    one D update then two G updates per batch (``g_steps: 2`` in ``dcgan/<data>-nazeri.yaml``), batch 16, 30 epochs.

    Args:
        image_size: the (square) training image size the discriminator's linear layer is built for.
        d_layers: stride-2 convolutions of D (6 at 256: 4x4x512 before the linear layer).
        others: :class:`Pix2PixModule`.
    """

    def __init__(self, d_layers: int = 6, image_size: int = 256, **kwargs: Any) -> None:
        super().__init__(d_layers=d_layers, **kwargs)

    def configure_models(self) -> None:
        hp = self.hparams
        self.network = self._generator()
        self.discriminator = ConditionalDiscriminator(
            3, (hp.in_channels,), arch="dcgan", base_channels=hp.d_base_channels, n_layers=hp.d_layers,
            input_size=hp.image_size, norm=hp.d_norm,
        )

    def discriminate(self, y: Tensor, x: Tensor) -> Tensor:
        _check_image_size(self, y)
        return super().discriminate(y, x)


@METHODS.register("jsdcgan", tasks=("colorize",), results_table="jsdcgan")
class JSDCGANModule(ConditionalGANModule):
    """``jsdcgan``: joint-stream generator G(x1, x2) + conditional DCGAN discriminator D(y | x1, x2).

    ``x2`` is the macro stream's input, the average-pooled ``x1`` (:meth:`JointStreamGenerator.macro_input`);
    D receives it upsampled to the image size (:class:`ConditionalDiscriminator`). The ``single_stream``
    ablation row has no macro stream, so its D is ``D(y | x1)`` -- Nazeri's baseline, as the paper says.

    Args:
        ablation: row of Tables 3-4, a key of :data:`semcolor.networks.jsdcgan.ABLATIONS`: ``single_stream``,
            ``joint_stream``, ``js_concat``, ``js_lcfe``, ``js_lcfe_gsm`` (the full method, default).
        in_channels: grayscale channels (1).
        depth, base_channels, macro_factor, macro_depth, stream_channels, norm, dropout: the generator
            (:class:`JointStreamGenerator`; defaults: two pix2pix ``unet_256`` streams, f = 2).
        lcfe_key_channels, lcfe_affinity, lcfe_activation: :class:`semcolor.networks.jsdcgan.LCFE` options.
        d_arch: ``"dcgan"`` (the paper's DCGAN discriminator) or ``"patchgan"``.
        d_base_channels, d_layers, d_norm: the discriminator (``d_layers`` None: 6 for dcgan, 3 for patchgan).
        image_size: training image size the ``dcgan`` discriminator is built for (ignored by patchgan).
        **kwargs: :class:`~semcolor.lightning_modules.gan.ConditionalGANModule`'s options, as for :class:`Pix2PixModule`
            (the paper configs set lr 0.003 and betas (0.9, 0.999)).
    """

    def __init__(
        self,
        ablation: str = "js_lcfe_gsm",
        in_channels: int = 1,
        depth: int = 8,
        base_channels: int = 64,
        macro_factor: int = 2,
        macro_depth: int | None = None,
        stream_channels: int | None = None,
        norm: NormName = "batch",
        dropout: float = 0.5,
        lcfe_key_channels: int | None = None,
        lcfe_affinity: Literal["position", "channel"] = "position",
        lcfe_activation: Literal["softmax", "sigmoid"] = "softmax",
        d_arch: Literal["dcgan", "patchgan"] = "dcgan",
        d_base_channels: int = 64,
        d_layers: int | None = None,
        d_norm: NormName = "batch",
        image_size: int = 256,
        **kwargs: Any,
    ) -> None:
        if ablation not in ABLATIONS:
            raise ValueError(f"unknown ablation {ablation!r}; expected one of {sorted(ABLATIONS)}")
        super().__init__(**kwargs)

    @property
    def joint_stream(self) -> bool:
        return bool(ABLATIONS[self.hparams.ablation]["joint_stream"])

    def configure_models(self) -> None:
        hp = self.hparams
        kwargs = dict(
            in_channels=hp.in_channels, out_channels=3, base_channels=hp.base_channels, depth=hp.depth,
            norm=hp.norm, dropout=hp.dropout,
        )
        if ABLATIONS[hp.ablation]["joint_stream"]:
            kwargs.update(
                macro_factor=hp.macro_factor, macro_depth=hp.macro_depth, stream_channels=hp.stream_channels,
                lcfe_key_channels=hp.lcfe_key_channels, lcfe_affinity=hp.lcfe_affinity,
                lcfe_activation=hp.lcfe_activation,
            )
        self.network = JointStreamGenerator.from_ablation(hp.ablation, **kwargs)
        conditions = (hp.in_channels, hp.in_channels) if self.joint_stream else (hp.in_channels,)
        self.discriminator = ConditionalDiscriminator(
            3, conditions, arch=hp.d_arch, base_channels=hp.d_base_channels, n_layers=hp.d_layers,
            input_size=hp.image_size, norm=hp.d_norm,
        )

    def conditions(self, x: Tensor) -> tuple[Tensor, ...]:
        """``(x1, x2)`` with ``x2`` the average-pooled ``x1`` (Eq. 4's ``D(y | x1, x2)``); ``(x1,)`` for single stream."""
        return (x, self.network.macro_input(x)) if self.joint_stream else (x,)

    def discriminate(self, y: Tensor, x: Tensor) -> Tensor:
        if self.hparams.d_arch == "dcgan":
            _check_image_size(self, y)
        return super().discriminate(y, x)
