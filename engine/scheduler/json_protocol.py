"""Ember's listener events as the JSON Spark's ``JsonProtocol`` writes, one dict per event.

The event log is only useful if Spark's own readers (the History Server, ``AppStatusListener``,
``SQLAppStatusListener``) and Spark tooling take it as Spark's, so every dict here has the keys,
key order, nesting and value types of a log written by Spark 4.3. Checked against real pyspark
logs (``tests/test_event_log_writer.py`` compares the key shapes event by event).

Policy, following Spark:

* Core events carry ``"Event": "SparkListenerTaskEnd"`` (the simple class name) and Spark's
  spaced field names; the SQL events carry the fully qualified class name and the camelCase
  field names Jackson derives from the Scala case class.
* Optional values Spark writes with ``Option.foreach`` (a stage's submission/completion time and
  failure reason, the application's attempt id) are left out when absent, not written as null.
* Accumulables are sorted by id. Values of Spark's internal task-metric accumulators
  (``internal.metrics.*``) are JSON numbers; every other value (SQL metrics included) is a string.
* Start events carry no accumulables (SPARK-42205): ``TaskStart``'s task info and
  ``StageSubmitted``'s stage info always write ``"Accumulables": []``.
* Fields Spark 4 writes that Ember does not measure are written as zeros: the push-based shuffle
  read metrics, "Remote Requests Duration", "Peak Off Heap Execution Memory", the JVM memory and
  GC times in "Task Executor Metrics" (its process RSS/VMem and GC counts are measured),
  "Updated Blocks" (empty).

Example: ``SparkListenerJobEnd(job_id=3, time=1700000000000, succeeded=True)`` becomes::

    {"Event": "SparkListenerJobEnd", "Job ID": 3, "Completion Time": 1700000000000,
     "Job Result": {"Result": "JobSucceeded"}}
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable

from engine.storage import BLOCK_MANAGER_PORT, StorageLevel
from engine.scheduler.events import (
    AccumulableInfo,
    RDDInfo,
    SparkListenerApplicationEnd,
    SparkListenerApplicationStart,
    SparkListenerBlockManagerAdded,
    SparkListenerDriverAccumUpdates,
    SparkListenerUnpersistRDD,
    SparkListenerEnvironmentUpdate,
    SparkListenerEvent,
    SparkListenerExecutorAdded,
    SparkListenerExecutorRemoved,
    SparkListenerJobEnd,
    SparkListenerJobStart,
    SparkListenerLogStart,
    SparkListenerSQLAdaptiveExecutionUpdate,
    SparkListenerSQLAdaptiveSQLMetricUpdates,
    SparkListenerSQLExecutionEnd,
    SparkListenerSQLExecutionStart,
    SparkListenerStageCompleted,
    SparkListenerStageExecutorMetrics,
    SparkListenerStageSubmitted,
    SparkListenerTaskEnd,
    SparkListenerTaskStart,
    SparkPlanInfo,
    StageInfo,
    TaskEndReason,
    TaskInfo,
    TaskMetrics,
)

SQL_UI_PACKAGE = "org.apache.spark.sql.execution.ui"

# Spark's InternalAccumulator.METRICS_PREFIX: values of these accumulators are numbers in JSON.
INTERNAL_METRICS_PREFIX = "internal.metrics."
# Spark never logs the block-status accumulator (JsonProtocol.accumulableExcludeList).
_EXCLUDED_ACCUMULABLES = frozenset({"internal.metrics.updatedBlockStatuses"})

# ExecutorMetricType.metricToOffset, in Spark 4.3's order ("Task Executor Metrics").
EXECUTOR_METRIC_NAMES = (
    "JVMHeapMemory",
    "JVMOffHeapMemory",
    "OnHeapExecutionMemory",
    "OffHeapExecutionMemory",
    "OnHeapStorageMemory",
    "OffHeapStorageMemory",
    "OnHeapUnifiedMemory",
    "OffHeapUnifiedMemory",
    "DirectPoolMemory",
    "MappedPoolMemory",
    "ProcessTreeJVMVMemory",
    "ProcessTreeJVMRSSMemory",
    "ProcessTreePythonVMemory",
    "ProcessTreePythonRSSMemory",
    "ProcessTreeOtherVMemory",
    "ProcessTreeOtherRSSMemory",
    "MinorGCCount",
    "MinorGCTime",
    "MajorGCCount",
    "MajorGCTime",
    "TotalGCTime",
    "ConcurrentGCCount",
    "ConcurrentGCTime",
)

# Spark's ResourceProfile.DEFAULT_RESOURCE_PROFILE_ID: Ember has a single profile.
DEFAULT_RESOURCE_PROFILE_ID = 0


def event_to_json(event: SparkListenerEvent) -> dict[str, Any]:
    """Return the JSON object Spark's ``JsonProtocol`` writes for ``event`` (one log line).

    Raises ``TypeError`` for an object that is not one of the events in
    ``engine.scheduler.events``.
    """
    try:
        serializer = _SERIALIZERS[type(event)]
    except KeyError:
        raise TypeError(f"no Spark JSON form for {type(event).__name__}") from None
    return serializer(event)


def resource_profile_added_json(
    *, executor_cores: int = 1, executor_memory_mb: int = 1024, task_cpus: float = 1.0
) -> dict[str, Any]:
    """``SparkListenerResourceProfileAdded`` for Spark's default profile (id 0).

    Spark posts it once, before the first executor is added; Ember's scheduler has no such event,
    so the event-log listener writes this right after ``SparkListenerLogStart``.
    """

    def executor_request(name: str, amount: int) -> dict[str, Any]:
        return {"Resource Name": name, "Amount": amount, "Discovery Script": "", "Vendor": ""}

    return {
        "Event": "SparkListenerResourceProfileAdded",
        "Resource Profile Id": DEFAULT_RESOURCE_PROFILE_ID,
        "Executor Resource Requests": {
            "cores": executor_request("cores", executor_cores),
            "memory": executor_request("memory", executor_memory_mb),
            "offHeap": executor_request("offHeap", 0),
        },
        "Task Resource Requests": {"cpus": {"Resource Name": "cpus", "Amount": float(task_cpus)}},
    }


def _string_map(values: dict[str, Any]) -> dict[str, str]:
    # Spark reads every map value as a JSON string (Properties and environment sections).
    return {str(k): str(v) for k, v in values.items()}


# ---------------------------------------------------------------------------------------------
# application, environment, executors


def _log_start(e: SparkListenerLogStart) -> dict[str, Any]:
    return {"Event": "SparkListenerLogStart", "Spark Version": e.spark_version}


def _application_start(e: SparkListenerApplicationStart) -> dict[str, Any]:
    out: dict[str, Any] = {"Event": "SparkListenerApplicationStart", "App Name": e.app_name}
    if e.app_id is not None:
        out["App ID"] = e.app_id
    out["Timestamp"] = e.time
    out["User"] = e.user
    if e.app_attempt_id is not None:
        out["App Attempt ID"] = e.app_attempt_id
    return out


def _application_end(e: SparkListenerApplicationEnd) -> dict[str, Any]:
    out: dict[str, Any] = {"Event": "SparkListenerApplicationEnd", "Timestamp": e.time}
    if e.exit_code is not None:
        out["ExitCode"] = e.exit_code
    return out


def _environment_update(e: SparkListenerEnvironmentUpdate) -> dict[str, Any]:
    # Spark's reader asserts every section is a JSON object, so empty sections are written as {}.
    return {
        "Event": "SparkListenerEnvironmentUpdate",
        "JVM Information": _string_map(e.jvm_information),
        "Spark Properties": _string_map(e.spark_properties),
        "Hadoop Properties": _string_map(e.hadoop_properties),
        "System Properties": _string_map(e.system_properties),
        "Metrics Properties": {},
        "Classpath Entries": _string_map(e.classpath_entries),
    }


def _block_manager_added(e: SparkListenerBlockManagerAdded) -> dict[str, Any]:
    return {
        "Event": "SparkListenerBlockManagerAdded",
        "Block Manager ID": {"Executor ID": e.executor_id, "Host": e.host, "Port": e.port},
        "Maximum Memory": e.max_mem,
        "Timestamp": e.time,
        "Maximum Onheap Memory": e.max_on_heap_mem,
        "Maximum Offheap Memory": e.max_off_heap_mem,
    }


def _executor_added(e: SparkListenerExecutorAdded) -> dict[str, Any]:
    return {
        "Event": "SparkListenerExecutorAdded",
        "Timestamp": e.time,
        "Executor ID": e.executor_id,
        "Executor Info": {
            "Host": e.host,
            "Total Cores": e.total_cores,
            "Log Urls": {},
            "Attributes": {},
            "Resources": {},
            "Resource Profile Id": DEFAULT_RESOURCE_PROFILE_ID,
        },
    }


def _executor_removed(e: SparkListenerExecutorRemoved) -> dict[str, Any]:
    return {
        "Event": "SparkListenerExecutorRemoved",
        "Timestamp": e.time,
        "Executor ID": e.executor_id,
        "Removed Reason": e.reason,
    }


# ---------------------------------------------------------------------------------------------
# jobs and stages


def _job_start(e: SparkListenerJobStart) -> dict[str, Any]:
    return {
        "Event": "SparkListenerJobStart",
        "Job ID": e.job_id,
        "Submission Time": e.time,
        # Spark logs accumulables here: a stage may have completed already (shared stages).
        "Stage Infos": [stage_info_json(s, include_accumulables=True) for s in e.stage_infos],
        "Stage IDs": [s.stage_id for s in e.stage_infos],
        "Properties": _string_map(e.properties),
    }


def _job_end(e: SparkListenerJobEnd) -> dict[str, Any]:
    if e.succeeded:
        result: dict[str, Any] = {"Result": "JobSucceeded"}
    else:
        result = {"Result": "JobFailed", "Exception": {"Message": e.exception, "Stack Trace": []}}
    return {
        "Event": "SparkListenerJobEnd",
        "Job ID": e.job_id,
        "Completion Time": e.time,
        "Job Result": result,
    }


def _stage_submitted(e: SparkListenerStageSubmitted) -> dict[str, Any]:
    return {
        "Event": "SparkListenerStageSubmitted",
        "Stage Info": stage_info_json(e.stage_info, include_accumulables=False),
        "Properties": _string_map(e.properties),
    }


def _stage_completed(e: SparkListenerStageCompleted) -> dict[str, Any]:
    return {
        "Event": "SparkListenerStageCompleted",
        "Stage Info": stage_info_json(e.stage_info, include_accumulables=True),
    }


def stage_info_json(info: StageInfo, *, include_accumulables: bool) -> dict[str, Any]:
    """Spark's ``stageInfoToJson``: the "Stage Info" object of stage and job events."""
    out: dict[str, Any] = {
        "Stage ID": info.stage_id,
        "Stage Attempt ID": info.attempt_id,
        "Stage Name": info.name,
        "Number of Tasks": info.num_tasks,
        "RDD Info": [_rdd_info(r) for r in info.rdd_infos],
        "Parent IDs": list(info.parent_ids),
        "Details": info.details,
    }
    if info.submission_time is not None:
        out["Submission Time"] = info.submission_time
    if info.completion_time is not None:
        out["Completion Time"] = info.completion_time
    if info.failure_reason is not None:
        out["Failure Reason"] = info.failure_reason
    out["Accumulables"] = accumulables_json(info.accumulables) if include_accumulables else []
    out["Resource Profile Id"] = DEFAULT_RESOURCE_PROFILE_ID
    out["Shuffle Push Enabled"] = False
    out["Shuffle Push Mergers Count"] = 0
    return out


