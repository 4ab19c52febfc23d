"""Tiny fake image groups in the layout of :mod:`semcolor.datamodules.image_groups` (seeded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_origin


@dataclass
class FakeGroups:
    root: Path
    groups: dict[str, list[Path]]


def _scene(rng: np.random.Generator, h: int, w: int, gains: np.ndarray) -> np.ndarray:
    """Three colour regions (sky / grass / a red object) with noise, times per-channel gains -> uint8."""
    img = np.empty((h, w, 3), np.float32)
    img[: h // 2] = [0.45, 0.6, 0.85]
    img[h // 2:] = [0.25, 0.55, 0.2]
    img[h // 2: h // 2 + h // 4, w // 3: w // 3 + w // 4] = [0.8, 0.15, 0.1]
    img = img * gains + rng.normal(0, 0.02, img.shape)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def make_fake_image_groups(root: str | Path, n_groups: int = 2, n_images: int = 3, seed: int = 0,
                           with_maps: bool = True, geotiff: bool = True) -> FakeGroups:
    """``root/group{g}/img{i}.{png,jpg,tif}``, images of different sizes, each with its own cast; with
    ``with_maps`` a ``saliency/`` map and a ``labels/`` class map (0 sky, 1 grass, 2 object) per image."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    groups: dict[str, list[Path]] = {}
    for g in range(n_groups):
        folder = root / f"group{g}"
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for i in range(n_images):
            h, w = 40 + 8 * i, 48 + 4 * g + 6 * i
            rgb = _scene(rng, h, w, rng.uniform(0.8, 1.2, 3).astype(np.float32))
            suffix = [".png", ".jpg", ".tif"][i % 3] if geotiff else [".png", ".jpg"][i % 2]
            path = folder / f"img{i}{suffix}"
            if suffix == ".tif":
                with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8",
                                   crs="EPSG:32631", transform=from_origin(500000 + 100 * g, 4600000, 10, 10)) as dst:
                    dst.write(rgb.transpose(2, 0, 1))
            else:
                Image.fromarray(rgb).save(path, **({"quality": 95} if suffix == ".jpg" else {}))
            files.append(path)
            if with_maps:
                (folder / "saliency").mkdir(exist_ok=True)
                (folder / "labels").mkdir(exist_ok=True)
                sal = np.zeros((h, w), np.uint8)
                sal[h // 2: h // 2 + h // 4, w // 3: w // 3 + w // 4] = 255
                Image.fromarray(sal).save(folder / "saliency" / f"img{i}.png")
                lbl = np.zeros((h, w), np.uint8)
                lbl[h // 2:] = 1
                lbl[h // 2: h // 2 + h // 4, w // 3: w // 3 + w // 4] = 2
                Image.fromarray(lbl, mode="L").save(folder / "labels" / f"img{i}.png")
        groups[folder.name] = files
    return FakeGroups(root, groups)


def cli_args(tmp: Path) -> list[str]:
    """CLI arguments pointing the ``groups`` DataModule at a fresh fake copy."""
    return [f"--data.init_args.root={make_fake_image_groups(tmp / 'groups').root}"]
