"""Consistent multi-image recolouring with high-level features: the whole pipeline of Xue 2025 (thesis), ch. 3.

Fig. 3.2: (0) optional white balance (§3.3.2, Eq. 3.1); (1) a source palette per image (§3.3.1); (2) the
source palettes split into sub-palettes by saliency (§3.3.3, Eq. 3.2, both matching modes) or by semantic
class (§3.4.2), one group palette per category, source -> group matching (Nguyen et al. 2017 basic or
"unassigned", :mod:`semcolor.palettes.group`), matches with different colour names dropped (§3.3.4,
Eq. 3.3); (3) every image recoloured from its source -> target palette by Eq. 4.1-4.2
(:func:`semcolor.palettes.recolor.recolor_ab`; unmatched colours keep their colour).

:class:`RecolorConfig` holds every switch; Nguyen et al.'s basic framework is the default config (all
modules off), its "unassigned" variant ``unassigned_cost=25``, and the thesis's modules are added on top
of the basic framework (§3.4.1: "our framework adds three modules to the basic framework").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from semcolor.palettes.color import lab_to_rgb_np, rgb_to_lab_np, to_unit_rgb
from semcolor.palettes.group import REDUCTION_PENALTY, automatic_group_size, group_palette
from semcolor.palettes.kmeans import K_RANGE, RATIO, Palette, source_palette
from semcolor.palettes.naming import D_NAME, ColorNamingModel, default_naming_model
from semcolor.palettes.recolor import recolor_ab
from semcolor.palettes.saliency import GAMMA, SaliencySource, categorize_colors, spectral_residual
from semcolor.palettes.white_balance import D_WB, WhiteBalancer, auto_white_balance

__all__ = ["RecolorConfig", "GroupResult", "recolor_group", "limit_threads", "WHITE_BALANCE_MODES", "GROUPINGS", "SALIENCY_MODES"]

WHITE_BALANCE_MODES = ("off", "auto", "all")
GROUPINGS = ("none", "saliency", "semantic")
SALIENCY_MODES = ("both", "non_salient")


@dataclass(frozen=True)
class RecolorConfig:
    """Every setting of :func:`recolor_group` (defaults: Nguyen et al.'s basic framework, thesis constants).

    Args:
        white_balance: ``"off"``, ``"auto"`` (Eq. 3.1: keep the correction where it changes the image by more
            than ``d_wb`` mean Delta E76) or ``"all"`` (the manual mode with every image selected).
        wb_method: the estimator (:class:`~semcolor.palettes.white_balance.WhiteBalancer`).
        d_wb: Eq. 3.1's threshold (20).
        grouping: ``"none"``, ``"saliency"`` (Eq. 3.2) or ``"semantic"`` (per class of the label maps).
        saliency_mode: ``"both"`` (salient and non-salient colours matched to their own group palettes) or
            ``"non_salient"`` (salient colours left as they are).
        gamma: Eq. 3.2's saliency threshold (0.9).
        naming: apply the colour-naming association (Eq. 3.3).
        d_name: Eq. 3.3's threshold (0.8).
        unassigned_cost: None for Nguyen's basic framework; a CIELAB distance for its "unassigned" version.
        reduction_penalty: the palette-reduction term (:mod:`semcolor.palettes.group`).
        group_size: group palette size per category; None: the mean source (sub-)palette size.
        k_range, ratio, bin_size: the source palettes (:func:`~semcolor.palettes.kmeans.source_palette`).
        weights_in_lab: Eq. 4.2's distances in full CIELAB (True) or in ab (False).
        ignore_labels: label values that belong to no class (semantic grouping).
        seed: k-means seed.
        threads: run with this many torch / OpenMP / BLAS threads (restored afterwards; None: as set).
            1 by default: the work per call is small (a few thousand histogram points, ab offsets of <= 7
            colours) and on the shared 2-core machine more threads made a group 5-15x slower (spinning
            OpenMP threads of scikit-learn and torch competing with other processes; measured).
    """

    white_balance: str = "off"
    wb_method: str = "shades_of_gray"
    d_wb: float = D_WB
    grouping: str = "none"
    saliency_mode: str = "both"
    gamma: float = GAMMA
    naming: bool = False
    d_name: float = D_NAME
    unassigned_cost: float | None = None
    reduction_penalty: float = REDUCTION_PENALTY
    group_size: int | None = None
    k_range: tuple[int, int] = K_RANGE
    ratio: float = RATIO
    bin_size: float = 2.0
    weights_in_lab: bool = True
    ignore_labels: tuple[int, ...] = (255,)
    seed: int = 0
    threads: int | None = 1

    def __post_init__(self) -> None:
        for name, value, allowed in (("white_balance", self.white_balance, WHITE_BALANCE_MODES),
                                     ("grouping", self.grouping, GROUPINGS),
                                     ("saliency_mode", self.saliency_mode, SALIENCY_MODES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        WhiteBalancer(self.wb_method)  # validates the method name


@dataclass
class GroupResult:
    """What :func:`recolor_group` did, per image and for the group.

    Attributes:
        outputs: recoloured sRGB float32 ``(H, W, 3)`` images in [0, 1].
        balanced: the images after the white-balance step (the inputs when it did nothing).
        white_balanced: whether each image was white-balanced; ``wb_delta_e``: its Eq. 3.1 value (NaN: not run).
        palettes: each image's source palette (CIELAB, with its label map).
        categories: per image, the category of each source colour (0 when there is no grouping; 1 = salient).
        targets: per image ``(k_i, 3)`` CIELAB colour each source colour is moved to (itself when unmatched).
        matched: per image bool ``(k_i,)``: the colour was matched (and kept by the naming gate).
        group: category -> ``(m, 3)`` CIELAB group palette.
        name_breaks: matches dropped by the colour-naming gate.
    """

    outputs: list[np.ndarray]
    balanced: list[np.ndarray]
    white_balanced: list[bool]
    wb_delta_e: list[float]
    palettes: list[Palette]
    categories: list[np.ndarray]
    targets: list[np.ndarray]
    matched: list[np.ndarray]
    group: dict[int, np.ndarray] = field(default_factory=dict)
    name_breaks: int = 0

    def group_palette(self) -> np.ndarray:
        """All group colours ``(m, 3)``, categories in order."""
        return np.concatenate([self.group[c] for c in sorted(self.group)]) if self.group else np.zeros((0, 3))


@lru_cache(maxsize=1)
def _threadpools() -> object:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # inspects the loaded libraries once (about 10 ms)


@contextlib.contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads and ``n`` OpenMP / BLAS threads (None: unchanged)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with _threadpools().limit(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


def _spectral_residual_source(rgb: np.ndarray, name: str) -> np.ndarray:
    return spectral_residual(rgb)


def _white_balance(images: list[np.ndarray], cfg: RecolorConfig) -> tuple[list[np.ndarray], list[bool], list[float]]:
    if cfg.white_balance == "off":
        return images, [False] * len(images), [float("nan")] * len(images)
    balancer = WhiteBalancer(cfg.wb_method)
    out, flags, des = [], [], []
    for img in images:
        threshold = -1.0 if cfg.white_balance == "all" else cfg.d_wb
        used, applied, de = auto_white_balance(img, balancer, threshold)
        out.append(used)
        flags.append(applied)
        des.append(de)
    return out, flags, des


def _category_maps(palettes: list[Palette], cfg: RecolorConfig, images: list[np.ndarray],
                   saliency: Sequence[np.ndarray | None] | None, labels: Sequence[np.ndarray | None] | None,
                   saliency_source: SaliencySource, names: Sequence[str]) -> list[np.ndarray]:
    """Per image, the category of each source colour."""
    if cfg.grouping == "none":
        return [np.zeros(len(p), np.int64) for p in palettes]
    out = []
    for i, (pal, img) in enumerate(zip(palettes, images, strict=True)):
        if cfg.grouping == "saliency":
            smap = saliency[i] if saliency is not None and saliency[i] is not None else saliency_source(img, names[i])
            cats = (np.asarray(smap) > cfg.gamma).astype(np.int64)
            out.append(categorize_colors(pal.labels, len(pal), cats, 2))
        else:
            if labels is None or labels[i] is None:
                raise ValueError(f"semantic grouping needs a label map for every image; none for '{names[i]}'")
            lab_map = np.asarray(labels[i]).astype(np.int64)
            lab_map = np.where(np.isin(lab_map, cfg.ignore_labels), -1, lab_map)
            n = int(max((int(np.max(m)) for m in labels if m is not None), default=0)) + 1
            out.append(categorize_colors(pal.labels, len(pal), lab_map, max(n, 1)))
    return out


def recolor_group(images: Sequence[np.ndarray], config: RecolorConfig | None = None,
                  saliency: Sequence[np.ndarray | None] | None = None,
                  labels: Sequence[np.ndarray | None] | None = None,
                  saliency_source: SaliencySource | None = None,
                  naming_model: ColorNamingModel | None = None,
                  names: Sequence[str] | None = None) -> GroupResult:
    """Recolour a group of sRGB images (uint8 or float in [0, 1], ``(H_i, W_i, 3)``, sizes may differ).

    Args:
        images: the group (at least one image; one image is simply mapped onto its own palette).
        config: the settings (:class:`RecolorConfig`).
        saliency: optional per-image saliency maps ``(H_i, W_i)`` in [0, 1] (``None`` entries: computed).
        labels: per-image class maps ``(H_i, W_i)`` for ``grouping="semantic"``.
        saliency_source: computes a missing saliency map (default :func:`spectral_residual`).
        naming_model: the colour-naming model (default: the packaged table).
        names: image names for messages and the saliency source.
    """
    cfg = config or RecolorConfig()
    with limit_threads(cfg.threads):
        return _recolor_group(images, cfg, saliency, labels, saliency_source, naming_model, names)


def _recolor_group(images: Sequence[np.ndarray], cfg: RecolorConfig, saliency: Sequence[np.ndarray | None] | None,
                   labels: Sequence[np.ndarray | None] | None, saliency_source: SaliencySource | None,
                   naming_model: ColorNamingModel | None, names: Sequence[str] | None) -> GroupResult:
    imgs = [to_unit_rgb(im) for im in images]
    names = list(names) if names is not None else [f"image {i}" for i in range(len(imgs))]
    for i, (img, nm) in enumerate(zip(imgs, names, strict=True)):
        for what, maps in (("saliency map", saliency), ("label map", labels)):
            if maps is not None and maps[i] is not None and np.shape(maps[i])[:2] != img.shape[:2]:
                raise ValueError(f"the {what} of '{nm}' is {np.shape(maps[i])[:2]}, its image {img.shape[:2]}")
    balanced, flags, des = _white_balance(imgs, cfg)
    labs = [rgb_to_lab_np(im) for im in balanced]
    palettes = [source_palette(lab, cfg.k_range, cfg.ratio, cfg.bin_size, cfg.seed) for lab in labs]
    cats = _category_maps(palettes, cfg, balanced, saliency, labels, saliency_source or _spectral_residual_source, names)
    targets = [p.centers.copy() for p in palettes]
    matched = [np.zeros(len(p), bool) for p in palettes]
    group: dict[int, np.ndarray] = {}
    for cat in sorted({int(c) for cs in cats for c in cs}):
        if cfg.grouping == "saliency" and cfg.saliency_mode == "non_salient" and cat == 1:
            continue  # salient colours keep their colour (§3.3.3, "non-salient only")
        sel = [np.flatnonzero(cs == cat) for cs in cats]
        sub_centers = [p.centers[s] for p, s in zip(palettes, sel, strict=True)]
        sub_shares = [p.shares[s] for p, s in zip(palettes, sel, strict=True)]
        size = cfg.group_size or automatic_group_size([len(s) for s in sel])
        gp = group_palette(sub_centers, sub_shares, size, cfg.unassigned_cost, cfg.reduction_penalty, seed=cfg.seed)
        group[cat] = gp.centers
        for i, (s, mt) in enumerate(zip(sel, gp.matches, strict=True)):
            ok = mt >= 0
            targets[i][s[ok]] = gp.centers[mt[ok]]
            matched[i][s[ok]] = True
    breaks = 0
    if cfg.naming:
        model = naming_model or default_naming_model()
        for i, pal in enumerate(palettes):
            keep = model.associated(pal.centers, targets[i], cfg.d_name) | ~matched[i]
            breaks += int((~keep).sum())
            targets[i][~keep] = pal.centers[~keep]
            matched[i] &= keep
    outputs = []
    for lab, pal, tgt in zip(labs, palettes, targets, strict=True):
        out = recolor_ab(lab, pal.centers[:, 1:], tgt[:, 1:], source_l=pal.centers[:, 0] if cfg.weights_in_lab else None)
        outputs.append(lab_to_rgb_np(out))
    return GroupResult(outputs, balanced, flags, des, palettes, cats, targets, matched, group, breaks)
