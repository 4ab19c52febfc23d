"""The papers' claims that the suite can test, run through the leaderboard's cells at two budgets, and judged.

Usage (``make claims [BUDGETS=40,120] [SEEDS=1] [CLAIMS=secbnet,jsdcgan]``)::

    python -m semcolor.cli.claims                          # every claim, default budgets, results/claims.md
    python -m semcolor.cli.claims --budgets 60,180 --seeds 2 --only secbnet,multipath
    python -m semcolor.cli.claims --profile smoke          # tiny cells (CI): the machinery, not the verdicts

A claim compares *arms* (a method, one of its configs, overrides) on one metric of the test split: "A is
better than B" (``better``) or "these arms are ordered" (``order``, first best). Every arm runs at every
budget (seconds of training, Lightning ``max_time``); the largest budget runs ``--seeds`` seeds, the smaller
ones seed 0 only (the second budget is there to see whether a gap closes as training grows). Cells are the
leaderboard's (:mod:`semcolor.cli.leaderboard`): resumable, keyed by their resolved settings, stored in
``results/claims/cells``. The table ``results/claims.md`` has, per claim: the paper's figure, ours at each
budget, the verdict at the largest budget - **holds**, **does not hold**, **inconclusive** (the gap is
within the seed spread), **not testable here** - and why (how the gap moved with the budget, and what the
investigation found; :data:`DIAGNOSES`).

Data: SECBNet's and multipath's claims run on the embedded data *with class-dependent effects*
(``semantic_effects=true``: withered vegetation that looks like bare soil, see
:mod:`semcolor.datamodules.synthetic`), where semantics carry information the pixels do not; the others on
the plain embedded variants of their task. SECBNet's segmentation module is a ``wiconet`` trained first, as
a prerequisite cell of its own (``--prereq_budget`` seconds), on the same data.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from semcolor.cli.leaderboard import (
    Arm,
    Cell,
    LeaderboardError,
    Settings,
    Store,
    atomic_write,
    lower_is_better,
    parse_seeds,
    run_cells,
)
from semcolor.errors import SemcolorError
from semcolor.registry import METHODS

SEMANTIC = ("--data.init_args.semantic_effects=true",)
#: SECBNet's stitched-scene evaluation (Algorithm 1) costs more than the tile test itself and no claim here
#: compares it (the blending claim is read from any secbnet test run): off in the claims' SECBNet arms
NO_STITCH = ("--model.init_args.stitch_eval=false",)
#: placeholder in an arm's overrides replaced by the prerequisite WiCoNet checkpoint
WICONET_CKPT = "{wiconet_checkpoint}"


@dataclass(frozen=True)
class Claim:
    """One testable statement of a paper."""

    id: str
    group: str
    paper: str
    statement: str
    paper_figure: str
    metric: str
    arms: tuple[Arm, ...]
    kind: str = "better"  # "better": arms[0] beats every other arm; "order": arms[i] beats arms[i + 1]
    testable: bool = True
    why_not: str = ""


def _a(method: str, config: str, label: str, *overrides: str) -> Arm:
    return Arm(method, config, label, tuple(overrides))


# -- the arms --------------------------------------------------------------------------------------------
_SEC = {
    "none": _a("secbnet", "embedded-segnone", "SECBNet no seg. module", *SEMANTIC, *NO_STITCH),
    "seg64": _a("secbnet", "embedded-seg64", "SECBNet Seg64", *SEMANTIC, *NO_STITCH, f"--model.init_args.seg_checkpoint={WICONET_CKPT}"),
    "seg128": _a("secbnet", "embedded-seg128", "SECBNet Seg128", *SEMANTIC, *NO_STITCH, f"--model.init_args.seg_checkpoint={WICONET_CKPT}"),
    "seg512": _a("secbnet", "embedded-seg512", "SECBNet Seg512", *SEMANTIC, *NO_STITCH, f"--model.init_args.seg_checkpoint={WICONET_CKPT}"),
    "seg64_branch": _a("secbnet", "embedded-seg64", "SECBNet Seg64, no L_seg", *SEMANTIC, *NO_STITCH,
                       f"--model.init_args.seg_checkpoint={WICONET_CKPT}", "--model.init_args.seg_loss=false"),
    "seg64_labels": _a("secbnet", "embedded-seg64", "SECBNet Seg64 fed the true class map", *SEMANTIC, *NO_STITCH,
                       "--model.init_args.seg_source=labels", "--model.init_args.seg_loss=false"),
}  # fmt: skip
_PLAIN = {
    "none": _a("secbnet", "embedded-segnone", "SECBNet no seg. module, plain data", *NO_STITCH),
    "labels": _a("secbnet", "embedded-seg64", "SECBNet Seg64 fed the true class map, plain data", *NO_STITCH,
                 "--model.init_args.seg_source=labels", "--model.init_args.seg_loss=false"),
}
WICONET_PREREQ = _a("wiconet", "embedded", "WiCoNet (SECBNet's segmentation module)", *SEMANTIC)

_JS = {
    "full": _a("jsdcgan", "embedded", "JSDCGAN (J-S + LCFE + GSM)"),
    "lcfe": _a("jsdcgan", "embedded-lcfe", "J-S + LCFE"),
    "concat": _a("jsdcgan", "embedded-concat", "J-S + concat"),
    "joint": _a("jsdcgan", "embedded-joint", "joint stream"),
    "single": _a("jsdcgan", "embedded-single", "single stream = DCGAN"),
    "unet": _a("unet", "embedded-colorize", "U-Net"),
    "pix2pix": _a("pix2pix", "embedded", "PatchGAN (pix2pix)"),
    "multi_d": _a("multi_d", "embedded", "Multi-D"),
    "multi_g": _a("multi_g", "embedded", "Multi-G"),
}
_S2 = {
    "all": _a("s2color", "embedded-all", "s2color MAE + Lap + VGG"),
    "mae_lap": _a("s2color", "embedded-mae_lap", "s2color MAE + Lap"),
    "mae": _a("s2color", "embedded-mae", "s2color MAE"),
    "tile": _a("stretch_tile", "embedded", "per-tile stretch"),
    "global": _a("stretch_global", "embedded", "global stretch"),
}
_SL = {
    "prev": _a("slimseg", "embedded", "SlimSeg (KD prev + boundary)"),
    "none": _a("slimseg", "embedded-teacher_none", "SlimSeg w/o KD"),
    "largest": _a("slimseg", "embedded-teacher_largest", "SlimSeg KD largest"),
    "noboundary": _a("slimseg", "embedded", "SlimSeg KD prev, L_seg only", "--model.init_args.boundary_head=false",
                     "--model.init_args.lambda_guided=0"),
}
_MP = {i: _a("multipath", f"embedded-method{i}", f"multipath Method {i}", *SEMANTIC) for i in range(1, 7)}
#: the same with AdaDelta at Zeiler's lr 1.0: with the paper's 0.004 every weight moves at most about
#: lr * sqrt(eps) = 4e-6 per step (eps 1e-6, torch = the paper's PyTorch 1.12), i.e. nothing in a CPU budget
_MP_LR1 = {i: replace(_MP[i], label=f"multipath Method {i}, AdaDelta lr 1.0",
                      overrides=(*_MP[i].overrides, "--model.init_args.lr=1.0")) for i in (1, 6)}


def _claims() -> list[Claim]:
    out = [
        Claim("semantic-variant", "semantics", "this suite", "on the semantic-effects data the true class map adds a"
              " clear margin (the data does what it is for)", "— (our requirement: > 0.5 dB)", "psnr",
              (_SEC["seg64_labels"], _SEC["none"])),
        Claim("semantic-variant-plain", "semantics", "this suite", "for contrast, on the plain embedded data (no"
              " class-dependent effect) the true class map adds less", "—", "psnr", (_PLAIN["labels"], _PLAIN["none"])),
        Claim("secbnet-seg64-vs-none", "secbnet", "Chen et al. 2024, Table V",
              "Seg64 beats no segmentation module (PSNR)", "23.23 vs 22.01 dB (+1.22)", "psnr", (_SEC["seg64"], _SEC["none"])),
        Claim("secbnet-seg64-vs-none-ssim", "secbnet", "Chen et al. 2024, Table V",
              "Seg64 beats no segmentation module (SSIM)", "+0.0159 SSIM", "ssim", (_SEC["seg64"], _SEC["none"])),
        Claim("secbnet-depth", "secbnet", "Chen et al. 2024, Table V, Sec. IV-F",
              "PSNR declines as the segmentation depth grows (Seg64 > Seg128 > Seg512)", "Seg64 best (23.23 dB), "
              "declining with depth", "psnr", (_SEC["seg64"], _SEC["seg128"], _SEC["seg512"]), kind="order"),
        Claim("secbnet-branch-vs-none", "secbnet", "Chen et al. 2024, Sec. III-B (our split of Table V)",
              "the segmentation branch alone (no L_seg) beats no module", "— (Table V changes both at once)", "psnr",
              (_SEC["seg64_branch"], _SEC["none"])),
        Claim("secbnet-oracle-vs-module", "secbnet", "Chen et al. 2024 (our diagnosis)",
              "a right class map beats the trained module's map", "— (not in the paper)", "psnr",
              (_SEC["seg64_labels"], _SEC["seg64"])),
        Claim("secbnet-blending", "secbnet", "Chen et al. 2024, Algorithm 1", "weighted-average stitching (R = 100 of"
              " 256) raises the stitched-scene PSNR", "+0.41 dB", "stitched_blended_psnr", (), testable=False,
              why_not="measured by every secbnet test run (test_stitched_* metrics, results.md in its run folder);"
              " not a comparison of arms"),
        Claim("jsdcgan-vs-baselines-acc2", "jsdcgan", "Wang et al. 2022, Tables 1-2",
              "JSDCGAN beats U-Net, PatchGAN, DCGAN, Multi-D and Multi-G on acc2",
              "AID 28.64 vs 22.89 / 23.07 / 23.42 / 24.15 / 26.53 %", "acc2",
              (_JS["full"], _JS["unet"], _JS["pix2pix"], _JS["single"], _JS["multi_d"], _JS["multi_g"])),
        Claim("jsdcgan-vs-baselines-acc5", "jsdcgan", "Wang et al. 2022, Tables 1-2",
              "JSDCGAN beats U-Net, PatchGAN, DCGAN, Multi-D and Multi-G on acc5",
              "AID 82.02 vs 78.82 / 78.04 / 77.36 / 77.18 / 76.69 %", "acc5",
              (_JS["full"], _JS["unet"], _JS["pix2pix"], _JS["single"], _JS["multi_d"], _JS["multi_g"])),
        Claim("jsdcgan-ablation", "jsdcgan", "Wang et al. 2022, Tables 3-4",
              "each module adds: J-S + LCFE + GSM > J-S + LCFE > J-S + concat > joint > single (acc2)",
              "AID acc2 28.64 > 26.59 > 25.73 > 25.14 > 23.42 %", "acc2",
              (_JS["full"], _JS["lcfe"], _JS["concat"], _JS["joint"], _JS["single"]), kind="order"),
        Claim("jsdcgan-amt", "jsdcgan", "Wang et al. 2022, Tables 1-4", "JSDCGAN has the best AMT naturalness score",
              "79.25 (AID)", "", (), testable=False, why_not="a 20-person perception study"),
        Claim("s2color-losses", "s2color", "Corpetti et al. 2023, Sec. 3, Figs. 3-5",
              "all three loss terms render best, then MAE + Laplacian, then MAE alone (ΔE2000)",
              "qualitative (figures): MAE saturates, + Laplacian false colours, all three best", "delta_e",
              (_S2["all"], _S2["mae_lap"], _S2["mae"]), kind="order"),
        Claim("s2color-vs-stretch-seams", "s2color", "Corpetti et al. 2023, Sec. 1, Fig. 1",
              "one model has no mosaic effect, unlike per-tile stretching (seam jump ΔE)",
              "qualitative (Fig. 1): per-tile stretching shows tile seams", "mosaic_jump_de", (_S2["all"], _S2["tile"])),
        Claim("s2color-vs-global-stretch", "s2color", "Corpetti et al. 2023, Sec. 1",
              "one model renders better than one global stretch (ΔE2000)",
              "qualitative: common parameters 'almost impossible'", "delta_e", (_S2["all"], _S2["global"])),
    ]
    for w, paper in (("0.25", "74.40 vs 73.63"), ("0.5", "77.37 vs 76.92"), ("0.75", "77.87 vs 77.77"),
                     ("1.0", "78.43 vs 78.26")):
        out.append(Claim(f"slimseg-kd-w{w}", "slimseg", "Xue 2025 (thesis), Table 2.5",
                         f"stepwise KD (teacher prev) beats no KD at x{w}", f"{paper} % mIoU", f"miou_w{w}",
                         (_SL["prev"], _SL["none"])))
    for w, paper in (("0.25", "74.40 vs 73.64"), ("0.5", "77.37 vs 76.72")):
        out.append(Claim(f"slimseg-prev-vs-largest-w{w}", "slimseg", "Xue 2025 (thesis), Table 2.5",
                         f"teacher prev beats teacher largest at x{w}", f"{paper} % mIoU", f"miou_w{w}",
                         (_SL["prev"], _SL["largest"])))
    for w, paper in (("0.25", "74.40 vs 71.94"), ("0.5", "77.37 vs 75.86"), ("0.75", "77.87 vs 76.64"),
                     ("1.0", "78.43 vs 77.55")):
        out.append(Claim(f"slimseg-boundary-w{w}", "slimseg", "Xue 2025 (thesis), Table 2.4",
                         f"boundary supervision (L_b + L_g) adds at x{w} (with KD)", f"{paper} % mIoU", f"miou_w{w}",
                         (_SL["prev"], _SL["noboundary"])))
    out += [
        Claim("multipath-m6-vs-m1", "multipath", "Wang et al. 2025, Table IV",
              "the full model (Method 6) beats the basic one (Method 1): mean ΔE CAM16-UCS", "2.7 vs 3.8",
              "de_cam16ucs_mean", (_MP[6], _MP[1])),
        Claim("multipath-m6-vs-m1-p95", "multipath", "Wang et al. 2025, Table IV",
              "Method 6 beats Method 1 on the 95th percentile of ΔE CAM16-UCS", "7.3 vs 10.3", "de_cam16ucs_p95",
              (_MP[6], _MP[1])),
        Claim("multipath-m6-vs-m1-lr1", "multipath", "Wang et al. 2025, Table IV (optimiser: our diagnosis)",
              "Method 6 beats Method 1 when the optimiser can move the weights (AdaDelta lr 1.0)", "2.7 vs 3.8",
              "de_cam16ucs_mean", (_MP_LR1[6], _MP_LR1[1])),
        Claim("multipath-steps", "multipath", "Wang et al. 2025, Table IV",
              "each change helps: Method 6 ≤ 5 ≤ 4 ≤ 3 (mean ΔE CAM16-UCS)", "2.7 / 2.7 / 2.8 / 3.0",
              "de_cam16ucs_mean", (_MP[6], _MP[5], _MP[4], _MP[3]), kind="order"),
        Claim("multipath-pretrained", "multipath", "Wang et al. 2025, Table IV",
              "an ImageNet-pretrained context path helps (Method 2 vs 1)", "3.5 vs 3.8", "de_cam16ucs_mean", (),
              testable=False, why_not="no ImageNet weights can be downloaded here: both context paths are random"),
    ]
    return out


CLAIMS: list[Claim] = _claims()

#: what the investigation of a claim found (claim id -> text for the "why" column); written after reading
#: the results and the method once more against its paper
DIAGNOSES: dict[str, str] = {}


# ======================================================================================================
# judging
# ======================================================================================================
def _stats(records: list[dict[str, Any]], metric: str) -> tuple[float, float, int] | None:
    vals = [r["metrics"][metric] for r in records if r.get("status") == "ok" and metric in r.get("metrics", {})]
    if not vals:
        return None
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return mean, std, len(vals)


def compare(a: tuple[float, float, int], b: tuple[float, float, int], metric: str) -> tuple[float, str]:
    """``(gap, verdict)`` of "a is better than b": the gap in the paper's direction (positive = as claimed)."""
    gap = (b[0] - a[0]) if lower_is_better(metric) else (a[0] - b[0])
    noise = math.sqrt(a[1] ** 2 + b[1] ** 2) if min(a[2], b[2]) > 1 else 0.0
    if gap > noise:
        return gap, "holds"
    if gap < -noise:
        return gap, "does not hold"
    return gap, "inconclusive"


