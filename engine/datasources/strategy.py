"""From a ``spark.read`` to a relation, from a ``FileScan`` to read tasks: Spark's ``FileSourceStrategy``.

Three entry points tie the modules of this package to the logical plan:

* ``resolve_relation(format, paths, options, schema)`` lists the files, discovers the partition
  columns and infers (or takes) the data schema: a ``FileRelation`` for the analyzer.
* ``plan_scan(scan, ...)`` prunes files by the partition values the pushed filters rule out
  (Spark's partition pruning, done before sizing the splits, so pruned files do not count
  towards ``maxSplitBytes``) and plans the read tasks (``splits``).
* ``read_partition(scan, partition)`` runs one task: it reads the partition's ranges with the
  format's reader and returns the columns of ``scan.scan_output``, in that order, named by their
  column keys, with the task's ``ScanMetrics``; ``partition_pieces`` gives the same rows a piece
  (a Parquet row group) at a time, as they are read.

A column of a user-given schema that names a partition directory is a partition column, as in
Spark. A column found both in the files' own schema and as a partition directory is kept as a
data column (read from the files), where Spark would take the directory's value: CSV columns are
matched by position, so dropping it from the data columns would shift the others.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Mapping, Sequence

import pyarrow as pa

from engine.catalyst.expressions import AttributeReference
from engine.catalyst.logical import FileRelation, FileScan, PartitionedFile
from engine.datasources.csv import read_csv_split
from engine.datasources.listing import list_files
from engine.datasources.options import OptionsLike, normalize_options
from engine.datasources.parquet import combine_pieces, concat_pieces, parquet_split_pieces
from engine.datasources.pruning import partition_may_match
from engine.datasources.scan import PartitionColumn, ScanColumn, ScanMetrics
from engine.datasources.schema import check_format, infer_schema, user_schema
from engine.datasources.splits import (
    DEFAULT_MAX_PARTITION_BYTES,
    DEFAULT_OPEN_COST_IN_BYTES,
    MAX_PARTITION_BYTES_KEY,
    MAX_PARTITION_NUM_KEY,
    MIN_PARTITION_NUM_KEY,
    OPEN_COST_IN_BYTES_KEY,
    FilePartition,
    FileSplit,
    plan_file_partitions,
)
from engine.sql.conf import parse_bytes
from engine.sql.types import StructType


def resolve_relation(format: str, paths: Sequence[str] | str, options: OptionsLike = None,
                     schema: StructType | str | None = None) -> FileRelation:
    """Everything ``spark.read.format(format).options(...).schema(schema).load(paths)`` knows.

    >>> rel = resolve_relation("parquet", "/data/sales")            # doctest: +SKIP
    >>> [a.name for a in rel.all_columns]                            # doctest: +SKIP
    ['id', 'amount', 'year']
    """
    fmt = check_format(format)
    roots = (paths,) if isinstance(paths, str) else tuple(paths)
    given = user_schema(schema)
    files, partition_schema = list_files(roots, fmt, options, schema=given)
    data = infer_schema(fmt, files, options, given)
    if given is not None:  # the user's schema names the partition columns too: they stay partitions
        partition_names = {n.lower() for n, _ in partition_schema}
        data = [(n, t) for n, t in data if n.lower() not in partition_names]
    else:
        data_names = {n.lower() for n, _ in data}
        partition_schema = [(n, t) for n, t in partition_schema if n.lower() not in data_names]
    option_pairs = tuple(sorted(normalize_options(options).items()))
    return FileRelation(
        format=fmt,
        root_paths=roots,
        options=option_pairs,
        files=files,
        data_columns=tuple(AttributeReference(n, t) for n, t in data),
        partition_columns=tuple(AttributeReference(n, t) for n, t in partition_schema),
    )


def _all_partition_columns(relation: FileRelation) -> list[PartitionColumn]:
    return [PartitionColumn(a.name, a.data_type.to_arrow(), a.column_key, i)
            for i, a in enumerate(relation.partition_columns)]


def selected_files(scan: FileScan) -> tuple[PartitionedFile, ...]:
    """The relation's files whose partition values the pushed filters do not rule out."""
    rel = scan.relation
    if not scan.pushed_filters or not rel.partition_columns:
        return rel.files
    cols = _all_partition_columns(rel)
    return tuple(f for f in rel.files if partition_may_match(scan.pushed_filters, cols, f.partition_values))


