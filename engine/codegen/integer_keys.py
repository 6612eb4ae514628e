"""Rows keyed by integer columns, grouped by an open-addressing hash table compiled with numba.

This is the table under the compiled final aggregate (``merge_aggregate``) and the compiled hash
join (``join``): both first turn their key columns into one ``(rows, keys)`` int64 matrix, then
find each row's group, the first row of every group, and a slot table to look more keys up in::

    keys = integer_key_matrix([orderkey_column])        # None when a key is not integer-like
    table = group_rows(keys.values)                     # slots, group of each row, first row of each group
    table.lookup(other.values)                          # the group of each other row, -1 when absent

Policy:

* Integer-like means an Arrow integer (8 to 64 bits, signed, or unsigned up to 32), boolean, date
  or timestamp: every one of them is an int64 value without loss. Other types (strings, doubles,
  uint64) are left to the caller's pyarrow path.
* Nulls: a null key's value is stored as 0 and ``nulls`` flags the row. Grouping (Spark's
  aggregate: a null key is a group of its own) appends one more key column, the bitmap of which
  keys are null, so ``(null, 0)`` and ``(0, 0)`` stay apart; a join drops such rows (a null key
  matches nothing).
* Hashing keeps near keys near (``_slot``): the key's low :data:`BLOCK_BITS` bits are its place in
  a block of slots, and the block is the top bits of the rest multiplied by 2^64 / phi (Fibonacci
  hashing; several keys are first folded into one value the same way). Joins and merges mostly
  see keys in runs (lineitem is stored by order id; a partial aggregate emits its groups in the
  order it met them), so probes of neighbouring keys share cache lines. The slot table has a power of two at least twice the rows, so its load factor never passes
  1/2; probing is linear. It is sized once, from the row count, so nothing grows or rehashes.
* A single-key table can also give a bitmap index of its keys (``key_bitmap``) when their range is
  narrow: a bit per value in the range, and each key's rank among the set bits leads to its group.
  A lookup through it reads no slot table; it is what a join's probe uses (a relation is probed
  many times more often than it is built).
* The functions are fixed ``njit(nogil=True, cache=True)`` functions, not generated source: the
  key count is the matrix's second dimension, so one compiled function serves every query.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.codegen.jit import njit
from engine.memory import native

EMPTY = -1
BLOCK_BITS = 3  # slots per block: 8, two cache lines of single-key slots
MAX_BITMAP_BITS_PER_GROUP = 64  # a key bitmap of at most 8 bytes per key: no more than a quarter of its slots
_FIBONACCI = -7046029254386353131  # 2^64 / phi as a wrapped int64


def is_integer_like(data_type: pa.DataType) -> bool:
    """Whether every value of ``data_type`` is an int64 without loss (see the module's policy)."""
    return ((pa.types.is_integer(data_type) and not pa.types.is_uint64(data_type))
            or pa.types.is_boolean(data_type) or pa.types.is_date(data_type) or pa.types.is_timestamp(data_type))


def as_int64(column) -> pa.ChunkedArray | pa.Array:
    """An integer-like column as int64 (dates as days, timestamps as microseconds, so that two key
    columns read with different units still compare equal)."""
    data_type = column.type
    if pa.types.is_timestamp(data_type) and data_type.unit != "us":
        column = column.cast(pa.timestamp("us", data_type.tz))
    if pa.types.is_date32(data_type):
        column = column.view(pa.int32()) if isinstance(column, pa.Array) else _view_chunks(column, pa.int32())
    elif pa.types.is_date64(data_type) or pa.types.is_timestamp(data_type):
        column = column.view(pa.int64()) if isinstance(column, pa.Array) else _view_chunks(column, pa.int64())
    return column.cast(pa.int64())


def _view_chunks(column: pa.ChunkedArray, data_type: pa.DataType) -> pa.ChunkedArray:
    return pa.chunked_array([c.view(data_type) for c in column.chunks], data_type)


@dataclass(frozen=True)
class KeyMatrix:
    """Key columns as one C-ordered int64 matrix, one row per input row; ``nulls`` flags a row with
    a null key (None when no key column has a null)."""

    values: np.ndarray
    nulls: np.ndarray | None


def integer_key_matrix(columns: list, null_groups: bool = False) -> KeyMatrix | None:
    """The key matrix of ``columns``, or None when one of them is not integer-like.

    With ``null_groups`` a null key is a value of its own (an aggregate's grouping): a last
    column holds the bitmap of the row's null keys. Without it (a join), ``nulls`` says which rows
    to drop.
    """
    if not all(is_integer_like(c.type) for c in columns):
        return None
    n = len(columns[0]) if columns else 0
    null_bits = native.zeros(n, np.int64)
    any_null = False
    width = len(columns) + (1 if null_groups else 0)
    values = native.empty((n, width), np.int64)
    for j, column in enumerate(columns):
        ints = as_int64(column)
        if ints.null_count:
            any_null = True
            null_bits |= pc.is_null(ints).to_numpy(zero_copy_only=False).astype(np.int64) << j
            ints = pc.fill_null(ints, 0)
        values[:, j] = ints.to_numpy()
    if null_groups:
        values[:, -1] = null_bits
    return KeyMatrix(values, (null_bits != 0) if any_null else None)


@dataclass(frozen=True)
class GroupedRows:
    """Rows grouped by key: each row's group, each group's first row, and the slot table to look
    keys up in. A slot is one row of ``slots``: the group in column 0 (``EMPTY`` when the slot is
    free), then the group's key values, so a probe reads one cache line."""

    slots: np.ndarray
    group_of_row: np.ndarray
    first_row: np.ndarray

    @property
    def num_groups(self) -> int:
        return self.first_row.shape[0]

    @property
    def key_count(self) -> int:
        return self.slots.shape[1] - 1

    def lookup(self, keys: np.ndarray, bitmap: KeyBitmap | None = None) -> np.ndarray:
        """The group of each row of ``keys`` (a matrix of as many key columns), ``EMPTY`` when absent.
        With this table's ``bitmap`` (``key_bitmap``) the keys are looked up in it instead."""
        if keys.shape[1] != self.key_count:
            raise ValueError(f"looking up {keys.shape[1]} key columns in a table of {self.key_count}")
        out = native.empty(keys.shape[0], np.int64)
        if bitmap is None:
            bitmap = _NO_BITMAP
        _lookup(self.slots, _block_shift(self.slots.shape[0]), keys, bitmap is not _NO_BITMAP, bitmap.low,
                bitmap.size, bitmap.words, bitmap.ranks, bitmap.groups_by_rank, out)
        return out


@dataclass(frozen=True)
class KeyBitmap:
    """A single integer key's index when its values span a narrow range: bit ``v - low`` of
    ``words`` says whether value ``v`` is a key, and the key's rank among the set bits (``ranks``
    counts the bits before each word) is its place in ``groups_by_rank``.

    A lookup then reads no slot table at all: a miss costs one bit, a hit a popcount and one read,
    and keys in order (the lines of a sorted table probing their orders) read all three arrays in
    order instead of a random slot each.
    """

    low: int
    size: int
    words: np.ndarray
    ranks: np.ndarray
    groups_by_rank: np.ndarray


_NO_BITMAP = KeyBitmap(0, 0, np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64))


