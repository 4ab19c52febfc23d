"""Colour-harmony metrics over the hue templates of Cohen-Or et al. 2006: F-score, PIT and MITS.

Xue 2025 (thesis), §4.4.1, Eq. 4.3-4.5. For a harmonic scheme (m, alpha) -- hue template T_m (Cohen-Or,
Sorkine, Gal, Leyvand, Xu, "Color harmonization", SIGGRAPH 2006, the thesis's [30]) turned by alpha --

    F(I, (m, alpha)) = sum_{x in I_out} ||H(x) - E_{T_m(alpha)}(x)|| * S(x)          (Eq. 4.3)
    PIT(I)  = N(x in I_in) / N(x in I)                                                 (Eq. 4.4)
    MITS(I) = sum_{x in I_in} S(x) / N(x in I_in)                                      (Eq. 4.5)

with H, S the HSV hue and saturation (kornia's ``rgb_to_hsv``: S in [0, 1]), E the border hue of the
template's sector nearest to H(x), the arc distance in radians, I_in / I_out the pixels inside / outside
every sector. PIT and MITS are taken at the scheme that minimises F (``best_scheme``); PIT is reported
in percent by :class:`HarmonyScores`. Lower F, higher PIT and MITS are better.

Why hand-written: no library implements these metrics or the templates. The templates are
:data:`TEMPLATES` (sector centre and width in degrees, relative to alpha), as in Cohen-Or et al.'s
Fig. 2 and the public implementations that copy its widths (18 deg = 0.05 turn, 93.6 deg = 0.26,
79.2 deg = 0.22, 180 deg = 0.5): i, V, L, I, T, Y, X; the grey-scale template N has no sectors and is
not used. Choices the thesis leaves open, made here:

* F is a plain sum over pixels (not normalised), as the thesis's values (hundreds to thousands at 512 px
  on the short side) imply; it therefore grows with the image size.
* Every pixel counts, greys included (their HSV hue is 0, red): ``min_saturation`` leaves out pixels
  below a saturation from PIT and MITS (they never add to F: S ~ 0). Default 0: every pixel.
* A hue on a sector border is inside (non-strict).
* alpha runs over 0, 1, ..., 359 degrees (``step``). The search is vectorised: hues are binned into
  0.1-degree bins weighted by saturation, and F of every (template, alpha) is the circular
  cross-correlation of that histogram with the template's distance profile, one FFT per template (error
  < 0.05 deg x S per pixel); F, PIT and MITS are then computed exactly, per pixel, at the chosen scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor
from torchmetrics import Metric

__all__ = [
    "TEMPLATES",
    "TEMPLATE_NAMES",
    "HarmonyScores",
    "Scheme",
    "best_scheme",
    "harmony_scores",
    "hue_saturation",
    "scheme_costs",
    "scheme_scores",
    "template_distance",
]

#: Cohen-Or et al. 2006 hue templates: name -> sectors (centre, width) in degrees, relative to the angle alpha
TEMPLATES: dict[str, tuple[tuple[float, float], ...]] = {
    "i": ((0.0, 18.0),),
    "V": ((0.0, 93.6),),
    "L": ((0.0, 18.0), (90.0, 79.2)),
    "I": ((0.0, 18.0), (180.0, 18.0)),
    "T": ((90.0, 180.0),),
    "Y": ((0.0, 93.6), (180.0, 18.0)),
    "X": ((0.0, 93.6), (180.0, 93.6)),
}
TEMPLATE_NAMES: tuple[str, ...] = tuple(TEMPLATES)
_BINS = 3600  # hue histogram bins of the search (0.1 degree)


@dataclass(frozen=True)
class Scheme:
    """A harmonic scheme: template name and orientation alpha in degrees."""

    template: str
    alpha: float


def hue_saturation(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """HSV hue in degrees [0, 360) and saturation in [0, 1] of ``rgb`` ``(..., 3, H, W)`` in [0, 1]."""
    from kornia.color import rgb_to_hsv

    hsv = rgb_to_hsv(rgb.float().clamp(0, 1))
    return torch.rad2deg(hsv[..., 0, :, :]) % 360.0, hsv[..., 1, :, :]


def _arc(a: Tensor, b: Tensor | float) -> Tensor:
    d = torch.remainder(a - b, 360.0)
    return torch.minimum(d, 360.0 - d)


def template_distance(hue: Tensor, template: str, alpha: float | Tensor) -> Tensor:
    """Arc distance in degrees from each hue (degrees) to the nearest sector of ``template`` turned by ``alpha``
    (0 inside a sector, borders included)."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown hue template {template!r}; templates: {', '.join(TEMPLATE_NAMES)}")
    dist = None
    for centre, width in TEMPLATES[template]:
        d = (_arc(hue, alpha + centre) - width / 2).clamp_min(0.0)
        dist = d if dist is None else torch.minimum(dist, d)
    return dist


@lru_cache(maxsize=1)
def _profiles() -> Tensor:
    """``(templates, bins)``: distance in radians from each hue bin centre to each template at alpha = 0."""
    bins = (torch.arange(_BINS, dtype=torch.float64) + 0.5) * (360.0 / _BINS)
    return torch.deg2rad(torch.stack([template_distance(bins, t, 0.0) for t in TEMPLATE_NAMES]))


