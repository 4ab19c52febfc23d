"""``unet``: the U-Net image-to-image baseline (smp U-Net, L1 loss).

The papers compare against plain U-Net style regressors (SECBNet's ResUnet, JSDCGAN's U-Net row);
this is that baseline, and the method that exercises the whole harness.
"""

from __future__ import annotations

from typing import Any

from semcolor.lightning_modules.base import ImageToImageModule
from semcolor.registry import METHODS


@METHODS.register("unet", tasks=("balance", "colorize"), results_table="jsdcgan")
class UNetModule(ImageToImageModule):
    """smp ``Unet`` from ``in_channels`` to RGB with a sigmoid output, trained with L1.

    Args:
        in_channels: input bands (3 for RGB, 1 for grayscale colorization).
        encoder_name: any smp/timm encoder (``resnet18`` keeps CPU runs quick).
        encoder_weights: ``"imagenet"`` when the user has the weights, ``None`` for random init.
        decoder_channels: widths of the five decoder stages.
        residual: predict a correction added to the input (``sigmoid(logit(x) + f(x))``) instead of
            the image itself; helps when input and target are close. Needs 3-channel input.
        **kwargs: the optimiser and metric options of :class:`ImageToImageModule` (``lr``, ``betas``,
            ``lr_step_epochs`` ...); LightningCLI lists and checks them as this class's own (jsonargparse
            follows ``**kwargs`` into the base class).
    """

    def __init__(
        self,
        in_channels: int = 3,
        encoder_name: str = "resnet18",
        encoder_weights: str | None = None,
        decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16),
        residual: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)

    def configure_models(self) -> None:
        import segmentation_models_pytorch as smp

        hp = self.hparams
        if hp.residual and hp.in_channels != 3:
            raise ValueError("residual=True needs in_channels=3 (the correction is added to the input)")
        self.network = smp.Unet(
            encoder_name=hp.encoder_name,
            encoder_weights=hp.encoder_weights,
            in_channels=hp.in_channels,
            classes=3,
            decoder_channels=tuple(hp.decoder_channels),
            activation=None,
        )

    def forward(self, x):  # type: ignore[override]
        import torch

        out = self.network(x)
        if self.hparams.residual:
            out = out + torch.logit(x.clamp(1e-3, 1 - 1e-3))
        return torch.sigmoid(out)
