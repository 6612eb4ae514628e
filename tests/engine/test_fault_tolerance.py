"""Faults injected for real (a failing first attempt, a straggler, a flipped byte in a shuffle
file, a SIGKILLed executor process): each job must give the fault-free answer, and the events
must show what happened."""
from __future__ import annotations

import os
import signal
import threading

import pytest

from engine.scheduler import events as ev
from engine.sql import functions as F
from engine.sql.session import SparkSession


class Recorder:
    """A listener keeping every event it hears."""

    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def session(tmp_path, master, **conf):
    options = {"spark.master": master, "spark.eventLog.enabled": "false", "spark.sql.adaptive.enabled": "false",
               "spark.sql.shuffle.partitions": "4", "spark.local.dir": str(tmp_path), **conf}
    spark = SparkSession(options)
    recorder = Recorder()
    spark.bus.add_listener(recorder)
    return spark, recorder


def grouped(spark):
    return (spark.range(0, 20000, numPartitions=4).withColumn("k", F.col("id") % 10)
            .groupBy("k").agg(F.sum("id").alias("s")).orderBy("k"))


EXPECTED = [(k, sum(range(k, 20000, 10))) for k in range(10)]


def rows(df):
    return [(r["k"], r["s"]) for r in df.collect()]


def test_failed_first_attempt_is_retried_and_its_reason_logged(tmp_path):
    spark, rec = session(tmp_path, "local[2,2]", **{"spark.ember.test.failTaskOnce": "0.1"})
    try:
        assert rows(grouped(spark)) == EXPECTED
        spark.bus.wait_until_empty()
        failed = [e for e in rec.of(ev.SparkListenerTaskEnd) if e.reason.reason == "ExceptionFailure"]
        assert len(failed) == 1
        reason = failed[0].reason
        assert reason.class_name.endswith("InjectedTaskFailure")
        assert "first attempt of task 0.1 fails" in reason.description
        assert "InjectedTaskFailure" in reason.full_stack_trace and reason.stack_trace
        retried = [e for e in rec.of(ev.SparkListenerTaskEnd)
                   if e.stage_id == 0 and e.task_info.partition_id == 1 and e.reason.reason == "Success"]
        assert [e.task_info.attempt for e in retried] == [1]
    finally:
        spark.stop()


def test_flipped_byte_in_a_shuffle_file_is_detected_and_the_map_output_recomputed(tmp_path):
    spark, rec = session(tmp_path, "local[2]")
    try:
        df = spark.range(0, 20000, numPartitions=4).withColumn("k", F.col("id") % 10).groupBy("k").agg(
            F.sum("id").alias("s"))  # one shuffle: the second action reads it again
        assert sorted(rows(df)) == EXPECTED
        target = max(tmp_path.rglob("shuffle_*.data"), key=os.path.getsize)
        with open(target, "r+b") as f:
            f.seek(os.path.getsize(target) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
        assert sorted(rows(df)) == EXPECTED  # the same plan again: it reads the shuffle files written above
        spark.bus.wait_until_empty()
        fetch_failed = [e for e in rec.of(ev.SparkListenerTaskEnd) if e.reason.reason == "FetchFailed"]
        assert fetch_failed and "corrupted" in fetch_failed[0].reason.message
        resubmitted = [e.stage_info for e in rec.of(ev.SparkListenerStageSubmitted) if e.stage_info.attempt_id > 0]
        assert resubmitted
    finally:
        spark.stop()


def test_speculative_copy_of_a_straggler_wins_and_the_original_is_killed(tmp_path):
    spark, rec = session(tmp_path, "local[3]", **{
        "spark.speculation": "true", "spark.speculation.interval": "50ms",
        "spark.speculation.minTaskRuntime": "100ms", "spark.ember.test.delayTaskOnce": "0.3:20000"})
    try:
        assert rows(grouped(spark)) == EXPECTED
        spark.bus.wait_until_empty()
        ends = [e for e in rec.of(ev.SparkListenerTaskEnd) if e.stage_id == 0 and e.task_info.partition_id == 3]
        speculative = [e for e in ends if e.task_info.speculative]
        assert speculative and speculative[0].reason.reason == "Success"
        killed = [e for e in ends if e.reason.reason == "TaskKilled"]
        assert killed and killed[0].reason.kill_reason == "another attempt succeeded" and killed[0].task_info.killed
    finally:
        spark.stop()


@pytest.mark.timeout(300)
def test_killed_executor_process_loses_its_tasks_and_shuffle_output_and_the_job_recovers(tmp_path):
    spark, rec = session(tmp_path, "local-cluster[2,1,512]")
    slow = F.udf(lambda s: (__import__("time").sleep(0.3), s)[1], "bigint")
    killed = threading.Event()

    class KillOnReduce:
        def on_event(self, event):
            # the reduce stage (1) is running: kill the executor of its first task
            if isinstance(event, ev.SparkListenerTaskStart) and event.stage_id == 1 and not killed.is_set():
                killed.set()
                os.kill(spark.backend.executor_pid(event.task_info.executor_id), signal.SIGKILL)

    spark.bus.add_listener(KillOnReduce())
    try:
        df = (spark.range(0, 20000, numPartitions=4).withColumn("k", F.col("id") % 10)
              .groupBy("k").agg(F.sum("id").alias("s")).withColumn("s", slow(F.col("s"))))
        assert sorted((r["k"], r["s"]) for r in df.collect()) == EXPECTED
        spark.bus.wait_until_empty()
        assert killed.is_set()
        removed = rec.of(ev.SparkListenerExecutorRemoved)
        assert len(removed) == 1 and "signal 9" in removed[0].reason
        reasons = {e.reason.reason for e in rec.of(ev.SparkListenerTaskEnd)}
        assert "ExecutorLostFailure" in reasons or "FetchFailed" in reasons
        assert any(e.stage_info.stage_id == 0 and e.stage_info.attempt_id > 0
                   for e in rec.of(ev.SparkListenerStageSubmitted))
        assert {e.task_info.executor_id for e in rec.of(ev.SparkListenerTaskStart)} <= {"0", "1", "2"}
        assert "2" in [e.executor_id for e in rec.of(ev.SparkListenerExecutorAdded)]  # the replacement
    finally:
        spark.stop()