def scheme_costs(hist: Tensor, templates: tuple[str, ...] = TEMPLATE_NAMES) -> Tensor:
    """F of every template at every alpha on the 0.1-degree grid, ``(templates, 3600)``, from a
    saturation-weighted hue histogram ``(3600,)``: F[t, s] = sum_b hist[b] d_t(b - s), a circular
    cross-correlation, computed with the FFT."""
    prof = _profiles()[[TEMPLATE_NAMES.index(t) for t in templates]].to(hist.device)
    spec = torch.fft.rfft(hist.double())[None] * torch.conj(torch.fft.rfft(prof, dim=-1))
    return torch.fft.irfft(spec, n=_BINS, dim=-1).clamp_min(0.0)


def scheme_scores(hue: Tensor, sat: Tensor, scheme: Scheme, min_saturation: float = 0.0) -> dict[str, Tensor]:
    """Eq. 4.3-4.5 of one image's hue / saturation maps ``(H, W)`` at ``scheme``: ``f_score`` (radians x S,
    summed), ``pit`` (fraction in [0, 1]) and ``mits``."""
    dist = template_distance(hue.double(), scheme.template, scheme.alpha)
    s = sat.double()
    counted = s >= min_saturation if min_saturation > 0 else torch.ones_like(s, dtype=torch.bool)
    inside = (dist <= 0) & counted
    n_in = inside.sum()
    return {
        "f_score": (torch.deg2rad(dist) * s).sum(),
        "pit": n_in / counted.sum().clamp_min(1),
        "mits": torch.where(inside, s, 0.0).sum() / n_in.clamp_min(1),
    }


def best_scheme(hue: Tensor, sat: Tensor, templates: tuple[str, ...] = TEMPLATE_NAMES, step: float = 1.0) -> Scheme:
    """The (template, alpha) with the least F-score (Eq. 4.3) for one image's ``hue`` / ``sat`` ``(H, W)``,
    over ``templates`` and alpha = 0, ``step``, ... < 360 (ties: first template, smallest alpha)."""
    unknown = set(templates) - set(TEMPLATE_NAMES)
    if unknown or not templates:
        raise ValueError(f"templates must be a non-empty subset of {TEMPLATE_NAMES}, got {templates}")
    stride = step * _BINS / 360.0
    if stride < 1 or abs(stride - round(stride)) > 1e-9:
        raise ValueError(f"step must be a multiple of {360.0 / _BINS:g} degrees, got {step}")
    idx = torch.clamp((hue.reshape(-1).double() * (_BINS / 360.0)).long(), 0, _BINS - 1)
    hist = torch.bincount(idx, weights=sat.reshape(-1).double(), minlength=_BINS)
    f = scheme_costs(hist, tuple(templates))[:, :: round(stride)]  # (templates, angles)
    flat = int(torch.argmin(f.reshape(-1)))
    m, a = divmod(flat, f.shape[1])
    return Scheme(templates[m], float(a * step))


def harmony_scores(rgb: Tensor, templates: tuple[str, ...] = TEMPLATE_NAMES, step: float = 1.0,
                   min_saturation: float = 0.0) -> dict[str, Tensor]:
    """F-score, PIT (fraction), MITS of each image of ``rgb`` ``(N, 3, H, W)`` in [0, 1] at its best scheme:
    ``{"f_score", "pit", "mits", "alpha": (N,) float64, "template": (N,) long index into TEMPLATE_NAMES}``."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"harmony_scores takes RGB batches (N, 3, H, W), got {tuple(rgb.shape)}")
    hue, sat = hue_saturation(rgb)
    rows: dict[str, list[Tensor]] = {"f_score": [], "pit": [], "mits": [], "alpha": [], "template": []}
    for h, s in zip(hue, sat):
        scheme = best_scheme(h, s, templates, step)
        for k, v in scheme_scores(h, s, scheme, min_saturation).items():
            rows[k].append(v.cpu())
        rows["alpha"].append(torch.tensor(scheme.alpha, dtype=torch.float64))
        rows["template"].append(torch.tensor(TEMPLATE_NAMES.index(scheme.template)))
    return {k: torch.stack(v) for k, v in rows.items()}


class HarmonyScores(Metric):
    """Dataset means of F-score, PIT (in percent) and MITS over images (Xue 2025 (thesis), Tables 4.1-4.6).

    ``compute()`` returns ``{"f_score", "mits", "pit"}`` (``pit`` in %). Each image is scored at its own best
    scheme (:func:`harmony_scores`)."""

    full_state_update = False

    def __init__(self, templates: tuple[str, ...] = TEMPLATE_NAMES, step: float = 1.0,
                 min_saturation: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.templates, self.step, self.min_saturation = tuple(templates), float(step), float(min_saturation)
        for name in ("f_score", "pit", "mits"):
            self.add_state(name, torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("images", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, rgb: Tensor) -> None:
        scores = harmony_scores(rgb, self.templates, self.step, self.min_saturation)
        for name in ("f_score", "pit", "mits"):
            setattr(self, name, getattr(self, name) + scores[name].sum().to(self.device))
        self.images += rgb.shape[0]

    def compute(self) -> dict[str, Tensor]:
        n = self.images.clamp_min(1).double()
        return {"f_score": self.f_score / n, "mits": self.mits / n, "pit": 100.0 * self.pit / n}
