"""Listener events, named and shaped as Spark's ``SparkListenerEvent`` classes.

The scheduler and the SQL layer post these to the ``LiveListenerBus``; the event-log listener
turns each into Spark's JSON (``engine.scheduler.json_protocol``). Times are epoch milliseconds;
CPU times and shuffle write time are nanoseconds, as in Spark.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class AccumulableInfo:
    """One accumulator's update and running value, as carried by tasks and stages."""

    id: int
    name: str
    update: Any | None
    value: Any
    internal: bool = True
    count_failed_values: bool = True
    metadata: str | None = None  # "sql" for SQL metrics


@dataclass(slots=True)
class ShuffleReadMetrics:
    remote_blocks_fetched: int = 0
    local_blocks_fetched: int = 0
    fetch_wait_time: int = 0  # ms
    remote_bytes_read: int = 0
    remote_bytes_read_to_disk: int = 0
    local_bytes_read: int = 0
    records_read: int = 0


@dataclass(slots=True)
class ShuffleWriteMetrics:
    bytes_written: int = 0
    write_time: int = 0  # ns
    records_written: int = 0


@dataclass(slots=True)
class TaskMetrics:
    executor_deserialize_time: int = 0  # ms
    executor_deserialize_cpu_time: int = 0  # ns
    executor_run_time: int = 0  # ms
    executor_cpu_time: int = 0  # ns
    peak_execution_memory: int = 0
    result_size: int = 0
    jvm_gc_time: int = 0  # ms (Python's collector, for Ember)
    result_serialization_time: int = 0
    memory_bytes_spilled: int = 0
    disk_bytes_spilled: int = 0
    input_bytes_read: int = 0
    input_records_read: int = 0
    output_bytes_written: int = 0
    output_records_written: int = 0
    shuffle_read: ShuffleReadMetrics = field(default_factory=ShuffleReadMetrics)
    shuffle_write: ShuffleWriteMetrics = field(default_factory=ShuffleWriteMetrics)
    # (block id, engine.storage.BlockStatus) of blocks the task stored or evicted, when
    # spark.taskMetrics.trackUpdatedBlockStatuses is on (off by default, as in Spark)
    updated_blocks: list = field(default_factory=list)


@dataclass(slots=True)
class TaskInfo:
    task_id: int
    index: int
    attempt: int
    partition_id: int
    launch_time: int
    executor_id: str
    host: str
    locality: str = "PROCESS_LOCAL"
    speculative: bool = False
    getting_result_time: int = 0
    finish_time: int = 0
    failed: bool = False
    killed: bool = False
    accumulables: list[AccumulableInfo] = field(default_factory=list)


@dataclass(slots=True)
class TaskEndReason:
    """``Success``, ``ExceptionFailure``, ``TaskKilled``, ``FetchFailed`` or ``ExecutorLostFailure``."""

    reason: str = "Success"
    class_name: str | None = None  # ExceptionFailure
    description: str | None = None
    stack_trace: list[str] = field(default_factory=list)
    full_stack_trace: str | None = None
    executor_id: str | None = None  # ExecutorLostFailure
    kill_reason: str | None = None  # TaskKilled
    shuffle_id: int | None = None  # FetchFailed
    map_id: int | None = None
    reduce_id: int | None = None
    message: str | None = None


@dataclass(slots=True)
class RDDInfo:
    rdd_id: int
    name: str
    num_partitions: int
    parent_ids: list[int]
    callsite: str = ""
    scope: str | None = None  # JSON text: {"id": ..., "name": ...}
    use_memory: bool = False
    use_disk: bool = False
    deserialized: bool = False
    num_cached_partitions: int = 0
    memory_size: int = 0
    disk_size: int = 0


@dataclass(slots=True)
class StageInfo:
    stage_id: int
    attempt_id: int
    name: str
    num_tasks: int
    rdd_infos: list[RDDInfo]
    parent_ids: list[int]
    details: str
    submission_time: int | None = None
    completion_time: int | None = None
    failure_reason: str | None = None
    accumulables: list[AccumulableInfo] = field(default_factory=list)
    is_shuffle_map: bool = False


@dataclass(slots=True)
class SQLMetricInfo:
    name: str
    accumulator_id: int
    metric_type: str  # "sum", "size", "timing", "nsTiming", "average"


