"""``wiconet``: WiCoNet semantic segmentation (Ding et al., TGRS 2022), SECBNet's segmentation module.

SECBNet (Chen et al. 2024, Sec. III-B / IV-B) trains WiCoNet on GID (16 classes, index 0 "unrecognised" and
ignored; 50 epochs, best at 40) and uses the best checkpoint, frozen, as its segmentation module
(``semcolor.lightning_modules.secbnet``, ``model.init_args.seg_checkpoint``). This module trains it:

- network: :class:`semcolor.networks.wiconet.WiCoNet` (local ResNet-50 branch, context branch, cross-attention
  transformer, main + auxiliary classifier);
- loss as the WiCoNet authors train it (METHODS.md, "secbnet"): ``CE(main) + (1 - t)^2 * CE(aux)``,
  ``t`` = training progress in [0, 1] (optimizer steps done / steps planned);
- optimiser as their GID config: SGD lr 0.1, Nesterov, momentum 0.9, weight decay 5e-4, poly decay with
  power 1.5 (per step); metrics: mIoU and pixel accuracy without class 0 (the base class).

Context window: when the batch has ``"context"`` (GID with ``data.init_args.context_size`` set, 768
around a 256 patch) it is passed to the network; otherwise the network builds it from the local window
(``context_from_local``, as SECBNet must do on isolated 256 x 256 tiles).

Choices where neither paper nor METHODS.md decide (constructor arguments):

- Auxiliary target. The auxiliary logits cover the downscaled *context* window, whose labels the
  authors read from the scene; our datasets give labels for the local window only. The auxiliary CE is
  therefore taken on the part of the auxiliary map that shows the local window (its centre,
  ``local_size / scale`` px a side; the whole map for ``context_from_local="resize"`` without data
  context) against the local labels downscaled ``scale`` x by nearest neighbour.
- Cross-entropy that is safe on windows without any labelled pixel: ``torch``'s mean CE returns NaN
  when every target is ``ignore_index`` (a GID patch entirely "unlabeled" is common); here such a
  batch gives a loss of exactly 0 with zero gradients (:func:`masked_cross_entropy`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import torch.nn.functional as F
from torch import Tensor

from semcolor.lightning_modules.base import SegmentationModule, network_arguments
from semcolor.networks.losses import MaskedCrossEntropy, masked_cross_entropy  # noqa: F401 (re-exported)
from semcolor.networks.wiconet import WiCoNet
from semcolor.registry import METHODS

__all__ = ["WiCoNetModule", "masked_cross_entropy", "MaskedCrossEntropy", "WICONET_NETWORK_ARGS"]

#: the :class:`semcolor.networks.wiconet.WiCoNet` arguments (all of them are :class:`WiCoNetModule` arguments)
WICONET_NETWORK_ARGS: tuple[str, ...] = tuple(inspect.signature(WiCoNet).parameters)


@METHODS.register("wiconet", tasks=("segment",))
class WiCoNetModule(SegmentationModule):
    """WiCoNet trained with main + decaying auxiliary cross-entropy (see the module docstring).

    Args:
        num_classes: output classes including the ignored index 0 (16 for GID-15 as SECBNet uses it,
            7 for the embedded data).
        ignore_index: label left out of loss and metrics (0, "unrecognised").
        in_channels, local_size, context_size, scale, pretrained, dim, depth, heads, mlp_dim, dropout,
            local_dilation, context_from_local, input_mean, input_std: :class:`semcolor.networks.wiconet.WiCoNet`
            arguments. The positional embeddings fix the window the network sees to ``local_size``;
            patches of another size are resized to it (bilinear, antialiased; a data context window by
            the same factor) and the logits resized back to the patch (bilinear), so loss and mIoU are
            computed at the data's resolution. This is the "scaling" of SECBNet's preprocessing F
            (Eq. 1), and lets a cheap low-resolution module serve larger tiles (the embedded configs:
            64 px tiles, 32 px windows). At the GID setting the patch is the window (256), no resizing.
        aux_weight: weight of the auxiliary CE at the start of training (1).
        aux_power: exponent of the decay ``(1 - t)^aux_power`` (2, the authors').
        lr, nesterov, poly_power: SGD with poly decay (the authors' GID config: 0.1, Nesterov, 1.5).
        **kwargs: the other options of :class:`~semcolor.lightning_modules.base.SegmentationModule`
            (``momentum`` 0.9 and ``weight_decay`` 5e-4, the authors' values), listed and checked by
            LightningCLI as this class's own.
    """

    def __init__(
        self,
        num_classes: int = 16,
        ignore_index: int | None = 0,
        in_channels: int = 3,
        local_size: int = 256,
        context_size: int = 768,
        scale: int = 4,
        pretrained: bool = False,
        dim: int = 512,
        depth: int = 4,
        heads: int = 4,
        mlp_dim: int = 1024,
        dropout: float = 0.0,
        local_dilation: bool = False,
        context_from_local: Literal["symmetric_pad", "resize"] = "symmetric_pad",
        input_mean: Sequence[float] | None = None,
        input_std: Sequence[float] | None = None,
        aux_weight: float = 1.0,
        aux_power: float = 2.0,
        lr: float = 0.1,
        nesterov: bool = True,
        poly_power: float = 1.5,
        **kwargs: Any,
    ) -> None:
        self._batch_context: Tensor | None = None
        super().__init__(num_classes=num_classes, ignore_index=ignore_index, lr=lr, nesterov=nesterov,
                         poly_power=poly_power, **kwargs)

    # -- hooks ------------------------------------------------------------------------------------------
    def configure_models(self) -> None:
        hp = self.hparams
        stats = {k: None if hp[k] is None else list(hp[k]) for k in ("input_mean", "input_std")}
        self.network = WiCoNet(**network_arguments(WiCoNet, hp, **stats))

    # -- forward with the batch's context window --------------------------------------------------------
    @contextmanager
    def _context_of(self, batch: Any) -> Iterator[None]:
        """Make the batch's ``"context"`` (if any) the context of the ``self(x)`` calls of the base steps."""
        self._batch_context = batch.get("context") if isinstance(batch, dict) else None
        try:
            yield
        finally:
            self._batch_context = None

    def forward(self, x: Tensor, context: Tensor | None = None) -> Any:
        """WiCoNet on ``x``; windows of another size than ``local_size`` are resized (see the class docstring)."""
        from semcolor.networks.wiconet import WiCoNetOutput

        net = self.network
        context = context if context is not None else self._batch_context
        side = (net.local_size, net.local_size)
        if x.shape[-2:] == side:
            return net(x, context)
        small = F.interpolate(x, size=side, mode="bilinear", align_corners=False, antialias=True)
        if context is not None and context.shape[-1] not in (net.context_size, net.context_input_size):
            factor = net.local_size / x.shape[-1]
            n = round(context.shape[-1] * factor)
            context = F.interpolate(context, size=(n, n), mode="bilinear", align_corners=False, antialias=True)
        out = net(small, context)
        logits = F.interpolate(out.logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return WiCoNetOutput(logits, out.aux)

    def logits(self, output: Any) -> Tensor:
        return output.logits

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        with self._context_of(batch):
            return super().training_step(batch, batch_idx)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        with self._context_of(batch):
            return super().validation_step(batch, batch_idx)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        with self._context_of(batch):
            return super().test_step(batch, batch_idx)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        with self._context_of(batch):
            return super().predict_step(batch, batch_idx, dataloader_idx)

    # -- loss ---------------------------------------------------------------------------------------
    def progress(self) -> float:
        """Training progress ``t`` in [0, 1]: optimizer steps done / steps planned, or the share of the time
        budget spent (``max_time`` runs); 0 without a trainer."""
        from semcolor.lightning_modules.progress import training_progress

        return training_progress(self._trainer)

    def aux_target(self, seg: Tensor, aux_size: int) -> tuple[Tensor, slice]:
        """Local labels at the auxiliary map's scale, and the rows/cols of the auxiliary map they cover."""
        net = self.network
        whole = self._batch_context is None and net.context_from_local == "resize"
        side = aux_size if whole else net.local_size // net.scale
        small = F.interpolate(seg[:, None].float(), size=(side, side), mode="nearest")[:, 0].long()
        off = 0 if whole else (aux_size - side + 1) // 2  # the network centres the local window this way
        return small, slice(off, off + side)

    def compute_loss(self, output: Any, batch: dict[str, Any]) -> dict[str, Tensor]:
        main = self.ce(output.logits, batch["seg"])
        if output.aux is None:
            return {"loss": main}
        target, span = self.aux_target(batch["seg"], output.aux.shape[-1])
        aux = self.ce(output.aux[:, :, span, span], target)
        weight = self.hparams.aux_weight * (1.0 - self.progress()) ** self.hparams.aux_power
        return {"loss": main + weight * aux, "main_loss": main.detach(), "aux_loss": aux.detach()}
