"""Side-by-side test results of several runs (jsdcgan vs its baselines) as a markdown table.

Each ``test`` run of a GAN colorization method writes ``<run folder>/test_metrics.json``
(:func:`write_test_metrics`, called for every method by the CLI's ``MetricsTable`` callback). This module collects
those files -- the newest per method for one dataset, or the run folders given -- and prints / writes a
table of acc@2, acc@5 (percent, JSDCGAN Eq. 5), PSNR, SSIM and Delta E 2000, with the identity row
(the grayscale input scored as the output) and, for AID / NWPU, the paper's Tables 1-2 for reference.
A fit run without test results can be evaluated on the spot (``--evaluate``: its best checkpoint on the
test split, on whatever accelerator is there).

Usage::

    python -m semcolor.cli.results_table --data embedded                 # newest run per method
    python -m semcolor.cli.results_table --data aid --evaluate --out results-aid.md
    python -m semcolor.cli.results_table ckpts/jsdcgan/aid-2024... ckpts/unet/aid-2024...
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semcolor.paths import ckpts_dir
from semcolor.run_files import METRICS_FILE, write_test_metrics

TABLE = "jsdcgan"  # the methods registered with results_table="jsdcgan" (JSDCGAN and its baselines)


def table_methods() -> list[str]:
    """The methods of this table, as the registry lists them (``results_table="jsdcgan"``)."""
    from semcolor.registry import METHODS

    names = [e.name for e in METHODS.entries() if e.info.get("results_table") == TABLE]
    return sorted(names, key=lambda n: ROW_ORDER.index(n) if n in ROW_ORDER else len(ROW_ORDER))


#: rows in the order of the paper's Tables 1-2 (U-Net, PatchGAN, DCGAN, Multi-D, Multi-G, JSDCGAN); others after
ROW_ORDER = ("unet", "pix2pix", "dcgan", "multi_d", "multi_g", "jsdcgan")

#: (key, column title, scale, format); acc is reported in percent like the paper
COLUMNS: tuple[tuple[str, str, float, str], ...] = (
    ("acc2", "acc@2 (%)", 100.0, "{:.2f}"),
    ("acc5", "acc@5 (%)", 100.0, "{:.2f}"),
    ("psnr", "PSNR (dB)", 1.0, "{:.2f}"),
    ("ssim", "SSIM", 1.0, "{:.4f}"),
    ("delta_e", "ΔE2000", 1.0, "{:.2f}"),
)

#: Wang et al. 2022, Tables 1-2 (acc2 / acc5 in percent)
PAPER: dict[str, dict[str, tuple[float, float]]] = {
    "aid": {"U-Net": (22.89, 78.82), "PatchGAN": (23.07, 78.04), "DCGAN": (23.42, 77.36),
            "Multi-D": (24.15, 77.18), "Multi-G": (26.53, 76.69), "JSDCGAN": (28.64, 82.02)},
    "nwpu": {"U-Net": (36.05, 88.42), "PatchGAN": (37.56, 86.61), "DCGAN": (37.02, 88.05),
             "Multi-D": (38.30, 87.12), "Multi-G": (37.91, 86.81), "JSDCGAN": (40.28, 89.06)},
}  # fmt: skip


@dataclass
class RunResult:
    """Test metrics of one run folder (``metrics`` keys without the ``test_`` prefix)."""

    method: str
    run: Path
    metrics: dict[str, float]
    identity: dict[str, float]


def read_run(run: str | Path) -> RunResult:
    """Read ``<run>/test_metrics.json``; the method is the name of the run's parent folder."""
    run = Path(run)
    path = run / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {METRICS_FILE} in '{run}' (run `semcolor test` or use --evaluate)")
    raw = json.loads(path.read_text())["metrics"]
    metrics = {k[len("test_"):]: v for k, v in raw.items() if not k.startswith("test_identity_")}
    identity = {k[len("test_identity_"):]: v for k, v in raw.items() if k.startswith("test_identity_")}
    return RunResult(run.parent.name, run, metrics, identity)


def _checkpoint_of(run: Path) -> Path | None:
    best = sorted(run.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1]
    last = run / "last.ckpt"
    return last if last.is_file() else None


