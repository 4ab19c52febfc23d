"""Training-free colour harmonisation: ``harmonize`` (Xue 2025 (thesis), ch. 4) and its baseline ``charmony``.

* ``harmonize`` (:class:`HarmonizeModule`): palette-based harmonisation via colour naming, §4.3 --
  prototypes (:mod:`semcolor.palettes.prototypes`), ab palette, name-constrained matching and Eq. 4.1-4.2
  recolouring (:mod:`semcolor.palettes.harmonize`).
* ``charmony`` (:class:`CHarmonyModule`): Cohen-Or et al. 2006 hue-template harmonisation
  (:mod:`semcolor.palettes.hue_templates`), the chapter's C-Harmony row.

C-Harmony is a second registered method, not a config of ``harmonize``: it is another paper's algorithm
with its own output (``predict``), its own options (templates, angle step) and its own row in a leaderboard;
sharing ``harmonize``'s arguments would leave most of them meaningless. ``harmonize``'s ``test`` still
scores C-Harmony beside it (``compare``), so that one ``make eval METHOD=harmonize`` prints the paper's
Table 4.1 layout.

``test``: every image of the test split is scored for each row -- the input ("identity"), each method of
``compare``, the method itself -- with NIQE, BRISQUE (:mod:`semcolor.metrics.no_reference`) and F-score,
MITS, PIT (:mod:`semcolor.metrics.harmony`); the dataset means are logged as ``test_<metric>`` (the method),
``test_identity_<metric>`` and ``test_<row>_<metric>``, printed as the paper's table and written next to the
run as ``harmony_results.md`` / ``.csv``. ``predict``: the harmonised images (``output_dir``: written there
as 8-bit PNGs, an existing file is kept unless ``overwrite``). ``fit`` is refused (``trainable=False``).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn
from torchmetrics import MeanMetric

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.base import SemcolorModule
from semcolor.registry import METHODS

__all__ = ["COLUMNS", "PAPER", "CHarmonyModule", "HarmonizeModule", "HarmonyEvalModule", "results_tables"]

#: (metric, column title, format) in the order of the thesis's Tables 4.1-4.6
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("niqe", "NIQE", "{:.3f}"), ("brisque", "BRISQUE", "{:.2f}"), ("f_score", "F-score", "{:.0f}"),
    ("mits", "MITS", "{:.3f}"), ("pit", "PIT (%)", "{:.2f}"),
)
ROW_TITLES = {"identity": "input", "charmony": "C-Harmony", "harmonize": "harmonize (ours)"}

#: Xue 2025 (thesis), Tables 4.1-4.2: dataset -> row -> (NIQE, BRISQUE, F-score, MITS, PIT %)
PAPER: dict[str, dict[str, tuple[float, ...]]] = {
    "fivek (Camera Raw)": {"C-Harmony": (3.52, 38.17, 58, 0.368, 98.39), "Ours": (3.56, 39.51, 312, 0.558, 98.59)},
    "fivek (DPE)": {"C-Harmony": (3.80, 36.51, 42, 0.280, 98.21), "Ours": (3.79, 37.17, 119, 0.506, 99.34)},
    "ppr10k": {"C-Harmony": (4.07, 42.23, 14, 0.375, 98.20), "Ours": (4.26, 44.46, 104, 0.509, 98.50)},
    "kodak": {"C-Harmony": (3.06, 48.95, 8, 0.316, 98.44), "Ours": (3.05, 48.72, 80, 0.473, 99.28)},
}  # fmt: skip


def _fmt(value: float | None, fmt: str) -> str:
    return "" if value is None or not np.isfinite(value) else fmt.format(value)


def results_tables(rows: dict[str, dict[str, float]], title: str = "") -> tuple[str, str]:
    """``{row: {metric: value}}`` -> (markdown, CSV) in the thesis's column order."""
    head = "| method | " + " | ".join(c[1] for c in COLUMNS) + " |"
    md = ([f"### {title}", ""] if title else []) + [head, "|---" * (len(COLUMNS) + 1) + "|"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", *[c[0] for c in COLUMNS]])
    for row, values in rows.items():
        md.append(f"| {ROW_TITLES.get(row, row)} | " + " | ".join(_fmt(values.get(k), f) for k, _, f in COLUMNS) + " |")
        writer.writerow([row, *[f"{values[k]:.6g}" if k in values else "" for k, _, _ in COLUMNS]])
    return "\n".join(md) + "\n", buf.getvalue()


class HarmonyEvalModule(SemcolorModule):
    """Shared by the harmonisation methods: ``test`` scores rows of outputs, ``predict`` returns the method's.

    Subclasses implement :meth:`harmonize_batch` (``(N, 3, H, W)`` in [0, 1] -> same). Batches are the photo
    DataModules' (``{"image", "name", ...}``) or whole-scene windows (``{"input"}``).

    Args:
        compare: other rows scored in ``test`` besides the input and the method (``"charmony"``).
        quality_metrics: compute NIQE and BRISQUE (False: the harmony metrics only, faster).
        niqe_convert: NIQE's plane, ``"y"`` or ``"gray"`` (:func:`semcolor.metrics.no_reference.niqe`).
        output_dir: ``predict`` writes ``<output_dir>/<name>.png`` (None: return the images only).
        overwrite: replace existing files in ``output_dir``.
    """

    monitor = ("test_f_score", "min")
    predict_tiling = (512, 64)
    method_row = "method"

    def __init__(self, compare: tuple[str, ...] = (), quality_metrics: bool = True, niqe_convert: str = "y",
                 output_dir: str | None = None, overwrite: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)  # collects the subclass's arguments too (the whole __init__ chain)
        unknown = set(compare) - {"charmony"}
        if unknown:
            raise SemcolorError(f"{type(self).__name__}: compare may list 'charmony' only, got {sorted(unknown)}")
        if niqe_convert not in ("y", "gray"):
            raise SemcolorError(f"niqe_convert must be 'y' or 'gray', got {niqe_convert!r}")
        self.rows = ["identity", *[c for c in compare if c != self.method_row], self.method_row]
        self.means = nn.ModuleDict({f"{r}__{m}": MeanMetric() for r in self.rows for m, _, _ in COLUMNS})

    @property
    def input_channels(self) -> int:
        return 3

    # -- to implement ------------------------------------------------------------------------------
    def harmonize_batch(self, images: Tensor) -> Tensor:
        raise NotImplementedError

    # -- rows ------------------------------------------------------------------------------------------
    def row_output(self, row: str, images: Tensor) -> Tensor:
        if row == "identity":
            return images
        if row == self.method_row:
            return self.harmonize_batch(images)
        if row == "charmony":
            from semcolor.palettes.hue_templates import charmony

            return charmony(images)[0]
        raise SemcolorError(f"unknown row {row!r}")

    def forward(self, images: Tensor) -> Tensor:
        return self.harmonize_batch(images)

    def score(self, images: Tensor) -> dict[str, Tensor]:
        from semcolor.metrics.harmony import harmony_scores
        from semcolor.metrics.no_reference import brisque, niqe

        h = harmony_scores(images)
        out = {"f_score": h["f_score"], "mits": h["mits"], "pit": 100.0 * h["pit"]}
        if self.hparams.quality_metrics:
            out["niqe"] = niqe(images, convert=self.hparams.niqe_convert)
            out["brisque"] = brisque(images)
        return out

    @staticmethod
    def _images(batch: dict[str, Any]) -> Tensor:
        images = batch.get("image", batch.get("input"))
        if images is None or images.ndim != 4 or images.shape[1] != 3:
            raise SemcolorError("harmonisation takes RGB batches (N, 3, H, W) under 'image' or 'input'")
        return images.float().clamp(0, 1)

    # -- test ------------------------------------------------------------------------------------------
    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        images = self._images(batch)
        outputs = {}
        for row in self.rows:
            out = self.row_output(row, images)
            outputs[row] = out
            for metric, values in self.score(out).items():
                self.means[f"{row}__{metric}"].update(values.float().to(self.device))
        return {"output": outputs[self.method_row]}

    def on_test_epoch_end(self) -> None:
        rows: dict[str, dict[str, float]] = {r: {} for r in self.rows}
        for key, metric in self.means.items():
            row, name = key.split("__")
            if metric.update_count == 0:
                continue
            value = metric.compute()
            rows[row][name] = float(value)
            prefix = "test_" if row == self.method_row else f"test_{row}_"
            self.log(prefix + name, value, sync_dist=False)
            metric.reset()
        if not self.trainer.is_global_zero:
            return
        data = type(self.trainer.datamodule).__name__ if self.trainer.datamodule is not None else ""
        md, table_csv = results_tables(rows, f"Harmonisation on {data} (means over images)")
        rank_zero_info("\n" + md)
        folder = os.environ.get("SEMCOLOR_RUN_DIR") or self.trainer.default_root_dir
        if folder and not self.trainer.fast_dev_run and Path(folder).is_dir():
            (Path(folder) / "harmony_results.md").write_text(md + "\n" + paper_reference())
            (Path(folder) / "harmony_results.csv").write_text(table_csv)
            rank_zero_info(f"written to {Path(folder) / 'harmony_results.md'} and .csv")

    def sample_panels(self, batch: dict[str, Any], output: Tensor) -> list[Tensor] | None:
        images = self._images(batch)
        return [images, output] if images.shape[-2:] == output.shape[-2:] else None

    # -- predict ---------------------------------------------------------------------------------------
    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        out = self.harmonize_batch(self._images(batch))
        folder = self.hparams.get("output_dir")
        if folder:
            self._write(out, batch.get("name") or [f"image_{batch_idx:05d}_{i}" for i in range(len(out))], Path(folder))
        return out

    def _write(self, images: Tensor, names: list[str], folder: Path) -> None:
        from PIL import Image

        for img, name in zip(images, names):
            path = folder / f"{name}.png"
            if path.exists() and not self.hparams.overwrite:
                raise SemcolorError(f"'{path}' exists; pass --model.init_args.overwrite=true to replace it")
            path.parent.mkdir(parents=True, exist_ok=True)
            arr = (img.permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
            Image.fromarray(arr).save(path)

    def configure_optimizers(self) -> Any:
        return None


def paper_reference() -> str:
    """Tables 4.1-4.2's C-Harmony and 'Ours' rows, for reference under a results table."""
    lines = [("Xue 2025 (thesis), Tables 4.1-4.2 (real photos, 512 px short side; NIQE/BRISQUE implementation "
              "unstated):"), ""]
    head = "| data | method | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines += [head, "|---" * (len(COLUMNS) + 2) + "|"]
    for data, rows in PAPER.items():
        for name, vals in rows.items():
            lines.append(f"| {data} | {name} | " + " | ".join(_fmt(v, f) for v, (_, _, f) in zip(vals, COLUMNS)) + " |")
    return "\n".join(lines) + "\n"


@METHODS.register("harmonize", tasks=("harmonize",), trainable=False)
class HarmonizeModule(HarmonyEvalModule):
    """Palette-based colour harmonisation via colour naming (Xue 2025 (thesis), §4.3; Tables 4.1-4.7).

    Args:
        n_prototypes: prototypes per colour term (10; Table 4.3's 5 / 10 / 15 / 20 / 50).
        extra_prototypes: more for ``extra_terms`` and ``skin_terms`` (5: the "10+5"; 0 for the plain rows).
        extra_terms: the largest terms (green, blue, purple).
        skin_terms: the skin-tone terms (red, pink).
        cluster_space: prototype clustering space, ``"rgb"`` or ``"ab"`` (Table 4.6).
        top_k: names searched (3; Table 4.3's top1 / top2 / top3).
        min_prob: a name is searched above this probability (0.15).
        similarity: ``"euclidean"``, ``"angular"`` or ``"probability"`` (Table 4.4).
        match_space: matching space, ``"rgb"`` or ``"ab"`` (Table 4.6).
        gamma, bin_size, palette_side, seed: palette extraction (:class:`~semcolor.palettes.harmonize.HarmonizeSettings`).
        naming: the colour-naming model; ``"vandeweijer2009"`` (the w2c table, [167]) is the one available.
        compare, quality_metrics, niqe_convert, output_dir, overwrite: :class:`HarmonyEvalModule`.
    """

    method_row = "harmonize"

    def __init__(self, n_prototypes: int = 10, extra_prototypes: int = 5,
                 extra_terms: tuple[str, ...] = ("green", "blue", "purple"), skin_terms: tuple[str, ...] = ("red", "pink"),
                 cluster_space: str = "rgb", top_k: int = 3, min_prob: float = 0.15, similarity: str = "euclidean",
                 match_space: str = "rgb", gamma: float = 0.93, bin_size: float = 2.0, palette_side: int = 512,
                 seed: int = 0, naming: str = "vandeweijer2009", compare: tuple[str, ...] = ("charmony",),
                 quality_metrics: bool = True, niqe_convert: str = "y", output_dir: str | None = None,
                 overwrite: bool = False) -> None:
        super().__init__(compare=compare, quality_metrics=quality_metrics, niqe_convert=niqe_convert,
                         output_dir=output_dir, overwrite=overwrite)
        from semcolor.palettes.harmonize import HarmonizeSettings
        from semcolor.palettes.prototypes import PrototypeSettings

        if naming != "vandeweijer2009":
            raise SemcolorError(f"harmonize: naming model {naming!r} is not available; available: vandeweijer2009 "
                                "(the Table 4.5 alternatives, Párraga et al. / Yu et al., are not shipped)")
        try:
            self.prototype_settings = PrototypeSettings(n_prototypes, extra_prototypes, tuple(extra_terms),
                                                        tuple(skin_terms), cluster_space, seed)
            self.settings = HarmonizeSettings(gamma=gamma, bin_size=bin_size, top_k=top_k, min_prob=min_prob,
                                              similarity=similarity, space=match_space, palette_side=palette_side,
                                              seed=seed)
        except ValueError as exc:
            raise SemcolorError(str(exc)) from None
        self._prototypes = None

    @property
    def prototypes(self) -> Any:
        """The prototypes, loaded (or built and cached) on first use."""
        if self._prototypes is None:
            from semcolor.palettes.prototypes import load_prototypes

            self._prototypes = load_prototypes(self.prototype_settings)
        return self._prototypes

    def harmonize_batch(self, images: Tensor) -> Tensor:
        from semcolor.palettes.harmonize import harmonize

        outs = []
        for img in images:
            rgb = img.permute(1, 2, 0).detach().cpu().numpy()
            outs.append(torch.from_numpy(harmonize(rgb, self.prototypes, self.settings).image).permute(2, 0, 1))
        return torch.stack(outs).to(images.device, images.dtype)


@METHODS.register("charmony", tasks=("harmonize",), trainable=False)
class CHarmonyModule(HarmonyEvalModule):
    """C-Harmony (Cohen-Or et al. 2006): best hue template and angle, hues shifted into it.

    Args:
        templates: template names searched (all of i, V, L, I, T, Y, X).
        step: angle step in degrees (1; a multiple of 0.1).
        quality_metrics, niqe_convert, output_dir, overwrite: :class:`HarmonyEvalModule`.
    """

    method_row = "charmony"

    def __init__(self, templates: tuple[str, ...] = ("i", "V", "L", "I", "T", "Y", "X"), step: float = 1.0,
                 quality_metrics: bool = True, niqe_convert: str = "y", output_dir: str | None = None,
                 overwrite: bool = False) -> None:
        super().__init__(compare=(), quality_metrics=quality_metrics, niqe_convert=niqe_convert,
                         output_dir=output_dir, overwrite=overwrite)
        from semcolor.metrics.harmony import TEMPLATE_NAMES

        if not templates or set(templates) - set(TEMPLATE_NAMES):
            raise SemcolorError(f"charmony: templates must be among {', '.join(TEMPLATE_NAMES)}, got {templates}")

    def harmonize_batch(self, images: Tensor) -> Tensor:
        from semcolor.palettes.hue_templates import charmony

        return charmony(images, tuple(self.hparams.templates), float(self.hparams.step))[0]
