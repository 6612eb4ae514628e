"""Hash join build and probe over integer keys, compiled: Spark's ``HashedRelation``.

The build side is hashed once into a ``HashedRelation``: its distinct keys in the integer-key hash
table of ``engine.codegen.integer_keys``, and its row ids laid out group by group (a counting
sort), so the rows of one key are ``rows[offsets[g]:offsets[g + 1]]``. Probing the stream side
looks each row's key up and expands the matches into (stream row, build row) index pairs, in
stream order, which the join gathers once::

    relation = build_hashed_relation([orders.column("o_orderkey")])      # None: keys not integer-like
    stream_rows, build_rows = relation.probe([lines.column("l_orderkey")]).pairs()

Policy:

* A null key matches nothing, on either side (an equi-join's ``=`` is never true on null).
* Keys of different integer widths meet as int64: an int key joins a bigint key.
* A single key whose values span a narrow range (order ids, dates) also gets a bitmap index
  (``integer_keys.KeyBitmap``), which the probe reads instead of the hash table: a miss is one bit,
  and sorted stream keys read it in order.
* ``unique`` says every build key occurs once (a primary key, as in most joins): each stream row
  then has at most one match and the pairs need no expansion. When, on top of that, every stream
  row matched (``Probe.every_row_once``), the stream side needs no gather at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.codegen.integer_keys import (
    EMPTY,
    GroupedRows,
    KeyBitmap,
    KeyMatrix,
    group_rows,
    integer_key_matrix,
    key_bitmap,
)
from engine.codegen.jit import njit
from engine.memory import native


@dataclass(frozen=True)
class HashedRelation:
    """The build side of a hash join: its keys' groups, and its rows group by group."""

    table: GroupedRows
    offsets: np.ndarray  # groups + 1: group g's rows are rows[offsets[g]:offsets[g + 1]]
    rows: np.ndarray
    bitmap: KeyBitmap | None  # a single key's values, when its range is narrow enough

    @cached_property
    def unique(self) -> bool:
        return self.rows.shape[0] == self.table.num_groups

    @property
    def key_count(self) -> int:
        return self.table.key_count

    def probe(self, key_columns: list) -> Probe | None:
        """The matches of the stream rows whose keys are ``key_columns``; None when a key is not
        integer-like."""
        keys = integer_key_matrix(key_columns)
        if keys is None:
            return None
        if keys.values.shape[1] != self.key_count:
            raise ValueError(f"probing a relation of {self.key_count} keys with {keys.values.shape[1]} key columns")
        return Probe(self, _matched_groups(self, keys))


def build_hashed_relation(key_columns: list) -> HashedRelation | None:
    """The build side's relation over its ``key_columns``; None when a key is not integer-like."""
    keys = integer_key_matrix(key_columns)
    if keys is None:
        return None
    valid_rows = np.flatnonzero(~keys.nulls) if keys.nulls is not None else None
    values = keys.values if valid_rows is None else np.ascontiguousarray(keys.values[valid_rows])
    table = group_rows(values)
    offsets = native.zeros(table.num_groups + 1, np.int64)
    rows = native.empty(values.shape[0], np.int64)
    _rows_by_group(table.group_of_row, offsets, rows)
    if valid_rows is not None:
        rows = valid_rows[rows]
    return HashedRelation(table, offsets, rows, key_bitmap(table))


@dataclass(frozen=True)
class Probe:
    """The build group each stream row matched (``EMPTY`` when none)."""

    relation: HashedRelation
    groups: np.ndarray

    @cached_property
    def matched(self) -> np.ndarray:
        """Which stream rows have at least one match (a semi join keeps them, an anti join the rest)."""
        return self.groups != EMPTY

    @cached_property
    def every_row_once(self) -> bool:
        """Every stream row matched exactly one build row: the pairs are the stream rows in order."""
        return self.relation.unique and bool(self.matched.all())

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(stream row, build row) of every match, in stream order."""
        if self.relation.unique:
            stream_rows = np.flatnonzero(self.matched)
            return stream_rows, self.relation.rows[self.groups[stream_rows]]
        total = _match_count(self.groups, self.relation.offsets)
        stream_rows = native.empty(total, np.int64)
        build_rows = native.empty(total, np.int64)
        _expand(self.groups, self.relation.offsets, self.relation.rows, stream_rows, build_rows)
        return stream_rows, build_rows


def _matched_groups(relation: HashedRelation, keys: KeyMatrix) -> np.ndarray:
    groups = relation.table.lookup(keys.values, relation.bitmap)
    if keys.nulls is not None:
        groups[keys.nulls] = EMPTY
    return groups


@njit(cache=True)
def _rows_by_group(group_of_row, offsets, rows):
    """A counting sort of the row ids by group: ``offsets`` (zeroed, groups + 1) and ``rows`` filled."""
    for i in range(group_of_row.shape[0]):
        offsets[group_of_row[i] + 1] += 1
    for g in range(1, offsets.shape[0]):
        offsets[g] += offsets[g - 1]
    cursor = offsets[:-1].copy()
    for i in range(group_of_row.shape[0]):
        g = group_of_row[i]
        rows[cursor[g]] = i
        cursor[g] += 1


@njit(cache=True)
def _match_count(groups, offsets):
    total = 0
    for i in range(groups.shape[0]):
        g = groups[i]
        if g != EMPTY:
            total += offsets[g + 1] - offsets[g]
    return total


@njit(cache=True)
def _expand(groups, offsets, rows, stream_rows, build_rows):
    k = 0
    for i in range(groups.shape[0]):
        g = groups[i]
        if g == EMPTY:
            continue
        for j in range(offsets[g], offsets[g + 1]):
            stream_rows[k] = i
            build_rows[k] = rows[j]
            k += 1
