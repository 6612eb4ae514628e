"""DAGScheduler: one job per action, split into stages at shuffle exchanges, run as tasks.

A job's final ``ResultStage`` computes the requested partitions of the plan; every shuffle
exchange reachable below it without crossing another becomes a parent ``ShuffleMapStage``,
recursively. A map stage whose shuffle output already exists (from an earlier job of the same
query) is skipped. Each stage attempt goes to the task scheduler as one ``TaskSet`` (which retries
failed tasks up to ``spark.task.maxFailures`` and runs speculative copies); every attempt's end
comes back to the job's thread, which posts the events, registers map outputs, and resubmits a
map stage whose output a reduce task could not fetch (``FetchFailed``) or whose executor was lost.
"""
from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.execution.shuffle_exchange_exec import ShuffleExchangeExec
from engine.executor.task_runner import Task, TaskBinary, TaskResult
from engine.scheduler import events as ev
from engine.scheduler.context_cleaner import ContextCleaner
from engine.scheduler.task_context import TaskContext
from engine.scheduler.task_scheduler import TaskSchedulerImpl, TaskSet
from engine.sql.errors import SparkException
from engine.storage import StorageLevel

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
    """How one task attempt ended, as the task scheduler reported it."""

    task: Task
    info: ev.TaskInfo
    result: TaskResult
    abort_reason: str | None  # set when the task set gave up: the job fails


