"""How the native allocators below Ember treat freed memory: kept for the next task, or given back.

Two allocators below Python hold a job's large buffers: Arrow's pool (Parquet pages, ``take``,
shuffle and cache blocks) and glibc's ``malloc`` (NumPy arrays, kernel outputs).

**Kept (the default).** A buffer whose pages go back to the kernel costs a page fault per page the
next time, and the kernel zeroes each page again; on a virtual machine that hands freed memory
back to its host, each of those faults costs more still. Arrow's default pool (mimalloc) returns
large freed buffers, so Ember switches the process's Arrow pool to jemalloc with purging off for
the arenas created from then on (executor threads get theirs at their first allocation; the
thread that made the process's first jemalloc allocation keeps Arrow's 1 s decay). Measured on a
full sort of lineitem at SF 1 (``benchmarks/``, in one process beside DuckDB and Polars, four
runs): 16-20k page faults and 0.8-1.0 s of system time per run, against 36-37k and 2.0-2.5 s with
mimalloc; the process keeps about 0.4-0.6 GiB more. A process started with
``ARROW_DEFAULT_MEMORY_POOL`` set keeps the pool it asked for.

**Returned** (``spark.ember.memory.returnFreedMemory=true``, for executors that must stay within
their memory). Arrow uses the system allocator, and glibc's mmap threshold is fixed: glibc serves
a buffer above ``M_MMAP_THRESHOLD`` with its own ``mmap`` and unmaps it when freed, but the
threshold is dynamic (freeing such a buffer raises it to that buffer's size, so the next buffers
of that size come from heaps that are never trimmed). Measured on the bounded-memory test job
(16 MiB of execution memory, 7-10 M rows aggregated), the process's private memory grew 113-148
MiB with both allocators as they were, 106 MiB with Arrow on the system allocator, and 37-42 MiB
with the system allocator and a fixed threshold. Arrow picks its C++ pool once per process, from
``ARROW_DEFAULT_MEMORY_POOL``, so the process must be started with
``ARROW_DEFAULT_MEMORY_POOL=system`` (a clear error says so otherwise). It costs speed (a 10 M row
aggregation with 1 GiB took 4.8-5.0 s against 4.2-4.7 s, on a shared machine).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

import pyarrow as pa

RETURN_FREED_MEMORY = "spark.ember.memory.returnFreedMemory"
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own default, kept fixed instead of growing
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
NEVER_PURGE = -1  # jemalloc's decay time that keeps dirty pages until they are reused


def configure_native_memory(conf) -> bool:
    """Apply ``spark.ember.memory.returnFreedMemory`` to this process; return whether it is on.
    Off, the process keeps freed Arrow memory (``keep_freed_arrow_memory``).

    Raises ``ValueError`` when the setting is not a boolean, or is true in a process whose Arrow
    pool is not the system allocator.
    """
    value = str(conf.get(RETURN_FREED_MEMORY, "false")).strip().lower()
    if value not in ("true", "false"):
        raise ValueError(f"{RETURN_FREED_MEMORY} must be true or false, got {value!r}")
    if value == "false":
        keep_freed_arrow_memory()
        return False
    backend = pa.default_memory_pool().backend_name
    if backend != "system":
        raise ValueError(f"{RETURN_FREED_MEMORY}=true needs Arrow's system allocator, but this process uses "
                         f"{backend}: start it with the environment variable {ARROW_POOL_ENV}=system")
    _fix_glibc_mmap_threshold()
    return True


def keep_freed_arrow_memory() -> str:
    """Make jemalloc, purging nothing, the process's Arrow pool, unless the process chose its pool
    with ``ARROW_DEFAULT_MEMORY_POOL`` or this pyarrow has no jemalloc. Returns the pool's backend."""
    if os.environ.get(ARROW_POOL_ENV):
        return pa.default_memory_pool().backend_name
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.default_memory_pool().backend_name
    if pa.default_memory_pool().backend_name != pool.backend_name:
        pa.allocate_buffer(64, memory_pool=pool)  # binds this thread to the arena made at jemalloc's start
        pa.jemalloc_set_decay_ms(NEVER_PURGE)
        pa.set_memory_pool(pool)
    return pool.backend_name


def _fix_glibc_mmap_threshold() -> None:
    """Fix glibc's mmap threshold; a C library other than glibc (musl, macOS) is left as it is."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version"):
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
