"""One run's shape and figures, and how two shapes line up, without trusting ids.

Job, stage and SQL execution ids are counters: one extra ``count()`` early in a script shifts every
id after it, and AQE runs each query stage as a job of its own. So a run is laid out by what the
code did, in the order it did it:

    units    one per SQL execution (with its jobs), or per job run outside SQL, in start order;
             keyed by the call site without directories and line numbers ("collect at job.py")
    stages   the stages that ran for a unit, in stage order, keyed by (call site, role, number of
             parent stages): role is "map" (ShuffleMapTask: it writes a shuffle) or "result"
    jobs     a unit's jobs in order, keyed by call site

Two layouts line up with a longest-matching-subsequence alignment of those keys (difflib's), so a
stage added by a ``repartition`` is one inserted key (reported as added), and the stages around it
still match. Paths and line numbers are left out of keys because a pull request that adds a line
above an action would otherwise make every stage after it "new".
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

import pyarrow.compute as pc

from diag.model import AppModel

# Figures that do not depend on the machine's speed: the same data and plan give the same values.
STAGE_METRICS = (
    "tasks", "failed_tasks", "input_bytes", "input_records", "output_bytes", "output_records",
    "shuffle_read_bytes", "shuffle_read_records", "shuffle_write_bytes", "shuffle_write_records",
    "spill_memory_bytes", "spill_disk_bytes",
)
APPLICATION_METRICS = ("jobs", "stages", *STAGE_METRICS)

# metric -> the task columns it sums (successful attempts only: a failed attempt's partial figures
# depend on when it failed)
_SUMMED = {
    "input_bytes": ("input_bytes",), "input_records": ("input_records",),
    "output_bytes": ("output_bytes",), "output_records": ("output_records",),
    "shuffle_read_bytes": ("shuffle_local_bytes_read", "shuffle_remote_bytes_read"),
    "shuffle_read_records": ("shuffle_records_read",),
    "shuffle_write_bytes": ("shuffle_bytes_written",), "shuffle_write_records": ("shuffle_records_written",),
    "spill_memory_bytes": ("memory_bytes_spilled",), "spill_disk_bytes": ("disk_bytes_spilled",),
}

_CALL_SITE = re.compile(r"^(?P<action>\S+) at (?:.*[/\\])?(?P<file>[^/\\:]+?)(?::\d+)?$")


def call_site_key(text: str | None) -> str:
    """``collect at /ci/build-7/jobs/daily.py:42`` -> ``collect at daily.py``.

    A description that is not a call site (``spark.job.description`` set by the user) is kept whole.
    """
    text = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    m = _CALL_SITE.match(text)
    return f"{m['action']} at {m['file']}" if m else text


def call_site_label(text: str | None) -> str:
    """``collect at /ci/build-7/jobs/daily.py:42`` -> ``collect at daily.py:42``: short enough for a table."""
    return re.sub(r" at (?:\S*[/\\])?([^/\\\s]+)$", r" at \1", (text or "").strip())


@dataclass
class StageEntry:
    stage_id: int
    name: str
    role: str  # "map" or "result"
    parents: int
    figures: dict[str, int]
    duration_ms: int
    skew_ratio: float | None  # max / median duration of the successful tasks

    @property
    def key(self) -> tuple[str, str, int]:
        return call_site_key(self.name), self.role, self.parents


@dataclass
class JobEntry:
    job_id: int
    label: str
    stage_ids: list[int]
    duration_ms: int | None
    figures: dict[str, int]

    @property
    def key(self) -> str:
        return call_site_key(self.label)


@dataclass
class Unit:
    """One SQL execution and the jobs it ran, or one job that ran outside any SQL execution."""

    label: str
    execution_id: int | None
    start: int
    duration_ms: int | None
    jobs: list[JobEntry] = field(default_factory=list)
    stages: list[StageEntry] = field(default_factory=list)

    @property
    def key(self) -> str:
        return call_site_key(self.label)


@dataclass
class Layout:
    units: list[Unit]
    figures: dict[str, int]  # application totals of APPLICATION_METRICS
    duration_ms: int

    def stage_positions(self) -> dict[int, tuple[int, int]]:
        """stage id -> (unit index, stage index)."""
        return {s.stage_id: (u, i) for u, unit in enumerate(self.units) for i, s in enumerate(unit.stages)}


def _stage_figures(model: AppModel) -> dict[int, dict]:
    """Per stage id (all attempts together): the metrics, the role and the task-duration skew."""
    tasks = model.tasks
    if tasks.num_rows == 0:
        return {}
    ok = tasks.filter(pc.equal(tasks["end_reason"], "Success"))
    columns = sorted({c for cols in _SUMMED.values() for c in cols})
    grouped = ok.group_by("stage_id").aggregate(
        [(c, "sum") for c in columns] + [("duration_ms", "max"), ("duration_ms", "approximate_median"),
                                         ("stage_id", "count")])
    failed = tasks.filter(tasks["failed"]).group_by("stage_id").aggregate([("stage_id", "count")])
    failed_by_stage = dict(zip(failed["stage_id"].to_pylist(), failed["stage_id_count"].to_pylist()))
    types = tasks.group_by(["stage_id", "task_type"]).aggregate([("stage_id", "count")])
    roles = {}
    for sid, task_type in zip(types["stage_id"].to_pylist(), types["task_type"].to_pylist()):
        if task_type == "ShuffleMapTask" or sid not in roles:
            roles[sid] = "map" if task_type == "ShuffleMapTask" else "result"
    out: dict[int, dict] = {}
    for row in grouped.to_pylist():
        sid = row["stage_id"]
        figures = {m: int(sum(row[f"{c}_sum"] or 0 for c in cols)) for m, cols in _SUMMED.items()}
        figures["tasks"] = int(row["stage_id_count"])
        median = row["duration_ms_approximate_median"]
        out[sid] = {"figures": figures, "skew": (row["duration_ms_max"] / median) if median else None}
    for sid in set(failed_by_stage) | set(roles):
        entry = out.setdefault(sid, {"figures": dict.fromkeys(_SUMMED, 0) | {"tasks": 0}, "skew": None})
        entry["figures"]["failed_tasks"] = int(failed_by_stage.get(sid, 0))
        entry["role"] = roles.get(sid, "result")
    return out


def _stage_entries(model: AppModel) -> dict[int, StageEntry]:
    """The stages that ran, one entry per stage id with its attempts merged."""
    per_stage = _stage_figures(model)
    entries: dict[int, StageEntry] = {}
    for s in model.stages.filter(model.stages["ran"]).to_pylist():
        sid = s["stage_id"]
        data = per_stage.get(sid, {"figures": dict.fromkeys(STAGE_METRICS, 0), "skew": None, "role": "result"})
        start, end = s["submitted"], s["completed"]
        if sid in entries:  # a retried stage: one entry from the first submission to the last completion
            entries[sid].duration_ms += (end - start) if start and end else 0
            continue
        entries[sid] = StageEntry(sid, s["name"] or "", data.get("role", "result"), len(s["parent_ids"] or ()),
                                  {m: data["figures"].get(m, 0) for m in STAGE_METRICS},
                                  (end - start) if start and end else 0, data["skew"])
    return entries


def _sum_figures(stages: Sequence[StageEntry]) -> dict[str, int]:
    return {m: sum(s.figures[m] for s in stages) for m in STAGE_METRICS}


def build_layout(model: AppModel) -> Layout:
    """The run's units, jobs and stages in the order the driver ran them, with their figures."""
    stages = _stage_entries(model)
    jobs_by_execution: dict[int | None, list[dict]] = {}
    for job in sorted(model.jobs.to_pylist(), key=lambda j: j["job_id"]):
        jobs_by_execution.setdefault(job["sql_execution_id"], []).append(job)

    def job_entry(job: dict) -> JobEntry:
        ran = [stages[s] for s in sorted(job["stage_ids"] or ()) if s in stages]
        label = job["description"] or (ran[-1].name if ran else f"job {job['job_id']}")
        duration = (job["completed"] - job["submitted"]) if job["completed"] and job["submitted"] else None
        return JobEntry(job["job_id"], label, [s.stage_id for s in ran], duration, _sum_figures(ran))

    units: list[Unit] = []
    for execution in model.sql_executions.values():
        jobs = [job_entry(j) for j in jobs_by_execution.get(execution.execution_id, ())]
        duration = (execution.end - execution.start) if execution.end and execution.start else None
        units.append(Unit(execution.description or f"query {execution.execution_id}", execution.execution_id,
                          execution.start, duration, jobs))
    for job in jobs_by_execution.get(None, ()):
        entry = job_entry(job)
        units.append(Unit(entry.label, None, job["submitted"] or 0, entry.duration_ms, [entry]))
    units.sort(key=lambda u: (u.start, u.execution_id is None, u.execution_id or 0))
    for unit in units:
        ids = sorted({sid for job in unit.jobs for sid in job.stage_ids})
        unit.stages = [stages[sid] for sid in ids]
    figures = _sum_figures(list(stages.values()))
    figures["jobs"] = model.jobs.num_rows
    figures["stages"] = len(stages)
    return Layout(units, {m: figures[m] for m in APPLICATION_METRICS}, model.duration_ms)


