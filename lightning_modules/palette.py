"""``palette``: consistent multi-image recolouring with high-level features (Xue 2025 (thesis), ch. 3), training-free.

A group of images (one batch = one group, sizes may differ) is recoloured towards one group palette by
:func:`semcolor.palettes.pipeline.recolor_group`: source palettes by k-means in CIELAB (§3.3.1), a group
palette and source -> group matching after Nguyen et al. 2017 (basic or "unassigned"), recolouring by
Eq. 4.1-4.2, and the thesis's modules on top: white balance (§3.3.2, Eq. 3.1), saliency-guided grouping
(§3.3.3, Eq. 3.2, both matching modes), colour-naming association (§3.3.4, Eq. 3.3) and semantics-guided
grouping (§3.4.2; label maps from the data, or predicted by a segmentation checkpoint of this suite:
``seg_checkpoint`` = a ``slimseg`` / ``wiconet`` / ``multipath``-style ``SegmentationModule`` checkpoint).
The configs in ``experiments/palette/`` are the ablations (each module alone, all together) and both
Nguyen baselines.

There is nothing to fit (registered ``trainable=False``: ``semcolor fit`` refuses in one line). ``test`` /
``validate`` log, beside the identity (the input scored as the output):

* ``delta_e``: CIEDE2000 to the ground truth, where the data has one (the embedded groups);
* ``group_consistency``: mean pairwise palette distance between the images of a group
  (:class:`semcolor.metrics.palette.GroupConsistency`), palettes re-extracted from the images with the
  same k-means rule;
* ``class_consistency``: mean CIEDE2000 between images' mean colours of one class, where labels exist;
* ``hue_shift``: share of pixels whose most likely colour name changed (the identity's is 0 by definition);
* ``wb_applied`` (share of images Eq. 3.1 white-balanced) and ``name_breaks`` (matches dropped by Eq. 3.3 per group).

``predict`` returns each group's recoloured images and palettes; :class:`RecolorWriter` (the callback of
``experiments/trainer/recolor.yaml``, used by ``make recolor``) writes them as files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.base import SemcolorModule
from semcolor.metrics.image import DeltaE2000
from semcolor.metrics.palette import ClassConsistency, GroupConsistency, HueShift
from semcolor.palettes.color import rgb_to_lab_np
from semcolor.palettes.kmeans import source_palette
from semcolor.palettes.naming import default_naming_model
from semcolor.palettes.pipeline import RecolorConfig, limit_threads, recolor_group
from semcolor.registry import METHODS

__all__ = ["PaletteModule", "RecolorWriter", "load_segmenter", "check_segmenter"]


def _hwc(t: Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy().transpose(1, 2, 0)


def check_segmenter(path: str | Path) -> tuple[type, dict[str, Any], dict[str, Any]]:
    """``(class, init arguments, checkpoint)`` of a segmentation method's Lightning checkpoint, or a
    :class:`SemcolorError` naming the file (missing, not a semcolor checkpoint, not a segmentation method)."""
    import importlib

    from semcolor.checkpoints import read_checkpoint
    from semcolor.lightning_modules.base import SegmentationModule
    from semcolor.registry import current_hparams

    path = Path(path).expanduser()
    if not path.is_file():
        raise SemcolorError(f"segmentation checkpoint (seg_checkpoint) not found: '{path}'; train one with "
                            f"`make train METHOD=slimseg` (or wiconet)")
    ckpt = read_checkpoint(path)
    hparams = current_hparams(ckpt.get("hyper_parameters") or {})
    saved = hparams.get("_class_path")
    if not saved or "state_dict" not in ckpt:
        raise SemcolorError(f"'{path}' is not a Lightning checkpoint of a semcolor method (no class path stored)")
    module, _, name = saved.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if not issubclass(cls, SegmentationModule):
        raise SemcolorError(f"segmentation checkpoint '{path}' was written by {saved}, not by a segmentation method")
    return cls, {k: v for k, v in hparams.items() if not k.startswith("_")}, ckpt


def load_segmenter(path: str | Path) -> pl.LightningModule:
    """A segmentation method of this suite from its Lightning checkpoint (its class read from the file), built
    from the stored init arguments (the CLI's class path / instantiator keys left out) and the weights."""
    cls, kwargs, ckpt = check_segmenter(path)
    model = cls(**kwargs)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


@METHODS.register("palette", tasks=("recolor",), trainable=False)
class PaletteModule(SemcolorModule):
    """Group recolouring (module docstring); every argument is a :class:`~semcolor.palettes.pipeline.RecolorConfig`
    field, plus:

    Args:
        seg_checkpoint: a segmentation checkpoint whose predictions are the label maps of ``grouping="semantic"``
            (None: the data's label maps).
        saliency_folder: a folder of user saliency maps ``<image stem>.png`` (None: the data's ``saliency/``
            maps where given, else spectral residual).
        thumbnail: side of the images in the sample grid.
    """

    monitor = ("test_delta_e", "min")
    predict_tiling = (512, 0)

    def __init__(self, white_balance: str = "off", wb_method: str = "shades_of_gray", d_wb: float = 20.0,
                 grouping: str = "none", saliency_mode: str = "both", gamma: float = 0.9, naming: bool = False,
                 d_name: float = 0.8, unassigned_cost: float | None = None, reduction_penalty: float = 10.0,
                 group_size: int | None = None, k_range: tuple[int, int] = (2, 7), ratio: float = 0.1,
                 bin_size: float = 2.0, weights_in_lab: bool = True, ignore_labels: tuple[int, ...] = (255,),
                 seed: int = 0, threads: int | None = 1, seg_checkpoint: str | None = None,
                 saliency_folder: str | None = None, thumbnail: int = 96) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.config = RecolorConfig(white_balance=white_balance, wb_method=wb_method, d_wb=d_wb, grouping=grouping,
                                    saliency_mode=saliency_mode, gamma=gamma, naming=naming, d_name=d_name,
                                    unassigned_cost=unassigned_cost, reduction_penalty=reduction_penalty,
                                    group_size=group_size, k_range=tuple(k_range), ratio=ratio, bin_size=bin_size,
                                    weights_in_lab=weights_in_lab, ignore_labels=tuple(ignore_labels), seed=seed,
                                    threads=threads)
        # the checkpoint is checked now, the network built on first use: LightningCLI's instantiation context
        # (which hands this module its hyper-parameters) would otherwise also hand them to the segmenter
        self._segmenter: pl.LightningModule | None = None
        if seg_checkpoint:
            check_segmenter(seg_checkpoint)
        for stage in ("val", "test"):
            for kind in ("", "identity_"):
                setattr(self, f"{stage}_{kind}delta_e", DeltaE2000())
                setattr(self, f"{stage}_{kind}group_consistency", GroupConsistency())
            setattr(self, f"{stage}_hue_shift", HueShift())
        self._class_metrics: dict[str, ClassConsistency] = {}

    @property
    def input_channels(self) -> int:
        return 3

    def configure_optimizers(self) -> Any:
        return None

    # -- the method -----------------------------------------------------------------------------------
    def _saliency(self, batch: dict[str, Any]) -> list[np.ndarray | None] | None:
        folder = self.hparams.saliency_folder
        maps = batch.get("saliency")
        out = [None if m is None else m.cpu().numpy() for m in maps] if maps is not None else None
        if folder:
            from semcolor.palettes.saliency import read_saliency_map

            out = []
            for name, img in zip(batch["names"], batch["images"], strict=True):
                hits = sorted(Path(folder).glob(f"{Path(name).stem}.*"))
                if not hits:
                    raise SemcolorError(f"no saliency map for '{name}' in '{folder}' (expected {Path(name).stem}.png)")
                out.append(read_saliency_map(hits[0], tuple(img.shape[-2:])))
        return out

    @torch.no_grad()
    def _labels(self, batch: dict[str, Any]) -> list[np.ndarray | None] | None:
        if self.hparams.seg_checkpoint:
            if self._segmenter is None:
                self._segmenter = load_segmenter(self.hparams.seg_checkpoint).requires_grad_(False)
            with limit_threads(self.config.threads):
                return [self._segmenter.predict_step({"input": img[None].float().cpu()}, 0)[0].cpu().numpy()
                        for img in batch["images"]]
        labels = batch.get("labels")
        return [None if m is None else m.cpu().numpy() for m in labels] if labels is not None else None

    def recolor(self, batch: dict[str, Any]) -> Any:
        """:class:`~semcolor.palettes.pipeline.GroupResult` of one group batch."""
        images = [_hwc(t) for t in batch["images"]]
        labels = self._labels(batch) if self.config.grouping == "semantic" else None
        saliency = self._saliency(batch) if self.config.grouping == "saliency" else None
        return recolor_group(images, self.config, saliency=saliency, labels=labels, names=batch.get("names"))

    def forward(self, x: Tensor) -> Tensor:
        """A batch ``(N, 3, H, W)`` of equal-sized images recoloured as one group."""
        res = self.recolor({"images": list(x), "names": [f"image {i}" for i in range(len(x))]})
        return torch.stack([torch.from_numpy(np.ascontiguousarray(o.transpose(2, 0, 1))) for o in res.outputs]).to(x)

    # -- evaluation -----------------------------------------------------------------------------------
    def _palettes(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        cfg = self.config
        with limit_threads(cfg.threads):
            pals = [source_palette(rgb_to_lab_np(im), cfg.k_range, cfg.ratio, cfg.bin_size, cfg.seed) for im in images]
        return [p.centers for p in pals], [p.shares for p in pals]

    def _class_metric(self, name: str) -> ClassConsistency:
        if name not in self._class_metrics:
            dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
            n = getattr(dm, "num_classes", None) or 256
            metric = ClassConsistency(num_classes=int(n), ignore_index=getattr(dm, "ignore_index", None))
            setattr(self, name, metric)
            self._class_metrics[name] = metric
        return self._class_metrics[name]

    def _evaluate(self, batch: dict[str, Any], stage: str) -> dict[str, Any]:
        if "images" not in batch:
            raise SemcolorError("palette runs on groups of images: use an image-group dataset "
                                "(--data embedded_groups or groups, e.g. `make eval METHOD=palette`)")
        res = self.recolor(batch)
        inputs = [_hwc(t) for t in batch["images"]]
        n = len(inputs)
        targets = batch.get("targets")
        if targets is not None:
            for kind, imgs in (("", res.outputs), ("identity_", inputs)):
                metric = getattr(self, f"{stage}_{kind}delta_e")
                for img, tgt in zip(imgs, targets, strict=True):
                    metric.update(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None], tgt[None].float().cpu())
                self.log(f"{stage}_{kind}delta_e", metric, batch_size=n)
        for kind, imgs in (("", res.outputs), ("identity_", inputs)):
            metric = getattr(self, f"{stage}_{kind}group_consistency")
            metric.update(*self._palettes(imgs))
            self.log(f"{stage}_{kind}group_consistency", metric, batch_size=n)
        labels = batch.get("labels")
        if labels is not None and all(m is not None for m in labels):
            for kind, imgs in (("", res.outputs), ("identity_", inputs)):
                metric = self._class_metric(f"{stage}_{kind}class_consistency")
                metric.update([torch.from_numpy(rgb_to_lab_np(im).transpose(2, 0, 1)) for im in imgs], labels)
                self.log(f"{stage}_{kind}class_consistency", metric, batch_size=n,
                         metric_attribute=f"{stage}_{kind}class_consistency")
        model = default_naming_model()
        hue = getattr(self, f"{stage}_hue_shift")
        for before, after in zip(inputs, res.outputs, strict=True):
            hue.update(torch.from_numpy(model.name(before)), torch.from_numpy(model.name(after)))
        self.log(f"{stage}_hue_shift", hue, batch_size=n)
        self.log(f"{stage}_wb_applied", float(np.mean(res.white_balanced)), batch_size=n)
        self.log(f"{stage}_name_breaks", float(res.name_breaks), batch_size=1)
        return {"output": res.outputs}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        return self._evaluate(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
        """A group batch -> a dict (``group``, ``names``, ``paths``, ``inputs``, ``result``) for
        :class:`RecolorWriter`; a plain ``{"input": (N, 3, H, W)}`` batch -> the recoloured tensor."""
        if isinstance(batch, dict) and "images" in batch:
            return {"group": batch.get("group"), "names": batch["names"], "paths": batch.get("paths"),
                    "inputs": [_hwc(t) for t in batch["images"]], "result": self.recolor(batch)}
        x = batch["input"] if isinstance(batch, dict) else batch
        return self(x[:, :3])

    def sample_panels(self, batch: dict[str, Any], output: Any) -> list[Tensor] | None:
        """Input | output | target (when there is one), each image resized to ``thumbnail`` px square."""
        if not isinstance(output, list) or "images" not in batch:
            return None
        side = int(self.hparams.thumbnail)

        def thumbs(imgs: list[Any]) -> Tensor:
            ts = [torch.as_tensor(np.ascontiguousarray(i.transpose(2, 0, 1))) if isinstance(i, np.ndarray) else i
                  for i in imgs]
            return torch.cat([nn.functional.interpolate(t[None].float().cpu(), size=(side, side), mode="area")
                              for t in ts])

        panels = [thumbs(batch["images"]), thumbs(output)]
        if batch.get("targets") is not None:
            panels.append(thumbs(batch["targets"]))
        return panels


class RecolorWriter(pl.Callback):
    """Writes what ``predict`` recoloured (``make recolor``): under ``output``, for every input image the
    recoloured image at the same relative path (same format, size, GeoTIFF georeferencing), per group a
    ``palettes/`` folder with ``<image stem>.png`` (the image's source palette, widths = pixel shares) and
    ``group.png`` (the group palette), and one ``contact_sheet.png`` (before / after rows per group).

    Every path is checked before anything is written: an existing file stops the run (nothing written)
    unless ``overwrite``; ``output`` may not lie inside the input folder (which is never written to).

    Args:
        output: the output folder.
        overwrite: replace existing files.
        contact_sheet: write ``contact_sheet.png``.
    """

    def __init__(self, output: str | None = None, overwrite: bool = False, contact_sheet: bool = True) -> None:
        if not output:
            raise SemcolorError("recolor: give an output folder (OUTPUT=<folder>, "
                                "--trainer.callbacks.init_args.output=<folder>)")
        self.output, self.overwrite, self.write_sheet = Path(output).expanduser(), overwrite, contact_sheet
        self._sheet: list[tuple[str, list[np.ndarray], list[np.ndarray]]] = []
        self._root: Path | None = None

    def _plan(self, groups: list[tuple[str, list[Path]]]) -> list[Path]:
        paths = []
        for _, files in groups:
            rel = files[0].parent.relative_to(self._root)
            paths += [self.output / rel / f.name for f in files]
            paths += [self.output / rel / "palettes" / f"{f.stem}.png" for f in files] + [self.output / rel / "palettes" / "group.png"]
        return paths + ([self.output / "contact_sheet.png"] if self.write_sheet else [])

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from semcolor.palettes.output import check_free

        dm = trainer.datamodule
        root = getattr(dm, "root", None)
        self._root = Path(root).expanduser().resolve() if root else None
        out = self.output.resolve()
        if self._root is not None and (out == self._root or self._root in out.parents):
            raise SemcolorError(f"recolor: the output folder '{self.output}' is inside the input folder '{root}'; "
                                f"the input is never written to: choose another OUTPUT")
        dataset = dm.datasets.get("test") if hasattr(dm, "datasets") else None
        if dataset is not None and hasattr(dataset, "groups") and self._root is not None:
            check_free(self._plan(dataset.groups), self.overwrite, "--trainer.callbacks.init_args.overwrite=true")
        self._sheet = []

    def on_predict_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                             batch_idx: int, dataloader_idx: int = 0) -> None:
        from semcolor.palettes.output import check_free, palette_strip, write_like

        if not isinstance(outputs, dict) or "result" not in outputs:
            return
        res = outputs["result"]
        if outputs["paths"] and self._root is not None:
            sources = [Path(p) for p in outputs["paths"]]
            folder = self.output / sources[0].parent.resolve().relative_to(self._root)
        else:  # generated groups: PNGs named after the images
            sources = [Path(n) for n in outputs["names"]]
            folder = self.output / str(outputs["group"] or f"group{batch_idx:03d}")
            check_free([folder / s.name for s in sources], self.overwrite, "--trainer.callbacks.init_args.overwrite=true")
        for src, out_img, pal in zip(sources, res.outputs, res.palettes, strict=True):
            write_like(out_img, src if src.is_file() else src.with_suffix(".png"), folder / src.name)
            (folder / "palettes").mkdir(parents=True, exist_ok=True)
            palette_strip(pal.centers, pal.shares).save(folder / "palettes" / f"{src.stem}.png")
        palette_strip(res.group_palette()).save(folder / "palettes" / "group.png")
        flags = [s.name for s, f in zip(sources, res.white_balanced, strict=True) if f]
        rank_zero_info(f"recolor: {folder} ({len(sources)} images, group palette of {len(res.group_palette())} colours"
                       f"{', white-balanced: ' + ', '.join(flags) if flags else ''}"
                       f"{f', {res.name_breaks} matches broken by colour names' if res.name_breaks else ''})")
        self._sheet.append((str(outputs["group"]), outputs["inputs"], res.outputs))

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from semcolor.palettes.output import check_free, contact_sheet

        if self.write_sheet and self._sheet:
            sheet = self.output / "contact_sheet.png"
            check_free([sheet], self.overwrite, "--trainer.callbacks.init_args.overwrite=true")
            contact_sheet(self._sheet, sheet)
            rank_zero_info(f"recolor: contact sheet {sheet}")
