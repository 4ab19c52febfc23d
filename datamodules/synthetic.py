"""Procedural land-cover scenes: the embedded default dataset's generator (pure numpy + scipy).

No paper defines this data; it stands in for ZHCBI / GID / Sentinel-2 so that every method trains out of
the box, offline, in minutes on a CPU. One seeded generator makes, for one scene:

* ``seg``: a class map (:data:`CLASSES`): Voronoi parcels (domain-warped so edges are irregular) whose
  class follows smooth regional fields (towns, farmland and forest cluster), lakes from thresholded
  smooth noise, meandering rivers, roads as Bezier curves, street grids inside built-up parcels, and a
  few percent of "unrecognised" cloud-shadow patches (class 0, ignored like SECBNet's class 0).
* ``target``: the *balanced* 8-bit RGB rendering: per-class base colours (class colours are the same in
  every scene, so content tells what the colours should be), intra-class texture (tree crowns, crop
  stripes, roofs on lots, soil grain), mild hill-shading and pixel noise.
* ``input``: the same scene after the acquisition effects that colour balancing undoes. The scene is cut
  into 2-4 acquisition strips along a random direction with irregular (noise-warped) seamlines; each
  strip has its own per-channel gain, gamma and offset and a haze veil (blend towards a bluish-white
  haze colour, whose amount drifts slowly inside the strip), then sensor noise and 8-bit quantisation:
  ``input = (1 - a) * clip(g * target ** gamma + o) + a * haze + noise``.
* ``dn16``: a 16-bit, 3-band "reflectance-like" rendering for the 16->8-bit task (s2color), in the
  Sentinel-2 L2A convention (``DATASETS.md``): ``DN = reflectance * 10000 + 1000``. Reflectance is the
  balanced target linearised as ``0.4 * (target / 255) ** 2.2`` (so the balanced 8-bit image is the
  "true-colour" display rendering ``255 * (reflectance / 0.4) ** (1 / 2.2)``), then each strip gets a
  per-channel gain and an additive path radiance stronger in blue than red (residual atmospheric
  correction error), plus sensor noise of a few DN. :func:`dn16_to_reflectance` is the documented
  tensor scaling: ``(DN - 1000) / 10000``, i.e. BOA reflectance, mostly in [0, 0.5] (not clipped).
* ``strips``: the acquisition-strip index map (for analysis and tests).
* ``appearance`` (only with ``semantic=True``): the ground as the sensor saw it, with *class-dependent*
  acquisition effects (:func:`_senesce`): in about half of the strips vegetation is withered, moved to the
  bare-soil colour with its canopy texture flattened to bare soil's, while every other class (roofs, roads,
  water, crops) is unchanged. The balanced ``target`` keeps green vegetation, and ``input`` (and the
  colorize variant's luma) are made from ``appearance``, so in those strips pixels alone no longer tell
  withered vegetation from bare soil: only the class map does. This is the data on which a semantics-guided
  method can show what the semantics add (``benchmarks/semantic_margin.py`` measures the margin).

Every stage draws from its own child of one :class:`numpy.random.SeedSequence`, so the layout and the
balanced target are identical whichever variant is asked for, and skipping ``dn16`` does not change the
other arrays. All feature sizes are in pixels, independent of the scene size: a larger scene shows more
ground, not the same ground zoomed.

Hand-written because no library generates paired land-cover scenes; scipy does the filtering, the
distance transform (Voronoi parcels) and the sparse resampling (smooth noise).

Measured with the defaults (``semcolor.datamodules.embedded``): identity PSNR input vs target about 17 dB per
64-px tile, a per-tile per-channel affine oracle about 31 dB, 16-bit linear oracle about 38 dB.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage, sparse

#: bump when the generator's output changes (part of the cache key)
GENERATOR_VERSION = 1

#: class index -> name; index 0 is "unrecognised" (ignored by losses/metrics, as in SECBNet)
CLASSES: tuple[str, ...] = ("unrecognised", "water", "vegetation", "cropland", "bare_soil", "built_up", "road")
UNRECOGNISED, WATER, VEGETATION, CROPLAND, BARE_SOIL, BUILT_UP, ROAD = range(7)

#: variants the same scenes are served as (see ``semcolor.datamodules.embedded``)
VARIANTS: dict[str, str] = {
    "balance": "unbalanced 8-bit RGB input -> balanced 8-bit RGB target, with class map",
    "colorize": "BT.709 luma of the balanced target (1 channel) -> balanced 8-bit RGB target, with class map",
    "render16": (
        "16-bit 3-band reflectance-like DN (tensor = (DN - 1000) / 10000) -> balanced 8-bit RGB target, with class map"
    ),
    "segment": "RGB (unbalanced by default) -> class map only",
}

#: 16-bit rendering: DN = reflectance * DN16_SCALE + DN16_OFFSET (Sentinel-2 L2A, baseline >= 04.00)
DN16_SCALE = 10000.0
DN16_OFFSET = 1000.0
#: the balanced 8-bit image is the display rendering 255 * (reflectance / REFLECTANCE_WHITE) ** (1 / DISPLAY_GAMMA)
REFLECTANCE_WHITE = 0.4
DISPLAY_GAMMA = 2.2

# -- balanced colours (display RGB in [0, 1]); the same in every scene ----------------------------------
_COL_UNRECOGNISED_TINT = np.array([0.05, 0.06, 0.09], np.float32)  # cloud shadow: darkened + bluish
_COL_WATER = np.array([0.09, 0.20, 0.30], np.float32)
_COL_VEGETATION = np.array([0.17, 0.30, 0.12], np.float32)
_COL_CROPS = np.array(
    [[0.38, 0.52, 0.20], [0.72, 0.64, 0.38], [0.48, 0.38, 0.28], [0.55, 0.62, 0.32]], np.float32
)  # green crop, ripe cereal, ploughed, young crop
_COL_BARE = np.array([0.66, 0.54, 0.42], np.float32)
_COL_GROUND_BUILT = np.array([0.52, 0.51, 0.50], np.float32)
_COL_ROOFS = np.array(
    [[0.66, 0.34, 0.26], [0.32, 0.33, 0.35], [0.80, 0.80, 0.78], [0.45, 0.50, 0.56]], np.float32
)  # terracotta, dark grey, light, blue-grey
_COL_ROAD = np.array([0.38, 0.38, 0.40], np.float32)
_HAZE = np.array([0.70, 0.74, 0.82], np.float32)

# parcel classes and their base frequencies (modulated by smooth regional fields)
_PARCEL_CLASSES = np.array([VEGETATION, CROPLAND, BARE_SOIL, BUILT_UP])
_PARCEL_LOGPRIOR = np.log(np.array([0.30, 0.37, 0.11, 0.22]))
_PARCEL_SPACING = 72.0  # mean distance between parcel seeds, px


# ======================================================================================================
# building blocks
# ======================================================================================================
def _upsample_matrix(n_out: int, n_grid: int, scale: float) -> sparse.csr_matrix:
    """Sparse (n_out, n_grid) matrix that resamples a coarse grid (cell ``scale`` px) at every output
    pixel with Gaussian weights (sigma 0.8 cell, 6 taps): a separable, C-infinity smooth upsampling."""
    c = np.arange(n_out, dtype=np.float64) / scale + 2.0
    j = np.floor(c)[:, None].astype(np.int64) + np.arange(-2, 4)[None]
    wts = np.exp(-0.5 * ((c[:, None] - j) / 0.8) ** 2)
    wts /= wts.sum(1, keepdims=True)
    rows = np.repeat(np.arange(n_out), 6)
    return sparse.csr_matrix((wts.ravel(), (rows, j.ravel().clip(0, n_grid - 1))), shape=(n_out, n_grid))


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-std smooth noise field (float32) with features about ``scale`` px across.

    Small scales: Gaussian-filtered white noise. Large scales: a coarse random grid resampled by two sparse
    Gaussian interpolation matrices (``Ay @ G @ Ax.T``), about 12 multiply-adds per pixel whatever the
    scale, which keeps 4096-px scenes cheap (``ndimage.zoom`` costs ~10x more)."""
    h, w = shape
    if scale <= 4.0:
        out = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 0.6 * scale, mode="wrap")
    else:
        gh, gw = int(np.ceil(h / scale)) + 6, int(np.ceil(w / scale)) + 6
        grid = rng.standard_normal((gh, gw))
        tmp = _upsample_matrix(w, gw, scale) @ grid.T  # (w, gh)
        out = np.asarray(_upsample_matrix(h, gh, scale) @ tmp.T, dtype=np.float32)  # (h, w)
    out -= out.mean()
    std = float(out.std())
    out /= std if std > 0 else 1.0
    return out


