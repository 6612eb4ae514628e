"""Late materialization: a Parquet row group read under a filter, predicate columns first.

A compiled stage that filters a Parquet scan (``WholeStageCodegenExec`` fusing Filter, Project and
a partial aggregate over it) asks the scan for filtered rows. The scan then reads a row group in
two steps, as Polars and DuckDB do:

1. the columns the scan's pushed filters compare with literals (``l_shipdate >= DATE '1994-01-01'``,
   ``l_quantity < 24.0``, ``l_discount IS NOT NULL``) are decoded one after another by Ember's page
   decoder (``parquet_pages``), each only at the rows the previous ones kept;
2. every other column is decoded only at the rows all of them kept: for a dictionary-encoded
   column, only those rows' codes are unpacked and looked up.

TPC-H Q6 keeps 2% of lineitem: step 2 skips 98% of the gathers and copies of l_extendedprice,
and the stage above works on 2% of the rows. Every page is still decompressed.
The rows returned are a superset of those the stage's condition
keeps (only the simple conjuncts are applied here, conservatively: a NaN passes every comparison,
a predicate on a type it does not know passes everything), and the kernel still evaluates its
whole condition over them. When more than ``DENSE_SELECTION`` of a row group's rows pass, skipping
rows saves nothing: the row group is returned whole; and when its statistics already suggest so
(``estimated_selectivity``), it is read without predicates, every column decoded whole.

The same function reads a row group without a filter (``predicates`` empty): every column the
decoder handles is decoded whole by it, which is about twice as fast as pyarrow on TPC-H's
lineitem (see ``parquet_pages``). A column chunk the page decoder does not handle
(``NativeUnsupported``) is read by pyarrow and its selected rows taken;
``spark.ember.parquet.nativeReader.enabled=false`` turns all of this off.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import BinaryIO, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.catalyst.expressions import (
    AttributeReference,
    Comparison,
    Expression,
    IsNotNull,
    Literal,
    split_conjuncts,
)
from engine.codegen.jit import lazy_njit
from engine.datasources.parquet_pages import (
    NativeUnsupported,
    chunk_layout,
    decode_chunk,
    read_chunk_bytes,
)
from engine.datasources.pruning import ColumnStats
from engine.memory import native

NATIVE_READER_ENABLED = "spark.ember.parquet.nativeReader.enabled"

# above this share of a row group's rows selected, the row group is read whole and the kernel
# filters it: selecting most rows saves little downstream and costs gathers (a guess, not tuned)
DENSE_SELECTION = 0.5

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
_EPOCH = _dt.date(1970, 1, 1)
_INT64 = np.iinfo(np.int64)


@dataclass(frozen=True, slots=True)
class ColumnPredicate:
    """``column <op> value`` (``op`` one of ``< <= > >= =``), or ``column IS NOT NULL`` (op None)."""

    op: str | None
    value: object = None


def column_predicates(filters: Sequence[Expression]) -> dict[str, list[ColumnPredicate]]:
    """The conjuncts of ``filters`` that compare one column with a non-null literal or ask that it
    is not null, by column name. Any other conjunct is left to the kernel.

    >>> column_predicates([Comparison("<", Literal(24.0, DoubleType()), qty)])   # doctest: +SKIP
    {'l_quantity': [ColumnPredicate(op='>', value=24.0)]}
    """
    out: dict[str, list[ColumnPredicate]] = {}
    for f in (c for f in filters for c in split_conjuncts(f)):
        if isinstance(f, IsNotNull) and isinstance(f.child, AttributeReference):
            out.setdefault(f.child.name, []).append(ColumnPredicate(None))
        elif isinstance(f, Comparison) and f.op in _FLIP:
            if isinstance(f.left, AttributeReference) and isinstance(f.right, Literal):
                attr, op, lit = f.left, f.op, f.right
            elif isinstance(f.right, AttributeReference) and isinstance(f.left, Literal):
                attr, op, lit = f.right, _FLIP[f.op], f.left
            else:
                continue
            if lit.value is not None:
                out.setdefault(attr.name, []).append(ColumnPredicate(op, lit.value))
    return out


def kept_rows(predicates: Sequence[ColumnPredicate], array: pa.Array) -> np.ndarray | None:
    """The rows of ``array`` that may pass all of ``predicates`` (ascending), or None when
    every row may. The predicates of one column come down to a range of values and whether
    nulls pass; comparisons this module does not understand keep every row."""
    bounds = _value_range(predicates, array.type)
    if bounds is None:
        return None
    values = _values(array)
    rows_in_range = _ROWS_IN_RANGE.get((values.dtype.name, bounds[0].dtype.name))
    if rows_in_range is None:
        return None
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else _NO_NULLS
    out = native.empty(len(array), np.int64)
    count = rows_in_range(values, valid, *bounds, pa.types.is_floating(array.type), out)
    return None if count == len(array) else out[:count]


def _value_range(predicates: Sequence[ColumnPredicate], arrow_type: pa.DataType):
    """``(low, low_open, high, high_open)``: the values all of ``predicates`` may let through,
    as one numpy type (float64 as soon as a literal is a float, as Ember compares); None when
    none of them applies."""
    low = high = None
    low_open = high_open = applied = False
    for p in predicates:
        value = None if p.op is None else _comparable(p.value, arrow_type)
        applied |= p.op is None or value is not None
        if value is None:
            continue
        if p.op in ("<", "<=", "=") and (high is None or value < high or (value == high and p.op == "<")):
            high, high_open = value, p.op == "<"
        if p.op in (">", ">=", "=") and (low is None or value > low or (value == low and p.op == ">")):
            low, low_open = value, p.op == ">"
    if not applied:
        return None
    if isinstance(low, np.floating) or isinstance(high, np.floating) or pa.types.is_floating(arrow_type):
        low = np.float64(-np.inf if low is None else low)
        high = np.float64(np.inf if high is None else high)
    else:
        low = np.int64(_INT64.min if low is None else low)
        high = np.int64(_INT64.max if high is None else high)
    return low, low_open, high, high_open


_NO_NULLS = np.empty(0, np.bool_)


def _rows_in_range(values, valid, low, low_open, high, high_open, nan_passes, out):
    """Write the rows whose value lies in the range (and is not null, when ``valid`` is given)
    to ``out``; returns how many. A NaN passes when ``nan_passes``: Spark orders NaN above every
    number and NaN = NaN, so it may pass a comparison IEEE says it fails. Branch-free (every row
    is written, the count moves only past those that pass): a selective filter's branches
    mispredict about as often as they are taken."""
    n = 0
    low_closed = not low_open
    high_closed = not high_open
    check_nulls = valid.shape[0] > 0
    for i in range(values.shape[0]):
        v = values[i]
        above = (v > low) | ((v == low) & low_closed)
        below = (v < high) | ((v == high) & high_closed)
        passes = (above & below) | (nan_passes & (v != v))
        if check_nulls:
            passes &= valid[i]
        out[n] = i
        n += passes
    return n


# ``_rows_in_range`` compiled for each (values, bounds) type pair the decoder's arrays and
# ``_value_range`` produce, each on its first use: a Q6-like query compiles two of the six
_RANGE_SIGNATURE = ("(Array({values}, 1, 'C', readonly=True), Array(boolean, 1, 'C', readonly=True), "
                    "{bound}, boolean, {bound}, boolean, boolean, int64[::1])")
_ROWS_IN_RANGE = {
    (values, bound): lazy_njit(_RANGE_SIGNATURE.format(values=values, bound=bound))(_rows_in_range)
    for values, bound in [("int32", "int64"), ("int64", "int64"), ("int32", "float64"), ("int64", "float64"),
                          ("float32", "float64"), ("float64", "float64")]
}


def _values(array: pa.Array) -> np.ndarray:
    """The value buffer of a fixed-width array, as numpy (dates as int32 days), without a copy."""
    dtype = np.dtype(np.int32) if pa.types.is_date32(array.type) else np.dtype(array.type.to_pandas_dtype())
    return np.frombuffer(array.buffers()[1], dtype, len(array), array.offset * dtype.itemsize)


def _comparable(value, arrow_type: pa.DataType):
    """``value`` as a numpy scalar that compares with the column's values as Ember compares them
    (numbers in int64 or float64, dates as days), or None when this module leaves it to the kernel."""
    if isinstance(value, bool):
        return None
    if pa.types.is_date32(arrow_type):
        return np.int64((value - _EPOCH).days) if type(value) is _dt.date else None
    if not (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)):
        return None
    if isinstance(value, int):
        return np.int64(value) if _INT64.min <= value <= _INT64.max else None
    if isinstance(value, float) and not math.isnan(value):
        return np.float64(value)
    return None


def estimated_selectivity(predicates: dict[str, list[ColumnPredicate]],
                          stats_of: Callable[[str], ColumnStats | None]) -> float:
    """A guess, from a row group's min / max statistics, at the share of its rows ``predicates``
    keep: each column's values taken as spread evenly between its min and max, columns as
    independent, an equality as keeping a tenth. Unknown statistics guess 1 (keep everything).

    It decides whether reading predicate columns first can pay: TPC-H Q1's ``l_shipdate <=
    DATE '1998-09-02'`` keeps ~96% of every row group (read whole), Q6's predicates
    ~1.4% (read late)."""
    fraction = 1.0
    for name, preds in predicates.items():
        fraction *= _column_selectivity(preds, stats_of(name))
    return fraction


def _column_selectivity(predicates: Sequence[ColumnPredicate], stats: ColumnStats | None) -> float:
    if stats is None:
        return 1.0
    lo, hi = _as_number(stats.min), _as_number(stats.max)
    if lo is None or hi is None or hi <= lo:
        return 1.0
    low, high, fraction = lo, hi, 1.0
    for p in predicates:
        v = _as_number(p.value)
        if v is None:
            continue
        if p.op == "=":
            fraction *= 0.1
        elif p.op in ("<", "<="):
            high = min(high, v)
        elif p.op in (">", ">="):
            low = max(low, v)
    return fraction * max(0.0, high - low) / (hi - lo)


def _as_number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if type(value) is _dt.date:
        return float((value - _EPOCH).days)
    return None


@dataclass(frozen=True, slots=True)
class RowGroupSource:
    """One Parquet file being read: its footer, its columns' Arrow types, and open handles."""

    path: str
    file: BinaryIO                    # the file opened in binary mode, for the page decoder
    parquet: pq.ParquetFile           # pyarrow's reader, for chunks the decoder does not handle
    types: dict[str, pa.DataType]     # each top-level column's Arrow type (dictionaries decoded)
    leaves: dict[str, list[int]]      # each top-level column's leaf column indices


