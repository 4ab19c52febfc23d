"""Speed of the ch. 3 group recolouring (``palette``): seconds per 512-px image and per group of 10.

Xue 2025 (thesis), ch. 4 gives its palette pipeline 0.55 s per 512-px image on a desktop Xeon (ch. 3 gives
no timing); the target here is to be at or under that on this machine. The script builds a group of
``--images`` (10) 512 x 512 images (embedded scenes, each with its own colour cast: a strong cast on every
third image), then times :func:`semcolor.palettes.pipeline.recolor_group` on it, ``--reps`` times after one
warm-up, for every configuration (Nguyen's basic and "unassigned" frameworks, each module alone, all
together), and prints the median / min / max seconds per group and per image. Single-threaded by default
(the method's default, ``RecolorConfig.threads=1``); ``--threads 2`` lets torch/OpenMP use both cores.
It also prints the median time of the stages for one image (sRGB -> Lab, source palette, saliency map,
white balance, Eq. 4.1-4.2 recolouring, Lab -> sRGB).

    .venv/bin/python benchmarks/palette_speed.py [--images 10] [--size 512] [--reps 5] [--threads 1]

Measured (2026-12-07, this 2-core machine under a load of about 17 from other jobs, one thread, 3 runs):
Nguyen basic 3.28 s per group of 10 = 0.33 s per image, "unassigned" 0.33, + white balance 0.49,
+ saliency 0.38, + naming 0.35, + semantics 0.30, all modules (WB+S+CN) 5.28 s = 0.53 s per image.
Per image: source palette 0.21 s, white balance 0.13 s, sRGB -> Lab 0.04 s, Lab -> sRGB 0.03 s,
spectral residual 0.03 s, Eq. 4.1 recolouring 0.02 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from semcolor.datamodules.embedded import make_scene
from semcolor.datamodules.embedded_groups import cast_gains
from semcolor.palettes.color import lab_to_rgb_np, linear_to_srgb_np, rgb_to_lab_np, srgb_to_linear_np
from semcolor.palettes.kmeans import source_palette
from semcolor.palettes.pipeline import RecolorConfig, limit_threads, recolor_group
from semcolor.palettes.recolor import recolor_ab
from semcolor.palettes.saliency import spectral_residual
from semcolor.palettes.white_balance import auto_white_balance

CONFIGS = {
    "nguyen": RecolorConfig(),
    "nguyen_unassigned": RecolorConfig(unassigned_cost=25.0),
    "wb": RecolorConfig(white_balance="auto"),
    "saliency": RecolorConfig(grouping="saliency"),
    "naming": RecolorConfig(naming=True),
    "semantic": RecolorConfig(grouping="semantic"),
    "all (WB+S+CN)": RecolorConfig(white_balance="auto", grouping="saliency", naming=True),
}


def make_group(n: int, size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    images, labels = [], []
    for i in range(n):
        sc = make_scene(size, 100 + i)
        lin = srgb_to_linear_np(sc["target"]) * cast_gains(rng, strong=i % 3 == 0)
        images.append(np.round(linear_to_srgb_np(lin) * 255).astype(np.uint8))
        labels.append(sc["seg"].astype(np.int64))
    return images, labels


def timed(fn, reps: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    images, labels = make_group(args.images, args.size)
    print(f"group of {args.images} images of {args.size}x{args.size} px, {args.threads} thread(s), "
          f"median (min-max) of {args.reps} runs after a warm-up")
    print(f"{'config':<20} {'s / group':>22} {'s / image':>10}")
    for name, cfg in CONFIGS.items():
        cfg = RecolorConfig(**{**cfg.__dict__, "threads": args.threads})
        ts = timed(lambda cfg=cfg: recolor_group(images, cfg, labels=labels), args.reps)
        med = statistics.median(ts)
        print(f"{name:<20} {med:8.3f} ({min(ts):.3f}-{max(ts):.3f}) {med / args.images:10.3f}")
    img = images[0]
    with limit_threads(args.threads):
        lab = rgb_to_lab_np(img)
        pal = source_palette(lab)
        stages = {
            "sRGB -> Lab": lambda: rgb_to_lab_np(img),
            "source palette": lambda: source_palette(lab),
            "saliency (SR)": lambda: spectral_residual(img),
            "white balance": lambda: auto_white_balance(img),
            "recolour (Eq. 4.1)": lambda: recolor_ab(lab, pal.centers[:, 1:], pal.centers[:, 1:] + 3.0,
                                                     source_l=pal.centers[:, 0]),
            "Lab -> sRGB": lambda: lab_to_rgb_np(lab),
        }
        print("stages for one image (median s):")
        for name, fn in stages.items():
            print(f"  {name:<20} {statistics.median(timed(fn, args.reps)):.4f}")


if __name__ == "__main__":
    main()
