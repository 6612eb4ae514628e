"""Radix partitioning by key hash (engine.codegen.radix), against the same arithmetic in Python."""
from __future__ import annotations

import numpy as np
import pytest

from engine.codegen import radix

MASK = (1 << 64) - 1


def _python_hash(keys: list[tuple[list[int], list[bool] | None]], row: int) -> int:
    h = radix.HASH_SEED
    for j, (values, validity) in enumerate(keys):
        x = radix.HASH_NULL if validity is not None and not validity[row] else values[row] & MASK
        if j:
            h ^= h >> 32
        h = ((h ^ x) * radix.HASH_MULTIPLIER) & MASK
    return h


def _python_partition(h: int, bits: int) -> int:
    return ((((h ^ (h >> 33)) * radix.PARTITION_MIX) & MASK) >> (64 - bits))


def test_key_hashes_fold_every_key_as_the_aggregate_kernel_does():
    rng = np.random.default_rng(3)
    n = 500
    first = rng.integers(-2**62, 2**62, n)
    second = rng.integers(-5, 5, n).astype(np.int32)
    valid = rng.random(n) < 0.7
    flags = rng.random(n) < 0.5
    keys = [(first, None), (second, valid), (flags, None)]
    hashes = radix.key_hashes(keys, n)
    python_keys = [(first.tolist(), None), (second.tolist(), valid.tolist()), (flags.astype(int).tolist(), None)]
    assert hashes.tolist() == [_python_hash(python_keys, i) for i in range(n)]
    # a null key hashes the same whatever value is stored under it
    other = second.copy()
    other[~valid] += 1
    assert np.array_equal(radix.key_hashes([(first, None), (other, valid), (flags, None)], n), hashes)


@pytest.mark.parametrize("bits", [1, 3, 8])
def test_rows_of_every_chunk_land_in_their_partition_in_order(bits):
    rng = np.random.default_rng(bits)
    sizes = [700, 0, 1300]
    chunks, hashes = [], []
    row = 0
    for size in sizes:
        ids = np.arange(row, row + size)                   # each row's number, to follow it
        chunks.append([ids, rng.random(size), rng.random(size) < 0.5])
        hashes.append(radix.key_hashes([(rng.integers(0, 300, size), None)], size))
        row += size
    moved, starts = radix.radix_partition(chunks, hashes, bits)
    assert starts[0] == 0 and starts[-1] == sum(sizes) and len(starts) == (1 << bits) + 1
    every_hash = np.concatenate(hashes)
    every_row = [np.concatenate([c[j] for c in chunks]) for j in range(3)]
    for p in range(1 << bits):
        rows = moved[0][starts[p]:starts[p + 1]]
        # the partition holds exactly the rows whose hash picks it, in their order across chunks
        expected = [i for i, h in enumerate(every_hash.tolist()) if _python_partition(h, bits) == p]
        assert rows.tolist() == expected
        for j in (1, 2):     # every column moved alongside
            assert np.array_equal(moved[j][starts[p]:starts[p + 1]], every_row[j][rows])
    assert [m.dtype for m in moved] == [np.int64, np.float64, np.bool_]


@pytest.mark.parametrize("bits", [0, 9])
def test_bits_outside_a_byte_of_partition_ids_are_refused(bits):
    with pytest.raises(ValueError, match=f"1 to 8 bits, not {bits}"):
        radix.radix_partition([[np.arange(3)]], [np.arange(3, dtype=np.uint64)], bits)
