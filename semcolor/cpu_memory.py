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


def resident_bytes() -> int | None:
    """This process's resident set size now (``/proc/self/statm``), or None where there is no procfs."""
    try:
        resident_pages = int(open("/proc/self/statm").read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


class HeapTrimmer:
    """Return the heap's free pages to the OS (``malloc_trim(0)``) when the process's RSS has grown more
    than ``slack`` bytes above its level at the first call or after the last trim.

    The whole-scene writer calls one after each written block row: RSS then stays within ``slack`` of a
    level set once the batches' buffers exist, whatever the scene size, while those buffers are not
    unmapped and faulted back in on every block row (trimming every block row cost 10% of the predict
    throughput of the light benchmark net). The first call only records the level. Without procfs it
    trims on every call.
    """

    def __init__(self, slack: int = 256 << 20) -> None:
        self.slack = slack
        self.level: int | None = None
        self.trims = 0

    def __call__(self) -> bool:
        if _LIBC is None:
            return False
        rss = resident_bytes()
        if rss is not None and (self.level is None or rss - self.level <= self.slack):
            if self.level is None:
                self.level = rss
            return False
        _LIBC.malloc_trim(0)
        self.trims += 1
        self.level = resident_bytes()
        return True


__all__ = ["DEFAULT_THRESHOLD", "HeapTrimmer", "keep_freed_memory", "resident_bytes"]
