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
from diag.model import AppModel, PlanNode

FACTOR = 5.0  # max / median, as AQE's spark.sql.adaptive.skewJoin.skewedPartitionFactor
MIN_TASKS = 4  # fewer tasks than this cannot show a median worth comparing
MIN_EXCESS_MS = 200  # the straggler must cost at least this much over the median
AQE_THRESHOLD_BYTES = 256 << 20  # spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes

SHUFFLED_JOINS = ("SortMergeJoin", "ShuffledHashJoin")
# Operators that need their input clustered by key: splitting a join partition below one of them in
# the same stage would need another shuffle, so AQE leaves the join alone.
NEEDS_PARTITIONING = ("HashAggregate", "ObjectHashAggregate", "SortAggregate", "Window", *SHUFFLED_JOINS)
# Where a stage's operators end, looking up from a join in an adaptive plan.
STAGE_TOPS = ("Exchange", "ShuffleQueryStage", "BroadcastQueryStage", "ResultQueryStage", "AdaptiveSparkPlan")


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


def _execution_of(model: AppModel, stage_id: int):
    """The SQL execution whose job ran ``stage_id``, or None (an RDD job, or no SQL events)."""
    for job in model.jobs.to_pylist():
        if stage_id in (job["stage_ids"] or []) and job["sql_execution_id"] in model.sql_executions:
            return model.sql_executions[job["sql_execution_id"]]
    return None


def _join_type(join: PlanNode) -> str:
    """``fullouter``, ``inner``, ...: Spark writes ``FullOuter``, Ember ``full_outer``."""
    words = (w.lower().replace("_", "") for w in join.description.replace(",", " ").split())
    known = {"inner", "cross", "leftouter", "rightouter", "fullouter", "leftsemi", "leftanti"}
    return next((w for w in words if w in known), "")


def _exchanges_below(execution, node: PlanNode) -> list[PlanNode]:
    """The nearest Exchange under each input of ``node``: the shuffles its stage reads."""
    children = [n for n in execution.nodes if n.parent_id == node.node_id]
    found = []
    for child in children:
        found += [child] if child.name == "Exchange" else _exchanges_below(execution, child)
    return found


def _reads(stage: StageTasks, exchanges: list[PlanNode]) -> bool:
    """Whether ``stage`` is the one reading ``exchanges``: it read as many shuffle records as they
    wrote. The stage-to-plan link a log gives without per-task accumulables."""
    written = sum(e.metrics.get("shuffle records written", 0) for e in exchanges)
    return bool(exchanges) and written == stage.sum("shuffle_records_read")


def _partitioning_needed_above(execution, join: PlanNode) -> PlanNode | None:
    """The first operator above ``join`` in the same stage that needs the join's partitioning."""
    by_id = {n.node_id: n for n in execution.nodes}
    node = by_id.get(join.parent_id)
    while node is not None and not node.name.startswith(STAGE_TOPS):
        partial = node.name.endswith("Aggregate") and "partial_" in node.description
        if node.name.startswith(NEEDS_PARTITIONING) and not partial:
            return node
        node = by_id.get(node.parent_id)
    return None


def _aqe_limits(model: AppModel, stage: StageTasks, max_bytes: float, t) -> tuple[list[str], str]:
    """Why AQE (on, with skew-join handling on) left the skewed partition whole, and the fix.

    Spark's OptimizeSkewedJoin only splits partitions of a shuffle that Spark itself added for a
    shuffled join (never a ``repartition(n)`` the code asked for, never an aggregation's or a
    window's shuffle), only on a side whose unmatched rows the join does not keep (never a full
    outer join), only when no operator above the join in its stage needs the join's partitioning,
    and only partitions over both the factor and the byte threshold."""
    salt = ("Salt the hot key (add a random suffix to it on the large side, replicate the matching rows of the "
            "other side, and aggregate twice), or handle the hot key separately and union the result back.")
    threshold = conf_bytes(model, "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes",
                           t.AQE_THRESHOLD_BYTES)
    under_threshold = (f"it only splits join partitions over "
                       f"spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes ({mib(threshold)} MiB), and "
                       f"this one is {mib(max_bytes)} MiB")
    execution = _execution_of(model, stage.stage_id)
    if execution is None:  # no plan to tell a join from an aggregation
        return ([under_threshold] if max_bytes < threshold else []), salt
    for exchange in execution.nodes_named("Exchange"):
        if "REPARTITION_BY_NUM" in exchange.description and _reads(stage, [exchange]):
            return ([f"the shuffle is the code's own repartition ({exchange.description}), and AQE never splits "
                     "or coalesces a partitioning the code asked for"],
                    "Replace repartition(n, key) with the rebalance hint (df.hint(\"rebalance\", key)), whose "
                    "skewed partitions AQE splits (spark.sql.adaptive.optimizeSkewsInRebalancePartitions.enabled), "
                    "or salt the key.")
    joins = [j for j in execution.nodes_named(*SHUFFLED_JOINS) if _reads(stage, _exchanges_below(execution, j))]
    if not joins:
        return ["the skewed shuffle feeds an aggregation or a window, not a join, and AQE splits only join "
                "partitions"], salt
    join = joins[0]
    reasons = []
    if _join_type(join) == "fullouter":
        reasons.append(f"the {join.name} is a full outer join, which keeps the unmatched rows of both sides, "
                       "so neither side can be split")
    above = _partitioning_needed_above(execution, join)
    if above is not None:
        reasons.append(f"the {above.name} above the {join.name} needs the join's partitioning, so splitting "
                       "the join's partition would need another shuffle")
    if max_bytes < threshold:
        reasons.append(under_threshold)
        if len(reasons) == 1:
            suggested = max(1 << 20, int(max_bytes // 2))
            return reasons, (f"Lower spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes to about "
                             f"{suggested} ({mib(suggested)} MiB) for this job, or salt the hot key.")
    return reasons, salt


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
    else:
        reasons, fix = _aqe_limits(model, stage, max_bytes, t)
        why = "AQE is on but did not split it: " + "; ".join(reasons) + "." if reasons else \
            "AQE is on but did not split it."
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