def _rdd_info(r: RDDInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"RDD ID": r.rdd_id, "Name": r.name}
    if r.scope is not None:
        out["Scope"] = r.scope
    out["Callsite"] = r.callsite
    out["Parent IDs"] = list(r.parent_ids)
    out["Storage Level"] = {
        "Use Disk": r.use_disk,
        "Use Memory": r.use_memory,
        "Use Off Heap": False,
        "Deserialized": r.deserialized,
        "Replication": 1,
    }
    out["Barrier"] = False
    out["DeterministicLevel"] = "DETERMINATE"
    out["Number of Partitions"] = r.num_partitions
    out["Number of Cached Partitions"] = r.num_cached_partitions
    out["Memory Size"] = r.memory_size
    out["Disk Size"] = r.disk_size
    return out


# ---------------------------------------------------------------------------------------------
# tasks


def _task_start(e: SparkListenerTaskStart) -> dict[str, Any]:
    return {
        "Event": "SparkListenerTaskStart",
        "Stage ID": e.stage_id,
        "Stage Attempt ID": e.stage_attempt_id,
        "Task Info": task_info_json(e.task_info, include_accumulables=False),
    }


def _task_end(e: SparkListenerTaskEnd) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Event": "SparkListenerTaskEnd",
        "Stage ID": e.stage_id,
        "Stage Attempt ID": e.stage_attempt_id,
        "Task Type": e.task_type,
        "Task End Reason": task_end_reason_json(e.reason, e.task_info),
        "Task Info": task_info_json(e.task_info, include_accumulables=True),
        "Task Executor Metrics": {name: (e.executor_metrics or {}).get(name, 0) for name in EXECUTOR_METRIC_NAMES},
    }
    if e.task_metrics is not None:
        out["Task Metrics"] = task_metrics_json(e.task_metrics)
    return out


