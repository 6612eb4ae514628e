"""Native allocators that give freed memory back, so a process stays near its execution memory.

The execution memory an executor hands out bounds what operators hold at once, not what the
process keeps: two allocators below Python keep memory that was freed, for reuse.

- Arrow's default pool (mimalloc, or jemalloc) keeps freed pages in per-thread segments.
- glibc serves a buffer above ``M_MMAP_THRESHOLD`` with its own ``mmap`` and unmaps it when it
  is freed, but the threshold is dynamic: freeing such a buffer raises it to that buffer's size,
  so the next buffers of that size come from heaps that are never trimmed.

Measured on the bounded-memory test job (16 MiB of execution memory, 7-10 M rows aggregated), the
process's private memory grew 113-148 MiB with both as they are, 106 MiB with Arrow on the system
allocator, and 37-42 MiB with the system allocator and a fixed threshold.

``spark.ember.memory.returnFreedMemory`` (false by default) asks for both. Arrow picks its C++
pool once per process, from ``ARROW_DEFAULT_MEMORY_POOL``, before any session exists, so the
process must be started with ``ARROW_DEFAULT_MEMORY_POOL=system`` (a clear error says so
otherwise); the glibc threshold is fixed here. It costs speed (every large buffer is a fresh
``mmap`` whose pages the kernel zeroes: a 10 M row aggregation with 1 GiB took 4.8-5.0 s against
4.2-4.7 s, on a shared machine), so it is for executors that must stay within their memory, not
the default.
"""
from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa

RETURN_FREED_MEMORY = "spark.ember.memory.returnFreedMemory"
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own default, kept fixed instead of growing


def configure_native_memory(conf) -> bool:
    """Apply ``spark.ember.memory.returnFreedMemory`` to this process; return whether it is on.

    Raises ``ValueError`` when the setting is not a boolean, or is true in a process whose Arrow
    pool is not the system allocator.
    """
    value = str(conf.get(RETURN_FREED_MEMORY, "false")).strip().lower()
    if value not in ("true", "false"):
        raise ValueError(f"{RETURN_FREED_MEMORY} must be true or false, got {value!r}")
    if value == "false":
        return False
    backend = pa.default_memory_pool().backend_name
    if backend != "system":
        raise ValueError(f"{RETURN_FREED_MEMORY}=true needs Arrow's system allocator, but this process uses "
                         f"{backend}: start it with the environment variable ARROW_DEFAULT_MEMORY_POOL=system")
    _fix_glibc_mmap_threshold()
    return True


def _fix_glibc_mmap_threshold() -> None:
    """Fix glibc's mmap threshold; a C library other than glibc (musl, macOS) is left as it is."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version"):
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
