"""Colour prototypes per colour name (Xue 2025 (thesis), §4.3.1), computed once and cached on disk.

"We first run the color-naming model for the possible values in the whole sRGB color space ... with a 8 x 8
grid. In this way, the color space is divided into 11 different parts, one per color term. Then, k-means
clustering is applied to these color values at each part, resulting in n distinct partitions per color
name ... we select a basic 10 colors for each term ... 'green', 'blue' and 'purple' have the highest counts,
so we add an extra 5 colors for each of these 3 color names. Additionally, to ensure consistency in human
skin tones in portraits, we also add 5 more colors for 'red' and 'pink' ... we select the color with the
highest saturation in the cluster as the candidate color for the prototype." (l.1099-1103)

Read here as:

* The grid: 32 levels per channel, ``round(k * 255 / 31)`` = 0, 8, 16, 25, ..., 247, 255 (steps of 8 or 9),
  i.e. one point per bin of the 32^3 colour-naming table (van de Weijer et al. 2009's bins are 8 levels
  wide) with both ends of [0, 255] included. 32 768 colours; their argmax names split green 9269, blue 6895,
  purple 5116 ... black 366 (the "green, blue, purple have the highest counts" of the text).
* Clusters per term: ``n`` (10), plus ``extra`` (5) for the largest terms ``extra_terms`` (green, blue,
  purple) and for the skin-tone terms ``skin_terms`` (red, pink): 6 x 10 + 5 x 15 = 135 prototypes for the
  default "10+5" of Table 4.3. Its other rows are ``n`` = 5 / 10 / 15 / 20 / 50 with ``extra=0``.
* k-means (:func:`semcolor.palettes.kmeans.weighted_kmeans`, unit weights, seeded) in sRGB (``space="rgb"``,
  the default) or in CIELAB ab (``space="ab"``, Table 4.6's "Lab (ab)" clustering).
* "Highest saturation": HSV saturation (max - min) / max of the 8-bit colour, the saturation the harmony
  metrics use; ties go to the larger CIELAB chroma, then the lattice order.

The result (sRGB and CIELAB of every prototype, its term) is cached as
``$SEMCOLOR_DATA/cache/prototypes/<key>.npz`` (default ``./data``), ``key`` a hash of the settings and the
naming table; a missing, unreadable or inconsistent file is rebuilt (written atomically).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from semcolor.palettes.color import rgb_to_lab_np
from semcolor.palettes.kmeans import weighted_kmeans
from semcolor.palettes.naming import TERMS, ColorNamingModel, default_naming_model
from semcolor.palettes.pipeline import limit_threads

__all__ = [
    "CACHE_VERSION",
    "EXTRA_TERMS",
    "SKIN_TERMS",
    "PrototypeSettings",
    "Prototypes",
    "build_prototypes",
    "cache_dir",
    "lattice",
    "load_prototypes",
]

#: the three terms with the most lattice colours (l.1101)
EXTRA_TERMS: tuple[str, ...] = ("green", "blue", "purple")
#: the terms given 5 more colours for skin tones (l.1101)
SKIN_TERMS: tuple[str, ...] = ("red", "pink")
#: bump when the construction changes, so older cache files are not reused
CACHE_VERSION = 1


@dataclass(frozen=True)
class PrototypeSettings:
    """How the prototypes are built (the Table 4.3 / 4.6 ablations).

    Args:
        n: clusters per term.
        extra: additional clusters for ``extra_terms`` and ``skin_terms``.
        extra_terms, skin_terms: names from :data:`~semcolor.palettes.naming.TERMS`.
        space: clustering space, ``"rgb"`` or ``"ab"`` (CIELAB a, b).
        seed: k-means seed.
    """

    n: int = 10
    extra: int = 5
    extra_terms: tuple[str, ...] = EXTRA_TERMS
    skin_terms: tuple[str, ...] = SKIN_TERMS
    space: str = "rgb"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1 or self.extra < 0:
            raise ValueError(f"prototypes: need n >= 1 and extra >= 0, got n={self.n}, extra={self.extra}")
        unknown = set(self.extra_terms) | set(self.skin_terms)
        unknown -= set(TERMS)
        if unknown:
            raise ValueError(f"prototypes: unknown colour term(s) {sorted(unknown)}; terms: {', '.join(TERMS)}")
        if self.space not in ("rgb", "ab"):
            raise ValueError(f"prototypes: space must be 'rgb' or 'ab', got {self.space!r}")
        object.__setattr__(self, "extra_terms", tuple(self.extra_terms))
        object.__setattr__(self, "skin_terms", tuple(self.skin_terms))

    def clusters(self, term: str) -> int:
        """Number of prototypes of ``term``."""
        return self.n + (self.extra if term in self.extra_terms or term in self.skin_terms else 0)


@dataclass
class Prototypes:
    """Prototype colours: ``rgb`` ``(K, 3)`` uint8, ``lab`` ``(K, 3)`` float32, ``terms`` ``(K,)`` indices into TERMS."""

    rgb: np.ndarray
    lab: np.ndarray
    terms: np.ndarray
    settings: PrototypeSettings = field(default_factory=PrototypeSettings)

    def __len__(self) -> int:
        return len(self.rgb)

    def of_terms(self, terms: np.ndarray | list[int]) -> np.ndarray:
        """Indices of the prototypes whose term is one of ``terms``."""
        return np.nonzero(np.isin(self.terms, np.asarray(terms)))[0]

    def counts(self) -> dict[str, int]:
        return {t: int((self.terms == i).sum()) for i, t in enumerate(TERMS)}


def lattice() -> np.ndarray:
    """The 32^3 sRGB grid ``(32768, 3)`` uint8, levels ``round(k * 255 / 31)``, R fastest (the table's row order)."""
    levels = np.round(np.arange(32) * 255.0 / 31.0).astype(np.uint8)
    b, g, r = np.meshgrid(levels, levels, levels, indexing="ij")
    return np.stack([r.ravel(), g.ravel(), b.ravel()], 1)


def _hsv_saturation(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    mx, mn = rgb.max(1), rgb.min(1)
    return np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-12), 0.0)