def task_info_json(info: TaskInfo, *, include_accumulables: bool) -> dict[str, Any]:
    """Spark's ``taskInfoToJson``: the "Task Info" object of task events."""
    return {
        "Task ID": info.task_id,
        "Index": info.index,
        "Attempt": info.attempt,
        "Partition ID": info.partition_id,
        "Launch Time": info.launch_time,
        "Executor ID": info.executor_id,
        "Host": info.host,
        "Locality": info.locality,
        "Speculative": info.speculative,
        "Getting Result Time": info.getting_result_time,
        "Finish Time": info.finish_time,
        "Failed": info.failed,
        "Killed": info.killed,
        "Accumulables": accumulables_json(info.accumulables) if include_accumulables else [],
    }


def task_metrics_json(m: TaskMetrics) -> dict[str, Any]:
    """Spark 4's ``taskMetricsToJson``, unmeasured fields as 0."""
    read, write = m.shuffle_read, m.shuffle_write
    return {
        "Executor Deserialize Time": m.executor_deserialize_time,
        "Executor Deserialize CPU Time": m.executor_deserialize_cpu_time,
        "Executor Run Time": m.executor_run_time,
        "Executor CPU Time": m.executor_cpu_time,
        "Peak Execution Memory": m.peak_execution_memory,
        # Ember's execution memory is Python heap memory: all of it is "on heap".
        "Peak On Heap Execution Memory": m.peak_execution_memory,
        "Peak Off Heap Execution Memory": 0,
        "Result Size": m.result_size,
        "JVM GC Time": m.jvm_gc_time,
        "Result Serialization Time": m.result_serialization_time,
        "Memory Bytes Spilled": m.memory_bytes_spilled,
        "Disk Bytes Spilled": m.disk_bytes_spilled,
        "Shuffle Read Metrics": {
            "Remote Blocks Fetched": read.remote_blocks_fetched,
            "Local Blocks Fetched": read.local_blocks_fetched,
            "Fetch Wait Time": read.fetch_wait_time,
            "Remote Bytes Read": read.remote_bytes_read,
            "Remote Bytes Read To Disk": read.remote_bytes_read_to_disk,
            "Local Bytes Read": read.local_bytes_read,
            "Total Records Read": read.records_read,
            "Remote Requests Duration": 0,
            "Push Based Shuffle": {
                "Corrupt Merged Block Chunks": 0,
                "Merged Fetch Fallback Count": 0,
                "Merged Remote Blocks Fetched": 0,
                "Merged Local Blocks Fetched": 0,
                "Merged Remote Chunks Fetched": 0,
                "Merged Local Chunks Fetched": 0,
                "Merged Remote Bytes Read": 0,
                "Merged Local Bytes Read": 0,
                "Merged Remote Requests Duration": 0,
            },
        },
        "Shuffle Write Metrics": {
            "Shuffle Bytes Written": write.bytes_written,
            "Shuffle Write Time": write.write_time,
            "Shuffle Records Written": write.records_written,
        },
        "Input Metrics": {"Bytes Read": m.input_bytes_read, "Records Read": m.input_records_read},
        "Output Metrics": {
            "Bytes Written": m.output_bytes_written,
            "Records Written": m.output_records_written,
        },
        "Updated Blocks": [_updated_block(block_id, status) for block_id, status in m.updated_blocks],
    }


