"""Detector logic on fake models (see builders.py); the real-log tests are in test_diagnose_real_logs.py."""
from __future__ import annotations

from dataclasses import replace

import pyarrow as pa

from diag.detectors import (
    gc_pressure,
    idle_executors,
    run_detectors,
    shuffle_heavy,
    skew,
    spill,
    task_failures,
    tiny_tasks,
)
from diag.diagnosis import Severity
from diag.model import PlanNode, SQLExecution
from tests.diag.builders import app, stage, task


def _skewed_stage(read_hot: int, executor_hot: str = "1", launch_hot: int = 5_000):
    tasks = [task(3, duration_ms=200, shuffle_local_bytes_read=1 << 20, shuffle_records_read=1000,
                  executor_id=str(i % 2 + 1), launch_time=1_000 + 300 * i) for i in range(9)]
    tasks.append(task(3, duration_ms=4_000, shuffle_local_bytes_read=read_hot, shuffle_records_read=read_hot >> 10,
                      executor_id=executor_hot, launch_time=launch_hot))
    return tasks


def test_data_skew_is_found_with_evidence_and_the_aqe_reason():
    model = app(_skewed_stage(40 << 20), conf={"spark.sql.adaptive.enabled": "false"})
    [d] = skew.detect(model)
    assert d.kind == "skew" and d.location.stage_ids == (3,)
    assert d.evidence["max_task_ms"] == 4000 and d.evidence["read_bytes_ratio"] >= 40
    assert "spark.sql.adaptive.enabled=false" in d.explanation
    assert "spark.sql.adaptive.skewJoin.enabled=true" in d.recommendation
    assert d.estimated_cost_ms == 3800 and d.severity >= Severity.SEVERE


def test_aqe_on_but_partition_under_its_threshold_says_so():
    [d] = skew.detect(app(_skewed_stage(40 << 20)))
    assert "skewedPartitionThresholdInBytes (256.0 MiB)" in d.explanation


def test_slow_task_with_ordinary_data_on_one_executor_is_a_slow_host():
    tasks = [task(3, duration_ms=200, shuffle_local_bytes_read=1 << 20, executor_id=str(i % 3 + 1),
                  launch_time=1_000 + 500 * i) for i in range(9)]
    tasks.append(task(3, duration_ms=4_000, shuffle_local_bytes_read=1 << 20, executor_id="9", launch_time=6_000))
    tasks.append(task(3, duration_ms=3_500, shuffle_local_bytes_read=1 << 20, executor_id="9", launch_time=6_100))
    kinds = {d.kind for d in skew.detect(app(tasks))}
    assert kinds == {"slow_executor"}


def test_warm_up_first_wave_is_information_not_a_finding():
    tasks = [task(3, duration_ms=3_000, shuffle_local_bytes_read=1 << 20, launch_time=1_000, executor_id=str(i))
             for i in range(2)]
    tasks += [task(3, duration_ms=200, shuffle_local_bytes_read=1 << 20, launch_time=4_000 + i, executor_id=str(i % 2))
              for i in range(12)]
    [d] = skew.detect(app(tasks))
    assert d.kind == "straggler" and d.severity == Severity.INFO and d.evidence["first_wave"] == "true"


def test_thresholds_are_overridable_by_config():
    model = app(_skewed_stage(40 << 20))
    assert skew.detect(model)
    assert not skew.detect(model, {"skew.factor": "50"})
    assert not skew.detect(model, {"skew.min_excess_ms": "10000"})


def test_spill_suggests_more_partitions():
    tasks = [task(2, memory_bytes_spilled=64 << 20, disk_bytes_spilled=20 << 20, shuffle_local_bytes_read=30 << 20,
                  duration_ms=2_000) for _ in range(4)]
    [d] = spill.detect(app(tasks, conf={"spark.sql.shuffle.partitions": "8"}))
    assert d.kind == "spill" and d.evidence["spilling_tasks"] == 4 and d.evidence["memory_spilled_mib"] == 256
    assert "spark.sql.shuffle.partitions from 8" in d.recommendation


