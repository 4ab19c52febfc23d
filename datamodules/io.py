"""Reading and writing single images with errors that name the file.

Pillow does the decoding; this module only turns its exceptions into :class:`CorruptFileError`
and checks mode / size expectations, so every dataset reports bad files the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from semcolor.errors import CorruptFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def is_image_file(path: str | Path) -> bool:
    """True for file names with an image suffix (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_rgb(path: str | Path, *, allow_gray: bool = True) -> np.ndarray:
    """Read an 8-bit image as ``uint8`` ``(H, W, 3)``.

    Grayscale files are expanded to three equal channels when ``allow_gray`` (a grayscale JPEG in an
    RGB dataset is common); palette and RGBA files are converted to RGB.
    """
    with _open(path, "an 8-bit RGB image") as img:
        if img.mode in ("L", "I;16", "I") and not allow_gray:
            raise CorruptFileError(path, "an RGB image", f"it is single-channel, mode {img.mode}")
        arr = np.asarray(img.convert("RGB"))
    return arr


def read_label(path: str | Path) -> np.ndarray:
    """Read a label image as integer indices ``(H, W)`` without colour conversion.

    Palette ("P") and "L" files give their stored indices (never ``convert()``: that would expand a
    palette to colours); 16-bit files keep their values.
    """
    with _open(path, "a single-channel or palette label image") as img:
        if img.mode not in ("P", "L", "I;16", "I", "I;16B"):
            raise CorruptFileError(path, "a single-channel or palette label image", f"mode {img.mode}")
        arr = np.asarray(img)
    return arr.astype(np.int64) if arr.dtype != np.uint8 else arr


class _open:
    """Context manager: open with Pillow, force decoding, re-raise failures naming the file."""

    def __init__(self, path: str | Path, expected: str) -> None:
        self.path, self.expected = Path(path), expected

    def __enter__(self) -> Image.Image:
        if not self.path.is_file():
            raise CorruptFileError(self.path, self.expected, "file does not exist")
        try:
            self.img = Image.open(self.path)
            self.img.load()
        except Exception as exc:  # Pillow raises many types for truncated / foreign files
            raise CorruptFileError(self.path, self.expected, f"{type(exc).__name__}: {exc}") from exc
        return self.img

    def __exit__(self, *exc: object) -> None:
        self.img.close()
