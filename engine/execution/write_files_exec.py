"""WriteFilesExec: each task writes its partition's rows as files (Spark's InsertIntoHadoopFsRelation).

One file per task per partition-directory value, named as Spark names them; the driver commits
the job with ``_SUCCESS`` once every task has written. As in Spark's ``BasicWriteJobStatsTracker``,
tasks send what they wrote back to the driver, which merges it (a partition directory written by
several tasks counts once) and posts the metrics after the job: "number of written files",
"written output", "number of output rows", "number of dynamic part", "job commit time". Spark's
"task commit time" has no counterpart: Ember's tasks rename each file into place as they write it.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.datasources.writer import WriteStats, write_task_output
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
            "jobCommitTime": metric("job commit time", "timing"),
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
        """Write this task's rows; the result is its ``WriteStats`` as one row, for the driver."""
        table = self.child.execute_partition(index, ctx)
        options = dict(self.spec.options)
        stats = write_task_output(
            table, [(a.name, a.data_type) for a in self.child.output], self.spec.path, self.spec.format,
            self.spec.partition_by, index, self.spec.job_uuid, options.get("compression"), options,
        )
        ctx.metrics.output_bytes_written += stats.bytes_written
        ctx.metrics.output_records_written += stats.rows_written
        return pa.table({"files": [list(stats.files)], "bytes": [stats.bytes_written],
                         "rows": [stats.rows_written], "partitions": [sorted(stats.partitions)]})

    def job_metric_updates(self, stats: WriteStats, commit_ms: int) -> list[tuple[int, int]]:
        """The driver's metric updates for the whole write (accumulator id, value)."""
        values = {"numFiles": stats.files_written, "numOutputBytes": stats.bytes_written,
                  "numOutputRows": stats.rows_written, "numParts": stats.partitions_written,
                  "jobCommitTime": commit_ms}
        updates = []
        for key, value in values.items():
            m = self.metrics[key]
            m.merge(value)
            updates.append((m.accumulator_id, m.value))
        return updates


def task_write_stats(table: pa.Table) -> WriteStats:
    """The ``WriteStats`` a write task returned (``WriteFilesExec.execute_partition``'s row)."""
    row = table.to_pylist()[0]
    return WriteStats(tuple(row["files"]), row["bytes"], row["rows"], frozenset(row["partitions"]))