def smooth_noise_at(rng: np.random.Generator, shape: tuple[int, int], scale: float, points: np.ndarray) -> np.ndarray:
    """Values at integer ``points`` (N, 2) of a large-scale :func:`smooth_noise`-like field, without making
    the full-resolution field (only a few points are needed, e.g. one per parcel)."""
    h, w = shape
    gh, gw = int(np.ceil(h / scale)) + 6, int(np.ceil(w / scale)) + 6
    grid = rng.standard_normal((gh, gw))
    ay = _upsample_matrix(h, gh, scale)[points[:, 0]]
    ax = _upsample_matrix(w, gw, scale)[points[:, 1]]
    vals = np.einsum("ij,ij->i", ay @ grid, ax.toarray())  # row i: ay_i G ax_i^T
    return ((vals - vals.mean()) / (vals.std() + 1e-9) if len(vals) > 1 else vals).astype(np.float32)


def _bezier_centreline(rng: np.random.Generator, size: int, wiggle: float) -> np.ndarray:
    """Integer (y, x) pixels along a cubic Bezier from one scene edge to another (roads, rivers)."""

    def edge_point() -> np.ndarray:
        side, t = rng.integers(4), rng.uniform(0, size - 1)
        return np.array([[0.0, t], [size - 1.0, t], [t, 0.0], [t, size - 1.0]][side])

    p0 = edge_point()
    p3 = edge_point()
    while np.linalg.norm(p3 - p0) < size * 0.5:
        p3 = edge_point()
    p1, p2 = rng.uniform(0.1 * size, 0.9 * size, (2, 2))
    n = int(4 * size)
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    if wiggle > 0:  # meanders: lateral sinusoidal displacement
        d = np.gradient(pts, axis=0)
        nrm = np.stack([-d[:, 1], d[:, 0]], 1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-9)
        arclen = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        period, phase = rng.uniform(60, 140), rng.uniform(0, 2 * np.pi)
        pts = pts + nrm * (wiggle * np.sin(2 * np.pi * arclen / period + phase))[:, None]
    pts = np.rint(pts).astype(np.int64)
    keep = (pts >= 0).all(1) & (pts < size).all(1)
    return pts[keep]


