"""WriteFilesExec: each task writes its partition's rows as files (Spark's InsertIntoHadoopFsRelation).

One file per task per partition-directory value, named as Spark names them; the driver commits
the job with ``_SUCCESS`` once every task has written. Metrics are Spark's: "number of written
files", "written output", "number of output rows", "number of dynamic part".
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.datasources.writer import write_task_output
from engine.execution.metrics import SQLMetric, metric
from engine.execution.spark_plan import SparkPlan


@dataclass(frozen=True)
class WriteSpec:
    path: str
    format: str
    partition_by: tuple[str, ...]
    job_uuid: str
    options: tuple[tuple[str, str], ...]


@dataclass(eq=False)
class WriteFilesExec(SparkPlan):
    spec: WriteSpec
    child: SparkPlan

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {
            "numFiles": metric("number of written files"),
            "numOutputBytes": metric("written output", "size"),
            "numParts": metric("number of dynamic part"),
        }

    @property
    def output(self):
        return ()

    @property
    def node_name(self) -> str:
        return "Execute InsertIntoHadoopFsRelationCommand"

    def arguments(self) -> str:
        parts = f", [{', '.join(self.spec.partition_by)}]" if self.spec.partition_by else ""
        return f"{self.spec.path}, {self.spec.format}{parts}"

    def execute_partition(self, index: int, ctx) -> pa.Table:
        table = self.child.execute_partition(index, ctx)
        options = dict(self.spec.options)
        stats = write_task_output(
            table, [(a.name, a.data_type) for a in self.child.output], self.spec.path, self.spec.format,
            self.spec.partition_by, index, self.spec.job_uuid, options.get("compression"), options,
        )
        ctx.add(self.metrics["numFiles"], stats.files_written)
        ctx.add(self.metrics["numOutputBytes"], stats.bytes_written)
        ctx.add(self.metrics["numOutputRows"], stats.rows_written)
        ctx.add(self.metrics["numParts"], stats.partitions_written)
        ctx.metrics.output_bytes_written += stats.bytes_written
        ctx.metrics.output_records_written += stats.rows_written
        return pa.table({"files": [stats.files_written], "rows": [stats.rows_written]})
