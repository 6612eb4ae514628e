"""A cached DataFrame in the event log: its RDD in the "RDD Info" of every stage that reads it.

The expected shapes are what pyspark 4.3 (local[2]) wrote for ``df.cache()`` and
``persist(StorageLevel.DISK_ONLY)``: the cached RDD keeps one id across stages, is named by the
cached plan, carries the persist level, and is the parent of the InMemoryTableScan's RDD; the
"Number of Cached Partitions", "Memory Size" and "Disk Size" of stage events are 0.
"""
from __future__ import annotations

import pytest

from engine.scheduler.json_protocol import event_to_json
from engine.sql import functions as F
from engine.storage import StorageLevel

NOT_PERSISTED = {"Use Disk": False, "Use Memory": False, "Use Off Heap": False, "Deserialized": False, "Replication": 1}


class _Events:
    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event_to_json(event))


@pytest.fixture(scope="module")
def listener(spark):
    listener = _Events()
    spark.bus.add_listener(listener)
    return listener


@pytest.fixture
def events(spark, conf, listener):
    """The events (as JSON) this test's jobs post; AQE off, so each job's stages are planned once."""
    conf("spark.sql.adaptive.enabled", "false")
    listener.events.clear()
    return listener.events


def _stage_rdds(spark, events) -> list[list[dict]]:
    spark.bus.wait_until_empty()
    return [e["Stage Info"]["RDD Info"] for e in events if e["Event"] == "SparkListenerStageSubmitted"]


def _cached_rdd_id(spark, df) -> int:
    return spark.cache_manager.lookup(df._plan).cache.value.rdd_id


@pytest.mark.parametrize("level, storage_level", [
    (StorageLevel.MEMORY_AND_DISK,
     {"Use Disk": True, "Use Memory": True, "Use Off Heap": False, "Deserialized": True, "Replication": 1}),
    (StorageLevel.DISK_ONLY,
     {"Use Disk": True, "Use Memory": False, "Use Off Heap": False, "Deserialized": False, "Replication": 1}),
    (StorageLevel.MEMORY_ONLY,
     {"Use Disk": False, "Use Memory": True, "Use Off Heap": False, "Deserialized": True, "Replication": 1}),
])
def test_every_stage_reading_a_cached_frame_lists_its_rdd_with_the_storage_level(spark, events, level, storage_level):
    df = spark.range(0, 30_000, 1, 3).select("id", (F.col("id") % 10).alias("k")).persist(level)
    try:
        rdd_id = _cached_rdd_id(spark, df)
        assert df.count() == 30_000                       # computes and stores the partitions
        assert len(df.collect()) == 30_000                # reads them

        stages = _stage_rdds(spark, events)
        reading = [rdds for rdds in stages if any(r["RDD ID"] == rdd_id for r in rdds)]
        assert len(reading) >= 2  # the stage that cached it and the stage that read it back
        for rdds in reading:
            (cached,) = [r for r in rdds if r["RDD ID"] == rdd_id]
            assert cached["Storage Level"] == storage_level
            assert cached["Number of Partitions"] == 3
            assert cached["Number of Cached Partitions"] == cached["Memory Size"] == cached["Disk Size"] == 0
            assert "Range (0, 30000" in cached["Name"] and cached["Name"].endswith("\n")
            assert cached["Parent IDs"] and all(p in {r["RDD ID"] for r in rdds} for p in cached["Parent IDs"])
            readers = [r for r in rdds if rdd_id in r["Parent IDs"]]
            assert readers and all(r["Storage Level"] == NOT_PERSISTED for r in readers)
            assert [r for r in rdds if r["RDD ID"] != rdd_id and r["Storage Level"] != NOT_PERSISTED] == []
    finally:
        df.unpersist()
    spark.bus.wait_until_empty()
    assert {"Event": "SparkListenerUnpersistRDD", "RDD ID": rdd_id} in events


def test_a_frame_joined_with_itself_lists_its_cached_rdd_once_per_stage(spark, events, conf):
    conf("spark.sql.autoBroadcastJoinThreshold", "-1")
    df = spark.range(0, 1_000, 1, 2).select("id", (F.col("id") % 7).alias("k")).cache()
    try:
        rdd_id = _cached_rdd_id(spark, df)
        df.count()
        spark.bus.wait_until_empty()
        events.clear()
        df.join(df.select("k"), "k").count()
        for rdds in _stage_rdds(spark, events):
            assert [r["RDD ID"] for r in rdds].count(rdd_id) <= 1
            assert len({r["RDD ID"] for r in rdds}) == len(rdds)
    finally:
        df.unpersist()


def test_the_cached_rdd_name_is_formatted_once_for_all_the_jobs_that_read_it(spark, events, monkeypatch):
    df = spark.range(0, 1_000, 1, 2).select("id", (F.col("id") % 7).alias("k")).cache()
    try:
        rdd_id = _cached_rdd_id(spark, df)
        df.count()
        physical = spark.cache_manager.lookup(df._plan).cache.value.physical
        formatted = []
        tree_string = type(physical).tree_string
        monkeypatch.setattr(type(physical), "tree_string", lambda self, *a: formatted.append(self) or tree_string(self, *a))
        df.count()
        df.collect()
        names = {r["Name"] for rdds in _stage_rdds(spark, events) for r in rdds if r["RDD ID"] == rdd_id}
        assert len(names) == 1 and "Range (0, 1000" in names.pop()
        assert physical not in formatted
    finally:
        df.unpersist()