def _stage_executor_metrics(e: SparkListenerStageExecutorMetrics) -> dict[str, Any]:
    return {
        "Event": "SparkListenerStageExecutorMetrics",
        "Executor ID": e.executor_id,
        "Stage ID": e.stage_id,
        "Stage Attempt ID": e.stage_attempt_id,
        "Executor Metrics": {name: e.executor_metrics.get(name, 0) for name in EXECUTOR_METRIC_NAMES},
    }


def _unpersist_rdd(e: SparkListenerUnpersistRDD) -> dict[str, Any]:
    return {"Event": "SparkListenerUnpersistRDD", "RDD ID": e.rdd_id}


def _updated_block(block_id: str, status) -> dict[str, Any]:
    """Spark's ``blockStatusToJson`` entry; a DataFrame's cached blocks are serialized, as in Spark."""
    use_memory, use_disk = StorageLevel.flags(status.storage_level)
    return {
        "Block ID": block_id,
        "Status": {
            "Storage Level": {"Use Disk": use_disk, "Use Memory": use_memory, "Use Off Heap": False,
                              "Deserialized": False, "Replication": 1},
            "Memory Size": status.memory_size,
            "Disk Size": status.disk_size,
        },
    }


def task_end_reason_json(reason: TaskEndReason, task_info: TaskInfo | None = None) -> dict[str, Any]:
    """Spark's ``taskEndReasonToJson``.

    ``task_info`` supplies the "Accumulator Updates" of a failed or killed task: Spark reports the
    updates of the accumulators that count failed values.
    """
    out: dict[str, Any] = {"Reason": reason.reason}
    if reason.reason == "ExceptionFailure":
        frames = [stack_trace_element_json(f) for f in reason.stack_trace]
        out["Class Name"] = reason.class_name or ""
        out["Description"] = reason.description or ""
        out["Stack Trace"] = frames
        out["Full Stack Trace"] = (
            reason.full_stack_trace
            if reason.full_stack_trace is not None
            else _full_stack_trace(reason.class_name, reason.description, frames)
        )
        out["Accumulator Updates"] = _failed_task_accumulables(task_info)
    elif reason.reason == "TaskKilled":
        out["Kill Reason"] = reason.kill_reason or ""
        out["Accumulator Updates"] = _failed_task_accumulables(task_info)
    elif reason.reason == "FetchFailed":
        if reason.executor_id is not None:
            # Ember knows the executor that held the map output, not its block manager's endpoint.
            out["Block Manager Address"] = {"Executor ID": reason.executor_id or "driver", "Host": "localhost",
                                            "Port": BLOCK_MANAGER_PORT}
        out["Shuffle ID"] = reason.shuffle_id if reason.shuffle_id is not None else -1
        out["Map ID"] = reason.map_id if reason.map_id is not None else -1
        out["Map Index"] = reason.map_id if reason.map_id is not None else -1
        out["Reduce ID"] = reason.reduce_id if reason.reduce_id is not None else -1
        out["Message"] = reason.message or ""
    elif reason.reason == "ExecutorLostFailure":
        out["Executor ID"] = reason.executor_id or "Unknown"
        out["Exit Caused By App"] = True  # Ember cannot tell; Spark reads a missing value as true
        if reason.message is not None:
            out["Loss Reason"] = reason.message
    # Success, Resubmitted, TaskResultLost, UnknownReason: nothing more to write.
    return out


