"""Stage ids as Spark numbers them: a job that needs a shuffle an earlier job wrote lists that map
stage under a new id, which it skips (Spark forgets a job's stages when the job ends); the ids that
run are never reused."""
from __future__ import annotations

import glob
import json

from engine.sql import SparkSession
from engine.sql import functions as F


def test_a_later_job_skips_an_earlier_shuffle_under_a_new_stage_id(tmp_path):
    active, SparkSession._active = SparkSession._active, None
    spark = (SparkSession.builder.master("local[2]").appName("stage-ids")
             .config("spark.eventLog.dir", str(tmp_path)).config("spark.eventLog.rolling.enabled", False)
             .config("spark.eventLog.compress", False).config("spark.sql.adaptive.enabled", False)
             .config("spark.sql.shuffle.partitions", 4).getOrCreate())
    # the aggregate's shuffle is written by the sort's sampling job, then read again by the sort's job
    rows = spark.range(1000).groupBy((F.col("id") % 3).alias("m")).count().orderBy("m").collect()
    spark.stop()
    SparkSession._active = active
    assert [tuple(r) for r in rows] == [(0, 334), (1, 333), (2, 333)]
    [log] = glob.glob(str(tmp_path / "local-*"))
    events = [json.loads(line) for line in open(log)]
    jobs = [e["Stage IDs"] for e in events if e["Event"] == "SparkListenerJobStart"]
    submitted = [e["Stage Info"]["Stage ID"] for e in events if e["Event"] == "SparkListenerStageSubmitted"]
    assert jobs == [[0, 1], [2, 3, 4]]
    assert submitted == [0, 1, 3, 4]  # stage 2 is the aggregate's map stage again: skipped, never run
    assert len(set(submitted)) == len(submitted)
