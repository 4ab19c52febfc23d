"""Classical balancing baselines: each against an independent statement of what it does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from skimage.exposure import match_histograms

from semcolor.errors import SemcolorError
from semcolor.lightning_modules.classical_balance import (
    GainOffsetModule,
    HistogramMatchModule,
    ReinhardModule,
    WallisModule,
    wallis_filter,
)
from semcolor.registry import METHODS
from tests.cli_helpers import run_cli
from tests.conftest import TINY_EMBEDDED


def _with_reference(module, sample: torch.Tensor):
    module.reference_sample = sample  # what ensure_reference gathers from the data at test time
    return module


def _reference(n: int = 4096, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.rand(n, generator=g) * 0.5 + 0.2, torch.rand(n, generator=g) ** 2, torch.rand(n, generator=g)], 1)


def test_registered_training_free_for_balance():
    for name in ("hist_match", "reinhard", "wallis", "gain_offset"):
        entry = METHODS.entry(name)
        assert not entry.trainable and "balance" in entry.tasks


def test_hist_match_is_scikit_image_per_tile():
    ref = (_reference() * 255).round() / 255
    m = _with_reference(HistogramMatchModule(), ref)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    out = m.forward_batch({"input": x})
    x8 = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    ref8 = (ref * 255).round().to(torch.uint8).numpy()[:, None]
    for i in range(2):
        expected = match_histograms(x8[i], ref8, channel_axis=-1) / 255.0
        np.testing.assert_allclose(out[i].permute(1, 2, 0).numpy(), expected, atol=1e-6)


def test_reinhard_moves_lab_moments_to_the_reference():
    from semcolor.colorspace import rgb_to_lab

    ref = 0.3 + 0.4 * _reference()  # mid-tones: the transferred image stays inside the sRGB gamut
    m = _with_reference(ReinhardModule(), ref)
    x = 0.3 + 0.2 * torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    out = m.forward_batch({"input": x})
    lab_out, lab_ref = rgb_to_lab(out), rgb_to_lab(ref.T[None, :, :, None])
    assert (out > 0).all() and (out < 1).all()  # nothing clipped, so the moments are exact
    torch.testing.assert_close(lab_out.mean((0, 2, 3)), lab_ref.mean((0, 2, 3)), atol=1e-3, rtol=0)
    torch.testing.assert_close(lab_out.std((0, 2, 3)), lab_ref.std((0, 2, 3)), atol=1e-3, rtol=1e-3)


def test_wallis_matches_scipy_box_filters():
    x = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    mf, sf = torch.tensor([0.4, 0.5, 0.6], dtype=torch.float64), torch.tensor([0.1, 0.2, 0.15], dtype=torch.float64)
    c, b, w = 0.8, 0.9, 7
    out = wallis_filter(x, mf, sf, w, c, b)[0].numpy()
    g = x[0].numpy()
    for k in range(3):
        mg = ndimage.uniform_filter(g[k], w, mode="mirror")  # mirror = torch's reflect padding
        sg = np.sqrt(np.maximum(ndimage.uniform_filter(g[k] ** 2, w, mode="mirror") - mg**2, 0))
        ref = (g[k] - mg) * c * sf[k].item() / (c * sg + (1 - c) * sf[k].item()) + b * mf[k].item() + (1 - b) * mg
        np.testing.assert_allclose(out[k], ref, atol=1e-10)


def test_wallis_rejects_even_window():
    with pytest.raises(SemcolorError, match="odd"):
        WallisModule(window=8)


def test_gain_offset_undoes_an_affine_change():
    ref = _reference(64 * 64)
    m = _with_reference(GainOffsetModule(), ref)
    tile = ref.T.reshape(1, 3, 64, 64)
    x = 0.5 * tile + 0.1
    out = m.forward_batch({"input": x})
    torch.testing.assert_close(out, tile.clamp(0, 1), atol=0.02, rtol=0)


def test_reference_from_an_image_file(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "ref.png")
    m = ReinhardModule(space="rgb", reference=str(tmp_path / "ref.png"))
    m.ensure_reference()
    assert m.reference_sample.shape == (64, 3)
    out = m.forward_batch({"input": torch.rand(1, 3, 8, 8)})
    torch.testing.assert_close(out[:, 0], torch.full((1, 8, 8), 200 / 255), atol=1e-5, rtol=0)
    with pytest.raises(SemcolorError, match="reference image not found"):
        ReinhardModule(reference=str(tmp_path / "missing.png")).ensure_reference()


def test_valid_mask_leaves_nodata_out_of_the_statistics():
    ref = _reference()
    m = _with_reference(GainOffsetModule(), ref)
    x = 0.5 * ref.T[:, :1024].reshape(1, 3, 32, 32) + 0.1
    valid = torch.ones(1, 32, 32, dtype=torch.bool)
    x_bad = x.clone()
    x_bad[:, :, :4] = 1.0  # nodata rows, excluded
    valid[:, :4] = False
    out = m.forward_batch({"input": x_bad, "valid": valid})
    ref_out = m.forward_batch({"input": x})
    torch.testing.assert_close(out[:, :, 4:], ref_out[:, :, 4:], atol=0.03, rtol=0)


def test_cli_test_runs_and_fit_is_refused(capsys):
    code, out, err = run_cli(["test", "--method", "wallis", *TINY_EMBEDDED, "--trainer.logger=false",
                              "--trainer.enable_progress_bar=false"], capsys)
    assert code == 0, err
    assert "test_psnr" in out
    code, _, err = run_cli(["fit", "--method", "wallis", *TINY_EMBEDDED], capsys)
    assert code == 2 and "training-free" in err
