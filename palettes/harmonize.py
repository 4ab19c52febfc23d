"""Palette-based colour harmonisation via colour naming (Xue 2025 (thesis), §4.3.2-4.3.4).

One image is recoloured towards a more saturated palette whose colours keep their names:

1. Palette (§4.3.2): k-means of the image's CIELAB **ab** histogram (bins of ``bin_size`` units, each bin one
   point at its mean ab, weighted by its pixel count; :func:`semcolor.palettes.kmeans.weighted_kmeans`), the
   number of colours l in 2..7 chosen by the explained variance: the smallest l with
   (d_1 - d_l) / d_1 > gamma = 0.93, d_l the within-group distortion (squared ab distances to the centres,
   count-weighted), d_1 the total one (to the mean). The printed rule "(d_1 - d_1) / (d_1 - d_2) > gamma"
   lost its subscripts; this is the reading that matches ch. 3's ratio test. When no l reaches it, l = 7.
   A palette colour's L (needed to name it in sRGB) is the count-weighted mean L of its pixels.
2. Matching (§4.3.3): the palette colour in sRGB is named (:class:`~semcolor.palettes.naming.ColorNamingModel`,
   van de Weijer et al. 2009); the candidates are the prototypes (:mod:`semcolor.palettes.prototypes`) of every
   term among its ``top_k`` (3) most likely with probability > ``min_prob`` (15 %) -- when none passes, its
   most likely term --, and the target is the nearest candidate. Similarities (Table 4.4): ``"euclidean"``
   (RGB distance, the default), ``"angular"`` (angle between the RGB vectors, Finlayson & Zakizadeh's
   reproduction angular error) or ``"probability"`` (cross-entropy of the 11-term distributions);
   ``space="ab"`` measures the Euclidean / angular distance in CIELAB ab instead (Table 4.6's "search Lab (ab)").
3. Recolouring (§4.3.4): Eq. 4.1-4.2 by :func:`semcolor.palettes.recolor.recolor_ab` (its docstring gives the
   reading of the printed equations), eps = 1e-4, on ab only; L is kept (§4.5).

Bounded memory: the palette is extracted from a copy resized so that its short side is at most
``palette_side`` (512 px, the resolution the thesis works at), and the full image is recoloured in strips
of rows, so memory grows with the image width, not its area. An achromatic image (every pixel R = G = B,
e.g. a grayscale file) has no hue to harmonise and is returned unchanged (``HarmonizeResult.passed_through``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from semcolor.palettes.color import lab_to_rgb_np, rgb_to_lab_np, to_unit_rgb
from semcolor.palettes.kmeans import weighted_kmeans
from semcolor.palettes.naming import TERMS, ColorNamingModel, default_naming_model
from semcolor.palettes.pipeline import limit_threads
from semcolor.palettes.prototypes import Prototypes
from semcolor.palettes.recolor import recolor_ab

__all__ = [
    "SIMILARITIES",
    "HarmonizeResult",
    "HarmonizeSettings",
    "HarmonyPalette",
    "ab_histogram",
    "candidate_terms",
    "extract_palette",
    "harmonize",
    "is_achromatic",
    "match_palette",
    "recolor_image",
]

SIMILARITIES = ("euclidean", "angular", "probability")


@dataclass(frozen=True)
class HarmonizeSettings:
    """Options of the per-image path (Tables 4.3, 4.4, 4.6 ablate ``top_k``, ``similarity``, ``space``).

    Args:
        k_range: smallest and largest palette size (2, 7).
        gamma: explained-variance threshold (0.93).
        bin_size: ab histogram bin side (CIELAB units; not stated in the thesis).
        top_k: how many of the most likely names give candidates (3; Table 4.3's top1 / top2 / top3).
        min_prob: a name gives candidates only above this probability (0.15).
        similarity: ``"euclidean"``, ``"angular"`` or ``"probability"``.
        space: matching space of the distances, ``"rgb"`` or ``"ab"``.
        eps: Eq. 4.2's epsilon.
        palette_side: short side of the copy the palette is extracted from (larger images are resized).
        strip_rows: rows recoloured at a time at full size.
        seed: k-means seed.
    """

    k_range: tuple[int, int] = (2, 7)
    gamma: float = 0.93
    bin_size: float = 2.0
    top_k: int = 3
    min_prob: float = 0.15
    similarity: str = "euclidean"
    space: str = "rgb"
    eps: float = 1e-4
    palette_side: int = 512
    strip_rows: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        lo, hi = self.k_range
        if not 1 <= lo <= hi:
            raise ValueError(f"harmonize: k_range must be (lo, hi) with 1 <= lo <= hi, got {self.k_range}")
        if not 0 < self.gamma < 1 or self.bin_size <= 0 or self.top_k < 1 or not 0 <= self.min_prob < 1:
            raise ValueError("harmonize: need 0 < gamma < 1, bin_size > 0, top_k >= 1 and 0 <= min_prob < 1")
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"harmonize: similarity must be one of {SIMILARITIES}, got {self.similarity!r}")
        if self.space not in ("rgb", "ab"):
            raise ValueError(f"harmonize: space must be 'rgb' or 'ab', got {self.space!r}")
        if self.palette_side < 16 or self.strip_rows < 1:
            raise ValueError("harmonize: palette_side must be >= 16 and strip_rows >= 1")
        object.__setattr__(self, "k_range", (int(lo), int(hi)))


@dataclass
class HarmonyPalette:
    """Source palette: ``lab`` ``(l, 3)`` (ab = cluster centres, L = mean L of their pixels) and pixel ``shares``."""

    lab: np.ndarray
    shares: np.ndarray

    def __len__(self) -> int:
        return len(self.lab)


@dataclass
class HarmonizeResult:
    """Output image (same shape and value kind as the input) and what produced it."""

    image: np.ndarray
    source: HarmonyPalette | None = None
    target_lab: np.ndarray | None = None
    target_terms: list[str] = field(default_factory=list)
    passed_through: bool = False


def ab_histogram(lab: np.ndarray, bin_size: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupied ab bins of a CIELAB image ``(..., 3)``: ``(mean ab (n, 2), counts (n,), mean L (n,))``."""
    flat = np.asarray(lab, np.float32).reshape(-1, 3)
    n = int(np.ceil(256.0 / bin_size)) + 1
    ia = np.clip(((flat[:, 1] + 128.0) / bin_size).astype(np.int64), 0, n - 1)
    ib = np.clip(((flat[:, 2] + 128.0) / bin_size).astype(np.int64), 0, n - 1)
    code = ia * n + ib
    counts = np.bincount(code, minlength=n * n).astype(np.float64)
    occupied = np.nonzero(counts)[0]
    sums = np.stack([np.bincount(code, weights=flat[:, c], minlength=n * n)[occupied] for c in range(3)], 1)
    means = sums / counts[occupied, None]
    return means[:, 1:], counts[occupied], means[:, 0]


def _distortion(points: np.ndarray, weights: np.ndarray, centres: np.ndarray) -> tuple[float, np.ndarray]:
    d2 = ((points[:, None, :] - centres[None, :, :].astype(np.float64)) ** 2).sum(-1)
    labels = d2.argmin(1)
    return float((weights * d2[np.arange(len(points)), labels]).sum()), labels


def extract_palette(lab: np.ndarray, settings: HarmonizeSettings | None = None) -> HarmonyPalette:
    """The source palette of a CIELAB image ``(H, W, 3)`` (§4.3.2, module docstring)."""
    s = settings or HarmonizeSettings()
    ab, counts, mean_l = ab_histogram(lab, s.bin_size)
    ab = ab.astype(np.float64)
    mean = np.average(ab, axis=0, weights=counts)
    d_1 = float((counts * ((ab - mean) ** 2).sum(1)).sum())
    chosen = None
    with limit_threads(1):
        for k in range(s.k_range[0], s.k_range[1] + 1):
            centres, _ = weighted_kmeans(ab, counts, k, seed=s.seed)
            d_k, labels = _distortion(ab, counts, centres)
            chosen = (centres, labels)
            if d_1 <= 0 or (d_1 - d_k) / d_1 > s.gamma or len(centres) < k:
                break
    centres, labels = chosen
    weight = np.bincount(labels, weights=counts, minlength=len(centres))
    light = np.bincount(labels, weights=counts * mean_l, minlength=len(centres)) / np.maximum(weight, 1e-12)
    palette = np.concatenate([light[:, None], centres.astype(np.float64)], 1)
    keep = weight > 0
    return HarmonyPalette(palette[keep].astype(np.float32), (weight[keep] / weight.sum()).astype(np.float32))


def candidate_terms(probs: np.ndarray, top_k: int = 3, min_prob: float = 0.15) -> np.ndarray:
    """Term indices giving candidates for one colour's 11 probabilities: its ``top_k`` most likely names
    above ``min_prob``, or its most likely name when none is above."""
    order = np.argsort(-probs, kind="stable")[:top_k]
    keep = order[probs[order] > min_prob]
    return keep if len(keep) else order[:1]


def _distances(src_rgb: np.ndarray, src_lab: np.ndarray, src_prob: np.ndarray, protos: Prototypes,
               idx: np.ndarray, model: ColorNamingModel, s: HarmonizeSettings) -> np.ndarray:
    if s.similarity == "probability":
        p = model.probabilities(protos.rgb[idx]).astype(np.float64)
        return -(src_prob[None, :] * np.log(p + 1e-12)).sum(1)
    if s.space == "rgb":
        a, b = src_rgb * 255.0, protos.rgb[idx].astype(np.float64)
    else:
        a, b = src_lab[1:].astype(np.float64), protos.lab[idx, 1:].astype(np.float64)
    if s.similarity == "euclidean":
        return np.linalg.norm(b - a[None], axis=1)
    cos = (b @ a) / np.maximum(np.linalg.norm(b, axis=1) * np.linalg.norm(a), 1e-12)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def match_palette(palette_lab: np.ndarray, protos: Prototypes, settings: HarmonizeSettings | None = None,
                  model: ColorNamingModel | None = None) -> tuple[np.ndarray, list[str]]:
    """Target colours ``(l, 3)`` CIELAB for source palette colours ``(l, 3)`` (§4.3.3), and each target's term."""
    s = settings or HarmonizeSettings()
    model = model or default_naming_model()
    src_lab = np.asarray(palette_lab, np.float32).reshape(-1, 3)
    src_rgb = lab_to_rgb_np(src_lab).astype(np.float64)
    probs = model.probabilities(src_rgb).astype(np.float64)
    targets, terms = [], []
    for c in range(len(src_lab)):
        idx = protos.of_terms(candidate_terms(probs[c], s.top_k, s.min_prob))
        if len(idx) == 0:  # a term with no prototype (cannot happen with the default table): keep the colour
            targets.append(src_lab[c])
            terms.append(TERMS[int(probs[c].argmax())])
            continue
        best = idx[int(np.argmin(_distances(src_rgb[c], src_lab[c], probs[c], protos, idx, model, s)))]
        targets.append(protos.lab[best])
        terms.append(TERMS[int(protos.terms[best])])
    return np.asarray(targets, np.float32).reshape(-1, 3), terms


def recolor_image(rgb: np.ndarray, source_lab: np.ndarray, target_lab: np.ndarray, eps: float = 1e-4,
                  strip_rows: int = 256, lab: np.ndarray | None = None) -> np.ndarray:
    """Eq. 4.1-4.2 on a full-size sRGB image ``(H, W, 3)`` (uint8 or float in [0, 1]), strip by strip;
    returns float32 sRGB in [0, 1]. ``lab``: the image's CIELAB when already computed (then one pass)."""
    src_ab, tgt_ab = np.asarray(source_lab)[:, 1:], np.asarray(target_lab)[:, 1:]
    if lab is not None:
        return lab_to_rgb_np(recolor_ab(lab, src_ab, tgt_ab, eps))
    out = np.empty(rgb.shape, np.float32)
    for top in range(0, rgb.shape[0], strip_rows):
        strip = rgb_to_lab_np(rgb[top: top + strip_rows])
        out[top: top + strip_rows] = lab_to_rgb_np(recolor_ab(strip, src_ab, tgt_ab, eps))
    return out


def is_achromatic(rgb: np.ndarray, tol: float = 1.0 / 255) -> bool:
    """True when every pixel has R = G = B (within ``tol``; inputs uint8 or float in [0, 1])."""
    x = np.asarray(rgb)
    if x.dtype == np.uint8:
        return not (np.any(x[..., 0] != x[..., 1]) or np.any(x[..., 1] != x[..., 2]))
    r, g, b = (x[..., c].astype(np.float32) for c in range(3))
    return not (np.any(np.abs(r - g) > tol) or np.any(np.abs(g - b) > tol))


def _palette_copy(rgb: np.ndarray, side: int) -> np.ndarray:
    short = min(rgb.shape[:2])
    if short <= side:
        return rgb
    from PIL import Image

    h, w = rgb.shape[:2]
    size = (max(1, round(w * side / short)), max(1, round(h * side / short)))
    img = Image.fromarray(np.asarray(rgb if rgb.dtype == np.uint8 else np.rint(to_unit_rgb(rgb) * 255), np.uint8))
    return np.asarray(img.resize(size, Image.BILINEAR, reducing_gap=3.0))


def harmonize(rgb: np.ndarray, protos: Prototypes, settings: HarmonizeSettings | None = None,
              model: ColorNamingModel | None = None) -> HarmonizeResult:
    """Harmonise one sRGB image ``(H, W, 3)`` (uint8, or float in [0, 1]); the input is not modified.

    Returns float32 RGB in [0, 1] (:class:`HarmonizeResult`); an achromatic image comes back unchanged."""
    s = settings or HarmonizeSettings()
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"harmonize takes an RGB image (H, W, 3), got shape {rgb.shape}")
    if is_achromatic(rgb):
        return HarmonizeResult(to_unit_rgb(rgb).copy(), passed_through=True)
    with limit_threads(1):  # torch / BLAS threads: one is several times faster on a loaded 2-core machine
        small = _palette_copy(rgb, s.palette_side)
        lab = rgb_to_lab_np(small)
        palette = extract_palette(lab, s)
        target, terms = match_palette(palette.lab, protos, s, model)
        out = recolor_image(rgb, palette.lab, target, s.eps, s.strip_rows, lab if small is rgb else None)
    return HarmonizeResult(out, palette, target, terms)
