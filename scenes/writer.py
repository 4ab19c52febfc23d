"""Stitch window predictions into one GeoTIFF while predicting, with memory flat in the scene size.

:class:`SceneWriter` is a Lightning :class:`~pytorch_lightning.callbacks.BasePredictionWriter` for
:class:`semcolor.scenes.datamodule.SceneDataModule`, a thin composition of three parts:

* :class:`~semcolor.scenes.accumulator.StripAccumulator`: blend weights and weighted sums in a strip one
  window tall and one scene wide; rows are finished as soon as no later window reaches them;
* :class:`~semcolor.scenes.sink.GeoTIFFSink`: output values and nodata, the tiled / COG profile, block-row
  writes, the hidden temporary file renamed over OUTPUT when complete, the merge of DDP ranks' parts;
* :class:`~semcolor.scenes.resume.ChunkStore` (``resumable=True``): finished rows kept as chunk files next
  to OUTPUT, so that a stopped run continues where it stopped.

The writer itself checks its options and the output, ties the parts to the Trainer (rank, world size,
barriers, the token naming the temporary files), shows the progress and prints the summary and scores.

Memory: ``(bands + 1) * 4 * tile * width`` bytes of accumulator plus twice ``bands * block * width`` of
output rows, whatever the scene's height; GDAL's block cache is capped (``gdal_cache_mb``) and, on
glibc, free heap pages are returned to the OS whenever RSS has grown (``trim_memory``), so neither grows
with the scene. Lightning's own list of predictions (which would hold the whole scene,
Lightning-AI/pytorch-lightning#15656) is switched off. Measured 2026-11-21 (benchmarks/predict_scene.py,
2 quiet CPU cores, 256 px windows, overlap 64, deflate): peak RSS 1203 / 1292 MB for 2048^2 / 8192^2
scenes with the light conv net (1.07x), 1320 / 1356 / 1394 MB for 2048^2 / 4096^2 / 8192^2 with the
U-Net (1.055x); the growth is the width-proportional strip and GDAL's capped cache filling up.
Throughput of the whole path over the bare forward: U-Net 0.96 / 0.93 / 1.03 (about 19 windows/s);
light conv net 0.76-0.82 (85 windows/s: reading, blending and compressing cost about 2 ms per window,
which on 2 cores competes with the model for the same CPUs).

**Multi-GPU (DDP).** The scene's window rows are split into contiguous blocks, one per rank
(:meth:`semcolor.scenes.datamodule.SceneGrid.partition`); each rank also computes the window rows just above its
block that overlap its output rows, so it can finish its own rows alone. Each rank writes its rows to
its own temporary GeoTIFF; after a barrier rank 0 assembles OUTPUT (:meth:`GeoTIFFSink.assemble`). The
result equals a single-device run: every pixel is blended from the same windows with the same weights.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import rasterio
import torch
from pytorch_lightning.callbacks import BasePredictionWriter

from semcolor.cpu_memory import HeapTrimmer, keep_freed_memory
from semcolor.errors import SemcolorError
from semcolor.scenes.accumulator import StripAccumulator
from semcolor.scenes.blending import BLEND_MODES, BlendMode, BlendWeights
from semcolor.scenes.resume import ChunkStore, writer_manifest
from semcolor.scenes.sink import COMPRESSIONS, GeoTIFFSink, OutputDtype, OutputError, check_output, quiet


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
        self._sink: GeoTIFFSink | None = None
        self._acc: StripAccumulator | None = None
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
            # after the DataModule's setup (the grid exists), before its loader is made
            dm = trainer.datamodule
            if dm is None or getattr(dm, "grid", None) is None or not hasattr(dm, "resume_at"):
                raise SemcolorError("SceneWriter(resumable=True) needs a SceneDataModule")
            self._store = ChunkStore(self.output, self.chunk_rows)
            options = {"blend": self.blend, "dtype": self.dtype, "compress": self.compress,
                       "compress_level": self.compress_level, "block_size": self.block_size,
                       "chunk_rows": self.chunk_rows}
            dm.resume_at(self._store.start(writer_manifest(trainer, dm, options), dm.grid, trainer.global_rank,
                                           trainer.world_size, self.progress))

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        dm = trainer.datamodule
        if dm is None or getattr(dm, "grid", None) is None or not hasattr(dm, "scene"):
            raise SemcolorError("SceneWriter needs a SceneDataModule (--data semcolor.scenes.datamodule.SceneDataModule)")
        check_output(self.output, self.overwrite)
        # the predictions of a scene must not pile up in Trainer.predict's return list
        trainer.predict_loop.return_predictions = False
        trimmer = HeapTrimmer() if self.trim_memory else None
        if self.trim_memory:
            keep_freed_memory()  # batches reuse freed buffers (no page faults); trimmed when RSS grows
        self._gdal_cache = rasterio.env.get_gdal_config("GDAL_CACHEMAX")  # restored at the end
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", int(self.gdal_cache_mb) * 2**20)
        self.scene, self.grid = dm.scene, dm.grid
        if self.target is not None:  # before any work: a target on another grid cannot be scored
            from semcolor.datamodules.raster import check_same_grid, open_raster

            with quiet(), open_raster(self.scene.path, "an input scene GeoTIFF") as a, \
                    open_raster(self.target, "a ground-truth scene GeoTIFF") as b:
                check_same_grid(a, b)
        self.rank, self.world = trainer.global_rank, trainer.world_size
        self.plan = dm.plan(self.rank, self.world)
        token = trainer.strategy.broadcast(uuid.uuid4().hex[:12], src=0)
        self._sink = sink = GeoTIFFSink(
            self.output, self.scene, self.grid, self.plan, self.rank, self.world, token, dtype=self.dtype,
            compress=self.compress, compress_level=self.compress_level, block_size=self.block_size,
            cog=self.cog, overwrite=self.overwrite, store=self._store, trimmer=trimmer)
        if self._store is not None:
            self._store.create()
        g = self.grid
        weights = BlendWeights(g.row_starts, g.col_starts, g.tile, g.height, g.width, self.blend)
        self._acc = StripAccumulator(g, self.plan, weights, self.scene.has_mask, self.dtype, sink.convert,
                                     sink.emit, on_channels=sink.open, rank=self.rank)
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
    # the windows
    # ------------------------------------------------------------------------------------------------
    def write_on_batch_end(self, trainer: Any, pl_module: Any, prediction: Any, batch_indices: Any,
                           batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        t = time.perf_counter()
        if not isinstance(prediction, torch.Tensor) or prediction.ndim != 4 or not prediction.is_floating_point():
            shape = tuple(prediction.shape) if isinstance(prediction, torch.Tensor) else type(prediction).__name__
            raise SemcolorError(
                f"SceneWriter blends images: predict_step must return a float (N, C, H, W) tensor, got {shape}")
        assert self._acc is not None
        pred = prediction.detach().float().cpu().numpy()
        index = batch["index"].tolist()
        valid = batch["valid"].cpu().numpy() if "valid" in batch else None
        for n, k in enumerate(index):
            self._acc.add(int(k), pred[n], None if valid is None else valid[n])
        self._windows += len(index)
        self._writer_s += time.perf_counter() - t
        if self._bar is not None:
            rate = self._windows / max(time.perf_counter() - self._t0, 1e-9)
            self._bar.update(self._task, advance=len(index), rate=f"{rate:.1f}")

    # ------------------------------------------------------------------------------------------------
    # the end: this rank's last rows, then rank 0 assembles OUTPUT
    # ------------------------------------------------------------------------------------------------
    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        t = time.perf_counter()
        sink, acc = self._sink, self._acc
        assert sink is not None and acc is not None
        if acc.next != self.plan.stop_row:
            self._cleanup()
            raise SemcolorError(
                f"prediction stopped after window row {acc.next} of {self.plan.stop_row}; the scene is "
                f"incomplete and OUTPUT was not written (limit_predict_batches / fast_dev_run cut it short?)")
        try:
            sink.finish()
        except BaseException:
            self._cleanup()
            raise
        self._stop_bar()
        if self.world > 1:
            trainer.strategy.barrier("scene_writer_parts")
        if self.rank == 0:
            try:
                sink.assemble()
            except BaseException:
                self._cleanup()
                raise
        else:
            sink.hand_over()
        if self.world > 1:
            trainer.strategy.barrier("scene_writer_done")
        self._restore_gdal()
        self._writer_s += time.perf_counter() - t
        seconds = time.perf_counter() - self._t0
        self.stats = {"windows": self._windows, "seconds": seconds, "windows_per_s": self._windows / seconds,
                      "writer_seconds": self._writer_s, "rank": self.rank}
        if self.progress and self.rank == 0:
            g = self.grid
            print(f"semcolor predict: wrote '{self.output}' ({g.height} x {g.width}, {sink.channels} bands "
                  f"{self.dtype}, blend={self.blend}{', COG' if self.cog else ''}) from {len(g)} windows of "
                  f"{g.tile} px (overlap {g.overlap}); rank 0: {self._windows} windows in {seconds:.1f} s "
                  f"({self._windows / seconds:.1f} windows/s)")
        if self.rank == 0 and (self.seams or self.target is not None):
            from semcolor.scenes.seams import format_scores, score_scene_file

            g = self.grid
            scores = score_scene_file(self.output, g.tile if self.seams else None, g.overlap, self.target)
            self.stats["scores"] = scores
            print(f"semcolor predict: '{self.output}': {format_scores(scores)}")

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
        if self._sink is not None:
            self._sink.cleanup()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._cleanup()


__all__ = ["COMPRESSIONS", "OutputDtype", "OutputError", "SceneWriter", "check_output"]
