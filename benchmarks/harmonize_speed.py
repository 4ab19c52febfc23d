"""Per-image speed of harmonize's steps (Xue 2025 (thesis), Table 4.7) and of C-Harmony, at 512 px short side.

Table 4.7 (Python 3.8, Xeon W-2133 @ 3.6 GHz, FiveK resized to 512 px on the short side): prototypes
7.532 s (once), palette extraction 0.397 s, colour matching 0.002 s, recolouring 0.147 s, 0.547 s per image
in all; C-Harmony: 37 s for the template and angle search, 0.5 s for the hue shift (§4.4.4).

Measured here on the embedded pictures (``semcolor.datamodules.embedded_photos``, 512 x 683) or on the images
of ``--folder`` (resized the same way): the median over images and repeats of

1. palette extraction (sRGB -> CIELAB of the palette copy, ab histogram, k-means for l = 2..7),
2. colour matching (naming the palette, nearest prototype of the allowed names),
3. recolouring (Eq. 4.1-4.2 at full size, CIELAB -> sRGB),
4. the whole ``harmonize()`` call (steps 1-3 plus the achromatic check),

and of C-Harmony's template search (``best_scheme``) and hue shift, plus the prototypes' one-off build.
Single-threaded, as the method runs (``harmonize`` limits torch / BLAS to one thread: several times faster
on a loaded 2-core machine than two contending threads).

    .venv/bin/python benchmarks/harmonize_speed.py [--images 8] [--repeats 3] [--folder DIR] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

PAPER = {"prototypes (once)": 7.532, "palette extraction": 0.397, "colour matching": 0.002,
         "recolouring": 0.147, "harmonize, whole per-image path": 0.547,
         "C-Harmony template search": 37.0, "C-Harmony hue shift": 0.5}


def _images(args: argparse.Namespace) -> list[np.ndarray]:
    from semcolor.datamodules.embedded_photos import EmbeddedPhotosDataModule
    from semcolor.datamodules.photos import ImageFolderDataModule

    dm = (ImageFolderDataModule(root=args.folder, short_side=args.short_side, limit=args.images) if args.folder
          else EmbeddedPhotosDataModule(scene_size=args.short_side, test_scenes=args.images))
    dm.setup("test")
    ds = dm.datasets["test"]
    return [(ds[i]["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for i in range(len(ds))]


def _time(fn, *a):
    t = time.perf_counter()
    out = fn(*a)
    return time.perf_counter() - t, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--short-side", type=int, default=512)
    parser.add_argument("--folder", default=None, help="images to time instead of the embedded pictures")
    parser.add_argument("--markdown", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)

    from semcolor.metrics.harmony import best_scheme, hue_saturation
    from semcolor.palettes.color import rgb_to_lab_np
    from semcolor.palettes.harmonize import HarmonizeSettings, extract_palette, harmonize, match_palette, recolor_image
    from semcolor.palettes.hue_templates import shift_hues
    from semcolor.palettes.pipeline import limit_threads
    from semcolor.palettes.prototypes import build_prototypes

    images = _images(args)
    s = HarmonizeSettings()
    t_proto, protos = _time(build_prototypes)
    times: dict[str, list[float]] = {k: [] for k in PAPER if k != "prototypes (once)"}
    harmonize(images[0], protos)  # warm-up (imports, first torch calls)
    for _ in range(args.repeats):
        for img in images:
            with limit_threads(1):
                t0 = time.perf_counter()
                lab = rgb_to_lab_np(img)
                pal = extract_palette(lab, s)
                t1 = time.perf_counter() - t0
                t2, (target, _) = _time(match_palette, pal.lab, protos, s)
                t3, _ = _time(recolor_image, img, pal.lab, target, s.eps, s.strip_rows, lab)
                x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
                hue, sat = (v[0] for v in hue_saturation(x))
                t5, scheme = _time(best_scheme, hue, sat)
                t6, _ = _time(shift_hues, hue.double(), scheme)
            t4, _ = _time(harmonize, img, protos)
            for key, t in zip(times, (t1, t2, t3, t4, t5, t6)):
                times[key].append(t)
    rows = [("prototypes (once)", t_proto)] + [(k, statistics.median(v)) for k, v in times.items()]
    h, w = images[0].shape[:2]
    lines = [(f"harmonize speed, {len(images)} images of {h} x {w}, {args.repeats} repeats, median seconds "
              f"(torch {torch.__version__}, 1 thread)"), "",
             "| step | here (s) | Table 4.7 / §4.4.4 (s, Xeon W-2133) |", "|---|---|---|"]
    lines += [f"| {k} | {v:.4f} | {PAPER[k]:g} |" for k, v in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
