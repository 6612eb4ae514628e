"""The application model: one pass over the events builds read-only Arrow tables.

    model = build_model(events)            # any iterable of event dicts (see diag.eventlog)
    model.tasks                            # one row per task attempt, every metric, Spark's units
    model.stage_quantiles("duration_ms")   # min / 25th / median / 75th / max per stage attempt

Units follow Spark's log: times in milliseconds, except the ``*_ns`` columns (Executor CPU Time,
Executor Deserialize CPU Time, Shuffle Write Time), which stay in nanoseconds. Tasks are turned
into Arrow record batches as they stream, so a million tasks fit in a few hundred megabytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from diag import task_end_records as records

SQL_EVENT_PREFIX = "org.apache.spark.sql.execution.ui."

# (column, path in the TaskEnd event) for every numeric task column, in Spark's units
TASK_METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("executor_run_time_ms", ("Task Metrics", "Executor Run Time")),
    ("executor_cpu_time_ns", ("Task Metrics", "Executor CPU Time")),
    ("executor_deserialize_time_ms", ("Task Metrics", "Executor Deserialize Time")),
    ("executor_deserialize_cpu_time_ns", ("Task Metrics", "Executor Deserialize CPU Time")),
    ("result_size", ("Task Metrics", "Result Size")),
    ("jvm_gc_time_ms", ("Task Metrics", "JVM GC Time")),
    ("result_serialization_time_ms", ("Task Metrics", "Result Serialization Time")),
    ("peak_execution_memory", ("Task Metrics", "Peak Execution Memory")),
    ("memory_bytes_spilled", ("Task Metrics", "Memory Bytes Spilled")),
    ("disk_bytes_spilled", ("Task Metrics", "Disk Bytes Spilled")),
    ("input_bytes", ("Task Metrics", "Input Metrics", "Bytes Read")),
    ("input_records", ("Task Metrics", "Input Metrics", "Records Read")),
    ("output_bytes", ("Task Metrics", "Output Metrics", "Bytes Written")),
    ("output_records", ("Task Metrics", "Output Metrics", "Records Written")),
    ("shuffle_remote_bytes_read", ("Task Metrics", "Shuffle Read Metrics", "Remote Bytes Read")),
    ("shuffle_local_bytes_read", ("Task Metrics", "Shuffle Read Metrics", "Local Bytes Read")),
    ("shuffle_remote_blocks", ("Task Metrics", "Shuffle Read Metrics", "Remote Blocks Fetched")),
    ("shuffle_local_blocks", ("Task Metrics", "Shuffle Read Metrics", "Local Blocks Fetched")),
    ("shuffle_fetch_wait_ms", ("Task Metrics", "Shuffle Read Metrics", "Fetch Wait Time")),
    ("shuffle_records_read", ("Task Metrics", "Shuffle Read Metrics", "Total Records Read")),
    ("shuffle_bytes_written", ("Task Metrics", "Shuffle Write Metrics", "Shuffle Bytes Written")),
    ("shuffle_write_time_ns", ("Task Metrics", "Shuffle Write Metrics", "Shuffle Write Time")),
    ("shuffle_records_written", ("Task Metrics", "Shuffle Write Metrics", "Shuffle Records Written")),
)

TASK_INFO = (
    ("task_id", "Task ID"), ("index", "Index"), ("attempt", "Attempt"), ("partition_id", "Partition ID"),
    ("launch_time", "Launch Time"), ("finish_time", "Finish Time"), ("getting_result_time", "Getting Result Time"),
)

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


_GROUPS = ("Input Metrics", "Output Metrics", "Shuffle Read Metrics", "Shuffle Write Metrics")


def _metrics_of(group: str | None) -> list[tuple[str, str]]:
    """(column, key) of the metrics that live directly in Task Metrics (None) or in one of its groups."""
    return [(c, path[-1]) for c, path in TASK_METRICS if (path[1] if len(path) == 3 else None) == group]


_METRIC_GROUPS = [(g, _metrics_of(g)) for g in (None, *_GROUPS)]
_INT_COLUMNS = ["stage_id", "stage_attempt", *(c for c, _ in TASK_INFO),
                *(c for _, pairs in _METRIC_GROUPS for c, _ in pairs)]
_FLAG_COLUMNS = ["speculative", "failed", "killed"]
_TEXT_COLUMNS = ["executor_id", "host", "locality", "task_type", "end_reason", "failure"]
_EMPTY: dict = {}
_READ_ACCUMULABLE = records.getter(records.AccumulableRecord, ("Metadata", "ID", "Update"))
BATCH_ROWS = 65_536  # tasks held as Python tuples before they become Arrow columns


class _TaskColumns:
    """Builds the tasks table: each TaskEnd becomes one tuple; every ``BATCH_ROWS`` tuples become an
    Arrow record batch, so memory stays columnar and the per-task cost is one tuple."""

    def __init__(self):
        self._info_keys = tuple(key for _, key in TASK_INFO)
        self._top_keys = tuple(k for _, k in _METRIC_GROUPS[0][1])
        self._group_keys = tuple((g, tuple(k for _, k in pairs)) for g, pairs in _METRIC_GROUPS[1:])
        # the same reads for lean TaskEnd records (diag.task_end_records): attribute getters
        self._record_info = records.getter(records.TaskInfoRecord, self._info_keys)
        self._record_top = records.getter(records.TaskMetricsRecord, self._top_keys)
        self._record_groups = tuple((records.getter(records.TaskMetricsRecord, (g,)),
                                     records.getter(records.GROUP_RECORDS[g], keys),
                                     (None,) * len(keys)) for g, keys in self._group_keys)
        self._record_flags = records.getter(records.TaskInfoRecord, (
            "Speculative", "Failed", "Killed", "Executor ID", "Host", "Locality"))
        self._rows: list[tuple] = []
        self._batches: list[pa.RecordBatch] = []

    def add(self, e: dict) -> None:
        info = e.get("Task Info") or {}
        metrics = e.get("Task Metrics") or {}
        reason = e.get("Task End Reason") or {}
        values = [e.get("Stage ID"), e.get("Stage Attempt ID"), *map(info.get, self._info_keys),
                  *map(metrics.get, self._top_keys)]
        for group, keys in self._group_keys:
            values += map((metrics.get(group) or _EMPTY).get, keys)
        self._rows.append((
            *values,
            bool(info.get("Speculative")), bool(info.get("Failed")), bool(info.get("Killed")),
            info.get("Executor ID"), info.get("Host"), info.get("Locality"), e.get("Task Type"),
            reason.get("Reason", "Success"), _failure_text(reason),
        ))
        if len(self._rows) >= BATCH_ROWS:
            self._flush()

    def add_record(self, e) -> None:
        """``add`` for a lean TaskEnd record: the same row, read with attribute getters."""
        info = e.get("Task Info")
        metrics = e.get("Task Metrics")
        reason = e.get("Task End Reason") or _EMPTY
        values = [e.get("Stage ID"), e.get("Stage Attempt ID")]
        values += self._record_info(info) if info is not None else (None,) * len(self._info_keys)
        if metrics is not None:
            values += self._record_top(metrics)
            for group_of, read, missing in self._record_groups:
                group = group_of(metrics)[0]
                values += read(group) if group is not None else missing
        else:
            values += (None,) * (len(_INT_COLUMNS) - len(values))
        speculative, failed, killed, executor, host, locality = (
            self._record_flags(info) if info is not None else (None,) * 6)
        self._rows.append((
            *values, bool(speculative), bool(failed), bool(killed), executor, host, locality,
            e.get("Task Type"), reason.get("Reason", "Success"), _failure_text(reason),
        ))
        if len(self._rows) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        columns = list(zip(*self._rows))
        self._rows = []
        arrays = [_int_column(c) for c in columns[:len(_INT_COLUMNS)]]
        flags = columns[len(_INT_COLUMNS):len(_INT_COLUMNS) + len(_FLAG_COLUMNS)]
        texts = columns[len(_INT_COLUMNS) + len(_FLAG_COLUMNS):]
        arrays += [pa.array(c, pa.bool_()) for c in flags]
        arrays += [pa.array([None if v is None else str(v) for v in c], pa.string()) for c in texts]
        launch, finish = arrays[_INT_COLUMNS.index("launch_time")], arrays[_INT_COLUMNS.index("finish_time")]
        duration = pc.if_else(pc.greater(finish, 0), pc.max_element_wise(pc.subtract(finish, launch), 0), 0)
        self._batches.append(pa.RecordBatch.from_arrays(
            arrays + [duration], _INT_COLUMNS + _FLAG_COLUMNS + _TEXT_COLUMNS + ["duration_ms"]))

    def table(self) -> pa.Table:
        self._flush()
        if not self._batches:
            schema = pa.schema([(c, pa.int64()) for c in _INT_COLUMNS] + [(c, pa.bool_()) for c in _FLAG_COLUMNS]
                               + [(c, pa.string()) for c in _TEXT_COLUMNS] + [("duration_ms", pa.int64())])
            return schema.empty_table()
        return pa.Table.from_batches(self._batches)


def _int_column(values) -> pa.Array:
    """Integers as Arrow; a damaged value (a string, a float) counts as 0 rather than failing the log."""
    try:
        return pa.array(values, pa.int64()).fill_null(0)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([_int(v) for v in values], pa.int64())


def _failure_text(reason: dict) -> str | None:
    kind = reason.get("Reason", "Success")
    if kind == "Success":
        return None
    if kind == "ExceptionFailure":
        return f"{reason.get('Class Name', '')}: {reason.get('Description', '')}"
    if kind == "FetchFailed":
        return f"FetchFailed: {reason.get('Message', '')}"
    if kind == "ExecutorLostFailure":
        return f"ExecutorLostFailure: {reason.get('Loss Reason', '')}"
    if kind == "TaskKilled":
        return f"TaskKilled: {reason.get('Kill Reason', '')}"
    return kind


@dataclass
class PlanNode:
    """One node of a SQL execution's physical plan, with its metrics' final values."""

    node_id: int
    parent_id: int | None
    name: str
    description: str
    metrics: dict[str, int]  # metric name -> value
    metric_ids: dict[int, str]  # accumulator id -> metric name


@dataclass
class SQLExecution:
    execution_id: int
    description: str
    start: int
    end: int | None
    physical_plan: str
    nodes: list[PlanNode]  # the latest plan: the final one once AQE has re-planned
    earlier_plans: list[list[PlanNode]] = field(default_factory=list)  # the initial plan, then each AQE update
    error: str | None = None

    @property
    def adaptive_plans(self) -> int:
        return len(self.earlier_plans)

    def nodes_named(self, *prefixes: str) -> list[PlanNode]:
        return [n for n in self.nodes if n.name.startswith(prefixes)]


@dataclass
class AppModel:
    """Everything one application's log says, as tables and small records. Read-only once built."""

    application: dict[str, Any]
    environment: dict[str, str]
    executors: pa.Table
    jobs: pa.Table
    stages: pa.Table
    tasks: pa.Table
    sql_executions: dict[int, SQLExecution]
    event_counts: dict[str, int]

    @property
    def app_id(self) -> str:
        return self.application.get("app_id") or "unknown"

    @property
    def duration_ms(self) -> int:
        start, end = self.application.get("start"), self.application.get("end")
        if start is None:
            return 0
        if end is None:
            last = pc.max(self.tasks["finish_time"]).as_py() if self.tasks.num_rows else None
            end = max(filter(None, [last, start]))
        return max(0, end - start)

    def conf(self, key: str, default: str | None = None) -> str | None:
        return self.environment.get(key, default)

    def conf_bool(self, key: str, default: bool) -> bool:
        value = self.environment.get(key)
        return default if value is None else value.strip().lower() == "true"

    def tasks_of(self, stage_id: int, attempt: int | None = None) -> pa.Table:
        mask = pc.equal(self.tasks["stage_id"], stage_id)
        if attempt is not None:
            mask = pc.and_(mask, pc.equal(self.tasks["stage_attempt"], attempt))
        return self.tasks.filter(mask)

    def stage_quantiles(self, column: str, successful_only: bool = True) -> pa.Table:
        """Per stage attempt: min, p25, median, p75 and max of a task column, as Spark's UI shows."""
        tasks = self.tasks
        if successful_only:
            tasks = tasks.filter(pc.equal(tasks["end_reason"], "Success"))
        grouped = tasks.group_by(["stage_id", "stage_attempt"]).aggregate([
            (column, "tdigest", pc.TDigestOptions(q=list(QUANTILES))), (column, "count")])
        digests = grouped[f"{column}_tdigest"].to_pylist()
        out = {"stage_id": grouped["stage_id"], "stage_attempt": grouped["stage_attempt"],
               "tasks": grouped[f"{column}_count"]}
        for i, name in enumerate(("min", "p25", "median", "p75", "max")):
            out[name] = pa.array([d[i] if d else None for d in digests], pa.float64())
        return pa.table(out).sort_by([("stage_id", "ascending"), ("stage_attempt", "ascending")])


