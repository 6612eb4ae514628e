"""TaskSchedulerImpl: puts the tasks of each stage attempt on executor slots (Spark's names).

The DAG scheduler hands over one ``TaskSet`` per stage attempt. A ``TaskSetManager`` per task set
decides which of its tasks runs next and what an ended attempt means:

* a task that raises is retried until one partition has failed ``spark.task.maxFailures`` times;
  then the task set is aborted and the job fails with the last error;
* a ``FetchFailed`` attempt is not retried: the task set becomes a zombie (no more launches) and
  the DAG scheduler resubmits the map stage whose output was missing;
* an attempt lost with its executor (``ExecutorLostFailure``) is retried elsewhere without counting
  as a failure: the executor was killed, the task did nothing wrong;
* with ``spark.speculation``, once ``spark.speculation.quantile`` of a stage's tasks have finished,
  a task running longer than ``spark.speculation.multiplier`` times their median (and at least
  ``spark.speculation.minTaskRuntime``) gets a speculative copy, preferably on another executor;
  the first attempt to succeed wins and the others are killed ("another attempt succeeded").

Slots come from a backend: ``LocalSchedulerBackend`` (``local[N]``: threads in the driver) or
``LocalClusterBackend`` (``local-cluster[E,C,M]``: executor processes). The backend reports
executors added and lost and every task's ``TaskResult``; this class owns every scheduling
decision, so both backends behave the same.
"""
from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from engine.executor.task_runner import Task, TaskBinary, TaskResult
from engine.scheduler import events as ev

ANOTHER_ATTEMPT_SUCCEEDED = "another attempt succeeded"


def now_ms() -> int:
    return int(time.time() * 1000)


class TaskSetListener(Protocol):
    """Who hears about a task set's attempts: the DAG scheduler's job."""

    def task_started(self, task: Task, info: ev.TaskInfo) -> None: ...

    def task_ended(self, task: Task, info: ev.TaskInfo, result: TaskResult, abort_reason: str | None) -> None: ...


class SchedulerBackend(Protocol):
    def launch_task(self, executor_id: str, task: Task) -> None: ...

    def kill_task(self, executor_id: str, task_id: int, reason: str) -> None: ...


@dataclass(eq=False)
class TaskSet:
    """The tasks of one stage attempt: ``partitions[i]`` is the plan partition of task index i."""

    binary: TaskBinary
    stage_id: int
    stage_attempt_id: int
    partitions: list[int]
    listener: TaskSetListener


@dataclass(frozen=True)
class SpeculationConf:
    enabled: bool
    quantile: float
    multiplier: float
    min_task_runtime_ms: int
    interval_s: float

    @staticmethod
    def from_conf(conf) -> SpeculationConf:
        return SpeculationConf(
            enabled=conf.get_bool("spark.speculation"),
            quantile=float(conf.get("spark.speculation.quantile")),
            multiplier=float(conf.get("spark.speculation.multiplier")),
            min_task_runtime_ms=parse_duration_ms(conf.get("spark.speculation.minTaskRuntime")),
            interval_s=parse_duration_ms(conf.get("spark.speculation.interval")) / 1000,
        )


def parse_duration_ms(value: str) -> int:
    """Spark's time strings: ``100ms``, ``1s``, ``2min``, or a plain number of milliseconds."""
    text = str(value).strip().lower()
    for suffix, factor in (("ms", 1), ("min", 60_000), ("s", 1000), ("m", 60_000), ("h", 3_600_000)):
        if text.endswith(suffix) and text[: -len(suffix)].strip().isdigit():
            return int(text[: -len(suffix)]) * factor
    if text.isdigit():
        return int(text)
    raise ValueError(f"not a duration: {value!r} (examples: 100ms, 1s, 2min)")


@dataclass(eq=False)
class _Attempt:
    task: Task
    info: ev.TaskInfo
    killed_for: str | None = None


