"""Generated textures: the embedded default of ``burstsr`` (no download), a stand-in for DTD.

Xue 2025 (thesis), Sec. 5.5.1 trains on DTD's textures; this module makes DTD-like ones procedurally --
stripes, checks, dots, Voronoi cells, marble, zigzags and 1/f fractal noise, in two or three random colours,
with fine grain -- so that ``make train METHOD=burstsr`` runs with no data. Each image depends only on
``(seed, split, index)``; a split is generated once (a few seconds) and cached, like the embedded
land-cover scenes (:mod:`semcolor.datamodules.embedded`), under
``$SEMCOLOR_DATA/textures/v<version>-s<size>-seed<seed>-<hash>/<split>.npz`` (uint8 ``images`` ``(N, S, S, 3)``
and ``families`` ``(N,)``), written atomically; an unreadable cache file is regenerated with a warning.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np

from semcolor.datamodules.base import SPLITS
from semcolor.datamodules.burst_data import BurstDataModule, ImageLoader
from semcolor.datamodules.embedded import _atomic_write, default_root  # the one cache writer of generated data
from semcolor.errors import CorruptFileError, SemcolorError
from semcolor.registry import DATASETS

__all__ = ["FAMILIES", "GENERATOR_VERSION", "TexturesDataModule", "generate_texture", "load_textures"]

GENERATOR_VERSION = 1
FAMILIES = ("stripes", "checks", "dots", "cells", "marble", "zigzag", "fractal")


def _fractal(rng: np.random.Generator, size: int, beta: float) -> np.ndarray:
    """1/f^beta noise, normalised to [0, 1]."""
    f = np.fft.fftfreq(size)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    radius[0, 0] = 1.0
    spectrum = (rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))) / radius ** (beta / 2)
    spectrum[0, 0] = 0.0
    field = np.real(np.fft.ifft2(spectrum))
    return (field - field.min()) / (np.ptp(field) + 1e-12)


def _pattern(family: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A pattern in [0, 1], ``(size, size)``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    period = rng.uniform(5, 24)
    sharp = rng.uniform(2, 12)
    if family == "stripes":
        p = np.tanh(sharp * np.sin(2 * np.pi * u / period))
    elif family == "checks":
        p = np.tanh(sharp * np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / (period * rng.uniform(0.7, 1.4))))
    elif family == "dots":
        du = (u / period) % 1 - 0.5
        dv = (v / period) % 1 - 0.5
        p = np.tanh(sharp * (rng.uniform(0.2, 0.4) - np.sqrt(du**2 + dv**2)) * 4)
    elif family == "cells":
        n = int(rng.integers(12, 60))
        pts = rng.uniform(0, size, (n, 2))
        d = np.sqrt((xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2)
        shade = rng.uniform(0.3, 1, n)[np.argmin(d, axis=-1)]  # one tone per cell
        d.sort(axis=-1)
        p = shade * np.clip((d[..., 1] - d[..., 0]) / rng.uniform(1.5, 4), 0, 1)  # dark cell borders
    elif family == "marble":
        turb = _fractal(rng, size, rng.uniform(2.0, 3.0))
        p = np.sin(2 * np.pi * u / (period * 2) + rng.uniform(4, 12) * turb)
    elif family == "zigzag":
        tri = 2 * np.abs((v / period) % 1 - 0.5)
        p = np.tanh(sharp * np.sin(2 * np.pi * (u + tri * period * rng.uniform(0.5, 1.5)) / period))
    elif family == "fractal":
        p = np.tanh(4 * (_fractal(rng, size, rng.uniform(1.2, 2.2)) - 0.5))
    else:
        raise ValueError(f"unknown texture family {family!r}; choose from {FAMILIES}")
    return (p - p.min()) / (np.ptp(p) + 1e-12)


def generate_texture(size: int, seed: int | np.random.SeedSequence, family: str | None = None) -> tuple[np.ndarray, int]:
    """One texture, uint8 ``(size, size, 3)``, and its family index (random when ``family`` is None)."""
    rng = np.random.default_rng(seed)
    index = int(rng.integers(len(FAMILIES))) if family is None else FAMILIES.index(family)
    p = _pattern(FAMILIES[index], rng, size)
    colors = rng.uniform(0.05, 0.95, (3, 3))
    colors[1] = np.clip(1 - colors[0] + rng.normal(0, 0.15, 3), 0.05, 0.95)  # the pattern's pair contrasts
    second = _fractal(rng, size, 2.5)  # slow variation between a third colour and the pattern's pair
    rgb = (colors[0] * (1 - p[..., None]) + colors[1] * p[..., None]) * (1 - 0.4 * second[..., None]) \
        + colors[2] * 0.4 * second[..., None]
    grain = (_fractal(rng, size, 0.5) - 0.5) * rng.uniform(0.02, 0.12)
    rgb = np.clip(rgb + grain[..., None], 0, 1)
    return np.round(rgb * 255).astype(np.uint8), index


def _cache_dir(root: str | Path | None, size: int, counts: dict[str, int], seed: int) -> Path:
    params = {"version": GENERATOR_VERSION, "size": size, "counts": counts, "seed": seed}
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    base = Path(root).expanduser() if root is not None else default_root()
    return base / "textures" / f"v{GENERATOR_VERSION}-s{size}-seed{seed}-{digest}"


def load_textures(root: str | Path | None, split: str, size: int, counts: dict[str, int], seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``images`` uint8 ``(N, S, S, 3)`` and ``families`` ``(N,)`` of a split, generated and cached on first use."""
    directory = _cache_dir(root, size, counts, seed)
    path = directory / f"{split}.npz"
    n = counts[split]
    expected = f"a texture cache of {n} images of {size}x{size}x3 uint8"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                images, families = z["images"], z["families"]
            if images.shape != (n, size, size, 3) or images.dtype != np.uint8 or families.shape != (n,):
                raise CorruptFileError(path, expected, f"images {images.shape} {images.dtype}")
            return images, families
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            warnings.warn(f"{CorruptFileError(path, expected, exc)}; regenerating it", stacklevel=2)
    made = [generate_texture(size, np.random.SeedSequence([seed, SPLITS.index(split), i])) for i in range(n)]
    images = np.stack([m[0] for m in made]) if made else np.zeros((0, size, size, 3), np.uint8)
    families = np.array([m[1] for m in made], dtype=np.int64)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, lambda f: np.savez(f, images=images, families=families))
    except OSError as exc:
        raise SemcolorError(f"cannot write the texture cache under '{directory}' ({exc}); pass "
                            "data.init_args.root or set SEMCOLOR_DATA to a writable folder") from exc
    return images, families


