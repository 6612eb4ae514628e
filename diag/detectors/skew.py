"""Skew: a few tasks of a stage take far longer than the rest.

A task that runs ``FACTOR`` times the stage's median duration is a straggler. Whether it is data
skew depends on what it read: if it also read ``FACTOR`` times the median bytes or records, one
partition holds too much data (a hot key). If not, the cause is elsewhere: a slow host when the
stragglers share one executor, or warm-up (JIT, Python workers) when they are the first tasks of
the stage with ordinary data — the trap that makes healthy stages look skewed.
"""
from __future__ import annotations

import pyarrow.compute as pc

from diag.detectors.common import (
    StageTasks,
    Thresholds,
    conf_bytes,
    mib,
    severity_by_share,
    successful_stage_tasks,
)
from diag.diagnosis import Diagnosis, Location, Severity
from diag.model import AppModel

FACTOR = 5.0  # max / median, as AQE's spark.sql.adaptive.skewJoin.skewedPartitionFactor
MIN_TASKS = 4  # fewer tasks than this cannot show a median worth comparing
MIN_EXCESS_MS = 200  # the straggler must cost at least this much over the median
AQE_THRESHOLD_BYTES = 256 << 20  # spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes


def _data_per_task(stage: StageTasks):
    t = stage.tasks
    read_bytes = pc.add(pc.add(t["shuffle_remote_bytes_read"], t["shuffle_local_bytes_read"]), t["input_bytes"])
    records = pc.add(t["shuffle_records_read"], t["input_records"])
    return read_bytes, records


def _ratio(values) -> tuple[float, float, float]:
    median = float(pc.approximate_median(values).as_py() or 0)
    top = float(pc.max(values).as_py() or 0)
    return median, top, (top / median if median > 0 else (float("inf") if top > 0 else 1.0))


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    out = []
    aqe = model.conf_bool("spark.sql.adaptive.enabled", True)
    skew_join = model.conf_bool("spark.sql.adaptive.skewJoin.enabled", True)
    for stage in successful_stage_tasks(model):
        if stage.tasks.num_rows < t.MIN_TASKS:
            continue
        median_ms, max_ms, time_ratio = _ratio(stage.column("duration_ms"))
        if time_ratio < t.FACTOR or max_ms - median_ms < t.MIN_EXCESS_MS:
            continue
        read_bytes, records = _data_per_task(stage)
        median_b, max_b, bytes_ratio = _ratio(read_bytes)
        median_r, max_r, records_ratio = _ratio(records)
        slowest = stage.tasks.take([pc.index(stage.column("duration_ms"), max_ms).as_py()]).to_pylist()[0]
        evidence = {
            "tasks": stage.tasks.num_rows, "median_task_ms": median_ms, "max_task_ms": max_ms,
            "duration_ratio": round(time_ratio, 1), "median_read_mib": mib(median_b), "max_read_mib": mib(max_b),
            "read_bytes_ratio": round(bytes_ratio, 1), "median_records": median_r, "max_records": max_r,
            "slowest_task_index": slowest["index"], "slowest_task_host": slowest["host"],
        }
        cost = max_ms - median_ms
        where = Location(model.app_id, stage_ids=(stage.stage_id,), stage_attempt=stage.attempt)
        if bytes_ratio >= t.FACTOR or records_ratio >= t.FACTOR:
            out.append(_data_skew(model, stage, evidence, cost, where, aqe, skew_join, max_b, t))
        else:
            out.append(_not_data_skew(model, stage, evidence, cost, where, t))
    return out