class DAGScheduler:
    def __init__(self, env, bus, task_scheduler: TaskSchedulerImpl, cleaner: ContextCleaner | None = None):
        """``cleaner`` (None when ``spark.cleaner.referenceTracking`` is off) deletes a shuffle's
        files once its exchange is garbage."""
        self.env = env
        self.bus = bus
        self.task_scheduler = task_scheduler
        self.cleaner = cleaner
        task_scheduler.executor_lost_listeners.append(self._executor_lost)
        self._job_ids = itertools.count(0)
        self._stage_ids = itertools.count(0)
        self._rdd_ids = itertools.count(0)
        self._map_stages: dict[int, Stage] = {}  # id(exchange) -> stage
        self._cached_rdd_names: dict[int, tuple[Any, str]] = {}  # rdd id -> (its physical plan, its name)
        self._lock = threading.RLock()

    def _executor_lost(self, executor_id: str) -> None:
        """Spark's ``removeOutputsOnExecutor``: the lost executor's map outputs must be recomputed."""
        self.env.shuffle_manager.remove_outputs_on_executor(executor_id)

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
        """The map stage writing ``exchange``'s shuffle: the one the running job already has, else a
        new stage with a new id. Stages are forgotten when their job ends (``forget_job_stages``), as
        Spark's DAGScheduler cleans up after a job, so a later job that needs a shuffle written
        earlier lists it under a new stage id, which it skips: Spark's logs show exactly that."""
        stage = self._map_stages.get(id(exchange))
        if stage is None:
            parents = [self._map_stage(e, job_id, call_site) for e in self._parent_exchanges(exchange.child)]
            num_maps = exchange.child.num_partitions
            if exchange.shuffle_id is None:
                exchange.shuffle_id = self.env.shuffle_manager.register_shuffle(num_maps, exchange.arrow_schema)
                if self.cleaner is not None:
                    self.cleaner.register_shuffle_for_cleanup(exchange, exchange.shuffle_id)
            stage = Stage(next(self._stage_ids), exchange.child, exchange, parents, num_maps, job_id, call_site)
            stage.rdd_infos = self._rdd_infos(exchange.child, num_maps, call_site)
            self._map_stages[id(exchange)] = stage
        return stage

    def _rdd_infos(self, plan, num_partitions: int, call_site: CallSite) -> list[ev.RDDInfo]:
        """One RDD per operator of the stage's pipeline, as Spark's UI draws a stage's DAG.

        A scan of a cached DataFrame reads the cached RDD, which Spark lists in every stage that
        reads it, with its id, the cached plan as its name, its storage level and its lineage
        (whether or not its partitions are cached yet).
        """
        infos: list[ev.RDDInfo] = []
        cached_seen: set[int] = set()

        def visit_cached(cached) -> int:
            if cached.rdd_id not in cached_seen:
                cached_seen.add(cached.rdd_id)
                parent = visit(cached.physical)
                use_memory, use_disk = StorageLevel.flags(cached.storage_level)
                scope = json.dumps({"id": str(cached.rdd_id), "name": "mapPartitionsWithIndexInternal"})
                infos.append(ev.RDDInfo(
                    cached.rdd_id, self._cached_rdd_name(cached), cached.physical.num_partitions, [parent],
                    call_site.short, scope, use_memory=use_memory, use_disk=use_disk,
                    deserialized=StorageLevel.deserialized(cached.storage_level)))
            return cached.rdd_id

        def visit(node) -> int:
            cached = getattr(node, "cached", None)  # an InMemoryTableScan's CachedPlan
            if node.is_stage_boundary:
                parent_ids = []
            elif cached is not None:
                parent_ids = [visit_cached(cached)]
            else:
                parent_ids = [visit(c) for c in self._lineage_children(node)]
            rdd_id = self.new_rdd_id()
            name = "ShuffledRowRDD" if node.is_stage_boundary else "MapPartitionsRDD"
            scope = json.dumps({"id": str(id(node) % 100000), "name": node.node_name})
            infos.append(ev.RDDInfo(rdd_id, name, node.num_partitions, parent_ids, call_site.short, scope))
            return rdd_id

        visit(plan)
        infos.reverse()
        return infos

    def _cached_rdd_name(self, cached) -> str:
        """A cached RDD's name, its physical plan's tree, formatted once per plan: every job that
        reads the cache lists the RDD, and formatting a scan's tree costs more than the job's
        other bookkeeping."""
        known = self._cached_rdd_names.get(cached.rdd_id)
        if known is None or known[0] is not cached.physical:
            known = self._cached_rdd_names[cached.rdd_id] = (cached.physical, cached.physical.tree_string() + "\n")
        return known[1]

    def _ancestors(self, stage: Stage) -> list[Stage]:
        out: list[Stage] = []

        def visit(s: Stage):
            for p in s.parents:
                if all(p is not o for o in out):
                    visit(p)
                    out.append(p)

        visit(stage)
        return out

    def forget_job_stages(self) -> None:
        """Spark's ``cleanupStateForJobAndIndependentStages``: jobs run one at a time here, so once a
        job ends no other job needs its stages. Shuffle outputs stay registered and are reused."""
        self._map_stages.clear()

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
            try:
                return _Job(self, plan, partitions, result_fn, call_site, properties).run()
            finally:
                self.forget_job_stages()

    def submit_map_stage(self, exchange: ShuffleExchangeExec, call_site: CallSite, properties: dict[str, str]) -> None:
        """Run only the map stage that writes ``exchange``'s shuffle (and missing parents) as a job of
        its own: Spark's ``submitMapStage``, which adaptive execution uses to materialize a
        ShuffleQueryStage and read its real output sizes before planning the stages above it."""
        with self._lock:
            if not self.env.shuffle_manager.is_available(exchange.shuffle_id):
                try:
                    _Job(self, exchange, [], None, call_site, properties, map_stage_only=True).run()
                finally:
                    self.forget_job_stages()


