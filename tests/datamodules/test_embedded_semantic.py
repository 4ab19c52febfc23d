"""The embedded data's class-dependent effects (semantic_effects): only withered vegetation changes, and it
then looks like bare soil, so the class map knows what the pixels do not."""

from __future__ import annotations

import numpy as np

from semcolor.datamodules import synthetic
from semcolor.datamodules.embedded import EmbeddedDataModule


def test_semantic_effects_change_vegetation_of_withered_strips_only():
    plain = synthetic.generate_scene(256, 5)
    sem = synthetic.generate_scene(256, 5, semantic=True)
    for key in ("target", "seg", "strips", "dn16"):
        assert np.array_equal(plain[key], sem[key]), key
    withered = np.array([p["withered"] for p in sem["params"]["senescence"]])[sem["strips"]]
    changed = (sem["appearance"] != plain["target"]).any(-1)
    affected = withered & (sem["seg"] == synthetic.VEGETATION)
    assert not changed[~affected].any()  # roofs, roads, water, crops, unaffected strips: identical
    assert changed[affected].mean() > 0.9
    # the input is the appearance after the same acquisition effects: same pixels outside the affected ones
    assert np.array_equal(plain["input"][~affected], sem["input"][~affected])


def test_withered_vegetation_looks_like_bare_soil():
    seeds = [s for s in range(12)
             if any(p["withered"] for p in synthetic.generate_scene(64, s, semantic=True)["params"]["senescence"])]
    veg_w, veg, bare = [], [], []
    for s in seeds[:6]:
        sc = synthetic.generate_scene(256, s, semantic=True)
        w = np.array([p["withered"] for p in sc["params"]["senescence"]])[sc["strips"]]
        a = sc["appearance"].astype(np.float32)
        veg_w.append(a[w & (sc["seg"] == synthetic.VEGETATION)])
        veg.append(a[~w & (sc["seg"] == synthetic.VEGETATION)])
        bare.append(a[sc["seg"] == synthetic.BARE_SOIL])
    mw, mv, mb = (np.concatenate(x).mean(0) for x in (veg_w, veg, bare))
    assert np.linalg.norm(mw - mb) < 0.5 * np.linalg.norm(mw - mv)


def test_datamodule_option_has_its_own_cache_and_inputs(tmp_path):
    kw = dict(root=str(tmp_path), scene_size=128, train_scenes=6, val_scenes=1, test_scenes=1, augment=False)
    plain = EmbeddedDataModule(variant="colorize", **kw)
    sem = EmbeddedDataModule(variant="colorize", semantic_effects=True, **kw)
    assert plain.cache_dir != sem.cache_dir
    a, b = plain.build_dataset("train"), sem.build_dataset("train")
    assert len(a) == len(b)
    same_target = all(np.array_equal(a[i]["target"], b[i]["target"]) for i in range(len(a)))
    differs = any(not np.array_equal(a[i]["input"], b[i]["input"]) for i in range(len(a)))
    assert same_target and differs
