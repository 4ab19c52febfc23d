"""Class-folder scene datasets (AID, NWPU-RESISC45) for grayscale -> RGB colorization (jsdcgan).

Both datasets are released as one folder per scene class holding RGB JPEGs and have no official split
(NWPU has optional published lists). This module holds what they share:

* **listing** the class folders (non-image files are ignored and counted, empty class folders warned
  about, a wrong layout raises :class:`DatasetNotFoundError` naming the root and the expected layout);
* the **JSDCGAN split**: every class is divided train:test:val = 3:1:1 (Wang et al. 2022, Sec. 4.1), by a
  seeded rule (below), **written to split files on first use and read back** afterwards, so runs are
  comparable; existing split files are never overwritten;
* a **scan** done once, when the split files are created: every image is decoded (at 1/8 scale, which
  still reads the whole entropy-coded stream, so truncated JPEGs are caught). Corrupt files are
  **skipped** — left out of the split files — with a warning naming each, and recorded with the reason
  in ``{prefix}-split.json`` next to the split files (repeated as a warning whenever the files are read
  back). We skip rather than fail because one bad JPEG should not stop a 10,000-image run; the user
  still sees which file and why. Grayscale JPEGs are counted (and listed in the JSON) and expanded to
  three equal channels when read (:func:`semcolor.datamodules.io.read_rgb`).
* the **sample**: ``{"input": (1,H,W) gray, "target": (3,H,W) RGB, "name": file stem, "label": class}``.

Split rule (documented so it can be reproduced without this code): in each class folder the image files
are sorted in natural order (``airport_2`` before ``airport_10``) and permuted with
``numpy.random.default_rng([seed, zlib.crc32(class_name)])``; with ``n`` files and ratios
``(train, val, test) = (3, 1, 1)``, ``n_val = floor(n/5 + 0.5)``, ``n_test = floor(n/5 + 0.5)``,
``n_train = n - n_val - n_test``; the first ``n_train`` permuted files go to train, the next ``n_val``
to val, the rest to test. Keying the generator by class name makes each class's split independent of
which other classes are present. Split files hold one path per line relative to the image root
(``Airport/airport_1.jpg``), sorted; a line may also be a bare file name (the published RESISC45 lists'
form), resolved by file name.

Where split files go (``split_dir=None``): existing files in the root are used, else existing files in
the cache folder (``$SEMCOLOR_CACHE`` or ``$XDG_CACHE_HOME`` or ``~/.cache``, then
``semcolor/splits/{prefix}-{hash of the root path}``); new files are written to the root when it is
writable, else to that cache folder.

Grayscale conversion (``gray``): JSDCGAN was implemented in TensorFlow (Wang et al. 2022, Sec. 4.2) and does
not state its conversion; TensorFlow's ``rgb_to_grayscale`` uses the ITU-R BT.601 luma weights, so the
default is ``"bt601"``: Pillow's ``convert("L")``, ``L = R*299/1000 + G*587/1000 + B*114/1000``
rounded to 8 bits. ``"bt709"`` gives ``round(0.2126 R + 0.7152 G + 0.0722 B)`` (multipath's rule,
Wang et al. 2025, Sec. 2.1). Both act on the gamma-encoded 8-bit values (luma, not linear luminance) and are
rounded to 8 bits, i.e. the input is what an 8-bit grayscale file would hold.

``gray_from_rgb`` and the split-file helpers are also used by the street-scene datasets (GTA5); they
would sit better in a shared module (``transforms.py`` / a ``splits.py``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import albumentations as A
import cv2
import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from semcolor.datamodules.base import SPLITS
from semcolor.datamodules.io import is_data_file, is_image_file, read_rgb
from semcolor.datamodules.transforms import image_to_tensor
from semcolor.errors import DatasetLayoutError, DatasetNotFoundError

GrayStandard = Literal["bt601", "bt709"]

#: BT.709 luma weights (R, G, B), multipath Wang et al. 2025, Sec. 2.1
BT709_WEIGHTS = (0.2126, 0.7152, 0.0722)


# ------------------------------------------------------------------------------------------------
# grayscale
# ------------------------------------------------------------------------------------------------
def gray_from_rgb(rgb: np.ndarray, standard: GrayStandard = "bt601") -> np.ndarray:
    """8-bit RGB ``(H, W, 3)`` -> 8-bit luma ``(H, W)``.

    ``"bt601"``: Pillow ``convert("L")`` (``R*299/1000 + G*587/1000 + B*114/1000``, TensorFlow's
    ``rgb_to_grayscale`` weights). ``"bt709"``: ``round(0.2126 R + 0.7152 G + 0.0722 B)``.
    Both on gamma-encoded values, rounded to uint8.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"gray_from_rgb expects (H, W, 3), got shape {rgb.shape}")
    if standard == "bt601":
        return np.array(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).convert("L"))
    if standard == "bt709":
        y = rgb.astype(np.float32) @ np.asarray(BT709_WEIGHTS, dtype=np.float32)
        return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)
    raise ValueError(f"gray must be 'bt601' or 'bt709', got {standard!r}")


