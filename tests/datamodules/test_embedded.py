"""The embedded default dataset: generator properties, variants, cache, DataModule.

Small scenes (128-256 px) keep every test to about a second on 2 CPU cores.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from semcolor.datamodules import embedded, synthetic
from semcolor.datamodules.embedded import (
    ENV_VAR,
    EmbeddedDataModule,
    input_to_tensor,
    make_scene,
)
from semcolor.errors import SemcolorError

SMALL = dict(scene_size=128, tile_size=32, train_scenes=2, val_scenes=1, test_scenes=1, batch_size=4)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-12)))


def _tiles(size: int, t: int):
    for r in range(0, size - t + 1, t):
        for c in range(0, size - t + 1, t):
            yield slice(r, r + t), slice(c, c + t)


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the tests that only read it (generated once per module)."""
    return tmp_path_factory.mktemp("semcolor_data")


# -- generator ------------------------------------------------------------------------------------------
def test_same_seed_same_scene_and_different_seed_different_scene() -> None:
    a = synthetic.generate_scene(96, 7)
    b = synthetic.generate_scene(96, 7)
    c = synthetic.generate_scene(96, 8)
    for k in ("target", "input", "dn16", "seg", "strips"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert a["params"] == b["params"]
    assert not np.array_equal(a["target"], c["target"])
    assert not np.array_equal(a["input"], c["input"])
    # the same SeedSequence object used twice gives the same scene (no hidden spawn counter)
    ss = synthetic.scene_seed_sequence(0, 1, 2)
    first, second = synthetic.generate_scene(64, ss), synthetic.generate_scene(64, ss)
    np.testing.assert_array_equal(first["input"], second["input"])


def test_variant_subsets_do_not_change_the_scene() -> None:
    full = synthetic.generate_scene(96, 3)
    bare = synthetic.generate_scene(96, 3, unbalanced=False, dn16=False)
    np.testing.assert_array_equal(full["target"], bare["target"])
    np.testing.assert_array_equal(full["seg"], bare["seg"])
    assert "input" not in bare and "dn16" not in bare


def test_class_map_has_several_classes_and_few_unrecognised() -> None:
    seg = np.concatenate([synthetic.generate_scene(256, s)["seg"].ravel() for s in range(3)])
    freq = np.bincount(seg, minlength=len(synthetic.CLASSES)) / seg.size
    assert seg.max() < len(synthetic.CLASSES)
    assert (freq > 0.005).sum() >= 6, freq  # all classes present in three scenes (class 0 may be rare)
    assert freq[synthetic.UNRECOGNISED] < 0.08
    for s in range(3):  # and every single scene shows several classes
        assert len(np.unique(synthetic.generate_scene(128, s)["seg"])) >= 4


def test_identity_psnr_is_low_and_per_tile_affine_oracle_is_far_above() -> None:
    """The acquisition effects are strong but mostly a per-tile colour mapping (learnable from content)."""
    ident, oracle = [], []
    for seed in (0, 1):
        sc = synthetic.generate_scene(256, seed, dn16=False)
        x, y = sc["input"] / 255.0, sc["target"] / 255.0
        for win in _tiles(256, 64):
            xt, yt = x[win].reshape(-1, 3), y[win].reshape(-1, 3)
            pred = np.empty_like(yt)
            for c in range(3):
                design = np.stack([xt[:, c], np.ones(len(xt))], 1)
                pred[:, c] = design @ np.linalg.lstsq(design, yt[:, c], rcond=None)[0]
            ident.append(_psnr(xt, yt))
            oracle.append(_psnr(np.clip(pred, 0, 1), yt))
    assert np.mean(ident) < 20.0, np.mean(ident)
    assert np.mean(oracle) > np.mean(ident) + 8.0, (np.mean(ident), np.mean(oracle))
    assert np.mean(oracle) > 27.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_tiles_of_one_scene_disagree_across_strips(seed: int) -> None:
    sc = make_scene(256, seed, "balance")
    x, y, strips = sc["input"] / 255.0, sc["target"] / 255.0, sc["strips"]
    assert len(np.unique(strips)) >= 2
    shift: dict[int, list[np.ndarray]] = {}
    for win in _tiles(256, 32):
        s = strips[win]
        if (s == s.flat[0]).all():  # tiles inside one strip
            shift.setdefault(int(s.flat[0]), []).append((x[win] - y[win]).mean((0, 1)))
    means = [np.mean(v, 0) for v in shift.values()]
    assert len(means) >= 2
    gap = max(np.abs(a - b).max() for a in means for b in means)
    assert gap > 0.04, gap  # > 10 grey levels between strips, in some channel


def test_dn16_is_reflectance_like_and_documented_scaling() -> None:
    sc = make_scene(128, 2, "render16")
    dn = sc["input"]
    assert dn.dtype == np.uint16 and dn.shape == (128, 128, 3)
    refl = input_to_tensor(dn).numpy()
    np.testing.assert_allclose(refl, (dn.transpose(2, 0, 1).astype(np.float64) - 1000) / 10000, atol=1e-6)
    assert -0.05 < refl.min() and refl.max() < 1.0 and 0.01 < refl.mean() < 0.3
    # monotone in the balanced target within a strip (same physics, per-strip gain + path radiance)
    m = sc["strips"] == 0
    corr = np.corrcoef(synthetic.target_to_reflectance(sc["target"])[m].ravel(), dn[m].ravel().astype(float))[0, 1]
    assert corr > 0.95


def test_colorize_input_is_bt709_luma_of_target() -> None:
    sc = make_scene(64, 1, "colorize")
    assert sc["input"].shape == (64, 64, 1) and sc["input"].dtype == np.uint8
    t = sc["target"].astype(np.float64)
    y = 0.2126 * t[..., 0] + 0.7152 * t[..., 1] + 0.0722 * t[..., 2]
    assert np.abs(sc["input"][..., 0] - y).max() <= 0.5 + 1e-6


def test_make_scene_variants_and_unknown_variant() -> None:
    seg_only = make_scene(64, 0, "segment")
    assert "target" not in seg_only and seg_only["input"].shape == (64, 64, 3)
    balanced = make_scene(64, 0, "segment", segment_input="balanced")
    np.testing.assert_array_equal(balanced["input"], make_scene(64, 0, "balance")["target"])
    with pytest.raises(SemcolorError, match=r"'nope'.*'balance'.*'colorize'.*'render16'.*'segment'"):
        make_scene(64, 0, "nope")


# -- DataModule -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variant", "channels"), [("balance", 3), ("colorize", 1), ("render16", 3), ("segment", 3)]
)
def test_samples_of_every_variant(shared_root: Path, variant: str, channels: int) -> None:
    dm = EmbeddedDataModule(variant=variant, root=str(shared_root), **SMALL)
    assert dm.num_classes == 7 and dm.ignore_index == 0 and dm.in_channels == channels
    dm.setup("fit")
    assert len(dm.datasets["train"]) == 2 * (128 // 32) ** 2 and len(dm.datasets["val"]) == 16
    s = dm.datasets["val"][5]
    assert s["name"] == "scene000_r1_c1"
    assert s["input"].dtype == torch.float32 and s["input"].shape == (channels, 32, 32)
    assert s["seg"].dtype == torch.int64 and s["seg"].shape == (32, 32)
    assert 0 <= int(s["seg"].min()) and int(s["seg"].max()) < 7
    if variant == "render16":
        assert -0.05 < float(s["input"].min()) and float(s["input"].max()) < 1.0
    else:
        assert 0.0 <= float(s["input"].min()) and float(s["input"].max()) <= 1.0
    if variant == "segment":
        assert "target" not in s
    else:
        assert s["target"].dtype == torch.float32 and s["target"].shape == (3, 32, 32)
        assert 0.0 <= float(s["target"].min()) and float(s["target"].max()) <= 1.0


def test_loaders_yield_batches_of_the_right_shape(shared_root: Path) -> None:
    dm = EmbeddedDataModule(variant="balance", root=str(shared_root), **SMALL)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape == (4, 3, 32, 32) and batch["target"].shape == (4, 3, 32, 32)
    assert batch["seg"].shape == (4, 32, 32) and batch["seg"].dtype == torch.int64
    assert len(batch["name"]) == 4 and all(isinstance(n, str) for n in batch["name"])
    val = next(iter(dm.val_dataloader()))
    assert val["name"][:2] == ["scene000_r0_c0", "scene000_r0_c1"]  # evaluation keeps the order
    dm.setup("test")
    assert next(iter(dm.test_dataloader()))["input"].shape == (4, 3, 32, 32)


def test_augmentation_keeps_input_target_and_classes_paired(shared_root: Path) -> None:
    dm = EmbeddedDataModule(variant="colorize", root=str(shared_root), augment=True, **SMALL)
    ds = dm.build_dataset("train")
    plain_dm = EmbeddedDataModule(variant="colorize", root=str(shared_root), augment=False, **SMALL)
    plain = plain_dm.build_dataset("train")
    changed = 0
    for i in range(12):
        s, p = ds[i], plain[i]
        tgt = (s["target"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        np.testing.assert_allclose(s["input"][0].numpy() * 255, synthetic.luma709(tgt)[..., 0], atol=0.51)
        # the augmented class map is the same geometric transform of the plain one as the image
        matched = False
        for k in range(4):
            for flip in (False, True):
                t_img = torch.rot90(p["target"], k, (1, 2))
                t_seg = torch.rot90(p["seg"], k, (0, 1))
                if flip:
                    t_img, t_seg = t_img.flip(2), t_seg.flip(1)
                if torch.equal(t_img, s["target"]):
                    assert torch.equal(t_seg, s["seg"])
                    matched = True
        assert matched  # every augmented tile is a flip/rotation of the plain one
        changed += not torch.equal(s["target"], p["target"])
    assert changed > 0
    assert dm.build_dataset("val").transform is None


def test_load_scene_returns_whole_arrays(shared_root: Path) -> None:
    dm = EmbeddedDataModule(variant="balance", root=str(shared_root), **SMALL)
    sc = dm.load_scene("val", 0)
    assert sc["input"].shape == (128, 128, 3) and sc["target"].shape == (128, 128, 3)
    assert sc["seg"].shape == (128, 128) and sc["strips"].shape == (128, 128) and sc["name"] == "scene000"
    tile = dm.build_dataset("val")[1]  # scene000_r0_c1
    np.testing.assert_allclose(tile["input"].numpy(), input_to_tensor(sc["input"][:32, 32:64]).numpy())
    grey = EmbeddedDataModule(variant="colorize", root=str(shared_root), **SMALL).load_scene("test", 0)
    assert grey["input"].shape == (128, 128, 1)
    with pytest.raises(SemcolorError, match="scenes 0..0"):
        dm.load_scene("val", 3)


def test_unknown_variant_and_bad_sizes_raise_clear_errors(tmp_path: Path) -> None:
    listing = r"unknown embedded dataset variant 'rgb2x'.*balance.*colorize.*render16.*segment"
    with pytest.raises(SemcolorError, match=listing):
        EmbeddedDataModule(variant="rgb2x", root=str(tmp_path))
    with pytest.raises(SemcolorError, match="tile_size"):
        EmbeddedDataModule(root=str(tmp_path), scene_size=64, tile_size=128)
    with pytest.raises(SemcolorError, match="segment_input"):
        EmbeddedDataModule(variant="segment", root=str(tmp_path), segment_input="hazy")
    assert not (tmp_path / "embedded").exists()  # nothing generated for a bad config


# -- cache ----------------------------------------------------------------------------------------------
def test_cache_is_written_under_root_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dm = EmbeddedDataModule(root=str(tmp_path), **SMALL)
    dm.prepare_data()
    files = sorted(p.name for p in dm.cache_dir.iterdir())
    assert dm.cache_dir.parent == tmp_path / "embedded"
    assert files == ["params.json", "test.npz", "train.npz", "val.npz"]
    mtimes = {p: p.stat().st_mtime_ns for p in dm.cache_dir.iterdir()}

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(embedded, "generate_split", boom)
    again = EmbeddedDataModule(root=str(tmp_path), **SMALL)
    again.prepare_data()
    again.setup("fit")
    assert {p: p.stat().st_mtime_ns for p in dm.cache_dir.iterdir()} == mtimes
    # another seed is another cache folder
    monkeypatch.undo()
    other = EmbeddedDataModule(root=str(tmp_path), seed=1, **SMALL)
    assert other.cache_dir != dm.cache_dir


def test_env_var_sets_the_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "moved"))
    dm = EmbeddedDataModule(**SMALL)
    dm.build_dataset("val")
    assert (dm.cache_dir / "val.npz").is_file()
    assert dm.cache_dir.is_relative_to(tmp_path / "moved" / "embedded")


def test_corrupt_cache_is_regenerated(tmp_path: Path) -> None:
    dm = EmbeddedDataModule(root=str(tmp_path), **SMALL)
    good = dm.build_dataset("val")[0]["input"]
    path = dm.cache_dir / "val.npz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # truncated, as after a crash of some other writer
    with pytest.warns(UserWarning, match=r"cannot read '.*val\.npz'.*regenerating"):
        again = EmbeddedDataModule(root=str(tmp_path), **SMALL).build_dataset("val")[0]["input"]
    torch.testing.assert_close(again, good)
    path.write_bytes(b"not a zip at all")
    with pytest.warns(UserWarning, match="regenerating"):
        EmbeddedDataModule(root=str(tmp_path), **SMALL).prepare_data()
    assert path.stat().st_size == len(data)


def test_interrupted_generation_leaves_no_cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(f: object, **arrays: object) -> None:
        f.write(b"PK\x03\x04 half an archive")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded.np, "savez", interrupted)
    dm = EmbeddedDataModule(root=str(tmp_path), **SMALL)
    with pytest.raises(KeyboardInterrupt):
        dm.prepare_data()
    assert not (dm.cache_dir / "train.npz").exists()
    assert [p.name for p in dm.cache_dir.iterdir()] == ["params.json"]  # no temporary file left behind
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean regeneration, not a "corrupt" one
        dm.prepare_data()
    assert (dm.cache_dir / "train.npz").is_file()


def test_unwritable_root_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    dm = EmbeddedDataModule(root=str(blocker), **SMALL)
    with pytest.raises(SemcolorError, match=rf"cannot write the embedded dataset cache under '{blocker}.*{ENV_VAR}"):
        dm.prepare_data()
    assert os.path.isfile(blocker)
