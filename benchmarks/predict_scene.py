"""Whole-scene prediction benchmark: throughput of the predict path and peak memory per scene size.

Not a test: prints figures. For each scene size (default 2048, 4096, 8192 pixels square) it runs, in a
fresh subprocess per size (so peak RSS is per size):

1. ``Trainer.predict`` with :class:`semcolor.scenes.datamodule.SceneDataModule` and
   :class:`semcolor.scenes.writer.SceneWriter` (reading windows, the model, blending, writing
   the GeoTIFF) -- windows/s of the whole predict path;
2. in the same process, the bare model forward on the same windows (read in the process beforehand,
   only ``model(x)`` timed; half of the windows before the predict run and half after, so that a
   change of the shared machine's load during the run affects both alike) -- windows/s of the model
   alone. Target: predict path >= 0.9x bare. The time spent inside ``model.forward`` during the
   predict run and the writer's own time are printed too.

Peak RSS of the predicting process (``ru_maxrss`` reset just before ``predict`` and read right after
it) and of its DataLoader workers, if any (``RUSAGE_CHILDREN``) is reported per size. Target: the 8192^2 peak
within 1.1x of the 2048^2 peak. Optionally (``--seams``) the smallest scene is also predicted with
every blend mode and scored: seam ratio, and PSNR/SSIM against the generator's balanced target.

Scenes come from :func:`semcolor.datamodules.embedded_geotiff.write_scene_pair` (what ``make scene`` writes):
mosaics of 2048^2 generated scenes, generated one at a time in a separate process before any measurement,
with a nodata triangle in the top-left corner that exercises the mask path. Files are cached in
``--workdir`` and reused.

Usage::

    .venv/bin/python benchmarks/predict_scene.py [--sizes 2048 4096 8192] [--model conv|unet|secbnet]
        [--tile 256] [--overlap 64] [--batch-size 8] [--workers 1] [--blend linear] [--compress deflate]
        [--seams] [--glibc-malloc]

Measured 2026-11-21 on 2 quiet CPU cores (deflate, linear blending), predict path / bare forward and
peak RSS relative to 2048^2:
  unet     2048/4096/8192: 0.96 / 0.93 / 1.03 (~19 windows/s), RSS 1.000 / 1.027 / 1.055x
  conv     2048/8192: 0.82 / 0.81 (~87 windows/s), RSS 1.000 / 1.079x
  secbnet  2048 (paper widths, --overlap 100, random weights): 0.99 (1.1 windows/s), peak RSS 3.3 GB
The light conv net needs ~10 ms per window, so the ~2 ms per window of reading, blending and
compressing (the same CPU cores) shows; with glibc's malloc defaults (--glibc-malloc) the same net ran
at 29 windows/s (page faults on every batch: semcolor/cpu_memory.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from semcolor.datamodules.embedded_geotiff import scene_paths  # noqa: E402

TILE = 2048  # side of one generated scene in the mosaics


# ----------------------------------------------------------------------------------------------
# scenes
# ----------------------------------------------------------------------------------------------
def generate(workdir: Path, size: int) -> None:
    """Write the ``size``^2 input / target pair (child process: memory is released on exit)."""
    from semcolor.datamodules.embedded_geotiff import write_scene_pair

    write_scene_pair(workdir, size, progress=True)


def tile_pair(workdir: Path, size: int) -> None:
    """Write the ``size``^2 pair as a mosaic of the 2048^2 pair under its 8 flips / rotations (each piece
    keeps its nodata triangle, so there is one per piece): minutes instead of generating (size/2048)^2
    scenes, which takes hours for 16384^2 on 2 cores. Same profile as the generated mosaics."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    small = scene_paths(workdir, TILE)
    if not all(p.is_file() for p in small):
        generate(workdir, TILE)
    for src_path, dst_path in zip(small, scene_paths(workdir, size)):
        with rasterio.open(src_path) as src:
            piece, prof = src.read(), src.profile
        prof.update(width=size, height=size)
        tmp = dst_path.with_name(f".{dst_path.name}.tmp")
        with rasterio.open(tmp, "w", **prof) as dst:
            dst.descriptions = ("R", "G", "B")
            n = size // TILE
            for i in range(n):
                for j in range(n):
                    k = (i * n + j) % 8
                    block = np.rot90(piece, k % 4, axes=(1, 2))
                    block = block[:, :, ::-1] if k >= 4 else block
                    dst.write(np.ascontiguousarray(block), window=Window(j * TILE, i * TILE, TILE, TILE))
        tmp.replace(dst_path)


