"""DAGScheduler: one job per action, split into stages at shuffle exchanges, run as tasks.

A job's final ``ResultStage`` computes the requested partitions of the plan; every shuffle
exchange reachable below it without crossing another becomes a parent ``ShuffleMapStage``,
recursively. A map stage whose shuffle output already exists (from an earlier job of the same
query) is skipped. Tasks run on the task scheduler's slots; their completions come back to this
thread, which posts the events, registers map outputs, retries failed tasks up to
``spark.task.maxFailures`` attempts, and resubmits a map stage whose output a reduce task could
not fetch.
"""
from __future__ import annotations

import itertools
import json
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.execution.shuffle_exchange_exec import ShuffleExchangeExec
from engine.scheduler import events as ev
from engine.scheduler.task_context import TaskContext
from engine.shuffle.manager import FetchFailedException
from engine.sql.errors import SparkException

MAX_STAGE_ATTEMPTS = 4


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class CallSite:
    """Where the user's code asked for the job: ``short`` names the stage, ``long`` is its stack."""

    short: str
    long: str


@dataclass(eq=False)
class Stage:
    id: int
    plan: Any  # the operator whose partitions the tasks compute
    shuffle: ShuffleExchangeExec | None  # set for a ShuffleMapStage
    parents: list
    num_partitions: int
    first_job_id: int
    call_site: CallSite
    rdd_infos: list = field(default_factory=list)
    attempt: int = -1
    info: ev.StageInfo | None = None

    @property
    def is_shuffle_map(self) -> bool:
        return self.shuffle is not None


@dataclass
class _Completion:
    stage: Stage
    partition: int
    attempt: int
    info: ev.TaskInfo
    ctx: TaskContext
    result: Any = None
    error: BaseException | None = None
    error_trace: str = ""


class DAGScheduler:
    def __init__(self, env, bus, task_scheduler):
        self.env = env
        self.bus = bus
        self.task_scheduler = task_scheduler
        self._job_ids = itertools.count(0)
        self._stage_ids = itertools.count(0)
        self._task_ids = itertools.count(0)
        self._rdd_ids = itertools.count(0)
        self._map_stages: dict[int, Stage] = {}  # id(exchange) -> stage
        self._lock = threading.RLock()

    # ---- building the stage graph ----
    def new_rdd_id(self) -> int:
        return next(self._rdd_ids)

    def _lineage_children(self, node):
        hook = getattr(node, "lineage_children", None)
        return hook(self.env.block_manager) if hook else node.children

    def _parent_exchanges(self, plan) -> list[ShuffleExchangeExec]:
        found: list[ShuffleExchangeExec] = []

        def visit(node):
            if isinstance(node, ShuffleExchangeExec):
                if all(node is not f for f in found):
                    found.append(node)
                return
            if node.is_stage_boundary:
                return  # a broadcast: collected by a job of its own before this one
            for c in self._lineage_children(node):
                visit(c)

        visit(plan)
        return found

    def _map_stage(self, exchange: ShuffleExchangeExec, job_id: int, call_site: CallSite) -> Stage:
        stage = self._map_stages.get(id(exchange))
        if stage is None:
            parents = [self._map_stage(e, job_id, call_site) for e in self._parent_exchanges(exchange.child)]
            num_maps = exchange.child.num_partitions
            exchange.shuffle_id = self.env.shuffle_manager.register_shuffle(num_maps, exchange.arrow_schema)
            stage = Stage(next(self._stage_ids), exchange.child, exchange, parents, num_maps, job_id, call_site)
            stage.rdd_infos = self._rdd_infos(exchange.child, num_maps, call_site)
            self._map_stages[id(exchange)] = stage
        return stage

    def _rdd_infos(self, plan, num_partitions: int, call_site: CallSite) -> list[ev.RDDInfo]:
        """One RDD per operator of the stage's pipeline, as Spark's UI draws a stage's DAG."""
        infos: list[ev.RDDInfo] = []

        def visit(node) -> int:
            parent_ids = [] if node.is_stage_boundary else [visit(c) for c in self._lineage_children(node)]
            rdd_id = self.new_rdd_id()
            name = "ShuffledRowRDD" if node.is_stage_boundary else "MapPartitionsRDD"
            scope = json.dumps({"id": str(id(node) % 100000), "name": node.node_name})
            infos.append(ev.RDDInfo(rdd_id, name, node.num_partitions, parent_ids, call_site.short, scope))
            return rdd_id

        visit(plan)
        infos.reverse()
        return infos

    def _ancestors(self, stage: Stage) -> list[Stage]:
        out: list[Stage] = []

        def visit(s: Stage):
            for p in s.parents:
                if all(p is not o for o in out):
                    visit(p)
                    out.append(p)

        visit(stage)
        return out

    def _available(self, stage: Stage) -> bool:
        return stage.is_shuffle_map and self.env.shuffle_manager.is_available(stage.shuffle.shuffle_id)

    def _stage_info(self, stage: Stage, num_tasks: int | None = None) -> ev.StageInfo:
        return ev.StageInfo(
            stage_id=stage.id,
            attempt_id=max(stage.attempt, 0),
            name=stage.call_site.short,
            num_tasks=stage.num_partitions if num_tasks is None else num_tasks,
            rdd_infos=stage.rdd_infos,
            parent_ids=[p.id for p in stage.parents],
            details=stage.call_site.long,
            is_shuffle_map=stage.is_shuffle_map,
        )

    # ---- running a job ----
    def run_job(self, plan, partitions: list[int], result_fn: Callable[[Any, TaskContext], Any],
                call_site: CallSite, properties: dict[str, str]) -> list[Any]:
        """Compute ``partitions`` of ``plan`` and return ``result_fn(table, ctx)`` for each, in order."""
        with self._lock:
            return _Job(self, plan, partitions, result_fn, call_site, properties).run()