class ModelBuilder:
    """Turns events, fed one at a time in log order with ``add``, into an ``AppModel`` (``build``).
    ``build_model`` feeds it a whole log; ``diag.follow`` feeds it a log that is still growing."""

    def __init__(self):
        self.application: dict[str, Any] = {}
        self.environment: dict[str, str] = {}
        self.executors: dict[str, dict] = {}
        self.jobs: dict[int, dict] = {}
        self.stages: dict[tuple[int, int], dict] = {}
        self.stage_jobs: dict[int, list[int]] = {}
        self.tasks = _TaskColumns()
        self.sql: dict[int, SQLExecution] = {}
        self.sql_values: dict[int, int] = {}  # accumulator id -> summed value
        self.event_counts: dict[str, int] = {}

    def add(self, e: dict) -> None:
        name = e.get("Event")
        if not isinstance(name, str):
            return
        short = name[len(SQL_EVENT_PREFIX):] if name.startswith(SQL_EVENT_PREFIX) else name
        self.event_counts[short] = self.event_counts.get(short, 0) + 1
        handler = _HANDLERS.get(short)
        if handler is not None:
            handler(self, e)

    # ---- handlers, one per event type ----
    def log_start(self, e):
        self.application["spark_version"] = e.get("Spark Version")

    def app_start(self, e):
        self.application.update(app_id=e.get("App ID"), name=e.get("App Name"), start=e.get("Timestamp"),
                                user=e.get("User"), attempt_id=e.get("App Attempt ID"))

    def app_end(self, e):
        self.application["end"] = e.get("Timestamp")
        self.application["exit_code"] = e.get("ExitCode")

    def environment_update(self, e):
        props = e.get("Spark Properties") or {}
        if isinstance(props, list):  # older logs write lists of pairs
            props = {k: v for k, v in props}
        self.environment.update({str(k): str(v) for k, v in props.items()})

    def executor_added(self, e):
        info = e.get("Executor Info") or {}
        self.executors[str(e.get("Executor ID"))] = {
            "executor_id": str(e.get("Executor ID")), "host": info.get("Host"), "cores": _int(info.get("Total Cores")),
            "added": e.get("Timestamp"), "removed": None, "removed_reason": None}

    def executor_removed(self, e):
        ex = self.executors.setdefault(str(e.get("Executor ID")), {
            "executor_id": str(e.get("Executor ID")), "host": None, "cores": 0, "added": None})
        ex["removed"], ex["removed_reason"] = e.get("Timestamp"), e.get("Removed Reason")

    def block_manager_added(self, e):
        bm = e.get("Block Manager ID") or {}
        executor = str(bm.get("Executor ID"))
        if executor == "driver" and "driver" not in self.executors:
            # local mode: the driver is the only executor; its cores come from spark.master
            self.executors["driver"] = {"executor_id": "driver", "host": bm.get("Host"), "cores": 0,
                                        "added": e.get("Timestamp"), "removed": None, "removed_reason": None}

    def job_start(self, e):
        job_id = _int(e.get("Job ID"))
        props = e.get("Properties") or {}
        stage_ids = [_int(s) for s in e.get("Stage IDs") or []]
        self.jobs[job_id] = {
            "job_id": job_id, "submitted": e.get("Submission Time"), "completed": None, "result": None,
            "stage_ids": stage_ids,
            "sql_execution_id": _int(props["spark.sql.execution.id"]) if "spark.sql.execution.id" in props else None,
            "description": props.get("spark.job.description") or props.get("callSite.short")}
        for info in e.get("Stage Infos") or []:
            self._stage(info, submitted=False)
        for sid in stage_ids:
            self.stage_jobs.setdefault(sid, []).append(job_id)

    def job_end(self, e):
        job = self.jobs.setdefault(_int(e.get("Job ID")), {"job_id": _int(e.get("Job ID")), "stage_ids": []})
        job["completed"] = e.get("Completion Time")
        job["result"] = (e.get("Job Result") or {}).get("Result")

    def _stage(self, info: dict, submitted: bool) -> dict:
        key = (_int(info.get("Stage ID")), _int(info.get("Stage Attempt ID")))
        stage = self.stages.get(key)
        if stage is None:
            stage = self.stages[key] = {
                "stage_id": key[0], "attempt": key[1], "name": info.get("Stage Name", ""),
                "num_tasks": _int(info.get("Number of Tasks")),
                "parent_ids": [_int(p) for p in info.get("Parent IDs") or []],
                "details": info.get("Details", ""), "submitted": None, "completed": None,
                "failure_reason": None, "ran": False,
                "rdd_names": [r.get("Name", "") for r in info.get("RDD Info") or []]}
        if submitted:
            stage["ran"] = True
        for k_json, k in (("Submission Time", "submitted"), ("Completion Time", "completed"),
                          ("Failure Reason", "failure_reason")):
            if info.get(k_json) is not None and (submitted or k == "completed"):
                stage[k] = info[k_json]
        return stage

    def stage_submitted(self, e):
        self._stage(e.get("Stage Info") or {}, submitted=True)

    def stage_completed(self, e):
        info = e.get("Stage Info") or {}
        stage = self._stage(info, submitted=True)
        stage["completed"] = info.get("Completion Time")
        stage["failure_reason"] = info.get("Failure Reason")

    def task_end(self, e):
        values = self.sql_values
        if isinstance(e, records.TaskEndRecord):
            self.tasks.add_record(e)
            info = e.get("Task Info")
            for metadata, acc_id, update in map(_READ_ACCUMULABLE, (info.get("Accumulables") if info else None) or ()):
                if metadata == "sql":
                    values[_int(acc_id)] = values.get(_int(acc_id), 0) + _int(update)
            return
        self.tasks.add(e)
        for acc in (e.get("Task Info") or _EMPTY).get("Accumulables") or ():
            if acc.get("Metadata") == "sql":
                acc_id = _int(acc.get("ID"))
                values[acc_id] = values.get(acc_id, 0) + _int(acc.get("Update"))

    def sql_start(self, e):
        execution_id = _int(e.get("executionId"))
        nodes: list[PlanNode] = []
        _flatten_plan(e.get("sparkPlanInfo") or {}, None, nodes)
        self.sql[execution_id] = SQLExecution(execution_id, e.get("description", ""), _int(e.get("time")), None,
                                              e.get("physicalPlanDescription", ""), nodes)

    def sql_adaptive(self, e):
        execution = self.sql.get(_int(e.get("executionId")))
        if execution is None:
            return
        nodes: list[PlanNode] = []
        _flatten_plan(e.get("sparkPlanInfo") or {}, None, nodes)
        execution.earlier_plans.append(execution.nodes)
        execution.nodes = nodes
        execution.physical_plan = e.get("physicalPlanDescription", execution.physical_plan)

    def sql_end(self, e):
        execution = self.sql.get(_int(e.get("executionId")))
        if execution is not None:
            execution.end = _int(e.get("time"))
            execution.error = e.get("errorMessage") or None

    def driver_accum_updates(self, e):
        for pair in e.get("accumUpdates") or ():
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                self.sql_values[_int(pair[0])] = self.sql_values.get(_int(pair[0]), 0) + _int(pair[1])

    # ---- the result ----
    def build(self) -> AppModel:
        for execution in self.sql.values():
            for plan in [*execution.earlier_plans, execution.nodes]:
                for node in plan:
                    node.metrics = {name: self.sql_values.get(acc_id, 0) for acc_id, name in node.metric_ids.items()}
        cores = _local_cores(self.environment.get("spark.master", ""))
        for ex in self.executors.values():
            if ex["executor_id"] == "driver" and not ex["cores"]:
                ex["cores"] = cores
        return AppModel(
            application=self.application,
            environment=self.environment,
            executors=pa.Table.from_pylist(list(self.executors.values()), schema=_EXECUTOR_SCHEMA),
            jobs=pa.Table.from_pylist(list(self.jobs.values()), schema=_JOB_SCHEMA),
            stages=_stages_table(self.stages, self.stage_jobs),
            tasks=self.tasks.table(),
            sql_executions=self.sql,
            event_counts=self.event_counts,
        )


