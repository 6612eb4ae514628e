"""Facts read straight from an event log with plain ``json``, independent of diag/: the evidence that
a scenario's log really shows its problem, and only that one.

    log = Log(path)
    log.stage_stats()          # per (stage, attempt): tasks with durations, shuffle, spill ...
    log.sql_metric("Scan", "number of files read")
    log.problems()             # {"skew", "spill", ...}: which problems the log shows (see PROBLEMS)

``test_scenarios.py`` asserts on these; ``python -m tests.spark_jobs.evidence [names]`` prints
them for the cached scenario logs.
"""
from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

SQL = "org.apache.spark.sql.execution.ui."
SQL_START = SQL + "SparkListenerSQLExecutionStart"
SQL_AQE_UPDATE = SQL + "SparkListenerSQLAdaptiveExecutionUpdate"
SQL_DRIVER_ACCUMS = SQL + "SparkListenerDriverAccumUpdates"

MB = 1024 * 1024


@dataclass
class Task:
    stage: int
    stage_attempt: int
    index: int
    attempt: int
    reason: str  # "Success", "ExceptionFailure", ...
    failed: bool
    duration_ms: int  # Finish Time - Launch Time
    run_ms: int  # Executor Run Time
    shuffle_read_bytes: int  # remote + local
    shuffle_read_records: int
    shuffle_write_bytes: int
    shuffle_write_records: int
    input_bytes: int
    input_records: int
    output_records: int
    memory_spilled: int
    disk_spilled: int
    error: str = ""


@dataclass
class StageStats:
    stage: int
    attempt: int
    name: str
    tasks: list[Task] = field(default_factory=list)

    @property
    def ok(self) -> list[Task]:
        return [t for t in self.tasks if t.reason == "Success"]

    def values(self, attr: str) -> list[float]:
        return [getattr(t, attr) for t in self.ok]

    def ratio(self, attr: str) -> float:
        """max / median of a task attribute over the successful tasks (1.0 when all are 0)."""
        values = self.values(attr)
        if not values or not max(values):
            return 1.0
        med = statistics.median(values)
        return max(values) / med if med else float("inf")

    def median(self, attr: str) -> float:
        values = self.values(attr)
        return statistics.median(values) if values else 0.0

    def total(self, attr: str) -> int:
        return sum(self.values(attr))

    def argmax(self, attr: str) -> Task:
        return max(self.ok, key=lambda t: getattr(t, attr))


@dataclass
class PlanNode:
    execution: int
    name: str
    description: str
    metrics: dict[str, int]  # metric name -> accumulator id
    children: list["PlanNode"]

    def walk(self) -> Iterator["PlanNode"]:
        yield self
        for c in self.children:
            yield from c.walk()


def _plan(execution: int, info: dict[str, Any]) -> PlanNode:
    return PlanNode(execution, info["nodeName"], info.get("simpleString", ""),
                    {m["name"]: m["accumulatorId"] for m in info.get("metrics", [])},
                    [_plan(execution, c) for c in info.get("children", [])])


