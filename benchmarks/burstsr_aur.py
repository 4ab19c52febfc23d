"""AUR vs burst length with and without shake on the generated textures (Xue 2025 (thesis), Sec. 5.5.2-5.5.3).

Trains ``burstsr`` (both stages) for burst lengths ``--lengths`` (1, 5, 10) at one noise level (lambda_p = 1,
sigma_g = 10, the chapter's base) with sigma_s = 0 and sigma_s = ``--shake`` (2 LR px), then traces each run's P-D
curve (:mod:`semcolor.cli.pd_curve`) and writes ``results.md``, ``pd_points.csv``, ``pd_plane.png`` and
``aur_vs_burst_length.png`` into ``--out``. One frame cannot be misaligned with itself (frame 1 is the reference),
so n = 1 is trained once and its curve stands in both groups (Table 5.1's footnote, read the other way round).

The budget is a CPU's (all of it on the command line, defaults below): 64x64 HR crops, RRDBNet 1 block / 8 features
/ growth 8 with the bicubic global skip, discriminator 8 features, 32 training textures in batches of 8; stage 1
``--epochs1`` (30) epochs of L1 at lr 1e-3, stage 2 ``--epochs2`` (10) epochs of relativistic GAN (weight 0.05) + L1 at
5e-4. The claims under test: without shake, longer bursts lower the AUR with diminishing returns; with shake an
optimal burst length appears. Run it at low priority on a shared machine::

    nice -n 10 python benchmarks/burstsr_aur.py --out ckpts/burstsr-aur

Measured (2 CPU cores shared with other jobs, load 15-25): at ~5 % of a core per training, 10 stage-1 epochs took 35
minutes, so the run for issue 14 was cut: stage 1 stopped after 10 epochs, stage 2 (2 epochs, ``stage=perception``
from those weights) and 5 alphas; every model stayed at the bicubic reference (RMSE 0.108) and the AURs differ
by noise only (README, burstsr section). The defaults here need a machine of one's own (~100 CPU-s per training).
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from semcolor.cli.pd_curve import curve_points, run_checkpoints, write_outputs


def finished(run: Path, epochs: int) -> bool:
    """Both stages' generators were saved (perception.ckpt is written when training ends)."""
    from semcolor.checkpoints import read_checkpoint

    done = run / "perception.ckpt"
    return done.is_file() and (run / "distortion.ckpt").is_file() and read_checkpoint(done).get("epoch", -1) >= epochs - 1


def train(out: Path, n: int, sigma_s: float, args: argparse.Namespace) -> Path:
    name = f"n{n}-s{sigma_s:g}"
    run = out / "runs" / "burstsr" / name
    epochs = args.epochs1 + args.epochs2
    if (run / "config.yaml").is_file() and not finished(run, epochs):
        print(f"{name}: being trained by another invocation, waiting", flush=True)
        while not finished(run, epochs):
            time.sleep(30)
    if finished(run, epochs):
        print(f"{name}: reusing {run}", flush=True)
        return run
    cmd = [sys.executable, "-m", "semcolor", "fit", "--method", "burstsr", "--data", "embedded", "--run_name", name,
           f"--model.init_args.num_frames={n}", f"--data.init_args.sigma_s={sigma_s}",
           f"--data.init_args.sigma_g={args.sigma_g}", f"--data.init_args.lambda_p={args.lambda_p}",
           "--model.init_args.features=8", "--model.init_args.num_blocks=1", "--model.init_args.growth=8",
           "--model.init_args.global_skip=true", "--model.init_args.d_features=8",
           f"--model.init_args.distortion_epochs={args.epochs1}", "--model.init_args.lr=0.001",
           "--model.init_args.lr_perception=0.0005", f"--model.init_args.lr_halving_distortion={max(args.epochs1 // 2, 1)}",
           f"--model.init_args.lr_halving_perception={max(args.epochs2 // 2, 1)}",
           "--model.init_args.adversarial_weight=0.05", "--model.init_args.lambda_l1=1.0",
           f"--data.init_args.train_scenes={args.train}", f"--data.init_args.test_scenes={args.test}",
           "--data.init_args.val_scenes=8", "--data.init_args.batch_size=8",
           f"--trainer.max_epochs={args.epochs1 + args.epochs2}", f"--trainer.check_val_every_n_epoch={max(args.epochs2, 1)}",
           "--trainer.logger=false", "--trainer.enable_progress_bar=false", f"--seed_everything={args.seed}"]
    env = dict(os.environ, SEMCOLOR_CKPTS=str(out / "runs"))
    start = time.time()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    print(f"{name}: trained in {time.time() - start:.0f} s", flush=True)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (runs are reused when it is given again)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--shake", type=float, default=2.0, help="sigma_s of the shaken group, LR px")
    parser.add_argument("--sigma-g", type=float, default=10.0)
    parser.add_argument("--lambda-p", type=float, default=1.0)
    parser.add_argument("--epochs1", type=int, default=30)
    parser.add_argument("--epochs2", type=int, default=10)
    parser.add_argument("--train", type=int, default=32, help="training textures")
    parser.add_argument("--test", type=int, default=16, help="test textures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="trainings run at the same time")
    args = parser.parse_args(argv)
    out = Path(args.out)
    start = time.time()
    settings = [(n, s) for s in (0.0, args.shake) for n in args.lengths if n != 1 or s == 0]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # parallel trainings, each its own process
        runs = dict(zip(settings, pool.map(lambda ns: train(out, ns[0], ns[1], args), settings)))
    pool = ProcessPoolExecutor(max_workers=args.jobs)  # curves scored in parallel too
    futures = {ns: pool.submit(curve_points, *run_checkpoints(run)) for ns, run in runs.items()}
    curves = []
    for sigma_s in (0.0, args.shake):
        for n in args.lengths:
            if n == 1 and sigma_s != 0:
                shared = copy.deepcopy(next(c for c in curves if c["settings"]["num_frames"] == 1))
                shared["settings"]["sigma_s"] = sigma_s  # the same single-frame model and data
                curves.append(shared)
                continue
            curve = futures[(n, sigma_s)].result()
            print(f"n={n} sigma_s={sigma_s:g}: AUR NIQE {curve['aur']['niqe']:.4f}, BRISQUE {curve['aur']['brisque']:.4f}",
                  flush=True)
            curves.append(curve)
    pool.shutdown()
    report = write_outputs(curves, out / "report")
    print((report / "results.md").read_text())
    print(f"total {time.time() - start:.0f} s; written to {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
