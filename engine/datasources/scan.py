"""What a file reader is asked for and what it reports: columns, partition constants, metrics.

A reader returns an Arrow table whose columns are named by ``AttributeReference.column_key`` and
typed with Ember's physical Arrow types (``DataType.to_arrow()``): the file's own types are
conformed on the way in (decimal -> float64, int16 -> int32, large_string -> string, timestamps of
any unit or zone -> timestamp[us] in UTC, dictionaries decoded). Decimals become the float64
nearest to their exact value.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple, Sequence

import pyarrow as pa
import pyarrow.compute as pc


class ScanColumn(NamedTuple):
    """A data column to read: its name in the file, Ember's Arrow type, the output column key."""

    name: str
    arrow_type: pa.DataType
    column_key: str


class PartitionColumn(NamedTuple):
    """A partition column to materialize: ``index`` is its position in ``partition_values``."""

    name: str
    arrow_type: pa.DataType
    column_key: str
    index: int


def as_scan_columns(columns: Sequence) -> list[ScanColumn]:
    return [c if isinstance(c, ScanColumn) else ScanColumn(*c) for c in columns]


def as_partition_columns(columns: Sequence) -> list[PartitionColumn]:
    return [c if isinstance(c, PartitionColumn) else PartitionColumn(*c) for c in columns]


@dataclass(slots=True)
class ScanMetrics:
    """What one scan task read (Spark's scan metrics: files, size of files read, rows output).

    ``bytes_read`` is the compressed size of the Parquet column chunks actually read (the file
    size for CSV); ``row_groups_total`` counts the row groups assigned to the task's ranges and
    ``row_groups_skipped`` those the pushed filters ruled out by their statistics.
    ``files_pruned`` counts files skipped whole because their partition values cannot match.
    """

    files_read: int = 0
    bytes_read: int = 0
    records_read: int = 0
    row_groups_total: int = 0
    row_groups_skipped: int = 0
    files_pruned: int = 0

    def add(self, other: ScanMetrics) -> ScanMetrics:
        """Accumulate ``other`` into this one (returns self)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


def conform(column: pa.ChunkedArray | pa.Array, arrow_type: pa.DataType) -> pa.ChunkedArray | pa.Array:
    """A column read from a file, cast to Ember's Arrow type for it."""
    t = column.type
    if t == arrow_type:
        return column
    if pa.types.is_dictionary(t):
        column = pc.cast(column, t.value_type)
        t = column.type
        if t == arrow_type:
            return column
    if pa.types.is_timestamp(t) and pa.types.is_timestamp(arrow_type):
        # the stored instants in UTC, truncated to microseconds (Spark reads nanoseconds that way too)
        return pc.cast(column, arrow_type, safe=False)
    if pa.types.is_date64(t) and pa.types.is_date32(arrow_type):
        return pc.cast(column, arrow_type, safe=False)
    if pa.types.is_null(t):
        return pa.nulls(len(column), arrow_type)
    if pa.types.is_decimal(t) and pa.types.is_floating(arrow_type):
        # Arrow divides by 10^scale in floating point (99.99 -> 99.99000000000001); going through the
        # exact decimal text gives the correctly rounded double, the one a literal 99.99 has
        return pc.cast(pc.cast(column, pa.string()), arrow_type)
    return pc.cast(column, arrow_type)


def constant_column(value, arrow_type: pa.DataType, length: int) -> pa.Array:
    """A partition value repeated ``length`` times."""
    if value is None:
        return pa.nulls(length, arrow_type)
    return pa.repeat(pa.scalar(value, arrow_type), length)


def empty_table(columns: Sequence[ScanColumn | PartitionColumn]) -> pa.Table:
    return pa.table({c.column_key: pa.array([], c.arrow_type) for c in columns})
