"""The embedded default dataset: procedural land-cover scenes, generated once, cached, tiled.

Every method trains on it by default (``make train METHOD=...``): no download, seeded, a few seconds to
generate. The scenes come from :mod:`semcolor.datamodules.synthetic`; this module caches them and serves tiles.

Variants (the same scenes, different pairs; see :data:`semcolor.datamodules.synthetic.VARIANTS`):

* ``balance``: unbalanced 8-bit RGB (per-strip gain/gamma/offset/haze) -> balanced RGB  (secbnet)
* ``colorize``: BT.709 luma of the balanced RGB, 1 channel -> balanced RGB            (jsdcgan, multipath)
* ``render16``: 16-bit reflectance-like DN -> balanced 8-bit RGB                       (s2color)
* ``semantic_effects=True`` (any variant): the class-dependent acquisition effects of
  :func:`semcolor.datamodules.synthetic.generate_scene` (withered vegetation that looks like bare soil in about
  half of the strips, every other class unchanged): the input then lacks what only the class map knows.
  Its scenes are cached apart (the flag is part of the cache key); without it nothing changes.
* ``segment``: RGB -> class map only; the input is the unbalanced RGB by default
  (``segment_input="unbalanced"``), so a segmenter trained on it is robust to the colour casts it sees
  on un-balanced tiles (secbnet's frozen segmentation module), or the balanced RGB   (slimseg)

Every sample is a dict: ``input`` float32 ``(C, H, W)``, ``target`` float32 ``(3, H, W)`` in [0, 1]
(absent for ``segment``), ``seg`` int64 ``(H, W)`` with classes :data:`CLASSES` (0 = unrecognised, ignored),
``name`` like ``scene003_r2_c5`` (scene index, tile row, tile column). Input scaling: 8-bit inputs are
divided by 255; the 16-bit input is BOA-reflectance-like, ``(DN - 1000) / 10000``
(:func:`semcolor.datamodules.synthetic.dn16_to_reflectance`, the Sentinel-2 L2A convention), mostly in [0, 0.5]
and not clipped.

Cache: ``$SEMCOLOR_DATA`` (default ``./data``) ``/embedded/<version-size-seed-hash>/``, one uncompressed
``.npz`` per split plus ``params.json``. Files are written to a temporary name then renamed, so an
interrupted generation never leaves a half-written cache; an unreadable or inconsistent cache file is
regenerated with a warning. The folder can be moved: pass ``root`` or set ``SEMCOLOR_DATA``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from semcolor.datamodules import synthetic
from semcolor.datamodules.base import SPLITS, SemcolorDataModule
from semcolor.datamodules.synthetic import CLASSES, DN16_OFFSET, DN16_SCALE, VARIANTS
from semcolor.datamodules.transforms import (
    apply_paired,
    image_to_tensor,
    paired_geometric,
    seg_to_tensor,
)
from semcolor.errors import CorruptFileError, SemcolorError
from semcolor.registry import DATASETS

__all__ = [
    "CLASSES", "VARIANTS", "ENV_VAR", "EmbeddedDataModule", "EmbeddedTiles", "cache_dir", "default_root",
    "ensure_split", "load_split", "make_scene", "input_to_tensor",
]  # fmt: skip

#: environment variable naming the data root (default ``./data``)
ENV_VAR = "SEMCOLOR_DATA"
SEGMENT_INPUTS = ("unbalanced", "balanced")
#: arrays of a cached split: name -> (dtype, trailing shape after (N, S, S))
_ARRAYS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "target": (np.dtype(np.uint8), (3,)),
    "input": (np.dtype(np.uint8), (3,)),
    "dn16": (np.dtype(np.uint16), (3,)),
    "seg": (np.dtype(np.uint8), ()),
    "strips": (np.dtype(np.uint8), ()),
    "appearance": (np.dtype(np.uint8), (3,)),  # semantic_effects caches only
}
_SPLIT_INDEX = {s: i for i, s in enumerate(SPLITS)}


# ======================================================================================================
# cache
# ======================================================================================================
def default_root() -> Path:
    """``$SEMCOLOR_DATA`` or ``./data``."""
    return Path(os.environ.get(ENV_VAR) or "./data").expanduser()


def _params(scene_size: int, counts: dict[str, int], seed: int, semantic: bool = False) -> dict[str, Any]:
    out = {
        "generator_version": synthetic.GENERATOR_VERSION,
        "scene_size": int(scene_size),
        "scenes": {s: int(counts[s]) for s in SPLITS},
        "seed": int(seed),
    }
    if semantic:  # only when set, so the caches made without it keep their names
        out["semantic_effects"] = True
    return out


def cache_dir(
    root: str | Path | None, scene_size: int, counts: dict[str, int], seed: int, semantic: bool = False
) -> Path:
    """``<root>/embedded/v<version>-s<size>-seed<seed>-<hash of all parameters>``."""
    params = _params(scene_size, counts, seed, semantic)
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    name = f"v{synthetic.GENERATOR_VERSION}-s{scene_size}-seed{seed}-{digest}"
    return (Path(root).expanduser() if root is not None else default_root()) / "embedded" / name


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(fileobj)`` on a temporary file in ``path``'s folder, then rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the cache the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generate_split(
    scene_size: int, n_scenes: int, seed: int, split: str, semantic: bool = False
) -> dict[str, np.ndarray]:
    """Generate the scenes of a split (no caching): arrays stacked on a leading scene axis."""
    scenes = [
        synthetic.generate_scene(
            scene_size, synthetic.scene_seed_sequence(seed, _SPLIT_INDEX[split], i), semantic=semantic
        )
        for i in range(n_scenes)
    ]
    out = {k: np.stack([sc[k] for sc in scenes]) for k in _ARRAYS if k in scenes[0]}
    out["params"] = np.array(json.dumps([sc["params"] for sc in scenes]))
    return out


def _split_path(directory: Path, split: str) -> Path:
    return directory / f"{split}.npz"


def _read_split(path: Path, n: int, size: int, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read and check ``keys`` of a cached split; :class:`CorruptFileError` when unreadable or inconsistent."""
    expected = f"an embedded-dataset cache of {n} scenes of {size}x{size} px with arrays {sorted(_ARRAYS)}"
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in keys}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CorruptFileError(path, expected, exc) from exc
    for k, arr in out.items():
        if k == "params":
            continue
        dtype, tail = _ARRAYS[k]
        if arr.dtype != dtype or arr.shape != (n, size, size) + tail:
            raise CorruptFileError(path, expected, f"'{k}' has shape {arr.shape} and dtype {arr.dtype}")
    return out


