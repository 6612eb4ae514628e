"""The final aggregate's merge of partial states, compiled: group by integer keys, then combine.

The partial aggregates of a shuffle partition's map tasks each sent a row of buffers per group;
``merge_states`` brings each group's rows into one (Spark's ``TungstenAggregationIterator``
merging ``partial_sum`` into ``sum``)::

    merge_states(states, keys=["k"], merges=[("sum#3", "sum"), ("count#4", "sum"), ("max#5", "max")])

Keys are grouped by the integer-key hash table of ``engine.codegen.integer_keys``; each buffer is
then combined by one compiled pass over the rows, indexed by the row's group. Groups come out in
the order they were first seen, with their keys taken from that first row.

Policy:

* ``sum`` adds the non-null values of a group and is null when it has none (the partial buffers
  of a group that saw only nulls are null); counts are sums of counts that are never null.
  Integral sums wrap like Java's long.
* ``min`` / ``max`` follow Spark's ordering of doubles, where NaN is above every other value: a
  NaN wins a max and loses a min to any other value.
* Supported: integer-like keys (``integer_keys.is_integer_like``), buffers of integer, floating,
  date or timestamp type. ``merge_states`` returns None for anything else, and the caller keeps
  pyarrow's grouped aggregation.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.codegen.integer_keys import group_rows, integer_key_matrix
from engine.codegen.jit import njit
from engine.memory import native

MERGES = ("sum", "min", "max")


def mergeable_buffer(data_type: pa.DataType) -> bool:
    """Whether a buffer of this type is merged by compiled code."""
    return ((pa.types.is_integer(data_type) and not pa.types.is_uint64(data_type)) or pa.types.is_floating(data_type)
            or pa.types.is_date(data_type) or pa.types.is_timestamp(data_type))


def merge_states(states: pa.Table, keys: list[str], merges: list[tuple[str, str]]) -> pa.Table | None:
    """``states`` with one row per distinct key: each ``(column, merge)`` of ``merges`` combined by
    ``merge`` (``sum``, ``min`` or ``max``), key columns first, then the merged columns in order.
    None when a key or buffer type is not supported (see the module's policy)."""
    for column, merge in merges:
        if merge not in MERGES:
            raise ValueError(f"unknown merge {merge!r} for {column}; the merges are {MERGES}")
        if not mergeable_buffer(states.schema.field(column).type):
            return None
    if not keys:
        return None
    matrix = integer_key_matrix([states.column(k) for k in keys], null_groups=True)
    if matrix is None:
        return None
    grouped = group_rows(matrix.values)
    out = {k: states.column(k).take(grouped.first_row) for k in keys}
    for column, merge in merges:
        out[column] = _merged(states.column(column), merge, grouped.group_of_row, grouped.num_groups)
    return pa.table(out)


def _merged(column: pa.ChunkedArray, merge: str, group_of_row: np.ndarray, groups: int) -> pa.Array:
    data_type = column.type
    physical = _physical(data_type)
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if physical != data_type:
        array = array.view(physical)
    has_nulls = array.null_count > 0
    valid = pc.is_valid(array).to_numpy(zero_copy_only=False) if has_nulls else np.ones(0, np.bool_)
    values = (pc.fill_null(array, 0) if has_nulls else array).to_numpy()
    out = native.zeros(groups, values.dtype)
    seen = native.zeros(groups, np.bool_)
    if merge == "sum":
        _merge_sum(values, valid, has_nulls, group_of_row, out, seen)
    else:
        _merge_extreme(values, valid, has_nulls, group_of_row, merge == "max", out, seen)
    result = pa.array(out, mask=~seen if not seen.all() else None)
    return result.view(data_type) if physical != data_type else result


def _physical(data_type: pa.DataType) -> pa.DataType:
    """The numeric type a buffer is merged as: dates and timestamps as their integer counts."""
    if pa.types.is_date32(data_type):
        return pa.int32()
    if pa.types.is_date64(data_type) or pa.types.is_timestamp(data_type):
        return pa.int64()
    return data_type


@njit(cache=True)
def _merge_sum(values, valid, has_nulls, group_of_row, out, seen):
    for i in range(values.shape[0]):
        if has_nulls and not valid[i]:
            continue
        g = group_of_row[i]
        out[g] += values[i]
        seen[g] = True


@njit(cache=True)
def _merge_extreme(values, valid, has_nulls, group_of_row, is_max, out, seen):
    for i in range(values.shape[0]):
        if has_nulls and not valid[i]:
            continue
        g = group_of_row[i]
        v = values[i]
        if not seen[g]:
            out[g] = v
            seen[g] = True
        elif is_max:
            if v > out[g] or v != v:  # NaN is above every other value, and stays once it is in
                out[g] = v
        elif v < out[g] or out[g] != out[g]:  # anything is below NaN
            out[g] = v