# ------------------------------------------------------------------------------------------------
# split files (shared with gta5.py)
# ------------------------------------------------------------------------------------------------
def default_cache_dir(prefix: str, root: str | Path) -> Path:
    """Per-root cache folder for split files when the dataset root is read-only."""
    base = os.environ.get("SEMCOLOR_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:10]
    return Path(base) / "semcolor" / "splits" / f"{prefix}-{digest}"


def split_file(folder: Path, prefix: str, split: str) -> Path:
    return Path(folder) / f"{prefix}-{split}.txt"


def meta_file(folder: Path, prefix: str) -> Path:
    return Path(folder) / f"{prefix}-split.json"


def _existing(folder: Path, prefix: str, splits: Sequence[str]) -> list[str]:
    return [s for s in splits if split_file(folder, prefix, s).is_file()]


def locate_split_dir(
    root: str | Path, split_dir: str | Path | None, prefix: str, splits: Sequence[str] = SPLITS
) -> tuple[Path, bool]:
    """Folder of the split files and whether they already exist there.

    With ``split_dir`` given, that folder. Otherwise the root if it holds the files, else the cache
    folder if it does, else the root when writable, else the cache folder. A folder holding only some
    of the files raises :class:`DatasetLayoutError` (never guess which half is stale).
    """
    root = Path(root)
    cache = default_cache_dir(prefix, root)
    candidates = [Path(split_dir)] if split_dir is not None else [root, cache]
    for folder in candidates:
        found = _existing(folder, prefix, splits)
        if found and len(found) < len(splits):
            missing = [split_file(folder, prefix, s).name for s in splits if s not in found]
            raise DatasetLayoutError(
                f"split files in '{folder}' are incomplete: found "
                f"{[split_file(folder, prefix, s).name for s in found]} but not {missing}; "
                "restore them or delete them all to have them regenerated"
            )
        if found:
            return folder, True
    if split_dir is not None:
        return Path(split_dir), False
    return (root if os.access(root, os.W_OK) else cache), False


def read_list(path: str | Path) -> list[str]:
    """One entry per line; blank lines and ``#`` comments skipped."""
    lines = Path(path).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _write_new(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically unless ``path`` exists (never overwrite). True if written."""
    if path.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if path.exists():  # another process finished first (same deterministic content)
            return False
        os.replace(tmp, path)
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_split_files(
    folder: str | Path, prefix: str, lists: dict[str, list[str]], meta: dict[str, Any] | None = None
) -> Path:
    """Write ``{prefix}-{split}.txt`` (and ``{prefix}-split.json`` with ``meta``); existing files are kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, names in lists.items():
        _write_new(split_file(folder, prefix, split), "".join(f"{n}\n" for n in names))
    if meta is not None:
        _write_new(meta_file(folder, prefix), json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return folder


def read_meta(folder: str | Path, prefix: str) -> dict[str, Any]:
    path = meta_file(Path(folder), prefix)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetLayoutError(f"cannot parse split record '{path}': expected JSON ({exc})") from exc


def check_disjoint(lists: dict[str, list[str]], where: str) -> None:
    """Raise :class:`DatasetLayoutError` when a file appears in two splits."""
    seen: dict[str, str] = {}
    for split, names in lists.items():
        for n in names:
            if n in seen and seen[n] != split:
                raise DatasetLayoutError(f"'{n}' is in both the {seen[n]} and {split} split ({where})")
            seen[n] = split


# ------------------------------------------------------------------------------------------------
# listing
# ------------------------------------------------------------------------------------------------
def natural_key(name: str) -> tuple:
    """Sort key with numbers compared as numbers: ``a_2`` < ``a_10``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name))


_SKIP_DIRS = ("__MACOSX",)


@dataclass
class ClassFolderListing:
    """What is on disk: class folders, their images (relative paths), ignored files."""

    image_root: Path
    classes: list[str]
    files: dict[str, list[str]]
    non_image_files: list[str] = field(default_factory=list)
    empty_classes: list[str] = field(default_factory=list)

    def all_files(self) -> list[str]:
        return [f for c in self.classes for f in self.files[c]]


def list_class_folders(
    image_root: Path, *, dataset: str, root: str | Path, expected: str, known_classes: Sequence[str] = ()
) -> ClassFolderListing:
    """List ``{image_root}/{class}/*`` image files (natural order); warn about oddities.

    Raises :class:`DatasetNotFoundError` when the folder is missing or holds no class folder with
    images. Non-image files are ignored (counted, one warning); empty class folders are warned about
    (they keep their label index but contribute no samples); folders that are not one of the known
    classes are warned about (still used).
    """
    if not image_root.is_dir():
        raise DatasetNotFoundError(dataset, root, expected, f"folder '{image_root}' does not exist")
    class_dirs = sorted(
        (d for d in image_root.iterdir() if d.is_dir() and not d.name.startswith(".") and d.name not in _SKIP_DIRS),
        key=lambda d: d.name,
    )
    files: dict[str, list[str]] = {}
    non_image: list[str] = []
    for d in class_dirs:
        imgs = []
        for f in d.iterdir():
            if is_image_file(f) and is_data_file(f):
                imgs.append(f"{d.name}/{f.name}")
            elif not f.name.startswith("."):
                non_image.append(f"{d.name}/{f.name}")
        files[d.name] = sorted(imgs, key=natural_key)
    if not any(files.values()):
        loose = [f.name for f in image_root.iterdir() if f.is_file() and is_image_file(f)]
        detail = f"no class folder with images under '{image_root}'"
        if loose:
            detail += f"; {len(loose)} images lie directly in it, but they must sit in one folder per class"
        elif len(class_dirs) == 1:
            detail += f"; did you mean root='{class_dirs[0]}'?"
        raise DatasetNotFoundError(dataset, root, expected, detail)
    classes = [d.name for d in class_dirs]
    empty = [c for c in classes if not files[c]]
    if non_image:
        warnings.warn(
            f"{dataset}: ignored {len(non_image)} non-image file(s) in the class folders of '{image_root}' "
            f"(e.g. '{non_image[0]}')",
            stacklevel=3,
        )
    for c in empty:
        warnings.warn(
            f"{dataset}: class folder '{image_root / c}' has no images; it keeps its label index but "
            "contributes no samples",
            stacklevel=3,
        )
    unknown = [c for c in classes if known_classes and c not in known_classes]
    if unknown:
        warnings.warn(
            f"{dataset}: folder(s) {unknown[:5]} in '{image_root}' are not {dataset} classes; "
            "they are used as extra classes",
            stacklevel=3,
        )
    return ClassFolderListing(image_root, classes, files, non_image, empty)


# ------------------------------------------------------------------------------------------------
# scan and split
# ------------------------------------------------------------------------------------------------
def scan_images(image_root: Path, relpaths: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Decode every file at reduced scale; return ``({corrupt file: reason}, [grayscale files])``.

    JPEG ``draft`` decoding at 1/8 scale still parses the whole stream (truncation is caught) at a
    fraction of the cost (~2-5 ms per 600x600 AID file).
    """
    corrupt: dict[str, str] = {}
    gray: list[str] = []
    for rel in relpaths:
        try:
            with Image.open(image_root / rel) as img:
                img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
                img.load()
                if img.mode in ("L", "LA", "I", "I;16", "1"):
                    gray.append(rel)
        except Exception as exc:  # Pillow raises many types for broken files
            corrupt[rel] = f"{type(exc).__name__}: {exc}"
    return corrupt, gray


def split_counts(n: int, ratios: Sequence[float]) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)`` for ``n`` files and ratios ``(train, val, test)`` (see module doc)."""
    total = float(sum(ratios))
    n_val = int(math.floor(n * ratios[1] / total + 0.5))
    n_test = int(math.floor(n * ratios[2] / total + 0.5))
    n_val = min(n_val, n)
    n_test = min(n_test, n - n_val)
    return n - n_val - n_test, n_val, n_test


def per_class_split(
    files: dict[str, list[str]], seed: int = 0, ratios: Sequence[float] = (3, 1, 1)
) -> dict[str, list[str]]:
    """The seeded per-class split (module doc); each returned list is sorted naturally."""
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for cls in sorted(files):
        names = sorted(files[cls], key=natural_key)
        rng = np.random.default_rng([int(seed), zlib.crc32(cls.encode())])
        perm = [names[i] for i in rng.permutation(len(names))]
        n_train, n_val, _ = split_counts(len(names), ratios)
        out["train"] += perm[:n_train]
        out["val"] += perm[n_train : n_train + n_val]
        out["test"] += perm[n_train + n_val :]
    return {s: sorted(v, key=natural_key) for s, v in out.items()}


@dataclass
class SplitResult:
    """Files of each split (relative paths) and where they came from."""

    lists: dict[str, list[str]]
    listing: ClassFolderListing
    source: str  # "created" | "read" | "published"
    folder: Path | None
    corrupt: dict[str, str] = field(default_factory=dict)
    grayscale: list[str] = field(default_factory=list)


def prepare_class_splits(
    *,
    dataset: str,
    root: str | Path,
    image_root: Path,
    expected: str,
    prefix: str,
    split_dir: str | Path | None = None,
    seed: int = 0,
    ratios: Sequence[float] = (3, 1, 1),
    known_classes: Sequence[str] = (),
    published: dict[str, Path] | None = None,
    verify_images: bool = True,
) -> SplitResult:
    """List the class folders and return the split lists, creating and writing them on first use.

    ``published``: optional ``{split: list file}`` (NWPU's resisc45-*.txt) used instead of our split.
    ``verify_images``: decode every image when the split files are created (corrupt ones are skipped
    and recorded); ``False`` trusts the files (a corrupt one then fails when read, naming the file).
    """
    listing = list_class_folders(image_root, dataset=dataset, root=root, expected=expected, known_classes=known_classes)
    on_disk = listing.all_files()
    if published is not None:
        raw = {s: read_list(p) for s, p in published.items()}
        lists = _resolve(raw, on_disk, {s: str(p) for s, p in published.items()}, dataset)
        check_disjoint(lists, f"published lists in '{Path(root)}'")
        return SplitResult(lists, listing, "published", None)

    folder, exists = locate_split_dir(root, split_dir, prefix)
    if exists:
        raw = {s: read_list(split_file(folder, prefix, s)) for s in SPLITS}
        lists = _resolve(raw, on_disk, {s: str(split_file(folder, prefix, s)) for s in SPLITS}, dataset)
        check_disjoint(lists, f"split files in '{folder}'")
        meta = read_meta(folder, prefix)
        corrupt = dict(meta.get("corrupt_skipped", {}))
        gray = list(meta.get("grayscale", []))
        if meta and (meta.get("seed") != seed or list(meta.get("ratios", [])) != [float(r) for r in ratios]):
            warnings.warn(
                f"{dataset}: using the existing split files in '{folder}', made with seed={meta.get('seed')} "
                f"ratios={meta.get('ratios')}, not seed={seed} ratios={list(ratios)}; delete them or pass "
                "another split_dir to make a new split",
                stacklevel=2,
            )
        if corrupt:
            warnings.warn(
                f"{dataset}: {len(corrupt)} corrupt image(s) were left out of the split "
                f"(listed in '{meta_file(folder, prefix)}', e.g. '{next(iter(corrupt))}')",
                stacklevel=2,
            )
        listed = sum(len(v) for v in lists.values())
        unlisted = len(on_disk) - listed - len(set(corrupt) & set(on_disk))
        if unlisted > 0:
            warnings.warn(
                f"{dataset}: {unlisted} image(s) under '{image_root}' are in no split file of '{folder}'",
                stacklevel=2,
            )
        return SplitResult(lists, listing, "read", folder, corrupt, gray)

    corrupt, gray = scan_images(image_root, on_disk) if verify_images else ({}, [])
    for rel, why in corrupt.items():
        warnings.warn(f"{dataset}: skipping corrupt image '{image_root / rel}' ({why})", stacklevel=2)
    if gray:
        warnings.warn(
            f"{dataset}: {len(gray)} grayscale image(s) (e.g. '{gray[0]}') are expanded to three equal "
            "channels",
            stacklevel=2,
        )
    good = {c: [f for f in fs if f not in corrupt] for c, fs in listing.files.items()}
    lists = per_class_split(good, seed, ratios)
    meta = {
        "dataset": dataset,
        "rule": "per class: natural sort, numpy default_rng([seed, crc32(class)]).permutation, "
        "n_val = n_test = floor(n*r/sum + 0.5), first n_train -> train, next n_val -> val, rest -> test",
        "seed": int(seed),
        "ratios": [float(r) for r in ratios],
        "counts": {s: len(v) for s, v in lists.items()},
        "corrupt_skipped": corrupt,
        "grayscale": gray,
        "verified": bool(verify_images),
    }
    write_split_files(folder, prefix, lists, meta)
    return SplitResult(lists, listing, "created", folder, corrupt, gray)


def _resolve(
    raw: dict[str, list[str]], on_disk: Sequence[str], sources: dict[str, str], dataset: str
) -> dict[str, list[str]]:
    """Map list entries (relative paths or bare file names) to relative paths of files on disk."""
    exact = set(on_disk)
    by_name: dict[str, str] = {}
    dup: set[str] = set()
    for rel in on_disk:
        base = rel.rsplit("/", 1)[-1]
        if base in by_name:
            dup.add(base)
        by_name[base] = rel
    out: dict[str, list[str]] = {}
    for split, entries in raw.items():
        res, missing = [], []
        for e in entries:
            e = e.replace("\\", "/")
            if e in exact:
                res.append(e)
            elif "/" not in e and e in by_name and e not in dup:
                res.append(by_name[e])
            else:
                missing.append(e)
        if missing:
            raise DatasetLayoutError(
                f"{dataset}: {len(missing)} entr{'y' if len(missing) == 1 else 'ies'} of '{sources[split]}' "
                f"name no image on disk (e.g. '{missing[0]}'); expected paths relative to the image folder "
                "or unique file names"
            )
        out[split] = res
    return out


# ------------------------------------------------------------------------------------------------
# dataset
# ------------------------------------------------------------------------------------------------
class SceneClassDataset(Dataset):
    """One split of a class-folder scene dataset as colorization samples.

    Subclasses (:class:`semcolor.datamodules.aid.AIDDataset`, :class:`semcolor.datamodules.nwpu.NWPUDataset`) set the
    layout: ``NAME``, ``EXPECTED``, ``PREFIX``, ``KNOWN_CLASSES``, :meth:`image_root` and
    :meth:`published_lists`.

    Args:
        root: dataset root as released (see the subclass).
        split: ``"train"``, ``"val"`` or ``"test"``.
        split_dir: where split files are read from / written to (``None``: module doc).
        seed: seed of the per-class split (only used when the split files are created).
        split_ratios: ``(train, val, test)`` weights; JSDCGAN's 3:1:1 (Wang et al. 2022, Sec. 4.1).
        resize: resize every image to ``resize x resize`` (``None``: keep). The U-Net needs sides that
            are multiples of ``2**depth``; 256 is the default of the DataModules.
        crop_size: square crop after resizing, random for train, centred otherwise (``None``: none).
        augment: random horizontal/vertical flips and 90-degree rotations on the train split. The paper
            states no augmentation; remote-sensing scenes have no canonical orientation, so these
            geometric ones are on by default (input and target stay paired: gray is derived after).
        gray: ``"bt601"`` (default, module doc) or ``"bt709"``.
        classes: class folders to use, in label order (``None``: every class folder, sorted by name;
            with the full dataset the label is the index in the sorted official class list).
        verify_images: decode all images when creating the split files (corrupt ones are skipped).
    """

    NAME = "scene"
    EXPECTED = "{root}/{class}/*.jpg"
    PREFIX = "scene"
    KNOWN_CLASSES: tuple[str, ...] = ()

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        split_dir: str | Path | None = None,
        seed: int = 0,
        split_ratios: Sequence[float] = (3, 1, 1),
        resize: int | None = 256,
        crop_size: int | None = None,
        augment: bool = True,
        gray: GrayStandard = "bt601",
        classes: Sequence[str] | None = None,
        verify_images: bool = True,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if gray not in ("bt601", "bt709"):
            raise ValueError(f"gray must be 'bt601' or 'bt709', got {gray!r}")
        if len(split_ratios) != 3 or min(split_ratios) < 0 or sum(split_ratios) <= 0:
            raise ValueError(f"split_ratios must be three non-negative weights (train, val, test), got {split_ratios}")
        if resize is not None and crop_size is not None and crop_size > resize:
            raise ValueError(f"crop_size {crop_size} is larger than resize {resize}")
        self.root, self.split, self.gray = Path(root), split, gray
        result = self.prepare(
            root,
            split_dir=split_dir,
            seed=seed,
            split_ratios=split_ratios,
            verify_images=verify_images,
            **self._layout_options(),
        )
        listing = result.listing
        self.classes = list(classes) if classes is not None else list(listing.classes)
        missing = [c for c in self.classes if c not in listing.files]
        if missing:
            raise DatasetNotFoundError(
                self.NAME, root, self.EXPECTED, f"class folder(s) {missing} not found in '{listing.image_root}'"
            )
        index = {c: i for i, c in enumerate(self.classes)}
        self.image_root = listing.image_root
        self.items: list[tuple[str, int]] = [
            (rel, index[rel.split("/", 1)[0]]) for rel in result.lists[split] if rel.split("/", 1)[0] in index
        ]
        self.split_source, self.split_folder = result.source, result.folder
        gray_set = set(result.grayscale)
        #: counts of what was ignored / skipped / expanded (for logs and tests)
        self.report = {
            "non_image_files": len(listing.non_image_files),
            "corrupt_skipped": len(result.corrupt),
            "grayscale": sum(1 for rel, _ in self.items if rel in gray_set),
            "empty_classes": list(listing.empty_classes),
        }
        self.corrupt = dict(result.corrupt)
        self.transform = self._build_transform(resize, crop_size, augment and split == "train", split == "train")

    # -- layout hooks -----------------------------------------------------------------------------
    def _layout_options(self) -> dict[str, Any]:
        """Extra keyword arguments of :meth:`published_lists` (set by subclasses before ``__init__``)."""
        return {}

    @classmethod
    def image_root_of(cls, root: Path) -> Path:
        """Folder holding the class folders."""
        return Path(root)

    @classmethod
    def published_lists(cls, root: Path, **layout: Any) -> dict[str, Path] | None:
        """``{split: list file}`` when published split lists are present and used."""
        return None

    @classmethod
    def prepare(
        cls,
        root: str | Path,
        *,
        split_dir: str | Path | None = None,
        seed: int = 0,
        split_ratios: Sequence[float] = (3, 1, 1),
        verify_images: bool = True,
        **layout: Any,
    ) -> SplitResult:
        """List the dataset and create (first use) or read its split files."""
        root = Path(root)
        if not root.is_dir():
            raise DatasetNotFoundError(cls.NAME, root, cls.EXPECTED, "folder does not exist")
        return prepare_class_splits(
            dataset=cls.NAME,
            root=root,
            image_root=cls.image_root_of(root),
            expected=cls.EXPECTED,
            prefix=cls.PREFIX,
            split_dir=split_dir,
            seed=seed,
            ratios=split_ratios,
            known_classes=cls.KNOWN_CLASSES,
            published=cls.published_lists(root, **layout),
            verify_images=verify_images,
        )

    # -- samples ----------------------------------------------------------------------------------
    @staticmethod
    def _build_transform(resize: int | None, crop: int | None, augment: bool, train: bool) -> A.Compose | None:
        ops: list[A.BasicTransform] = []
        if resize is not None:
            ops.append(A.Resize(resize, resize, interpolation=cv2.INTER_AREA))
        if crop is not None:
            ops.append(A.RandomCrop(crop, crop) if train else A.CenterCrop(crop, crop))
        if augment:
            ops += [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.RandomRotate90(p=0.5)]
        return A.Compose(ops) if ops else None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        rel, label = self.items[i]
        rgb = read_rgb(self.image_root / rel)  # grayscale files expand to 3 equal channels
        if self.transform is not None:
            rgb = self.transform(image=rgb)["image"]
        gray = gray_from_rgb(rgb, self.gray)
        return {
            "input": image_to_tensor(gray),
            "target": image_to_tensor(rgb),
            "name": Path(rel).stem,
            "label": label,
        }