def key_bitmap(table: GroupedRows) -> KeyBitmap | None:
    """The bitmap index of a single-key table's keys, or None when it has several keys or its key
    range would take more than ``MAX_BITMAP_BITS_PER_GROUP`` bits per group."""
    if table.key_count != 1 or not table.num_groups:
        return None
    used = table.slots[table.slots[:, 0] != EMPTY]
    groups, keys = np.ascontiguousarray(used[:, 0]), np.ascontiguousarray(used[:, 1])
    low, high = int(keys.min()), int(keys.max())
    size = high - low + 1
    if size > MAX_BITMAP_BITS_PER_GROUP * table.num_groups:
        return None
    words = native.zeros((size + 63) // 64, np.int64)
    ranks = native.empty(words.shape[0], np.int64)
    groups_by_rank = native.empty(groups.shape[0], np.int64)
    _index_bits(keys, groups, np.int64(low), words, ranks, groups_by_rank)
    return KeyBitmap(low, size, words, ranks, groups_by_rank)


def slot_bits(rows: int) -> int:
    """log2 of the slot table's size: the smallest power of two of at least twice ``rows`` (and 16)."""
    return max(4, int(2 * max(rows, 1) - 1).bit_length())


def _block_shift(size: int) -> np.int64:
    """The shift that leaves the top bits of a 64-bit product as a block number (see ``_slot``)."""
    return np.int64(64 - (size.bit_length() - 1 - BLOCK_BITS))


def group_rows(keys: np.ndarray) -> GroupedRows:
    """Each row's group among the rows of ``keys``, groups numbered in the order first seen."""
    size = 1 << slot_bits(keys.shape[0])
    slots = native.empty((size, keys.shape[1] + 1), np.int64)
    slots[:, 0] = EMPTY
    group_of_row = native.empty(keys.shape[0], np.int64)
    first_row = native.empty(keys.shape[0], np.int64)
    groups = _insert(keys, _block_shift(size), slots, group_of_row, first_row)
    return GroupedRows(slots, group_of_row, first_row[:groups])


@njit(cache=True, inline="always")
def _slot(keys, i, shift, mask):
    """A row's first slot: a block of ``2^BLOCK_BITS`` slots chosen by a Fibonacci hash of the key
    without its low bits, and the low bits as the place in the block. Near keys (a sorted probe
    side, consecutive order ids) so fall in the same cache lines, while the blocks stay spread."""
    m = keys[i, 0]
    for j in range(1, keys.shape[1]):
        m = (m * _FIBONACCI) ^ keys[i, j]
    block = ((m >> BLOCK_BITS) * _FIBONACCI) >> shift
    return ((block << BLOCK_BITS) | (m & ((1 << BLOCK_BITS) - 1))) & mask


@njit(cache=True, inline="always")
def _holds(slots, s, keys, i):
    for j in range(keys.shape[1]):
        if slots[s, j + 1] != keys[i, j]:
            return False
    return True


@njit(cache=True)
def _insert(keys, shift, slots, group_of_row, first_row):
    mask = slots.shape[0] - 1
    groups = 0
    for i in range(keys.shape[0]):
        s = _slot(keys, i, shift, mask)
        while True:
            g = slots[s, 0]
            if g == EMPTY:
                slots[s, 0] = groups
                for j in range(keys.shape[1]):
                    slots[s, j + 1] = keys[i, j]
                first_row[groups] = i
                group_of_row[i] = groups
                groups += 1
                break
            if _holds(slots, s, keys, i):
                group_of_row[i] = g
                break
            s = (s + 1) & mask
    return groups


@njit(cache=True, inline="always")
def _popcount(word):
    v = np.uint64(word)
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((v * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def _rank(d, words, ranks):
    """How many set bits come before bit ``d``."""
    return ranks[d >> 6] + _popcount(words[d >> 6] & ((np.int64(1) << (d & 63)) - 1))


@njit(cache=True)
def _index_bits(keys, groups, low, words, ranks, groups_by_rank):
    for i in range(keys.shape[0]):
        d = keys[i] - low
        words[d >> 6] |= np.int64(1) << (d & 63)
    total = 0
    for w in range(words.shape[0]):
        ranks[w] = total
        total += _popcount(words[w])
    for i in range(keys.shape[0]):
        groups_by_rank[_rank(keys[i] - low, words, ranks)] = groups[i]


@njit(cache=True)
def _lookup(slots, shift, keys, has_bitmap, low, size, words, ranks, groups_by_rank, out):
    mask = slots.shape[0] - 1
    for i in range(keys.shape[0]):
        if has_bitmap:
            # wrapping subtraction is one-to-one, so a far key cannot land on a set bit in range
            d = keys[i, 0] - low
            if d < 0 or d >= size or ((words[d >> 6] >> (d & 63)) & 1) == 0:
                out[i] = EMPTY
            else:
                out[i] = groups_by_rank[_rank(d, words, ranks)]
            continue
        s = _slot(keys, i, shift, mask)
        while True:
            g = slots[s, 0]
            if g == EMPTY or _holds(slots, s, keys, i):
                out[i] = g
                break
            s = (s + 1) & mask
