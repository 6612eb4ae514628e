"""How the native allocators below Ember treat freed memory: kept for the next task, or given back.

Two allocators below Python hold a job's large buffers: Arrow's pool (Parquet pages, ``take``,
shuffle and cache blocks) and glibc's ``malloc`` (NumPy's arrays).

**Kept (the default).** A buffer whose pages go back to the kernel costs a page fault per page the
next time, and the kernel zeroes each page again; on a virtual machine that hands freed memory
back to its host, each of those faults costs more still (perf put the kernel's page clearing at
17% of a benchmark process's samples). So Ember keeps freed memory for the next task:

- Arrow's default pool (mimalloc) returns large freed buffers; Ember makes jemalloc the process's
  Arrow pool, with purging off for the arenas created from then on (jemalloc's first arena is
  bound to the thread that configures it, and keeps Arrow's 1 s decay; executor threads get new
  arenas at their first allocation).
- Ember's own large working arrays (decoded pages, kernel outputs, hash tables, sort indices)
  come from that pool too (``empty``, ``full``, ``zeros``), not from glibc, which maps each
  array above its mmap threshold (at most 32 MiB) anew and unmaps it when it is freed.

Measured at SF 1 in one process beside DuckDB and Polars (``benchmarks/``, four runs, two
alternating processes per setting, medians): the jemalloc pool took a full sort of lineitem from
2.15-2.28 s to 1.79-1.91 s (system time 1.5 s to 0.8-0.9 s); the pooled arrays then took the
group-by on l_orderkey from 1.05-1.15 s to 0.57-0.59 s (system time 1.2 s to 0.13 s, page faults
14-17k to 3-4k), Q1 from 240 ms to 203-209 ms (faults 7-9k to under 50) and the sort to
1.63-1.81 s. The process keeps its peak: about 1.7 GiB of RSS after those queries. A process
started with ``ARROW_DEFAULT_MEMORY_POOL`` set keeps the pool it asked for.

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
import math
import os
import threading

import numpy as np
import pyarrow as pa

RETURN_FREED_MEMORY = "spark.ember.memory.returnFreedMemory"
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own default, kept fixed instead of growing
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
NEVER_PURGE = -1  # jemalloc's decay time that keeps dirty pages until they are reused
POOLED_MIN_BYTES = 64 * 1024  # below this, glibc serves an array from heaps it keeps anyway


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
        _park_first_arena(pool)
        pa.jemalloc_set_decay_ms(NEVER_PURGE)
        pa.set_memory_pool(pool)
    return pool.backend_name


def _park_first_arena(pool: pa.MemoryPool) -> None:
    """Bind jemalloc's first arena, made at its start and so deaf to the decay set afterwards, to a
    thread that only waits, so that every thread doing work gets an arena of its own that keeps
    what it frees (jemalloc gives a new thread the arena with the fewest threads, or a new one)."""
    bound = threading.Event()

    def hold() -> None:
        pa.allocate_buffer(64, memory_pool=pool)
        bound.set()
        threading.Event().wait()

    threading.Thread(target=hold, name="ember-jemalloc-first-arena", daemon=True).start()
    bound.wait()


def _fix_glibc_mmap_threshold() -> None:
    """Fix glibc's mmap threshold; a C library other than glibc (musl, macOS) is left as it is."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version"):
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def empty(shape, dtype) -> np.ndarray:
    """``np.empty``, from Arrow's pool when it takes ``POOLED_MIN_BYTES`` or more.

    NumPy asks glibc, which maps each array above its mmap threshold (32 MiB at most) anew and
    unmaps it when it is freed, so every large working array of a task (decoded pages, kernel
    outputs, hash tables, sort indices) faulted its pages in again. From the pool, an array reuses
    the pages an earlier one freed; it is returned to the pool when its last view is gone.
    """
    dtype = np.dtype(dtype)
    count = math.prod(shape) if isinstance(shape, tuple) else int(shape)
    if count * dtype.itemsize < POOLED_MIN_BYTES:
        return np.empty(shape, dtype)
    return np.frombuffer(pa.allocate_buffer(count * dtype.itemsize), dtype).reshape(shape)


def full(shape, value, dtype) -> np.ndarray:
    """``np.full`` from ``empty``'s memory."""
    out = empty(shape, dtype)
    out.fill(value)
    return out


def zeros(shape, dtype) -> np.ndarray:
    """``np.zeros`` from ``empty``'s memory."""
    return full(shape, 0, dtype)