def test_tiny_tasks():
    tasks = [task(5, duration_ms=3) for _ in range(2000)]
    [d] = tiny_tasks.detect(app(tasks, conf={"spark.sql.shuffle.partitions": "2000"}))
    assert d.kind == "tiny_tasks" and d.evidence["tasks"] == 2000 and "spark.sql.shuffle.partitions=" in d.recommendation


def test_failures_grouped_by_reason():
    tasks = [task(1, end_reason="ExceptionFailure", failure="java.io.IOException: disk", failed=True) for _ in range(3)]
    tasks += [task(1, end_reason="ExceptionFailure", failure="ValueError: bad row", failed=True)]
    tasks += [task(1, index=i) for i in range(4)]
    [d] = task_failures.detect(app(tasks))
    assert d.evidence["failed_attempts"] == 4 and d.evidence["reason_1"].startswith("3x java.io.IOException")


def test_a_failing_detector_is_reported_and_the_others_still_run():
    def broken(model, config):
        raise RuntimeError("boom")

    run = run_detectors(app(_skewed_stage(40 << 20)), detectors=(("broken", broken), ("skew", skew.detect)))
    assert [f.detector for f in run.failures] == ["broken"] and "boom" in run.failures[0].error
    assert [d.kind for d in run.diagnoses] == ["skew"]


def test_healthy_fake_model_has_no_findings():
    tasks = [task(s, duration_ms=180 + (i % 5) * 10, shuffle_local_bytes_read=1 << 20) for s in (1, 2) for i in range(16)]
    run = run_detectors(app(tasks))
    assert not run.failures
    assert [d for d in run.diagnoses if d.severity >= Severity.LOW] == []


def test_gc_pressure_on_substantial_tasks_only():
    heavy = [task(4, duration_ms=2_000, executor_run_time_ms=2_000, jvm_gc_time_ms=600) for _ in range(8)]
    [d] = gc_pressure.detect(app(heavy))
    assert d.kind == "gc_pressure" and d.evidence["gc_share"] == 0.3
    tiny = [task(4, duration_ms=20, executor_run_time_ms=20, jvm_gc_time_ms=6) for _ in range(2000)]
    assert gc_pressure.detect(app(tiny)) == []


def _node(node_id, parent_id, name, description="", **metrics):
    return PlanNode(node_id, parent_id, name, description or name, metrics, {})


def _with_plan(model, nodes):
    """``model`` whose stage 3 ran in job 0 of SQL execution 0, whose final plan is ``nodes``."""
    jobs = pa.Table.from_pylist([{"job_id": 0, "submitted": 0, "completed": 10_000, "result": "JobSucceeded",
                                  "stage_ids": [3], "sql_execution_id": 0, "description": None}],
                                schema=model.jobs.schema)
    return replace(model, jobs=jobs, sql_executions={0: SQLExecution(0, "query", 0, 10_000, "", nodes)})


def _read_records(tasks) -> int:
    return sum(t["shuffle_records_read"] for t in tasks)


def test_skew_in_a_user_repartition_says_aqe_never_changes_it():
    tasks = _skewed_stage(40 << 20)
    model = _with_plan(app(tasks), [
        _node(0, None, "AdaptiveSparkPlan"),
        _node(1, 0, "Exchange", "Exchange hashpartitioning(customer_id#2, 16), REPARTITION_BY_NUM",
              **{"shuffle records written": _read_records(tasks)}),
    ])
    [d] = skew.detect(model)
    assert "REPARTITION_BY_NUM" in d.explanation and "never splits or coalesces" in d.explanation
    assert 'hint("rebalance"' in d.recommendation


