"""Acceptance: Spark's own History Server reads an Ember application's event log and reports the
same jobs, stages and tasks as the engine ran (default layout: rolling, zstd; and a plain file)."""
from __future__ import annotations

import pytest

from engine.sql import SparkSession
from engine.sql import functions as F
from tests.support.history_server import history_server

pytestmark = pytest.mark.spark


def _run_application(log_dir, extra_conf: dict) -> SparkSession:
    active = SparkSession._active
    SparkSession._active = None
    builder = (SparkSession.builder.master("local[2,2]").appName("ember-hs-acceptance")
               .config("spark.sql.shuffle.partitions", 3).config("spark.eventLog.dir", str(log_dir)))
    for k, v in extra_conf.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    try:
        attempts = log_dir / "attempts"

        @F.udf(returnType="bigint")
        def flaky(x):  # the first attempt of one task fails, the retry succeeds
            if x == 0 and not attempts.exists():
                attempts.mkdir()
                raise RuntimeError("injected failure")
            return x

        facts = spark.range(0, 2000, 1, 4).withColumn("k", F.col("id") % 13)
        dims = spark.range(13).withColumnRenamed("id", "k").withColumn("label", F.concat(F.lit("k"), F.col("k")))
        joined = facts.join(dims, "k").groupBy("label").agg(F.sum("id").alias("total"))
        assert len(joined.collect()) == 13  # broadcast job + map stages + result stage
        ordered = facts.groupBy("k").count().orderBy(F.desc("count"))
        ordered.collect()  # sampling job, then a job whose first map stage is skipped
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", -1)
        assert facts.join(dims, "k").count() == 2000  # a shuffled join: two map stages
        assert sorted(r[0] for r in spark.range(4).select(flaky("id")).collect()) == [0, 1, 2, 3]
    finally:
        spark.stop()
        SparkSession._active = active
    return spark


@pytest.mark.parametrize("layout", ["rolling-zstd", "single-plain"])
def test_history_server_reports_what_the_engine_ran(tmp_path, layout):
    conf = {} if layout == "rolling-zstd" else {"spark.eventLog.rolling.enabled": "false",
                                                  "spark.eventLog.compress": "false"}
    spark = _run_application(tmp_path, conf)
    status = spark.status
    with history_server(tmp_path) as hs:
        app = hs.wait_for_application(spark.app_id)
        assert app["name"] == "ember-hs-acceptance"
        jobs = hs.jobs(spark.app_id)
        assert sorted(j["jobId"] for j in jobs) == sorted(status.jobs)
        assert all(j["status"] == "SUCCEEDED" for j in jobs)
        for job in jobs:
            ours = status.jobs[job["jobId"]]
            assert job["numSkippedStages"] == len(ours.skipped_stage_ids)
            assert job["numCompletedStages"] == len(ours.run_stage_ids)
        assert any(j.skipped_stage_ids for j in status.jobs.values()), \
            "the sort's second job should skip the map stage its sampling job ran"
        stages = hs.stages(spark.app_id)
        ran = {s.stage_id: s for s in status.stages.values() if s.attempts}
        skipped_later = {sid for j in status.jobs.values() for sid in j.skipped_stage_ids}
        # Spark's own status listener marks a stage SKIPPED when a later job reuses its output
        assert {s["stageId"] for s in stages if s["status"] == "COMPLETE"} == set(ran) - skipped_later
        assert {s["stageId"] for s in stages if s["status"] == "SKIPPED"} == skipped_later
        for stage in stages:
            if stage["status"] != "COMPLETE":
                continue
            ours = ran[stage["stageId"]]
            assert stage["numCompleteTasks"] == ours.tasks_succeeded
            assert stage["numFailedTasks"] == ours.tasks_failed
            assert stage["shuffleWriteBytes"] == ours.shuffle_write_bytes
        assert sum(s["numFailedTasks"] for s in stages) == 1
        failed = [t for s in stages for t in hs.tasks(spark.app_id, s["stageId"], s["attemptId"])
                  if t["status"] == "FAILED"]
        assert len(failed) == 1 and "injected failure" in failed[0]["errorMessage"]
        sql = hs.get(f"applications/{spark.app_id}/sql")
        assert len(sql) >= 4 and all(q["status"] == "COMPLETED" for q in sql)
