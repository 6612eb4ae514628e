"""Parquet: schema inference, reading a task's byte ranges, writing one file (Spark's ``ParquetFileFormat``).

Reading a range follows Spark and parquet-mr:

* **which row groups**: those whose midpoint, ``offset of the first column chunk + total
  compressed size // 2``, lies in ``[start, start + length)`` (``filterFileMetaDataByMidpoint``;
  the first chunk's offset is its dictionary page when it has one before the data pages). Every
  row group of a file therefore belongs to exactly one range.
* **row-group skipping**: a row group whose min / max / null-count statistics prove that a
  pushed filter cannot hold is not read (see ``pruning``); filters on partition columns are
  checked against the file's partition values and can skip the whole file.
* **column pruning**: only the requested columns' chunks are read. Columns are matched by name,
  case-insensitively when there is no exact match (``spark.sql.caseSensitive=false``); a column
  the file lacks reads as nulls.
* **dictionary columns**: string columns a consumer asks for by column key (a compiled aggregate
  grouping by them) come back dictionary-encoded, straight from the Parquet dictionary pages.
  Decoding a low-cardinality string column to plain strings and encoding it again cost about
  four times the whole read of the column; every other consumer gets plain strings.
* **Ember's page decoder**: row groups of at least :data:`NATIVE_MIN_ROWS` rows are decoded by
  ``parquet_pages`` (numba), about twice as fast as pyarrow on TPC-H's lineitem; chunks it does
  not handle (plain-encoded strings, nested columns, other codecs) by pyarrow. Smaller row groups
  are read by pyarrow: the decoder's fixed Python cost per column chunk outweighs what it saves
  (603 files of 10k rows: Q6 took 1.30 s this way against 0.56 s with pyarrow's whole reads).
  Until the decoder is compiled on this machine (in the background, ``page_decoder_compile``),
  pyarrow reads everything.
* **late materialization**: a consumer that applies the pushed filters again (a compiled stage
  filtering the scan) may ask for ``row_filters``: a large row group's predicate columns are then
  decoded first, and the other columns only at the rows they select (``parquet_late``).

INT96 timestamps (Spark's default output type) are read as microseconds.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from engine.catalyst.expressions import AttributeReference, Expression
from engine.datasources.parquet_late import (
    DENSE_SELECTION,
    ColumnPredicate,
    RowGroupSource,
    column_predicates,
    estimated_selectivity,
    read_row_group,
)
from engine.datasources.page_decoder_compile import decoder_ready
from engine.datasources.pruning import ColumnStats, might_match, partition_may_match
from engine.datasources.scan import (
    PartitionColumn,
    ScanColumn,
    ScanMetrics,
    as_partition_columns,
    as_scan_columns,
    conform,
    constant_column,
    empty_table,
)
from engine.datasources.splits import FileSplit
from engine.sql.errors import AnalysisException
from engine.sql.types import DataType, from_arrow

NATIVE_MIN_ROWS = 100_000  # smaller row groups are read whole by pyarrow, even under a selective filter

COMPRESSION_EXTENSIONS = {
    "none": "", "uncompressed": "", "snappy": ".snappy", "gzip": ".gz", "zstd": ".zstd",
    "lz4": ".lz4raw", "lz4_raw": ".lz4raw", "brotli": ".br",
}


def open_parquet(path: str, read_dictionary: Sequence[str] = (),
                 metadata: pq.FileMetaData | None = None) -> pq.ParquetFile:
    """``path`` opened for reading; the columns named in ``read_dictionary`` read dictionary-encoded.
    ``metadata`` is the footer already read, when the file is opened again for other columns.
    The file is opened as a local file directly: resolving a filesystem for the path costs more
    than reading a small file's column chunks. Nor are the column chunks pre-buffered (pyarrow's
    default, which coalesces reads for object stores): for a local file that is extra work, 0.43-0.48
    s against 0.63-0.67 s to read Q6's four columns from 603 files of 10k rows on one thread."""
    return pq.ParquetFile(pa.OSFile(path), coerce_int96_timestamp_unit="us", metadata=metadata,
                          read_dictionary=list(read_dictionary) or None, pre_buffer=False)


