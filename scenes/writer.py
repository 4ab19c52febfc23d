"""Stitch window predictions into one GeoTIFF while predicting, with memory flat in the scene size.

:class:`SceneWriter` is a Lightning :class:`~pytorch_lightning.callbacks.BasePredictionWriter` for
:class:`semcolor.scenes.datamodule.SceneDataModule`. Windows arrive in row-major order (the module's sampler
guarantees it); each is multiplied by its blend weights (:mod:`semcolor.scenes.blending`) and added,
with the weights, into a float32 *strip* accumulator one window tall and one scene wide. When the last
window of a window row has arrived, the rows above the next window row's start can no longer change:
they are divided by the accumulated weight sum, converted to the output type, masked with the input's
nodata, and handed to a buffer that writes whole block rows of the output (rasterio windowed writes
aligned with the GeoTIFF's internal tiles, so no compressed tile is ever rewritten). Then the strip
moves down. Memory: ``(bands + 1) * 4 * tile * width`` bytes of accumulator plus twice ``bands *
block * width`` of output rows, whatever the scene's height (rows are converted a band of columns at a
time, so no other scene-wide temporaries); GDAL's block cache is capped (``gdal_cache_mb``) and, on
glibc, free heap pages are returned to the OS whenever RSS has grown (``trim_memory``), so neither grows with the scene.
Lightning's own list of predictions (which would hold the whole scene,
Lightning-AI/pytorch-lightning#15656) is switched off. Measured 2026-11-21 (benchmarks/predict_scene.py,
2 quiet CPU cores, 256 px windows, overlap 64, deflate): peak RSS 1203 / 1292 MB for 2048^2 / 8192^2
scenes with the light conv net (1.07x), 1320 / 1356 / 1394 MB for 2048^2 / 4096^2 / 8192^2 with the
U-Net (1.055x); the growth is the width-proportional strip and GDAL's capped cache filling up.
Throughput of the whole path over the bare forward: U-Net 0.96 / 0.93 / 1.03 (about 19 windows/s);
light conv net 0.76-0.82 (85 windows/s: reading, blending and compressing cost about 2 ms per window,
which on 2 cores competes with the model for the same CPUs).

Output: a tiled, compressed GeoTIFF with the input's CRS, transform and nodata and the selected input
bands' descriptions (when the model returns as many bands as were selected; else R, G, B for three
bands), or a Cloud-Optimised GeoTIFF (GDAL's COG driver, with overviews) when ``cog=True``. It is
written to a hidden temporary file next to OUTPUT and renamed over OUTPUT only when complete, so an
interrupted or failed run never leaves a partial file at OUTPUT (a killed process can leave the hidden
``.<name>.<token>.*.tif`` files; they are never read). An existing OUTPUT is kept unless
``overwrite=True``.

Nodata: pixels the input marks as nodata (nodata value in every selected band, or the dataset mask) are
written as the output's nodata value: the input's when the output type can hold it, else 0. Valid
pixels whose predicted value equals the nodata value are moved one level away from it, so no valid
pixel reads back as nodata.

**Multi-GPU (DDP).** The scene's window rows are split into contiguous blocks, one per rank
(:meth:`semcolor.scenes.datamodule.SceneGrid.partition`); each rank also computes the window rows just above its
block that overlap its output rows, so it can finish its own rows alone. Each rank writes its rows to
its own temporary GeoTIFF (no two processes ever write one file); after a barrier rank 0 copies the
bands of rows into the final file block row by block row, deletes the parts and renames. The result
equals a single-device run: every pixel is blended from the same windows with the same weights.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
import rasterio.shutil
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from semcolor.cpu_memory import HeapTrimmer, keep_freed_memory
from semcolor.errors import SemcolorError
from semcolor.scenes.blending import BLEND_MODES, BlendMode, BlendWeights
from semcolor.scenes.resume import ChunkStore

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
def _quiet() -> Iterator[None]:
    """Silence NotGeoreferencedWarning: plain (non-georeferenced) rasters are legitimate input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