class Log:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            self.events: list[dict[str, Any]] = [json.loads(line) for line in f if line.strip()]

    def of(self, *names: str) -> Iterator[dict[str, Any]]:
        return (e for e in self.events if e["Event"] in names)

    # ------------------------------------------------------------------------------- application
    @cached_property
    def spark_version(self) -> str:
        return next(self.of("SparkListenerLogStart"))["Spark Version"]

    @cached_property
    def app_name(self) -> str:
        return next(self.of("SparkListenerApplicationStart"))["App Name"]

    @cached_property
    def app_id(self) -> str:
        return next(self.of("SparkListenerApplicationStart"))["App ID"]

    @cached_property
    def properties(self) -> dict[str, str]:
        props = next(self.of("SparkListenerEnvironmentUpdate"))["Spark Properties"]
        return dict(props.items() if isinstance(props, dict) else props)

    @cached_property
    def job_results(self) -> dict[int, str]:
        return {e["Job ID"]: e["Job Result"]["Result"] for e in self.of("SparkListenerJobEnd")}

    @cached_property
    def stage_execution(self) -> dict[int, int]:
        """stage id -> SQL execution id of the job that submitted it."""
        out = {}
        for e in self.of("SparkListenerJobStart"):
            execution = (e.get("Properties") or {}).get("spark.sql.execution.id")
            if execution is not None:
                for sid in e["Stage IDs"]:
                    out.setdefault(sid, int(execution))
        return out

    # ------------------------------------------------------------------------------------- tasks
    @cached_property
    def tasks(self) -> list[Task]:
        out = []
        for e in self.of("SparkListenerTaskEnd"):
            info, m = e["Task Info"], e.get("Task Metrics") or {}
            sr, sw = m.get("Shuffle Read Metrics", {}), m.get("Shuffle Write Metrics", {})
            reason = e["Task End Reason"]
            out.append(Task(
                stage=e["Stage ID"], stage_attempt=e["Stage Attempt ID"], index=info["Index"],
                attempt=info["Attempt"], reason=reason["Reason"], failed=info["Failed"],
                duration_ms=info["Finish Time"] - info["Launch Time"], run_ms=m.get("Executor Run Time", 0),
                shuffle_read_bytes=sr.get("Remote Bytes Read", 0) + sr.get("Local Bytes Read", 0),
                shuffle_read_records=sr.get("Total Records Read", 0),
                shuffle_write_bytes=sw.get("Shuffle Bytes Written", 0),
                shuffle_write_records=sw.get("Shuffle Records Written", 0),
                input_bytes=m.get("Input Metrics", {}).get("Bytes Read", 0),
                input_records=m.get("Input Metrics", {}).get("Records Read", 0),
                output_records=m.get("Output Metrics", {}).get("Records Written", 0),
                memory_spilled=m.get("Memory Bytes Spilled", 0), disk_spilled=m.get("Disk Bytes Spilled", 0),
                error=(reason.get("Description") or "")[:300]))
        return out

    def stage_stats(self) -> dict[tuple[int, int], StageStats]:
        names = {(e["Stage Info"]["Stage ID"], e["Stage Info"]["Stage Attempt ID"]): e["Stage Info"]["Stage Name"]
                 for e in self.of("SparkListenerStageCompleted")}
        out: dict[tuple[int, int], StageStats] = {}
        for t in self.tasks:
            key = (t.stage, t.stage_attempt)
            out.setdefault(key, StageStats(t.stage, t.stage_attempt, names.get(key, ""))).tasks.append(t)
        return dict(sorted(out.items()))

    @property
    def failed_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.reason != "Success"]

    # --------------------------------------------------------------------------------------- SQL
    @cached_property
    def plans(self) -> list[PlanNode]:
        """Every plan root, initial and re-planned (AQE), in log order."""
        return [_plan(e["executionId"], e["sparkPlanInfo"]) for e in self.of(SQL_START, SQL_AQE_UPDATE)]

    @cached_property
    def final_plans(self) -> dict[int, PlanNode]:
        out = {}
        for p in self.plans:
            out[p.execution] = p
        return out

    def nodes(self, final: bool = False) -> Iterator[PlanNode]:
        for root in (self.final_plans.values() if final else self.plans):
            yield from root.walk()

    @cached_property
    def accumulators(self) -> dict[int, int]:
        """SQL metric values: successful tasks' updates plus the driver's updates, per accumulator."""
        totals: dict[int, int] = defaultdict(int)
        for e in self.of("SparkListenerTaskEnd", SQL_DRIVER_ACCUMS):
            if e["Event"] == SQL_DRIVER_ACCUMS:
                for acc_id, value in e["accumUpdates"]:
                    totals[acc_id] += int(value)
            elif e["Task End Reason"]["Reason"] == "Success":
                for acc in e["Task Info"].get("Accumulables", []):
                    if "Update" in acc and not str(acc.get("Name", "")).startswith("internal."):
                        try:
                            totals[acc["ID"]] += int(acc["Update"])
                        except (TypeError, ValueError):
                            pass
        return totals

    def metric(self, node: PlanNode, name: str) -> int:
        return self.accumulators.get(node.metrics[name], 0) if name in node.metrics else 0

    def sql_metric(self, node_prefix: str, name: str) -> list[int]:
        """Values of one metric, one per distinct plan node named ``node_prefix...`` that has it."""
        seen: set[int] = set()
        out = []
        for node in self.nodes():
            acc = node.metrics.get(name)
            if node.name.startswith(node_prefix) and acc is not None and acc not in seen:
                seen.add(acc)
                out.append(self.accumulators.get(acc, 0))
        return out

    # ------------------------------------------------------------------------- derived evidence
    @property
    def spill_bytes(self) -> tuple[int, int]:
        return sum(t.memory_spilled for t in self.tasks), sum(t.disk_spilled for t in self.tasks)

    @property
    def files_read(self) -> tuple[int, int]:
        """(files, bytes) of every file scan, from its SQL metrics."""
        return sum(self.sql_metric("Scan", "number of files read")), sum(self.sql_metric("Scan", "size of files read"))

    @property
    def files_written(self) -> tuple[int, int]:
        prefix = "Execute InsertIntoHadoopFsRelationCommand"
        return sum(self.sql_metric(prefix, "number of written files")), sum(self.sql_metric(prefix, "written output"))

    @property
    def shuffle_write_bytes(self) -> int:
        return sum(t.shuffle_write_bytes for t in self.tasks if t.reason == "Success")

    def shuffle_stages_per_execution(self) -> dict[int, int]:
        """SQL execution -> number of its stages that wrote shuffle output."""
        out: dict[int, int] = defaultdict(int)
        for (stage, _), s in self.stage_stats().items():
            if s.total("shuffle_write_records") and stage in self.stage_execution:
                out[self.stage_execution[stage]] += 1
        return dict(out)

    def python_evals(self) -> list[PlanNode]:
        return [n for n in self.nodes(final=True) if n.name in ("BatchEvalPython", "ArrowEvalPython")]

    def sort_merge_join_sides(self) -> list[list[int]]:
        """Per SortMergeJoin of a final plan: the "data size" of the exchange under each side."""
        out = []
        for node in self.nodes(final=True):
            if node.name == "SortMergeJoin":
                out.append([self._exchange_size(c) for c in node.children])
        return out

    def _exchange_size(self, side: PlanNode) -> int:
        """"data size" of the first shuffle Exchange under a join side (-1 if none)."""
        for n in side.walk():
            if n.name == "Exchange" and "data size" in n.metrics:
                return self.metric(n, "data size")
        return -1

    # ---------------------------------------------------------------- which problems are present
    def problems(self) -> set[str]:
        """The problems this log shows, by the rules of PROBLEMS (named as Diagnosis kinds)."""
        return {kind for kind, rule in PROBLEMS.items() if rule(self)}

    def summary(self) -> dict[str, Any]:
        stats = [s for s in self.stage_stats().values() if len(s.ok) >= 4]
        skewed = max(stats, key=lambda s: s.ratio("shuffle_read_records"), default=None)
        slow = max(stats, key=lambda s: s.ratio("duration_ms"), default=None)
        biggest = max(self.stage_stats().values(), key=lambda s: len(s.tasks), default=None)
        files, size = self.files_read
        wfiles, wsize = self.files_written
        return {
            "problems": sorted(self.problems()),
            "jobs (failed)": f"{len(self.job_results)} ({sum(r != 'JobSucceeded' for r in self.job_results.values())})",
            "stages / tasks": f"{len(self.stage_stats())} / {len(self.tasks)}",
            "failed tasks": [(t.stage, t.index, t.attempt, t.reason) for t in self.failed_tasks],
            "spill memory / disk": self.spill_bytes,
            "most skewed stage: records, bytes, duration max/med": skewed and (
                skewed.stage, round(skewed.ratio("shuffle_read_records"), 1),
                round(skewed.ratio("shuffle_read_bytes"), 1), round(skewed.ratio("duration_ms"), 1)),
            "slowest-task stage: duration, records max/med": slow and (
                slow.stage, round(slow.ratio("duration_ms"), 1),
                round(max(slow.ratio("input_records"), slow.ratio("shuffle_read_records")), 2)),
            "biggest stage: tasks, median run ms, median read records": biggest and (
                len(biggest.tasks), biggest.median("run_ms"), biggest.median("shuffle_read_records")),
            "files read (count, bytes)": (files, size),
            "files written (count, bytes)": (wfiles, wsize),
            "shuffle bytes written": self.shuffle_write_bytes,
            "shuffle stages per SQL execution": self.shuffle_stages_per_execution(),
            "python evals (rows)": [(n.name, self.metric(n, "number of output rows")) for n in self.python_evals()],
            "SMJ side data sizes": self.sort_merge_join_sides(),
        }