def infer_parquet_schema(paths: Sequence[str]) -> list[tuple[str, DataType]]:
    """The data columns of the first file, as Spark does without ``mergeSchema``."""
    if not paths:
        raise AnalysisException("[UNABLE_TO_INFER_SCHEMA] Unable to infer schema for Parquet. "
                                "It must be specified manually.")
    schema = open_parquet(paths[0]).schema_arrow
    out = []
    for field in schema:
        try:
            out.append((field.name, from_arrow(field.type)))
        except TypeError:
            raise AnalysisException(
                f"[UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The Parquet datasource doesn't support the column "
                f"`{field.name}` of the type \"{field.type}\"."
            ) from None
    return out


def chunk_offset(column: pq.ColumnChunkMetaData) -> int:
    """parquet-mr's ``getOffset``: where a column chunk starts (its dictionary page if first)."""
    offset = column.data_page_offset
    dictionary = column.dictionary_page_offset
    if column.has_dictionary_page and dictionary is not None and 0 <= dictionary < offset:
        offset = dictionary
    return offset


def row_groups_in_range(metadata: pq.FileMetaData, start: int, end: int) -> list[int]:
    """The row groups whose midpoint lies in ``[start, end)``.

    >>> row_groups_in_range(open_parquet(path).metadata, 0, 4 << 20)   # doctest: +SKIP
    [0, 1]
    """
    out = []
    for i in range(metadata.num_row_groups):
        rg = metadata.row_group(i)
        if rg.num_columns == 0:
            continue
        total = sum(rg.column(j).total_compressed_size for j in range(rg.num_columns))
        midpoint = chunk_offset(rg.column(0)) + total // 2
        if start <= midpoint < end:
            out.append(i)
    return out


class _FileColumns:
    """A file's top-level columns: name resolution, leaf chunk indices, statistics."""

    def __init__(self, pf: pq.ParquetFile):
        self.metadata = pf.metadata
        schema = pf.schema_arrow                     # built anew at each access
        self.names = schema.names
        self.types = {f.name: f.type for f in schema}
        self._lower: dict[str, list[str]] = {}
        for n in self.names:
            self._lower.setdefault(n.lower(), []).append(n)
        self.leaves: dict[str, list[int]] = {}
        schema = self.metadata.schema
        for j in range(len(schema)):
            top = schema.column(j).path.split(".")[0]
            self.leaves.setdefault(top, []).append(j)

    def resolve(self, name: str) -> str | None:
        if name in self._lower.get(name.lower(), ()):
            return name
        matches = self._lower.get(name.lower(), [])
        return matches[0] if len(matches) == 1 else None

    def stats(self, rg_index: int, name: str) -> ColumnStats | None:
        leaves = self.leaves.get(name, [])
        if len(leaves) != 1:
            return None
        rg = self.metadata.row_group(rg_index)
        chunk = rg.column(leaves[0])
        if chunk.path_in_schema != name or not chunk.is_stats_set:
            return None
        st = chunk.statistics
        null_count = st.null_count if st.has_null_count else None
        lo = hi = None
        if st.has_min_max:
            try:
                lo, hi = st.min, st.max
            except Exception:  # a logical type pyarrow cannot turn into Python values
                lo = hi = None
        floating = st.physical_type in ("FLOAT", "DOUBLE") or "Float16" in str(st.logical_type)
        return ColumnStats(lo, hi, null_count, rg.num_rows, floating)

    def compressed_size(self, rg_index: int, names: Sequence[str]) -> int:
        rg = self.metadata.row_group(rg_index)
        return sum(rg.column(j).total_compressed_size for n in names for j in self.leaves.get(n, ()))


def read_parquet_split(splits: Sequence[FileSplit], columns: Sequence[ScanColumn | tuple],
                       partition_columns: Sequence[PartitionColumn | tuple] = (),
                       pushed_filters: Sequence[Expression] = (),
                       dictionary_columns: frozenset[str] = frozenset(),
                       row_filters: Sequence[Expression] = (),
                       native_reader: bool = True) -> tuple[pa.Table, ScanMetrics]:
    """Read the rows of ``splits`` (one task's ranges) that the pushed filters may select.

    ``columns`` are ``(name, arrow_type, column_key)`` data columns and ``partition_columns``
    ``(name, arrow_type, column_key, index into partition_values)``; the result has the data
    columns then the partition columns, named by their keys. Without ``row_filters`` rows are not
    filtered here: a row group is either skipped whole or returned whole. ``row_filters`` (pushed
    filters the caller applies again) let the reader drop rows they rule out, reading a row group
    predicate columns first (``parquet_late``). Row groups of at least ``NATIVE_MIN_ROWS`` rows
    are decoded by Ember's page decoder unless ``native_reader`` is off (then ``row_filters``
    are ignored too); smaller ones by pyarrow. The string columns whose keys are in
    ``dictionary_columns`` are ``dictionary<int32, string>`` arrays (chunks may have different
    dictionaries: Arrow unifies them when the chunks are combined).
    """
    metrics = ScanMetrics()
    pieces = list(parquet_split_pieces(splits, columns, partition_columns, pushed_filters, dictionary_columns,
                                       row_filters, native_reader, metrics))
    return combine_pieces(pieces, columns, partition_columns), metrics


