"""``spark.eventLog.logStageExecutorMetrics``: each executor's peak metrics per stage, at stage end.

Shape as pyspark 4.3 writes it: ``{"Event": "SparkListenerStageExecutorMetrics", "Executor ID",
"Stage ID", "Stage Attempt ID", "Executor Metrics": {every ExecutorMetricType name}}``, one per
executor, just before the stage's ``SparkListenerStageCompleted``.
"""
from __future__ import annotations

import pytest

from engine.scheduler.json_protocol import EXECUTOR_METRIC_NAMES, event_to_json
from engine.sql import functions as F
from engine.sql.session import SparkSession


def _run(master: str, tmp_path, log_stage_metrics: bool) -> list[dict]:
    options = {"spark.master": master, "spark.eventLog.enabled": "false", "spark.sql.adaptive.enabled": "false",
               "spark.sql.shuffle.partitions": "4", "spark.local.dir": str(tmp_path),
               "spark.eventLog.logStageExecutorMetrics": str(log_stage_metrics).lower()}
    spark = SparkSession(options)
    events: list[dict] = []
    spark.bus.add_listener(type("Recorder", (), {"on_event": lambda self, e: events.append(event_to_json(e))})())
    try:
        rows = (spark.range(0, 20_000, numPartitions=4).withColumn("k", F.col("id") % 5)
                .groupBy("k").agg(F.count("id").alias("n")).collect())
        assert sorted(r["n"] for r in rows) == [4000] * 5
        spark.bus.wait_until_empty()
    finally:
        spark.stop()
    return events


@pytest.mark.parametrize("master, executors", [("local[2]", {"driver"}), ("local-cluster[2,1,512]", {"0", "1"})])
def test_each_stage_ends_with_the_peak_metrics_of_each_executor_that_ran_it(tmp_path, master, executors):
    events = _run(master, tmp_path, log_stage_metrics=True)
    completed = [i for i, e in enumerate(events) if e["Event"] == "SparkListenerStageCompleted"]
    assert len(completed) == 2
    for at in completed:
        stage = events[at]["Stage Info"]
        ends = [e for e in events if e["Event"] == "SparkListenerTaskEnd" and e["Stage ID"] == stage["Stage ID"]]
        ran_on = {e["Task Info"]["Executor ID"] for e in ends}
        assert ran_on <= executors
        metrics_events = events[at - len(ran_on):at]  # right before the stage's completion
        assert {e["Event"] for e in metrics_events} == {"SparkListenerStageExecutorMetrics"}
        assert {e["Executor ID"] for e in metrics_events} == ran_on
        for e in metrics_events:
            assert (e["Stage ID"], e["Stage Attempt ID"]) == (stage["Stage ID"], stage["Stage Attempt ID"])
            assert list(e["Executor Metrics"]) == list(EXECUTOR_METRIC_NAMES)
            own = [t["Task Executor Metrics"] for t in ends if t["Task Info"]["Executor ID"] == e["Executor ID"]]
            for name in EXECUTOR_METRIC_NAMES:
                assert e["Executor Metrics"][name] == max(t[name] for t in own)
            assert e["Executor Metrics"]["ProcessTreePythonRSSMemory"] > 0


def test_stage_executor_metrics_are_off_by_default_as_in_spark(tmp_path):
    events = _run("local[2]", tmp_path, log_stage_metrics=False)
    assert not [e for e in events if e["Event"] == "SparkListenerStageExecutorMetrics"]


def test_process_metrics_reuse_one_psutil_handle_per_process():
    """Every task samples twice; making a psutil handle reads /proc for the start time each time."""
    from engine.executor import task_runner

    first = task_runner.sample_process_metrics()
    hits = task_runner._process.cache_info().hits
    second = task_runner.sample_process_metrics()
    assert task_runner._process.cache_info().hits == hits + 1
    assert first["ProcessTreePythonRSSMemory"] > 0 and second["ProcessTreePythonVMemory"] > 0
