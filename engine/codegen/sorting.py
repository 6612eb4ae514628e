"""Compiled sort kernels: a radix argsort of normalized keys, and rows grouped by partition id.

A sort on integer-like keys (integers, dates, timestamps, booleans) does not need comparisons:
each key, shifted to start at zero (reversed when descending) and led by its null flag, packs
into one unsigned 64-bit word whose integer order is the sort order, when the keys' value ranges
fit in 64 bits together (Spark's sort prefix idea, taken to the whole key). An LSD radix sort of
those words is stable and linear in the rows: on 1.5 million rows of two TPC-H keys it took
53 ms against 309 ms for ``pyarrow.compute.sort_indices`` on the two columns (thread time).

A shuffle map task groups its rows by reduce partition the same way: a counting sort of the
partition ids (one pass to count, one to place), stable, so rows keep their map order within a
partition as Spark's ``ShuffleExternalSorter`` keeps them.
"""
from __future__ import annotations

import numpy as np

from engine.codegen.jit import njit
from engine.memory import native

# bits of the key sorted per pass: 2048 counters stay in the L1 cache
MAX_RADIX_BITS = 11
NUMPY_MAX_ROWS = 4096     # group_by_partition sorts up to this many rows with numpy


@njit(cache=True)
def _radix_argsort(current, moved, order, spare, key_bits, digit_bits):
    n = current.shape[0]
    for i in range(n):
        order[i] = i
    mask = (1 << digit_bits) - 1
    shift = 0
    while shift < key_bits:
        counts = np.zeros((1 << digit_bits) + 1, np.int64)
        for i in range(n):
            counts[np.int64((current[i] >> shift) & mask) + 1] += 1
        for d in range(1 << digit_bits):
            counts[d + 1] += counts[d]
        for i in range(n):
            d = np.int64((current[i] >> shift) & mask)
            at = counts[d]
            counts[d] = at + 1
            spare[at] = order[i]
            moved[at] = current[i]
        order, spare = spare, order
        current, moved = moved, current
        shift += digit_bits
    return order


# what sorting costs besides its input, per row: the keys and their moved copy (8 bytes each at
# most), the order and its spare (4 bytes each below 2**31 rows)
RADIX_SCRATCH_BYTES_PER_ROW = 24


def radix_argsort(keys: np.ndarray, key_bits: int) -> np.ndarray:
    """The stable ascending order of ``keys`` (unsigned, below ``2**key_bits``) as row indices:
    what ``np.argsort(keys, kind="stable")`` returns, in passes of at most ``MAX_RADIX_BITS`` bits,
    balanced so that no pass sorts bits no key has. ``keys`` is the kernel's scratch: it is
    overwritten (the caller built it for this sort), and keys of 32 bits or less are sorted as
    uint32, half the memory traffic."""
    n = len(keys)
    index_type = np.int32 if n < 2**31 else np.int64
    if key_bits <= 0 or n <= 1:
        return np.arange(n, dtype=index_type)
    current = keys.astype(np.uint32) if key_bits <= 32 else np.ascontiguousarray(keys, dtype=np.uint64)
    passes = -(-key_bits // MAX_RADIX_BITS)
    return _radix_argsort(current, native.empty(len(current), current.dtype), native.empty(n, index_type),
                          native.empty(n, index_type), key_bits, -(-key_bits // passes))


@njit(cache=True)
def _group_by_partition(partition_ids, num_partitions, order):
    starts = np.zeros(num_partitions + 1, np.int64)
    for i in range(partition_ids.shape[0]):
        starts[partition_ids[i] + 1] += 1
    for p in range(num_partitions):
        starts[p + 1] += starts[p]
    next_slot = starts[:-1].copy()
    for i in range(partition_ids.shape[0]):
        p = partition_ids[i]
        order[next_slot[p]] = i
        next_slot[p] += 1
    return starts


def group_by_partition(partition_ids: np.ndarray, num_partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """``(order, starts)``: the rows in partition order (stable; int32 below 2**31 rows), and where
    partition p's rows start in that order (``starts[p]`` to ``starts[p + 1]``). A partition id
    outside ``[0, num_partitions)`` raises, naming it, rather than writing out of bounds."""
    ids = np.ascontiguousarray(partition_ids, dtype=np.int32)
    if len(ids) and (ids.min() < 0 or ids.max() >= num_partitions):
        bad = ids[(ids < 0) | (ids >= num_partitions)][0]
        raise ValueError(f"partition id {bad} is outside [0, {num_partitions})")
    index_type = np.int32 if len(ids) < 2**31 else np.int64
    if len(ids) <= NUMPY_MAX_ROWS:   # a few rows: not worth a cold compile of the counting sort (~1 s)
        starts = np.zeros(num_partitions + 1, np.int64)
        np.cumsum(np.bincount(ids, minlength=num_partitions), out=starts[1:])
        return np.argsort(ids, kind="stable").astype(index_type), starts
    order = native.empty(len(ids), index_type)
    return order, _group_by_partition(ids, num_partitions, order)


@njit(cache=True, inline="always")
def _before(a, b):
    """``a < b`` with NaN above every number, as Spark orders doubles (and numpy sorts them)."""
    return a < b or (b != b and a == a)


@njit(cache=True)
def _partition_ids_by_range(values, valid, has_nulls, bounds, ascending, null_partition, out):
    last = bounds.shape[0]
    for i in range(values.shape[0]):
        if has_nulls and not valid[i]:
            out[i] = null_partition
            continue
        v = values[i]
        low, high = 0, last
        while low < high:  # the first bound not before v: numpy's searchsorted(side="left")
            middle = (low + high) >> 1
            if _before(bounds[middle], v):
                low = middle + 1
            else:
                high = middle
        out[i] = low if ascending else last - low


def partition_ids_by_range(values: np.ndarray, valid: np.ndarray | None, bounds: np.ndarray, ascending: bool,
                           null_partition: int) -> np.ndarray:
    """The range partition of every row (Spark's ``RangePartitioner.getPartition``): how many of
    the sorted ``bounds`` sort before the row's key, counted from the end when descending; a
    null key (``valid`` False) goes to ``null_partition``. A binary search per row, compiled."""
    out = native.empty(len(values), np.int32)
    has_nulls = valid is not None
    _partition_ids_by_range(values, valid if has_nulls else np.ones(0, np.bool_), has_nulls,
                            np.asarray(bounds, dtype=values.dtype), ascending, null_partition, out)
    return out
