"""Is data loading ever the bottleneck of a leaderboard cell? Loader samples/s vs training-step samples/s.

For every method of a task (the leaderboard's arms, or ``--methods``), on its leaderboard config:

1. a short ``fit`` through the CLI (``--steps`` training batches, no validation) with the leaderboard's
   :class:`~semcolor.cli.leaderboard.CellProbe`: samples per second *inside* training steps, and the time the
   loop waited for batches;
2. the same DataModule's training loader alone, ``--batches`` batches: samples per second of loading.

Prints one row per method and the ratio loader / step; the target is >= 3x (data loading never the
bottleneck). Training-free methods and fixed stretches (no trainable parameters) are skipped. Each fit's
epoch is ``--steps`` batches and one validation batch, so that callbacks watching a validation metric
(multipath's early stopping) work; validation is not timed.

    python benchmarks/loader_speed.py --task balance [--methods unet,secbnet] [--steps 12] [--batches 40]

Measured 2026-12-07 (2 shared cores, other developers' jobs running: absolute figures are low, the ratios are
what matters): see the numbers printed in the README's leaderboard section.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("WANDB_MODE", "disabled")


def loader_rate(datamodule, batches: int) -> float:
    loader = datamodule.train_dataloader()
    n, t0 = 0, time.perf_counter()
    it = iter(loader)
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        n += batch["input"].shape[0]
    return n / (time.perf_counter() - t0)


def main() -> None:
    from semcolor.cli.leaderboard import CellProbe, probed_cli, task_arms
    from semcolor.cli.main import expand_names
    from semcolor.cpu_memory import keep_freed_memory
    from semcolor.registry import METHODS

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="balance")
    p.add_argument("--methods", default=None)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--batches", type=int, default=40)
    a = p.parse_args()
    keep_freed_memory()
    arms, _ = task_arms(a.task, methods=a.methods.split(",") if a.methods else None)
    print(f"{'method':<16}{'step samples/s':>16}{'loader samples/s':>18}{'ratio':>8}{'loop waited':>13}")
    for arm in arms:
        if not METHODS.entry(arm.method).trainable:
            continue
        args = ["fit", "--method", arm.method, "--data", arm.config, f"--trainer.max_steps={a.steps}",
                f"--trainer.limit_train_batches={a.steps}",
                "--trainer.max_epochs=-1", "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0",
                "--trainer.logger=false", "--trainer.enable_progress_bar=false",
                "--run_name=loader-speed"]
        os.environ["SEMCOLOR_CKPTS"] = "/tmp/semcolor-loader-speed"
        cli = probed_cli(expand_names(args))
        if not any(p.requires_grad for p in cli.model.parameters()):  # a fixed stretch: nothing is trained
            print(f"{arm.name:<16}{'no trainable parameters: skipped':>55}", flush=True)
            continue
        probe = next(c for c in cli.trainer.callbacks if isinstance(c, CellProbe))
        bs = cli.datamodule.batch_size
        step_rate = probe.steps * bs / probe.step_seconds if probe.step_seconds else float("nan")
        wait = probe.wait_seconds / max(probe.wait_seconds + probe.step_seconds, 1e-9)
        load_rate = loader_rate(cli.datamodule, a.batches)
        print(f"{arm.name:<16}{step_rate:>16.1f}{load_rate:>18.1f}{load_rate / step_rate:>7.1f}x{100 * wait:>12.1f}%",
              flush=True)


if __name__ == "__main__":
    main()