def _failed_task_accumulables(task_info: TaskInfo | None) -> list[dict[str, Any]]:
    # A failed task's updates reach Spark's driver as bare accumulators (their names stay on the
    # executor), so Spark logs them without "Name" and "Value", as strings, and not internal.
    if task_info is None:
        return []
    updates = [a for a in task_info.accumulables if a.count_failed_values and a.update is not None]
    return [
        {"ID": a.id, "Update": _accum_value(a.update, False), "Internal": False,
         "Count Failed Values": True}
        for a in sorted(updates, key=lambda a: a.id)
        if a.name not in _EXCLUDED_ACCUMULABLES
    ]


# A Python traceback line ('File "/x/y.py", line 12, in run') or a JVM frame ('a.B.run(B.java:12)').
_PY_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<method>\S+)')
_JVM_FRAME = re.compile(
    r"^\s*(?:at\s+)?(?P<cls>[\w$./]+)\.(?P<method>[\w$<>-]+)\((?P<file>[^:)]*)(?::(?P<line>\d+))?\)"
)


def stack_trace_element_json(frame: Any) -> dict[str, Any]:
    """One element of Spark's "Stack Trace" list from an Ember frame.

    Accepts a ``traceback.FrameSummary``, a formatted Python or JVM frame string, or a dict that
    already has Spark's keys. A Python frame's "Declaring Class" is its module file's stem.
    Unparseable text becomes the declaring class with line number -1 (Java's "unknown").
    """
    if isinstance(frame, dict):
        return {
            "Declaring Class": frame.get("Declaring Class", ""),
            "Method Name": frame.get("Method Name", ""),
            "File Name": frame.get("File Name"),
            "Line Number": frame.get("Line Number", -1),
        }
    if hasattr(frame, "filename") and hasattr(frame, "lineno"):
        return _python_frame(frame.filename, frame.lineno or -1, frame.name)
    text = str(frame)
    if m := _PY_FRAME.search(text):
        return _python_frame(m["file"], int(m["line"]), m["method"])
    if m := _JVM_FRAME.match(text):
        return {
            "Declaring Class": m["cls"],
            "Method Name": m["method"],
            "File Name": m["file"] or None,
            "Line Number": int(m["line"]) if m["line"] else -1,
        }
    return {"Declaring Class": text.strip(), "Method Name": "", "File Name": None, "Line Number": -1}


