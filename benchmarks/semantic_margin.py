"""Does the embedded data with class-dependent effects do what it is for? The true class map's margin.

The same network (SECBNet's generator, Seg64 fusion) is trained with the true class map as its segmentation
input (``seg_source=labels``) and without a segmentation branch, on the plain embedded data and on the data
with ``semantic_effects=true`` (withered vegetation that looks like bare soil in about half of the strips),
under one time budget and several seeds, through the leaderboard's cells (``semcolor.cli.claims``, group
``semantics``). Prints test PSNR / Delta E 2000 and the margin "with the class map - without".

    python benchmarks/semantic_margin.py [--budget 120] [--seeds 2] [--out results/semantic-margin]

The requirement: on the semantic data the margin is clear (> 0.5 dB and beyond the seed spread) and larger
than on the plain data. Measured figures: README, "Comparing methods on equal terms".
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "disabled")


def main() -> None:
    from semcolor.cli import claims as cl
    from semcolor.cli.leaderboard import Settings, Store, parse_seeds

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=int, default=120)
    p.add_argument("--seeds", default="2")
    p.add_argument("--out", default="results/semantic-margin")
    a = p.parse_args()
    claims = cl.selected(["semantics"])
    settings = Settings(task="claims", budget=a.budget, seeds=parse_seeds(a.seeds), out=Path(a.out))
    results, _ = cl.run_claims(claims, settings, [a.budget], 0, Store(Path(a.out), kind="claims"))
    print(f"\nbudget {a.budget} s, seeds {settings.seeds}")
    for claim in claims:
        with_map, without = claim.arms
        stats = {arm: {m: cl._stats(results[(arm, a.budget)], m) for m in ("psnr", "delta_e")} for arm in claim.arms}
        for arm in claim.arms:
            s = stats[arm]
            print(f"  {arm.name:<52} PSNR {cl._fmt(s['psnr'])} dB   ΔE2000 {cl._fmt(s['delta_e'])}")
        gap, verdict = cl.compare(stats[with_map]["psnr"], stats[without]["psnr"], "psnr")
        print(f"  margin of the class map: {gap:+.2f} dB ({verdict})\n")


if __name__ == "__main__":
    main()
