"""Resumable whole-scene prediction: finished output rows kept as chunk files until the scene is complete.

With ``SceneWriter(resumable=True)`` each rank writes its output rows as a sequence of *chunks* of
``chunk_rows`` rows (aligned with the rank's first row), each a small GeoTIFF written to a temporary name
and renamed when complete, into a folder next to OUTPUT: ``.<OUTPUT name>.resume/``. Its
``manifest.json`` records what the rows depend on (the input file's path, size and modification time,
tiling, blending, output type, compression, number of ranks). A run stopped for any reason (an error,
Ctrl-C, a killed job) keeps the complete chunks; the next run with the same settings reads them, starts
each rank at the end of its contiguous complete chunks, recomputes only the window rows that reach
below that row, and at the end rank 0 copies the chunks into OUTPUT and removes the folder. Nothing
from an earlier run with other settings is used: a manifest that differs stops the run with a message.

Every chunk holds exactly the rows an uninterrupted run computes (the blend of a row only depends on the
windows covering it, and those are all recomputed), so a resumed OUTPUT equals an uninterrupted one
byte for byte (tested). At least the last chunk of each rank is always recomputed, so every rank has
windows to predict (Lightning skips the hooks of an empty predict loop).

This module holds the whole resume logic of the writer: what the manifest records
(:func:`writer_manifest`), where each rank starts (:meth:`ChunkStore.start`) and the writing of the
chunk files (:meth:`ChunkStore.write`); the GeoTIFF sink only hands it block rows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from rasterio.windows import Window

from semcolor.errors import SemcolorError

_CHUNK = re.compile(r"^rows_(\d{9})_(\d{9})\.tif$")


class ResumeMismatchError(SemcolorError):
    """The resume folder next to OUTPUT belongs to a run with other settings."""


def writer_manifest(trainer: Any, dm: Any, options: dict[str, Any]) -> dict[str, Any]:
    """What the output rows depend on: the input file, the tiling and scaling of the scene DataModule
    ``dm``, the checkpoint, the number of ranks, and the writer's ``options`` (blend, dtype, compression,
    block size, chunk rows)."""
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
        **options, "world_size": trainer.world_size,
    }


class ChunkStore:
    """The resume folder of one OUTPUT: its manifest and the complete chunks (scene rows ``[a, b)``)."""

    def __init__(self, output: str | Path, chunk_rows: int) -> None:
        output = Path(output)
        self.folder = output.with_name(f".{output.name}.resume")
        self.chunk_rows = int(chunk_rows)
        self.manifest: dict[str, Any] | None = None
        self._open: tuple[int, int, Path, Any] | None = None  # the chunk being written: a, b, tmp, dataset

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def final_path(self, a: int, b: int) -> Path:
        return self.folder / f"rows_{a:09d}_{b:09d}.tif"

    def tmp_path(self, a: int, b: int) -> Path:
        return self.folder / f".rows_{a:09d}_{b:09d}.{os.getpid()}.tmp.tif"

    # -- the manifest ---------------------------------------------------------------------------------
    def check(self, manifest: dict[str, Any]) -> bool:
        """Whether earlier chunks exist for these settings (False: none); raise if they are another run's."""
        if not self.manifest_path.is_file():
            return False
        try:
            old = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            old = None
        if old != json.loads(json.dumps(manifest)):
            diff = sorted(k for k in manifest if not isinstance(old, dict) or old.get(k) != manifest[k])
            raise ResumeMismatchError(
                f"'{self.folder}' holds rows of an earlier run with other settings ({', '.join(diff) or 'unreadable'} "
                f"differ); delete that folder to start afresh, or resume with the same settings")
        return True

    def create(self, manifest: dict[str, Any] | None = None) -> None:
        """Make the folder and write the manifest (``manifest`` or the one given to :meth:`start`) unless
        it exists."""
        manifest = self.manifest if manifest is None else manifest
        self.folder.mkdir(exist_ok=True)
        if not self.manifest_path.is_file():
            tmp = self.folder / f".manifest.{os.getpid()}.json"
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
            os.replace(tmp, self.manifest_path)

    def start(self, manifest: dict[str, Any], grid: Any, rank: int, world: int,
              progress: bool = False) -> int | None:
        """The scene row where ``rank`` starts (None: at its first row): after the complete chunks an
        earlier run with the same ``manifest`` left (:meth:`check` refuses another run's), whose
        abandoned temporary chunks are deleted."""
        self.manifest = manifest
        if not self.check(manifest):
            return None
        self.remove_stale()
        own = grid.partition(world)[rank]
        if own.empty:
            return None
        row = self.resume_row(own.own_start, own.own_end)
        if progress and row > own.own_start:
            print(f"semcolor predict: rank {rank} resumes at row {row} (rows "
                  f"{own.own_start}..{row} were written by an earlier run, kept in '{self.folder}')")
        return row

    # -- chunks ---------------------------------------------------------------------------------------
    def complete(self) -> list[tuple[int, int, Path]]:
        """The complete chunks, sorted by first row."""
        if not self.folder.is_dir():
            return []
        found = []
        for p in self.folder.iterdir():
            m = _CHUNK.match(p.name)
            if m:
                found.append((int(m.group(1)), int(m.group(2)), p))
        return sorted(found)

    def bounds(self, row: int, origin: int, end: int) -> tuple[int, int]:
        """The chunk ``[a, b)`` holding scene row ``row`` of a rank whose rows are ``[origin, end)``."""
        a = origin + ((row - origin) // self.chunk_rows) * self.chunk_rows
        return a, min(a + self.chunk_rows, end)

    def resume_row(self, origin: int, end: int) -> int:
        """Where a rank with rows ``[origin, end)`` starts: the end of its contiguous complete chunks,
        but no later than its last chunk's start (so it always has windows to predict)."""
        done = {(a, b) for a, b, _ in self.complete()}
        row = origin
        while row < end and self.bounds(row, origin, end) in done:
            row = self.bounds(row, origin, end)[1]
        last = self.bounds(max(end - 1, origin), origin, end)[0]
        return min(row, last)

    # -- writing chunks -------------------------------------------------------------------------------
    @property
    def writing(self) -> bool:
        """A chunk file is open (not yet complete)."""
        return self._open is not None

    def write(self, rows: Any, row: int, origin: int, end: int, create: Any) -> None:
        """Write ``rows`` ``(C, n, width)``, scene rows ``row .. row + n`` of a rank whose rows are
        ``[origin, end)``, into their chunk (opened with ``create(path, height, first row)``; the rows of one
        call never cross a chunk boundary, ``chunk_rows`` being a multiple of the block size); a complete
        chunk is closed and renamed to its final name."""
        if self._open is None:
            a, b = self.bounds(row, origin, end)
            tmp = self.tmp_path(a, b)
            self._open = (a, b, tmp, None)
            self._open = (a, b, tmp, create(tmp, b - a, a))
        a, b, tmp, dst = self._open
        n = rows.shape[1]
        dst.write(rows, window=Window(0, row - a, rows.shape[2], n))
        if row + n == b:
            dst.close()
            self._open = None
            os.replace(tmp, self.final_path(a, b))

    def abort(self) -> None:
        """Close and delete the chunk being written (after an error); complete chunks are kept."""
        if self._open is None:
            return
        _, _, tmp, dst = self._open
        self._open = None
        if dst is not None:
            try:
                dst.close()
            except Exception:  # noqa: BLE001 - cleaning up after another error
                pass
        tmp.unlink(missing_ok=True)

    def remove_stale(self) -> None:
        """Delete temporary chunks of processes that no longer run (killed while writing them)."""
        if not self.folder.is_dir():
            return
        for p in self.folder.glob(".rows_*.tmp.tif"):
            try:
                os.kill(int(p.name.split(".")[2]), 0)  # the writing process still runs: leave its file
            except (ValueError, IndexError, ProcessLookupError):
                p.unlink(missing_ok=True)
            except PermissionError:
                pass

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


__all__ = ["ChunkStore", "ResumeMismatchError", "writer_manifest"]