def ensure_split(
    root: str | Path | None, split: str, scene_size: int = 512, counts: dict[str, int] | None = None, seed: int = 0,
    semantic: bool = False,
) -> Path:
    """Path of the cached ``split``, generating it (atomically) when absent or corrupt."""
    counts = counts or {"train": 16, "val": 4, "test": 4}
    directory = cache_dir(root, scene_size, counts, seed, semantic)
    path = _split_path(directory, split)
    if path.is_file():
        try:
            _read_split(path, counts[split], scene_size, ("seg",))
            return path
        except CorruptFileError as exc:
            warnings.warn(f"{exc}; regenerating it", stacklevel=2)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        meta = directory / "params.json"
        if not meta.is_file():
            desc = _params(scene_size, counts, seed, semantic) | {
                "classes": list(CLASSES),
                "variants": VARIANTS,
                "dn16": {"scale": DN16_SCALE, "offset": DN16_OFFSET, "tensor": "(DN - offset) / scale"},
                "files": {s: f"{s}.npz" for s in SPLITS},
                "arrays": {k: f"{dt.name} (N, S, S{', 3' if t else ''})" for k, (dt, t) in _ARRAYS.items()},
            }
            _atomic_write(meta, lambda f: f.write(json.dumps(desc, indent=2).encode()))
        arrays = generate_split(scene_size, counts[split], seed, split, semantic)
        _atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        raise SemcolorError(
            f"cannot write the embedded dataset cache under '{directory}' ({exc}); "
            f"pass data.init_args.root or set {ENV_VAR} to a writable folder"
        ) from exc
    return path


