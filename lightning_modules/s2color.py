"""``s2color``: consistent 16-bit -> 8-bit rendering of Sentinel-2 (Corpetti et al., IGARSS 2023).

One residual U-Net (``semcolor.networks.residual_unet.ResidualUNet``, Sec. 2.1) maps 16-bit RGB (B04, B03, B02) to an
8-bit rendering, trained with the threefold loss of Eq. (1), Sec. 2.2::

    L(y_hat, y) = lambda_m L_m + lambda_l L_l + lambda_f L_f,   lambda_m + lambda_l + lambda_f = 1,

* ``L_m``: mean absolute error ``|y_hat - y|`` over the batch;
* ``L_l``: mean absolute difference of the Laplacians ``|lap(y_hat) - lap(y)|`` (``kornia.filters.laplacian``);
* ``L_f``: mean squared difference of VGG-19 features ``||VGG(y_hat) - VGG(y)||^2`` (Simonyan & Zisserman
  2014, the paper's [14]).

Adam, learning rate 1e-3 (Sec. 3). The paper's settings (Sec. 3): MAE only ``(1, 0, 0)`` (saturates
luminance), MAE + Laplacian ``(0.5, 0.5, 0)`` (fixes saturation, adds false colours), all three (best; the
weights are not printed: we use ``(0.4, 0.3, 0.3)``). Configs: ``experiments/s2color/embedded-{mae,mae_lap,all}``.

Choices where the paper is silent (all constructor arguments):

* Laplacian stencil: kornia's 3x3 kernel ``[[1, 1, 1], [1, -8, 1], [1, 1, 1]]`` (``normalized=False``),
  reflect borders. For smooth images it equals 3 x the 5-point Laplacian the paper writes, so lambda_l
  weighs a term 3x larger than with the 5-point stencil; ``laplacian_kernel`` chooses the size.
* VGG-19 layer(s): ``relu2_2`` by default (the feature-reconstruction layer of Johnson et al. 2016, which
  keeps colour and local structure; deeper layers discard colour, which is what this task is about),
  ImageNet-normalised input, features averaged over the listed layers. The network is truncated after the
  deepest listed layer, so only that part is run.
* VGG-19 weights are never downloaded: ``vgg_weights`` names a file (torchvision's state dict, or only
  its ``features.*`` part), otherwise torchvision's cache (``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``)
  is used when present, otherwise the VGG is random and a loud warning says the feature term is then not
  the paper's perceptual loss (random convolutional features still penalise local-structure differences).
  The frozen VGG (:mod:`semcolor.networks.perceptual`) is saved in checkpoints, so a checkpoint evaluates the same on
  any machine.
* Nodata: batches with a ``valid`` mask (``semcolor.datamodules.sentinel2``) score invalid pixels as perfect
  (``y_hat`` replaced by ``y`` there) in the loss and the metrics; the embedded data have no mask.

Input scaling (what ``predict`` must feed): float32 reflectance ``(DN - 1000) / 10000``, the Sentinel-2
L2A convention of processing baseline >= 04.00 (``BOA_ADD_OFFSET = -1000``) and of the embedded ``render16``
variant; declared as :attr:`S2ColorModule.input_scaling` ``= (offset, scale) = (1000, 10000)`` for the whole-scene
tiler (``semcolor.scenes.datamodule``). Products without the offset (baselines < 04.00) need ``offset=0`` there;
``semcolor.datamodules.sentinel2`` reads the offsets from the product metadata itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from semcolor.lightning_modules.base import ImageToImageModule, score_valid_only
from semcolor.networks.perceptual import VGGFeatures, feature_mse
from semcolor.registry import METHODS

__all__ = [
    "S2ColorModule",
    "S2ColorLoss",
    "laplacian_loss",
    "check_loss_weights",
    "RenderingMixin",
]

def check_loss_weights(lambda_m: float, lambda_l: float, lambda_f: float, tol: float = 1e-6) -> None:
    """Eq. (1)'s constraint: each weight in [0, 1] and ``lambda_m + lambda_l + lambda_f = 1``."""
    weights = {"lambda_m": lambda_m, "lambda_l": lambda_l, "lambda_f": lambda_f}
    bad = {k: v for k, v in weights.items() if not 0.0 <= float(v) <= 1.0}
    if bad:
        raise ValueError(f"s2color loss weights must lie in [0, 1] (Eq. 1), got {bad}")
    total = sum(float(v) for v in weights.values())
    if abs(total - 1.0) > tol:
        raise ValueError(
            f"s2color loss weights must sum to 1 (Eq. 1: lambda_m + lambda_l + lambda_f = 1), got "
            f"{weights} summing to {total:g}"
        )


