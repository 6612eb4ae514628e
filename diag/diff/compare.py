"""BASE against NEW: load both sides, line them up, compare every figure, evaluate the gates.

    result = diff_logs(["base/app.zstd"], ["new/app.zstd"])            # one pair: times reported only
    result = diff_logs(base_runs, new_runs, Thresholds(alpha=0.01))   # N runs a side: times gate too
    result.passed                                                      # False when any gate failed

Each side is a list of paths (files, rolling directories, or directories of many applications).
Applications pair by name; when each side holds one name they pair whatever their names. Several
logs of one name on a side are repeated runs: deterministic figures take their median (one odd
run cannot fail or pass a build), times keep every value for the rank test. Inside a side, every
run lines up with the side's first run; across sides the two first runs line up (``layout``).
"""
from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass, field

from diag.analyze import analyze_source
from diag.diagnosis import Diagnosis
from diag.diff import stats
from diag.diff.gates import TIME_METRIC, Gate, Thresholds
from diag.diff.layout import (
    APPLICATION_METRICS,
    STAGE_METRICS,
    JobEntry,
    Layout,
    StageEntry,
    build_layout,
    call_site_label,
    match_layouts,
)
from diag.diff.plan import PlanChange, compare_plans, plan_shape
from diag.eventlog import EventLogError, discover
from diag.report import ApplicationReport

# Spark properties that name this run rather than configure it: ids, times, hosts, ports, paths
IGNORED_CONF_KEYS = frozenset({
    "spark.app.id", "spark.app.startTime", "spark.app.submitTime", "spark.app.attempt.id",
    "spark.driver.host", "spark.driver.port", "spark.driver.appUIAddress", "spark.blockManager.port",
    "spark.eventLog.dir", "spark.sql.warehouse.dir", "spark.local.dir", "spark.executor.id",
    "spark.submit.pyFiles", "spark.repl.class.uri", "spark.repl.class.outputDir", "spark.ui.proxyBase",
    "spark.yarn.app.id", "spark.yarn.app.container.log.dir", "spark.kubernetes.driver.pod.name",
})
IGNORED_CONF_PREFIXES = ("spark.app.initial.", "spark.org.apache.hadoop.yarn.server.webproxy.")


class DiffInputError(Exception):
    """A path that is missing or holds no readable event log; the message names it and says why."""


@dataclass
class Run:
    path: str
    report: ApplicationReport
    layout: Layout

    @property
    def name(self) -> str:
        return self.report.model.application.get("name") or self.report.model.app_id


def load_runs(paths: list[str], side: str, detector_config: dict | None = None) -> list[Run]:
    """Every application under ``paths``, read, modelled and diagnosed. Any unreadable log is an
    error: a comparison that silently left one out could pass a build it should fail."""
    runs = []
    for path in paths:
        if not os.path.exists(path):
            raise DiffInputError(f"{side} {path}: no such file or directory")
        sources = discover(path)
        if not sources:
            raise DiffInputError(f"{side} {path}: no Spark event logs found here")
        for source in sources:
            try:
                report = analyze_source(source, detector_config)
            except (EventLogError, OSError) as e:
                raise DiffInputError(f"{side} {e}") from None
            if not report.model.application and not report.model.jobs.num_rows:
                raise DiffInputError(f"{side} {source.path}: an event log without an application or jobs")
            runs.append(Run(str(source.path), report, build_layout(report.model)))
    return runs


# ---------------------------------------------------------------------------------------- results
@dataclass
class Figures:
    """One figure on both sides (medians over runs); ``exceeded`` when the increase breaks its limit."""

    metric: str
    base: int | None
    new: int | None
    exceeded: bool = False

    @property
    def change(self) -> float | None:
        """Relative change (0.25 = 25 % more); None when it has no base to be relative to."""
        if self.base is None or self.new is None or self.base == 0:
            return None
        return (self.new - self.base) / self.base


@dataclass
class Timing:
    """A time on both sides, every run's value; ``p_value`` is set when the time was tested."""

    base_ms: list[int]
    new_ms: list[int]
    p_value: float | None = None
    regressed: bool = False

    @property
    def base_median(self) -> float | None:
        return statistics.median(self.base_ms) if self.base_ms else None

    @property
    def new_median(self) -> float | None:
        return statistics.median(self.new_ms) if self.new_ms else None


@dataclass
class StageRow:
    slot: str  # "q2.s1": query 2's first stage, in the aligned order
    query: str
    role: str
    status: str  # "matched", "added", "removed"
    base_stage_ids: list[int]
    new_stage_ids: list[int]
    figures: list[Figures]
    timing: Timing
    skew_ratio: tuple[float | None, float | None]

    @property
    def label(self) -> str:
        return f"{self.query} › {self.role} stage {self.slot.split('.s')[1]}"


