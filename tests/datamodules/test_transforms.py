"""Paired augmentation: shared geometry, and reproducible under torch's seed (albumentations 2.x
ignores global seeds)."""

import numpy as np
import torch

from semcolor.datamodules.transforms import apply_paired, paired_geometric


def _draws(seed: int, n: int = 12) -> list[np.ndarray]:
    torch.manual_seed(seed)
    t = paired_geometric(flip=True, rot90=True, crop=8)  # a fresh Compose, as a new run builds
    img = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    return [apply_paired(t, img, img.copy())[0] for _ in range(n)]


def test_same_torch_seed_same_augmentations():
    a, b = _draws(0), _draws(0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_other_seed_other_augmentations_and_stream_varies():
    a, c = _draws(0), _draws(1)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    assert len({x.tobytes() for x in a}) > 1  # the stream advances within a run


def test_input_and_target_get_the_same_geometry():
    torch.manual_seed(3)
    t = paired_geometric(flip=True, rot90=True, crop=8)
    img = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    seg = img[..., 0].copy()
    for _ in range(8):
        x, y, s = apply_paired(t, img, img.copy(), seg)
        assert np.array_equal(x, y) and np.array_equal(x[..., 0], s)
