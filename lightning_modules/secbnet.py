"""``secbnet``: Semantic segmentation-Enhanced Colour Balance Network (Chen et al., TGRS 2024).

A generator (:class:`semcolor.networks.secbnet.SECBNetGenerator`, Fig. 2a) maps an unbalanced 256 x 256 tile
and the colour-coded segmentation map of that tile to the balanced tile. A *frozen* segmentation
module (WiCoNet trained on GID, :mod:`semcolor.lightning_modules.wiconet`) makes that map and defines the
segmentation style loss (Sec. III-C):

- Eq. 1: ``t_result, t_GT = F(G(x), S), F(y, S)``: both images get the identical preprocessing ``F``
  (here: bilinear resize to the segmentation module's local window when the tile has another size;
  the identity at the paper's 256 x 256) and are segmented by ``S``;
- Eq. 2: the prediction on the ground truth becomes class indices (argmax; 16 classes, 0 =
  unrecognised);
- Eq. 3: ``L_seg`` = (optionally class-weighted) cross-entropy of ``S``'s logits on ``G(x)`` against
  those indices, class 0 ignored;
- Eq. 4: ``L_pix = || G(x) - y ||_1``;  Eq. 5: ``L = 100 * L_seg + 1 * L_pix`` (Sec. IV-B).

Training as Sec. IV-B: Adam (0.9, 0.999), lr 1e-4, x0.8 every 5 epochs, 150 epochs, batch 16, best
checkpoint on validation (``experiments/secbnet/zhcbi.yaml``). The Table V ablation (no segmentation
module / Seg64 / Seg128 / Seg256 / Seg512) is ``seg_depth`` (``experiments/secbnet/*-seg*.yaml``).

Frozen segmentation module: wrapped in :class:`semcolor.networks.blocks.FrozenModule` - eval mode whatever the
parent's mode (BN statistics and dropout fixed), ``requires_grad=False`` (Adam never touches it, its
weights stay bit-identical), but the graph is recorded so ``L_seg``'s gradient reaches ``G(x)``. Its
weights come from ``seg_checkpoint`` (a ``wiconet`` Lightning checkpoint or a plain WiCoNet state
dict) and are saved inside SECBNet's own checkpoints, so evaluating a SECBNet checkpoint does not need
the WiCoNet file any more.

Evaluation: tile PSNR / SSIM / Delta E 2000 (and the identity baseline) from the base class; at the end
of ``test``, when the DataModule offers whole scenes (``scene_count`` / ``load_scene``, e.g. the
embedded data), every test scene is predicted as overlapping tiles and scored after stitching without
and with the paper's weighted-average blending (Algorithm 1, :mod:`semcolor.scenes.stitching`:
PSNR, SSIM and seam ratio of the whole scene; logged as ``test_stitched_<mode>_<score>`` beside
``test_identity_stitched_...``); a results table (``results.md`` / ``results.json``) is written into
the run folder (``$SEMCOLOR_RUN_DIR``, else the trainer's ``default_root_dir``).

Choices where the paper is ambiguous (all constructor arguments):

- ``seg_depth`` names the Table V variant by the paper's channel count (64 / 128 / 256 / 512 = encoder
  level 0 / 1 / 2 / 3, see ``networks/secbnet.py``), whatever ``base_channels`` is, so a narrow CPU
  model's "Seg64" fuses at level 0 too (with ``base_channels`` channels). ``None`` = "without the
  segmentation module".
- ``seg_loss``: "without the segmentation module" (Table V) has no module to compute ``L_seg`` with,
  so by default ``L_seg`` is used iff ``seg_depth`` is set; ``seg_loss=True`` with ``seg_depth=None``
  keeps the loss without the branch (and ``False`` with a branch drops it).
- ``seg_map_mode``: the generator's segmentation input is the module's prediction on the input tile,
  colour-coded (Sec. III-B "from three to 64"; ZHCBI ships such colour-coded maps): ``"hard"`` (default)
  = ``palette[argmax]``, the literal colour-coded map; ``"soft"`` = softmax-weighted palette colours.
- ``seg_loss_norm``: Eq. 3 divides by ``N = H x W``, all pixels (``"all"``, default); ``"valid"``
  divides by the (weighted) count of non-ignored pixels (PyTorch's mean). Either way a target that is
  entirely class 0 gives ``L_seg = 0`` (PyTorch's CE would give NaN).
- Palette of the colour-coded map: GID-15's label colours for 16 classes (ZHCBI's seg maps use them),
  else matplotlib's tab20 colours (``semcolor.lightning_modules.base.class_palette``); ``seg_palette`` overrides.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semcolor.checkpoints import read_torch_file
from semcolor.errors import SemcolorError
from semcolor.lightning_modules.base import ImageToImageModule, class_palette, network_arguments
from semcolor.lightning_modules.wiconet import WICONET_NETWORK_ARGS, MaskedCrossEntropy
from semcolor.registry import METHODS

__all__ = [
    "SECBNetModule", "RandomSegmentationModuleWarning", "load_segmentation_state", "PAPER_SEG_DEPTHS",
    "trainable_parameters", "frozen_parameters",
]  # fmt: skip

#: Table V's segmentation depths (channels at the paper's widths) -> encoder level of the fusion
PAPER_SEG_DEPTHS: dict[int, int] = {64: 0, 128: 1, 256: 2, 512: 3}


class RandomSegmentationModuleWarning(UserWarning):
    """SECBNet runs with a randomly initialised segmentation module (``seg_checkpoint=None``)."""


def load_segmentation_state(path: str | Path, num_classes: int) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """WiCoNet weights from ``path``: a ``wiconet`` Lightning checkpoint or a plain WiCoNet state dict.

    Returns ``(state_dict, network_hparams)``: the state dict with the Lightning module's ``network.``
    prefix stripped, and the WiCoNet constructor arguments stored in a Lightning checkpoint (empty for
    a plain state dict). Raises :class:`SemcolorError` naming the file when it is missing, unreadable,
    not WiCoNet weights, or made for another number of classes than ``num_classes``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise SemcolorError(
            f"segmentation checkpoint (seg_checkpoint) not found: '{path}'; train one with "
            f"`make train METHOD=wiconet DATA=<data>` or set model.init_args.seg_checkpoint=null"
        )
    ckpt = read_torch_file(path, "segmentation checkpoint (seg_checkpoint)")
    hparams: dict[str, Any] = {}
    if isinstance(ckpt, dict) and "state_dict" in ckpt:
        hp = ckpt.get("hyper_parameters") or {}
        saved = hp.get("_class_path")
        if saved and not saved.endswith("WiCoNetModule"):
            raise SemcolorError(f"segmentation checkpoint '{path}' was written by {saved}, not by the wiconet method")
        state = {k[len("network."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("network.")}
        hparams = {k: hp[k] for k in WICONET_NETWORK_ARGS if k in hp}
    elif isinstance(ckpt, dict) and ckpt and all(isinstance(v, Tensor) for v in ckpt.values()):
        state = dict(ckpt)
        if all(k.startswith("network.") for k in state):
            state = {k[len("network."):]: v for k, v in state.items()}
    else:
        raise SemcolorError(f"'{path}' is neither a wiconet Lightning checkpoint nor a WiCoNet state dict")
    head = state.get("classifier.3.weight")
    if head is None:
        raise SemcolorError(
            f"'{path}' holds no WiCoNet weights (no 'classifier.3.weight'; keys start with "
            f"{sorted({k.split('.')[0] for k in state})[:6]})"
        )
    if head.shape[0] != num_classes:
        raise SemcolorError(
            f"segmentation checkpoint '{path}' is a WiCoNet for {head.shape[0]} classes, but this SECBNet "
            f"expects {num_classes} (model.init_args.seg_num_classes); use a checkpoint trained on data with "
            f"{num_classes} classes or set seg_num_classes={head.shape[0]}"
        )
    return state, hparams


@METHODS.register("secbnet", tasks=("balance",))
class SECBNetModule(ImageToImageModule):
    """SECBNet: generator + frozen WiCoNet, ``L = seg_loss_weight * L_seg + pix_loss_weight * L_pix``.

    Args:
        in_channels: input bands (3).
        base_channels, num_levels, branch_blocks, encoder_blocks, fusion_blocks, decoder_convs,
            residual_block, upsample, output_activation: :class:`semcolor.networks.secbnet.SECBNetGenerator`
            arguments (defaults = the paper's widths, 32.4 M parameters with Seg64).
        seg_depth: Table V variant, ``None`` / 64 / 128 / 256 / 512 (see the module docstring).
        seg_checkpoint: WiCoNet weights (``wiconet`` Lightning checkpoint or state dict); ``None``:
            random weights with a :class:`RandomSegmentationModuleWarning` (``L_seg`` is then
            meaningless; for tests and quick runs only).
        seg_num_classes: classes of the segmentation module (16 = GID-15 with 0 "unrecognised").
        seg_network: further WiCoNet arguments (``local_size``, ``context_size``, ``dim`` ...); they
            override those stored in a Lightning ``seg_checkpoint``, which override WiCoNet's defaults.
        seg_palette: RGB (0-255) colour per class for the colour-coded map (default: see module docstring).
        seg_map_mode: ``"hard"`` or ``"soft"`` colour coding.
        seg_source: where the generator's segmentation map comes from: ``"module"`` (the paper: the frozen
            module's prediction on the input tile) or ``"labels"`` (the batch's true class map ``seg``,
            colour-coded: an oracle that shows what the branch can gain when the map is right; it needs the
            class map at prediction time, so whole-scene predict and the stitched evaluation are off).
        seg_loss: use ``L_seg`` (``None``: iff ``seg_depth`` is set).
        seg_loss_weight, pix_loss_weight: lambda1 (100) and lambda2 (1) of Eq. 5.
        class_weights: optional ``w_i`` of Eq. 3, one per class.
        seg_ignore_index: class left out of ``L_seg`` (0).
        seg_loss_norm: ``"all"`` (Eq. 3) or ``"valid"`` normalisation of ``L_seg``.
        stitch_eval: run the stitched-scene evaluation at the end of ``test`` when scenes are offered.
        stitch_overlap: overlap ``R`` of neighbouring tiles in pixels (100 in the paper, for 256 tiles).
        stitch_tile: tile side for scene prediction (default: the DataModule's ``tile_size`` /
            ``patch_size``, else 256).
        stitch_scenes: score at most this many test scenes (``None``: all).
        stitch_batch_size: tiles per forward pass in scene prediction.
        lr, lr_step_epochs: Adam's learning rate 1e-4, multiplied by ``lr_gamma`` (0.8) every 5 epochs.
        **kwargs: the other optimiser and logging options of :class:`ImageToImageModule` (``betas``
            (0.9, 0.999), ``lr_gamma`` 0.8 ...: the paper's values), listed and checked by LightningCLI as
            this class's own.
    """

    #: whole-scene prediction: 256 x 256 tiles with the paper's R = 100 px overlap (Algorithm 1)
    predict_tiling = (256, 100)

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 64,
        num_levels: int = 4,
        seg_depth: int | None = 64,
        branch_blocks: int = 2,
        encoder_blocks: int = 1,
        fusion_blocks: int = 1,
        decoder_convs: int = 2,
        residual_block: Literal["basic", "preact"] = "basic",
        upsample: Literal["bilinear", "nearest", "transpose"] = "bilinear",
        output_activation: Literal["sigmoid", "identity"] = "sigmoid",
        seg_checkpoint: str | None = None,
        seg_num_classes: int = 16,
        seg_network: dict[str, Any] | None = None,
        seg_palette: list[list[int]] | None = None,
        seg_map_mode: Literal["hard", "soft"] = "hard",
        seg_source: Literal["module", "labels"] = "module",
        seg_loss: bool | None = None,
        seg_loss_weight: float = 100.0,
        pix_loss_weight: float = 1.0,
        class_weights: list[float] | None = None,
        seg_ignore_index: int | None = 0,
        seg_loss_norm: Literal["all", "valid"] = "all",
        stitch_eval: bool = True,
        stitch_overlap: int = 100,
        stitch_tile: int | None = None,
        stitch_scenes: int | None = None,
        stitch_batch_size: int = 16,
        lr: float = 1e-4,
        lr_step_epochs: int | None = 5,
        **kwargs: Any,
    ) -> None:
        self._stitched: dict[str, dict[str, float]] = {}
        self._stitched_settings: dict[str, Any] = {}
        super().__init__(lr=lr, lr_step_epochs=lr_step_epochs, **kwargs)

    # -- models -----------------------------------------------------------------------------------------
    @property
    def uses_seg_loss(self) -> bool:
        hp = self.hparams
        return hp.seg_depth is not None if hp.seg_loss is None else bool(hp.seg_loss)

    def configure_models(self) -> None:
        from semcolor.networks.secbnet import (
            GID15_PALETTE,
            SECBNetGenerator,
            SegmentationColorizer,
        )

        hp = self.hparams
        if hp.seg_depth is not None and hp.seg_depth not in PAPER_SEG_DEPTHS:
            raise SemcolorError(f"seg_depth must be null or one of {list(PAPER_SEG_DEPTHS)} (Table V), got {hp.seg_depth}")
        level = None if hp.seg_depth is None else PAPER_SEG_DEPTHS[hp.seg_depth]
        if level is not None and level >= hp.num_levels:
            raise SemcolorError(f"seg_depth={hp.seg_depth} needs num_levels > {level}, got {hp.num_levels}")
        self.network = SECBNetGenerator(**network_arguments(
            SECBNetGenerator, hp, seg_depth=None if level is None else hp.base_channels * 2**level))
        self.seg_module: nn.Module | None = None
        self.colorizer: nn.Module | None = None
        if hp.seg_depth is None and not self.uses_seg_loss:
            return
        from semcolor.networks.blocks import FrozenModule

        if hp.seg_source not in ("module", "labels"):
            raise SemcolorError(f"seg_source must be 'module' or 'labels', got {hp.seg_source!r}")
        needs_module = self.uses_seg_loss or hp.seg_source == "module"
        self.seg_module = FrozenModule(self._build_seg_network()) if needs_module else None
        if hp.seg_palette is not None:
            palette = [tuple(int(v) for v in c) for c in hp.seg_palette]
        elif hp.seg_num_classes == len(GID15_PALETTE):
            palette = list(GID15_PALETTE)
        else:
            with torch.device("cpu"):  # constants, also when the module is built on the meta device
                palette = [tuple(int(round(v * 255)) for v in c) for c in class_palette(hp.seg_num_classes).tolist()]
        if len(palette) != hp.seg_num_classes:
            raise SemcolorError(f"seg_palette has {len(palette)} colours for seg_num_classes={hp.seg_num_classes}")
        self.colorizer = SegmentationColorizer(palette, mode=hp.seg_map_mode)

    def _build_seg_network(self) -> nn.Module:
        from semcolor.networks.wiconet import WiCoNet

        hp = self.hparams
        kwargs: dict[str, Any] = {"in_channels": hp.in_channels}
        state = None
        if hp.seg_checkpoint:
            state, stored = load_segmentation_state(hp.seg_checkpoint, hp.seg_num_classes)
            kwargs.update({k: v for k, v in stored.items() if k not in ("num_classes", "pretrained")})
        extra = dict(hp.seg_network or {})
        if "num_classes" in extra and extra["num_classes"] != hp.seg_num_classes:
            raise SemcolorError(
                f"seg_network.num_classes={extra['num_classes']} contradicts seg_num_classes={hp.seg_num_classes}"
            )
        unknown = set(extra) - set(WICONET_NETWORK_ARGS)
        if unknown:
            raise SemcolorError(f"seg_network has unknown WiCoNet arguments {sorted(unknown)}; known: {list(WICONET_NETWORK_ARGS)}")
        kwargs.update(extra)
        kwargs["num_classes"] = hp.seg_num_classes
        if state is not None:
            kwargs["pretrained"] = False  # the checkpoint brings every weight
        net = WiCoNet(**kwargs)
        self._seg_kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items() if k != "pretrained"}
        if state is None:
            warnings.warn(
                "SECBNet: seg_checkpoint is None, so the frozen segmentation module (WiCoNet) has RANDOM "
                "weights: the segmentation maps fed to the generator and the segmentation style loss L_seg "
                "carry no semantic information. Fine for tests and smoke runs; for real training pass "
                "model.init_args.seg_checkpoint=<a wiconet checkpoint> (make train METHOD=wiconet). "
                "(Evaluating a trained SECBNet checkpoint is fine: it holds the segmentation module's weights.)",
                RandomSegmentationModuleWarning,
                stacklevel=2,
            )
            return net
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise SemcolorError(
                f"segmentation checkpoint '{hp.seg_checkpoint}' does not fit WiCoNet({kwargs}): {first}"
            ) from None
        return net

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the segmentation module's WiCoNet settings beside its weights."""
        if self.seg_module is not None:
            checkpoint["secbnet_seg_network"] = dict(self._seg_kwargs)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Rebuild the segmentation module with the checkpoint's WiCoNet settings when the config's differ
        (e.g. ``make eval`` with a config that names no ``seg_checkpoint``); its weights load next."""
        from semcolor.networks.blocks import FrozenModule
        from semcolor.networks.wiconet import WiCoNet

        stored = checkpoint.get("secbnet_seg_network")
        if self.seg_module is None or not stored or stored == self._seg_kwargs:
            return
        device = next(self.seg_module.parameters()).device
        self.seg_module = FrozenModule(WiCoNet(**{**stored, "pretrained": False})).to(device)
        self._seg_kwargs = dict(stored)

    def configure_losses(self) -> None:
        super().configure_losses()
        hp = self.hparams
        weight = None
        if hp.class_weights is not None:
            if len(hp.class_weights) != hp.seg_num_classes:
                raise SemcolorError(
                    f"class_weights has {len(hp.class_weights)} values for seg_num_classes={hp.seg_num_classes}"
                )
            weight = torch.tensor(hp.class_weights, dtype=torch.float32)
        self.seg_ce = MaskedCrossEntropy(hp.seg_ignore_index, weight, hp.seg_loss_norm)

    # -- segmentation module ----------------------------------------------------------------------------
    def seg_logits(self, image: Tensor) -> Tensor:
        """``S(F(image))``: the frozen module's logits; ``F`` resizes to its local window when needed (Eq. 1)."""
        if self.seg_module is None:
            raise RuntimeError("this SECBNet has no segmentation module")
        side = self.seg_module.module.local_size
        if image.shape[-2:] != (side, side):
            image = F.interpolate(image, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        return self.seg_module(image).logits

    @torch.no_grad()
    def seg_map(self, image: Tensor) -> Tensor:
        """The colour-coded segmentation map of ``image`` (the generator's second input), at its size."""
        assert self.colorizer is not None
        colours = self.colorizer(self.seg_logits(image))
        if colours.shape[-2:] != image.shape[-2:]:
            mode = "nearest" if self.hparams.seg_map_mode == "hard" else "bilinear"
            colours = F.interpolate(colours, size=image.shape[-2:], mode=mode)
        return colours

    def forward(self, x: Tensor) -> Tensor:
        if self.hparams.seg_source == "labels" and self.network.seg_branch is not None:
            raise SemcolorError("secbnet with seg_source=labels needs the true class map: it runs on batches with"
                                " 'seg' only (no whole-scene predict)")
        seg = self.seg_map(x) if self.network.seg_branch is not None else None
        return self.network(x, seg)

    def label_map(self, seg: Tensor) -> Tensor:
        """The colour-coded true class map ``(N, 3, H, W)`` of ``seg`` ``(N, H, W)`` (``seg_source="labels"``)."""
        assert self.colorizer is not None
        palette = self.colorizer.palette
        return palette[seg.long().clamp(0, palette.shape[0] - 1)].permute(0, 3, 1, 2).contiguous()

    def forward_batch(self, batch: dict[str, Any]) -> Tensor:
        if self.hparams.seg_source == "labels" and self.network.seg_branch is not None:
            return self.network(batch["input"], self.label_map(batch["seg"]))
        return super().forward_batch(batch)

    def compute_loss(self, output: Tensor, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Eq. 4 and 5 (with Eq. 1-3 for ``L_seg``); logs ``pix_loss`` and ``seg_loss`` beside ``loss``."""
        hp = self.hparams
        target = batch["target"]
        pix = self.pixel_loss(output, target)
        if not self.uses_seg_loss:
            return {"loss": hp.pix_loss_weight * pix, "pix_loss": pix.detach()}
        with torch.no_grad():
            classes = self.seg_logits(target).argmax(1)  # Eq. 2: t_GT
        seg = self.seg_ce(self.seg_logits(output), classes)  # Eq. 3, gradient through S to G(x)
        loss = hp.seg_loss_weight * seg + hp.pix_loss_weight * pix
        return {"loss": loss, "pix_loss": pix.detach(), "seg_loss": seg.detach()}

    def sample_panels(self, batch: dict[str, Any], output: Tensor) -> dict[str, Tensor]:
        """Input | the generator's segmentation map (when it has the branch) | output | target."""
        x, out, target = super().sample_panels(batch, output)
        panels = {"input": x}
        if self.network.seg_branch is not None:
            labels = self.hparams.seg_source == "labels"
            panels["labels (seg input)" if labels else "seg map (seg input)"] = (
                self.label_map(batch["seg"]) if labels else self.seg_map(batch["input"]))
        return {**panels, "output": out, "target": target}

    # -- stitched-scene evaluation ------------------------------------------------------------------------
    def _predict_rgb(self, x: Tensor) -> Tensor:
        return self.to_rgb(self(x.to(self.device)))

    def stitched_scene_scores(self, datamodule: Any, split: str = "test") -> dict[str, dict[str, float]]:
        """Mean stitched-scene PSNR / SSIM over ``split``'s scenes (see :func:`stitching.evaluate_scene`).

        Empty when the DataModule offers no whole scenes with targets.
        """
        from semcolor.datamodules.embedded import input_to_tensor
        from semcolor.datamodules.transforms import image_to_tensor
        from semcolor.scenes.stitching import evaluate_scene, mean_scores

        if not (hasattr(datamodule, "load_scene") and hasattr(datamodule, "scene_count")):
            return {}
        hp = self.hparams
        n = datamodule.scene_count(split)
        if hp.stitch_scenes is not None:
            n = min(n, hp.stitch_scenes)
        if self._trainer is not None and self.trainer.fast_dev_run:
            n = min(n, 1)
        tile = hp.stitch_tile or getattr(datamodule, "tile_size", None) or getattr(datamodule, "patch_size", None) or 256
        if not 0 <= hp.stitch_overlap < tile:
            raise SemcolorError(f"stitch_overlap={hp.stitch_overlap} must be smaller than the tile size {tile}")
        was_training = self.training
        self.eval()
        per_scene = []
        try:
            for i in range(n):
                scene = datamodule.load_scene(split, i)
                if scene.get("target") is None:
                    return {}
                image = input_to_tensor(scene["input"]).to(self.device)
                target = image_to_tensor(scene["target"]).to(self.device)
                if min(image.shape[-2:]) < tile:
                    raise SemcolorError(f"scene {scene.get('name', i)} ({tuple(image.shape[-2:])}) is smaller than the tile {tile}")
                per_scene.append(evaluate_scene(self._predict_rgb, image, target, tile, hp.stitch_overlap,
                                                hp.stitch_batch_size))
        finally:
            self.train(was_training)
        self._stitched_settings = {"scenes": n, "tile": tile, "overlap R": hp.stitch_overlap}
        return mean_scores(per_scene)

    def on_test_epoch_start(self) -> None:
        self._stitched = {}

    def on_test_epoch_end(self) -> None:
        if (not self.hparams.stitch_eval or self.hparams.seg_source == "labels" or self._trainer is None
                or self.trainer.datamodule is None):
            return
        self._stitched = self.stitched_scene_scores(self.trainer.datamodule, "test")
        identity = self._stitched.get("identity", {})
        for mode, scores in self._stitched.items():
            if mode == "identity":
                continue
            for name, value in scores.items():
                self.log(f"test_stitched_{mode}_{name}", value, sync_dist=True)
                if name in identity:
                    self.log(f"test_identity_stitched_{mode}_{name}", identity[name], sync_dist=True)

    def on_test_end(self) -> None:
        trainer = self.trainer
        if trainer.fast_dev_run or not trainer.is_global_zero:
            return
        from semcolor.scenes.stitching import STITCH_LABELS, write_results

        metrics = trainer.callback_metrics

        def value(key: str) -> float | None:
            v = metrics.get(key)
            return None if v is None else float(v)

        tiles = [
            {"metric": m, "model": value(f"test_{m}"), "identity": value(f"test_identity_{m}")}
            for m in ("psnr", "ssim", "delta_e")
            if f"test_{m}" in metrics
        ]
        stitched = [{"mode": STITCH_LABELS.get(k, k), **v} for k, v in self._stitched.items()]
        dm = trainer.datamodule
        results = {
            "title": "SECBNet test results",
            "meta": {
                "method": "secbnet",
                "data": type(dm).__name__ if dm is not None else None,
                "checkpoint": getattr(trainer, "ckpt_path", None),
                "seg_depth": self.hparams.seg_depth,
                "seg_checkpoint": self.hparams.seg_checkpoint,
            },
            "tiles": tiles,
            "stitched": stitched,
            "stitched_settings": self._stitched_settings if stitched else {},
        }
        folder = os.environ.get("SEMCOLOR_RUN_DIR") or trainer.default_root_dir
        md, _ = write_results(folder, results)
        print(md.read_text())
        print(f"results table: {md} (and {md.with_suffix('.json').name})")


def trainable_parameters(module: nn.Module) -> int:
    """Number of parameters with ``requires_grad`` (the generator's, for SECBNet)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def frozen_parameters(module: nn.Module) -> int:
    """Number of parameters without ``requires_grad`` (the frozen segmentation module's, for SECBNet)."""
    return sum(p.numel() for p in module.parameters() if not p.requires_grad)