def combine_pieces(pieces: list[pa.Table], columns: Sequence[ScanColumn | tuple],
                   partition_columns: Sequence[PartitionColumn | tuple] = ()) -> pa.Table:
    """The pieces ``parquet_split_pieces`` gave for one task, as one table."""
    if not pieces:
        data_cols, part_cols = as_scan_columns(columns), as_partition_columns(partition_columns)
        return empty_table([*data_cols, *part_cols])
    return concat_pieces(pieces)


def parquet_split_pieces(splits: Sequence[FileSplit], columns: Sequence[ScanColumn | tuple],
                         partition_columns: Sequence[PartitionColumn | tuple] = (),
                         pushed_filters: Sequence[Expression] = (),
                         dictionary_columns: frozenset[str] = frozenset(),
                         row_filters: Sequence[Expression] = (),
                         native_reader: bool = True,
                         metrics: ScanMetrics | None = None) -> Iterator[pa.Table]:
    """``read_parquet_split``'s rows a piece at a time, as they are read: one table per row group
    the page decoder reads, one per split's row groups pyarrow reads, a table without columns of
    a split's rows when no column is asked for. ``metrics`` (if given) count what each piece read.
    Pieces of different files may disagree on a dictionary column's type (``combine_pieces``
    settles it when they are joined)."""
    data_cols = as_scan_columns(columns)
    part_cols = as_partition_columns(partition_columns)
    metrics = metrics if metrics is not None else ScanMetrics()
    opened: dict[str, tuple[pq.ParquetFile, _FileColumns]] = {}
    read_files: set[str] = set()
    predicates = column_predicates(row_filters) if data_cols else {}

    for split in splits:
        values = split.file.partition_values
        if pushed_filters and part_cols and not partition_may_match(pushed_filters, part_cols, values):
            metrics.files_pruned += 1
            continue
        if split.file.path not in opened:
            pf = open_parquet(split.file.path)
            fc = _FileColumns(pf)
            encoded = _dictionary_names(data_cols, dictionary_columns, fc)
            if encoded:
                pf = open_parquet(split.file.path, encoded, pf.metadata)
            opened[split.file.path] = (pf, fc)
        pf, fc = opened[split.file.path]
        groups = row_groups_in_range(fc.metadata, split.start, split.end)
        metrics.row_groups_total += len(groups)
        keep = [g for g in groups if _row_group_may_match(pushed_filters, fc, g, part_cols, values)]
        metrics.row_groups_skipped += len(groups) - len(keep)
        if not keep:
            continue
        resolved = [fc.resolve(c.name) for c in data_cols]
        to_read = list(dict.fromkeys(n for n in resolved if n is not None))
        num_rows = sum(fc.metadata.row_group(g).num_rows for g in keep)
        if split.file.path not in read_files:
            read_files.add(split.file.path)
            metrics.files_read += 1
        metrics.records_read += num_rows
        metrics.bytes_read += sum(fc.compressed_size(g, to_read) for g in keep)
        if not data_cols and not part_cols:
            yield pa.table({"_": pa.nulls(num_rows)}).select([])
            continue
        native = {g for g in keep if native_reader and to_read and fc.metadata.row_group(g).num_rows >= NATIVE_MIN_ROWS}
        if native and decoder_ready():
            late = _predicates_by_file_name(predicates, fc, to_read)
            with open(split.file.path, "rb") as file:
                source = RowGroupSource(split.file.path, file, pf, fc.types, fc.leaves)
                encoded = frozenset(_dictionary_names(data_cols, dictionary_columns, fc))
                for g in keep:
                    if g in native:
                        stats_of = lambda name, g=g: fc.stats(g, name)  # noqa: E731
                        selective = late and estimated_selectivity(late, stats_of) <= DENSE_SELECTION
                        read, rows = read_row_group(source, g, to_read, late if selective else {}, encoded, stats_of)
                    else:
                        table = pf.read_row_group(g, columns=to_read, use_threads=False)
                        read, rows = {name: table.column(name) for name in to_read}, table.num_rows
                    yield _piece(data_cols, part_cols, resolved, read, rows, values, dictionary_columns)
            continue
        table = pf.read_row_groups(keep, columns=to_read, use_threads=False) if to_read else None
        read = {name: table.column(name) for name in to_read}
        yield _piece(data_cols, part_cols, resolved, read, num_rows, values, dictionary_columns)


