"""The one way a task runs, on a driver thread or in an executor process (Spark's ``TaskRunner``).

A ``Task`` names a partition of a stage and carries the stage's ``TaskBinary``: for a
``ShuffleMapTask`` the exchange whose map side it writes, for a ``ResultTask`` the plan and the
action's result function. ``run_task`` runs it and returns a ``TaskResult`` that says how it ended
(``Success``, ``ExceptionFailure``, ``FetchFailed``, ``TaskKilled``), with its task metrics, its SQL
metric updates and the executor's process metrics. Nothing raised by a task escapes: the scheduler
decides what a failure means.

Test-only fault injection (Spark has no such keys; they exist so tests can make faults happen):

* ``spark.ember.test.failTaskOnce = "<stage>.<partition>"``: the first attempt of that task raises
  ``InjectedTaskFailure``.
* ``spark.ember.test.delayTaskOnce = "<stage>.<partition>:<millis>"``: the first attempt of that
  task sleeps that long before running (a straggler), waking up early if the task is killed.
"""
from __future__ import annotations

import functools
import gc
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import psutil

from engine.scheduler import events as ev
from engine.scheduler.task_context import TaskContext
from engine.shuffle.manager import FetchFailedException

FAIL_TASK_ONCE = "spark.ember.test.failTaskOnce"
DELAY_TASK_ONCE = "spark.ember.test.delayTaskOnce"


@dataclass(eq=False)
class TaskBinary:
    """What every task of one stage attempt runs; serialized once per stage attempt."""

    key: tuple[int, int]  # (stage id, stage attempt id)
    shuffle: Any = None  # a ShuffleExchangeExec: the tasks write its map output
    plan: Any = None  # otherwise the plan whose partitions the tasks compute ...
    result_fn: Callable[[Any, TaskContext], Any] | None = None  # ... and what to return of each

    @property
    def task_type(self) -> str:
        return "ShuffleMapTask" if self.shuffle is not None else "ResultTask"


@dataclass(eq=False)
class Task:
    task_id: int
    stage_id: int
    stage_attempt_id: int
    index: int  # the task's position in its stage (Spark's task index)
    partition_id: int  # the partition of the plan it computes
    attempt_number: int
    binary: TaskBinary
    speculative: bool = False
    # the shuffles the task reads: shuffle id -> (schema, map statuses), for executor processes
    map_outputs: dict[int, tuple] = field(default_factory=dict)


@dataclass(eq=False)
class TaskResult:
    task_id: int
    reason: ev.TaskEndReason
    value: Any = None
    metrics: ev.TaskMetrics = field(default_factory=ev.TaskMetrics)
    accum_updates: list[tuple[Any, int]] = field(default_factory=list)  # (SQLMetric, this task's total)
    executor_metrics: dict[str, int] = field(default_factory=dict)
    error_summary: str = ""  # "ClassName: message", for job failure messages

    @property
    def successful(self) -> bool:
        return self.reason.reason == "Success"


class KillSwitch:
    """How the scheduler asks a running task to stop (Spark's ``TaskContext.markInterrupted``).

    Python threads cannot be interrupted: a task notices the switch where it waits (the injected
    straggler delay) or when it ends, and is then reported as ``TaskKilled`` with the reason.
    """

    def __init__(self):
        self._event = threading.Event()
        self.reason = ""

    def kill(self, reason: str) -> None:
        self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


class InjectedTaskFailure(RuntimeError):
    """Raised by ``spark.ember.test.failTaskOnce``: a task failure made on purpose by a test."""


class TaskKilledException(Exception):
    """The task noticed that the scheduler killed it (Spark's ``TaskKilledException``)."""