@DATASETS.register("textures")
class TexturesDataModule(BurstDataModule):
    """Generated textures as burst super-resolution data (the embedded default of ``burstsr``).

    Args:
        root: data root (None: ``$SEMCOLOR_DATA`` or ``./data``).
        scene_size: side of each generated texture (160: the 128 HR crop plus room for the shake); the
            argument names are those of the embedded land-cover data, so the same overrides apply.
        train_scenes, val_scenes, test_scenes: textures per split.
        **kwargs: the burst degradation and loader options of :class:`BurstDataModule`.
    """

    def __init__(self, root: str | None = None, scene_size: int = 160, train_scenes: int = 256,
                 val_scenes: int = 32, test_scenes: int = 32, **kwargs) -> None:
        super().__init__(**kwargs)
        if scene_size < self.degradation["crop_size"]:
            raise SemcolorError(f"textures: scene_size {scene_size} is smaller than the HR crop "
                                f"crop_size={self.degradation['crop_size']}")
        self.counts = {"train": train_scenes, "val": val_scenes, "test": test_scenes}
        if any(n < 1 for n in self.counts.values()):
            raise SemcolorError(f"textures: every split needs at least one texture, got {self.counts}")
        self.root, self.scene_size = root, scene_size
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.save_hyperparameters()

    def prepare_data(self) -> None:
        for split in SPLITS:
            load_textures(self.root, split, self.scene_size, self.counts, self.seed)

    def image_source(self, split: str) -> tuple[ImageLoader, int]:
        if split not in self._arrays:
            self._arrays[split] = load_textures(self.root, split, self.scene_size, self.counts, self.seed)
        images, families = self._arrays[split]

        def load(i: int) -> tuple[np.ndarray, str, int]:
            return images[i], f"{split}_{FAMILIES[families[i]]}_{i:04d}", int(families[i])

        return load, len(images)
