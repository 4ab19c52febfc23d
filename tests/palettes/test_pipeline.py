"""The ch. 3 pipeline end to end on small groups: consistency improves, each switch does what it says."""

from __future__ import annotations

import numpy as np
import pytest

from semcolor.palettes.color import linear_to_srgb_np, rgb_to_lab_np, srgb_to_linear_np
from semcolor.palettes.naming import default_naming_model
from semcolor.palettes.pipeline import RecolorConfig, recolor_group


def _group(n: int = 3, size: int = 48):
    """``n`` images of the same three-colour layout, each with its own diagonal colour cast."""
    base = np.zeros((size, size, 3), np.float32)
    base[: size // 2] = [0.20, 0.45, 0.15]  # green
    base[size // 2:, : size // 2] = [0.55, 0.45, 0.35]  # brown
    base[size // 2:, size // 2:] = [0.25, 0.35, 0.60]  # blue
    gains = [[1.15, 1.0, 0.85], [0.9, 1.0, 1.12], [1.0, 1.05, 0.95], [1.1, 0.95, 1.0]][:n]
    images = [linear_to_srgb_np(srgb_to_linear_np(base) * np.array(g, np.float32)) for g in gains]
    return base, images


def _spread(images):
    means = np.stack([rgb_to_lab_np(im).reshape(-1, 3).mean(0) for im in images])
    return float(np.linalg.norm(means[:, None] - means[None], axis=-1).mean())


@pytest.mark.parametrize("config", [RecolorConfig(), RecolorConfig(unassigned_cost=25.0),
                                    RecolorConfig(white_balance="auto", grouping="saliency", naming=True)],
                         ids=["nguyen", "nguyen_unassigned", "all_modules"])
def test_group_gets_more_consistent_and_lightness_is_kept(config):
    _, images = _group()
    res = recolor_group(images, config)
    assert len(res.outputs) == 3 and all(o.shape == (48, 48, 3) for o in res.outputs)
    assert _spread(res.outputs) < 0.5 * _spread(images)
    for before, after in zip(res.balanced, res.outputs, strict=True):
        np.testing.assert_allclose(rgb_to_lab_np(after)[..., 0], rgb_to_lab_np(before)[..., 0], atol=1.5)


def test_naming_gate_breaks_matches_across_names():
    _, images = _group(4)
    red = images[3].copy()
    red[: 24] = [0.9, 0.05, 0.05]  # the "green" region of the last image is red: no red in the group palette
    plain = recolor_group([*images[:3], red], RecolorConfig(group_size=3))
    named = recolor_group([*images[:3], red], RecolorConfig(group_size=3, naming=True))
    assert named.name_breaks >= 1 and plain.name_breaks == 0
    model = default_naming_model()

    def gated(res):  # per matched pair, whether Eq. 3.3 keeps it
        return np.concatenate([model.associated(p.centers[m], t[m]) for p, t, m in
                               zip(res.palettes, res.targets, res.matched, strict=True)])

    assert gated(named).all() and not gated(plain).all()
    assert sum(int(m.sum()) for m in named.matched) == sum(int(m.sum()) for m in plain.matched) - named.name_breaks


def test_non_salient_mode_leaves_salient_colours_and_semantic_needs_labels():
    _, images = _group()
    sal = np.zeros((48, 48), np.float32)
    sal[24:, 24:] = 1.0  # the blue square is salient
    res = recolor_group(images, RecolorConfig(grouping="saliency", saliency_mode="non_salient"), saliency=[sal] * 3)
    for i, (cats, matched) in enumerate(zip(res.categories, res.matched, strict=True)):
        assert cats.any() and not matched[cats == 1].any()
        np.testing.assert_allclose(res.outputs[i][30:, 30:], images[i][30:, 30:], atol=0.02)
    labels = np.zeros((48, 48), np.int64)
    labels[24:] = 1
    sem = recolor_group(images, RecolorConfig(grouping="semantic"), labels=[labels] * 3)
    assert sorted(sem.group) == [0, 1]
    with pytest.raises(ValueError, match="label map"):
        recolor_group(images, RecolorConfig(grouping="semantic"))
    with pytest.raises(ValueError, match="grouping must be"):
        RecolorConfig(grouping="nope")
