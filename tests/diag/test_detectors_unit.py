"""Detector logic on fake models (see builders.py); the real-log tests are in test_diagnose_real_logs.py."""
from __future__ import annotations

from diag.detectors import gc_pressure, run_detectors, skew, spill, task_failures, tiny_tasks
from diag.diagnosis import Severity
from tests.diag.builders import app, task


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
