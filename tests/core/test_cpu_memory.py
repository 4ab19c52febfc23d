"""glibc malloc settings (semcolor/cpu_memory.py): applied, switchable off, trim only when needed."""

import sys

import numpy as np
import pytest

from semcolor import cpu_memory

glibc = pytest.mark.skipif(cpu_memory._LIBC is None or not sys.platform.startswith("linux"), reason="glibc only")


@glibc
def test_keep_freed_memory_applies_and_can_be_switched_off(monkeypatch):
    assert cpu_memory.keep_freed_memory() is True
    monkeypatch.setenv("SEMCOLOR_MALLOC", "default")
    assert cpu_memory.keep_freed_memory() is False


@glibc
def test_trimmer_trims_only_when_rss_grew_past_the_slack():
    if cpu_memory.resident_bytes() is None:
        pytest.skip("no /proc/self/statm")
    cpu_memory.keep_freed_memory()
    cpu_memory._LIBC.malloc_trim(0)  # start from a heap without resident free memory (earlier tests')
    trim = cpu_memory.HeapTrimmer(slack=150 << 20)
    assert trim() is False and trim.level is not None  # the first call records the level
    blocks = [np.ones(2_000_000) for _ in range(25)]  # 400 MB touched: heap memory under the raised thresholds
    del blocks  # freed but kept resident by the heap, for reuse
    high = cpu_memory.resident_bytes()
    assert high - trim.level > 300 << 20
    assert cpu_memory.HeapTrimmer(slack=1 << 40)() is False
    assert trim() is True and trim.trims == 1
    assert cpu_memory.resident_bytes() < high - (300 << 20)  # the free pages went back to the OS
    assert trim() is False  # nothing grew since