def pairs(claim: Claim) -> list[tuple[Arm, Arm]]:
    if claim.kind == "order":
        return list(zip(claim.arms[:-1], claim.arms[1:]))
    return [(claim.arms[0], other) for other in claim.arms[1:]]


def judge(claim: Claim, results: dict[tuple[Arm, int], list[dict[str, Any]]], budget: int
          ) -> tuple[str, list[float], str]:
    """``(verdict, gaps, ours)`` of a claim at one budget."""
    stats = {arm: _stats(results.get((arm, budget), []), claim.metric) for arm in claim.arms}
    missing = [arm.name for arm, s in stats.items() if s is None]
    ours = "; ".join(f"{arm.name} {'—' if s is None else _fmt(s)}" for arm, s in stats.items())
    if missing:
        return "not run", [], ours
    verdicts, gaps = [], []
    for a, b in pairs(claim):
        gap, v = compare(stats[a], stats[b], claim.metric)  # type: ignore[arg-type]
        gaps.append(gap)
        verdicts.append(v)
    if all(v == "holds" for v in verdicts):
        verdict = "holds"
    elif all(v == "does not hold" for v in verdicts):
        verdict = "does not hold"
    elif any(v == "does not hold" for v in verdicts):
        verdict = "does not hold" if len(verdicts) == 1 else "partly: " + ", ".join(
            f"{a.name} vs {b.name} {v}" for (a, b), v in zip(pairs(claim), verdicts) if v != "holds")
    else:
        verdict = "inconclusive" if all(v == "inconclusive" for v in verdicts) else "partly (rest within seed spread)"
    return verdict, gaps, ours


