"""Task failures and executor loss: attempts that failed, grouped by reason, and the time they wasted."""
from __future__ import annotations

from collections import Counter, defaultdict

import pyarrow.compute as pc

from diag.detectors.common import Thresholds
from diag.diagnosis import Diagnosis, Location, Severity
from diag.model import AppModel

MAX_REASONS = 5  # reasons listed in the evidence


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    out = []
    tasks = model.tasks
    failed = tasks.filter(pc.not_equal(tasks["end_reason"], "Success"))
    if failed.num_rows:
        reasons = Counter(failed["failure"].to_pylist())
        stages = sorted(set(failed["stage_id"].to_pylist()))
        wasted = int(pc.sum(failed["duration_ms"]).as_py() or 0)
        kinds = Counter(failed["end_reason"].to_pylist())
        failed_jobs = [j["job_id"] for j in model.jobs.to_pylist() if j["result"] == "JobFailed"]
        severity = Severity.CRITICAL if failed_jobs else (
            Severity.MODERATE if failed.num_rows >= 10 or "ExecutorLostFailure" in kinds else Severity.LOW)
        top = reasons.most_common(t.MAX_REASONS)
        evidence = {"failed_attempts": failed.num_rows, "stages": ", ".join(map(str, stages)),
                    "failed_jobs": len(failed_jobs), "wasted_task_ms": wasted}
        evidence |= {f"reason_{i + 1}": f"{n}x {text}"[:300] for i, (text, n) in enumerate(top)}
        retried = _retried_then_succeeded(tasks)
        out.append(Diagnosis(
            kind="task_failures", severity=severity,
            title=(f"{failed.num_rows} task attempts failed in {len(stages)} stage(s)"
                   + (f"; {len(failed_jobs)} job(s) failed" if failed_jobs else f"; {retried} recovered on retry")),
            location=Location(model.app_id, job_ids=tuple(failed_jobs), stage_ids=tuple(stages)),
            evidence=evidence,
            explanation=("Failed attempts redo their work from the start; " + (
                "a task that failed spark.task.maxFailures times failed its job." if failed_jobs else
                "every one succeeded on a retry, so the cost is time, not results.") +
                f" Most common reason: {top[0][0]}"),
            recommendation=_fix_for(kinds, top[0][0] or ""),
            estimated_cost_ms=wasted,
        ))
    lost = [e for e in model.executors.to_pylist() if e["removed"] is not None]
    if lost:
        reasons = defaultdict(list)
        for e in lost:
            reasons[e["removed_reason"] or "unknown"].append(e["executor_id"])
        out.append(Diagnosis(
            kind="executor_loss", severity=Severity.MODERATE,
            title=f"{len(lost)} executor(s) were lost",
            location=Location(model.app_id),
            evidence={f"reason_{i + 1}": f"{', '.join(ids)}: {reason}"[:300]
                      for i, (reason, ids) in enumerate(reasons.items())},
            explanation="Losing an executor loses its running tasks and its shuffle output, which must be recomputed.",
            recommendation=("If executors were killed for memory (exit code 137, 'Container killed'), raise "
                            "spark.executor.memoryOverhead or lower spark.executor.cores; otherwise check the "
                            "cluster manager's logs for the hosts."),
            estimated_cost_ms=0,
        ))
    return out


def _retried_then_succeeded(tasks) -> int:
    ok = {(s, i) for s, i, r in zip(tasks["stage_id"].to_pylist(), tasks["index"].to_pylist(),
                                    tasks["end_reason"].to_pylist()) if r == "Success"}
    bad = {(s, i) for s, i, r in zip(tasks["stage_id"].to_pylist(), tasks["index"].to_pylist(),
                                     tasks["end_reason"].to_pylist()) if r != "Success"}
    return len(bad & ok)


def _fix_for(kinds: Counter, reason: str) -> str:
    if "FetchFailed" in kinds:
        return ("Shuffle output was lost or unreadable: check executor loss and disk space; an external shuffle "
                "service (spark.shuffle.service.enabled=true) keeps shuffle files when executors die.")
    if "ExecutorLostFailure" in kinds:
        return "Executors died under the tasks: see the executor-loss finding; usually memory overhead."
    if "OutOfMemory" in reason or "Java heap" in reason:
        return "Tasks ran out of memory: raise spark.sql.shuffle.partitions so each task holds less, or raise spark.executor.memory."
    return ("Fix the error the tasks raise (see the reasons); if it is transient (network, a flaky service), "
            "spark.task.maxFailures bounds the retries.")