def _flatten_plan(info: dict, parent: int | None, out: list[PlanNode]) -> None:
    node_id = len(out)
    metric_ids = {_int(m.get("accumulatorId")): str(m.get("name")) for m in info.get("metrics") or ()}
    out.append(PlanNode(node_id, parent, str(info.get("nodeName", "")), str(info.get("simpleString", "")), {},
                        metric_ids))
    for child in info.get("children") or ():
        _flatten_plan(child, node_id, out)


def _local_cores(master: str) -> int:
    import os
    import re

    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master.strip())
    if not m:
        return 0
    if m.group(1) is None:
        return 1
    if m.group(1) == "*":
        return os.cpu_count() or 1
    return int(m.group(1))


_EXECUTOR_SCHEMA = pa.schema([("executor_id", pa.string()), ("host", pa.string()), ("cores", pa.int64()),
                              ("added", pa.int64()), ("removed", pa.int64()), ("removed_reason", pa.string())])
_JOB_SCHEMA = pa.schema([("job_id", pa.int64()), ("submitted", pa.int64()), ("completed", pa.int64()),
                         ("result", pa.string()), ("stage_ids", pa.list_(pa.int64())),
                         ("sql_execution_id", pa.int64()), ("description", pa.string())])


def _stages_table(stages: dict, stage_jobs: dict) -> pa.Table:
    rows = []
    for (sid, attempt), s in sorted(stages.items()):
        rows.append({**s, "job_ids": stage_jobs.get(sid, []), "skipped": not s["ran"],
                     "duration_ms": (s["completed"] - s["submitted"]) if s["completed"] and s["submitted"] else None})
    schema = pa.schema([
        ("stage_id", pa.int64()), ("attempt", pa.int64()), ("name", pa.string()), ("num_tasks", pa.int64()),
        ("parent_ids", pa.list_(pa.int64())), ("details", pa.string()), ("submitted", pa.int64()),
        ("completed", pa.int64()), ("failure_reason", pa.string()), ("ran", pa.bool_()),
        ("rdd_names", pa.list_(pa.string())), ("job_ids", pa.list_(pa.int64())), ("skipped", pa.bool_()),
        ("duration_ms", pa.int64())])
    return pa.Table.from_pylist(rows, schema=schema)