def _piece(data_cols: Sequence[ScanColumn], part_cols: Sequence[PartitionColumn], resolved: Sequence[str | None],
           read: dict[str, pa.Array | pa.ChunkedArray], num_rows: int, values: tuple,
           dictionary_columns: frozenset[str]) -> pa.Table:
    """The output table of some rows of one file: the columns ``read`` (by file name) conformed
    to Ember's types, nulls for data columns the file lacks, then the partition constants."""
    arrays = []
    for c, name in zip(data_cols, resolved):
        if name is None:
            arrays.append(pa.nulls(num_rows, c.arrow_type))
        elif c.column_key in dictionary_columns and _is_dictionary_of(read[name].type, c.arrow_type):
            arrays.append(read[name])
        else:
            arrays.append(conform(read[name], c.arrow_type))
    for c in part_cols:
        arrays.append(constant_column(values[c.index] if c.index < len(values) else None, c.arrow_type, num_rows))
    return pa.table(arrays, names=[c.column_key for c in (*data_cols, *part_cols)])


def concat_pieces(pieces: list[pa.Table]) -> pa.Table:
    """Pieces of one task (at least one) as one table. Where files disagree on a dictionary column
    (one lacks the column, one stores it as large_string) every piece gets the plain column
    instead. Pieces without columns add up their rows."""
    if len(pieces) == 1:
        return pieces[0]
    if not pieces[0].num_columns:
        return pa.table({"_": pa.nulls(sum(p.num_rows for p in pieces))}).select([])
    first = pieces[0].schema
    if any(p.schema != first for p in pieces[1:]):
        pieces = [pa.table([conform(c, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                            for c, f in zip(p.columns, p.schema)], names=p.column_names) for p in pieces]
    return pa.concat_tables(pieces)


def _predicates_by_file_name(predicates: dict[str, list[ColumnPredicate]], fc: _FileColumns,
                             to_read: Sequence[str]) -> dict[str, list[ColumnPredicate]]:
    """The row predicates on columns read from this file, keyed by the file's column names."""
    out: dict[str, list[ColumnPredicate]] = {}
    for name, preds in predicates.items():
        resolved = fc.resolve(name)
        if resolved in to_read:
            out.setdefault(resolved, []).extend(preds)
    return out


def _dictionary_names(data_cols: Sequence[ScanColumn], dictionary_columns: frozenset[str],
                      fc: _FileColumns) -> list[str]:
    """The file's names of the string columns asked for dictionary-encoded."""
    names = (fc.resolve(c.name) for c in data_cols
             if c.column_key in dictionary_columns and pa.types.is_string(c.arrow_type))
    return [n for n in names if n is not None]


def _is_dictionary_of(read_type: pa.DataType, arrow_type: pa.DataType) -> bool:
    return pa.types.is_dictionary(read_type) and read_type.value_type == arrow_type


def _row_group_may_match(filters: Sequence[Expression], fc: _FileColumns, rg_index: int,
                         part_cols: Sequence[PartitionColumn], values: tuple) -> bool:
    if not filters:
        return True
    partition_names = {c.name.lower() for c in part_cols}

    def stats_of(attr: AttributeReference) -> ColumnStats | None:
        if attr.name.lower() in partition_names:
            return None  # decided by the partition check
        name = fc.resolve(attr.name)
        return fc.stats(rg_index, name) if name is not None else None

    return all(might_match(f, stats_of) for f in filters)


def write_parquet_file(table: pa.Table, path: str, compression: str = "snappy") -> int:
    """Write ``table`` (real column names) to ``path``; returns the bytes written."""
    codec = compression.lower()
    if codec not in COMPRESSION_EXTENSIONS:
        raise ValueError(f"Codec [{compression}] is not available. Available codecs are "
                         f"{', '.join(sorted(COMPRESSION_EXTENSIONS))}.")
    arrow_codec = {"uncompressed": "none", "lz4_raw": "lz4"}.get(codec, codec)
    pq.write_table(table, path, compression=arrow_codec)
    return os.path.getsize(path)