def run_task(task: Task, env, killed: KillSwitch, deserialize_ns: tuple[int, int] = (0, 0)) -> TaskResult:
    """Run ``task`` with the services of ``env`` (an executor's ``SparkEnv``); never raises.

    ``killed`` is set by the executor when the scheduler kills the task; ``deserialize_ns`` is the
    wall and CPU time the executor spent loading the task (its "Executor Deserialize" metrics).
    """
    ctx = TaskContext(task.stage_id, task.stage_attempt_id, task.partition_id, task.attempt_number,
                      task.task_id, env)
    ctx.metrics.executor_deserialize_time = deserialize_ns[0] // 1_000_000
    ctx.metrics.executor_deserialize_cpu_time = deserialize_ns[1]
    gc_started = _gc_collections()
    peak = sample_process_metrics(gc_started)
    started, cpu_started = time.perf_counter(), time.thread_time_ns()
    value, error_summary = None, ""
    try:
        _inject_test_faults(task, env.conf, killed)
        binary = task.binary
        if binary.shuffle is not None:
            value = binary.shuffle.write_map_output(task.partition_id, ctx)
        else:
            value = binary.result_fn(binary.plan.execute_partition(task.partition_id, ctx), ctx)
        reason = ev.TaskEndReason("Success")
    except TaskKilledException as e:
        reason = ev.TaskEndReason("TaskKilled", kill_reason=str(e))
    except FetchFailedException as e:
        reason = ev.TaskEndReason("FetchFailed", shuffle_id=e.shuffle_id, map_id=e.map_index,
                                  reduce_id=e.reduce_id, message=str(e), executor_id=e.executor_id)
    except BaseException as e:  # every failure is reported to the scheduler, never lost
        reason = exception_failure(e)
        error_summary = f"{type(e).__name__}: {e}"
    if killed.is_set() and reason.reason != "TaskKilled":
        reason, value = ev.TaskEndReason("TaskKilled", kill_reason=killed.reason), None
    ctx.metrics.executor_run_time = int((time.perf_counter() - started) * 1000)
    ctx.metrics.executor_cpu_time = time.thread_time_ns() - cpu_started
    for name, value_now in sample_process_metrics(gc_started).items():
        peak[name] = max(peak.get(name, 0), value_now)
    return TaskResult(task.task_id, reason, value, ctx.metrics, list(ctx.sql_metric_updates.values()), peak,
                      error_summary)


def exception_failure(e: BaseException) -> ev.TaskEndReason:
    """Spark's ``ExceptionFailure``: the exception's class, message, frames and formatted stack."""
    frames = traceback.extract_tb(e.__traceback__) if e.__traceback__ else []
    return ev.TaskEndReason(
        "ExceptionFailure",
        class_name=f"{type(e).__module__}.{type(e).__qualname__}",
        description=str(e),
        stack_trace=[f"{f.name}|{f.filename}|{f.lineno}" for f in frames],
        full_stack_trace="".join(traceback.format_exception(e)),
    )


def _inject_test_faults(task: Task, conf, killed: KillSwitch) -> None:
    if task.attempt_number != 0:
        return
    here = f"{task.stage_id}.{task.partition_id}"
    if conf.get(FAIL_TASK_ONCE, "") == here:
        raise InjectedTaskFailure(f"{FAIL_TASK_ONCE}: first attempt of task {here} fails")
    delay = conf.get(DELAY_TASK_ONCE, "")
    if delay:
        target, _, millis = delay.partition(":")
        if not millis.isdigit():
            raise ValueError(f"{DELAY_TASK_ONCE} must be '<stage>.<partition>:<millis>', got {delay!r}")
        if target == here and killed.wait(int(millis) / 1000):
            raise TaskKilledException(killed.reason)


def _gc_collections() -> tuple[int, int]:
    stats = gc.get_stats()
    return stats[0]["collections"] + stats[1]["collections"], stats[2]["collections"]


@functools.lru_cache(maxsize=1)
def _process(pid: int) -> psutil.Process:
    """psutil's handle on this process, made once per process id: making one reads /proc for the
    process's start time, and every task samples twice (50 us a sample then, 22 us with the handle)."""
    return psutil.Process(pid)


def sample_process_metrics(gc_since: tuple[int, int] | None = None) -> dict[str, int]:
    """This process's metrics under Spark's executor-metric names (``ExecutorMetricType``).

    The executor is a Python process, so its memory is "ProcessTreePython*" (Spark's names for
    the Python workers of an executor); young and old generation collections are Spark's minor
    and major GC counts (counted since ``gc_since`` when given).
    """
    memory = _process(os.getpid()).memory_info()
    minor, major = _gc_collections()
    if gc_since is not None:
        minor, major = minor - gc_since[0], major - gc_since[1]
    return {"ProcessTreePythonRSSMemory": memory.rss, "ProcessTreePythonVMemory": memory.vms,
            "MinorGCCount": minor, "MajorGCCount": major}
