"""What the engine writes into its event log: Spark's events, in Spark's units, tied together as
Spark ties them (jobs to SQL executions, task accumulables to plan metrics)."""
from __future__ import annotations

import glob
import json
import os

import pytest
import zstandard

from engine.sql import SparkSession
from engine.sql import functions as F
from tests.engine import datagen


def _read_rolling_log(directory: str) -> list[dict]:
    events = []
    for path in sorted(glob.glob(os.path.join(directory, "events_*"))):
        with open(path, "rb") as f:
            text = zstandard.ZstdDecompressor().stream_reader(f).read().decode()
        events += [json.loads(line) for line in text.splitlines() if line]
    return events


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("eventlog")
    facts = datagen.write_parquet(datagen.facts(), str(root / "facts"))
    active = SparkSession._active
    SparkSession._active = None
    spark = (SparkSession.builder.master("local[2]").appName("log-content")
             .config("spark.sql.shuffle.partitions", 3).config("spark.eventLog.dir", str(root / "ev"))
             .config("spark.sql.autoBroadcastJoinThreshold", -1)
             .config("spark.sql.adaptive.enabled", False)  # one plan whose metrics every task reports
             .getOrCreate())
    log_dir = spark.event_log_path
    df = spark.read.parquet(facts)
    rows = df.join(df.select("k", F.col("d").alias("d2")), "k").groupBy("s").agg(F.sum("d2")).collect()
    in_progress = os.listdir(log_dir)
    spark.stop()
    SparkSession._active = active
    return {"events": _read_rolling_log(log_dir), "in_progress": in_progress, "files": os.listdir(log_dir),
            "rows": rows, "app_id": spark.app_id}


def _of(events, name):
    return [e for e in events if e["Event"].endswith(name)]


def test_status_marker_is_in_progress_until_stop(run):
    app = run["app_id"]
    assert f"appstatus_{app}.inprogress" in run["in_progress"]
    assert f"appstatus_{app}" in run["files"] and f"appstatus_{app}.inprogress" not in run["files"]


def test_application_bracketed_and_jobs_belong_to_sql_executions(run):
    events = run["events"]
    assert events[0]["Event"] == "SparkListenerLogStart"
    assert events[-1]["Event"] == "SparkListenerApplicationEnd"
    assert _of(events, "ApplicationStart")[0]["App Name"] == "log-content"
    executions = {e["executionId"] for e in _of(events, "SQLExecutionStart")}
    jobs = _of(events, "SparkListenerJobStart")
    assert jobs and all(int(j["Properties"]["spark.sql.execution.id"]) in executions for j in jobs)
    assert all(j["Job Result"]["Result"] == "JobSucceeded" for j in _of(events, "SparkListenerJobEnd"))


def test_stages_name_the_user_call_site(run):
    for stage in _of(run["events"], "StageSubmitted"):
        info = stage["Stage Info"]
        assert info["Stage Name"].startswith("collect at test_event_log_content.py:")
        assert "test_event_log_content.py" in info["Details"]


def test_task_metrics_in_spark_units(run):
    ends = _of(run["events"], "TaskEnd")
    assert ends
    for end in ends:
        info, metrics = end["Task Info"], end["Task Metrics"]
        wall_ms = info["Finish Time"] - info["Launch Time"]
        assert 0 <= metrics["Executor Run Time"] <= wall_ms + 1  # milliseconds
        assert metrics["Executor CPU Time"] >= 0  # nanoseconds
        assert metrics["Executor CPU Time"] <= (wall_ms + 1) * 1_000_000 * 2
    written = sum(e["Task Metrics"]["Shuffle Write Metrics"]["Shuffle Bytes Written"] for e in ends)
    read = sum(e["Task Metrics"]["Shuffle Read Metrics"]["Local Bytes Read"] +
               e["Task Metrics"]["Shuffle Read Metrics"]["Remote Bytes Read"] for e in ends)
    assert written > 0 and written == read
    records_in = sum(e["Task Metrics"]["Input Metrics"]["Records Read"] for e in ends)
    assert records_in == 2 * 3000  # the facts table is scanned by both sides of the self-join


def test_task_accumulables_are_the_plan_metrics(run):
    events = run["events"]
    plan_metrics = {}

    def collect(node):
        for m in node["metrics"]:
            plan_metrics[m["accumulatorId"]] = m["name"]
        for c in node["children"]:
            collect(c)

    for start in _of(events, "SQLExecutionStart"):
        assert start["physicalPlanDescription"].startswith("== Physical Plan ==")
        collect(start["sparkPlanInfo"])
    sql_updates = [a for e in _of(events, "TaskEnd") for a in e["Task Info"]["Accumulables"] if a.get("Metadata") == "sql"]
    assert sql_updates and all(a["ID"] in plan_metrics for a in sql_updates)
    assert not [a for a in sql_updates if a["Name"] == "number of files read"]  # the driver's, as in Spark
    driver_updates = {acc: value for e in _of(events, "DriverAccumUpdates") for acc, value in e["accumUpdates"]}
    files_read = sum(v for acc, v in driver_updates.items() if plan_metrics.get(acc) == "number of files read")
    assert files_read == 2 * 3  # three files, scanned twice
