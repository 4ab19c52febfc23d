"""The GeoTIFF end of whole-scene prediction: output values, the file profile, block-row writes, DDP parts,
COG, and the temporary file renamed over OUTPUT only when complete.

:class:`GeoTIFFSink` receives final scene rows top to bottom (from
:class:`~semcolor.scenes.accumulator.StripAccumulator`) and writes whole block rows of the output (rasterio
windowed writes aligned with the GeoTIFF's internal tiles, so no compressed tile is ever rewritten), from
a buffer of ``bands * block * width`` values. After each written block row, a
:class:`~semcolor.cpu_memory.HeapTrimmer` may return the heap's free pages to the OS.

Output: a tiled, compressed GeoTIFF with the input's CRS, transform and nodata and the selected input
bands' descriptions (when the model returns as many bands as were selected; else R, G, B for three
bands), or a Cloud-Optimised GeoTIFF (GDAL's COG driver, with overviews) when ``cog=True``. It is
written to a hidden temporary file next to OUTPUT and renamed over OUTPUT only when complete, so an
interrupted or failed run never leaves a partial file at OUTPUT (a killed process can leave the hidden
``.<name>.<token>.*.tif`` files; they are never read). An existing OUTPUT is kept unless ``overwrite``.

Nodata: pixels the input marks as nodata are written as the output's nodata value: the input's when the
output type can hold it, else 0. Valid pixels whose predicted value equals the nodata value are moved one
level away from it, so no valid pixel reads back as nodata.

Several ranks (DDP): each writes the scene rows it owns to its own temporary GeoTIFF (no two processes
ever write one file); rank 0 then copies the bands of rows into the final file block row by block row and
deletes the parts. In resumable mode the rows go to the chunk files of a
:class:`~semcolor.scenes.resume.ChunkStore` instead, which rank 0 copies the same way.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from semcolor.errors import SemcolorError

OutputDtype = Literal["uint8", "uint16", "float32"]
COMPRESSIONS = ("deflate", "lzw", "zstd", "none")


class OutputError(SemcolorError):
    """OUTPUT cannot be written: its folder is missing, it exists (without overwrite), or it is a folder."""


def check_output(path: str | Path, overwrite: bool = False) -> Path:
    """Validate an output path before any work is done; return it as a Path."""
    p = Path(path)
    if p.suffix.lower() not in (".tif", ".tiff"):
        raise OutputError(f"OUTPUT '{p}' must be a GeoTIFF path ending in .tif or .tiff")
    if p.is_dir():
        raise OutputError(f"OUTPUT '{p}' is a folder; give a file path ending in .tif")
    if not p.parent.is_dir():
        raise OutputError(f"the folder of OUTPUT '{p}' does not exist: create '{p.parent}' first")
    if p.exists() and not overwrite:
        raise OutputError(f"OUTPUT '{p}' exists; remove it or pass overwrite=True "
                          f"(CLI: --trainer.callbacks.init_args.overwrite=true)")
    return p


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence NotGeoreferencedWarning: plain (non-georeferenced) rasters are legitimate input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


class GeoTIFFSink:
    """Writes one rank's final rows of a scene, and (rank 0) assembles OUTPUT.

    Args:
        output: OUTPUT (checked by :func:`check_output` beforehand).
        scene: the input's :class:`~semcolor.scenes.datamodule.SceneInfo` (CRS, transform, nodata, mask,
            band descriptions).
        grid: the scene's :class:`~semcolor.scenes.datamodule.SceneGrid` (height and width).
        plan: this rank's :class:`~semcolor.scenes.datamodule.RankPlan` (the rows it owns).
        rank, world: this process's rank and the number of ranks.
        token: the same on every rank; names the temporary files ``.<OUTPUT name>.<token>.*.tif``.
        dtype, compress, compress_level, block_size, cog, overwrite: as :class:`~semcolor.scenes.writer.SceneWriter`.
        store: resumable mode: rows go into this store's chunk files.
        trimmer: called after every written block row (e.g. :class:`~semcolor.cpu_memory.HeapTrimmer`).
    """

    def __init__(self, output: Path, scene: Any, grid: Any, plan: Any, rank: int, world: int, token: str, *,
                 dtype: OutputDtype = "uint8", compress: str = "deflate", compress_level: int | None = 1,
                 block_size: int = 256, cog: bool = False, overwrite: bool = False, store: Any = None,
                 trimmer: Any = None) -> None:
        self.output, self.scene, self.grid, self.plan = output, scene, grid, plan
        self.rank, self.world = rank, world
        self.dtype, self.compress, self.compress_level = dtype, compress, compress_level
        self.block_size, self.cog, self.overwrite = block_size, cog, overwrite
        self.store, self.trimmer = store, trimmer
        stem = f".{output.name}.{token}"
        self.final_tmp = output.with_name(f"{stem}.tmp.tif")
        self.cog_tmp = output.with_name(f"{stem}.cog.tif")
        self._stem = stem
        self.file = self.final_tmp if world == 1 else self.part(rank)
        self.origin = 0 if world == 1 else plan.own_start  # scene row of the file's row 0
        self.file_height = grid.height if world == 1 else plan.own_end - plan.own_start
        if store is not None:  # rows go to chunk files; the plan may start after earlier chunks
            own = grid.partition(world)[rank]
            self.origin, self.file_height = own.own_start, own.own_end - own.own_start
        self.tmp: list[Path] = []  # this rank's temporary files (deleted by cleanup)
        self.channels = 0
        self._dst: Any = None
        self._buf: np.ndarray | None = None
        self._buf_row0 = 0 if plan.empty else plan.own_start - self.origin  # file row of the buffer's first row
        self._buf_fill = 0

    def part(self, rank: int) -> Path:
        """The temporary file of ``rank``'s rows (several ranks)."""
        return self.output.with_name(f"{self._stem}.rank{rank}.tif")

    # ------------------------------------------------------------------------------------------------
    # output values and the file
    # ------------------------------------------------------------------------------------------------
    def out_nodata(self) -> float | None:
        if not self.scene.has_mask:
            return None
        nd = self.scene.nodata
        if self.dtype == "float32":
            return float("nan") if nd is None else float(nd)
        info = np.iinfo(self.dtype)
        if nd is not None and np.isfinite(nd) and float(nd).is_integer() and info.min <= nd <= info.max:
            return float(nd)
        return 0.0

    def convert(self, out: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
        """Blended values (``out``, a fresh float32 array, changed in place) -> the output type, nodata set."""
        if self.dtype == "float32":
            res = out.astype(np.float32, copy=False)
        else:  # in place: ``out`` is a fresh array
            top = float(np.iinfo(self.dtype).max)
            out *= top
            np.rint(out, out=out)
            np.clip(out, 0.0, top, out=out)
            res = out.astype(self.dtype)
        nd = self.out_nodata()
        if valid is not None and nd is not None:
            if self.dtype != "float32":
                top = np.iinfo(self.dtype).max
                res[(res == nd) & valid[None]] = nd + 1 if nd < top else nd - 1
            res[:, ~valid] = nd
        return res

    def profile(self, height: int, row0: int) -> dict[str, Any]:
        """The GTiff creation profile of a file holding scene rows ``row0 .. row0 + height``."""
        sc = self.scene
        prof: dict[str, Any] = dict(
            driver="GTiff", width=self.grid.width, height=height, count=self.channels, dtype=self.dtype,
            crs=sc.crs, transform=sc.transform @ rasterio.Affine.translation(0, row0),
            nodata=self.out_nodata(), tiled=True, blockxsize=self.block_size, blockysize=self.block_size,
            interleave="pixel", BIGTIFF="IF_SAFER", NUM_THREADS="ALL_CPUS",
        )
        if self.compress != "none":
            prof["compress"] = self.compress
            prof["predictor"] = 3 if self.dtype == "float32" else 2
            if self.compress_level is not None and self.compress in ("deflate", "zstd"):
                prof["zlevel" if self.compress == "deflate" else "zstd_level"] = self.compress_level
        if self.channels == 3 and self.dtype == "uint8":
            prof["photometric"] = "RGB"
        return prof

    def create(self, path: Path, height: int, row0: int) -> Any:
        """A new GeoTIFF at ``path`` for scene rows ``row0 .. row0 + height``, open for writing."""
        with quiet():
            return rasterio.open(path, "w", **self.profile(height, row0))

    def describe(self, dst: Any) -> None:
        """Band descriptions and colour interpretation of the final file."""
        descs: tuple[str | None, ...] = ()
        if len(self.scene.descriptions) == self.channels and any(self.scene.descriptions):
            descs = self.scene.descriptions
        elif self.channels == 3:
            descs = ("R", "G", "B")
        for b, d in enumerate(descs, start=1):
            if d:
                dst.set_band_description(b, d)
        if self.channels == 3:
            dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]

    # ------------------------------------------------------------------------------------------------
    # rows
    # ------------------------------------------------------------------------------------------------
    def open(self, channels: int) -> None:
        """The first window has ``channels`` bands: make the block-row buffer (and this rank's file)."""
        self.channels = channels
        self._buf = np.zeros((channels, self.block_size, self.grid.width), self.dtype)
        if self.store is None:
            self.tmp.append(self.file)
            self._dst = self.create(self.file, self.file_height, self.origin)
            if self.world == 1:
                self.describe(self._dst)

    def emit(self, row0: int, rows: np.ndarray) -> None:
        """Append final scene rows ``row0..`` to the output; write every completed block row."""
        buf = self._buf
        assert buf is not None
        f = row0 - self.origin
        if f != self._buf_row0 + self._buf_fill:
            raise RuntimeError(f"output rows are not contiguous: got file row {f}, expected "
                               f"{self._buf_row0 + self._buf_fill}")
        pos = 0
        while pos < rows.shape[1]:
            take = min(rows.shape[1] - pos, self.block_size - self._buf_fill)
            buf[:, self._buf_fill : self._buf_fill + take] = rows[:, pos : pos + take]
            self._buf_fill += take
            pos += take
            if self._buf_fill == self.block_size:
                self._write_buffer()

    def _write_buffer(self) -> None:
        if self._buf_fill == 0:
            return
        assert self._buf is not None
        rows = self._buf[:, : self._buf_fill]
        if self.store is not None:
            self.store.write(rows, self.origin + self._buf_row0, self.origin, self.origin + self.file_height,
                             self.create)
        else:
            self._dst.write(rows, window=Window(0, self._buf_row0, self.grid.width, self._buf_fill))
        self._buf_row0 += self._buf_fill
        self._buf_fill = 0
        if self.trimmer is not None:
            self.trimmer()  # keep RSS flat: heap fragmentation made it grow with the scene

    def finish(self) -> None:
        """This rank's last rows are in: write the last block row and close its file (or chunk)."""
        if self.store is not None:
            self._write_buffer()  # completes this rank's last chunk
            if self._buf_row0 != self.file_height or self.store.writing:
                self.cleanup()
                raise RuntimeError(f"wrote {self._buf_row0} of {self.file_height} rows")
        elif self._dst is not None:
            self._write_buffer()
            if self._buf_row0 != self.file_height:
                self.cleanup()
                raise RuntimeError(f"wrote {self._buf_row0} of {self.file_height} rows")
            self._dst.close()
            self._dst = None

    # ------------------------------------------------------------------------------------------------
    # OUTPUT (rank 0, after every rank finished)
    # ------------------------------------------------------------------------------------------------
    def assemble(self) -> None:
        """Rank 0: merge the ranks' parts or the resume chunks, make the COG, rename over OUTPUT.
        Every temporary file is deleted when this fails."""
        try:
            if self.store is not None:
                self._copy_rows(self.store.complete())
            elif self.world > 1:
                self._merge()
            result = self.final_tmp
            if self.cog:
                self.tmp.append(self.cog_tmp)
                rasterio.shutil.copy(
                    self.final_tmp, self.cog_tmp, driver="COG", COMPRESS=self.compress.upper(),
                    BLOCKSIZE=self.block_size, OVERVIEW_RESAMPLING="AVERAGE", BIGTIFF="IF_SAFER",
                    NUM_THREADS="ALL_CPUS", **self._cog_options())
                self.final_tmp.unlink()
                result = self.cog_tmp
            if self.output.exists() and not self.overwrite:  # appeared while predicting
                raise OutputError(f"OUTPUT '{self.output}' appeared while predicting; not overwritten")
            os.replace(result, self.output)
            self.tmp.clear()
            if self.store is not None:
                self.store.remove()
        except BaseException:
            self.cleanup()
            raise

    def hand_over(self) -> None:
        """Ranks > 0: rank 0 owns the parts from here on."""
        self.tmp.clear()

    def _cog_options(self) -> dict[str, Any]:
        if self.compress == "none":
            return {}
        opts: dict[str, Any] = {"PREDICTOR": "YES"}
        if self.compress_level is not None and self.compress in ("deflate", "zstd"):
            opts["LEVEL"] = self.compress_level
        return opts

    def _merge(self) -> None:
        """Rank 0: copy every rank's part into the final file; delete the parts."""
        parts = []
        for plan in self.grid.partition(self.world):
            if plan.empty:
                continue
            path = self.part(plan.rank)
            self.tmp.append(path)
            if not path.is_file():
                raise RuntimeError(f"rank {plan.rank} wrote no rows ({path} missing)")
            parts.append((plan.own_start, plan.own_end, path))
        self._copy_rows(parts)
        for _, _, path in parts:
            path.unlink()

    def _copy_rows(self, sources: list[tuple[int, int, Path]]) -> None:
        """Rank 0: write the final file from files holding scene rows ``[a, b)`` (rank parts or resume
        chunks, which must tile the scene), one block row at a time."""
        g = self.grid
        sources = sorted(sources)
        ends = [0] + [b for _, b, _ in sources]
        if not sources or any(a != e for (a, _, _), e in zip(sources, ends)) or ends[-1] != g.height:
            raise RuntimeError(f"the rows written do not tile the scene's {g.height} rows: "
                               f"{[(a, b) for a, b, _ in sources]}")
        with quiet(), contextlib.ExitStack() as stack:
            srcs = [(a, b, stack.enter_context(rasterio.open(path))) for a, b, path in sources]
            self.channels = srcs[0][2].count
            self.tmp.append(self.final_tmp)
            dst = stack.enter_context(rasterio.open(self.final_tmp, "w", **self.profile(g.height, 0)))
            self.describe(dst)
            for y0 in range(0, g.height, self.block_size):
                y1 = min(g.height, y0 + self.block_size)
                block = np.empty((self.channels, y1 - y0, g.width), self.dtype)
                for a, b, src in srcs:
                    lo, hi = max(y0, a), min(y1, b)
                    if lo < hi:
                        block[:, lo - y0 : hi - y0] = src.read(window=Window(0, lo - a, g.width, hi - lo))
                dst.write(block, window=Window(0, y0, g.width, y1 - y0))

    # ------------------------------------------------------------------------------------------------
    # failures
    # ------------------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Close and delete every temporary file of this rank; OUTPUT is never touched."""
        if self._dst is not None:
            try:
                self._dst.close()
            except Exception:  # noqa: BLE001 - cleaning up after another error
                pass
            self._dst = None
        if self.store is not None:
            self.store.abort()
        for path in self.tmp:
            path.unlink(missing_ok=True)
        self.tmp.clear()


__all__ = ["COMPRESSIONS", "GeoTIFFSink", "OutputDtype", "OutputError", "check_output", "quiet"]