def _data_skew(model, stage, evidence, cost, where, aqe, skew_join, max_bytes, t) -> Diagnosis:
    if not aqe:
        why = ("Adaptive query execution is off (spark.sql.adaptive.enabled=false), so Spark could not split "
               "the oversized partition.")
        fix = ("Turn on spark.sql.adaptive.enabled=true and spark.sql.adaptive.skewJoin.enabled=true so Spark "
               "splits skewed join partitions; if the skew is in an aggregation, salt the hot key (add a random "
               "suffix, aggregate, then aggregate again without it).")
    elif not skew_join:
        why = "AQE is on but its skew-join handling is off (spark.sql.adaptive.skewJoin.enabled=false)."
        fix = "Set spark.sql.adaptive.skewJoin.enabled=true, or salt the hot key."
    elif max_bytes < t.AQE_THRESHOLD_BYTES:
        threshold = conf_bytes(model, "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes",
                               t.AQE_THRESHOLD_BYTES)
        why = (f"AQE is on, but it only splits partitions over "
               f"spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes ({mib(threshold)} MiB); this one "
               f"is {evidence['max_read_mib']} MiB. Skew in an aggregation or window is never split by AQE.")
        suggested = max(1 << 20, int(max_bytes // 2))
        fix = (f"Lower spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes to about {suggested} "
               f"({mib(suggested)} MiB) for this job, or salt the hot key.")
    else:
        why = "AQE's skew join could not split it: the skew is probably in an aggregation, a window or an outer join side AQE cannot split."
        fix = "Salt the hot key, or pre-aggregate it separately and union the result back."
    return Diagnosis(
        kind="skew",
        severity=severity_by_share(cost, model.duration_ms),
        title=(f"Stage {stage.stage_id}: one task ran {evidence['duration_ratio']}x the median and read "
               f"{evidence['read_bytes_ratio']}x the median data"),
        location=where,
        evidence=evidence | {"aqe_enabled": str(aqe).lower()},
        explanation=(f"Task {evidence['slowest_task_index']} of stage {stage.stage_id} took "
                     f"{evidence['max_task_ms']:.0f} ms against a median of {evidence['median_task_ms']:.0f} ms, "
                     f"because its partition held {evidence['max_read_mib']} MiB / {evidence['max_records']:.0f} "
                     f"records against a median of {evidence['median_read_mib']} MiB / "
                     f"{evidence['median_records']:.0f}: a few keys hold most of the data. {why}"),
        recommendation=fix,
        estimated_cost_ms=int(cost),
    )


def _not_data_skew(model, stage: StageTasks, evidence, cost, where, t) -> Diagnosis:
    durations = stage.column("duration_ms")
    median = evidence["median_task_ms"]
    slow = stage.tasks.filter(pc.greater_equal(durations, median * t.FACTOR))
    hosts = set(slow["executor_id"].to_pylist())
    first_launch = pc.min(stage.column("launch_time")).as_py()
    slow_first_wave = all(lt - first_launch < median for lt in slow["launch_time"].to_pylist())
    all_hosts = set(stage.column("executor_id").to_pylist())
    if len(hosts) == 1 and len(all_hosts) > 1:
        host = next(iter(hosts))
        return Diagnosis(
            kind="slow_executor", severity=severity_by_share(cost, model.duration_ms),
            title=f"Stage {stage.stage_id}: the slow tasks all ran on executor {host}, with ordinary data",
            location=where, evidence=evidence | {"slow_executor": host},
            explanation=("The stragglers read no more data than the other tasks, and all ran on one executor: "
                         "that machine is slow (busy, failing disk, noisy neighbour), not the data."),
            recommendation=(f"Check executor {host}'s host; turn on spark.speculation=true so a straggler gets "
                            "a copy on another executor."),
            estimated_cost_ms=int(cost))
    kind_of = "first tasks of the stage (warm-up: JIT compilation, Python workers starting)" if slow_first_wave \
        else "tasks with ordinary data"
    return Diagnosis(
        kind="straggler", severity=Severity.INFO, title=f"Stage {stage.stage_id}: slow {kind_of}",
        location=where, evidence=evidence | {"first_wave": str(slow_first_wave).lower()},
        explanation=("Some tasks took much longer than the median but read the same amount of data, so this is "
                     "not data skew." + (" They were the first tasks launched: warm-up." if slow_first_wave else "")),
        recommendation="Nothing to change in the data layout; spark.speculation=true helps if it recurs.",
        estimated_cost_ms=int(cost))