def test_skew_in_a_full_outer_join_under_an_aggregate_gives_every_reason():
    tasks = _skewed_stage(40 << 20)
    half = _read_records(tasks) // 2
    model = _with_plan(app(tasks), [
        _node(0, None, "HashAggregate", "HashAggregate(keys=[id#1], functions=[sum(x#2)])"),
        _node(1, 0, "HashAggregate", "HashAggregate(keys=[id#1], functions=[partial_sum(x#2)])"),
        _node(2, 1, "SortMergeJoin", "SortMergeJoin [id#1], [id#3], FullOuter"),
        _node(3, 2, "Sort"),
        _node(4, 3, "Exchange", "Exchange hashpartitioning(id#1, 200), ENSURE_REQUIREMENTS",
              **{"shuffle records written": half}),
        _node(5, 2, "Exchange", "Exchange hashpartitioning(id#3, 200), ENSURE_REQUIREMENTS",
              **{"shuffle records written": _read_records(tasks) - half}),
    ])
    [d] = skew.detect(model)
    assert "full outer join" in d.explanation
    assert "the HashAggregate above the SortMergeJoin needs the join's partitioning" in d.explanation
    assert "skewedPartitionThresholdInBytes (256.0 MiB)" in d.explanation
    assert d.recommendation.startswith("Salt the hot key")


def test_skew_in_an_aggregation_shuffle_says_aqe_only_splits_joins():
    tasks = _skewed_stage(40 << 20)
    model = _with_plan(app(tasks), [
        _node(0, None, "HashAggregate", "HashAggregate(keys=[id#1], functions=[count(1)])"),
        _node(1, 0, "Exchange", "Exchange hashpartitioning(id#1, 200), ENSURE_REQUIREMENTS",
              **{"shuffle records written": _read_records(tasks)}),
    ])
    [d] = skew.detect(model)
    assert "feeds an aggregation or a window, not a join" in d.explanation


def test_a_join_skewed_only_under_the_threshold_suggests_lowering_it():
    tasks = _skewed_stage(40 << 20)
    half = _read_records(tasks) // 2
    model = _with_plan(app(tasks), [
        _node(0, None, "ShuffledHashJoin", "ShuffledHashJoin [id#1], [id#3], inner, BuildRight"),
        _node(1, 0, "Exchange", **{"shuffle records written": half}),
        _node(2, 0, "Exchange", **{"shuffle records written": _read_records(tasks) - half}),
    ])
    [d] = skew.detect(model)
    assert "skewedPartitionThresholdInBytes (256.0 MiB)" in d.explanation
    assert "Lower spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes" in d.recommendation


def test_critical_path_skips_the_stages_earlier_aqe_jobs_ran():
    """Ember's AQE log: job 1 (the result job) lists stage 0, which job 0 ran before job 1 began."""
    model = app(stages=[stage(0, submitted=0, completed=1_500, duration_ms=1_500),
                        stage(1, submitted=1_600, completed=1_900, parent_ids=[0]),
                        stage(2, submitted=1_900, completed=2_000, parent_ids=[1])],
                jobs=[{"job_id": 0, "submitted": 0, "completed": 1_500, "stage_ids": [0]},
                      {"job_id": 1, "submitted": 1_550, "completed": 2_000, "stage_ids": [0, 1, 2]}])
    [path] = [d for d in idle_executors.detect(model) if d.kind == "critical_path"]
    assert path.location.job_ids == (1,) and path.evidence["path"] == "1 -> 2"
    assert path.evidence["path_ms"] <= path.evidence["job_ms"] == 450


def test_a_chain_of_shuffles_that_moved_less_than_it_read_is_not_said_to_have_moved_more():
    tasks = [task(s, input_bytes=400 << 20, shuffle_bytes_written=100 << 20) for s in (1, 2, 3)]
    model = app(tasks, jobs=[{"job_id": 0, "submitted": 0, "completed": 10_000, "stage_ids": [1, 2, 3],
                              "sql_execution_id": 0}])
    model = replace(model, sql_executions={0: SQLExecution(0, "query", 0, 10_000, "", [])})
    [d] = [d for d in shuffle_heavy.detect(model) if d.kind == "shuffle_heavy"]
    assert "chain of 3 shuffles" in d.explanation and "more data between stages than it read" not in d.explanation