def load_split(
    root: str | Path | None,
    split: str,
    keys: tuple[str, ...],
    scene_size: int = 512,
    counts: dict[str, int] | None = None,
    seed: int = 0,
    semantic: bool = False,
) -> dict[str, np.ndarray]:
    """Arrays ``keys`` (of ``target``, ``input``, ``dn16``, ``seg``, ``strips``, ``params``, and ``appearance``
    with ``semantic``) of a split, generated on first use."""
    counts = counts or {"train": 16, "val": 4, "test": 4}
    path = ensure_split(root, split, scene_size, counts, seed, semantic)
    try:
        return _read_split(path, counts[split], scene_size, keys)
    except CorruptFileError as exc:  # e.g. truncated between the check and now: one more try
        warnings.warn(f"{exc}; regenerating it", stacklevel=2)
        path.unlink(missing_ok=True)
        path = ensure_split(root, split, scene_size, counts, seed, semantic)
        return _read_split(path, counts[split], scene_size, keys)


# ======================================================================================================
# variants
# ======================================================================================================
def _check_variant(variant: str, segment_input: str = "unbalanced") -> None:
    if variant not in VARIANTS:
        listing = "; ".join(f"'{k}': {v}" for k, v in VARIANTS.items())
        raise SemcolorError(f"unknown embedded dataset variant '{variant}'; choose one of: {listing}")
    if segment_input not in SEGMENT_INPUTS:
        raise SemcolorError(f"segment_input must be one of {SEGMENT_INPUTS}, got '{segment_input}'")


def _variant_input(variant: str, arrays: dict[str, np.ndarray], segment_input: str) -> np.ndarray:
    """The raw input array of ``variant`` from stored arrays (scene axis optional)."""
    if variant == "balance" or (variant == "segment" and segment_input == "unbalanced"):
        return arrays["input"]
    if variant == "colorize":  # the luma of what the sensor saw (the appearance, with semantic effects)
        return synthetic.luma709(arrays["appearance"] if "appearance" in arrays else arrays["target"])
    if variant == "render16":
        return arrays["dn16"]
    return arrays["target"]  # segment on balanced RGB


def _stored_keys(variant: str, segment_input: str, semantic: bool = False) -> tuple[str, ...]:
    if variant == "balance" or (variant == "segment" and segment_input == "unbalanced"):
        return ("input", "target", "seg", "strips")
    if variant == "render16":
        return ("dn16", "target", "seg", "strips")
    if variant == "colorize" and semantic:
        return ("appearance", "target", "seg", "strips")
    return ("target", "seg", "strips")


def input_to_tensor(arr: np.ndarray) -> torch.Tensor:
    """Raw input ``(H, W, C)`` -> float32 ``(C, H, W)``: uint8 / 255; uint16 DN -> ``(DN - 1000) / 10000``."""
    if arr.dtype == np.uint16:
        return image_to_tensor(arr.astype(np.float32) - np.float32(DN16_OFFSET), scale=DN16_SCALE)
    return image_to_tensor(arr, scale=255.0)