def build_prototypes(settings: PrototypeSettings | None = None, model: ColorNamingModel | None = None) -> Prototypes:
    """Name the lattice, cluster each name's region, keep the most saturated colour of each cluster (§4.3.1)."""
    settings = settings or PrototypeSettings()
    model = model or default_naming_model()
    grid = lattice()
    names = model.name(grid)
    lab = rgb_to_lab_np(grid)
    sat = _hsv_saturation(grid)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    rgb_out, term_out = [], []
    with limit_threads(1):  # scikit-learn's k-means: one thread is 5-15x faster on a shared 2-core machine
        for t, term in enumerate(TERMS):
            _cluster_term(t, term, names, grid, lab, sat, chroma, settings, rgb_out, term_out)
    rgb = np.asarray(rgb_out, np.uint8)
    return Prototypes(rgb, rgb_to_lab_np(rgb).astype(np.float32), np.asarray(term_out, np.int64), settings)


def _cluster_term(t: int, term: str, names: np.ndarray, grid: np.ndarray, lab: np.ndarray, sat: np.ndarray,
                  chroma: np.ndarray, settings: PrototypeSettings, rgb_out: list, term_out: list) -> None:
    """k-means of one term's lattice colours; the most saturated member of each cluster is appended."""
    members = np.nonzero(names == t)[0]
    if len(members) == 0:
        return
    points = grid[members].astype(np.float64) if settings.space == "rgb" else lab[members, 1:].astype(np.float64)
    centres, _ = weighted_kmeans(points, np.ones(len(members)), settings.clusters(term), seed=settings.seed)
    assign = np.argmin(((points[:, None, :] - centres[None].astype(np.float64)) ** 2).sum(-1), axis=1)
    for c in range(len(centres)):
        inside = members[assign == c]
        if len(inside):
            rgb_out.append(grid[inside[np.lexsort((-chroma[inside], -sat[inside]))[0]]])
            term_out.append(t)


def cache_dir() -> Path:
    """``$SEMCOLOR_DATA/cache/prototypes`` (``SEMCOLOR_DATA`` defaults to ``./data``)."""
    return Path(os.environ.get("SEMCOLOR_DATA", "data")) / "cache" / "prototypes"


def _key(settings: PrototypeSettings, model: ColorNamingModel) -> str:
    h = hashlib.sha256(repr((CACHE_VERSION, sorted(asdict(settings).items()))).encode())
    h.update(np.ascontiguousarray(model.table).tobytes())
    return h.hexdigest()[:16]


def _read(path: Path, settings: PrototypeSettings, key: str) -> Prototypes | None:
    try:
        with np.load(path) as z:
            if str(z["key"]) != key:
                return None
            rgb, lab, terms = z["rgb"], z["lab"], z["terms"]
    except Exception:  # noqa: BLE001 - missing, truncated, not an npz, missing arrays: rebuild
        return None
    ok = (rgb.ndim == 2 and rgb.shape[1] == 3 and rgb.dtype == np.uint8 and lab.shape == rgb.shape
          and terms.shape == (len(rgb),) and len(rgb) > 0 and np.isfinite(lab).all()
          and terms.min() >= 0 and terms.max() < len(TERMS))
    return Prototypes(rgb, lab.astype(np.float32), terms.astype(np.int64), settings) if ok else None


def load_prototypes(settings: PrototypeSettings | None = None, model: ColorNamingModel | None = None,
                    cache: Path | str | None | bool = None) -> Prototypes:
    """The prototypes for ``settings``, from the cache when a valid file is there, else built and cached.

    ``cache``: a folder, ``None`` for :func:`cache_dir`, or ``False`` to neither read nor write a file."""
    settings = settings or PrototypeSettings()
    model = model or default_naming_model()
    if cache is False:
        return build_prototypes(settings, model)
    folder = Path(cache) if cache not in (None, True) else cache_dir()
    key = _key(settings, model)
    path = folder / f"prototypes-{key}.npz"
    found = _read(path, settings, key)
    if found is not None:
        return found
    protos = build_prototypes(settings, model)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(key), rgb=protos.rgb, lab=protos.lab, terms=protos.terms)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return protos
