"""Reading single images with errors that name the file, and the one check of pixel formats.

Pillow does the decoding; this module turns its exceptions into :class:`CorruptFileError`. Every
reader of the suite (these Pillow readers, the rasterio readers of :mod:`semcolor.datamodules.raster`,
Sentinel-2's bands) checks what a file holds through the same two functions:

* :func:`check_pixels`: bit depth, sample type and band count against what the reader expects (a
  16-bit RGB PNG inside an 8-bit dataset is refused, as a 16-bit GeoTIFF is);
* :func:`check_values`: the value range (finite, float data in [0, 1], integers within
  ``bit_depth``), which :func:`semcolor.datamodules.raster.to_unit_float` applies to every window;

and :func:`check_opaque` refuses a transparent pixel of an alpha band (its colour is undefined).
Each raises a :class:`~semcolor.errors.SemcolorError` of one line naming the file and what was expected.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
from PIL import Image

from semcolor.errors import CorruptFileError, DatasetLayoutError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: numpy sample type of each Pillow mode (the bands follow from ``Image.getbands()``)
_PIL_DTYPE = {"1": np.bool_, "I;16": np.uint16, "I;16B": np.uint16, "I;16L": np.uint16, "I;16N": np.uint16,
              "I": np.int32, "F": np.float32}


def is_image_file(path: str | Path) -> bool:
    """True for file names with an image suffix (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_data_file(path: str | Path) -> bool:
    """``path.is_file()``, except that a symbolic link that loops or points nowhere raises
    :class:`DatasetLayoutError` naming it: skipped silently, it would shrink a split without a word."""
    import errno
    import os

    path = Path(path)
    if path.is_symlink() and not path.exists():
        try:
            os.stat(path)
            why = "cannot be followed"
        except OSError as exc:
            why = "loops" if exc.errno == errno.ELOOP else "points to a missing file"
        raise DatasetLayoutError(f"'{path}' is a symbolic link that {why} (-> '{os.readlink(path)}'); expected "
                                 f"an image file")
    return path.is_file()


def describe_samples(dtype: np.dtype | str | type, count: int) -> str:
    """``"3 bands of 16-bit unsigned integers"``: what a file holds, in words."""
    dt = np.dtype(dtype)
    if dt == np.bool_:
        kind = "1-bit samples"
    else:
        name = {"u": "unsigned integers", "i": "signed integers", "f": "floats"}.get(dt.kind, dt.name)
        kind = f"{dt.itemsize * 8}-bit {name}"
    return f"{count} band{'s' if count != 1 else ''} of {kind}"


def check_pixels(
    path: str | Path,
    dtype: np.dtype | str | type,
    count: int,
    *,
    bits: Collection[int] | None = (8,),
    kinds: str = "u",
    bands: Collection[int] | None = (3,),
    expected: str = "an 8-bit RGB image",
    hint: str = "",
) -> None:
    """Refuse a file whose samples are not ``bits`` wide, of a kind in ``kinds`` (numpy kinds: ``"u"``
    unsigned, ``"i"`` signed, ``"f"`` float), or whose band count is not in ``bands`` (``None``: any).

    Raises:
        DatasetLayoutError: ``'<path>' holds 3 bands of 16-bit unsigned integers; expected an 8-bit RGB
            image`` (+ ``hint``), one line.
    """
    dt = np.dtype(dtype)
    wrong_type = dt == np.bool_ or dt.kind not in kinds or (bits is not None and dt.itemsize * 8 not in bits)
    if wrong_type or (bands is not None and count not in bands):
        raise DatasetLayoutError(f"'{path}' holds {describe_samples(dt, count)}; expected {expected}"
                                 + (f" ({hint})" if hint else ""))


def check_values(arr: np.ndarray, path: str | Path, *, bit_depth: int | None = None, where: str = "") -> None:
    """Refuse values a reader would otherwise clip or pass on silently: NaN / infinities, float data
    outside [0, 1] (float rasters are taken as already scaled), integers above ``2**bit_depth - 1``.
    ``where`` locates the values in the message (e.g. ``" in window rows 0:256, cols 0:256"``)."""
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if not finite.all():
            bad = int((~finite).sum())
            raise CorruptFileError(path, "finite pixel values", f"{bad} NaN/inf values{where or ' in the window read'}")
        if bit_depth is None and arr.size and (float(arr.min()) < 0.0 or float(arr.max()) > 1.0):
            raise DatasetLayoutError(
                f"'{path}' holds float values from {float(arr.min()):g} to {float(arr.max()):g}{where}; float "
                f"data must already be in [0, 1] (or give bit_depth= to scale by 2**bits - 1)")
        return
    if bit_depth is not None and np.issubdtype(arr.dtype, np.integer) and arr.size:
        top = int(arr.max())
        if top > 2**bit_depth - 1:
            raise DatasetLayoutError(
                f"'{path}' holds values up to {top}{where}, above bit_depth={bit_depth} (max {2**bit_depth - 1})")


def check_opaque(alpha: np.ndarray, path: str | Path, where: str = "") -> None:
    """Refuse transparent pixels (alpha below its maximum): their colour is undefined, so an image to
    learn or score colours from must be fully opaque. An alpha band that is opaque everywhere is dropped."""
    top = np.iinfo(alpha.dtype).max if np.issubdtype(alpha.dtype, np.integer) else 1.0
    n = int((alpha < top).sum())
    if n:
        raise DatasetLayoutError(
            f"'{path}' has an alpha (mask) band with {n} transparent pixel(s){where}; expected a fully opaque "
            f"image (fill or crop the masked area, or drop the alpha band)")


def _pil_dtype(img: Image.Image) -> np.dtype:
    """The sample type of an opened (not yet loaded) Pillow image: Pillow opens a 16-bit RGB PNG as an
    8-bit "RGB" image and drops the low bytes, so the raw mode of the decoder says what the file holds."""
    raw = img.tile[0][3] if img.tile and len(img.tile[0]) > 3 else ""
    raw = raw[0] if isinstance(raw, tuple) else raw
    if isinstance(raw, str) and ";16" in raw:
        return np.dtype(np.uint16)
    return np.dtype(_PIL_DTYPE.get(img.mode, np.uint8))


def read_rgb(path: str | Path, *, allow_gray: bool = True) -> np.ndarray:
    """Read an 8-bit image as ``uint8`` ``(H, W, 3)``.

    Grayscale files are expanded to three equal channels when ``allow_gray`` (a grayscale JPEG in an
    RGB dataset is common); palette files are converted to RGB; an alpha band is dropped when it is
    opaque everywhere and refused otherwise (:func:`check_opaque`). Anything but 8-bit samples (a 16-bit
    PNG, a 1-bit or float image) is refused (:func:`check_pixels`).
    """
    expected = "an 8-bit RGB image" + (" (or 8-bit grayscale)" if allow_gray else "")
    with _open(path, expected) as img:
        bands = len(img.getbands())
        gray = img.mode in ("L", "LA", "I;16", "I;16B", "I;16L", "I;16N", "I", "F", "1")
        check_pixels(path, img.dtype, bands, bands=(1, 2, 3, 4) if allow_gray else (3, 4), expected=expected,
                     hint="convert it to 8 bits per band" if img.dtype != np.uint8 else "")
        if gray and not allow_gray:
            raise DatasetLayoutError(f"'{path}' is single-channel (mode {img.mode}); expected {expected}")
        if img.mode not in ("RGB", "L", "P", "RGBA", "LA", "PA"):
            raise DatasetLayoutError(f"'{path}' is a {img.mode} image; expected {expected}")
        if "A" in img.mode or (img.mode == "P" and "transparency" in img.info):
            rgba = np.asarray(img.convert("RGBA"))
            check_opaque(rgba[..., 3], path)
            return np.ascontiguousarray(rgba[..., :3])
        arr = np.asarray(img.convert("RGB"))
    return arr


def read_label(path: str | Path) -> np.ndarray:
    """Read a label image as integer indices ``(H, W)`` without colour conversion.

    Palette ("P") and "L" files give their stored indices (never ``convert()``: that would expand a
    palette to colours); 16-bit files keep their values.
    """
    expected = "a single-channel or palette label image (8 or 16 bits)"
    with _open(path, expected) as img:
        if img.mode not in ("P", "L", "I;16", "I", "I;16B"):
            check_pixels(path, img.dtype, len(img.getbands()), bits=(8, 16), kinds="ui", bands=(1,),
                         expected=expected)
            raise DatasetLayoutError(f"'{path}' is a {img.mode} image; expected {expected}")
        arr = np.asarray(img)
    return arr.astype(np.int64) if arr.dtype != np.uint8 else arr


class _open:
    """Context manager: open with Pillow, force decoding, re-raise failures naming the file. The image
    gets ``dtype``, the sample type the file holds (:func:`_pil_dtype`)."""

    def __init__(self, path: str | Path, expected: str) -> None:
        self.path, self.expected = Path(path), expected

    def __enter__(self) -> Image.Image:
        if not self.path.is_file():
            raise CorruptFileError(self.path, self.expected, "file does not exist")
        try:
            self.img = Image.open(self.path)
            dtype = _pil_dtype(self.img)
            self.img.load()
        except Exception as exc:  # Pillow raises many types for truncated / foreign files
            _explain_foreign(self.path, self.expected)
            raise CorruptFileError(self.path, self.expected, f"{type(exc).__name__}: {exc}") from exc
        self.img.dtype = dtype  # type: ignore[attr-defined]
        return self.img

    def __exit__(self, *exc: object) -> None:
        self.img.close()


def _explain_foreign(path: Path, expected: str) -> None:
    """When Pillow cannot open a TIFF (it reads no 16-bit RGB TIFF), ask GDAL what it holds and refuse
    it for that reason instead of calling it corrupt; a file GDAL cannot read either stays corrupt."""
    if path.suffix.lower() not in (".tif", ".tiff"):
        return
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as src:
            dtype, count = src.dtypes[0], src.count
    except (RasterioError, OSError):
        return
    check_pixels(path, dtype, count, bands=None, expected=expected)