def _python_frame(filename: str, lineno: int, method: str) -> dict[str, Any]:
    base = os.path.basename(filename)
    return {
        "Declaring Class": os.path.splitext(base)[0],
        "Method Name": method,
        "File Name": base,
        "Line Number": lineno,
    }


def _full_stack_trace(class_name: str | None, description: str | None, frames: list[dict]) -> str:
    lines = [f"{class_name or 'Exception'}: {description or ''}"]
    for f in frames:
        location = f"{f['File Name']}:{f['Line Number']}" if f["File Name"] else "Unknown Source"
        lines.append(f"\tat {f['Declaring Class']}.{f['Method Name']}({location})")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# accumulables


def accumulables_json(accumulables: list[AccumulableInfo]) -> list[dict[str, Any]]:
    """Spark's ``accumulablesToJson``: sorted by id, the block-status accumulator left out."""
    kept = [a for a in accumulables if a.name not in _EXCLUDED_ACCUMULABLES]
    return [accumulable_info_json(a) for a in sorted(kept, key=lambda a: a.id)]


def accumulable_info_json(a: AccumulableInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"ID": a.id}
    if a.name is not None:
        out["Name"] = a.name
    internal_metric = a.name is not None and a.name.startswith(INTERNAL_METRICS_PREFIX)
    if a.update is not None:
        out["Update"] = _accum_value(a.update, internal_metric)
    if a.value is not None:
        out["Value"] = _accum_value(a.value, internal_metric)
    out["Internal"] = a.internal
    out["Count Failed Values"] = a.count_failed_values
    if a.metadata is not None:
        out["Metadata"] = a.metadata
    return out


def _accum_value(value: Any, internal_metric: bool) -> Any:
    if internal_metric:
        return int(value)
    if isinstance(value, bool):  # Scala's Boolean.toString
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------------------------
# SQL events (Jackson-serialized case classes)


