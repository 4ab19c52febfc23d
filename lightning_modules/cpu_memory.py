"""glibc malloc settings for tensor work on the CPU: reuse freed memory instead of page-faulting it back.

With glibc's defaults, a freed buffer above the *mmap threshold* (dynamic, at most 32 MB) is unmapped,
and freed memory at the top of the heap beyond the *trim threshold* is returned to the OS; the next
batch's activations of the same size are then mapped afresh and every page is faulted in and zeroed by
the kernel. Measured here (2 cores, light conv net, batches of 8 windows of 256^2): 4 M minor page
faults and 11.6 s of system time per 40 batches; 30.6 windows/s with the defaults, 105.6 with both
thresholds raised (no faults left). A U-Net training step on 16 x 64^2 tiles: 3.5 s of system time per
30 steps, none with the thresholds raised (2.2 -> 2.3-2.7 steps/s). Peak RSS stays the same: the
memory is the high-water mark the process reaches anyway.

Hand-written because no library exposes ``mallopt`` / ``malloc_trim`` (jemalloc or tcmalloc through
``LD_PRELOAD`` do the same job, but are system packages and must be set before Python starts;
``GLIBC_TUNABLES`` likewise). The settings are process-wide; :func:`keep_freed_memory` is called by the
CLI at start and by the whole-scene writer. Set ``SEMCOLOR_MALLOC=default`` to keep glibc's defaults.
Elsewhere than glibc on Linux nothing is changed.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

#: mallopt parameter numbers in glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: buffers up to this size come from the heap and stay there when freed (the largest activation of a
#: batch is well below it; larger ones are still mapped and unmapped)
DEFAULT_THRESHOLD = 1 << 30


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:  # not ctypes.util.find_library: it forks ldconfig, whose RSS would count as ours
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


def keep_freed_memory(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Raise glibc's mmap and trim thresholds to ``threshold`` bytes for the rest of the process, so that
    freed tensor buffers are reused without page faults. Returns whether the settings were applied."""
    if _LIBC is None or os.environ.get("SEMCOLOR_MALLOC", "").lower() == "default":
        return False
    ok = _LIBC.mallopt(_M_MMAP_THRESHOLD, int(threshold)) == 1
    return bool(_LIBC.mallopt(_M_TRIM_THRESHOLD, int(threshold)) == 1 and ok)


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (glibc >= 2.33): heap statistics in size_t fields."""

    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def free_heap_bytes() -> int | None:
    """Bytes free inside the main heap (``mallinfo2().fordblks``), or None where glibc cannot say."""
    fn = getattr(_LIBC, "mallinfo2", None)
    if fn is None:
        return None
    fn.restype = _MallInfo2
    return int(fn().fordblks)


def release_free_memory(above: int = 256 << 20) -> bool:
    """Return the heap's free pages to the OS (``malloc_trim(0)``) when more than ``above`` bytes are free
    (always where glibc cannot say how much is free). Returns whether it trimmed.

    The whole-scene writer calls it after each written block row: RSS then stays within ``above`` of what
    is in use, whatever the scene size, while the batches' buffers are not unmapped and faulted back in
    on every block row (measured: trimming every block row cost 10% of the predict throughput)."""
    if _LIBC is None:
        return False
    free = free_heap_bytes()
    if free is not None and free <= above:
        return False
    _LIBC.malloc_trim(0)
    return True


__all__ = ["DEFAULT_THRESHOLD", "free_heap_bytes", "keep_freed_memory", "release_free_memory"]
