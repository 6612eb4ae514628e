"""GC pressure: stages whose tasks spent a large share of their time in the JVM garbage collector."""
from __future__ import annotations

from diag.detectors.common import Thresholds, severity_by_share, successful_stage_tasks
from diag.diagnosis import Diagnosis, Location
from diag.model import AppModel

GC_SHARE = 0.1  # of task run time
MIN_GC_MS = 2000  # summed over the stage's tasks
MIN_MEDIAN_TASK_MS = 100  # GC in tasks shorter than this is per-task overhead (see tiny_tasks), not memory pressure


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    out = []
    for stage in successful_stage_tasks(model):
        gc = stage.sum("jvm_gc_time_ms")
        run = stage.sum("executor_run_time_ms")
        if run <= 0 or gc < t.MIN_GC_MS or gc / run < t.GC_SHARE:
            continue
        if stage.median("duration_ms") < t.MIN_MEDIAN_TASK_MS:
            continue
        out.append(Diagnosis(
            kind="gc_pressure", severity=severity_by_share(gc // max(1, stage.tasks.num_rows), model.duration_ms),
            title=f"Stage {stage.stage_id}: {gc / run:.0%} of task time in garbage collection",
            location=Location(model.app_id, stage_ids=(stage.stage_id,), stage_attempt=stage.attempt),
            evidence={"gc_ms": gc, "run_time_ms": run, "gc_share": round(gc / run, 3)},
            explanation="Tasks created objects faster than the JVM could collect them, pausing work.",
            recommendation=("Give each task less data (more partitions), avoid caching deserialized objects you do "
                            "not reuse, raise spark.executor.memory, or try G1GC settings (-XX:+UseG1GC)."),
            estimated_cost_ms=gc // max(1, stage.tasks.num_rows)))
    return out