def make_scene(
    size: int, seed: int, variant: str = "balance", segment_input: str = "unbalanced", semantic: bool = False
) -> dict[str, Any]:
    """Generate one scene of any size without caching (e.g. 4096 x 4096 for whole-scene prediction).

    Returns numpy arrays: ``input`` (the variant's raw input, ``(H, W, C)`` uint8 or uint16 DN; use
    :func:`input_to_tensor`), ``target`` uint8 ``(H, W, 3)`` (not for ``segment``), ``seg`` uint8 ``(H, W)``,
    ``strips`` uint8 ``(H, W)``, ``params`` (per-strip acquisition parameters) and ``name``. Only the
    arrays the variant needs are made (peak memory about 60 bytes per pixel).
    """
    _check_variant(variant, segment_input)
    keys = _stored_keys(variant, segment_input, semantic)
    sc = synthetic.generate_scene(size, seed, unbalanced="input" in keys, dn16="dn16" in keys, semantic=semantic)
    out: dict[str, Any] = {
        "input": _variant_input(variant, sc, segment_input),
        "seg": sc["seg"],
        "strips": sc["strips"],
        "params": sc["params"],
        "name": f"scene_s{size}_seed{seed}",
    }
    if variant != "segment":
        out["target"] = sc["target"]
    return out


# ======================================================================================================
# dataset and datamodule
# ======================================================================================================
class EmbeddedTiles(Dataset):
    """Non-overlapping ``tile_size`` tiles of stacked scenes (the remainder of a scene side is dropped).

    Args:
        inputs: raw inputs ``(N, S, S, C)`` (uint8, or uint16 DN).
        seg: class maps ``(N, S, S)``.
        targets: balanced RGB ``(N, S, S, 3)`` uint8, or ``None`` (segmentation).
        tile_size: tile side in px.
        transform: paired geometric augmentation (albumentations) or ``None``.
    """

    def __init__(
        self,
        inputs: np.ndarray,
        seg: np.ndarray,
        targets: np.ndarray | None,
        tile_size: int,
        transform: Any = None,
    ) -> None:
        self.inputs, self.seg, self.targets = inputs, seg, targets
        self.tile_size = tile_size
        self.transform = transform
        self.per_side = inputs.shape[1] // tile_size
        self.n_scenes = inputs.shape[0]

    def __len__(self) -> int:
        return self.n_scenes * self.per_side**2

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        s, rc = divmod(index, self.per_side**2)
        r, c = divmod(rc, self.per_side)
        t = self.tile_size
        win = (s, slice(r * t, (r + 1) * t), slice(c * t, (c + 1) * t))
        tgt = self.targets[win] if self.targets is not None else None
        inp, tgt, seg = apply_paired(self.transform, self.inputs[win], tgt, self.seg[win])
        sample: dict[str, Any] = {"input": input_to_tensor(inp)}
        if tgt is not None:
            sample["target"] = image_to_tensor(tgt)
        sample["seg"] = seg_to_tensor(seg)
        sample["name"] = f"scene{s:03d}_r{r}_c{c}"
        return sample