T = TypeVar("T")
U = TypeVar("U")


def align(a: Sequence[T], b: Sequence[U], key: Callable) -> list[tuple[int | None, int | None]]:
    """Index pairs of ``a`` and ``b`` in order: (i, j) matched, (i, None) only in a, (None, j) only in b.

    The longest common subsequence of their keys matches; what is left between two matches is
    removed-then-added, never paired by position: a changed key means a changed piece of work.
    """
    matcher = difflib.SequenceMatcher(None, [key(x) for x in a], [key(y) for y in b], autojunk=False)
    pairs: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs += zip(range(i1, i2), range(j1, j2))
        else:
            pairs += [(i, None) for i in range(i1, i2)]
            pairs += [(None, j) for j in range(j1, j2)]
    return pairs


@dataclass
class LayoutMatch:
    """How layout ``b`` lines up with layout ``a``: units, and within matched units, stages and jobs."""

    units: list[tuple[int | None, int | None]]
    stages: dict[tuple[int, int], list[tuple[int | None, int | None]]]
    jobs: dict[tuple[int, int], list[tuple[int | None, int | None]]]


def match_layouts(a: Layout, b: Layout) -> LayoutMatch:
    units = align(a.units, b.units, lambda u: u.key)
    stages, jobs = {}, {}
    for i, j in units:
        if i is not None and j is not None:
            stages[(i, j)] = align(a.units[i].stages, b.units[j].stages, lambda s: s.key)
            jobs[(i, j)] = align(a.units[i].jobs, b.units[j].jobs, lambda job: job.key)
    return LayoutMatch(units, stages, jobs)