# ----------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------
def build_model(kind: str):
    import torch
    from torch import nn

    from semcolor.lightning_modules.base import ImageToImageModule

    torch.manual_seed(0)
    if kind == "secbnet":  # the paper's generator (Fig. 2a widths, 32.3 M parameters) without the seg branch
        import warnings

        from semcolor.lightning_modules.secbnet import SECBNetModule

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SECBNetModule(seg_depth=None).eval()
    if kind == "unet":
        from semcolor.lightning_modules.unet import UNetModule

        return UNetModule(decoder_channels=(64, 32, 16, 16, 8)).eval()

    class LightConvNet(ImageToImageModule):
        """Four 3x3 convolutions of width 16 predicting a residual in logit space (~0.7 GFLOP per
        256^2 window), plus a colour shift computed from the window's mean colour -- the global
        context that colour-balancing networks use and that makes unblended tiles show seams (gain 5,
        so that this untrained stand-in shifts neighbouring windows by a few percent, as trained
        balancing networks do)."""

        def configure_models(self) -> None:
            self.network = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 3, 3, padding=1))
            self.context = nn.Linear(3, 3)

        def configure_metrics(self) -> None:
            pass

        def forward(self, x):  # type: ignore[override]
            shift = 5.0 * self.context(x.mean(dim=(2, 3)))[:, :, None, None]
            return torch.sigmoid(torch.logit(x.clamp(1e-3, 1 - 1e-3)) + 0.1 * self.network(x) + shift)

    return LightConvNet().eval()


