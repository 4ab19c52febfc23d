"""glibc malloc settings (lightning_modules/cpu_memory.py): applied, switchable off, trim only when needed."""

import sys

import numpy as np
import pytest

from lightning_modules import cpu_memory

glibc = pytest.mark.skipif(cpu_memory._LIBC is None or not sys.platform.startswith("linux"), reason="glibc only")


@glibc
def test_keep_freed_memory_applies_and_can_be_switched_off(monkeypatch):
    assert cpu_memory.keep_freed_memory() is True
    monkeypatch.setenv("SEMCOLOR_MALLOC", "default")
    assert cpu_memory.keep_freed_memory() is False


@glibc
def test_release_trims_only_above_the_bound():
    if cpu_memory.free_heap_bytes() is None:
        pytest.skip("glibc without mallinfo2")
    cpu_memory.keep_freed_memory()
    blocks = [np.ones(2_000_000) for _ in range(20)]  # 16 MB each: heap memory under the raised thresholds
    del blocks
    assert cpu_memory.free_heap_bytes() > 100 << 20  # freed, kept by the heap for reuse
    assert cpu_memory.release_free_memory(above=1 << 40) is False
    assert cpu_memory.release_free_memory(above=0) is True
    assert cpu_memory.free_heap_bytes() < 100 << 20
