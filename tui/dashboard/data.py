"""The dashboard's tables, derived once from an ``AppModel``: one row per job and per stage attempt,
and one stage's task summary (min / 25th / median / 75th / max), the way Spark's UI shows them.

Everything here is plain data (dicts and lists of numbers); the views format it. Aggregations run
once on Arrow (one ``group_by`` over the tasks), so a log with a million tasks stays responsive.
"""
from __future__ import annotations

import dataclasses
from functools import cached_property

import pyarrow as pa
import pyarrow.compute as pc

from diag.diagnosis import Diagnosis
from diag.model import AppModel
from diag.report import ApplicationReport

# (label, task column, kind of value) of each row of a stage's task summary, in Spark's order
SUMMARY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("Duration", "duration_ms", "ms"),
    ("GC time", "jvm_gc_time_ms", "ms"),
    ("Input", "input_bytes", "bytes"),
    ("Shuffle read", "shuffle_read_bytes", "bytes"),
    ("Shuffle write", "shuffle_bytes_written", "bytes"),
    ("Spill (memory)", "memory_bytes_spilled", "bytes"),
    ("Spill (disk)", "disk_bytes_spilled", "bytes"),
)

_SUMS = ("input_bytes", "shuffle_read_bytes", "shuffle_bytes_written", "memory_bytes_spilled",
         "disk_bytes_spilled")


def _with_derived_columns(model: AppModel) -> AppModel:
    """The model with ``shuffle_read_bytes`` (remote + local) added to its tasks, so that
    ``stage_quantiles`` can summarise it like any other column."""
    tasks = model.tasks
    if "shuffle_read_bytes" in tasks.column_names:
        return model
    read = pc.add(tasks["shuffle_remote_bytes_read"], tasks["shuffle_local_bytes_read"])
    return dataclasses.replace(model, tasks=tasks.append_column("shuffle_read_bytes", read))


# what a job's row adds up over its stage attempts
JOB_SUMS = ("tasks", "failed", "input_bytes", "shuffle_read_bytes", "shuffle_write_bytes", "spill_bytes")