# ----------------------------------------------------------------------------------------------
# one measurement (child process)
# ----------------------------------------------------------------------------------------------
def reset_peak_rss() -> None:
    """Reset this process's peak RSS (``ru_maxrss`` / VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        print("warning: cannot reset the peak RSS; it includes the bare pass before predict", file=sys.stderr)


def measure(cfg: dict) -> dict:
    import pytorch_lightning as pl
    import torch

    from semcolor.cpu_memory import keep_freed_memory
    from semcolor.scenes.datamodule import SceneDataModule, collate_windows
    from semcolor.scenes.writer import SceneWriter

    keep_freed_memory()  # as the CLI does at start: the bare forward gets the same allocator settings
    model = build_model(cfg["model"])
    out = Path(cfg["output"])
    out.unlink(missing_ok=True)
    dm = SceneDataModule(cfg["input"], tile_size=cfg["tile"], overlap=cfg["overlap"],
                         batch_size=cfg["batch_size"], num_workers=cfg["workers"])
    dm.configure_for(model)
    n, bs = len(dm.grid), cfg["batch_size"]

    def bare(start: int, stop: int) -> float:
        """model(x) on windows [start, stop) in batches; windows read in this process, not timed."""
        total = 0.0
        with torch.inference_mode():
            for b0 in range(start, stop, bs):
                x = collate_windows([dm.dataset[k] for k in range(b0, min(stop, b0 + bs))])["input"]
                t = time.perf_counter()
                model(x)
                total += time.perf_counter() - t
        return total

    with torch.inference_mode():  # warm-up: first-call set-up of the convolution kernels
        model(torch.rand(bs, 3, cfg["tile"], cfg["tile"]))
    # the bare forward straddles the predict run (first half of the windows before, second half
    # after), so a change in the shared machine's load during the run hits both measurements alike
    half = (n // 2 // bs) * bs
    fwd = bare(0, half)
    reset_peak_rss()  # the peak below is the predict run's alone
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    in_loop = [0.0]  # time spent inside model.forward during predict
    forward = model.forward

    def timed(x):
        t = time.perf_counter()
        y = forward(x)
        in_loop[0] += time.perf_counter() - t
        return y

    model.forward = timed
    writer = SceneWriter(str(out), blend=cfg["blend"], compress=cfg.get("compress", "deflate"), progress=False)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[writer])
    t0 = time.perf_counter()
    trainer.predict(model, datamodule=dm, return_predictions=False)
    wall = time.perf_counter() - t0
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    rss_workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    model.forward = forward
    fwd += bare(half, n)
    stats = writer.stats
    return {
        "size": cfg["size"], "windows": n, "predict_loop_s": stats["seconds"], "predict_wall_s": wall,
        "writer_s": stats["writer_seconds"], "bare_forward_s": fwd, "in_loop_forward_s": in_loop[0],
        "predict_wps": n / stats["seconds"], "predict_wall_wps": n / wall, "bare_wps": n / fwd,
        "rss_before_mb": rss_before / 1024, "rss_peak_mb": rss_self / 1024, "rss_workers_mb": rss_workers / 1024,
        "threads": torch.get_num_threads(), "vm_data_after_mb": _vm_data_mb(),
        "rlimit_data_gb": (lambda lim: None if lim == resource.RLIM_INFINITY else lim / 2**30)(
            resource.getrlimit(resource.RLIMIT_DATA)[0]),
    }


def seams_and_scores(cfg: dict) -> dict:
    from semcolor.scenes.seams import scene_scores_file, seam_ratio_file

    res = {}
    for blend in ("none", "linear", "cosine", "hann"):
        c = dict(cfg, blend=blend, output=str(Path(cfg["output"]).with_name(f"seams_{blend}.tif")))
        measure(c)
        sums = seam_ratio_file(c["output"], cfg["tile"], cfg["overlap"])
        sc = scene_scores_file(c["output"], cfg["target"])
        res[blend] = {"seam_ratio": sums.ratio, "psnr": sc.psnr, "ssim": sc.ssim}
    return res


# ----------------------------------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------------------------------
def _cap(gb: float | None):
    """A ``preexec_fn`` giving the child a hard RLIMIT_DATA of ``gb`` GiB (None: no cap).

    RLIMIT_DATA (Linux >= 4.7: the heap plus every private writable mapping, i.e. what malloc, numpy and
    torch allocate) and not RLIMIT_AS (``ulimit -v``): importing torch alone maps 3.9 GB of address space
    (its CUDA libraries, read-only and never resident), so a 3 GB ``ulimit -v`` fails at ``import torch``
    while measuring nothing about the scene. A cgroup would cap resident memory instead, but its
    controller belongs to the machine's own process manager here; RLIMIT_DATA needs no privilege.
    """
    if gb is None:
        return None
    limit = int(gb * 2**30)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    return apply


def cap_enforced(gb: float) -> bool:
    """True when a child under the cap cannot allocate (and touch) 0.5 GiB more than the cap."""
    code = f"import numpy as np; a = np.ones(int(({gb} + 0.5) * 2**30), np.uint8); print(a.sum())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=_cap(gb))
    return proc.returncode != 0 and "MemoryError" in proc.stderr


def _vm_data_mb() -> float:
    import re

    m = re.search(r"VmData:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(m.group(1)) / 1024 if m else float("nan")


def _child(args: list[str], cap_gb: float | None = None) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT,
                          preexec_fn=_cap(cap_gb))
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit(f"child {args[:2]} failed with code {proc.returncode}")
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    ap.add_argument("--model", choices=("conv", "unet", "secbnet"), default="conv",
                    help="conv: a light stand-in that stresses the I/O path; unet: smp U-Net (resnet18, slim "
                         "decoder); secbnet: the paper's generator (use --overlap 100, its R)")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=0,
                    help="DataLoader workers (0 on a 2-core CPU machine: a reading worker competes with "
                         "the model's threads; 1+ when the model runs on a GPU)")
    ap.add_argument("--blend", default="linear")
    ap.add_argument("--compress", default="deflate", help="the writer's compression (deflate, zstd, lzw, none)")
    ap.add_argument("--seams", action="store_true", help="score every blend mode on the smallest scene")
    ap.add_argument("--glibc-malloc", action="store_true",
                    help="keep glibc's malloc defaults (SEMCOLOR_MALLOC=default; see semcolor/cpu_memory.py)")
    ap.add_argument("--memory-cap", type=float, default=None, metavar="GB",
                    help="run each measurement under a hard RLIMIT_DATA of GB GiB (see _cap); checked first")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "semcolor-bench")
    ap.add_argument("--reuse-pieces", action="store_true",
                    help="build scenes above 2048^2 from the 2048^2 pair's flips/rotations (tile_pair) instead of "
                         "generating every piece")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.generate:
        generate(a.workdir, a.generate)
        return
    if a.child:
        cfg = json.loads(a.child)
        res = seams_and_scores(cfg) if cfg.get("seams") else measure(cfg)
        print("RESULT " + json.dumps(res), flush=True)
        return

    a.workdir.mkdir(parents=True, exist_ok=True)
    if a.glibc_malloc:
        os.environ["SEMCOLOR_MALLOC"] = "default"  # inherited by the measuring children
    if any(size > TILE and size % TILE for size in a.sizes):
        raise SystemExit(f"sizes above {TILE} must be multiples of {TILE}")
    for size in sorted(set(a.sizes)):
        if not all(p.is_file() for p in scene_paths(a.workdir, size)):
            t = time.perf_counter()
            if a.reuse_pieces and size > TILE:
                print(f"tiling the {size}^2 scene from the 2048^2 pair ...", flush=True)
                tile_pair(a.workdir, size)
            else:
                print(f"generating the {size}^2 scene in a separate process ...", flush=True)
                subprocess.run([sys.executable, __file__, "--generate", str(size), "--workdir", str(a.workdir)],
                               check=True, cwd=ROOT)
            print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)

    load = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"(1 / 5 / 15 min) before measuring")
    print(f"model={a.model} tile={a.tile} overlap={a.overlap} batch={a.batch_size} workers={a.workers} "
          f"blend={a.blend} compress={a.compress} malloc={'glibc defaults' if a.glibc_malloc else 'keep freed memory'}\n")
    if a.memory_cap is not None:
        if not cap_enforced(a.memory_cap):
            raise SystemExit(f"RLIMIT_DATA of {a.memory_cap} GiB is not enforced on this machine")
        print(f"every measurement under a hard RLIMIT_DATA of {a.memory_cap:g} GiB (checked: allocating "
              f"{a.memory_cap + 0.5:g} GiB under it fails with MemoryError)\n")
    rows = []
    for size in sorted(set(a.sizes)):
        cfg = {"size": size, "input": str(scene_paths(a.workdir, size)[0]), "target": str(scene_paths(a.workdir, size)[1]),
               "output": str(a.workdir / f"output_{size}.tif"), "model": a.model, "tile": a.tile,
               "overlap": a.overlap, "batch_size": a.batch_size, "workers": a.workers, "blend": a.blend,
               "compress": a.compress}
        r = _child(["--child", json.dumps(cfg), "--workdir", str(a.workdir)], a.memory_cap)
        rows.append(r)
        print(f"{size:>5}^2  {r['windows']:>5} windows | predict {r['predict_wps']:6.2f} win/s "
              f"(incl. Trainer start {r['predict_wall_wps']:6.2f}) | bare forward {r['bare_wps']:6.2f} win/s | "
              f"ratio {r['predict_wps'] / r['bare_wps']:.3f} | of the {r['predict_loop_s']:.1f} s loop: model "
              f"{r['in_loop_forward_s']:.1f} s, writer {r['writer_s']:.1f} s"
              f" | peak RSS {r['rss_peak_mb']:.0f} MB (before predict {r['rss_before_mb']:.0f}), "
              f"workers {r['rss_workers_mb']:.0f} MB, VmData at the end {r['vm_data_after_mb']:.0f} MB"
              + (f" (cap {r['rlimit_data_gb']:g} GiB)" if r.get("rlimit_data_gb") else ""), flush=True)
    base = rows[0]["rss_peak_mb"]
    print("\npeak RSS relative to the smallest scene: " +
          ", ".join(f"{r['size']}^2: {r['rss_peak_mb'] / base:.3f}x" for r in rows))
    print("predict path / bare forward: " +
          ", ".join(f"{r['size']}^2: {r['predict_wps'] / r['bare_wps']:.3f}x" for r in rows))
    if a.seams:
        size = min(a.sizes)
        cfg = {"size": size, "input": str(scene_paths(a.workdir, size)[0]), "target": str(scene_paths(a.workdir, size)[1]),
               "output": str(a.workdir / f"output_{size}.tif"), "model": a.model, "tile": a.tile,
               "overlap": a.overlap, "batch_size": a.batch_size, "workers": a.workers, "blend": a.blend,
               "seams": True}
        res = _child(["--child", json.dumps(cfg), "--workdir", str(a.workdir)])
        print(f"\nseams and scores on the {size}^2 scene (untrained {a.model}; PSNR/SSIM vs the balanced target):")
        for blend, v in res.items():
            print(f"  {blend:>7}: seam ratio {v['seam_ratio']:.3f}  PSNR {v['psnr']:.2f} dB  SSIM {v['ssim']:.4f}")
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


if __name__ == "__main__":
    main()