def plan_scan(scan: FileScan, conf: Mapping[str, str] | None = None, default_parallelism: int | None = None,
              ) -> list[FilePartition]:
    """The read tasks of a scan, sized by Spark's settings in ``conf`` (or their defaults).

    ``spark.sql.files.maxPartitionBytes`` (128m), ``spark.sql.files.openCostInBytes`` (4m),
    ``spark.sql.files.minPartitionNum`` (default: ``default_parallelism``) and
    ``spark.sql.files.maxPartitionNum`` (unset).
    """
    conf = conf or {}
    min_num = conf.get(MIN_PARTITION_NUM_KEY)
    max_num = conf.get(MAX_PARTITION_NUM_KEY)
    return plan_file_partitions(
        selected_files(scan),
        max_partition_bytes=parse_bytes(conf.get(MAX_PARTITION_BYTES_KEY, DEFAULT_MAX_PARTITION_BYTES)),
        open_cost_in_bytes=parse_bytes(conf.get(OPEN_COST_IN_BYTES_KEY, DEFAULT_OPEN_COST_IN_BYTES)),
        min_partitions=int(min_num) if min_num is not None else default_parallelism,
        splitable=scan.relation.format == "parquet",
        max_partition_num=int(max_num) if max_num is not None else None,
    )


def read_partition(scan: FileScan, partition: FilePartition | Sequence[FileSplit],
                   dictionary_columns: frozenset[str] = frozenset(),
                   filter_rows: bool = False, native_reader: bool = True) -> tuple[pa.Table, ScanMetrics]:
    """Read one task's ranges: ``scan.scan_output`` columns, by column key, and the metrics.

    Parquet string columns whose keys are in ``dictionary_columns`` come back dictionary-encoded
    (for a consumer that groups by them); CSV has no dictionaries and ignores it. With
    ``filter_rows`` (the consumer applies ``scan.pushed_filters`` again) the Parquet reader may
    leave out rows the pushed filters rule out; ``records_read`` still counts every row read.
    ``native_reader`` (``spark.ember.parquet.nativeReader.enabled``) lets Ember's page decoder
    read large Parquet row groups; off, pyarrow reads everything."""
    metrics = ScanMetrics()
    pieces = list(partition_pieces(scan, partition, dictionary_columns, filter_rows, native_reader, metrics))
    return concat_pieces(pieces), metrics


def partition_pieces(scan: FileScan, partition: FilePartition | Sequence[FileSplit],
                     dictionary_columns: frozenset[str] = frozenset(), filter_rows: bool = False,
                     native_reader: bool = True, metrics: ScanMetrics | None = None) -> Iterator[pa.Table]:
    """``read_partition``'s rows a piece at a time as they are read (a Parquet row group; a CSV
    task's whole table), each with ``scan.scan_output``'s columns, and at least one piece (an
    empty table when nothing is read). Pieces may disagree on whether a string column is
    dictionary-encoded. ``metrics`` count what each piece read."""
    rel = scan.relation
    metrics = metrics if metrics is not None else ScanMetrics()
    splits = partition.splits if isinstance(partition, FilePartition) else tuple(partition)
    data_cols, part_cols = _scan_columns(scan)
    if scan.pushed_filters and rel.partition_columns:
        all_parts = _all_partition_columns(rel)
        kept = tuple(s for s in splits if partition_may_match(scan.pushed_filters, all_parts, s.file.partition_values))
        metrics.files_pruned += len({s.file.path for s in splits} - {s.file.path for s in kept})
        splits = kept
    if rel.format == "parquet":
        pieces = parquet_split_pieces(splits, data_cols, part_cols, scan.pushed_filters, dictionary_columns,
                                      scan.pushed_filters if filter_rows else (), native_reader, metrics)
    else:
        table, m = read_csv_split(splits, data_cols, [(a.name, a.data_type) for a in rel.data_columns],
                                  rel.options, part_cols, scan.pushed_filters)
        metrics.add(m)
        pieces = [table]
    any_piece = False
    for piece in pieces:
        any_piece = True
        yield _in_output_order(scan, piece)
    if not any_piece:
        yield _in_output_order(scan, combine_pieces([], data_cols, part_cols))


def _scan_columns(scan: FileScan) -> tuple[list[ScanColumn], list[PartitionColumn]]:
    """The reader's view of ``scan.scan_output``: its data columns and its partition columns."""
    rel = scan.relation
    data_ids = {a.expr_id for a in rel.data_columns}
    part_index = {a.expr_id: i for i, a in enumerate(rel.partition_columns)}
    data_cols, part_cols = [], []
    for a in scan.scan_output:
        if a.expr_id in part_index:
            part_cols.append(PartitionColumn(a.name, a.data_type.to_arrow(), a.column_key, part_index[a.expr_id]))
        elif a.expr_id in data_ids or _by_name(rel.data_columns, a.name) is not None:
            data_cols.append(ScanColumn(a.name, a.data_type.to_arrow(), a.column_key))
        else:
            raise ValueError(f"{a} is not a column of the scanned relation")
    return data_cols, part_cols


def _in_output_order(scan: FileScan, table: pa.Table) -> pa.Table:
    """``table`` with ``scan.scan_output``'s columns in their order."""
    return table.select([a.column_key for a in scan.scan_output]) if table.num_columns else table


def _by_name(attrs: Sequence[AttributeReference], name: str) -> AttributeReference | None:
    for a in attrs:
        if a.name.lower() == name.lower():
            return a
    return None
