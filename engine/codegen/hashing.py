"""Spark-compatible Murmur3 hashing of Arrow columns (Spark's ``Murmur3Hash``, seed 42).

This is the hash of ``HashPartitioning`` and of the SQL ``hash()`` function, so rows land in the
same shuffle partition as they would in Spark, and ``hash(...)`` gives Spark's numbers::

    >>> hash_columns([pa.array([1], pa.int32())])        # Spark: SELECT hash(CAST(1 AS INT))
    array([-559580957], dtype=int32)

Columns are chained: the hash of a row's first column seeds the hash of its second, and so on; a
null value leaves the running hash unchanged (so a row of nulls hashes to 42). Per Arrow type:

* int32, date32 (and smaller integers): ``hashInt``
* int64, timestamp (as microseconds): ``hashLong``
* float64: ``hashLong(doubleToLongBits(x))``, with -0.0 hashed as 0.0 and every NaN as Java's NaN
* bool: ``hashInt`` of 1 or 0
* string: ``hashUnsafeBytes`` of the UTF-8 bytes, read straight from the Arrow offsets and data
  buffers. (Spark's ``hashUnsafeBytes`` mixes each trailing byte as a sign-extended int on its own,
  unlike the reference Murmur3; Spark keeps it for compatibility, and so does Ember.)

Decimals are stored as float64 by Ember and so hash as doubles, which is not what Spark does for
decimals (it hashes the unscaled long).

All arithmetic is on int64 holding unsigned 32-bit values, masked after every multiply and
rotate; the low 32 bits of a wrapped 64-bit product are the 32-bit product Java computes.

Up to ``INTERPRET_MAX_ROWS`` rows (a partial aggregate's few groups going to a shuffle) the same
kernels run interpreted (``jit.interpreted``): compiling the string kernel cold took 1.7-1.9 s,
which a first query over a handful of groups would otherwise wait for.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine.codegen.jit import interpreted, njit
from engine.memory import native

SPARK_HASH_SEED = 42
INTERPRET_MAX_ROWS = 256

_MASK = 0xFFFFFFFF
_C1 = 0xCC9E2D51
_C2 = 0x1B873593
_JAVA_NAN_BITS = 0x7FF8000000000000   # Double.doubleToLongBits(NaN)


@njit(cache=True)
def _rotl32(x, r):
    return ((x << r) | (x >> (32 - r))) & _MASK


@njit(cache=True)
def _mix_k1(k1):
    k1 = (k1 * _C1) & _MASK
    k1 = _rotl32(k1, 15)
    return (k1 * _C2) & _MASK


@njit(cache=True)
def _mix_h1(h1, k1):
    h1 ^= k1
    h1 = _rotl32(h1, 13)
    return (h1 * 5 + 0xE6546B64) & _MASK


@njit(cache=True)
def _fmix(h1, length):
    h1 ^= length
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & _MASK
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & _MASK
    h1 ^= h1 >> 16
    return h1


@njit(cache=True)
def _hash_int(value, seed):
    return _fmix(_mix_h1(seed, _mix_k1(value & _MASK)), 4)


@njit(cache=True)
def _hash_long(value, seed):
    h1 = _mix_h1(seed, _mix_k1(value & _MASK))
    h1 = _mix_h1(h1, _mix_k1((value >> 32) & _MASK))
    return _fmix(h1, 8)


@njit(cache=True)
def _hash_ints(values, valid, has_nulls, hashes):
    for i in range(hashes.shape[0]):
        if has_nulls and not valid[i]:
            continue
        hashes[i] = _hash_int(np.int64(values[i]), hashes[i])


@njit(cache=True)
def _hash_longs(values, valid, has_nulls, hashes):
    for i in range(hashes.shape[0]):
        if has_nulls and not valid[i]:
            continue
        hashes[i] = _hash_long(np.int64(values[i]), hashes[i])


@njit(cache=True)
def _hash_doubles(values, bits, valid, has_nulls, hashes):
    # ``bits`` is the same buffer as ``values`` viewed as int64: Java's doubleToRawLongBits
    for i in range(hashes.shape[0]):
        if has_nulls and not valid[i]:
            continue
        x = values[i]
        if x == 0.0:
            b = np.int64(0)                   # -0.0 hashes as 0.0
        elif x != x:
            b = np.int64(_JAVA_NAN_BITS)      # every NaN is the canonical NaN
        else:
            b = bits[i]
        hashes[i] = _hash_long(b, hashes[i])


@njit(cache=True)
def _hash_strings(offsets, data, valid, has_nulls, hashes):
    for i in range(hashes.shape[0]):
        if has_nulls and not valid[i]:
            continue
        start = np.int64(offsets[i])
        length = np.int64(offsets[i + 1]) - start
        aligned = length - length % 4
        h1 = hashes[i]
        for j in range(start, start + aligned, 4):
            word = (np.int64(data[j]) | (np.int64(data[j + 1]) << 8)
                    | (np.int64(data[j + 2]) << 16) | (np.int64(data[j + 3]) << 24))
            h1 = _mix_h1(h1, _mix_k1(word))
        for j in range(start + aligned, start + length):
            byte = np.int64(data[j])
            if byte >= 128:
                byte -= 256                   # Java bytes are signed
            h1 = _mix_h1(h1, _mix_k1(byte & _MASK))
        hashes[i] = _fmix(h1, length & _MASK)


def _bitmap(buf: pa.Buffer, offset: int, n: int) -> np.ndarray:
    start = offset // 8
    raw = np.frombuffer(buf, np.uint8, count=(offset + n + 7) // 8 - start, offset=start)
    bit = offset % 8
    return np.unpackbits(raw, bitorder="little")[bit:bit + n].view(np.bool_)


def _fixed_width(arr: pa.Array, dtype) -> np.ndarray:
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + len(arr))[arr.offset:]


_NO_NULLS = np.zeros(0, np.bool_)


def _normalise(arr) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    t = arr.type
    if pa.types.is_string_view(t) or pa.types.is_binary_view(t):
        arr = arr.cast(pa.large_binary())
    elif pa.types.is_timestamp(t) and t.unit != "us":
        arr = arr.cast(pa.timestamp("us", t.tz), safe=False)
    elif pa.types.is_date64(t):
        arr = arr.cast(pa.date32())
    elif pa.types.is_float32(t):
        arr = arr.cast(pa.float64())    # Spark hashes floats differently; Ember has no float type
    elif pa.types.is_integer(t) and t.bit_width < 32:
        arr = arr.cast(pa.int32())      # Spark hashes byte and short with hashInt
    return arr


def _hash_into(arr: pa.Array, hashes: np.ndarray) -> None:
    n = len(arr)
    if arr.null_count == n:
        return
    kernel, args = _kernel_call(arr, hashes)
    if n <= INTERPRET_MAX_ROWS:
        with np.errstate(over="ignore"):
            interpreted(kernel)(*args)
    else:
        kernel(*args)


def _kernel_call(arr: pa.Array, hashes: np.ndarray) -> tuple:
    """The kernel that mixes ``arr`` (of its type) into ``hashes``, and its arguments."""
    n = len(arr)
    has_nulls = arr.null_count > 0
    valid = _bitmap(arr.buffers()[0], arr.offset, n) if has_nulls else _NO_NULLS
    t = arr.type
    if pa.types.is_int32(t) or pa.types.is_date32(t):
        return _hash_ints, (_fixed_width(arr, np.int32), valid, has_nulls, hashes)
    if pa.types.is_int64(t) or pa.types.is_timestamp(t) or pa.types.is_uint32(t):
        dtype = np.uint32 if pa.types.is_uint32(t) else np.int64
        return _hash_longs, (_fixed_width(arr, dtype), valid, has_nulls, hashes)
    if pa.types.is_float64(t):
        values = _fixed_width(arr, np.float64)
        return _hash_doubles, (values, values.view(np.int64), valid, has_nulls, hashes)
    if pa.types.is_boolean(t):
        bits = _bitmap(arr.buffers()[1], arr.offset, n).view(np.uint8)
        return _hash_ints, (bits, valid, has_nulls, hashes)
    if pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t) \
            or pa.types.is_large_binary(t):
        offset_type = np.int64 if (pa.types.is_large_string(t) or pa.types.is_large_binary(t)) else np.int32
        buffers = arr.buffers()
        offsets = np.frombuffer(buffers[1], offset_type, count=arr.offset + n + 1)[arr.offset:]
        data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
        return _hash_strings, (offsets, data, valid, has_nulls, hashes)
    raise TypeError(f"Spark-compatible hashing of Arrow type {t} is not supported")


def _running_hashes(arrays) -> np.ndarray:
    columns = [_normalise(a) for a in arrays]
    n = len(columns[0]) if columns else 0
    for c in columns:
        if len(c) != n:
            raise ValueError(f"columns to hash differ in length: {[len(x) for x in columns]}")
    hashes = native.full(n, SPARK_HASH_SEED, np.int64)
    for c in columns:
        _hash_into(c, hashes)
    return hashes


def hash_columns(arrays: list[pa.Array]) -> np.ndarray:
    """Spark's ``hash(c1, c2, ...)`` of every row, as int32 (a row of nulls hashes to 42).

    >>> hash_columns([pa.array([7], pa.int32()), pa.array(["x"])])   # hash(7, 'x') in Spark
    array([-1387796086], dtype=int32)
    """
    return _running_hashes(arrays).astype(np.uint32).view(np.int32)   # values below 2**32: exact


def partition_ids(arrays: list[pa.Array], num_partitions: int) -> np.ndarray:
    """The shuffle partition of every row under Spark's ``HashPartitioning``: ``pmod(hash, n)``.

    >>> partition_ids([pa.array([1, 2, 3], pa.int64())], 4)                  # doctest: +SKIP
    array([...], dtype=int32)
    """
    if num_partitions <= 0:
        raise ValueError(f"num_partitions must be positive, not {num_partitions}")
    return (hash_columns(arrays).astype(np.int64) % num_partitions).astype(np.int32)   # floor modulo, as pmod
