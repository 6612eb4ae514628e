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


def _critical_paths(model: AppModel) -> list[Diagnosis]:
    stages = {s["stage_id"]: s for s in model.stages.to_pylist() if s["ran"]}
    out = []
    for job in model.jobs.to_pylist():
        ids = [s for s in job["stage_ids"] or [] if s in stages]
        if len(ids) < 2:
            continue
        memo: dict[int, tuple[int, list[int]]] = {}

        def longest(sid: int) -> tuple[int, list[int]]:
            if sid not in memo:
                own = stages[sid]["duration_ms"] or 0
                best = max((longest(p) for p in stages[sid]["parent_ids"] if p in stages), default=(0, []))
                memo[sid] = (own + best[0], best[1] + [sid])
            return memo[sid]

        length, path = max(longest(s) for s in ids)
        if job["completed"] is None or job["submitted"] is None:
            continue  # the job did not finish in this log: its path is not known yet
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