def _paint_lines(shape: tuple[int, int], lines: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Boolean mask of the pixels within each line's half-width of its centreline pixels (a disc stamped
    on every centreline pixel: exact, and much cheaper than a distance transform of the whole scene)."""
    mask = np.zeros(shape, bool)
    for pts, hw in lines:
        pts = np.unique(pts, axis=0)
        r = int(np.floor(hw))
        oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
        keep = oy**2 + ox**2 <= hw**2
        ys = (pts[:, 0:1] + oy[keep][None]).ravel()
        xs = (pts[:, 1:2] + ox[keep][None]).ravel()
        ok = (ys >= 0) & (ys < shape[0]) & (xs >= 0) & (xs < shape[1])
        mask[ys[ok], xs[ok]] = True
    return mask


def _voronoi(seeds: np.ndarray, coords_y: np.ndarray, coords_x: np.ndarray, margin: int) -> np.ndarray:
    """Nearest-seed index per pixel, evaluated at (warped) pixel coordinates.

    The seeds are rasterised on a canvas extended by ``margin`` px and one Euclidean feature transform
    gives every canvas pixel its nearest seed; the map is then read at the rounded warped coordinates
    (about 10x faster than a k-d tree query per pixel)."""
    h, w = coords_y.shape
    canvas = np.full((h + 2 * margin, w + 2 * margin), -1, np.int32)
    si = np.clip(np.rint(seeds).astype(np.int64) + margin, 0, np.array(canvas.shape) - 1)
    canvas[si[:, 0], si[:, 1]] = np.arange(len(seeds), dtype=np.int32)  # a later seed on the same pixel wins
    iy, ix = ndimage.distance_transform_edt(canvas < 0, return_distances=False, return_indices=True)
    nearest = canvas[iy, ix]
    del iy, ix
    qy = np.clip(np.rint(coords_y).astype(np.int32) + margin, 0, canvas.shape[0] - 1)
    qx = np.clip(np.rint(coords_x).astype(np.int32) + margin, 0, canvas.shape[1] - 1)
    return nearest[qy, qx]


# ======================================================================================================
# the scene
# ======================================================================================================
def _layout(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Class map plus the per-pixel helpers the renderer needs (parcel ids, parcel attributes)."""
    shape = (size, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)

    # parcels: Voronoi cells of jittered seeds on domain-warped coordinates (irregular edges)
    n_parcels = max(4, int(rng.poisson(size * size / _PARCEL_SPACING**2)))
    seeds = rng.uniform(-8, size + 8, (n_parcels, 2))
    warp = 7.0
    wy = yy + warp * smooth_noise(rng, shape, 24)
    wx = xx + warp * smooth_noise(rng, shape, 24)
    pid = _voronoi(seeds, wy, wx, margin=int(warp) + 12)
    del wy, wx

    # parcel classes follow smooth regional fields sampled at the seeds: towns, farmland, forest cluster
    si = np.clip(np.rint(seeds).astype(np.int64), 0, size - 1)
    regional = np.stack([smooth_noise_at(rng, shape, 220, si) for _ in range(len(_PARCEL_CLASSES))])
    logits = _PARCEL_LOGPRIOR[:, None] + 1.6 * regional
    p = np.exp(logits - logits.max(0))
    p /= p.sum(0)
    u = rng.uniform(size=n_parcels)
    pclass = _PARCEL_CLASSES[(np.cumsum(p, 0) < u[None]).sum(0).clip(0, len(_PARCEL_CLASSES) - 1)]
    del regional
    seg = pclass[pid].astype(np.uint8)

    # per-parcel attributes: orientation (stripes / street grid), period, crop type, colour jitter
    angle = rng.uniform(0, np.pi, n_parcels).astype(np.float32)
    crop_period = rng.uniform(4.0, 10.0, n_parcels).astype(np.float32)
    block = rng.uniform(26.0, 44.0, n_parcels).astype(np.float32)
    crop_type = rng.integers(0, len(_COL_CROPS), n_parcels)
    jitter = rng.normal(0, 0.025, (n_parcels, 3)).astype(np.float32)

    # built-up parcels: street grid (class road) on the parcel's rotated coordinates
    ca, sa = np.cos(angle)[pid], np.sin(angle)[pid]
    uu = xx * ca + yy * sa
    vv = -xx * sa + yy * ca
    del ca, sa
    built = seg == BUILT_UP
    bp = block[pid]
    street_w = 3.0
    street = built & ((np.mod(uu, bp) < street_w) | (np.mod(vv, bp) < street_w))
    seg[street] = ROAD

    # lakes: thresholded smooth noise, a scene-dependent fraction (some scenes have none)
    water_frac = rng.choice([0.0, rng.uniform(0.03, 0.18)], p=[0.25, 0.75])
    if water_frac > 0:
        lake = smooth_noise(rng, shape, 90)
        seg[lake > np.quantile(lake, 1 - water_frac)] = WATER
        del lake
    # rivers (meandering, wide) then roads (thin), both as bands around a Bezier centreline
    n_rivers = int(rng.choice([0, 1], p=[0.5, 0.5]))
    rivers = [(_bezier_centreline(rng, size, rng.uniform(8, 25)), rng.uniform(3.0, 7.0)) for _ in range(n_rivers)]
    if rivers:
        seg[_paint_lines(shape, rivers)] = WATER
    n_roads = int(rng.integers(2, 5)) * max(1, size // 512)
    roads = [(_bezier_centreline(rng, size, 0.0), rng.uniform(1.2, 2.6)) for _ in range(n_roads)]
    seg[_paint_lines(shape, roads)] = ROAD

    # unrecognised: cloud-shadow patches covering a few percent (none in some scenes)
    ground = seg.copy()  # the class map under the cloud shadows, for rendering
    shadow_frac = rng.choice([0.0, rng.uniform(0.01, 0.06)], p=[0.3, 0.7])
    if shadow_frac > 0:
        sh = smooth_noise(rng, shape, 28) + 0.8 * smooth_noise(rng, shape, 110)
        seg[sh > np.quantile(sh, 1 - shadow_frac)] = UNRECOGNISED
        del sh
    return {
        "seg": seg, "ground": ground, "pid": pid, "uu": uu, "vv": vv, "crop_type": crop_type,
        "crop_period": crop_period, "block": block, "jitter": jitter, "pclass": pclass,
    }  # fmt: skip


def _render(rng: np.random.Generator, lay: dict[str, np.ndarray]) -> np.ndarray:
    """Balanced display rendering, float32 (H, W, 3) in [0, 1].

    Colours and texture amplitudes are looked up per pixel from per-parcel / per-class tables (whole-frame
    gathers are much cheaper than one boolean-masked pass per class)."""
    ground, pid = lay["ground"], lay["pid"]
    shape = ground.shape
    n = len(lay["pclass"])

    # base colours: a colour per parcel (class colour or crop type, plus jitter); roads and water fixed
    pcol = np.select(
        [lay["pclass"][:, None] == c for c in (VEGETATION, BARE_SOIL, BUILT_UP)],
        [_COL_VEGETATION, _COL_BARE, _COL_GROUND_BUILT],
        _COL_CROPS[lay["crop_type"]],
    ).astype(np.float32)
    table = np.concatenate([pcol + lay["jitter"], _COL_ROAD[None], _COL_WATER[None]])
    idx = pid.copy()
    idx[ground == ROAD] = n
    idx[ground == WATER] = n + 1
    img = table[idx]
    del idx

    # textures (multiplicative): crowns/grain (fine), patches (mid), crop stripes, water ripples
    def amp(values: dict[int, float]) -> np.ndarray:
        lut = np.zeros(len(CLASSES), np.float32)
        for k, v in values.items():
            lut[k] = v
        return lut[ground]

    tex = amp({VEGETATION: 0.20, BARE_SOIL: 0.05, CROPLAND: 0.03, ROAD: 0.03, WATER: 0.02})
    tex *= smooth_noise(rng, shape, 1.6)
    tex += amp({VEGETATION: 0.08, BARE_SOIL: 0.07}) * smooth_noise(rng, shape, 7.0)
    tex += amp({WATER: 0.07}) * smooth_noise(rng, shape, 60)
    tex += amp({CROPLAND: 0.09}) * np.sin(np.float32(2 * np.pi) * lay["uu"] / lay["crop_period"][pid])
    tex += 1.0
    img *= tex[..., None]
    del tex

    # built-up: roofs on lots (half a street block each), colour hashed from the lot index
    m = ground == BUILT_UP
    lot = lay["block"][pid[m]] / 2.0
    u, v = lay["uu"][m], lay["vv"][m]
    ru, rv = np.mod(u, lot) / lot, np.mod(v, lot) / lot
    roof = (ru > 0.28) & (ru < 0.92) & (rv > 0.28) & (rv < 0.92)
    iu, iv = np.floor(u / lot).astype(np.int64), np.floor(v / lot).astype(np.int64)
    # a tiny integer hash (no library call picks a stable pseudo-random value per lot)
    h = (iu * 73856093) ^ (iv * 19349663) ^ (pid[m].astype(np.int64) * 83492791)
    h = np.mod(h, 9973)
    roof &= h % 7 != 0  # some empty lots
    cols = _COL_ROOFS[h % len(_COL_ROOFS)] * (1 + 0.04 * ((h // 7) % 5 - 2))[:, None].astype(np.float32)
    sub = img[m]
    sub[roof] = cols[roof]
    img[m] = sub
    del sub, u, v, ru, rv, roof, iu, iv, h, cols, m

    # mild hill-shading from a smooth elevation field (not on water)
    gy, gx = np.gradient(smooth_noise(rng, shape, 110))
    shade = gx * 0.6 - gy * 0.8
    del gy, gx
    shade *= np.float32(0.06) / max(float(shade.std()), 1e-6)
    shade += 1.0
    shade[ground == WATER] = 1.0
    img *= shade[..., None]
    del shade

    # cloud shadows (class 0): darkened ground plus a bluish tint
    m = lay["seg"] == UNRECOGNISED
    img[m] = img[m] * 0.4 + _COL_UNRECOGNISED_TINT

    img += np.float32(0.008) * rng.standard_normal(img.shape, dtype=np.float32)
    np.clip(img, 0.0, 1.0, out=img)
    return img


def _strips(rng: np.random.Generator, size: int) -> np.ndarray:
    """Acquisition-strip index map: 2-4 strips across a random direction, noise-warped seamlines."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    t = xx * np.cos(theta) + yy * np.sin(theta)
    del yy, xx
    t += size * 0.04 * smooth_noise(rng, (size, size), 70)
    n = int(rng.integers(2, 5))
    lo, hi = float(t.min()), float(t.max())
    # cut points with a minimum spacing so that every strip is visible
    while True:
        cuts = np.sort(rng.uniform(lo + 0.12 * (hi - lo), hi - 0.12 * (hi - lo), n - 1))
        if n == 2 or np.diff(cuts).min() > 0.15 * (hi - lo):
            break
    return np.searchsorted(cuts, t).astype(np.uint8)


def _acquisition_params(rng: np.random.Generator, n_strips: int) -> list[dict[str, Any]]:
    """Per-strip effects of the unbalanced 8-bit input (ranges straddle the identity, haze aside; tuned so
    that the identity PSNR input vs target is about 17 dB and a per-tile affine oracle about 31 dB)."""
    out = []
    for _ in range(n_strips):
        b = float(np.exp(rng.uniform(np.log(0.5), np.log(1.45))))
        gamma = float(np.exp(rng.uniform(-0.5, 0.5)))
        out.append(
            {
                "gain": (b * np.exp(rng.normal(0, 0.14, 3))).tolist(),
                "gamma": (gamma * np.exp(rng.normal(0, 0.06, 3))).tolist(),
                "offset": (rng.uniform(-0.07, 0.07) + rng.normal(0, 0.025, 3)).tolist(),
                "haze": float(rng.uniform(0.05, 0.55)),
                "haze_color": (_HAZE + rng.normal(0, 0.03, 3)).clip(0, 1).tolist(),
            }
        )
    return out


def _unbalance(
    rng: np.random.Generator, target_u8: np.ndarray, strips: np.ndarray, params: list[dict[str, Any]]
) -> np.ndarray:
    """Apply each strip's gain/gamma/offset, then haze, noise and quantisation -> uint8 (H, W, 3).

    The gain/gamma/offset curve acts on 8-bit values, so it is a (strip, channel, value) look-up table."""
    size = target_u8.shape[0]
    v = np.arange(256, dtype=np.float32) / 255.0
    gamma, gain, offset, haze, haze_col = (
        np.asarray([p[k] for p in params], np.float32) for k in ("gamma", "gain", "offset", "haze", "haze_color")
    )
    lut = np.clip(gain[:, :, None] * v[None, None] ** gamma[:, :, None] + offset[:, :, None], 0.0, 1.0)  # (K, 3, 256)
    y = np.empty(target_u8.shape, np.float32)
    for c in range(3):
        y[..., c] = lut[strips, c, target_u8[..., c]]
    # haze: (1 - a) * y + a * haze_color, the amount a = strip value + slow drift inside the strip
    a = haze[strips] + np.float32(0.04) * smooth_noise(rng, (size, size), 200)
    np.clip(a, 0.0, 0.9, out=a)
    a = a[..., None]
    y += a * (haze_col[strips] - y)
    del a
    y += np.float32(0.01) * rng.standard_normal(y.shape, dtype=np.float32)
    return _to_u8(y)


def _dn16_params(rng: np.random.Generator, n_strips: int) -> list[dict[str, Any]]:
    """Per-strip effects of the 16-bit rendering: per-channel gain and path radiance (more in blue)."""
    out = []
    for _ in range(n_strips):
        b = float(np.exp(rng.uniform(np.log(0.7), np.log(1.35))))
        path = rng.uniform(0.0, 0.05) * np.array([0.5, 0.75, 1.0])  # Rayleigh-like: R < G < B
        gain = b * np.exp(rng.normal(0, 0.08, 3))
        out.append({"gain": gain.tolist(), "path": (path + rng.normal(0, 0.004, 3)).tolist()})
    return out


def _render16(
    rng: np.random.Generator, target_u8: np.ndarray, strips: np.ndarray, params: list[dict[str, Any]]
) -> np.ndarray:
    """Balanced target -> reflectance -> per-strip gain and path radiance -> 16-bit DN with noise.

    Reflectance * gain + path is a function of the 8-bit value per (strip, channel): a look-up table."""
    gain = np.asarray([p["gain"] for p in params], np.float32)
    path = np.asarray([p["path"] for p in params], np.float32)
    refl = target_to_reflectance(np.arange(256, dtype=np.uint8))
    lut = (refl[None, None] * gain[:, :, None] + path[:, :, None]) * np.float32(DN16_SCALE) + np.float32(DN16_OFFSET)
    dn = np.empty(target_u8.shape, np.float32)
    for c in range(3):
        dn[..., c] = lut[strips, c, target_u8[..., c]]
    dn += np.float32(15.0) * rng.standard_normal(dn.shape, dtype=np.float32)  # sensor noise, DN
    np.clip(np.rint(dn, out=dn), 1, 65535, out=dn)
    return dn.astype(np.uint16)


def _senescence_params(rng: np.random.Generator, n_strips: int) -> list[dict[str, Any]]:
    """Per strip: withered vegetation or not (probability 1/2) and how far (``amount`` 0.7-1)."""
    return [
        {"withered": bool(rng.uniform() < 0.5), "amount": float(rng.uniform(0.7, 1.0))} for _ in range(n_strips)
    ]


def _senesce(target_u8: np.ndarray, seg: np.ndarray, strips: np.ndarray, params: list[dict[str, Any]]) -> np.ndarray:
    """The class-dependent effect of the ``semantic`` option: vegetation pixels of withered strips get the
    bare-soil colour and bare soil's texture amplitude; uint8 (H, W, 3).

    With ``a`` the strip's amount, the local mean ``m`` (Gaussian, sigma 3 px) of the vegetation is multiplied by
    ``(bare / vegetation) ** a`` per channel (the base colours' ratio) and the detail ``x - m`` by the same factor
    and ``1 - 0.75 a`` (vegetation's fine texture is 4x bare soil's, see :func:`_render`)."""
    amount = np.array([p["amount"] if p["withered"] else 0.0 for p in params], np.float32)[strips]
    amount[seg != VEGETATION] = 0.0
    if not amount.any():
        return target_u8.copy()
    img = target_u8.astype(np.float32) / 255.0
    mean = np.stack([ndimage.gaussian_filter(img[..., c], 3.0) for c in range(3)], -1)
    ratio = (_COL_BARE / _COL_VEGETATION).astype(np.float32)
    a = amount[..., None]
    gain = ratio[None, None] ** a
    out = (mean + (img - mean) * (1.0 - 0.75 * a)) * gain
    return _to_u8(np.where(a > 0, out, img))


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


# ======================================================================================================
# public helpers
# ======================================================================================================
def luma709(rgb_u8: np.ndarray) -> np.ndarray:
    """BT.709 luma Y' = 0.2126 R' + 0.7152 G' + 0.0722 B' of gamma-encoded 8-bit RGB -> uint8 (H, W, 1).

    Computed on the encoded values (luma, not linear luminance), as a greyscale conversion of an sRGB image
    does; this is the colorize variant's input."""
    w = np.array([0.2126, 0.7152, 0.0722], np.float32)
    return np.rint(rgb_u8.astype(np.float32) @ w).clip(0, 255).astype(np.uint8)[..., None]


def target_to_reflectance(target_u8: np.ndarray) -> np.ndarray:
    """Balanced 8-bit display RGB -> the reflectance it renders: ``0.4 * (v / 255) ** 2.2`` (float32)."""
    return np.float32(REFLECTANCE_WHITE) * np.power(target_u8.astype(np.float32) / 255.0, np.float32(DISPLAY_GAMMA))


def dn16_to_reflectance(dn: np.ndarray) -> np.ndarray:
    """The documented tensor scaling of the 16-bit input: ``(DN - 1000) / 10000`` (float32, not clipped)."""
    return (dn.astype(np.float32) - np.float32(DN16_OFFSET)) / np.float32(DN16_SCALE)


def scene_seed_sequence(seed: int, split_index: int, scene_index: int) -> np.random.SeedSequence:
    """Seed of scene ``scene_index`` of a split (0 train, 1 val, 2 test); independent of split sizes."""
    return np.random.SeedSequence([int(seed), 1 + int(split_index), int(scene_index)])


def generate_scene(
    size: int, seed: int | np.random.SeedSequence, *, unbalanced: bool = True, dn16: bool = True,
    semantic: bool = False,
) -> dict[str, Any]:
    """Generate one scene: ``target`` uint8 (H, W, 3), ``seg`` uint8 (H, W), ``strips`` uint8 (H, W),
    ``input`` uint8 (H, W, 3) when ``unbalanced``, ``dn16`` uint16 (H, W, 3) when ``dn16``, and ``params``
    (the per-strip acquisition parameters, JSON-able). ``semantic`` adds the class-dependent effects: an
    ``appearance`` uint8 (H, W, 3), from which ``input`` is made (layout, target, strips and dn16 unchanged).

    Peak memory is roughly 60 bytes per pixel (about 1 GB for 4096 x 4096).
    """
    if size < 16:
        raise ValueError(f"scene size must be at least 16 px, got {size}")
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence([int(seed)])
    # children built explicitly (not ss.spawn, which counts calls) so the same seed always gives the same scene
    r_layout, r_render, r_strips, r_acq, r_dn = (
        np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, k))) for k in range(5)
    )
    lay = _layout(r_layout, size)
    target = _to_u8(_render(r_render, lay))
    seg = lay["seg"]
    del lay
    strips = _strips(r_strips, size)
    n = int(strips.max()) + 1
    out: dict[str, Any] = {"target": target, "seg": seg, "strips": strips, "params": {}}
    seen = target
    if semantic:  # its own child seed: the other arrays are those of the same scene without it
        r_sem = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 5)))
        sen = _senescence_params(r_sem, n)
        seen = out["appearance"] = _senesce(target, seg, strips, sen)
        out["params"]["senescence"] = sen
    if unbalanced:
        acq = _acquisition_params(r_acq, n)
        out["input"] = _unbalance(r_acq, seen, strips, acq)  # effects act on the quantised target (or appearance)
        out["params"]["acquisition"] = acq
    if dn16:
        p16 = _dn16_params(r_dn, n)
        out["dn16"] = _render16(r_dn, target, strips, p16)
        out["params"]["dn16"] = p16
    return out