class _Job:
    def __init__(self, scheduler: DAGScheduler, plan, partitions, result_fn, call_site, properties,
                 map_stage_only: bool = False):
        self.s = scheduler
        self.job_id = next(scheduler._job_ids)
        self.partitions = list(partitions)
        self.result_fn = result_fn
        self.properties = properties
        if map_stage_only:  # ``plan`` is an exchange: its map stage is the job's last (submit_map_stage)
            self.final = scheduler._map_stage(plan, self.job_id, call_site)
        else:
            parents = [scheduler._map_stage(e, self.job_id, call_site) for e in scheduler._parent_exchanges(plan)]
            self.final = Stage(next(scheduler._stage_ids), plan, None, parents, len(self.partitions), self.job_id,
                               call_site)
            self.final.rdd_infos = scheduler._rdd_infos(plan, plan.num_partitions, call_site)
        self.stages = scheduler._ancestors(self.final) + [self.final]
        self.stage_by_id = {stage.id: stage for stage in self.stages}
        self.completions: queue.Queue[_Completion] = queue.Queue()
        self.results: list[Any] = [None] * len(self.partitions)
        self.result_slot = {p: i for i, p in enumerate(self.partitions)}
        self.finished_results: set[int] = set()
        self.pending: dict[int, set[int]] = {}  # stage id -> partitions not finished in this attempt
        self.stage_metrics: dict[int, dict[int, tuple]] = {}
        # (stage id, attempt) -> executor id -> peak of each executor metric its tasks reported
        self.stage_executor_peaks: dict[tuple[int, int], dict[str, dict[str, int]]] = {}
        self.running_stages: set[int] = set()
        self.managers: list = []
        self._lock = threading.Lock()
        self._in_flight = 0  # attempts started and not yet handled
        self._over = False

    def post(self, event) -> None:
        self.s.bus.post(event)

    # ---- the TaskSetListener side: called on the task scheduler's threads ----
    def task_started(self, task: Task, info: ev.TaskInfo) -> None:
        with self._lock:
            self._in_flight += 1
        self.post(ev.SparkListenerTaskStart(task.stage_id, task.stage_attempt_id, info))

    def task_ended(self, task: Task, info: ev.TaskInfo, result: TaskResult, abort_reason: str | None) -> None:
        with self._lock:
            if not self._over:
                self.completions.put(_Completion(task, info, result, abort_reason))
                return
        self._task_end(_Completion(task, info, result, abort_reason))  # a straggler of a finished job

    # ---- the job's own thread ----
    def run(self) -> list[Any]:
        stage_infos = [self.s._stage_info(st) for st in self.stages]
        self.post(ev.SparkListenerJobStart(self.job_id, now_ms(), stage_infos, dict(self.properties)))
        try:
            self._loop()
        except BaseException as e:
            self._drain()
            self.post(ev.SparkListenerJobEnd(self.job_id, now_ms(), False, str(e)))
            raise
        self._finish()
        self.post(ev.SparkListenerJobEnd(self.job_id, now_ms(), True))
        return self.results

    def _loop(self) -> None:
        while True:
            self._submit_if_ready(self.final)
            if self._stage_done(self.final):
                return
            if not self.running_stages and self._in_flight == 0:
                raise SparkException(f"job {self.job_id} cannot make progress: no stage is runnable")
            self._handle(self.completions.get())

    def _stage_done(self, stage: Stage) -> bool:
        if stage.is_shuffle_map:
            return self.s._available(stage)
        return len(self.finished_results) == len(self.partitions)

    def _submit_if_ready(self, stage: Stage) -> None:
        """Spark's ``submitStage``: run ``stage`` once its parents' outputs exist, else the parents."""
        if stage.id in self.running_stages or self._stage_done(stage):
            return
        missing = [p for p in stage.parents if not self.s._available(p)]
        for parent in missing:
            self._submit_if_ready(parent)
        if not missing:
            self._submit_stage(stage)

    def _submit_stage(self, stage: Stage) -> None:
        stage.attempt += 1
        if stage.attempt >= MAX_STAGE_ATTEMPTS:
            raise SparkException(f"Stage {stage.id} failed {MAX_STAGE_ATTEMPTS} times; aborting job {self.job_id}")
        if stage.is_shuffle_map:
            todo = self.s.env.shuffle_manager.missing_maps(stage.shuffle.shuffle_id)
            binary = TaskBinary((stage.id, stage.attempt), shuffle=stage.shuffle)
        else:
            todo = [p for i, p in enumerate(self.partitions) if i not in self.finished_results]
            binary = TaskBinary((stage.id, stage.attempt), plan=stage.plan, result_fn=self.result_fn)
        stage.info = self.s._stage_info(stage, len(todo))
        stage.info.submission_time = now_ms()
        self.pending[stage.id] = set(todo)
        self.stage_metrics[stage.id] = {}
        self.running_stages.add(stage.id)
        self.post(ev.SparkListenerStageSubmitted(stage.info, dict(self.properties)))
        if not todo:
            self._stage_completed(stage, None)
            return
        self.managers.append(self.s.task_scheduler.submit_tasks(TaskSet(binary, stage.id, stage.attempt, todo, self)))

    def _handle(self, c: _Completion) -> None:
        with self._lock:
            self._in_flight -= 1
        self._task_end(c)
        stage = self.stage_by_id[c.task.stage_id]
        current = stage.id in self.running_stages and c.task.stage_attempt_id == stage.attempt
        reason = c.result.reason
        if reason.reason == "Success":
            self._task_succeeded(stage, c, current)
        elif reason.reason == "FetchFailed":
            if reason.map_id is not None:
                self.s.env.shuffle_manager.unregister_map_output(reason.shuffle_id, reason.map_id)
            if current:
                self._stage_completed(stage, f"FetchFailed: {reason.message}")
        elif c.abort_reason is not None:
            self._stage_completed(stage, c.abort_reason)
            raise SparkException(f"Job aborted due to stage failure: {c.abort_reason}")
        # any other failure: the task scheduler has already queued the next attempt

    def _task_succeeded(self, stage: Stage, c: _Completion, current: bool) -> None:
        partition = c.task.partition_id
        if stage.is_shuffle_map:
            self.s.env.shuffle_manager.register_map_output(stage.shuffle.shuffle_id, c.result.value)
        elif self.result_slot[partition] not in self.finished_results:
            self.results[self.result_slot[partition]] = c.result.value
            self.finished_results.add(self.result_slot[partition])
        if not current:
            return  # a late task of an earlier attempt: its output is kept, its stage is over
        self.stage_metrics[stage.id][partition] = tuple(c.result.accum_updates)
        self.pending[stage.id].discard(partition)
        if not self.pending[stage.id]:
            # a map stage whose executor was lost meanwhile misses outputs: _loop resubmits it
            self._stage_completed(stage, None)

    def _task_end(self, c: _Completion) -> None:
        values = {}
        for metric, update in c.result.accum_updates:
            # a task's copy of a SQL metric starts at zero, so its value is its own update
            values[metric.accumulator_id] = ev.AccumulableInfo(metric.accumulator_id, metric.name, update,
                                                               update, metadata="sql")
        c.info.accumulables = list(values.values())
        self._update_executor_peaks(c)
        self.post(ev.SparkListenerTaskEnd(c.task.stage_id, c.task.stage_attempt_id, c.task.binary.task_type,
                                          c.result.reason, c.info, c.result.metrics, c.result.executor_metrics))

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
        self._post_stage_executor_metrics(stage.id, info.attempt_id)
        self.post(ev.SparkListenerStageCompleted(info))

    def _update_executor_peaks(self, c: _Completion) -> None:
        if not c.result.executor_metrics:
            return
        key = (c.task.stage_id, c.task.stage_attempt_id)
        with self._lock:
            peaks = self.stage_executor_peaks.setdefault(key, {}).setdefault(c.info.executor_id, {})
            for name, value in c.result.executor_metrics.items():
                peaks[name] = max(peaks.get(name, value), value)

    def _post_stage_executor_metrics(self, stage_id: int, attempt_id: int) -> None:
        """Spark's event-log listener writes, when a stage attempt completes, the peak executor
        metrics of every executor that reported any for it (``SparkListenerStageExecutorMetrics``):
        here, the peaks of the process metrics its tasks sampled ("Task Executor Metrics"). Ember's
        driver does not run tasks in local-cluster mode nor send heartbeats, so it has no entry there."""
        with self._lock:
            peaks = self.stage_executor_peaks.pop((stage_id, attempt_id), {})
        if str(self.s.env.conf.get("spark.eventLog.logStageExecutorMetrics", "false")).lower() != "true":
            return
        for executor_id, metrics in sorted(peaks.items()):
            self.post(ev.SparkListenerStageExecutorMetrics(executor_id, stage_id, attempt_id, metrics))

    def _finish(self) -> None:
        """The job is over: attempts still running (speculative losers) report straight to the bus."""
        with self._lock:
            self._over = True
        while not self.completions.empty():
            self._task_end(self.completions.get())

    def _drain(self) -> None:
        """After an abort: stop the job's task sets and wait for the attempts still running."""
        for manager in self.managers:
            self.s.task_scheduler.cancel(manager, f"Stage cancelled: job {self.job_id} aborted")
        while True:
            with self._lock:
                if self._in_flight == 0:
                    break
            c = self.completions.get()
            with self._lock:
                self._in_flight -= 1
            self._task_end(c)
        self._finish()