@DATASETS.register("embedded")
class EmbeddedDataModule(SemcolorDataModule):
    """Procedural land-cover scenes (no download), the default data of every method.

    Args:
        variant: ``balance``, ``colorize``, ``render16`` or ``segment`` (see the module docstring).
        root: data root; ``None`` means ``$SEMCOLOR_DATA`` or ``./data``. The cache lives in
            ``<root>/embedded/<version-size-seed-hash>/``.
        tile_size: side of the non-overlapping square tiles cut from each scene.
        scene_size: side of the generated scenes in px.
        train_scenes, val_scenes, test_scenes: scenes per split (train tiles = scenes * (S // tile)^2).
        seed: generator seed (scenes of a split depend on it and on their index only).
        augment: random flips / 90-degree rotations applied identically to input, target and class map,
            training split only.
        segment_input: for ``segment``: ``unbalanced`` (default) or ``balanced`` RGB input.
        semantic_effects: class-dependent acquisition effects (see the module docstring); default off.
        batch_size, num_workers, eval_batch_size, pin_memory: see :class:`SemcolorDataModule`.
    """

    num_classes = len(CLASSES)
    ignore_index = 0
    class_names = CLASSES

    def __init__(
        self,
        variant: str = "balance",
        root: str | None = None,
        tile_size: int = 64,
        scene_size: int = 512,
        train_scenes: int = 16,
        val_scenes: int = 4,
        test_scenes: int = 4,
        seed: int = 0,
        augment: bool = True,
        segment_input: str = "unbalanced",
        semantic_effects: bool = False,
        batch_size: int = 16,
        num_workers: int = 0,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(
            batch_size=batch_size, num_workers=num_workers, eval_batch_size=eval_batch_size, pin_memory=pin_memory
        )
        _check_variant(variant, segment_input)
        if scene_size < 16:
            raise SemcolorError(f"scene_size must be at least 16 px, got {scene_size}")
        if not 0 < tile_size <= scene_size:
            raise SemcolorError(f"tile_size must be in [1, scene_size={scene_size}], got {tile_size}")
        counts = {"train": train_scenes, "val": val_scenes, "test": test_scenes}
        if any(n < 1 for n in counts.values()):
            raise SemcolorError(f"every split needs at least one scene, got {counts}")
        self.variant, self.root, self.tile_size, self.scene_size = variant, root, tile_size, scene_size
        self.counts, self.seed, self.augment, self.segment_input = counts, seed, augment, segment_input
        self.semantic_effects = bool(semantic_effects)
        self.in_channels = 1 if variant == "colorize" else 3
        self._raw: dict[str, dict[str, np.ndarray]] = {}
        self.save_hyperparameters()

    @property
    def cache_dir(self) -> Path:
        """Folder of this configuration's cached scenes."""
        return cache_dir(self.root, self.scene_size, self.counts, self.seed, self.semantic_effects)

    def prepare_data(self) -> None:
        """Generate the cache once (Lightning calls this on one process before ``setup``)."""
        for split in SPLITS:
            ensure_split(self.root, split, self.scene_size, self.counts, self.seed, self.semantic_effects)

    def _arrays(self, split: str) -> dict[str, np.ndarray]:
        """The split's stored arrays this variant uses, read once and kept."""
        if split not in SPLITS:
            raise SemcolorError(f"unknown split '{split}'; expected one of {SPLITS}")
        if split not in self._raw:
            keys = _stored_keys(self.variant, self.segment_input, self.semantic_effects)
            self._raw[split] = load_split(self.root, split, keys, self.scene_size, self.counts, self.seed,
                                          self.semantic_effects)
        return self._raw[split]

    def build_dataset(self, split: str) -> EmbeddedTiles:
        arrays = self._arrays(split)
        transform = paired_geometric(flip=True, rot90=True) if (self.augment and split == "train") else None
        return EmbeddedTiles(
            inputs=_variant_input(self.variant, arrays, self.segment_input),
            seg=arrays["seg"],
            targets=arrays["target"] if self.variant != "segment" else None,
            tile_size=self.tile_size,
            transform=transform,
        )

    def scene_count(self, split: str) -> int:
        return self.counts[split]

    def load_scene(self, split: str, index: int) -> dict[str, Any]:
        """Whole scene ``index`` of ``split`` as numpy arrays (for stitched-scene evaluation / prediction):
        ``input`` (raw, use :func:`input_to_tensor`), ``target`` uint8 ``(S, S, 3)`` (not for ``segment``),
        ``seg`` uint8, ``strips`` uint8, ``name`` (``scene003``)."""
        if not 0 <= index < self.counts.get(split, 0):
            raise SemcolorError(f"split '{split}' has scenes 0..{self.counts.get(split, 0) - 1}, asked for {index}")
        raw = self._arrays(split)
        out: dict[str, Any] = {
            "input": _variant_input(self.variant, {k: v[index] for k, v in raw.items()}, self.segment_input),
            "seg": raw["seg"][index],
            "strips": raw["strips"][index],
            "name": f"scene{index:03d}",
        }
        if self.variant != "segment":
            out["target"] = raw["target"][index]
        return out