_HANDLERS = {
    "SparkListenerLogStart": ModelBuilder.log_start,
    "SparkListenerApplicationStart": ModelBuilder.app_start,
    "SparkListenerApplicationEnd": ModelBuilder.app_end,
    "SparkListenerEnvironmentUpdate": ModelBuilder.environment_update,
    "SparkListenerExecutorAdded": ModelBuilder.executor_added,
    "SparkListenerExecutorRemoved": ModelBuilder.executor_removed,
    "SparkListenerBlockManagerAdded": ModelBuilder.block_manager_added,
    "SparkListenerJobStart": ModelBuilder.job_start,
    "SparkListenerJobEnd": ModelBuilder.job_end,
    "SparkListenerStageSubmitted": ModelBuilder.stage_submitted,
    "SparkListenerStageCompleted": ModelBuilder.stage_completed,
    "SparkListenerTaskEnd": ModelBuilder.task_end,
    "SparkListenerSQLExecutionStart": ModelBuilder.sql_start,
    "SparkListenerSQLAdaptiveExecutionUpdate": ModelBuilder.sql_adaptive,
    "SparkListenerSQLExecutionEnd": ModelBuilder.sql_end,
    "SparkListenerDriverAccumUpdates": ModelBuilder.driver_accum_updates,
}


def build_model(events: Iterable[dict]) -> AppModel:
    """The model of one application from its events, in log order."""
    builder = ModelBuilder()
    for e in events:
        builder.add(e)
    return builder.build()

