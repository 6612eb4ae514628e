"""FileSourceScanExec: reads Parquet or CSV splits, one task per packed file partition.

Splits are planned as Spark plans them (``spark.sql.files.maxPartitionBytes``, files packed by
``spark.sql.files.openCostInBytes``); only the columns the query needs are read, and Parquet row
groups whose statistics rule out the pushed filters are skipped. Its SQL metrics carry Spark's
names ("number of files read", "size of files read", ...), which the analyzer reads back.
"""
from __future__ import annotations


from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.logical import FileScan
from engine.datasources.csv import read_csv_split
from engine.datasources.parquet import read_parquet_split
from engine.datasources.scan import PartitionColumn, ScanColumn
from engine.datasources.splits import FilePartition, plan_file_partitions
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import UnknownPartitioning
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class FileSourceScanExec(SparkPlan):
    scan: FileScan
    file_partitions: tuple[FilePartition, ...]

    @staticmethod
    def create(scan: FileScan, conf) -> FileSourceScanExec:
        files = scan.relation.files
        partitions = plan_file_partitions(
            files,
            conf.get_bytes("spark.sql.files.maxPartitionBytes"),
            conf.get_bytes("spark.sql.files.openCostInBytes"),
            int(conf.get("spark.default.parallelism")),
            splitable=scan.relation.format == "parquet",
        )
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
        import time

        rel = self.scan.relation
        wanted = {a.expr_id for a in self.scan.output}
        data = [ScanColumn(a.name, a.data_type.to_arrow(), a.column_key) for a in rel.data_columns if a.expr_id in wanted]
        parts = [PartitionColumn(a.name, a.data_type.to_arrow(), a.column_key, i)
                 for i, a in enumerate(rel.partition_columns) if a.expr_id in wanted]
        splits = self.file_partitions[index].splits if self.file_partitions else ()
        started = time.perf_counter()
        if rel.format == "parquet":
            table, scanned = read_parquet_split(splits, data, parts, self.scan.pushed_filters)
        else:
            schema = [(a.name, a.data_type) for a in rel.data_columns]
            table, scanned = read_csv_split(splits, data, schema, dict(rel.options), parts, self.scan.pushed_filters)
        ctx.add(self.metrics["scanTime"], int((time.perf_counter() - started) * 1000))
        ctx.add(self.metrics["numFiles"], scanned.files_read)
        ctx.add(self.metrics["filesSize"], scanned.bytes_read)
        ctx.add(self.metrics["rowGroupsSkipped"], scanned.row_groups_skipped)
        ctx.add(self.metrics["numOutputRows"], table.num_rows)
        ctx.metrics.input_bytes_read += scanned.bytes_read
        ctx.metrics.input_records_read += table.num_rows
        return table.select([a.column_key for a in self.scan.output])