# ------------------------------------------------------------------------------- problem rules
# Deliberately simple rules over the raw log, with margins; they check the scenarios' INPUTS, they
# are not Ember's detectors.
def _skew(log: Log) -> bool:
    """A stage of >= 4 tasks where one task reads >= 5x the median records and >= 1 MB, and is
    the slowest task or takes >= 3x the median duration."""
    for s in log.stage_stats().values():
        if len(s.ok) < 4 or s.ratio("shuffle_read_records") < 5:
            continue
        big = s.argmax("shuffle_read_records")
        if big.shuffle_read_bytes >= MB and (big is s.argmax("duration_ms") or s.ratio("duration_ms") >= 3):
            return True
    return False


def _spill(log: Log) -> bool:
    return sum(log.spill_bytes) > 0


def _small_files(log: Log) -> bool:
    files, size = log.files_read
    return files >= 1000 and size / files < 64 * 1024


def _small_output_files(log: Log) -> bool:
    files, size = log.files_written
    return files >= 1000 and size / files < 64 * 1024


def _shuffle_heavy(log: Log) -> bool:
    """A SQL execution with >= 4 shuffle stages, and shuffle bytes >= 5x the input bytes."""
    input_bytes = log.files_read[1] + sum(t.input_bytes for t in log.tasks)
    chain = max(log.shuffle_stages_per_execution().values(), default=0)
    return chain >= 4 and log.shuffle_write_bytes >= 5 * max(input_bytes, 1)


