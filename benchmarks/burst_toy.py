"""The toy bursts of Xue 2025 (thesis), Sec. 5.4.2 (after Blau & Michaeli 2018), numerically, with corrected closed forms.

Distortion is the MSE, perception the KL divergence ``d_KL(p_X || p_Xhat)`` between the signal's and the output's
distributions (Eq. 5.7: ``ln(s_hat / s_X) + s_X^2 / (2 s_hat^2) - 1/2`` for zero-mean Gaussians).

**Without displacement** (Eqs. 5.6-5.17): ``X ~ N(0, 1)``, ``Y_i = X + N_i``, ``N_i ~ N(0, sigma_i^2)``, linear
estimators ``Xhat = (1/n) sum a_i Y_i``. With ``b_i = a_i / n``, ``s = sum b_i`` and ``V = Var Xhat = s^2 + sum b_i^2
sigma_i^2``: ``MSE = 1 - 2 s + V`` and ``KL = ln(V) / 2 + 1 / (2 V) - 1/2`` (Eqs. 5.11-5.12; Eq. 5.13's "2 sum_{i != j}"
counts each pair twice -- it is the sum over ordered pairs). At fixed ``V`` the MSE is lowest with ``b_i`` proportional
to ``1 / sigma_i^2``; with ``J = sum 1 / sigma_i^2`` and ``rho^2 = J / (J + 1)`` the P-D function is the curve
``D(V) = 1 + V - 2 rho sqrt(V)``, ``P(V) = KL(V)``, ``V`` in ``[rho^2, 1]``: from the MMSE point ``D* = 1 / (1 + J)``
to perfect perception at ``D = 2 (1 - rho)``. For n = 2 the MMSE weights are Eq. 5.15 as printed, and the minimum
distortion is ``sigma_1^2 sigma_2^2 / (sigma_1^2 sigma_2^2 + sigma_1^2 + sigma_2^2)`` -- Eq. 5.16's numerator has
``-2 sigma_1^2 sigma_2^2`` where ``+2 sigma_1^2 sigma_2^2`` belongs (as printed it gives D_min = -1/9 for unit
noises). Eq. 5.17's ``a_2``, ``a_3`` lack a ``sigma_3^2`` in their denominators: ``a_k = 3 prod_{j != k} sigma_j^2 /
(prod_j sigma_j^2 + sum_{i<j} sigma_i^2 sigma_j^2)``. Both are checked below (closed form vs Monte Carlo).

**With displacement** (Eqs. 5.18-5.23): frames are shifted copies ``X(t + d_i)`` plus noise, ``d_1 = 0``,
``d_i ~ N(0, sigma_s^2)``, and the estimator does *not* align them: ``Xhat = c * mean_i Y_i`` with one gain ``c``.
(Per-frequency complex weights could undo any translation, i.e. align; only phase-blind weights make misalignment
cost anything.) Eq. 5.22's MSE ``1 - 2 sqrt(A) / n + A / n^2`` puts the noise power inside the signal term; here, per
frequency and in expectation over the shake with ``g(w) = exp(-w^2 sigma_s^2 / 2)``:
``E m = 1/n + (n - 1) g / n``, ``E |m|^2 = (n + 2 (n - 1) g + (n - 1)(n - 2) g^2) / n^2`` (``m`` the mean of the
frames' phase factors), ``MSE(c) = mean_w S (1 - 2 c E m + c^2 E|m|^2) + c^2 sigma^2 / n`` and the spectral KL of the
output spectrum ``c^2 (S E|m|^2 + sigma^2 / n)`` against ``S`` (Gaussian approximation of the shake mixture), on a
1-D stationary signal with the image-like spectrum ``S ~ 1 / (0.05 + w^2)`` (mean 1). Sweeping ``c`` upwards from the
MMSE gain traces the curve.

Usage: ``python benchmarks/burst_toy.py --out burst_toy.png`` prints the tables and writes the four-panel figure
(aligned P-D curves as Fig. 5.3, AUR vs n aligned, P-D curves with shake, AUR vs n per shake).
"""

from __future__ import annotations

import argparse

import numpy as np

from semcolor.metrics.perception_distortion import aur

FREQS = np.linspace(-np.pi, np.pi, 4096, endpoint=False)
LENGTHS = (1, 2, 3, 5, 10, 20, 30, 40, 50)


def kl_gauss(var_out: np.ndarray, var_x: float | np.ndarray = 1.0) -> np.ndarray:
    """Eq. 5.7: ``d_KL(N(0, var_x) || N(0, var_out))``."""
    return 0.5 * np.log(var_out / var_x) + var_x / (2 * var_out) - 0.5


