"""AQE in the event log: each re-plan is a SparkListenerSQLAdaptiveExecutionUpdate shaped as Spark
writes it, each query stage a job of its own, and diag's model keeps every plan."""
from __future__ import annotations

import pytest

from diag.analyze import analyze
from engine.sql import SparkSession
from engine.sql import functions as F
from tests.engine.test_event_log_content import _of, _read_rolling_log


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("aqe-log")
    active = SparkSession._active
    SparkSession._active = None
    spark = (SparkSession.builder.master("local[2]").appName("aqe-log")
             .config("spark.sql.shuffle.partitions", 8).config("spark.eventLog.dir", str(root))
             .config("spark.sql.autoBroadcastJoinThreshold", -1).getOrCreate())
    log_dir = spark.event_log_path
    facts = spark.range(0, 50_000, 1, 4).select(F.col("id"), (F.col("id") % 100).alias("k"))
    dims = spark.range(0, 100, 1, 2).select(F.col("id").alias("k"), (F.col("id") % 5).alias("g"))
    facts.join(dims, "k").groupBy("g").count().collect()
    spark.stop()
    SparkSession._active = active
    return {"events": _read_rolling_log(log_dir), "dir": log_dir}


def test_each_replan_is_an_adaptive_execution_update(run):
    events = run["events"]
    updates = _of(events, "SparkListenerSQLAdaptiveExecutionUpdate")
    assert updates[0]["Event"] == "org.apache.spark.sql.execution.ui.SparkListenerSQLAdaptiveExecutionUpdate"
    assert set(updates[0]) == {"Event", "executionId", "physicalPlanDescription", "sparkPlanInfo"}
    flags = [u["sparkPlanInfo"]["simpleString"] for u in updates]
    assert flags[:-1] == ["AdaptiveSparkPlan isFinalPlan=false"] * (len(flags) - 1)
    assert flags[-1] == "AdaptiveSparkPlan isFinalPlan=true"
    final = updates[-1]["physicalPlanDescription"]
    assert "+- == Final Plan ==" in final and "+- == Initial Plan ==" in final
    start = _of(events, "SQLExecutionStart")[0]
    assert start["sparkPlanInfo"]["nodeName"] == "AdaptiveSparkPlan"


def _names(info):
    yield info["nodeName"]
    for c in info["children"]:
        yield from _names(c)


def test_the_final_plan_names_nodes_as_spark(run):
    final = _of(run["events"], "SparkListenerSQLAdaptiveExecutionUpdate")[-1]["sparkPlanInfo"]
    names = list(_names(final))
    assert names[:2] == ["AdaptiveSparkPlan", "ResultQueryStage"]
    assert names.count("ShuffleQueryStage") == 3 and "AQEShuffleRead" in names


def test_every_shuffle_stage_is_a_job_and_the_result_job_skips_them(run):
    jobs = _of(run["events"], "SparkListenerJobStart")
    submitted = [e["Stage Info"]["Stage ID"] for e in _of(run["events"], "SparkListenerStageSubmitted")]
    assert len(jobs) == 4  # two join sides, the aggregate's exchange, the result
    assert [len(j["Stage Infos"]) for j in jobs] == [1, 1, 3, 4]
    assert len(submitted) == len(set(submitted)) == 4


def test_aqe_read_metrics_are_driver_updates_of_plan_metrics(run):
    events = run["events"]
    final = _of(events, "SparkListenerSQLAdaptiveExecutionUpdate")[-1]["sparkPlanInfo"]
    read_ids = set()

    def collect(info):
        if info["nodeName"] == "AQEShuffleRead":
            read_ids.update(m["accumulatorId"] for m in info["metrics"] if m["name"] == "number of partitions")
        for c in info["children"]:
            collect(c)

    collect(final)
    posted = {acc for e in _of(events, "DriverAccumUpdates") for acc, _ in e["accumUpdates"]}
    assert read_ids and read_ids <= posted


def test_diag_keeps_every_adaptive_plan(run):
    (report,), errors = analyze(run["dir"])
    assert not errors
    (execution,) = report.model.sql_executions.values()
    updates = _of(run["events"], "SparkListenerSQLAdaptiveExecutionUpdate")
    assert execution.adaptive_plans == len(updates)
    assert execution.nodes[0].description == "AdaptiveSparkPlan isFinalPlan=true"
    assert execution.nodes_named("AQEShuffleRead")