def _fmt(s: tuple[float, float, int]) -> str:
    mean, std, n = s
    digits = 2 if abs(mean) >= 1 else 4
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def trend(gaps_small: list[float], gaps_large: list[float]) -> str:
    """How the claimed gap moved from the small budget to the large one."""
    if not gaps_small or not gaps_large:
        return ""
    s, g = min(gaps_small), min(gaps_large)
    if abs(g - s) <= 1e-9 + 1e-3 * max(abs(s), abs(g)):
        return f"smallest gap {s:+.4g} at both budgets"
    direction = "towards the claim" if g > s else "away from the claim"
    return f"smallest gap {s:+.4g} → {g:+.4g} ({direction})"


# ======================================================================================================
# running
# ======================================================================================================
def selected(only: list[str] | None) -> list[Claim]:
    if not only:
        return list(CLAIMS)
    groups = sorted({c.group for c in CLAIMS})
    unknown = [o for o in only if o not in groups and o not in {c.id for c in CLAIMS}]
    if unknown:
        raise LeaderboardError(f"unknown claim or group {unknown}; groups: {', '.join(groups)}")
    return [c for c in CLAIMS if c.group in only or c.id in only]


def available(arm: Arm) -> str | None:
    """Why an arm cannot run (its method or config is missing), else None."""
    from semcolor.paths import experiments_dir

    if arm.method not in METHODS.available():
        return f"method {arm.method!r} is not registered"
    if not (experiments_dir() / arm.method / f"{arm.config}.yaml").is_file():
        return f"no config experiments/{arm.method}/{arm.config}.yaml"
    return None