def _sql_execution_start(e: SparkListenerSQLExecutionStart) -> dict[str, Any]:
    return {
        "Event": f"{SQL_UI_PACKAGE}.SparkListenerSQLExecutionStart",
        "executionId": e.execution_id,
        # Ember has no nested executions: every execution is its own root.
        "rootExecutionId": e.execution_id,
        "description": e.description,
        "details": e.details,
        "physicalPlanDescription": e.physical_plan_description,
        "sparkPlanInfo": spark_plan_info_json(e.spark_plan_info),
        "time": e.time,
        "modifiedConfigs": _string_map(e.modified_configs),
        "jobTags": [],
        "jobGroupId": None,
        "queryId": None,
    }


def _sql_execution_end(e: SparkListenerSQLExecutionEnd) -> dict[str, Any]:
    return {
        "Event": f"{SQL_UI_PACKAGE}.SparkListenerSQLExecutionEnd",
        "executionId": e.execution_id,
        "time": e.time,
        # Spark writes "" for success (null means "logged by a Spark without this field").
        "errorMessage": e.error_message if e.error_message is not None else "",
        "queryId": None,
    }


def _sql_adaptive_execution_update(e: SparkListenerSQLAdaptiveExecutionUpdate) -> dict[str, Any]:
    return {
        "Event": f"{SQL_UI_PACKAGE}.SparkListenerSQLAdaptiveExecutionUpdate",
        "executionId": e.execution_id,
        "physicalPlanDescription": e.physical_plan_description,
        "sparkPlanInfo": spark_plan_info_json(e.spark_plan_info),
    }


def _sql_adaptive_sql_metric_updates(e: SparkListenerSQLAdaptiveSQLMetricUpdates) -> dict[str, Any]:
    return {
        "Event": f"{SQL_UI_PACKAGE}.SparkListenerSQLAdaptiveSQLMetricUpdates",
        "executionId": e.execution_id,
        "sqlPlanMetrics": [{"name": m.name, "accumulatorId": m.accumulator_id, "metricType": m.metric_type}
                           for m in e.sql_plan_metrics],
    }


def _driver_accum_updates(e: SparkListenerDriverAccumUpdates) -> dict[str, Any]:
    return {
        "Event": f"{SQL_UI_PACKAGE}.SparkListenerDriverAccumUpdates",
        "executionId": e.execution_id,
        "accumUpdates": [[accumulator_id, value] for accumulator_id, value in e.accum_updates],
    }


def spark_plan_info_json(plan: SparkPlanInfo) -> dict[str, Any]:
    """Jackson's form of Spark's ``SparkPlanInfo`` tree."""
    return {
        "nodeName": plan.node_name,
        "simpleString": plan.simple_string,
        "children": [spark_plan_info_json(c) for c in plan.children],
        "metadata": _string_map(plan.metadata),
        "metrics": [
            {"name": m.name, "accumulatorId": m.accumulator_id, "metricType": m.metric_type}
            for m in plan.metrics
        ],
    }


_SERIALIZERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    SparkListenerLogStart: _log_start,
    SparkListenerApplicationStart: _application_start,
    SparkListenerApplicationEnd: _application_end,
    SparkListenerEnvironmentUpdate: _environment_update,
    SparkListenerBlockManagerAdded: _block_manager_added,
    SparkListenerExecutorAdded: _executor_added,
    SparkListenerExecutorRemoved: _executor_removed,
    SparkListenerJobStart: _job_start,
    SparkListenerJobEnd: _job_end,
    SparkListenerStageSubmitted: _stage_submitted,
    SparkListenerStageCompleted: _stage_completed,
    SparkListenerStageExecutorMetrics: _stage_executor_metrics,
    SparkListenerTaskStart: _task_start,
    SparkListenerTaskEnd: _task_end,
    SparkListenerSQLExecutionStart: _sql_execution_start,
    SparkListenerSQLExecutionEnd: _sql_execution_end,
    SparkListenerDriverAccumUpdates: _driver_accum_updates,
    SparkListenerUnpersistRDD: _unpersist_rdd,
    SparkListenerSQLAdaptiveExecutionUpdate: _sql_adaptive_execution_update,
    SparkListenerSQLAdaptiveSQLMetricUpdates: _sql_adaptive_sql_metric_updates,
}
