"""Augmentations for paired data, and array -> tensor conversion.

Colour tasks pair an input with a target whose colours are the ground truth, so only *geometric*
transforms are shared between input, target and class map (flips, 90-degree rotations, crops);
photometric transforms that simulate the acquisition problem go on the input alone
(see ARCHITECTURE.md, "Pitfalls"). albumentations does the work; this module fixes the pairing.
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
import torch


def paired_geometric(flip: bool = True, rot90: bool = True, crop: int | None = None) -> A.Compose:
    """Geometric augmentation applied identically to ``image``, ``target`` and ``mask`` (class map).

    Call the result as ``t(image=inp, target=tgt, mask=seg)``; ``target`` and ``mask`` may be omitted.
    """
    ops: list[A.BasicTransform] = []
    if crop is not None:
        ops.append(A.RandomCrop(crop, crop))
    if flip:
        ops += [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
    if rot90:
        ops.append(A.RandomRotate90(p=0.5))
    return A.Compose(ops, additional_targets={"target": "image"})


def _seed_from_torch(transform: A.Compose) -> None:
    """Draw the transform's seed for this sample from torch's global generator.

    albumentations 2.x ``Compose`` draws from its own generator, seeded from OS entropy unless given a
    ``seed``, and ignores the global seeds that ``seed_everything`` sets: without this, two runs with the
    same seed augmented differently. Drawing each sample's seed from torch makes the augmentation stream
    part of torch's RNG state: seeded runs repeat, each DataLoader worker (which torch seeds per worker
    and epoch) has its own stream, and a run resumed from a checkpoint that restored torch's RNG state
    (``semcolor.cli.callbacks.RandomState``) augments exactly as the uninterrupted run did (seeding once
    per process from ``torch.initial_seed()``, as before, restarted the stream on resume).
    """
    transform.set_random_seed(int(torch.randint(0, 2**32, (1,), dtype=torch.int64)))


def apply_paired(
    transform: A.Compose | None,
    image: np.ndarray,
    target: np.ndarray | None = None,
    seg: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Run a paired transform (or none) on ``(H, W, C)`` arrays and an ``(H, W)`` class map."""
    if transform is None:
        return image, target, seg
    _seed_from_torch(transform)
    kwargs: dict[str, Any] = {"image": image}
    if target is not None:
        kwargs["target"] = target
    if seg is not None:
        kwargs["mask"] = seg
    out = transform(**kwargs)
    return out["image"], out.get("target"), out.get("mask")


def image_to_tensor(arr: np.ndarray, scale: float = 255.0) -> torch.Tensor:
    """``(H, W, C)`` or ``(H, W)`` array -> float32 ``(C, H, W)`` tensor divided by ``scale``."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    t = torch.from_numpy(np.array(arr.transpose(2, 0, 1), copy=True)).float()
    return t / scale


def seg_to_tensor(arr: np.ndarray) -> torch.Tensor:
    """``(H, W)`` class map -> int64 tensor."""
    return torch.from_numpy(np.array(arr, copy=True)).long()