class _Job:
    def __init__(self, scheduler: DAGScheduler, plan, partitions, result_fn, call_site, properties):
        self.s = scheduler
        self.job_id = next(scheduler._job_ids)
        self.partitions = list(partitions)
        self.result_fn = result_fn
        self.properties = properties
        parents = [scheduler._map_stage(e, self.job_id, call_site) for e in scheduler._parent_exchanges(plan)]
        self.final = Stage(next(scheduler._stage_ids), plan, None, parents, len(self.partitions), self.job_id, call_site)
        self.final.rdd_infos = scheduler._rdd_infos(plan, plan.num_partitions, call_site)
        self.stages = scheduler._ancestors(self.final) + [self.final]
        self.completions: queue.Queue[_Completion] = queue.Queue()
        self.results: list[Any] = [None] * len(self.partitions)
        self.pending: dict[int, set[int]] = {}  # stage id -> partitions not finished in this attempt
        self.failures: dict[tuple[int, int], int] = {}
        self.stage_metrics: dict[int, dict[int, tuple]] = {}
        self.running_tasks = 0
        self.running_stages: set[int] = set()
        self.done_stages: set[int] = set()
        self.max_failures = int(scheduler.env.conf.get("spark.task.maxFailures"))

    def post(self, event) -> None:
        self.s.bus.post(event)

    def run(self) -> list[Any]:
        stage_infos = [self.s._stage_info(st) for st in self.stages]
        self.post(ev.SparkListenerJobStart(self.job_id, now_ms(), stage_infos, dict(self.properties)))
        try:
            self._loop()
        except BaseException as e:
            self._drain()
            self.post(ev.SparkListenerJobEnd(self.job_id, now_ms(), False, str(e)))
            raise
        self.post(ev.SparkListenerJobEnd(self.job_id, now_ms(), True))
        return self.results

    def _loop(self) -> None:
        while True:
            self._submit_ready()
            if self.final.id in self.done_stages:
                return
            if self.running_tasks == 0:
                raise SparkException(f"job {self.job_id} cannot make progress: no stage is runnable")
            self._handle(self.completions.get())

    def _submit_ready(self) -> None:
        for stage in self.stages:
            if stage.id in self.running_stages or stage.id in self.done_stages:
                continue
            if stage.is_shuffle_map and self.s._available(stage):
                continue
            if all(self.s._available(p) for p in stage.parents):
                self._submit_stage(stage)

    def _submit_stage(self, stage: Stage) -> None:
        stage.attempt += 1
        if stage.attempt >= MAX_STAGE_ATTEMPTS:
            raise SparkException(f"Stage {stage.id} failed {MAX_STAGE_ATTEMPTS} times; aborting job {self.job_id}")
        if stage.is_shuffle_map:
            todo = self.s.env.shuffle_manager.missing_maps(stage.shuffle.shuffle_id)
        else:
            todo = list(range(len(self.partitions)))
        stage.info = self.s._stage_info(stage, len(todo))
        stage.info.submission_time = now_ms()
        self.pending[stage.id] = set(todo)
        self.stage_metrics[stage.id] = {}
        self.running_stages.add(stage.id)
        self.post(ev.SparkListenerStageSubmitted(stage.info, dict(self.properties)))
        for p in todo:
            self._launch(stage, p, 0)
        if not todo:
            self._stage_completed(stage, None)

    def _launch(self, stage: Stage, partition: int, attempt: int) -> None:
        task_id = next(self.s._task_ids)
        self.running_tasks += 1
        self.s.task_scheduler.submit(self._run_task, stage, partition, attempt, task_id, stage.attempt)

    # runs on an executor thread
    def _run_task(self, stage: Stage, partition: int, attempt: int, task_id: int, stage_attempt: int) -> None:
        env = self.s.env
        index = partition if stage.is_shuffle_map else self.partitions[partition]
        info = ev.TaskInfo(task_id, partition, attempt, index, now_ms(), env.executor_id, env.host)
        self.post(ev.SparkListenerTaskStart(stage.id, stage_attempt, info))
        ctx = TaskContext(stage.id, stage_attempt, index, attempt, task_id, env)
        completion = _Completion(stage, partition, attempt, info, ctx)
        started, cpu_started = time.perf_counter(), time.thread_time_ns()
        try:
            if stage.is_shuffle_map:
                completion.result = stage.shuffle.write_map_output(index, ctx)
            else:
                completion.result = self.result_fn(stage.plan.execute_partition(index, ctx), ctx)
        except BaseException as e:  # every failure is reported to the scheduler, never lost
            completion.error = e
            completion.error_trace = traceback.format_exc()
        ctx.metrics.executor_run_time = int((time.perf_counter() - started) * 1000)
        ctx.metrics.executor_cpu_time = time.thread_time_ns() - cpu_started
        info.finish_time = now_ms()
        self.completions.put(completion)

    def _handle(self, c: _Completion) -> None:
        self.running_tasks -= 1
        stage = c.stage
        if c.error is None:
            self._task_end(c, ev.TaskEndReason("Success"))
            if c.ctx.stage_attempt_id != stage.attempt:
                return  # a late task of an earlier attempt
            self.stage_metrics[stage.id][c.partition] = tuple(c.ctx.sql_metric_updates.values())
            if stage.is_shuffle_map:
                self.s.env.shuffle_manager.register_map_output(stage.shuffle.shuffle_id, c.result)
            else:
                self.results[c.partition] = c.result
            self.pending[stage.id].discard(c.partition)
            if not self.pending[stage.id]:
                self._stage_completed(stage, None)
            return
        c.info.failed = True
        if isinstance(c.error, FetchFailedException):
            e = c.error
            self._task_end(c, ev.TaskEndReason("FetchFailed", shuffle_id=e.shuffle_id, map_id=e.map_index,
                                               reduce_id=e.reduce_id, message=str(e)))
            self.s.env.shuffle_manager.unregister_map_output(e.shuffle_id, e.map_index)
            if stage.id in self.running_stages and c.ctx.stage_attempt_id == stage.attempt:
                self._stage_completed(stage, f"FetchFailed: {e}")
            return
        self._task_end(c, _exception_reason(c))
        key = (stage.id, c.partition)
        self.failures[key] = self.failures.get(key, 0) + 1
        if self.failures[key] < self.max_failures:
            self._launch(stage, c.partition, c.attempt + 1)
            return
        reason = (f"Task {c.partition} in stage {stage.id}.{stage.attempt} failed {self.failures[key]} times, "
                  f"most recent failure: Lost task {c.partition}.{c.attempt} in stage {stage.id}.{stage.attempt} "
                  f"(TID {c.info.task_id}) ({self.s.env.host} executor {self.s.env.executor_id}): "
                  f"{type(c.error).__name__}: {c.error}")
        self._stage_completed(stage, reason)
        raise SparkException(f"Job aborted due to stage failure: {reason}") from c.error

    def _task_end(self, c: _Completion, reason: ev.TaskEndReason) -> None:
        values = {}
        for metric, update in c.ctx.sql_metric_updates.values():
            # a task's copy of a SQL metric starts at zero, so its value is its own update
            values[metric.accumulator_id] = ev.AccumulableInfo(metric.accumulator_id, metric.name, update,
                                                               update, metadata="sql")
        c.info.accumulables = list(values.values())
        task_type = "ShuffleMapTask" if c.stage.is_shuffle_map else "ResultTask"
        self.post(ev.SparkListenerTaskEnd(c.stage.id, c.ctx.stage_attempt_id, task_type, reason, c.info, c.ctx.metrics))

    def _stage_completed(self, stage: Stage, failure: str | None) -> None:
        self.running_stages.discard(stage.id)
        info = stage.info
        info.completion_time = now_ms()
        info.failure_reason = failure
        totals: dict[int, ev.AccumulableInfo] = {}
        for updates in self.stage_metrics.get(stage.id, {}).values():
            for metric, value in updates:
                acc = totals.setdefault(metric.accumulator_id,
                                        ev.AccumulableInfo(metric.accumulator_id, metric.name, None, 0, metadata="sql"))
                acc.value += value
        info.accumulables = list(totals.values())
        self.post(ev.SparkListenerStageCompleted(info))
        if failure is None:
            self.done_stages.add(stage.id)

    def _drain(self) -> None:
        """After an abort: wait for the tasks still running and report how they ended."""
        while self.running_tasks > 0:
            c = self.completions.get()
            self.running_tasks -= 1
            self._task_end(c, ev.TaskEndReason("Success") if c.error is None else _exception_reason(c))


def _exception_reason(c: _Completion) -> ev.TaskEndReason:
    e = c.error
    frames = traceback.extract_tb(e.__traceback__) if e.__traceback__ else []
    return ev.TaskEndReason(
        "ExceptionFailure",
        class_name=f"{type(e).__module__}.{type(e).__qualname__}",
        description=str(e),
        stack_trace=[f"{f.name}|{f.filename}|{f.lineno}" for f in frames],
        full_stack_trace=c.error_trace,
    )