def evaluate_run(run: str | Path, ckpt: str | Path | None = None, accelerator: str = "auto") -> Path:
    """Test a fit run's checkpoint (default: its best, else last) on its data's test split.

    Model and data are rebuilt from ``<run>/config.yaml``; the weights come from the checkpoint.
    Writes and returns ``<run>/test_metrics.json``.
    """
    import importlib

    import pytorch_lightning as pl
    import yaml

    from semcolor.checkpoints import read_checkpoint

    run = Path(run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    ckpt_path = Path(ckpt) if ckpt else _checkpoint_of(run)
    if ckpt_path is None or not ckpt_path.is_file():
        raise FileNotFoundError(f"no checkpoint to evaluate in '{run}' (best-*.ckpt or last.ckpt)")

    def build(section: dict[str, Any]) -> Any:
        module, _, name = section["class_path"].rpartition(".")
        return getattr(importlib.import_module(module), name)(**(section.get("init_args") or {}))

    model, data = build(config["model"]), build(config["data"])
    state = read_checkpoint(ckpt_path)
    model.load_state_dict(state["state_dict"])
    trainer = pl.Trainer(accelerator=accelerator, devices=1, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, default_root_dir=str(run))
    trainer.test(model, datamodule=data, verbose=False)
    path = write_test_metrics(trainer, run, evaluated_checkpoint=str(ckpt_path))
    assert path is not None
    return path


def latest_runs(ckpts: str | Path, data: str, methods: Sequence[str], evaluate: bool = False) -> list[Path]:
    """Per method, the newest ``<ckpts>/<method>/<data>-*`` folder with test results; with ``evaluate``,
    else the newest fit run (with ``config.yaml`` and a checkpoint), evaluated now."""
    found = []
    for method in methods:
        runs = sorted((Path(ckpts) / method).glob(f"{data}-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        tested = [r for r in runs if (r / METRICS_FILE).is_file()]
        if tested:
            found.append(tested[0])
            continue
        fits = [r for r in runs if (r / "config.yaml").is_file() and _checkpoint_of(r) is not None]
        if evaluate and fits:
            evaluate_run(fits[0])
            found.append(fits[0])
    return found


def _fmt(value: float | None, scale: float, fmt: str) -> str:
    return "" if value is None or math.isnan(value) else fmt.format(value * scale)


def markdown_table(results: Sequence[RunResult], data: str | None = None) -> str:
    """The results as a markdown table: one row per run, the identity row, the paper's rows (AID / NWPU)."""
    header = "| method | run | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 2)]
    for r in results:
        cells = [_fmt(r.metrics.get(k), s, f) for k, _, s, f in COLUMNS]
        lines.append(f"| {r.method} | {r.run.name} | " + " | ".join(cells) + " |")
    if results and results[0].identity:
        cells = [_fmt(results[0].identity.get(k), s, f) for k, _, s, f in COLUMNS]
        lines.append("| identity (gray input) | | " + " | ".join(cells) + " |")
    for name, (acc2, acc5) in PAPER.get(data or "", {}).items():
        lines.append(f"| paper: {name} | Wang et al. 2022 | {acc2:.2f} | {acc5:.2f} |" + " |" * (len(COLUMNS) - 2))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", help="run folders (default: newest per method under --ckpts)")
    parser.add_argument("--data", default="embedded", help="dataset name of the runs (default embedded)")
    parser.add_argument("--ckpts", default=None, help="runs root (default $SEMCOLOR_CKPTS or ./ckpts)")
    parser.add_argument("--methods", nargs="+", default=None, help="default: JSDCGAN and its baselines")
    parser.add_argument("--after-eval", metavar="METHOD", default=None,
                        help="called by `make eval`: write the table only if METHOD belongs to it")
    parser.add_argument("--evaluate", action="store_true",
                        help="test the newest fit run of a method that has no test results yet")
    parser.add_argument("--out", default=None, help="markdown file (default <ckpts>/results-<data>.md)")
    args = parser.parse_args(argv)
    methods = args.methods or table_methods()
    if args.after_eval is not None and args.after_eval not in methods:
        return 0
    ckpts = Path(args.ckpts) if args.ckpts else ckpts_dir()
    runs = [Path(r) for r in args.runs] or latest_runs(ckpts, args.data, methods, args.evaluate)
    if not runs:
        print(f"no test results for {', '.join(methods)} on {args.data!r} under '{ckpts}' "
              "(run `make eval` first, or pass --evaluate)")
        return 1
    table = markdown_table([read_run(r) for r in runs], args.data)
    out = Path(args.out) if args.out else ckpts / f"results-{args.data}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# Test results on {args.data}\n\n{table}")
    print(table, end="")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