def wiconet_checkpoint(settings: Settings, store: Store, budget: int, log: Any) -> tuple[str, float | None]:
    """Train (or reuse) the prerequisite WiCoNet; its best checkpoint and test mIoU."""
    keep = replace(settings, keep_checkpoints=True)
    record = run_cells([Cell(WICONET_PREREQ, 0, budget)], keep, store, log=log)[0]
    if record.get("status") != "ok":
        raise LeaderboardError(f"the prerequisite wiconet failed: {record.get('error')}")
    run = store.runs / "wiconet" / record["key"]
    best = sorted(run.glob("best-*.ckpt")) or sorted(run.glob("last.ckpt"))
    if not best:
        raise LeaderboardError(f"the prerequisite wiconet left no checkpoint in '{run}'; delete "
                               f"'{store.path(record['key'])}' to train it again")
    miou = record.get("metrics", {}).get("miou")
    log(f"claims: SECBNet's segmentation module = {best[-1]} (test mIoU {miou})")
    return str(best[-1]), miou


def run_claims(claims: list[Claim], settings: Settings, budgets: list[int], prereq_budget: int, store: Store,
               log: Any = print) -> tuple[dict[tuple[Arm, int], list[dict[str, Any]]], dict[str, Any]]:
    arms: list[Arm] = []
    for c in claims:
        for arm in c.arms:
            if arm not in arms:
                arms.append(arm)
    skipped = {arm.name: why for arm in arms if (why := available(arm))}
    arms = [a for a in arms if a.name not in skipped]
    info: dict[str, Any] = {"skipped": skipped}
    resolved: dict[Arm, Arm] = {}
    if any(WICONET_CKPT in o for a in arms for o in a.overrides):
        info["wiconet_checkpoint"], info["wiconet_miou"] = wiconet_checkpoint(settings, store, prereq_budget, log)
    for a in arms:
        resolved[a] = replace(a, overrides=tuple(o.replace(WICONET_CKPT, info.get("wiconet_checkpoint", ""))
                                                 for o in a.overrides))
    cells, owner = [], []
    largest = max(budgets)
    for budget in sorted(budgets):
        seeds = settings.seeds if budget == largest else settings.seeds[:1]
        for a in arms:
            run_seeds = seeds if METHODS.entry(a.method).trainable else seeds[:1]
            for seed in run_seeds:
                cells.append(Cell(resolved[a], seed, budget))
                owner.append((a, budget))
    records = run_cells(cells, settings, store, log=log)
    results: dict[tuple[Arm, int], list[dict[str, Any]]] = {}
    for key, rec in zip(owner, records):
        results.setdefault(key, []).append(rec)
    # training-free arms do not depend on the budget: the same record at every budget
    for a in arms:
        if not METHODS.entry(a.method).trainable:
            first = next((results[(a, b)] for b in sorted(budgets) if (a, b) in results), [])
            for b in budgets:
                results.setdefault((a, b), first)
    return results, info


