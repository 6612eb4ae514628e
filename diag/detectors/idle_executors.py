"""Idle executors: core-time the application had versus core-time its tasks used (Sparklens' view).

Also reports each job's critical path through its stage DAG: the chain of stages that bounds the
job's duration whatever the parallelism.
"""
from __future__ import annotations

import pyarrow.compute as pc

from diag.detectors.common import Thresholds, total_cores
from diag.diagnosis import Diagnosis, Location, Severity
from diag.model import AppModel

MIN_APP_MS = 60_000  # shorter applications are all start-up: never a finding
LOW_UTILIZATION = 0.3


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    cores = total_cores(model)
    duration = model.duration_ms
    used = int(pc.sum(model.tasks["duration_ms"]).as_py() or 0) if model.tasks.num_rows else 0
    available = duration * cores
    if available <= 0:
        return []
    utilization = used / available
    finding = duration >= t.MIN_APP_MS and utilization < t.LOW_UTILIZATION
    out = [Diagnosis(
        kind="idle_executors", severity=Severity.MODERATE if finding else Severity.INFO,
        title=f"Cores were busy {utilization:.0%} of the application's {duration / 1000:.0f} s",
        location=Location(model.app_id),
        evidence={"cores": cores, "app_ms": duration, "core_ms_available": available, "core_ms_used": used,
                  "utilization": round(utilization, 3)},
        explanation=("Core-time available (cores x wall time) against core-time tasks used. Idle time is driver "
                     "work (planning, collecting results, Python between actions), stages with fewer tasks than "
                     "cores, and waiting for stragglers."),
        recommendation=("Use fewer cores (smaller executors or dynamic allocation: spark.dynamicAllocation.enabled=true) "
                        "or give them more parallel work; move driver-side Python loops into Spark." if finding else
                        "Nothing to do at this size."),
        estimated_cost_ms=int(duration * (1 - utilization)) if finding else 0)]
    out += _critical_paths(model)
    return out


def _stages_run_by(job: dict, ran: dict[int, dict]) -> dict[int, dict]:
    """The stages of ``job`` that ran as part of it. A job also lists the stages whose output an
    earlier job already computed, as skipped: with AQE every query stage is a job of its own and the
    final job lists them all. Spark gives a skipped stage a new id that never runs; Ember's engine
    reuses the id of the stage that ran earlier. Either way, a stage submitted before the job was
    did not run for it and must not lengthen its path."""
    return {sid: ran[sid] for sid in job["stage_ids"] or []
            if sid in ran and (ran[sid]["submitted"] or 0) >= job["submitted"]}


def _critical_paths(model: AppModel) -> list[Diagnosis]:
    ran = {s["stage_id"]: s for s in model.stages.to_pylist() if s["ran"]}
    out = []
    for job in model.jobs.to_pylist():
        if job["completed"] is None or job["submitted"] is None:
            continue  # the job did not finish in this log: its path is not known yet
        stages = _stages_run_by(job, ran)
        if len(stages) < 2:
            continue
        memo: dict[int, tuple[int, list[int]]] = {}

        def longest(sid: int) -> tuple[int, list[int]]:
            if sid not in memo:
                own = stages[sid]["duration_ms"] or 0
                best = max((longest(p) for p in stages[sid]["parent_ids"] if p in stages), default=(0, []))
                memo[sid] = (own + best[0], best[1] + [sid])
            return memo[sid]

        length, path = max(longest(s) for s in stages)
        job_ms = job["completed"] - job["submitted"]
        out.append(Diagnosis(
            kind="critical_path", severity=Severity.INFO,
            title=f"Job {job['job_id']}: critical path {' -> '.join(map(str, path))} ({length} ms of {job_ms} ms)",
            location=Location(model.app_id, job_ids=(job["job_id"],), stage_ids=tuple(path)),
            evidence={"path": " -> ".join(map(str, path)), "path_ms": length, "job_ms": job_ms},
            explanation="The chain of dependent stages that bounds this job's duration: speed these up first.",
            recommendation="Work on the longest stage of the path first.",
            estimated_cost_ms=0))
    return out
