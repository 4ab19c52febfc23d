"""Perception-distortion curves of ``burstsr`` runs: interpolate theta_D and theta_P, score, plot, AUR
(Xue 2025 (thesis), Sec. 5.5.1, Eq. 5.5, Figs. 5.4-5.5).

For each ``alpha`` of a grid (0, 0.1, ..., 1: ESRGAN's ``net_interp`` steps; the thesis gives none) the generator
``(1 - alpha) theta_D + alpha theta_P`` super-resolves the test bursts; distortion is the mean per-image RMSE in
[0, 1], perception the mean NIQE and BRISQUE (:mod:`semcolor.metrics.no_reference`). Each curve gets its AUR on
the thesis's box ``[0, 0.3] x [0, 150]`` (:mod:`semcolor.metrics.perception_distortion`, normalised to [0, 1]).
LPIPS is not offered: its backbone weights cannot be loaded offline.

NIQE's block: the LIVE model uses 96 x 96 blocks, and a 128 x 128 crop holds one, whose covariance is undefined;
``--niqe-block`` (default: a quarter of the HR side, 32 for 128) gives four blocks per image. Its values are then
not comparable with published NIQE figures, only with each other.

Usage::

    python -m semcolor.cli.pd_curve --ckpt-d RUN/distortion.ckpt --ckpt-p RUN/perception.ckpt --out pd/
    python -m semcolor.cli.pd_curve --runs ckpts/burstsr/textures-A ckpts/burstsr/textures-B --out pd/

A run folder stands for its ``distortion.ckpt`` (theta_D) and ``perception.ckpt`` (theta_P). The test data is the run's
``config.yaml`` ``data`` section (or ``--data-config``). Writes ``pd_points.csv`` (one row per curve and alpha),
``results.md`` / ``results.csv`` (AUR per curve, with the bicubic reference frame and the HR ground truth),
``pd_plane.png`` and ``aur_vs_burst_length.png``; nothing existing is overwritten (``--out`` must be new or empty).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.burstsr import (
    DISTORTION_CHECKPOINT,
    PERCEPTION_CHECKPOINT,
    check_same_architecture,
    generator_from_checkpoint,
)
from semcolor.metrics.perception_distortion import DISTORTION_RANGE, PERCEPTION_RANGE, aur, modified_curve, rmse
from semcolor.networks.esrgan import RRDBNet, interpolate_state_dicts

__all__ = ["ALPHAS", "PERCEPTION", "curve_points", "load_test_data", "main", "score_images", "write_outputs"]

ALPHAS = tuple(round(a, 1) for a in np.linspace(0, 1, 11))
PERCEPTION = ("niqe", "brisque")
DEGRADATION_KEYS = ("num_frames", "sigma_g", "lambda_p", "sigma_s", "shake", "shake_units", "poisson_mode")


def _build(section: dict[str, Any]) -> Any:
    module, _, name = section["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**(section.get("init_args") or {}))


def load_test_data(run_config: str | Path, num_frames: int, limit: int | None = None) -> tuple[list[dict], dict]:
    """The test batches of the ``data`` section of a run's ``config.yaml`` (burst length from the model when the
    config leaves it None) and the degradation settings."""
    path = Path(run_config)
    if not path.is_file():
        raise SemcolorError(f"no run config '{path}' (pass --data-config with the run's config.yaml)")
    section = dict(yaml.safe_load(path.read_text())["data"])
    args = dict(section.get("init_args") or {})
    if args.get("num_frames") is None:
        args["num_frames"] = num_frames
    dm = _build({"class_path": section["class_path"], "init_args": args})
    settings = dm.settings.as_dict()
    if settings["num_frames"] != num_frames:
        raise SemcolorError(f"'{path}': the data makes bursts of {settings['num_frames']} frames, the model takes {num_frames}")
    dm.prepare_data()
    batches = []
    for i, batch in enumerate(dm.test_dataloader()):
        if limit is not None and i * dm.eval_batch_size >= limit:
            break
        batches.append({"input": batch["input"], "target": batch["target"]})
    return batches, settings


def score_images(images: torch.Tensor, targets: torch.Tensor, niqe_block: int) -> dict[str, np.ndarray]:
    """Per-image RMSE, NIQE and BRISQUE of ``images`` ``(N, 3, H, W)`` in [0, 1]."""
    from semcolor.metrics.no_reference import brisque, niqe

    images = images.clamp(0, 1)
    return {"rmse": rmse(images, targets).numpy(), "niqe": niqe(images, block=niqe_block).numpy(),
            "brisque": brisque(images).numpy()}


def _mean_scores(parts: list[dict[str, np.ndarray]]) -> dict[str, float]:
    return {k: float(np.mean(np.concatenate([p[k] for p in parts]))) for k in parts[0]}


def curve_points(ckpt_d: str | Path, ckpt_p: str | Path, data_config: str | Path | None = None,
                 alphas: Sequence[float] = ALPHAS, niqe_block: int | None = None, limit: int | None = None
                 ) -> dict[str, Any]:
    """One P-D curve: the scores at every alpha, the references and the settings (a dict, see :func:`main`)."""
    theta_d, hp_d = generator_from_checkpoint(ckpt_d)
    theta_p, hp_p = generator_from_checkpoint(ckpt_p)
    check_same_architecture((str(ckpt_d), hp_d), (str(ckpt_p), hp_p))
    hp = hp_p
    net = RRDBNet(3 * hp["num_frames"], 3, hp["features"], hp["num_blocks"], hp["growth"], hp["scale"],
                  hp.get("residual_scale", 0.2), hp.get("global_skip", False)).eval()
    config = Path(data_config) if data_config else Path(ckpt_p).parent / "config.yaml"
    batches, settings = load_test_data(config, int(hp["num_frames"]), limit)
    side = batches[0]["target"].shape[-1]
    block = niqe_block or max(side // 4, 8)
    targets = torch.cat([b["target"] for b in batches])
    points = []
    with torch.no_grad():
        for alpha in alphas:
            net.load_state_dict(interpolate_state_dicts(theta_d, theta_p, float(alpha), (str(ckpt_d), str(ckpt_p))))
            out = torch.cat([net(b["input"]) for b in batches])
            points.append({"alpha": float(alpha), **_mean_scores([score_images(out, targets, block)])})
        bicubic = torch.cat([F.interpolate(b["input"][:, :3], scale_factor=hp["scale"], mode="bicubic",
                                           align_corners=False) for b in batches])
        references = {"bicubic frame 1": _mean_scores([score_images(bicubic, targets, block)]),
                      "HR ground truth": _mean_scores([score_images(targets, targets, block)])}
    return {"ckpt_d": str(ckpt_d), "ckpt_p": str(ckpt_p), "settings": settings, "niqe_block": block,
            "images": int(targets.shape[0]), "points": points, "references": references,
            "aur": {m: aur([p["rmse"] for p in points], [p[m] for p in points]) for m in PERCEPTION}}


def _label(curve: dict[str, Any]) -> str:
    s = curve["settings"]
    return f"n={s['num_frames']} σg={s['sigma_g']:g} λp={s['lambda_p']:g} σs={s['sigma_s']:g}"


def write_outputs(curves: list[dict[str, Any]], out: str | Path) -> Path:
    """``pd_points.csv``, ``results.md`` / ``results.csv``, ``curves.json``, ``pd_plane.png``, ``aur_vs_burst_length.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise SemcolorError(f"output folder '{out}' is not empty; give a new one (nothing is overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "curves.json").write_text(json.dumps(curves, indent=1))
    with open(out / "pd_points.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*DEGRADATION_KEYS, "alpha", "rmse", *PERCEPTION, "ckpt_d", "ckpt_p"])
        for c in curves:
            for p in c["points"]:
                w.writerow([*(c["settings"][k] for k in DEGRADATION_KEYS), p["alpha"], f"{p['rmse']:.6f}",
                            *(f"{p[m]:.4f}" for m in PERCEPTION), c["ckpt_d"], c["ckpt_p"]])
    header = [*DEGRADATION_KEYS, *(f"AUR {m}" for m in PERCEPTION), "RMSE alpha=0", "RMSE alpha=1",
              *(f"{m} alpha=0" for m in PERCEPTION), *(f"{m} alpha=1" for m in PERCEPTION),
              "RMSE bicubic", *(f"{m} bicubic" for m in PERCEPTION), *(f"{m} HR" for m in PERCEPTION)]
    rows = []
    for c in curves:
        first, last, bic, hr = c["points"][0], c["points"][-1], c["references"]["bicubic frame 1"], c["references"]["HR ground truth"]
        rows.append([*(c["settings"][k] for k in DEGRADATION_KEYS), *(f"{c['aur'][m]:.4f}" for m in PERCEPTION),
                     f"{first['rmse']:.4f}", f"{last['rmse']:.4f}", *(f"{first[m]:.2f}" for m in PERCEPTION),
                     *(f"{last[m]:.2f}" for m in PERCEPTION), f"{bic['rmse']:.4f}", *(f"{bic[m]:.2f}" for m in PERCEPTION),
                     *(f"{hr[m]:.2f}" for m in PERCEPTION)])
    with open(out / "results.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    box = f"[{DISTORTION_RANGE[0]:g}, {DISTORTION_RANGE[1]:g}] x [{PERCEPTION_RANGE[0]:g}, {PERCEPTION_RANGE[1]:g}]"
    md = [f"# burstsr P-D curves: AUR (normalised, box {box}; lower is better)", "",
          f"{curves[0]['images']} test images per curve, NIQE block {curves[0]['niqe_block']} px.", "",
          "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    (out / "results.md").write_text("\n".join(md) + "\n")

    fig, axes = plt.subplots(1, len(PERCEPTION), figsize=(6 * len(PERCEPTION), 4.5))
    for ax, m in zip(np.atleast_1d(axes), PERCEPTION):
        for c in curves:
            d, p = [q["rmse"] for q in c["points"]], [q[m] for q in c["points"]]
            line = ax.plot(d, p, "o-", ms=3, label=f"{_label(c)}: AUR {c['aur'][m]:.3f}")[0]
            xs, ys = modified_curve(d, p, d_max=DISTORTION_RANGE[1], p_max=PERCEPTION_RANGE[1])
            ax.plot(xs, ys, "--", color=line.get_color(), lw=0.8)
            ax.annotate("α=0", (d[0], p[0]), fontsize=6)
            ax.annotate("α=1", (d[-1], p[-1]), fontsize=6)
        ax.set(xlabel="distortion: RMSE", ylabel=f"perception: {m.upper()} (lower is better)",
               xlim=DISTORTION_RANGE, title=f"P-D plane, {m.upper()}-RMSE (dashed: modified curve)")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "pd_plane.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(PERCEPTION), figsize=(5.5 * len(PERCEPTION), 4))
    groups: dict[tuple, list[dict]] = {}
    for c in curves:
        s = c["settings"]
        groups.setdefault((s["sigma_g"], s["lambda_p"], s["sigma_s"], s["shake"]), []).append(c)
    for ax, m in zip(np.atleast_1d(axes), PERCEPTION):
        for (sg, lp, ss, shake), cs in sorted(groups.items()):
            cs = sorted(cs, key=lambda c: c["settings"]["num_frames"])
            ax.plot([c["settings"]["num_frames"] for c in cs], [c["aur"][m] for c in cs], "o-",
                    label=f"σg={sg:g} λp={lp:g} σs={ss:g}" + (" (correlated)" if shake == "correlated" else ""))
        ax.set(xlabel="burst length n", ylabel=f"AUR ({m.upper()}-RMSE, normalised)", title=f"AUR vs burst length, {m.upper()}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "aur_vs_burst_length.png", dpi=120)
    plt.close(fig)
    return out


def run_checkpoints(run: str | Path) -> tuple[Path, Path]:
    """theta_D and theta_P (``distortion.ckpt``, ``perception.ckpt``) of a ``stage="both"`` run folder."""
    run = Path(run)
    pair = (run / DISTORTION_CHECKPOINT, run / PERCEPTION_CHECKPOINT)
    for p in pair:
        if not p.is_file():
            raise SemcolorError(f"run '{run}' has no {p.name} (a burstsr run with stage=both that finished both stages)")
    return pair


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt-d", help="distortion checkpoint theta_D (stage 1)")
    parser.add_argument("--ckpt-p", help="perception checkpoint theta_P (stage 2)")
    parser.add_argument("--runs", nargs="+", default=[], help="run folders (distortion.ckpt + perception.ckpt each)")
    parser.add_argument("--data-config", default=None, help="config.yaml whose data section gives the test bursts")
    parser.add_argument("--alphas", type=float, nargs="+", default=list(ALPHAS))
    parser.add_argument("--niqe-block", type=int, default=None, help="NIQE block side (default: HR side / 4)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first LIMIT test images")
    parser.add_argument("--out", required=True, help="new or empty output folder")
    args = parser.parse_args(argv)
    if Path(args.out).exists() and any(Path(args.out).iterdir()):
        raise SemcolorError(f"output folder '{args.out}' is not empty; give a new one (nothing is overwritten)")
    pairs = [run_checkpoints(r) for r in args.runs]
    if args.ckpt_d or args.ckpt_p:
        if not (args.ckpt_d and args.ckpt_p):
            raise SemcolorError("give both --ckpt-d and --ckpt-p")
        pairs.append((Path(args.ckpt_d), Path(args.ckpt_p)))
    if not pairs:
        raise SemcolorError("give --ckpt-d and --ckpt-p, or --runs")
    curves = [curve_points(d, p, args.data_config, args.alphas, args.niqe_block, args.limit) for d, p in pairs]
    out = write_outputs(curves, args.out)
    print((out / "results.md").read_text())
    print(f"written to {out}/: pd_points.csv, results.md, results.csv, pd_plane.png, aur_vs_burst_length.png")
    return 0


if __name__ == "__main__":
    import sys

    try:
        raise SystemExit(main())
    except SemcolorError as exc:
        print(f"pd_curve: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
