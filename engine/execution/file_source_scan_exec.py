"""FileSourceScanExec: reads Parquet or CSV splits, one task per packed file partition.

Splits are planned as Spark plans them (``spark.sql.files.maxPartitionBytes``, files packed by
``spark.sql.files.openCostInBytes``); only the columns the query needs are read, and Parquet row
groups whose statistics rule out the pushed filters are skipped. Its SQL metrics carry Spark's
names, which the analyzer reads back, and come from where Spark's come from: the driver knows the
files it selected when it plans the scan, so "number of files read", "size of files read" (whole
file sizes), "metadata time" and, for a partitioned table, "number of partitions read" and "dynamic
partition pruning time" are posted once as ``SparkListenerDriverAccumUpdates``; each task reports
"scan time" and "number of output rows" (and Ember's "number of row groups skipped") in its own
accumulables.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pyarrow as pa

from engine.catalyst.logical import FileScan, PartitionedFile
from engine.datasources.parquet import concat_pieces
from engine.datasources.parquet_late import NATIVE_READER_ENABLED
from engine.datasources.splits import FilePartition
from engine.datasources.scan import ScanMetrics
from engine.datasources.strategy import partition_pieces, plan_scan, selected_files
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import UnknownPartitioning
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class FileSourceScanExec(SparkPlan):
    scan: FileScan
    file_partitions: tuple[FilePartition, ...]
    selected_files: tuple[PartitionedFile, ...] = ()
    metadata_time_ms: int = 0
    native_reader: bool = True   # spark.ember.parquet.nativeReader.enabled

    @staticmethod
    def create(scan: FileScan, conf) -> FileSourceScanExec:
        """The scan with its read tasks planned: files pruned by partition values, then split and packed."""
        started = time.perf_counter()
        files = selected_files(scan)
        partitions = plan_scan(scan, conf.getAll(), int(conf.get("spark.default.parallelism")))
        native = str(conf.get(NATIVE_READER_ENABLED, "true")).strip().lower()
        if native not in ("true", "false"):
            raise ValueError(f"{NATIVE_READER_ENABLED} should be a boolean, but was {native!r}")
        return FileSourceScanExec(scan, tuple(partitions), files, int((time.perf_counter() - started) * 1000),
                                  native == "true")

    def declare_metrics(self) -> dict[str, SQLMetric]:
        metrics = {
            "numFiles": metric("number of files read"),
            "metadataTime": metric("metadata time", "timing"),
            "filesSize": metric("size of files read", "size"),
        }
        if self.scan.relation.partition_columns:
            metrics["numPartitions"] = metric("number of partitions read")
            metrics["pruningTime"] = metric("dynamic partition pruning time", "timing")
        metrics["scanTime"] = metric("scan time", "timing")
        metrics["rowGroupsSkipped"] = metric("number of row groups skipped")
        return metrics

    def driver_metric_updates(self) -> list[tuple[int, int]]:
        """The selected files' count and total size, the time to select them and, for a partitioned
        table, the number of partition directories they are in and the time spent pruning partitions
        at run time (Spark's ``sendDriverMetrics``)."""
        measured = {
            "numFiles": len(self.selected_files),
            "metadataTime": self.metadata_time_ms,
            "filesSize": sum(f.size for f in self.selected_files),
            "numPartitions": len({f.partition_values for f in self.selected_files}),
            # Spark posts it for every partitioned table; Ember prunes partitions only while planning
            "pruningTime": 0,
        }
        updates = []
        for key, value in measured.items():
            if key in self.metrics:
                self.metrics[key].value = value
                updates.append((self.metrics[key].accumulator_id, value))
        return updates

    @property
    def output(self):
        return self.scan.output

    @property
    def output_partitioning(self):
        return UnknownPartitioning(max(1, len(self.file_partitions)))

    @property
    def node_name(self) -> str:
        return f"Scan {self.scan.relation.format}"

    def arguments(self) -> str:
        rel = self.scan.relation
        location = ", ".join(rel.root_paths)
        pushed = ", ".join(str(f) for f in self.scan.pushed_filters)
        schema = ", ".join(f"{a.name}:{a.data_type.simpleString()}" for a in self.scan.output
                           if a in rel.data_columns)
        return (f"{attrs_string(self.output)} Batched: true, DataFilters: [{pushed}], Format: {rel.format.title()}, "
                f"Location: InMemoryFileIndex[{location}], PushedFilters: [{pushed}], ReadSchema: struct<{schema}>")

    @property
    def reads_dictionary_columns(self) -> bool:
        """Whether ``execute_partition`` can return string columns dictionary-encoded (Parquet)."""
        return self.scan.relation.format == "parquet"

    @property
    def filters_rows(self) -> bool:
        """Whether ``execute_partition(filter_rows=True)`` can leave out rows the pushed filters
        rule out (Parquet, with the native reader on)."""
        return self.reads_dictionary_columns and self.native_reader and bool(self.scan.pushed_filters)

    def reading_only(self, attrs) -> FileSourceScanExec:
        """This scan reading only ``attrs`` of its columns (at least one), over the same files and
        tasks and adding to the same metrics: a range exchange's sampling job needs its sort key,
        not the rows it will shuffle (Spark's sampling job reads them all)."""
        wanted = {a.expr_id for a in attrs}
        keep = tuple(a for a in self.output if a.expr_id in wanted) or self.output[:1]
        narrowed = replace(self, scan=replace(self.scan, scan_output=keep))
        narrowed.metrics = self.metrics
        return narrowed

    def execute_partition(self, index: int, ctx, dictionary_columns: frozenset[str] = frozenset(),
                          filter_rows: bool = False) -> pa.Table:
        """One task's rows; the string columns keyed in ``dictionary_columns`` dictionary-encoded
        when the format stores them so (a compiled aggregate grouping by them asks). With
        ``filter_rows`` (the caller applies the pushed filters again) rows they rule out may be
        left out; the metrics still count the rows of every row group read, as Spark's scan
        outputs them all to the Filter above it."""
        return self.combine_pieces(list(self.execute_partition_pieces(index, ctx, dictionary_columns, filter_rows)))

    def execute_partition_pieces(self, index: int, ctx, dictionary_columns: frozenset[str] = frozenset(),
                                 filter_rows: bool = False) -> Iterator[pa.Table]:
        """``execute_partition``'s rows a piece at a time, as they are read (a Parquet row group),
        so that a consumer that is done with a piece before it asks for the next never holds the
        task's whole input. Pieces may disagree on whether a string column is dictionary-encoded.
        The metrics are those of ``execute_partition``; the scan time is the time spent reading."""
        partition = self.file_partitions[index] if self.file_partitions else ()
        filtering = filter_rows and self.filters_rows
        scanned, rows, reading = ScanMetrics(), 0, 0.0
        pieces = partition_pieces(self.scan, partition, dictionary_columns, filtering, self.native_reader, scanned)
        while True:
            started = time.perf_counter()
            piece = next(pieces, None)
            reading += time.perf_counter() - started
            if piece is None:
                break
            rows += piece.num_rows
            yield piece
            del piece   # not held while the next piece is read
        rows = scanned.records_read if filtering else rows
        ctx.add(self.metrics["scanTime"], int(reading * 1000))
        ctx.add(self.metrics["rowGroupsSkipped"], scanned.row_groups_skipped)
        ctx.add(self.metrics["numOutputRows"], rows)
        ctx.metrics.input_bytes_read += scanned.bytes_read
        ctx.metrics.input_records_read += rows

    @staticmethod
    def combine_pieces(pieces: list[pa.Table]) -> pa.Table:
        """Pieces of ``execute_partition_pieces`` (at least one) as one table."""
        return concat_pieces(pieces)