def aligned_curve(noise_vars: np.ndarray, points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """The P-D function of the aligned burst: (MSE, KL) from the MMSE point to perfect perception."""
    precision = float(np.sum(1.0 / np.asarray(noise_vars, float)))
    rho = np.sqrt(precision / (precision + 1))
    v = np.linspace(rho**2, 1.0, points)
    return 1 + v - 2 * rho * np.sqrt(v), kl_gauss(v)


def mmse_weights(noise_vars: np.ndarray) -> np.ndarray:
    """The thesis's ``a_i`` (Xhat = mean a_i Y_i) at the MMSE point: ``a_k = n prod_{j!=k} s_j / (prod s + e_{n-1}(s))``
    (Eqs. 5.15 / corrected 5.17), i.e. ``b_i = (1 / s_i) / (1 + J)``."""
    s = np.asarray(noise_vars, float)
    return len(s) * (1 / s) / (1 + np.sum(1 / s))


def estimator_moments(a: np.ndarray, noise_vars: np.ndarray) -> tuple[float, float]:
    """(MSE, KL) of ``Xhat = mean a_i Y_i`` from Eqs. 5.11-5.13 with the pair sum over ordered pairs."""
    b = np.asarray(a, float) / len(a)
    var = np.sum(b) ** 2 + np.sum(b**2 * np.asarray(noise_vars, float))
    return float(1 - 2 * np.sum(b) + var), float(kl_gauss(var))


def monte_carlo(a: np.ndarray, noise_vars: np.ndarray, samples: int = 1_000_000, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(samples)
    y = x[:, None] + rng.standard_normal((samples, len(a))) * np.sqrt(noise_vars)
    return float(np.mean((x - y @ (np.asarray(a) / len(a))) ** 2))


def spectrum() -> np.ndarray:
    s = 1.0 / (0.05 + FREQS**2)
    return s / s.mean()


def shaken_curve(n: int, noise_var: float, sigma_s: float, points: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """(MSE, spectral KL) of ``c * mean Y_i`` for gains from the MMSE one up to 1.5 (expected over the shake)."""
    sig = spectrum()
    g = np.exp(-0.5 * (FREQS * sigma_s) ** 2)
    m1 = 1 / n + (n - 1) * g / n
    m2 = (n + 2 * (n - 1) * g + (n - 1) * (n - 2) * g**2) / n**2
    cross, power = np.mean(sig * m1), np.mean(sig * m2) + noise_var / n
    gains = np.linspace(cross / power, 1.5, points)
    mse = 1 - 2 * gains * cross + gains**2 * power
    out = gains[:, None] ** 2 * (sig * m2 + noise_var / n)[None, :]
    return mse, np.mean(kl_gauss(out, sig[None, :]), axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="burst_toy.png")
    parser.add_argument("--noise", type=float, default=1.0, help="noise variance per frame (signal variance 1)")
    args = parser.parse_args(argv)

    print("n = 2 MMSE, sigma^2 = (0.5, 2): Eq. 5.15 weights", np.round(mmse_weights(np.array([0.5, 2.0])), 5))
    for s in ([1.0, 1.0], [0.5, 2.0], [0.5, 1.0, 2.0]):
        s = np.array(s)
        a = mmse_weights(s)
        closed = estimator_moments(a, s)[0]
        fixed = np.prod(s) / (np.prod(s) + sum(np.prod(np.delete(s, k)) for k in range(len(s))))
        print(f"  sigma^2 = {s.tolist()}: D_min closed {closed:.5f}, corrected Eq. 5.16/5.17 {fixed:.5f}, "
              f"Monte Carlo {monte_carlo(a, s):.5f}")
    s1, s2 = 1.0, 1.0
    den = s1 * s2 + s1 + s2
    printed = 1 + (-2 * s1 - 2 * s2) / den + (s1**2 + s2**2 - 2 * s1 * s2 + s1**2 * s2 + s1 * s2**2) / den**2
    print(f"  Eq. 5.16 as printed at sigma^2 = (1, 1): {printed:.5f} (negative: the sign error)")

    box_d, box_p = (0.0, 1.0), (0.0, 0.5)
    print(f"\naligned, noise variance {args.noise:g}: n, D*, KL at D*, D at perfect perception, AUR on {box_d} x {box_p}")
    aligned = {}
    for n in LENGTHS:
        d, p = aligned_curve(np.full(n, args.noise))
        aligned[n] = (d, p, aur(d, p, box_d, box_p))
        print(f"  {n:3d}  {d[0]:.4f}  {p[0]:.5f}  {d[-1]:.4f}  {aligned[n][2]:.4f}")

    shakes = (0.0, 0.5, 1.0, 2.0)
    shaken: dict[float, list[float]] = {}
    print("\nunaligned with shake sigma_s (low-pass signal): AUR for n =", LENGTHS)
    for ss in shakes:
        shaken[ss] = [aur(*shaken_curve(n, args.noise, ss), box_d, box_p) for n in LENGTHS]
        best = LENGTHS[int(np.argmin(shaken[ss]))]
        print(f"  sigma_s = {ss:<4g}: " + " ".join(f"{v:.3f}" for v in shaken[ss]) + f"   best n = {best}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(19, 4.2))
    for n in (1, 2, 3, 10):
        ax[0].plot(*aligned[n][:2], label=f"n = {n}")
    ax[0].set(xlabel="MSE", ylabel="KL (perception)", title="aligned burst: P-D curves (Fig. 5.3)", xlim=(0, 0.7))
    ax[1].plot(LENGTHS, [aligned[n][2] for n in LENGTHS], "o-")
    ax[1].set(xlabel="burst length n", ylabel="AUR (normalised)", title="aligned: AUR falls, diminishing returns")
    for n in (1, 5, 20, 50):
        ax[2].plot(*shaken_curve(n, args.noise, 1.0), label=f"n = {n}")
    ax[2].set(xlabel="MSE", ylabel="spectral KL", title="unaligned, sigma_s = 1: P-D curves", xlim=(0, 1), ylim=(0, 0.6))
    for ss in shakes:
        ax[3].plot(LENGTHS, shaken[ss], "o-", label=f"sigma_s = {ss:g}")
    ax[3].set(xlabel="burst length n", ylabel="AUR (normalised)", title="unaligned: an optimal burst length")
    for a in (ax[0], ax[2], ax[3]):
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