class SceneWriter(BasePredictionWriter):
    """Blend window predictions of a :class:`~semcolor.scenes.datamodule.SceneDataModule` into OUTPUT.

    Args:
        output: the GeoTIFF to write (its folder must exist).
        blend: ``linear`` (SECBNet's weighted averaging), ``cosine``, ``hann`` or ``none``
            (see :mod:`semcolor.scenes.blending`).
        overwrite: replace an existing OUTPUT.
        cog: write a Cloud-Optimised GeoTIFF (with overviews) instead of a plain tiled GeoTIFF.
        compress: ``deflate`` (readable everywhere), ``zstd`` (about 5x faster here at level 1, same
            size; needs GDAL >= 2.3 with zstd to read), ``lzw`` or ``none``.
        compress_level: deflate / zstd level; 1 (default) compresses the noisy content of satellite
            scenes about as well as 6 at a fraction of the time (measured: 30 vs 31 MB for a 4096^2
            RGB scene, 2.1 vs 3.4 s); None for GDAL's default.
        block_size: internal tile size of the output (multiple of 16).
        dtype: ``uint8`` (model output in [0, 1] times 255, rounded), ``uint16`` (times 65535) or
            ``float32`` (as returned).
        progress: show a progress bar with windows/s (rank 0) and print a summary line.
        gdal_cache_mb: cap on GDAL's block cache in this process while predicting (GDAL's default is
            5% of RAM, which would otherwise fill up with the scene's blocks).
        target: a ground-truth GeoTIFF on the input's grid: when the scene is written, its PSNR / SSIM
            against the target are printed and kept in ``stats["scores"]``
            (:func:`semcolor.scenes.seams.scene_scores_file`; first bands of the target).
        seams: also print the seam ratio of the written scene (boundary / interior gradient, 1 =
            invisible; :mod:`semcolor.scenes.seams`). Both scores re-read OUTPUT after the predict
            loop, streamed; they are not counted in the windows/s figures.
        resumable: keep finished rows as chunk files in ``.<OUTPUT name>.resume/`` next to OUTPUT, so
            that a stopped run (error, Ctrl-C, killed job) continues where it stopped when run again with
            the same settings (:mod:`semcolor.scenes.resume`); the output is byte-identical.
        chunk_rows: rows per chunk file (a multiple of ``block_size``): the most work a stop can lose.
        trim_memory: on glibc, let batches reuse freed buffers (:func:`~semcolor.cpu_memory.
            keep_freed_memory`) and, after a written block row, return the heap's free pages to the OS
            when RSS has grown 256 MB since the last time (:class:`~semcolor.cpu_memory.
            HeapTrimmer`): RSS stays flat whatever the number of windows.
    """

    #: columns converted at a time when rows are finished (bounds the temporaries)
    CHUNK = 1024

    def __init__(
        self,
        output: str,
        blend: BlendMode = "linear",
        overwrite: bool = False,
        cog: bool = False,
        compress: str = "deflate",
        compress_level: int | None = 1,
        block_size: int = 256,
        dtype: OutputDtype = "uint8",
        progress: bool = True,
        gdal_cache_mb: int = 64,
        target: str | None = None,
        seams: bool = False,
        trim_memory: bool = True,
        resumable: bool = False,
        chunk_rows: int = 2048,
    ) -> None:
        super().__init__(write_interval="batch")
        self.output = Path(output)  # checked in setup(): see check_output
        self.blend, self.overwrite, self.cog = blend, overwrite, cog
        self.compress, self.compress_level = compress, compress_level
        self.block_size, self.dtype = block_size, dtype
        self.progress, self.gdal_cache_mb, self.trim_memory = progress, gdal_cache_mb, trim_memory
        self.target, self.seams = (None if target is None else Path(target)), seams
        self.resumable, self.chunk_rows = resumable, chunk_rows
        self._store: ChunkStore | None = None
        self.stats: dict[str, Any] = {}
        self._tmp: list[Path] = []
        self._dst: Any = None
        self._bar: Any = None

    # ------------------------------------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------------------------------------
    def check_options(self) -> None:
        """Raise a :class:`SemcolorError` for option values that cannot work (called by :meth:`setup`:
        raised from ``__init__``, jsonargparse would bury the message in a generic "does not validate")."""
        problems = []
        if self.blend not in BLEND_MODES:
            problems.append(f"unknown blend mode {self.blend!r}; choose one of {', '.join(BLEND_MODES)}")
        if self.compress not in COMPRESSIONS:
            problems.append(f"unknown compression {self.compress!r}; choose one of {', '.join(COMPRESSIONS)}")
        if self.dtype not in ("uint8", "uint16", "float32"):
            problems.append(f"output dtype must be uint8, uint16 or float32, got {self.dtype!r}")
        if self.block_size <= 0 or self.block_size % 16:
            problems.append(f"block_size must be a positive multiple of 16, got {self.block_size}")
        elif self.chunk_rows <= 0 or self.chunk_rows % self.block_size:
            problems.append(f"chunk_rows must be a positive multiple of block_size ({self.block_size}), "
                            f"got {self.chunk_rows}")
        if problems:
            raise SemcolorError("; ".join(problems))

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        # Checked here rather than in __init__ (see check_options); setup runs before the checkpoint is loaded.
        self.check_options()
        check_output(self.output, self.overwrite)
        if self.target is not None and not self.target.is_file():
            raise OutputError(f"target '{self.target}' (the ground truth to score OUTPUT against) does not exist")
        self._store = None
        if self.resumable:
            self._set_up_resume(trainer)

    def _set_up_resume(self, trainer: Any) -> None:
        """Find the chunks an earlier run with the same settings left, and start this rank after them.
        Runs in ``setup``: after the DataModule's setup (the grid exists), before its loader is made."""
        dm = trainer.datamodule
        if dm is None or getattr(dm, "grid", None) is None or not hasattr(dm, "resume_at"):
            raise SemcolorError("SceneWriter(resumable=True) needs a SceneDataModule")
        self._store = ChunkStore(self.output, self.chunk_rows)
        self._manifest = self._settings(trainer, dm)
        row = None
        if self._store.check(self._manifest):
            self._store.remove_stale()
            own = dm.grid.partition(trainer.world_size)[trainer.global_rank]
            if not own.empty:
                row = self._store.resume_row(own.own_start, own.own_end)
                if self.progress and row > own.own_start:
                    print(f"semcolor predict: rank {trainer.global_rank} resumes at row {row} (rows "
                          f"{own.own_start}..{row} were written by an earlier run, kept in '{self._store.folder}')")
        dm.resume_at(row)

    def _settings(self, trainer: Any, dm: Any) -> dict[str, Any]:
        """What the output rows depend on (see :mod:`semcolor.scenes.resume`)."""
        sc, g = dm.scene, dm.grid
        src = Path(sc.path)
        ckpt = getattr(trainer, "ckpt_path", None)
        ds = dm.dataset
        return {
            "input": str(src.resolve()), "input_bytes": src.stat().st_size, "input_mtime_ns": src.stat().st_mtime_ns,
            "bands": [int(b) for b in sc.bands], "height": g.height, "width": g.width, "tile": g.tile,
            "overlap": g.overlap, "scale": None if ds is None else [float(ds.offset), float(ds.scale)],
            "checkpoint": None if ckpt is None else str(Path(ckpt).resolve()),
            "checkpoint_mtime_ns": Path(ckpt).stat().st_mtime_ns if ckpt and Path(ckpt).is_file() else None,
            "blend": self.blend, "dtype": self.dtype, "compress": self.compress,
            "compress_level": self.compress_level, "block_size": self.block_size, "chunk_rows": self.chunk_rows,
            "world_size": trainer.world_size,
        }

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        dm = trainer.datamodule
        if dm is None or getattr(dm, "grid", None) is None or not hasattr(dm, "scene"):
            raise SemcolorError("SceneWriter needs a SceneDataModule (--data semcolor.scenes.datamodule.SceneDataModule)")
        check_output(self.output, self.overwrite)
        # the predictions of a scene must not pile up in Trainer.predict's return list
        trainer.predict_loop.return_predictions = False
        self._trimmer = HeapTrimmer() if self.trim_memory else None
        if self.trim_memory:
            keep_freed_memory()  # batches reuse freed buffers (no page faults); trimmed when RSS grows
        self._gdal_cache = rasterio.env.get_gdal_config("GDAL_CACHEMAX")  # restored at the end
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", int(self.gdal_cache_mb) * 2**20)
        self.scene, self.grid = dm.scene, dm.grid
        if self.target is not None:  # before any work: a target on another grid cannot be scored
            from semcolor.datamodules.raster import check_same_grid, open_raster

            with _quiet(), open_raster(self.scene.path, "an input scene GeoTIFF") as a, \
                    open_raster(self.target, "a ground-truth scene GeoTIFF") as b:
                check_same_grid(a, b)
        self.rank, self.world = trainer.global_rank, trainer.world_size
        self.plan = dm.plan(self.rank, self.world)
        self.weights = BlendWeights(self.grid.row_starts, self.grid.col_starts, self.grid.tile,
                                    self.grid.height, self.grid.width, self.blend)
        token = trainer.strategy.broadcast(uuid.uuid4().hex[:12], src=0)
        stem = f".{self.output.name}.{token}"
        self._final_tmp = self.output.with_name(f"{stem}.tmp.tif")
        self._cog_tmp = self.output.with_name(f"{stem}.cog.tif")
        self._part = lambda r: self.output.with_name(f"{stem}.rank{r}.tif")  # noqa: E731
        self._file = self._final_tmp if self.world == 1 else self._part(self.rank)
        self._origin = 0 if self.world == 1 else self.plan.own_start  # scene row of the file's row 0
        self._file_height = self.grid.height if self.world == 1 else self.plan.own_end - self.plan.own_start
        if self._store is not None:  # rows go to chunk files; the plan may start after earlier chunks
            own = self.grid.partition(self.world)[self.rank]
            self._origin, self._file_height = own.own_start, own.own_end - own.own_start
            self._store.create(self._manifest)
            self._chunk: tuple[int, int, Path] | None = None
        self._top = self.grid.row_starts[self.plan.first_row] if not self.plan.empty else 0
        self._next = self.plan.first_row
        self._count: dict[int, int] = {}
        self._acc: np.ndarray | None = None
        self._valid: np.ndarray | None = None
        self._buf: np.ndarray | None = None
        self._rows: np.ndarray | None = None  # converted final rows, reused
        self._buf_row0 = 0 if self.plan.empty else self.plan.own_start - self._origin  # file row of the buffer's first row
        self._buf_fill = 0
        self._channels = 0
        self._windows = 0
        self._writer_s = 0.0
        self._t0 = time.perf_counter()
        self.stats = {}
        if self.progress and self.rank == 0:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(TextColumn("predict {task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("windows  {task.fields[rate]} windows/s"), TimeElapsedColumn())
            self._bar.start()
            self._task = self._bar.add_task(self.output.name, total=self.plan.stop - self.plan.start, rate="-")

    # ------------------------------------------------------------------------------------------------
    # accumulation
    # ------------------------------------------------------------------------------------------------
    def write_on_batch_end(self, trainer: Any, pl_module: Any, prediction: Any, batch_indices: Any,
                           batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        t = time.perf_counter()
        if not isinstance(prediction, torch.Tensor) or prediction.ndim != 4 or not prediction.is_floating_point():
            shape = tuple(prediction.shape) if isinstance(prediction, torch.Tensor) else type(prediction).__name__
            raise SemcolorError(
                f"SceneWriter blends images: predict_step must return a float (N, C, H, W) tensor, got {shape}")
        pred = prediction.detach().float().cpu().numpy()
        index = batch["index"].tolist()
        valid = batch["valid"].cpu().numpy() if "valid" in batch else None
        for n, k in enumerate(index):
            self._add(int(k), pred[n], None if valid is None else valid[n])
        self._windows += len(index)
        self._writer_s += time.perf_counter() - t
        if self._bar is not None:
            rate = self._windows / max(time.perf_counter() - self._t0, 1e-9)
            self._bar.update(self._task, advance=len(index), rate=f"{rate:.1f}")

    def _allocate(self, channels: int) -> None:
        self._channels = channels
        self._acc = np.zeros((channels + 1, self.grid.tile, self.grid.width), np.float32)
        if self.scene.has_mask:
            self._valid = np.zeros((self.grid.tile, self.grid.width), bool)
        self._buf = np.zeros((channels, self.block_size, self.grid.width), self.dtype)
        self._scratch = np.empty((channels, self.grid.tile, self.grid.tile), np.float32)
        if self._store is None:
            self._open_file()

    def _add(self, k: int, pred: np.ndarray, valid: np.ndarray | None) -> None:
        g = self.grid
        i, j, r, c, h, w = g.window(k)
        if not self.plan.first_row <= i < self.plan.stop_row:
            raise RuntimeError(f"window {k} (row {i}) is not in rank {self.rank}'s rows "
                               f"[{self.plan.first_row}, {self.plan.stop_row})")
        if self._acc is None:
            self._allocate(pred.shape[0])
        if pred.shape[0] != self._channels or pred.shape[1] < h or pred.shape[2] < w:
            raise SemcolorError(f"prediction of window {k} has shape {pred.shape}; expected "
                                f"({self._channels}, >={h}, >={w}) like the first window")
        if r < self._top:
            raise RuntimeError(f"window {k} arrived after rows {r}..{self._top} were written "
                               f"(windows must come in row-major order)")
        self._grow(r + h)
        acc = self._acc
        assert acc is not None
        wt = self.weights(i, j)
        y = r - self._top
        tmp = self._scratch[:, :h, :w]  # reused: no allocation per window
        np.multiply(pred[:, :h, :w], wt, out=tmp)
        acc[:-1, y : y + h, c : c + w] += tmp
        acc[-1, y : y + h, c : c + w] += wt
        if self._valid is not None and valid is not None:
            self._valid[y : y + h, c : c + w] = valid[:h, :w]
        done = self._count.get(i, 0) + 1
        if done > g.n_cols:
            raise RuntimeError(f"window row {i} received more than its {g.n_cols} windows")
        self._count[i] = done
        while self._count.get(self._next, 0) == g.n_cols:
            del self._count[self._next]
            self._finish_rows(self._next)
            self._next += 1

    def _grow(self, end: int) -> None:
        """Make the strip reach scene row ``end`` (only needed if windows come out of order)."""
        assert self._acc is not None
        need = end - self._top
        if need <= self._acc.shape[1]:
            return
        acc = np.zeros((self._acc.shape[0], need, self._acc.shape[2]), np.float32)
        acc[:, : self._acc.shape[1]] = self._acc
        self._acc = acc
        if self._valid is not None:
            valid = np.zeros((need, self._valid.shape[1]), bool)
            valid[: self._valid.shape[0]] = self._valid
            self._valid = valid

    def _finish_rows(self, i: int) -> None:
        """Window row ``i`` is complete: rows ``[top, start of row i + 1)`` are final."""
        acc = self._acc
        assert acc is not None
        end = self.grid.final_row(i)
        n = end - self._top
        if n <= 0:
            return
        lo, hi = max(self._top, self.plan.own_start), min(end, self.plan.own_end)
        if lo < hi:
            a, b = lo - self._top, hi - self._top
            if self._rows is None or self._rows.shape[1] < b - a:
                self._rows = np.empty((self._channels, acc.shape[1], self.grid.width), self.dtype)
            rows = self._rows[:, : b - a]
            # a band of columns at a time: scene-wide temporaries would make memory grow with the width
            for c0 in range(0, self.grid.width, self.CHUNK):
                c1 = min(self.grid.width, c0 + self.CHUNK)
                wsum = acc[-1, a:b, c0:c1]
                if not (wsum > 0).all():
                    raise RuntimeError(f"rows {lo}..{hi} have pixels no window covered (a bug in the grid)")
                valid = self._valid[a:b, c0:c1] if self._valid is not None else None
                rows[:, :, c0:c1] = self._convert(acc[:-1, a:b, c0:c1] / wsum, valid)
            self._emit(lo, rows)
        self._shift(n)
        self._top = end

    def _shift(self, n: int) -> None:
        """Move the strip up by ``n`` rows, in non-overlapping pieces (numpy would first copy the whole
        overlapping source of a single slice assignment), and clear the rows that became free."""
        acc = self._acc
        assert acc is not None
        cap = acc.shape[1]
        for a in range(0, cap - n, n):
            b = min(a + n, cap - n)
            acc[:, a:b] = acc[:, a + n : b + n]
            if self._valid is not None:
                self._valid[a:b] = self._valid[a + n : b + n]
        acc[:, max(cap - n, 0) :] = 0.0
        if self._valid is not None:
            self._valid[max(cap - n, 0) :] = False

    # ------------------------------------------------------------------------------------------------
    # output values and writing
    # ------------------------------------------------------------------------------------------------
    def _out_nodata(self) -> float | None:
        if not self.scene.has_mask:
            return None
        nd = self.scene.nodata
        if self.dtype == "float32":
            return float("nan") if nd is None else float(nd)
        info = np.iinfo(self.dtype)
        if nd is not None and np.isfinite(nd) and float(nd).is_integer() and info.min <= nd <= info.max:
            return float(nd)
        return 0.0

    def _convert(self, out: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
        if self.dtype == "float32":
            res = out.astype(np.float32, copy=False)
        else:  # in place: ``out`` is a fresh array
            top = float(np.iinfo(self.dtype).max)
            out *= top
            np.rint(out, out=out)
            np.clip(out, 0.0, top, out=out)
            res = out.astype(self.dtype)
        nd = self._out_nodata()
        if valid is not None and nd is not None:
            if self.dtype != "float32":
                top = np.iinfo(self.dtype).max
                res[(res == nd) & valid[None]] = nd + 1 if nd < top else nd - 1
            res[:, ~valid] = nd
        return res

    def _profile(self, height: int, row0: int) -> dict[str, Any]:
        sc = self.scene
        prof: dict[str, Any] = dict(
            driver="GTiff", width=self.grid.width, height=height, count=self._channels, dtype=self.dtype,
            crs=sc.crs, transform=sc.transform @ rasterio.Affine.translation(0, row0),
            nodata=self._out_nodata(), tiled=True, blockxsize=self.block_size, blockysize=self.block_size,
            interleave="pixel", BIGTIFF="IF_SAFER", NUM_THREADS="ALL_CPUS",
        )
        if self.compress != "none":
            prof["compress"] = self.compress
            prof["predictor"] = 3 if self.dtype == "float32" else 2
            if self.compress_level is not None and self.compress in ("deflate", "zstd"):
                prof["zlevel" if self.compress == "deflate" else "zstd_level"] = self.compress_level
        if self._channels == 3 and self.dtype == "uint8":
            prof["photometric"] = "RGB"
        return prof

    def _describe(self, dst: Any) -> None:
        """Band descriptions and colour interpretation of the final file."""
        descs: tuple[str | None, ...] = ()
        if len(self.scene.descriptions) == self._channels and any(self.scene.descriptions):
            descs = self.scene.descriptions
        elif self._channels == 3:
            descs = ("R", "G", "B")
        for b, d in enumerate(descs, start=1):
            if d:
                dst.set_band_description(b, d)
        if self._channels == 3:
            dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]

    def _open_file(self) -> None:
        self._tmp.append(self._file)
        with _quiet():
            self._dst = rasterio.open(self._file, "w", **self._profile(self._file_height, self._origin))
        if self.world == 1:
            self._describe(self._dst)

    def _emit(self, row0: int, rows: np.ndarray) -> None:
        """Append final scene rows ``row0..`` to the output; write every completed block row."""
        buf = self._buf
        assert buf is not None
        f = row0 - self._origin
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
        if self._store is not None:
            self._write_chunk()
        else:
            self._dst.write(self._buf[:, : self._buf_fill],
                            window=Window(0, self._buf_row0, self.grid.width, self._buf_fill))
        self._buf_row0 += self._buf_fill
        self._buf_fill = 0
        if self._trimmer is not None:
            self._trimmer()  # keep RSS flat: heap fragmentation made it grow with the scene

    def _write_chunk(self) -> None:
        """Resumable mode: write the buffer into its chunk file; rename the chunk when it is complete."""
        assert self._store is not None and self._buf is not None
        row, fill = self._origin + self._buf_row0, self._buf_fill
        if self._dst is None:
            a, b = self._store.bounds(row, self._origin, self._origin + self._file_height)
            self._chunk = (a, b, self._store.tmp_path(a, b))
            self._tmp.append(self._chunk[2])
            with _quiet():
                self._dst = rasterio.open(self._chunk[2], "w", **self._profile(b - a, a))
        assert self._chunk is not None
        a, b, tmp = self._chunk
        self._dst.write(self._buf[:, :fill], window=Window(0, row - a, self.grid.width, fill))
        if row + fill == b:
            self._dst.close()
            self._dst = None
            os.replace(tmp, self._store.final_path(a, b))
            self._tmp.remove(tmp)

    # ------------------------------------------------------------------------------------------------
    # the end: close, merge ranks, COG, rename
    # ------------------------------------------------------------------------------------------------
    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        t = time.perf_counter()
        if self._next != self.plan.stop_row:
            self._cleanup()
            raise SemcolorError(
                f"prediction stopped after window row {self._next} of {self.plan.stop_row}; the scene is "
                f"incomplete and OUTPUT was not written (limit_predict_batches / fast_dev_run cut it short?)")
        if self._store is not None:
            self._write_buffer()  # completes this rank's last chunk
            if self._buf_row0 != self._file_height or self._dst is not None:
                self._cleanup()
                raise RuntimeError(f"wrote {self._buf_row0} of {self._file_height} rows")
        elif self._dst is not None:
            self._write_buffer()
            if self._buf_row0 != self._file_height:
                self._cleanup()
                raise RuntimeError(f"wrote {self._buf_row0} of {self._file_height} rows")
            self._dst.close()
            self._dst = None
        self._stop_bar()
        if self.world > 1:
            trainer.strategy.barrier("scene_writer_parts")
        if self.rank == 0:
            try:
                if self._store is not None:
                    self._copy_rows(self._store.complete())
                elif self.world > 1:
                    self._merge()
                result = self._final_tmp
                if self.cog:
                    self._tmp.append(self._cog_tmp)
                    rasterio.shutil.copy(
                        self._final_tmp, self._cog_tmp, driver="COG", COMPRESS=self.compress.upper(),
                        BLOCKSIZE=self.block_size, OVERVIEW_RESAMPLING="AVERAGE", BIGTIFF="IF_SAFER",
                        NUM_THREADS="ALL_CPUS", **self._cog_options())
                    self._final_tmp.unlink()
                    result = self._cog_tmp
                if self.output.exists() and not self.overwrite:  # appeared while predicting
                    raise OutputError(f"OUTPUT '{self.output}' appeared while predicting; not overwritten")
                os.replace(result, self.output)
                self._tmp.clear()
                if self._store is not None:
                    self._store.remove()
            except BaseException:
                self._cleanup()
                raise
        else:
            self._tmp.clear()  # rank 0 owns the parts from here on
        if self.world > 1:
            trainer.strategy.barrier("scene_writer_done")
        self._restore_gdal()
        self._writer_s += time.perf_counter() - t
        seconds = time.perf_counter() - self._t0
        self.stats = {"windows": self._windows, "seconds": seconds, "windows_per_s": self._windows / seconds,
                      "writer_seconds": self._writer_s, "rank": self.rank}
        if self.progress and self.rank == 0:
            g = self.grid
            print(f"semcolor predict: wrote '{self.output}' ({g.height} x {g.width}, {self._channels} bands "
                  f"{self.dtype}, blend={self.blend}{', COG' if self.cog else ''}) from {len(g)} windows of "
                  f"{g.tile} px (overlap {g.overlap}); rank 0: {self._windows} windows in {seconds:.1f} s "
                  f"({self._windows / seconds:.1f} windows/s)")
        if self.rank == 0 and (self.seams or self.target is not None):
            from semcolor.scenes.seams import format_scores, score_scene_file

            g = self.grid
            scores = score_scene_file(self.output, g.tile if self.seams else None, g.overlap, self.target)
            self.stats["scores"] = scores
            print(f"semcolor predict: '{self.output}': {format_scores(scores)}")

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
            path = self._part(plan.rank)
            self._tmp.append(path)
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
        with _quiet(), contextlib.ExitStack() as stack:
            srcs = [(a, b, stack.enter_context(rasterio.open(path))) for a, b, path in sources]
            self._channels = srcs[0][2].count
            self._tmp.append(self._final_tmp)
            dst = stack.enter_context(rasterio.open(self._final_tmp, "w", **self._profile(g.height, 0)))
            self._describe(dst)
            for y0 in range(0, g.height, self.block_size):
                y1 = min(g.height, y0 + self.block_size)
                block = np.empty((self._channels, y1 - y0, g.width), self.dtype)
                for a, b, src in srcs:
                    lo, hi = max(y0, a), min(y1, b)
                    if lo < hi:
                        block[:, lo - y0 : hi - y0] = src.read(window=Window(0, lo - a, g.width, hi - lo))
                dst.write(block, window=Window(0, y0, g.width, y1 - y0))

    # ------------------------------------------------------------------------------------------------
    # failures
    # ------------------------------------------------------------------------------------------------
    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _restore_gdal(self) -> None:
        cache = getattr(self, "_gdal_cache", None)
        if cache is not None:
            rasterio.env.set_gdal_config("GDAL_CACHEMAX", cache)
            self._gdal_cache = None

    def _cleanup(self) -> None:
        """Close and delete every temporary file of this rank; OUTPUT is never touched."""
        self._stop_bar()
        self._restore_gdal()
        if self._dst is not None:
            try:
                self._dst.close()
            except Exception:  # noqa: BLE001 - cleaning up after another error
                pass
            self._dst = None
        for path in self._tmp:
            path.unlink(missing_ok=True)
        self._tmp.clear()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._cleanup()


__all__ = ["COMPRESSIONS", "OutputError", "SceneWriter", "check_output"]
