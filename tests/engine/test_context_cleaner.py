"""A shuffle's files go once its plan is garbage (Spark's ContextCleaner), in the driver and in
executor processes; a plan still held keeps its shuffle, and a later job over it skips the map stage."""
from __future__ import annotations

import gc
import logging
import re
import time
from pathlib import Path

from engine.scheduler import events as ev
from engine.scheduler.context_cleaner import ContextCleaner
from engine.sql import functions as F
from engine.sql.session import SparkSession

SHUFFLE_FILE = re.compile(r"shuffle_(\d+)_\d+_\d+\.(data|index|checksum\.ADLER32)$")


def _session(tmp_path, master="local[2]", **conf) -> SparkSession:
    return SparkSession({"spark.master": master, "spark.eventLog.enabled": "false",
                         "spark.sql.shuffle.partitions": "4", "spark.local.dir": str(tmp_path), **conf})


def _counts(spark):
    return spark.range(0, 20_000, numPartitions=4).groupBy((F.col("id") % 7).alias("k")).count()


def _shuffles_on_disk(root: Path) -> set[int]:
    return {int(m.group(1)) for p in root.rglob("shuffle_*") if (m := SHUFFLE_FILE.search(p.name))}


def _eventually(condition, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the cleaner did not get there in time"
        time.sleep(0.02)


def test_a_dropped_plan_s_shuffle_files_and_map_statuses_go(tmp_path):
    spark = _session(tmp_path)
    try:
        kept = _counts(spark)
        assert len(kept.collect()) == 7
        dropped = _counts(spark)
        assert len(dropped.collect()) == 7
        assert _shuffles_on_disk(tmp_path) == {0, 1}
        del dropped
        gc.collect()
        _eventually(lambda: _shuffles_on_disk(tmp_path) == {0})
        manager = spark.env.shuffle_manager
        assert manager.is_available(0) and not manager.is_available(1)
        assert 1 not in manager._outputs

        stages = []
        spark.bus.add_listener(type("Stages", (), {"on_event": lambda self, e: stages.append(e)})())
        assert len(kept.collect()) == 7   # the held plan reads the shuffle it wrote: its map stage is skipped
        spark.bus.wait_until_empty()
        completed = [e for e in stages if isinstance(e, ev.SparkListenerStageCompleted)]
        assert len(completed) == 1
    finally:
        spark.stop()


def test_executor_processes_delete_their_files_of_a_dropped_shuffle(tmp_path):
    spark = _session(tmp_path, "local-cluster[2,1,512]", **{"spark.sql.adaptive.enabled": "false"})
    try:
        df = _counts(spark)
        assert sorted(r["count"] for r in df.collect()) == sorted(len(range(k, 20_000, 7)) for k in range(7))
        executor_dirs = [p for p in tmp_path.rglob("executor-*") if p.is_dir()]
        assert executor_dirs and _shuffles_on_disk(tmp_path) == {0}
        del df
        gc.collect()
        _eventually(lambda: not _shuffles_on_disk(tmp_path))
    finally:
        spark.stop()


def test_reference_tracking_off_keeps_every_shuffle_until_the_session_stops(tmp_path):
    spark = _session(tmp_path, **{"spark.cleaner.referenceTracking": "false"})
    try:
        assert spark.cleaner is None
        df = _counts(spark)
        df.collect()
        del df
        gc.collect()
        time.sleep(0.2)
        assert _shuffles_on_disk(tmp_path) == {0}
    finally:
        spark.stop()
    assert not _shuffles_on_disk(tmp_path)


class _Manager:
    def __init__(self):
        self.unregistered = []

    def unregister_shuffle(self, shuffle_id):
        self.unregistered.append(shuffle_id)


class _Backend:
    def __init__(self):
        self.removed = []

    def remove_shuffle(self, shuffle_id):
        if shuffle_id == 0:
            raise OSError("disk gone")
        self.removed.append(shuffle_id)


class _Node:
    pass


def test_an_error_cleaning_one_shuffle_is_logged_and_the_next_is_cleaned(caplog):
    manager, backend = _Manager(), _Backend()
    cleaner = ContextCleaner(manager)
    cleaner.start(backend)
    first, second = _Node(), _Node()
    cleaner.register_shuffle_for_cleanup(first, 0)
    cleaner.register_shuffle_for_cleanup(second, 1)
    with caplog.at_level(logging.ERROR, logger="engine.scheduler.context_cleaner"):
        del first, second
        cleaner.stop()   # cleans what is queued before it stops
    assert manager.unregistered == [0, 1] and backend.removed == [1]
    assert "Error cleaning shuffle 0" in caplog.text and "disk gone" in caplog.text


def test_stop_ends_the_cleaner_thread():
    cleaner = ContextCleaner(_Manager())
    cleaner.start(_Backend())
    assert cleaner._thread.is_alive()
    cleaner.stop()
    assert not cleaner._thread.is_alive()


def test_a_shuffle_file_that_cannot_be_deleted_is_logged_and_the_rest_go(tmp_path, caplog):
    from engine.shuffle.manager import ShuffleManager

    manager = ShuffleManager(str(tmp_path))
    for name in ("shuffle_3_0_0.data", "shuffle_3_0_0.index", "shuffle_31_0_0.data"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "shuffle_3_1_0.data").mkdir()   # os.remove refuses a directory
    with caplog.at_level(logging.WARNING, logger="engine.shuffle.manager"):
        manager.remove_shuffle_files(3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shuffle_31_0_0.data", "shuffle_3_1_0.data"]
    assert "Could not delete" in caplog.text and "shuffle_3_1_0.data" in caplog.text
