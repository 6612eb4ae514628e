"""FileSourceScanExec: reads Parquet or CSV splits, one task per packed file partition.

Splits are planned as Spark plans them (``spark.sql.files.maxPartitionBytes``, files packed by
``spark.sql.files.openCostInBytes``); only the columns the query needs are read, and Parquet row
groups whose statistics rule out the pushed filters are skipped. Its SQL metrics carry Spark's
names ("number of files read", "size of files read", ...), which the analyzer reads back.
"""
from __future__ import annotations


import time
from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.logical import FileScan
from engine.datasources.splits import FilePartition
from engine.datasources.strategy import plan_scan, read_partition
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import UnknownPartitioning
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class FileSourceScanExec(SparkPlan):
    scan: FileScan
    file_partitions: tuple[FilePartition, ...]

    @staticmethod
    def create(scan: FileScan, conf) -> FileSourceScanExec:
        """The scan with its read tasks planned: files pruned by partition values, then split and packed."""
        partitions = plan_scan(scan, conf.getAll(), int(conf.get("spark.default.parallelism")))
        return FileSourceScanExec(scan, tuple(partitions))

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {
            "numFiles": metric("number of files read"),
            "filesSize": metric("size of files read", "size"),
            "scanTime": metric("scan time", "timing"),
            "rowGroupsSkipped": metric("number of row groups skipped"),
        }

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

    def execute_partition(self, index: int, ctx) -> pa.Table:
        started = time.perf_counter()
        if self.file_partitions:
            table, scanned = read_partition(self.scan, self.file_partitions[index])
        else:
            table, scanned = read_partition(self.scan, ())
        ctx.add(self.metrics["scanTime"], int((time.perf_counter() - started) * 1000))
        ctx.add(self.metrics["numFiles"], scanned.files_read)
        ctx.add(self.metrics["filesSize"], scanned.bytes_read)
        ctx.add(self.metrics["rowGroupsSkipped"], scanned.row_groups_skipped)
        ctx.add(self.metrics["numOutputRows"], table.num_rows)
        ctx.metrics.input_bytes_read += scanned.bytes_read
        ctx.metrics.input_records_read += table.num_rows
        return table