@dataclass(eq=False)
class TaskSetManager:
    """The scheduling state of one task set (Spark's ``TaskSetManager``)."""

    task_set: TaskSet
    max_failures: int
    pending: deque = field(default_factory=deque)  # task indexes waiting for a slot
    speculatable: deque = field(default_factory=deque)  # indexes that get a speculative copy
    speculated: set = field(default_factory=set)
    running: dict = field(default_factory=dict)  # task id -> _Attempt
    successful: set = field(default_factory=set)
    failures: dict = field(default_factory=dict)
    durations: list = field(default_factory=list)  # ms, of successful attempts
    attempts: dict = field(default_factory=dict)  # index -> attempts launched so far
    zombie: bool = False  # launches no more tasks (aborted, cancelled, or a fetch failed)

    def __post_init__(self):
        self.pending.extend(range(len(self.task_set.partitions)))

    @property
    def num_tasks(self) -> int:
        return len(self.task_set.partitions)

    @property
    def finished(self) -> bool:
        return not self.running and (self.zombie or len(self.successful) == self.num_tasks)

    def next_index(self, executor_id: str, single_executor: bool) -> tuple[int, bool] | None:
        """The index of the next task to launch on ``executor_id`` and whether it is speculative."""
        if self.zombie:
            return None
        while self.pending:
            index = self.pending.popleft()
            if index not in self.successful:
                return index, False
        for index in list(self.speculatable):
            if index in self.successful:
                self.speculatable.remove(index)
                continue
            elsewhere = all(a.info.executor_id != executor_id for a in self.running.values() if a.task.index == index)
            if elsewhere or single_executor:
                self.speculatable.remove(index)
                return index, True
        return None

    def check_speculatable(self, spec: SpeculationConf, now: int) -> bool:
        """Spark's ``checkSpeculatableTasks``: mark stragglers; True when one was marked."""
        if self.zombie or not self.durations:
            return False
        if len(self.successful) < max(int(spec.quantile * self.num_tasks), 1):
            return False
        threshold = max(spec.multiplier * statistics.median(self.durations), spec.min_task_runtime_ms)
        marked = False
        for attempt in self.running.values():
            index = attempt.task.index
            if index in self.successful or index in self.speculated:
                continue
            if now - attempt.info.launch_time > threshold:
                self.speculated.add(index)
                self.speculatable.append(index)
                marked = True
        return marked