def claims_markdown(claims: list[Claim], results: dict[tuple[Arm, int], list[dict[str, Any]]], budgets: list[int],
                    settings: Settings, info: dict[str, Any]) -> str:
    small, large = min(budgets), max(budgets)
    lines = [
        "# The papers' claims, tested on equal terms",
        "",
        f"Budgets: {', '.join(map(str, sorted(budgets)))} s of training per run (Lightning `max_time`); seeds "
        f"{', '.join(map(str, settings.seeds))} at {large} s, seed {settings.seeds[0]} at the smaller budget(s); "
        f"test split of the embedded data; profile `{settings.profile}`. Verdict at {large} s: *holds* when the gap in "
        f"the paper's direction exceeds the combined seed spread (any positive gap with one seed), *does not hold* "
        f"when it is beyond it the other way, *inconclusive* otherwise. SECBNet and multipath run on the data with "
        f"class-dependent effects (`semantic_effects=true`).",
    ]
    if info.get("wiconet_checkpoint"):
        miou = info.get("wiconet_miou")
        lines.append(f"SECBNet's segmentation module: a WiCoNet trained first on the same data (test mIoU "
                     f"{miou:.3f})." if miou is not None else "")
    if info.get("skipped"):
        lines.append("Arms not run: " + "; ".join(f"{k} ({v})" for k, v in info["skipped"].items()) + ".")
    lines.append(f"Written by `make claims` (python -m semcolor.cli.claims) on {time.strftime('%Y-%m-%d %H:%M')}.")
    groups: dict[str, list[Claim]] = {}
    for c in claims:
        groups.setdefault(c.group, []).append(c)
    for group, items in groups.items():
        lines += ["", f"## {group}", "", f"| claim | paper | paper's figure | ours at {small} s | ours at {large} s "
                  f"| verdict at {large} s | why |", "|---|---|---|---|---|---|---|"]
        for c in items:
            if not c.testable:
                lines.append(f"| {c.statement} | {c.paper} | {c.paper_figure} | — | — | not testable here | {c.why_not} |")
                continue
            v_small, g_small, ours_small = judge(c, results, small)
            v_large, g_large, ours_large = judge(c, results, large)
            why = "; ".join(x for x in (trend(g_small, g_large), DIAGNOSES.get(c.id, "")) if x)
            metric = f"{c.metric} {'↓' if lower_is_better(c.metric) else '↑'}"
            lines.append(f"| {c.statement} ({metric}) | {c.paper} | {c.paper_figure} | {ours_small} | {ours_large} | "
                         f"**{v_large}** | {why} |")
    # every arm, every budget: the numbers behind the table
    lines += ["", "## Every arm", "", "| arm | budget (s) | seeds | steps reached | metrics |", "|---|---:|---:|---:|---|"]
    for (arm, budget), recs in sorted(results.items(), key=lambda kv: (kv[0][0].name, kv[0][1])):
        ok = [r for r in recs if r.get("status") == "ok"]
        names = sorted({m for r in ok for m in r.get("metrics", {})})
        shown = [m for m in names if not m.startswith(("de_cam16ucs_class", "stitched_", "identity"))][:10]
        text = ", ".join(f"{m} {_fmt(s)}" for m in shown if (s := _stats(ok, m)))
        steps = [r["train"]["batches"] for r in ok if r.get("train")]
        failed = [r.get("error", "") for r in recs if r.get("status") != "ok"]
        trained = METHODS.entry(arm.method).trainable
        reached = f"{sum(steps) / len(steps):.0f}" if steps else "—"
        lines.append(f"| {arm.name} | {budget if trained else '—'} | {len(ok)} | {reached} | "
                     f"{text or ('failed: ' + '; '.join(failed))} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m semcolor.cli.claims", description=__doc__.split("\n")[0])
    p.add_argument("--budgets", default="30,90", help="comma-separated seconds of training per run (two budgets)")
    p.add_argument("--seeds", default="1", help="seeds at the largest budget: a count or a list")
    p.add_argument("--prereq_budget", default="300", help="seconds of training of SECBNet's WiCoNet")
    p.add_argument("--only", default=None, help="comma-separated claim groups or ids (secbnet, jsdcgan, ...)")
    p.add_argument("--profile", default="default", help="default | smoke")
    p.add_argument("--trainer_config", default=None)
    p.add_argument("--out", default=None, help="results folder (default results/claims; the table goes to its parent)")
    p.add_argument("--isolate", action="store_true")
    ns = p.parse_args(argv)
    try:
        from semcolor.cli.leaderboard import default_out, parse_budget

        budgets = [parse_budget(b) for b in str(ns.budgets).split(",") if b.strip()]
        if not budgets:
            raise LeaderboardError("BUDGETS must name at least one budget")
        out = Path(ns.out) if ns.out else default_out("claims", "embedded")
        settings = Settings(task="claims", seeds=parse_seeds(ns.seeds), profile=ns.profile,
                            trainer_config=ns.trainer_config, out=out, isolate=ns.isolate, budget=max(budgets))
        if ns.profile not in ("default", "smoke"):
            raise LeaderboardError(f"unknown profile {ns.profile!r}; profiles: default, smoke")
        claims = selected([x.strip() for x in ns.only.split(",")] if ns.only else None)
        store = Store(out, kind="claims")
        results, info = run_claims(claims, settings, budgets, parse_budget(ns.prereq_budget), store)
        text = claims_markdown(claims, results, budgets, settings, info)
        md = out.parent / "claims.md" if not ns.out else out / "claims.md"
        atomic_write(md, text)
    except SemcolorError as exc:
        print(f"claims: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(f"written: {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
