"""Latency of a SlimSeg network of Table 2.2 at every width at 1024x2048, next to the thesis' figures.

Xue 2025 (thesis) ch. 2 reports, for Slim-SFNet-ResNet50 at full Cityscapes resolution (1024x2048), FPS
9.0 / 13.2 / 23.8 / 46.2 at x1.0 / 0.75 / 0.5 / 0.25 on one GeForce 2080Ti (CUDA 10.1, no TensorRT;
Sec. 2.4.4 / Table 2.9) and 607.9 / 343.4 / 153.9 / 39.4 GMac (Table 2.2). The FLOPs shrink 15.4x from
x1.0 to x0.25 but the 2080Ti FPS only 5.1x: small widths do not fill a GPU. For the other networks of
Table 2.2 (``--arch``, e.g. ``sfnet_dfnetv1`` / ``sfnet_dfnetv2``) the thesis gives GMac and parameters
but no FPS.

This script measures the network (random weights, eval mode, batch 1, boundary head removed) on this
machine's CPU, and on CUDA when available -- fp32, and fp16 autocast + channels_last (the deployment
setting) -- and prints, per width: parameters and GMac (``semcolor.networks.slimmable.count_params`` /
``count_macs``, ptflops convention) next to Table 2.2's, median latency and FPS, the speed-up over x1.0
next to the GMac ratio (and the paper's FPS ratio for ResNet50). A CPU forward of x1.0 at 1024x2048
takes seconds: keep ``--cpu-reps`` small. Several ``--arch`` values run one after the other.
On a machine shared with other jobs the CPU wall clock mostly measures the others' load:
``--cpu-clock process`` reports the process CPU time per forward instead (summed over threads; use
``--threads 1`` to read it as single-core latency).

    .venv/bin/python benchmarks/slimseg_latency.py                    # CPU (+ GPU if present)
    .venv/bin/python benchmarks/slimseg_latency.py --arch sfnet_dfnetv1 sfnet_dfnetv2 --markdown out.md
    .venv/bin/python benchmarks/slimseg_latency.py --size 512 1024 --cpu-reps 3 --markdown out.md
    .venv/bin/python benchmarks/slimseg_latency.py --arch sfnet_dfnetv1 --threads 1 --cpu-clock process
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from semcolor.networks.slimmable import MODEL_NAMES, build_slimmable, count_macs, count_params  # noqa: E402
from semcolor.networks.slimmable.paper import SLIM_SFNET_R50_FPS_2080TI, TABLE_2_2  # noqa: E402
from semcolor.widths.sweep import measure_latency  # noqa: E402


def _median_ms(net, w, size, device, reps, warmup, amp=False, channels_last=False) -> tuple[float, list[float]]:
    times = measure_latency(net, w, size, device, reps=reps, warmup=warmup, amp=amp, channels_last=channels_last)
    return statistics.median(times) * 1e3, [t * 1e3 for t in times]


def _median_cpu_ms(net, w, size, reps, warmup) -> tuple[float, list[float]]:
    """Process CPU milliseconds per forward: one ``measure_latency`` call per timed forward."""
    measure_latency(net, w, size, "cpu", reps=0, warmup=warmup)
    times = []
    for _ in range(reps):
        t0 = time.process_time()
        measure_latency(net, w, size, "cpu", reps=1, warmup=0)
        times.append((time.process_time() - t0) * 1e3)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", nargs="+", default=["sfnet_r50"], choices=MODEL_NAMES)
    ap.add_argument("--size", type=int, nargs=2, default=(1024, 2048), metavar=("H", "W"))
    ap.add_argument("--cpu-reps", type=int, default=2, help="timed CPU forwards per width (0: skip CPU)")
    ap.add_argument("--cpu-warmup", type=int, default=1)
    ap.add_argument("--cpu-clock", choices=("wall", "process"), default="wall",
                    help="CPU column: wall-clock latency, or process CPU time per forward (shared machines)")
    ap.add_argument("--gpu-reps", type=int, default=20)
    ap.add_argument("--gpu-warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--no-gpu", action="store_true")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    reports = [_benchmark(arch, args) for arch in args.arch]
    if args.markdown:
        args.markdown.write_text("\n\n".join(reports) + "\n")


def _benchmark(arch: str, args: argparse.Namespace) -> str:
    """Measure one architecture, print its table, return it as markdown."""
    torch.manual_seed(0)
    net = build_slimmable(arch, num_classes=19, boundary=False).eval()
    paper = TABLE_2_2[arch]
    widths = paper.widths
    paper_fps = SLIM_SFNET_R50_FPS_2080TI if arch == "sfnet_r50" else None
    size = tuple(args.size)
    print(f"{arch}, input 1x3x{size[0]}x{size[1]}, torch {torch.__version__}, "
          f"CPU threads {torch.get_num_threads()}", flush=True)

    rows: dict[float, dict[str, float]] = {}
    for w in widths:
        rows[w] = {"params": count_params(net, w) / 1e6, "gmac": count_macs(net, w, size) / 1e9}

    columns: list[str] = []
    if args.cpu_reps > 0:
        col = "cpu" if args.cpu_clock == "wall" else "cpu_process"
        columns.append(col)
        for w in widths:
            if args.cpu_clock == "process":
                ms, all_ms = _median_cpu_ms(net, w, size, args.cpu_reps, args.cpu_warmup)
            else:
                ms, all_ms = _median_ms(net, w, size, "cpu", args.cpu_reps, args.cpu_warmup)
            rows[w][col] = ms
            print(f"  {col}  x{w:<4} median {ms:9.1f} ms   runs {', '.join(f'{t:.1f}' for t in all_ms)}", flush=True)
    if torch.cuda.is_available() and not args.no_gpu:
        gpu = net.to("cuda")
        name = torch.cuda.get_device_name(0)
        for col, amp, cl in (("gpu_fp32", False, False), ("gpu_amp_cl", True, True)):
            columns.append(col)
            for w in widths:
                ms, _ = _median_ms(gpu, w, size, "cuda", args.gpu_reps, args.gpu_warmup, amp, cl)
                rows[w][col] = ms
                print(f"  {col} ({name}) x{w:<4} median {ms:8.2f} ms", flush=True)

    full, low, wl = rows[1.0], rows[widths[-1]], widths[-1]
    head = ["width", "params (M)", "paper params (M)", "GMac", "paper GMac @1024x2048", "GMac x1.0/xw"]
    for c in columns:
        head += [f"{c} ms", f"{c} FPS", f"{c} speed-up"]
    if paper_fps:
        head += ["paper 2080Ti FPS", "paper speed-up"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, w in enumerate(widths):
        r = rows[w]
        cells = [f"x{w}", f"{r['params']:.3f}", f"{paper.params_m[i]}", f"{r['gmac']:.2f}", f"{paper.gmac[i]}",
                 f"{full['gmac'] / r['gmac']:.2f}"]
        for c in columns:
            cells += [f"{r[c]:.1f}", f"{1e3 / r[c]:.3g}", f"{full[c] / r[c]:.2f}"]
        if paper_fps:
            cells += [f"{paper_fps[w]}", f"{paper_fps[w] / paper_fps[1.0]:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print()
    print(table)
    span = [(f"GMac ratio x1.0/x{wl} = {full['gmac'] / low['gmac']:.1f} "
             f"(paper {paper.gmac[0]}/{paper.gmac[-1]} = {paper.gmac[0] / paper.gmac[-1]:.1f})")]
    if paper_fps:
        span.append(f"paper 2080Ti FPS ratio x{wl}/x1.0 = {paper_fps[wl] / paper_fps[1.0]:.2f}")
    span += [f"{c} speed-up x{wl} vs x1.0 = {full[c] / low[c]:.2f}" for c in columns]
    print("\n".join(span), flush=True)
    return f"### {arch}, input {size[0]}x{size[1]}\n\n" + table + "\n\n" + "\n".join(f"- {s}" for s in span)


if __name__ == "__main__":
    main()