def _task_failures(log: Log) -> bool:
    return bool(log.failed_tasks)


def _tiny_tasks(log: Log) -> bool:
    return any(len(s.ok) >= 1000 and s.median("run_ms") < 50 for s in log.stage_stats().values())


def _python_udf(log: Log) -> bool:
    return any(log.metric(n, "number of output rows") >= 100_000 for n in log.python_evals())


def _broadcastable_join(log: Log) -> bool:
    return any(0 <= min(sides) < 10 * MB for sides in log.sort_merge_join_sides() if sides)


PROBLEMS = {
    "skew": _skew, "spill": _spill, "small_files": _small_files, "small_output_files": _small_output_files,
    "shuffle_heavy": _shuffle_heavy,
    "task_failures": _task_failures, "tiny_tasks": _tiny_tasks, "python_udf": _python_udf,
    "broadcastable_join": _broadcastable_join,
}


def main(argv: list[str]) -> int:
    from tests.spark_jobs.generate import cache_dir, cached_log, scenario_names

    for name in argv or scenario_names():
        path = cached_log(cache_dir() / name)
        if path is None:
            print(f"== {name}: not generated")
            continue
        print(f"== {name}  {path}  ({path.stat().st_size / 1e6:.1f} MB)")
        for k, v in Log(path).summary().items():
            print(f"   {k:58s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