class TaskSchedulerImpl:
    def __init__(self, conf, bus):
        self.conf = conf
        self.bus = bus
        self.backend: SchedulerBackend | None = None
        self.max_failures = int(conf.get("spark.task.maxFailures"))
        self.speculation = SpeculationConf.from_conf(conf)
        self.executor_lost_listeners: list = []  # called with an executor id before its tasks fail
        self._lock = threading.RLock()
        self._task_ids = itertools.count(0)
        self._managers: list[TaskSetManager] = []
        self._running: dict[int, TaskSetManager] = {}  # task id -> its task set
        self._free: dict[str, int] = {}  # executor id -> free slots
        self._hosts: dict[str, str] = {}
        self._stopped = threading.Event()
        self._speculation_thread: threading.Thread | None = None

    def start(self, backend: SchedulerBackend) -> None:
        self.backend = backend
        if self.speculation.enabled:
            self._speculation_thread = threading.Thread(target=self._check_speculation, name="task-speculation",
                                                        daemon=True)
            self._speculation_thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._speculation_thread is not None:
            self._speculation_thread.join()

    # ---- executors ----
    def executor_added(self, executor_id: str, host: str, cores: int) -> None:
        with self._lock:
            self._free[executor_id] = cores
            self._hosts[executor_id] = host
            self._revive_offers()

    def executor_lost(self, executor_id: str, reason: str) -> None:
        """Its running tasks end as ``ExecutorLostFailure`` and are retried elsewhere; listeners
        (the DAG scheduler) first drop the shuffle output it held."""
        with self._lock:
            if executor_id not in self._free:
                return
            del self._free[executor_id]
            for listener in self.executor_lost_listeners:
                listener(executor_id)
            lost = [(tid, m) for tid, m in self._running.items()
                    if m.running[tid].info.executor_id == executor_id]
            for task_id, manager in lost:
                reason_ = ev.TaskEndReason("ExecutorLostFailure", executor_id=executor_id, message=reason)
                self._task_ended(manager, task_id, TaskResult(task_id, reason_), free_slot=False)
            self._revive_offers()

    def binary_of(self, task_id: int) -> TaskBinary | None:
        """The stage binary of a running task."""
        with self._lock:
            manager = self._running.get(task_id)
            return manager.task_set.binary if manager is not None else None

    @property
    def executor_ids(self) -> list[str]:
        with self._lock:
            return list(self._free)

    # ---- task sets ----
    def submit_tasks(self, task_set: TaskSet) -> TaskSetManager:
        with self._lock:
            manager = TaskSetManager(task_set, self.max_failures)
            self._managers.append(manager)
            self._revive_offers()
            return manager

    def cancel(self, manager: TaskSetManager, reason: str) -> None:
        """No more launches for ``manager``; its running attempts are killed."""
        with self._lock:
            manager.zombie = True
            for attempt in manager.running.values():
                self._kill(attempt, reason)

    def status_update(self, task_id: int, result: TaskResult) -> None:
        """An attempt ended (reported by the backend)."""
        with self._lock:
            manager = self._running.get(task_id)
            if manager is None:
                return  # already ended: its executor was lost before the result arrived
            self._task_ended(manager, task_id, result, free_slot=True)
            self._revive_offers()

    # ---- internals (called with the lock held) ----
    def _task_ended(self, manager: TaskSetManager, task_id: int, result: TaskResult, free_slot: bool) -> None:
        del self._running[task_id]
        attempt = manager.running.pop(task_id)
        executor_id = attempt.info.executor_id
        if free_slot and executor_id in self._free:
            self._free[executor_id] += 1
        info, index = attempt.info, attempt.task.index
        info.finish_time = now_ms()
        if attempt.killed_for is not None and not result.successful:
            result.reason = ev.TaskEndReason("TaskKilled", kill_reason=attempt.killed_for)
        abort_reason = None
        kind = result.reason.reason
        if kind == "Success":
            if index not in manager.successful:
                manager.successful.add(index)
                manager.durations.append(info.finish_time - info.launch_time)
                for other in manager.running.values():
                    if other.task.index == index:
                        self._kill(other, ANOTHER_ATTEMPT_SUCCEEDED)
        elif kind == "TaskKilled":
            info.killed = True
        elif kind == "FetchFailed":
            info.failed = True
            manager.zombie = True
        else:
            info.failed = True
            if kind == "ExceptionFailure":
                manager.failures[index] = manager.failures.get(index, 0) + 1
            if manager.failures.get(index, 0) >= manager.max_failures and index not in manager.successful:
                manager.zombie = True
                abort_reason = self._abort_message(manager, attempt, result)
            elif index not in manager.successful and not manager.zombie:
                manager.pending.append(index)
        if manager.finished:
            self._managers.remove(manager)
        manager.task_set.listener.task_ended(attempt.task, info, result, abort_reason)

    def _abort_message(self, manager: TaskSetManager, attempt: _Attempt, result: TaskResult) -> str:
        ts, task = manager.task_set, attempt.task
        return (f"Task {task.index} in stage {ts.stage_id}.{ts.stage_attempt_id} failed "
                f"{manager.failures[task.index]} times, most recent failure: Lost task {task.index}."
                f"{task.attempt_number} in stage {ts.stage_id}.{ts.stage_attempt_id} (TID {task.task_id}) "
                f"({attempt.info.host} executor {attempt.info.executor_id}): {result.error_summary}")

    def _kill(self, attempt: _Attempt, reason: str) -> None:
        if attempt.killed_for is None:
            attempt.killed_for = reason
            self.backend.kill_task(attempt.info.executor_id, attempt.task.task_id, reason)

    def _revive_offers(self) -> None:
        """Fill every free slot with the next task of the oldest task set that has one."""
        single = len(self._free) == 1
        for executor_id in list(self._free):
            while self._free.get(executor_id, 0) > 0:
                if not self._launch_one(executor_id, single):
                    break

    def _launch_one(self, executor_id: str, single_executor: bool) -> bool:
        for manager in self._managers:
            picked = manager.next_index(executor_id, single_executor)
            if picked is None:
                continue
            index, speculative = picked
            ts = manager.task_set
            attempt_number = manager.attempts.get(index, 0)
            manager.attempts[index] = attempt_number + 1
            task = Task(next(self._task_ids), ts.stage_id, ts.stage_attempt_id, index, ts.partitions[index],
                        attempt_number, ts.binary, speculative)
            info = ev.TaskInfo(task.task_id, index, attempt_number, ts.partitions[index], now_ms(), executor_id,
                               self._hosts[executor_id], speculative=speculative)
            manager.running[task.task_id] = _Attempt(task, info)
            self._running[task.task_id] = manager
            self._free[executor_id] -= 1
            ts.listener.task_started(task, info)
            self.backend.launch_task(executor_id, task)
            return True
        return False

    def _check_speculation(self) -> None:
        while not self._stopped.wait(self.speculation.interval_s):
            with self._lock:
                now = now_ms()
                if any([m.check_speculatable(self.speculation, now) for m in self._managers]):
                    self._revive_offers()
