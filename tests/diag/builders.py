"""Fake application models for detector unit tests: every field a test does not mention defaults.

    model = app(stages=[stage(1)], tasks=[task(1, duration_ms=100) for _ in range(8)])
"""
from __future__ import annotations

import pyarrow as pa

from diag.model import TASK_INFO, TASK_METRICS, AppModel, _EXECUTOR_SCHEMA, _JOB_SCHEMA, _stages_table

_task_index = iter(range(10**9))


def task(stage_id: int, attempt: int = 0, **fields) -> dict:
    """One successful task of ``stage_id`` launched at t=1000 ms; override any column by keyword."""
    index = next(_task_index)
    row = {"stage_id": stage_id, "stage_attempt": attempt, "task_id": index, "index": index, "attempt": 0,
           "partition_id": index, "launch_time": 1_000, "finish_time": 1_100, "getting_result_time": 0,
           "duration_ms": 100, "speculative": False, "failed": False, "killed": False, "executor_id": "1",
           "host": "host-1", "locality": "PROCESS_LOCAL", "task_type": "ResultTask", "end_reason": "Success",
           "failure": None}
    row |= {c: 0 for c, _ in TASK_METRICS}
    row["executor_run_time_ms"] = 90
    row.update(fields)
    if "duration_ms" in fields and "finish_time" not in fields:
        row["finish_time"] = row["launch_time"] + row["duration_ms"]
    return row


def stage(stage_id: int, attempt: int = 0, **fields) -> dict:
    row = {"stage_id": stage_id, "attempt": attempt, "name": f"collect at job.py:{stage_id}", "num_tasks": 0,
           "parent_ids": [], "details": "", "submitted": 1_000, "completed": 2_000, "failure_reason": None,
           "ran": True, "rdd_names": []}
    row.update(fields)
    return row


def app(tasks: list[dict] = (), stages: list[dict] = (), jobs: list[dict] = (), conf: dict | None = None,
        duration_ms: int = 10_000, cores: int = 4, executors: list[dict] | None = None) -> AppModel:
    task_columns = ["stage_id", "stage_attempt", *(c for c, _ in TASK_INFO), "duration_ms",
                    *(c for c, _ in TASK_METRICS)]
    schema = pa.schema([(c, pa.int64()) for c in task_columns] +
                       [(c, pa.bool_()) for c in ("speculative", "failed", "killed")] +
                       [(c, pa.string()) for c in ("executor_id", "host", "locality", "task_type", "end_reason",
                                                   "failure")])
    stage_rows = {(s["stage_id"], s["attempt"]): s for s in stages}
    for t in tasks:
        stage_rows.setdefault((t["stage_id"], t["stage_attempt"]), stage(t["stage_id"], t["stage_attempt"]))
    executors = executors if executors is not None else [
        {"executor_id": "1", "host": "host-1", "cores": cores, "added": 0, "removed": None, "removed_reason": None}]
    return AppModel(
        application={"app_id": "app-test", "name": "test", "start": 0, "end": duration_ms, "spark_version": "4.3.0"},
        environment=dict(conf or {}),
        executors=pa.Table.from_pylist(executors, schema=_EXECUTOR_SCHEMA),
        jobs=pa.Table.from_pylist(list(jobs), schema=_JOB_SCHEMA),
        stages=_stages_table(stage_rows, {}),
        tasks=pa.Table.from_pylist(list(tasks), schema=schema),
        sql_executions={},
        event_counts={},
    )
