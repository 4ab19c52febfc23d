"""C-Harmony: Cohen-Or et al. 2006 colour harmonisation by hue templates (the baseline of Xue 2025 (thesis), Tables 4.1-4.2).

Cohen-Or, Sorkine, Gal, Leyvand, Xu, "Color harmonization", SIGGRAPH 2006 (the thesis's [30]): find the hue
template and orientation (m*, alpha*) that minimise the F-score -- the same search as the harmony metric,
:func:`semcolor.metrics.harmony.best_scheme` (templates in :data:`semcolor.metrics.harmony.TEMPLATES`; they live
with the metric because ``metrics/`` sits below ``palettes/`` and both need them) -- then move every pixel's hue
into the sector assigned to it:

    H'(p) = C(p) + sign(H(p) - C(p)) * (w / 2) * (1 - G_sigma(|H(p) - C(p)|)),   sigma = w / 2,

with C(p) and w the centre and width of p's sector and G_sigma(x) = exp(-x^2 / (2 sigma^2)) (peak 1, so a hue
at the centre stays there and every hue lands strictly inside its sector, the farther the nearer the border).
Saturation and value are kept (HSV, kornia). Deviation from the paper: each pixel goes to its nearest sector;
Cohen-Or et al. split two-sector templates with a graph cut so that a region does not straddle two sectors.
The thesis's own implementation took 37 s per image for the search; here it is one FFT per template.
"""

from __future__ import annotations

import torch
from torch import Tensor

from semcolor.metrics.harmony import TEMPLATE_NAMES, TEMPLATES, Scheme, best_scheme

__all__ = ["TEMPLATES", "TEMPLATE_NAMES", "charmony", "shift_hues"]


def shift_hues(hue: Tensor, scheme: Scheme) -> Tensor:
    """Hues (degrees) moved into the sectors of ``scheme`` (nearest sector per hue), degrees in [0, 360)."""
    best_gap = best_dist = best_centre = best_width = None
    for centre, width in TEMPLATES[scheme.template]:
        c = scheme.alpha + centre
        gap = torch.remainder(hue - c + 180.0, 360.0) - 180.0  # signed arc from the centre, (-180, 180]
        dist = (gap.abs() - width / 2).clamp_min(0.0)
        if best_gap is None:
            best_gap, best_dist = gap, dist
            best_centre, best_width = torch.full_like(hue, c), torch.full_like(hue, width)
        else:
            closer = dist < best_dist
            best_gap, best_dist = torch.where(closer, gap, best_gap), torch.minimum(dist, best_dist)
            best_centre = torch.where(closer, torch.full_like(hue, c), best_centre)
            best_width = torch.where(closer, torch.full_like(hue, width), best_width)
    sigma = best_width / 2
    moved = best_centre + torch.sign(best_gap) * (best_width / 2) * (1 - torch.exp(-best_gap ** 2 / (2 * sigma ** 2)))
    return torch.remainder(moved, 360.0)


def charmony(rgb: Tensor, templates: tuple[str, ...] = TEMPLATE_NAMES, step: float = 1.0) -> tuple[Tensor, list[Scheme]]:
    """C-Harmony of each image of ``rgb`` ``(N, 3, H, W)`` in [0, 1] -> (harmonised RGB, the scheme of each)."""
    from kornia.color import hsv_to_rgb, rgb_to_hsv

    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"charmony takes RGB batches (N, 3, H, W), got {tuple(rgb.shape)}")
    hsv = rgb_to_hsv(rgb.float().clamp(0, 1))
    out, schemes = [], []
    for img in hsv:
        hue, sat = torch.rad2deg(img[0]) % 360.0, img[1]
        scheme = best_scheme(hue, sat, templates, step)
        new = torch.deg2rad(shift_hues(hue.double(), scheme)).float()
        out.append(hsv_to_rgb(torch.stack([new, img[1], img[2]])[None])[0])
        schemes.append(scheme)
    return torch.stack(out).clamp(0, 1).to(rgb.dtype), schemes