def laplacian_loss(pred: Tensor, target: Tensor, kernel_size: int = 3) -> Tensor:
    """``mean |lap(pred) - lap(target)|`` (Eq. 1's L_l) with ``kornia.filters.laplacian`` (unnormalised
    kernel, reflect borders). Zero for identical images."""
    import kornia

    diff = kornia.filters.laplacian(pred - target, kernel_size, border_type="reflect", normalized=False)
    return diff.abs().mean()  # linear filter: lap(a) - lap(b) = lap(a - b), one convolution


class S2ColorLoss(nn.Module):
    """Eq. (1): ``lambda_m MAE + lambda_l Laplacian + lambda_f VGG-19 feature loss`` (terms with weight 0
    are neither computed nor built). ``forward`` returns a dict with ``loss`` and the terms it computed
    (``mae``, ``laplacian``, ``feature``), for logging."""

    def __init__(
        self,
        lambda_m: float = 0.4,
        lambda_l: float = 0.3,
        lambda_f: float = 0.3,
        vgg_layers: Sequence[str] = ("relu2_2",),
        vgg_weights: str | None = None,
        laplacian_kernel: int = 3,
    ) -> None:
        super().__init__()
        check_loss_weights(lambda_m, lambda_l, lambda_f)
        self.lambda_m, self.lambda_l, self.lambda_f = float(lambda_m), float(lambda_l), float(lambda_f)
        self.laplacian_kernel = laplacian_kernel
        self.vgg = (VGGFeatures("vgg19", vgg_layers, vgg_weights, owner="s2color", option="vgg_weights")
                    if self.lambda_f > 0 else None)

    def feature_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        assert self.vgg is not None
        return feature_mse(self.vgg, pred, target)

    def forward(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        terms: dict[str, Tensor] = {}
        loss = pred.new_zeros(())
        if self.lambda_m > 0:
            terms["mae"] = F.l1_loss(pred, target)
            loss = loss + self.lambda_m * terms["mae"]
        if self.lambda_l > 0:
            terms["laplacian"] = laplacian_loss(pred, target, self.laplacian_kernel)
            loss = loss + self.lambda_l * terms["laplacian"]
        if self.lambda_f > 0:
            terms["feature"] = self.feature_loss(pred, target)
            loss = loss + self.lambda_f * terms["feature"]
        return {"loss": loss, **terms}


class RenderingMixin:
    """What the 16-bit renderers (``s2color``, ``stretch_tile``, ``stretch_global``) share: the input
    scaling they expect, nodata handling, and the mosaic-consistency check run at ``test`` time
    (:class:`semcolor.scenes.mosaic_consistency.MosaicConsistency`)."""

    #: the model sees ``(DN - offset) / scale`` (read by the whole-scene tiler, ``semcolor.scenes.datamodule``)
    input_scaling: tuple[float, float] | None = (1000.0, 10000.0)
    #: whole-scene prediction tiling ``(tile, overlap)``: the paper's 512 x 512 tiles
    predict_tiling: tuple[int, int] = (512, 64)

    def dn_to_input(self, dn: Tensor, offset: float | None = None, scale: float | None = None) -> Tensor:
        """16-bit DN -> the model's input ``(DN - offset) / scale`` (defaults: :attr:`input_scaling`)."""
        off, sc = self.input_scaling or (0.0, 1.0)
        return (dn.float() - (off if offset is None else offset)) / (sc if scale is None else scale)

    def render(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """The output for input ``x`` (``valid``: ``(N, H, W)`` nodata mask, for renderers that use it)."""
        return self(x)  # type: ignore[operator]

    def forward_batch(self, batch: dict[str, Any]) -> Tensor:
        """Every step renders through :meth:`render`, which may use the batch's nodata mask; the base
        class scores nodata as perfect (:func:`~semcolor.lightning_modules.base.score_valid_only`)."""
        return self.render(batch["input"], batch.get("valid"))

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """RGB in [0, 1] for float input scaled as :attr:`input_scaling` says; nodata (``valid`` False) -> 0."""
        if not isinstance(batch, dict):
            return self.to_rgb(self.render(batch))  # type: ignore[attr-defined]
        valid = batch.get("valid")
        out = self.to_rgb(self.forward_batch(batch))  # type: ignore[attr-defined]
        return out * valid[:, None].to(out.dtype) if valid is not None else out

    def configure_callbacks(self) -> list[Any]:
        hp = self.hparams  # type: ignore[attr-defined]
        if not hp.get("mosaic_check", True):
            return []
        from semcolor.scenes.mosaic_consistency import MosaicConsistency

        return [MosaicConsistency(tile_size=hp.get("mosaic_tile"), max_scenes=hp.get("mosaic_scenes", 4))]


@METHODS.register("s2color", tasks=("render16",))
class S2ColorModule(RenderingMixin, ImageToImageModule):
    """Residual U-Net trained with Eq. (1) to render 16-bit Sentinel-2 RGB as 8-bit RGB.

    Args:
        in_channels: input bands (3: B04, B03, B02 as reflectance).
        base_channels, depth, encoder_blocks, decoder_blocks, residual_kind, upsample: see
            :class:`semcolor.networks.residual_unet.ResidualUNet`.
        lambda_m, lambda_l, lambda_f: Eq. (1)'s weights (each in [0, 1], summing to 1; checked).
        vgg_layers: VGG-19 activations of the feature loss (default ``("relu2_2",)``).
        vgg_weights: VGG-19 weights file; ``None`` = torchvision's cache if present, else random (warned).
        laplacian_kernel: kornia Laplacian kernel size (3).
        mosaic_check: run the mosaic-consistency check (edge-jump Delta E) at test time.
        mosaic_tile: tile size of that check (``None``: the DataModule's tile/patch size).
        mosaic_scenes: at most this many test scenes in that check.
        **kwargs: the optimiser and metric options of :class:`ImageToImageModule` (``lr``: Adam's
            learning rate, Sec. 3: 1e-3, its default; ``betas``, ``lr_step_epochs`` ...), listed and
            checked by LightningCLI as this class's own.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 32,
        depth: int = 5,
        encoder_blocks: int = 2,
        decoder_blocks: int = 1,
        residual_kind: str = "basic",
        upsample: str = "bilinear",
        lambda_m: float = 0.4,
        lambda_l: float = 0.3,
        lambda_f: float = 0.3,
        vgg_layers: Sequence[str] = ("relu2_2",),
        vgg_weights: str | None = None,
        laplacian_kernel: int = 3,
        mosaic_check: bool = True,
        mosaic_tile: int | None = None,
        mosaic_scenes: int = 4,
        **kwargs: Any,
    ) -> None:
        check_loss_weights(lambda_m, lambda_l, lambda_f)  # before anything is built
        super().__init__(**kwargs)

    def configure_models(self) -> None:
        from semcolor.networks.residual_unet import ResidualUNet

        hp = self.hparams
        self.network = ResidualUNet(
            in_channels=hp.in_channels, out_channels=3, base_channels=hp.base_channels, depth=hp.depth,
            encoder_blocks=hp.encoder_blocks, decoder_blocks=hp.decoder_blocks,
            residual_kind=hp.residual_kind, upsample=hp.upsample, output_activation="sigmoid",
        )

    def configure_losses(self) -> None:
        hp = self.hparams
        self.criterion = S2ColorLoss(hp.lambda_m, hp.lambda_l, hp.lambda_f, tuple(hp.vgg_layers),
                                     hp.vgg_weights, hp.laplacian_kernel)

    def compute_loss(self, output: Tensor, batch: dict[str, Any]) -> dict[str, Tensor]:
        return self.criterion(score_valid_only(output, batch), batch["target"])

    def to_rgb(self, output: Tensor) -> Tensor:
        return output.clamp(0, 1)
