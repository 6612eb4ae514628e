"""Tiny tasks and too few tasks: the partition count does not fit the data or the cores.

Thousands of tasks that each run a few milliseconds spend more time being scheduled, serialized
and fetched than computing. At the other end, a long stage with fewer tasks than cores leaves
cores idle.
"""
from __future__ import annotations

from diag.detectors.common import Thresholds, severity_by_share, successful_stage_tasks, total_cores
from diag.diagnosis import Diagnosis, Location, Severity
from diag.model import AppModel

MIN_TASKS = 1000  # a stage with at least this many tasks ...
TINY_TASK_MS = 50  # ... whose median task is under this is mostly overhead
TASK_OVERHEAD_MS = 5  # what scheduling and launching one task costs, roughly
LONG_STAGE_MS = 30_000  # a stage this long with fewer tasks than cores wastes cores


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    out = []
    cores = total_cores(model)
    partitions = model.conf("spark.sql.shuffle.partitions", "200")
    for stage in successful_stage_tasks(model):
        n = stage.tasks.num_rows
        median = stage.median("duration_ms")
        where = Location(model.app_id, stage_ids=(stage.stage_id,), stage_attempt=stage.attempt)
        if n >= t.MIN_TASKS and median < t.TINY_TASK_MS:
            cost = n * t.TASK_OVERHEAD_MS // max(1, cores)
            target = max(cores * 2, n // 50)
            out.append(Diagnosis(
                kind="tiny_tasks", severity=severity_by_share(cost, model.duration_ms),
                title=f"Stage {stage.stage_id}: {n} tasks with a median of {median:.0f} ms",
                location=where,
                evidence={"tasks": n, "median_task_ms": median, "cores": cores, "shuffle_partitions": partitions},
                explanation=(f"{n} tasks each doing a few milliseconds of work: the fixed cost of scheduling, "
                             "launching and fetching shuffle blocks for every task outweighs the work."),
                recommendation=(f"Use fewer partitions: spark.sql.shuffle.partitions={target} (it is {partitions}), "
                                "or let AQE coalesce them (spark.sql.adaptive.enabled=true, "
                                "spark.sql.adaptive.coalescePartitions.enabled=true)."),
                estimated_cost_ms=cost))
            continue
        wall = stage.max("finish_time") - min(stage.column("launch_time").to_pylist() or [0])
        if 0 < n < cores and wall >= t.LONG_STAGE_MS:
            idle = int(wall * (cores - n) / cores)
            out.append(Diagnosis(
                kind="too_few_partitions", severity=max(Severity.LOW, severity_by_share(idle, model.duration_ms)),
                title=f"Stage {stage.stage_id}: {n} tasks for {cores} cores over {wall / 1000:.0f} s",
                location=where, evidence={"tasks": n, "cores": cores, "stage_wall_ms": wall},
                explanation="The stage had fewer tasks than cores, so most cores sat idle while it ran.",
                recommendation=f"Repartition to at least {cores * 2} partitions before this stage (df.repartition({cores * 2})).",
                estimated_cost_ms=idle))
    return out
