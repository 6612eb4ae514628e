"""A write's metrics come from the driver after the job, as Spark's BasicWriteJobStatsTracker posts
them: files, bytes and rows summed over the tasks, and a partition directory that several tasks
wrote counted once ("number of dynamic part" is distinct values, not a sum)."""
from __future__ import annotations

import glob
import json
import os

import pyarrow as pa
import pytest

from engine.sql import SparkSession

WRITE_NODE = "Execute InsertIntoHadoopFsRelationCommand"


def _events(log_dir: str) -> list[dict]:
    [path] = glob.glob(os.path.join(log_dir, "local-*"))
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("write-metrics")
    active, SparkSession._active = SparkSession._active, None
    spark = (SparkSession.builder.master("local[2]").appName("write-metrics")
             .config("spark.eventLog.dir", str(root / "ev"))
             .config("spark.eventLog.rolling.enabled", False).config("spark.eventLog.compress", False)
             .getOrCreate())
    # 3 input partitions, each holding rows of both days: 2 directories written by 3 tasks
    rows = pa.table({"id": list(range(300)), "day": [f"2026-11-{20 + i % 2}" for i in range(300)]})
    spark.createDataFrame(rows).repartition(3).write.partitionBy("day").parquet(str(root / "out"))
    spark.stop()
    SparkSession._active = active
    return _events(str(root / "ev")), root / "out"


def _write_metric_ids(events) -> dict[str, int]:
    def find(info):
        if info["nodeName"] == WRITE_NODE:
            return {m["name"]: m["accumulatorId"] for m in info["metrics"]}
        return next(filter(None, (find(c) for c in info["children"])), None)

    start = next(e for e in events if e["Event"].endswith("SparkListenerSQLExecutionStart"))
    return find(start["sparkPlanInfo"])


def test_the_driver_posts_the_write_metrics_once_after_the_job(written):
    events, out = written
    ids = _write_metric_ids(events)
    driver = {acc: value for e in events if e["Event"].endswith("SparkListenerDriverAccumUpdates")
              for acc, value in e["accumUpdates"]}
    files = sorted(glob.glob(str(out / "day=*" / "*.parquet")))
    assert len(files) == 6  # each of the 3 tasks wrote one file per day
    assert driver[ids["number of written files"]] == 6
    assert driver[ids["number of dynamic part"]] == 2  # two directories, though 3 tasks wrote each
    assert driver[ids["number of output rows"]] == 300
    assert driver[ids["written output"]] == sum(os.path.getsize(f) for f in files)
    assert ids["job commit time"] in driver
    end = max(i for i, e in enumerate(events) if e["Event"].endswith("SparkListenerDriverAccumUpdates"))
    assert events[end + 1:] and any(e["Event"].endswith("SparkListenerSQLExecutionEnd") for e in events[end + 1:])


def test_tasks_report_their_output_but_not_the_drivers_metrics(written):
    events, _ = written
    ids = set(_write_metric_ids(events).values())
    write_tasks = [e for e in events if e["Event"] == "SparkListenerTaskEnd"
                   and e["Task Metrics"]["Output Metrics"]["Records Written"]]
    assert sum(e["Task Metrics"]["Output Metrics"]["Records Written"] for e in write_tasks) == 300
    assert not any(a["ID"] in ids for e in write_tasks for a in e["Task Info"]["Accumulables"])