def read_row_group(source: RowGroupSource, rg_index: int, names: Sequence[str],
                   predicates: dict[str, list[ColumnPredicate]], dictionary_names: frozenset[str],
                   stats_of: Callable[[str], ColumnStats | None],
                   ) -> tuple[dict[str, pa.Array | pa.ChunkedArray], int]:
    """The columns ``names`` of one row group at the rows that may pass ``predicates`` (keyed by
    the file's column names; none: every row), and how many rows that is. Strings in
    ``dictionary_names`` come back dictionary-encoded; ``stats_of`` gives the row group's
    statistics of a column. Chunks the page decoder does not handle are read by pyarrow."""
    num_rows = source.parquet.metadata.row_group(rg_index).num_rows
    rows: np.ndarray | None = None
    decoded: dict[str, _Decoded] = {}
    for name in _most_selective_first([n for n in names if n in predicates], predicates, stats_of):
        array = _decode(source, rg_index, name, rows, name in dictionary_names)
        if array is None:
            continue
        decoded[name] = _Decoded(array, rows is None)
        kept = kept_rows(predicates[name], array)
        if kept is not None:
            rows = kept if rows is None else rows[kept]
            for d in decoded.values():
                d.narrow(kept)
    if rows is not None and len(rows) > DENSE_SELECTION * num_rows:
        rows = None
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    by_pyarrow = []
    for name in names:
        d = decoded.get(name)
        if d is not None and (rows is not None or d.whole):
            out[name] = d.array if rows is None or d.positions is None else d.array.take(d.positions)
            continue
        array = _decode(source, rg_index, name, rows, name in dictionary_names)
        if array is None:
            by_pyarrow.append(name)
        else:
            out[name] = array
    if by_pyarrow:
        table = source.parquet.read_row_group(rg_index, columns=by_pyarrow, use_threads=False)
        for name in by_pyarrow:
            column = table.column(name)
            out[name] = column if rows is None else column.take(rows)
    return out, num_rows if rows is None else len(rows)