@dataclass(slots=True)
class SparkPlanInfo:
    node_name: str
    simple_string: str
    children: list[SparkPlanInfo]
    metadata: dict[str, str]
    metrics: list[SQLMetricInfo]


# ---------------------------------------------------------------------------------------------
# the events


@dataclass(slots=True)
class SparkListenerEvent:
    pass


@dataclass(slots=True)
class SparkListenerLogStart(SparkListenerEvent):
    spark_version: str


@dataclass(slots=True)
class SparkListenerApplicationStart(SparkListenerEvent):
    app_name: str
    app_id: str
    time: int
    user: str
    app_attempt_id: str | None = None


@dataclass(slots=True)
class SparkListenerApplicationEnd(SparkListenerEvent):
    time: int
    exit_code: int | None = 0


@dataclass(slots=True)
class SparkListenerEnvironmentUpdate(SparkListenerEvent):
    spark_properties: dict[str, str]
    system_properties: dict[str, str]
    jvm_information: dict[str, str]
    classpath_entries: dict[str, str] = field(default_factory=dict)
    hadoop_properties: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SparkListenerBlockManagerAdded(SparkListenerEvent):
    time: int
    executor_id: str
    host: str
    port: int
    max_mem: int
    max_on_heap_mem: int
    max_off_heap_mem: int = 0


@dataclass(slots=True)
class SparkListenerExecutorAdded(SparkListenerEvent):
    time: int
    executor_id: str
    host: str
    total_cores: int


@dataclass(slots=True)
class SparkListenerExecutorRemoved(SparkListenerEvent):
    time: int
    executor_id: str
    reason: str


@dataclass(slots=True)
class SparkListenerJobStart(SparkListenerEvent):
    job_id: int
    time: int
    stage_infos: list[StageInfo]
    properties: dict[str, str]


@dataclass(slots=True)
class SparkListenerJobEnd(SparkListenerEvent):
    job_id: int
    time: int
    succeeded: bool
    exception: str | None = None


@dataclass(slots=True)
class SparkListenerStageSubmitted(SparkListenerEvent):
    stage_info: StageInfo
    properties: dict[str, str]


@dataclass(slots=True)
class SparkListenerStageCompleted(SparkListenerEvent):
    stage_info: StageInfo


@dataclass(slots=True)
class SparkListenerTaskStart(SparkListenerEvent):
    stage_id: int
    stage_attempt_id: int
    task_info: TaskInfo


@dataclass(slots=True)
class SparkListenerTaskEnd(SparkListenerEvent):
    stage_id: int
    stage_attempt_id: int
    task_type: str  # "ShuffleMapTask" | "ResultTask"
    reason: TaskEndReason
    task_info: TaskInfo
    task_metrics: TaskMetrics | None
    # peaks of the executor's process metrics while the task ran, by Spark's ExecutorMetricType names
    executor_metrics: dict[str, int] | None = None


@dataclass(slots=True)
class SparkListenerSQLExecutionStart(SparkListenerEvent):
    execution_id: int
    description: str
    details: str
    physical_plan_description: str
    spark_plan_info: SparkPlanInfo
    time: int
    modified_configs: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SparkListenerSQLExecutionEnd(SparkListenerEvent):
    execution_id: int
    time: int
    error_message: str | None = None


@dataclass(slots=True)
class SparkListenerSQLAdaptiveExecutionUpdate(SparkListenerEvent):
    """AQE re-planned a running execution: the whole new plan, as text and as a tree."""

    execution_id: int
    physical_plan_description: str
    spark_plan_info: SparkPlanInfo


@dataclass(slots=True)
class SparkListenerSQLAdaptiveSQLMetricUpdates(SparkListenerEvent):
    """Metrics of plan nodes AQE added to a subquery's plan (Spark posts this for subqueries only)."""

    execution_id: int
    sql_plan_metrics: list[SQLMetricInfo]


@dataclass(slots=True)
class SparkListenerStageExecutorMetrics(SparkListenerEvent):
    """One executor's peak metrics over one stage attempt (``spark.eventLog.logStageExecutorMetrics``)."""

    executor_id: str
    stage_id: int
    stage_attempt_id: int
    executor_metrics: dict[str, int]


@dataclass(slots=True)
class SparkListenerUnpersistRDD(SparkListenerEvent):
    rdd_id: int


@dataclass(slots=True)
class SparkListenerDriverAccumUpdates(SparkListenerEvent):
    execution_id: int
    accum_updates: list[tuple[int, int]]