class DashboardData:
    """One application's report, reshaped for the dashboard's views. Results are cached."""

    def __init__(self, report: ApplicationReport):
        self.report = report
        self.model = _with_derived_columns(report.model)
        self._quantiles: dict[str, dict[tuple[int, int], dict]] = {}

    # ---- the application ----
    @property
    def name(self) -> str:
        return self.model.application.get("name") or self.model.app_id

    @cached_property
    def total_cores(self) -> int:
        cores = self.model.executors["cores"].to_pylist()
        return int(sum(c or 0 for c in cores))

    @cached_property
    def _task_counts(self) -> dict[tuple[int, int], dict]:
        """Per stage attempt: task count, failed tasks and byte totals."""
        tasks = self.model.tasks
        if not tasks.num_rows:
            return {}
        failed = pc.cast(pc.not_equal(tasks["end_reason"], "Success"), pa.int64())
        t = tasks.select(["stage_id", "stage_attempt", *_SUMS]).append_column("failed", failed)
        grouped = t.group_by(["stage_id", "stage_attempt"]).aggregate(
            [("stage_id", "count"), ("failed", "sum"), *((c, "sum") for c in _SUMS)])
        out = {}
        for row in grouped.to_pylist():
            out[(row["stage_id"], row["stage_attempt"])] = {
                "tasks": row["stage_id_count"], "failed": row["failed_sum"],
                **{c: row[f"{c}_sum"] for c in _SUMS}}
        return out

    def quantiles(self, column: str) -> dict[tuple[int, int], dict]:
        """``stage_quantiles(column)`` keyed by (stage id, attempt)."""
        if column not in self._quantiles:
            table = self.model.stage_quantiles(column)
            self._quantiles[column] = {(q["stage_id"], q["stage_attempt"]): q for q in table.to_pylist()}
        return self._quantiles[column]

    # ---- rows of the views ----
    @cached_property
    def job_rows(self) -> list[dict]:
        """One row per job: its stages' figures summed over every attempt that ran, and its worst
        stage skew (slowest task over the median task)."""
        stages = {s["stage_id"]: s for s in self.model.stages.to_pylist()}  # last attempt wins
        by_stage: dict[int, list[dict]] = {}
        for row in self.stage_rows:
            by_stage.setdefault(row["stage_id"], []).append(row)
        rows = []
        for job in self.model.jobs.to_pylist():
            ids = job["stage_ids"] or []
            ran = [s for s in ids if s in stages and not stages[s]["skipped"]]
            attempts = [row for s in ran for row in by_stage.get(s, [])]
            skews = [row["skew"] for row in attempts if row["skew"] is not None]
            submitted, completed = job["submitted"], job["completed"]
            rows.append({
                "job_id": job["job_id"], "description": job["description"] or "",
                "sql_execution_id": job["sql_execution_id"], "stage_ids": ids,
                "status": _job_status(job["result"], completed),
                "duration_ms": completed - submitted if submitted and completed else None,
                "stages_run": len(ran), "stages_skipped": len(ids) - len(ran),
                **{key: sum(row[key] for row in attempts) for key in JOB_SUMS},
                "skew": max(skews) if skews else None})
        return rows

    @cached_property
    def stage_rows(self) -> list[dict]:
        durations = self.quantiles("duration_ms")
        running_jobs = {j["job_id"] for j in self.model.jobs.to_pylist() if j["completed"] is None}
        rows = []
        for s in self.model.stages.to_pylist():
            key = (s["stage_id"], s["attempt"])
            counts = self._task_counts.get(key, {})
            q = durations.get(key) or {}
            median, top = q.get("median"), q.get("max")
            rows.append({
                "stage_id": s["stage_id"], "attempt": s["attempt"], "name": s["name"] or "",
                "status": _stage_status(s, running_jobs),
                "tasks": counts.get("tasks", 0), "num_tasks": s["num_tasks"], "failed": counts.get("failed", 0),
                "duration_ms": s["duration_ms"],
                "input_bytes": counts.get("input_bytes", 0),
                "shuffle_read_bytes": counts.get("shuffle_read_bytes", 0),
                "shuffle_write_bytes": counts.get("shuffle_bytes_written", 0),
                "spill_bytes": counts.get("memory_bytes_spilled", 0),
                "skew": (top / median) if median else None,
                "median_task_ms": median, "max_task_ms": top})
        return rows

    @cached_property
    def stage_parents(self) -> dict[int, list[int]]:
        """Stage id -> the ids of the stages whose shuffle output it reads (Spark's "Parent IDs")."""
        return {s["stage_id"]: s["parent_ids"] or [] for s in self.model.stages.to_pylist()}

    def stage_row(self, stage_id: int, attempt: int) -> dict | None:
        return next((r for r in self.stage_rows if (r["stage_id"], r["attempt"]) == (stage_id, attempt)), None)

    def task_summary(self, stage_id: int, attempt: int) -> list[tuple[str, str, dict | None]]:
        """(label, kind, quantiles or None) for each metric of one stage attempt's successful tasks."""
        return [(label, kind, self.quantiles(column).get((stage_id, attempt)))
                for label, column, kind in SUMMARY_METRICS]

    def task_durations(self, stage_id: int, attempt: int) -> list[int]:
        tasks = self.model.tasks_of(stage_id, attempt)
        tasks = tasks.filter(pc.equal(tasks["end_reason"], "Success"))
        return tasks["duration_ms"].to_pylist()

    def slowest_tasks(self, stage_id: int, attempt: int, count: int = 10) -> list[dict]:
        """The ``count`` longest task attempts of a stage attempt, longest first, with where they ran."""
        tasks = self.model.tasks_of(stage_id, attempt)
        if not tasks.num_rows:
            return []
        top = pc.select_k_unstable(tasks, count, sort_keys=[("duration_ms", "descending")])
        columns = ["task_id", "index", "attempt", "executor_id", "host", "duration_ms", "jvm_gc_time_ms",
                   "input_bytes", "shuffle_read_bytes", "end_reason"]
        rows = tasks.take(top).select(columns).to_pylist()
        return sorted(rows, key=lambda r: (-r["duration_ms"], r["task_id"]))

    # ---- diagnoses ----
    @property
    def diagnoses(self) -> list[Diagnosis]:
        """Every diagnosis, ranked by the detectors' runner (most costly and severe first)."""
        return list(self.report.run.diagnoses)

    @property
    def findings(self) -> list[Diagnosis]:
        return self.report.findings

    def diagnoses_at_stage(self, stage_id: int) -> list[Diagnosis]:
        return [d for d in self.diagnoses if stage_id in d.location.stage_ids]


def _stage_status(stage: dict, running_jobs: set[int]) -> str:
    """Spark's UI words; a stage that has not run is "pending" while one of its jobs still runs
    (a live or replayed log), and "skipped" once they have all ended without it."""
    if stage["skipped"]:
        return "pending" if running_jobs.intersection(stage["job_ids"] or ()) else "skipped"
    if stage["failure_reason"]:
        return "failed"
    return "complete" if stage["completed"] else "active"


def _job_status(result: str | None, completed: int | None) -> str:
    if result == "JobSucceeded":
        return "succeeded"
    if result:
        return "failed"
    return "running" if completed is None else "unknown"