@dataclass
class JobRow:
    slot: str
    query: str
    status: str
    base_job_ids: list[int]
    new_job_ids: list[int]
    figures: list[Figures]
    timing: Timing


@dataclass
class QueryRow:
    slot: str  # "q2"
    label: str  # the call site, as NEW (else BASE) wrote it
    status: str
    base_execution_id: int | None
    new_execution_id: int | None
    plan_change: PlanChange | None
    timing: Timing


@dataclass
class DiagnosisChange:
    diagnosis: Diagnosis
    where: str  # slots, e.g. "q2.s1"
    runs: int  # in how many runs of its side it appeared


@dataclass
class ApplicationDiff:
    name: str
    status: str  # "matched", "added" (only in NEW), "removed" (only in BASE)
    base_paths: list[str]
    new_paths: list[str]
    config_changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    totals: list[Figures] = field(default_factory=list)
    duration: Timing = field(default_factory=lambda: Timing([], []))
    queries: list[QueryRow] = field(default_factory=list)
    jobs: list[JobRow] = field(default_factory=list)
    stages: list[StageRow] = field(default_factory=list)
    new_diagnoses: list[DiagnosisChange] = field(default_factory=list)
    resolved_diagnoses: list[DiagnosisChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)


@dataclass
class DiffResult:
    applications: list[ApplicationDiff]
    thresholds: Thresholds

    @property
    def gates(self) -> list[Gate]:
        return [g for app in self.applications for g in app.gates]

    @property
    def failed(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    @property
    def passed(self) -> bool:
        return not self.failed


# ---------------------------------------------------------------------------------------- one side
@dataclass
class _Side:
    """A side's runs lined up with its first run: per position of the first run, every run's entry."""

    runs: list[Run]
    stages: dict[tuple[int, int], list[StageEntry]] = field(default_factory=dict)
    jobs: dict[tuple[int, int], list[JobEntry]] = field(default_factory=dict)
    unit_ms: dict[int, list[int]] = field(default_factory=dict)
    stage_at: list[dict[int, tuple[int, int]]] = field(default_factory=list)  # per run: stage id -> position
    unit_at: list[dict[int, int]] = field(default_factory=list)  # per run: SQL execution id -> unit
    job_at: list[dict[int, tuple[int, int]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def reference(self) -> Layout:
        return self.runs[0].layout


def _side(runs: list[Run], label: str) -> _Side:
    side = _Side(runs)
    ref = side.reference
    for n, run in enumerate(runs):
        match = match_layouts(ref, run.layout)
        stage_at, unit_at, job_at = {}, {}, {}
        missing = 0
        for i, j in match.units:
            if i is None or j is None:
                missing += 1
                continue
            unit = run.layout.units[j]
            if unit.execution_id is not None:
                unit_at[unit.execution_id] = i
            if unit.duration_ms is not None:
                side.unit_ms.setdefault(i, []).append(unit.duration_ms)
            for a, b in match.stages[(i, j)]:
                if a is None or b is None:
                    missing += 1
                    continue
                entry = unit.stages[b]
                side.stages.setdefault((i, a), []).append(entry)
                stage_at[entry.stage_id] = (i, a)
            for a, b in match.jobs[(i, j)]:
                if a is not None and b is not None:
                    side.jobs.setdefault((i, a), []).append(unit.jobs[b])
                    job_at[unit.jobs[b].job_id] = (i, a)
        if missing:
            side.notes.append(f"{label} run {n + 1} ({run.path}) is shaped differently from run 1: "
                              f"{missing} query or stage position(s) of one are not in the other, left out")
        side.stage_at.append(stage_at)
        side.unit_at.append(unit_at)
        side.job_at.append(job_at)
    return side


def _median_int(values: list[int]) -> int:
    return int(round(statistics.median(values)))


def _figures(metrics, base: list[dict] | None, new: list[dict] | None, thresholds: Thresholds) -> list[Figures]:
    out = []
    for m in metrics:
        b = _median_int([f[m] for f in base]) if base else None
        n = _median_int([f[m] for f in new]) if new else None
        exceeded = n is not None and thresholds.limits[m].exceeded(b or 0, n)
        out.append(Figures(m, b, n, exceeded))
    return out


def _exceeded_text(figures: list[Figures], thresholds: Thresholds) -> str:
    return "; ".join(f"{f.metric} {f.base or 0} -> {f.new} (limit +{thresholds.limits[f.metric]})"
                     for f in figures if f.exceeded)


# ---------------------------------------------------------------------------------------- two sides
def _conf_changes(base: Run, new: Run) -> list[tuple[str, str | None, str | None]]:
    a, b = base.report.model.environment, new.report.model.environment
    keys = sorted(k for k in set(a) | set(b)
                  if k not in IGNORED_CONF_KEYS and not k.startswith(IGNORED_CONF_PREFIXES) and a.get(k) != b.get(k))
    return [(k, a.get(k), b.get(k)) for k in keys]


class _Comparison:
    """Builds one application's diff; the slot maps tie positions of either side to rows."""

    def __init__(self, name: str, base: _Side, new: _Side, thresholds: Thresholds):
        self.base, self.new, self.t = base, new, thresholds
        self.app = ApplicationDiff(name, "matched", [r.path for r in base.runs], [r.path for r in new.runs])
        self.app.notes += base.notes + new.notes
        # (side, unit) -> "q3"; (side, unit, stage) -> "q3.s2"; (side, unit, job) -> "q3.j1"
        self.unit_slot: dict[tuple[str, int], str] = {}
        self.stage_slot: dict[tuple[str, int, int], str] = {}
        self.job_slot: dict[tuple[str, int, int], str] = {}

    def build(self) -> ApplicationDiff:
        base_ref, new_ref = self.base.reference, self.new.reference
        self.app.config_changes = _conf_changes(self.base.runs[0], self.new.runs[0])
        self.app.totals = _figures(APPLICATION_METRICS, [r.layout.figures for r in self.base.runs],
                                   [r.layout.figures for r in self.new.runs], self.t)
        self.app.duration = Timing([r.layout.duration_ms for r in self.base.runs],
                                   [r.layout.duration_ms for r in self.new.runs])
        match = match_layouts(base_ref, new_ref)
        for q, (i, j) in enumerate(match.units, 1):
            self._query(f"q{q}", i, j, match)
        self._time_gates()
        self._figure_gates()
        self._plan_gates()
        self._diagnoses()
        return self.app

    # ---- rows
    def _query(self, slot: str, i: int | None, j: int | None, match) -> None:
        base_ref, new_ref = self.base.reference, self.new.reference
        bu = base_ref.units[i] if i is not None else None
        nu = new_ref.units[j] if j is not None else None
        status = "matched" if bu and nu else ("removed" if bu else "added")
        if i is not None:
            self.unit_slot[("base", i)] = slot
        if j is not None:
            self.unit_slot[("new", j)] = slot
        change = None
        if bu and nu and bu.execution_id is not None and nu.execution_id is not None:
            change = compare_plans(
                plan_shape(self.base.runs[0].report.model.sql_executions[bu.execution_id]),
                plan_shape(self.new.runs[0].report.model.sql_executions[nu.execution_id]))
        self.app.queries.append(QueryRow(
            slot, call_site_label((nu or bu).label), status, bu.execution_id if bu else None, nu.execution_id if nu else None,
            change, Timing(self.base.unit_ms.get(i, []) if i is not None else [],
                           self.new.unit_ms.get(j, []) if j is not None else [])))
        label = call_site_label((nu or bu).label)
        stage_pairs = match.stages.get((i, j)) or (
            [(a, None) for a in range(len(bu.stages))] if bu else [(None, b) for b in range(len(nu.stages))])
        for s, (a, b) in enumerate(stage_pairs, 1):
            self._stage(f"{slot}.s{s}", label, i, a, j, b)
        job_pairs = match.jobs.get((i, j)) or (
            [(a, None) for a in range(len(bu.jobs))] if bu else [(None, b) for b in range(len(nu.jobs))])
        for n, (a, b) in enumerate(job_pairs, 1):
            self._job(f"{slot}.j{n}", label, i, a, j, b)

    def _stage(self, slot, query, i, a, j, b) -> None:
        base = self.base.stages.get((i, a), []) if a is not None else []
        new = self.new.stages.get((j, b), []) if b is not None else []
        if a is not None:
            self.stage_slot[("base", i, a)] = slot
        if b is not None:
            self.stage_slot[("new", j, b)] = slot
        status = "matched" if base and new else ("removed" if base else "added")
        role = (new or base)[0].role

        def skew(entries):
            values = [e.skew_ratio for e in entries if e.skew_ratio is not None]
            return statistics.median(values) if values else None

        self.app.stages.append(StageRow(
            slot, query, role, status, [e.stage_id for e in base[:1]], [e.stage_id for e in new[:1]],
            _figures(STAGE_METRICS, [e.figures for e in base], [e.figures for e in new], self.t),
            Timing([e.duration_ms for e in base], [e.duration_ms for e in new]), (skew(base), skew(new))))

    def _job(self, slot, query, i, a, j, b) -> None:
        base = self.base.jobs.get((i, a), []) if a is not None else []
        new = self.new.jobs.get((j, b), []) if b is not None else []
        if a is not None:
            self.job_slot[("base", i, a)] = slot
        if b is not None:
            self.job_slot[("new", j, b)] = slot
        status = "matched" if base and new else ("removed" if base else "added")
        self.app.jobs.append(JobRow(
            slot, query, status, [e.job_id for e in base[:1]], [e.job_id for e in new[:1]],
            _figures(STAGE_METRICS, [e.figures for e in base], [e.figures for e in new], self.t),
            Timing([e.duration_ms for e in base if e.duration_ms is not None],
                   [e.duration_ms for e in new if e.duration_ms is not None])))

    # ---- gates
    def _gate(self, name: str, kind: str, passed: bool, message: str) -> None:
        self.app.gates.append(Gate(self.app.name, name, kind, passed, message))

    def _figure_gates(self) -> None:
        text = _exceeded_text(self.app.totals, self.t)
        self._gate("application totals", "figures", not text,
                   text or "no total grew past its limit")
        for row in self.app.stages:
            if row.status == "removed":
                continue
            text = _exceeded_text(row.figures, self.t)
            where = f"stage id {row.new_stage_ids[0]} in NEW" + (", a stage only NEW runs" if row.status == "added" else "")
            self._gate(f"stage {row.slot}: {row.label}", "figures", not text,
                       f"{where}: {text}" if text else f"{where}: within limits")

    def _plan_gates(self) -> None:
        for q in self.app.queries:
            if q.base_execution_id is None or q.new_execution_id is None:
                continue
            if q.plan_change is None:
                self._gate(f"plan {q.slot}: {q.label}", "plan", True, "same physical plan shape")
            else:
                self._gate(f"plan {q.slot}: {q.label}", "plan", self.t.allow_plan_changes,
                           f"query {q.base_execution_id} -> {q.new_execution_id}: {q.plan_change.summary()}")

    def _timings(self) -> list[tuple[str, Timing]]:
        named = [("application", self.app.duration)]
        named += [(f"query {q.slot}: {q.label}", q.timing) for q in self.app.queries if q.status == "matched"]
        named += [(f"stage {s.slot}: {s.label}", s.timing) for s in self.app.stages if s.status == "matched"]
        return named

    def _time_gates(self) -> None:
        n_base, n_new = len(self.base.runs), len(self.new.runs)
        smallest = stats.smallest_p(n_base, n_new)
        if smallest > self.t.alpha:
            self.app.notes.append(
                f"times are reported, not gated: {n_base} BASE run(s) and {n_new} NEW run(s) cannot show a "
                f"slowdown at alpha={self.t.alpha:g} (the smallest possible p-value is {smallest:.3g}); "
                f"gate times with repeated runs, e.g. 5 logs a side (--base ... --new ...)")
            return
        tested = [(name, t) for name, t in self._timings()
                  if len(t.base_ms) == n_base and len(t.new_ms) == n_new]
        for _, t in tested:
            t.p_value = stats.mann_whitney_greater(t.base_ms, t.new_ms)
        rejected = stats.holm_rejections([t.p_value for _, t in tested], self.t.alpha)
        limit = self.t.limits[TIME_METRIC]
        for (name, t), significant in zip(tested, rejected):
            slower = t.new_median - t.base_median
            t.regressed = (significant and slower >= self.t.time_floor_ms
                           and limit.exceeded(t.base_median, t.new_median))
            summary = (f"median {t.base_median:.0f} ms -> {t.new_median:.0f} ms over {n_base} and {n_new} runs, "
                       f"Mann-Whitney one-sided p={t.p_value:.3g}")
            if t.regressed:
                message = f"slower: {summary} (Holm-corrected alpha {self.t.alpha:g}; limit +{limit})"
            elif significant:
                message = f"a significant but small change ({summary}; limit +{limit}, at least {self.t.time_floor_ms} ms)"
            else:
                message = f"no significant slowdown: {summary}"
            self._gate(f"time {name}", "time", not t.regressed, message)

    # ---- diagnoses
    def _positions(self, side: str, runs: _Side, n: int, d: Diagnosis) -> frozenset[str]:
        loc = d.location
        slots = {self.stage_slot.get((side, *runs.stage_at[n][sid])) for sid in loc.stage_ids
                 if sid in runs.stage_at[n]}
        if not slots - {None} and loc.job_ids:
            slots = {self.job_slot.get((side, *runs.job_at[n][jid])) for jid in loc.job_ids if jid in runs.job_at[n]}
        if not slots - {None} and loc.sql_execution_id is not None and loc.sql_execution_id in runs.unit_at[n]:
            slots = {self.unit_slot.get((side, runs.unit_at[n][loc.sql_execution_id]))}
        slots.discard(None)
        return frozenset(slots or {"application"})

    def _found(self, side: str, runs: _Side) -> list[tuple[Diagnosis, frozenset[str], int]]:
        """Each finding (low and above) with its position, and in how many of the side's runs it appears."""
        seen: list[tuple[Diagnosis, frozenset[str], set[int]]] = []
        for n, run in enumerate(runs.runs):
            for d in run.report.findings:
                where = self._positions(side, runs, n, d)
                same = next((s for s in seen if s[0].kind == d.kind and _overlaps(s[1], where)), None)
                if same:
                    same[2].add(n)
                else:
                    seen.append((d, where, {n}))
        return [(d, where, len(in_runs)) for d, where, in_runs in seen]

    def _diagnoses(self) -> None:
        base = self._found("base", self.base)
        new = self._found("new", self.new)
        majority = math.ceil(len(self.new.runs) / 2)
        for d, where, count in new:
            if count >= majority and not any(b.kind == d.kind and _overlaps(w, where) for b, w, _ in base):
                self.app.new_diagnoses.append(DiagnosisChange(d, ", ".join(sorted(where)), count))
        for d, where, count in base:
            if not any(n.kind == d.kind and _overlaps(w, where) for n, w, _ in new):
                self.app.resolved_diagnoses.append(DiagnosisChange(d, ", ".join(sorted(where)), count))
        fail_on = self.t.fail_on_new_diagnosis
        gating = [c for c in self.app.new_diagnoses if fail_on is not None and c.diagnosis.severity >= fail_on]
        message = "; ".join(f"{c.diagnosis.severity} {c.diagnosis.kind} at {c.where}: {c.diagnosis.title}"
                            for c in gating)
        floor = f"at {fail_on} or above" if fail_on is not None else "(not gated)"
        self._gate("new diagnoses", "diagnoses", not gating, message or f"no new diagnosis {floor}")


def _overlaps(a: frozenset[str], b: frozenset[str]) -> bool:
    """Same place: a shared slot, or a query-level place holding the other's stage or job."""
    if a & b:
        return True
    queries_a = {s.split(".")[0] for s in a}
    queries_b = {s.split(".")[0] for s in b}
    return bool((a & queries_b) or (b & queries_a))


# ---------------------------------------------------------------------------------------- entry
def _by_name(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for run in runs:
        out.setdefault(run.name, []).append(run)
    return out


def compare_runs(name: str, base: list[Run], new: list[Run], thresholds: Thresholds) -> ApplicationDiff:
    """One application: BASE's runs against NEW's (one or more each)."""
    diff = _Comparison(name, _side(base, "BASE"), _side(new, "NEW"), thresholds).build()
    if base[0].name != new[0].name:
        diff.notes.insert(0, f"the applications have different names: BASE {base[0].name!r}, NEW {new[0].name!r}")
    return diff


def diff_logs(base_paths: list[str], new_paths: list[str], thresholds: Thresholds | None = None,
              detector_config: dict | None = None) -> DiffResult:
    """Compare the applications under ``base_paths`` with those under ``new_paths``."""
    thresholds = thresholds or Thresholds()
    base = _by_name(load_runs(base_paths, "BASE", detector_config))
    new = _by_name(load_runs(new_paths, "NEW", detector_config))
    if len(base) == 1 and len(new) == 1:
        [base_runs], [(new_name, new_runs)] = base.values(), new.items()
        return DiffResult([compare_runs(new_name, base_runs, new_runs, thresholds)], thresholds)
    apps = []
    for name in sorted(set(base) | set(new)):
        if name in base and name in new:
            apps.append(compare_runs(name, base[name], new[name], thresholds))
        elif name in base:
            app = ApplicationDiff(name, "removed", [r.path for r in base[name]], [])
            app.gates.append(Gate(name, "application present in NEW", "application", False,
                                  f"{name!r} is in BASE ({base[name][0].path}) but no NEW log has it"))
            apps.append(app)
        else:
            apps.append(ApplicationDiff(name, "added", [], [r.path for r in new[name]],
                                        notes=[f"{name!r} is only in NEW: nothing to compare it with"]))
    return DiffResult(apps, thresholds)