class _Decoded:
    """A predicate column decoded at the rows selected when it was decoded (every row if
    ``whole``), and where the rows selected since are in it (None: all of it)."""

    __slots__ = ("array", "whole", "positions")

    def __init__(self, array: pa.Array, whole: bool):
        self.array = array
        self.whole = whole
        self.positions: np.ndarray | None = None

    def narrow(self, kept: np.ndarray) -> None:
        """The selection kept only ``kept`` (indices into the rows selected before)."""
        self.positions = kept if self.positions is None else self.positions[kept]


def _most_selective_first(names: list[str], predicates: dict[str, list[ColumnPredicate]],
                          stats_of: Callable[[str], ColumnStats | None]) -> list[str]:
    """The predicate columns in the order to decode them: the first is decoded whole, each next
    one only at the rows kept so far, so the likely most selective (by the row group's
    statistics) go first."""
    return sorted(names, key=lambda name: _column_selectivity(predicates[name], stats_of(name)))


def _decode(source: RowGroupSource, rg_index: int, name: str, rows: np.ndarray | None,
            as_dictionary: bool) -> pa.Array | None:
    """The column's values at ``rows`` by the page decoder; None when it does not handle the chunk."""
    leaves = source.leaves.get(name, [])
    if len(leaves) != 1 or name not in source.types:
        return None
    try:
        layout = chunk_layout(source.parquet.metadata, rg_index, leaves[0], source.types[name], as_dictionary)
        data = read_chunk_bytes(source.file, layout)
        return decode_chunk(data, layout, rows, where=f"{source.path}, row group {rg_index}, column {name}")
    except NativeUnsupported:
        return None
