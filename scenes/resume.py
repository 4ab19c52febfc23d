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
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from semcolor.errors import SemcolorError

_CHUNK = re.compile(r"^rows_(\d{9})_(\d{9})\.tif$")


class ResumeMismatchError(SemcolorError):
    """The resume folder next to OUTPUT belongs to a run with other settings."""


class ChunkStore:
    """The resume folder of one OUTPUT: its manifest and the complete chunks (scene rows ``[a, b)``)."""

    def __init__(self, output: str | Path, chunk_rows: int) -> None:
        output = Path(output)
        self.folder = output.with_name(f".{output.name}.resume")
        self.chunk_rows = int(chunk_rows)

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

    def create(self, manifest: dict[str, Any]) -> None:
        self.folder.mkdir(exist_ok=True)
        if not self.manifest_path.is_file():
            tmp = self.folder / f".manifest.{os.getpid()}.json"
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
            os.replace(tmp, self.manifest_path)

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


__all__ = ["ChunkStore", "ResumeMismatchError"]
