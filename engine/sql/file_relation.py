"""Between ``spark.read`` / ``df.write`` and the data sources: building scans, running writes."""
from __future__ import annotations

import functools
import time
import uuid

from engine.catalyst.logical import FileScan
from engine.datasources.strategy import resolve_relation
from engine.datasources.writer import WriteStats, abort_job, commit_job, prepare_output, write_task_output
from engine.execution.spark_plan import empty_table
from engine.execution.write_files_exec import WriteFilesExec, WriteSpec, task_write_stats
from engine.sql.errors import AnalysisException


def file_scan(fmt: str, paths: list[str], options: dict[str, str], schema) -> FileScan:
    """The logical scan of the files under ``paths``: files listed and schema known now, as Spark does."""
    relation = resolve_relation(fmt, paths, options, schema)
    return FileScan(relation, relation.all_columns)


def write_files(df, path: str, fmt: str, mode: str, partition_by: list[str], options: dict[str, str]) -> None:
    """Write ``df`` under ``path`` as one job: a task per partition, then the job commit."""
    from engine.sql.query_execution import QueryExecution

    if fmt not in ("parquet", "csv"):
        raise AnalysisException(f"[DATA_SOURCE_NOT_FOUND] Ember writes parquet and csv, not {fmt}.")
    names = [a.name for a in df._plan.output]
    for p in partition_by:
        if not any(n.lower() == p.lower() for n in names):
            raise AnalysisException(f"[UNRESOLVED_COLUMN] partitionBy column `{p}` is not a column of "
                                    f"the DataFrame: {names}.")
    if not prepare_output(path, mode):
        return
    spec = WriteSpec(path, fmt, tuple(partition_by), str(uuid.uuid4()), tuple(sorted(options.items())))
    qe = QueryExecution(df.sparkSession, df._plan, df._parsed, wrap=lambda plan: WriteFilesExec(spec, plan))

    def commit(task_stats: list[WriteStats]) -> list[tuple[int, int]]:
        """After the tasks, inside the SQL execution: the job commit, then the driver's metrics."""
        stats = functools.reduce(WriteStats.merge, task_stats, WriteStats())
        writer = qe.executed_plan
        if not stats.files:
            # Spark writes one empty file when there are no rows, so that the schema survives
            child = writer.child
            stats = write_task_output(empty_table(child.output), [(a.name, a.data_type) for a in child.output],
                                      path, fmt, partition_by, 0, spec.job_uuid, options.get("compression"),
                                      options, write_empty=True)
        started = time.perf_counter()
        commit_job(path)
        return writer.job_metric_updates(stats, int((time.perf_counter() - started) * 1000))

    try:
        qe.execute(fmt, lambda table, ctx: task_write_stats(table), on_job_end=commit)
    except BaseException:
        abort_job(path, spec.job_uuid)
        raise

