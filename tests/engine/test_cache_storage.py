"""cache()/persist() through the block manager and the storage memory pool: levels, LRU eviction,
recompute of dropped partitions, unpersist, broadcast blocks, and what the event log shows."""
from __future__ import annotations

import gc
import json

import numpy as np
import pyarrow as pa
import pytest

from engine.memory import UnifiedMemoryManager
from engine.scheduler.json_protocol import event_to_json
from engine.sql import functions as F
from engine.storage import BlockManager, StorageLevel
from tests.engine.support import unified_memory

MiB = 1024 * 1024


@pytest.fixture
def small_storage(spark, conf, recorded):
    """2 MiB of unified memory for the test."""
    conf("spark.sql.adaptive.enabled", "false")
    recorded.events.clear()
    with unified_memory(spark, 2 * MiB, 1 * MiB) as manager:
        yield manager


def _frame(spark, rows: int, seed: int):
    rng = np.random.default_rng(seed)
    return spark.createDataFrame(pa.table({"k": rng.integers(0, 100, rows), "v": rng.normal(0, 1, rows)})).repartition(4)


def _blocks(spark, df):
    rdd_id = spark.cache_manager.lookup(df._plan).cache.value.rdd_id
    bm = spark.env.block_manager
    return [bm.status(b) for b in bm.block_ids(f"rdd_{rdd_id}_")]


def test_disk_only_blocks_are_files_and_use_no_storage_memory(spark, small_storage):
    df = _frame(spark, 20_000, 1).persist(StorageLevel.DISK_ONLY)
    total = df.agg(F.sum("v")).collect()[0][0]
    statuses = _blocks(spark, df)
    assert len(statuses) == 4 and all(s.memory_size == 0 and s.disk_size > 0 for s in statuses)
    assert small_storage.storage_memory_used == 0
    assert df.agg(F.sum("v")).collect()[0][0] == pytest.approx(total)
    df.unpersist()


def test_compiled_stages_read_disk_only_blocks(spark):
    """A DISK_ONLY block is memory-mapped, so its arrays are read-only: the compiled aggregate over it
    still runs (numba's signatures take writable arrays) and equals the uncached answer."""
    df = spark.range(50_000).withColumn("k", F.col("id") % 7)
    expected = sorted(tuple(r) for r in df.groupBy("k").agg(F.sum("id")).collect())
    cached = df.persist(StorageLevel.DISK_ONLY)
    assert cached.count() == 50_000
    assert sorted(tuple(r) for r in cached.groupBy("k").agg(F.sum("id")).collect()) == expected
    cached.unpersist()


def test_memory_and_disk_goes_to_disk_when_storage_is_full_and_memory_only_is_recomputed(spark, small_storage):
    big = _frame(spark, 200_000, 2)  # 3.2 MB: more than the 2 MiB of unified memory
    expected = big.agg(F.count(F.lit(1)), F.sum("v")).collect()[0]
    spilled = big.select("k", "v").persist(StorageLevel.MEMORY_AND_DISK)
    assert tuple(spilled.agg(F.count(F.lit(1)), F.sum("v")).collect()[0]) == pytest.approx(tuple(expected))
    statuses = _blocks(spark, spilled)
    assert len(statuses) == 4 and any(s.disk_size > 0 for s in statuses) and any(s.memory_size > 0 for s in statuses)
    spilled.unpersist()

    dropped = big.select("v", "k").persist(StorageLevel.MEMORY_ONLY)
    assert tuple(dropped.agg(F.count(F.lit(1)), F.sum("v")).collect()[0]) == pytest.approx(tuple(expected))
    assert 0 < len(_blocks(spark, dropped)) < 4  # the partitions that did not fit are not kept
    assert tuple(dropped.agg(F.count(F.lit(1)), F.sum("v")).collect()[0]) == pytest.approx(tuple(expected))
    dropped.unpersist()


def test_least_recently_used_blocks_of_another_rdd_are_evicted(tmp_path):
    mm = UnifiedMemoryManager(10_000, 5_000)
    bm = BlockManager(str(tmp_path))
    bm.bind_memory_manager(mm)
    block = pa.table({"x": pa.array(bytes(3_000), pa.uint8())})
    bm.put("rdd_1_0", block, StorageLevel.MEMORY_AND_DISK)
    bm.put("rdd_1_1", block, StorageLevel.MEMORY_ONLY)
    bm.put("rdd_1_2", block, StorageLevel.MEMORY_ONLY)
    bm.get("rdd_1_0")  # now the most recently used
    updates = dict(bm.put("rdd_2_0", block, StorageLevel.MEMORY_ONLY))
    assert updates["rdd_1_1"].storage_level == StorageLevel.NONE  # MEMORY_ONLY: dropped, not moved to disk
    assert updates["rdd_2_0"].memory_size == block.nbytes
    assert bm.contains("rdd_1_0") and not bm.contains("rdd_1_1")
    assert "rdd_1_0" not in updates and "rdd_1_2" not in updates  # one eviction made room


def test_a_block_never_evicts_blocks_of_its_own_rdd(tmp_path):
    mm = UnifiedMemoryManager(10_000, 5_000)
    bm = BlockManager(str(tmp_path))
    bm.bind_memory_manager(mm)
    block = pa.table({"x": pa.array(bytes(3_000), pa.uint8())})
    for i in range(3):
        bm.put(f"rdd_5_{i}", block, StorageLevel.MEMORY_ONLY)
    assert bm.put("rdd_5_3", block, StorageLevel.MEMORY_ONLY) == []  # refused, not stored
    assert [bm.contains(f"rdd_5_{i}") for i in range(4)] == [True, True, True, False]


def test_a_cached_partition_is_read_instead_of_recomputed(spark, small_storage, recorded, conf):
    conf("spark.taskMetrics.trackUpdatedBlockStatuses", "true")
    df = _frame(spark, 5_000, 3).cache()
    df.count()
    spark.bus.wait_until_empty()
    stored = [b for e in recorded.of_type("SparkListenerTaskEnd") for b in e.task_metrics.updated_blocks]
    assert sorted(b for b, _ in stored) == [f"rdd_{spark.cache_manager.lookup(df._plan).cache.value.rdd_id}_{i}" for i in range(4)]
    entry = json.loads(json.dumps(event_to_json(next(e for e in recorded.of_type("SparkListenerTaskEnd")
                                                     if e.task_metrics.updated_blocks))))
    status = entry["Task Metrics"]["Updated Blocks"][0]["Status"]
    assert status["Storage Level"]["Use Memory"] and status["Memory Size"] > 0

    recorded.events.clear()
    df.count()
    spark.bus.wait_until_empty()
    task_ends = recorded.of_type("SparkListenerTaskEnd")
    assert not any(e.task_metrics.updated_blocks for e in task_ends)  # read, not stored again
    assert sum(e.task_metrics.shuffle_write.records_written for e in task_ends if e.task_type == "ShuffleMapTask") < 5_000

    rdd_id = spark.cache_manager.lookup(df._plan).cache.value.rdd_id
    df.unpersist()
    spark.bus.wait_until_empty()
    unpersist = [event_to_json(e) for e in recorded.of_type("SparkListenerUnpersistRDD")]
    assert unpersist == [{"Event": "SparkListenerUnpersistRDD", "RDD ID": rdd_id}]
    assert spark.env.block_manager.block_ids(f"rdd_{rdd_id}_") == []


def test_broadcast_relation_is_a_block_of_the_block_manager(spark, small_storage, conf):
    conf("spark.sql.autoBroadcastJoinThreshold", str(10 * MiB))
    bm = spark.env.block_manager
    before = set(bm.block_ids("broadcast_"))
    small = spark.createDataFrame([(i, f"n{i}") for i in range(50)], ["k", "name"])
    big = _frame(spark, 2_000, 4)
    expected = sum(1 for r in big.select("k").collect() if r[0] < 50)
    joined = big.join(small, "k")
    assert "BroadcastExchange" in joined._qe.executed_plan.tree_string()
    assert joined.count() == expected
    new = set(bm.block_ids("broadcast_")) - before
    assert new and all(bm.status(b).storage_level == StorageLevel.MEMORY_AND_DISK for b in new)
    assert all(bm.status(b).memory_size > 0 for b in new)  # counted in storage memory
    del joined   # nothing references the plan any more: its broadcast goes (Spark's ContextCleaner)
    gc.collect()
    assert not new & set(bm.block_ids("broadcast_"))


def _strings_frame(spark):
    rng = np.random.default_rng(5)
    flags = np.array(["A", "N", "R", None], dtype=object)[rng.integers(0, 4, 40_000)]
    unique = [f"comment {i}" for i in range(40_000)]
    return spark.createDataFrame(pa.table({"flag": pa.array(flags, pa.string()), "note": unique,
                                           "v": rng.integers(0, 1000, 40_000)})).repartition(2)


def test_cached_strings_with_few_values_are_stored_dictionary_encoded(spark):
    """As Spark's compressed columnar cache: the low-cardinality column is a dictionary in the
    block, the unique one stays plain, and every reader still sees strings."""
    df = _strings_frame(spark)
    expected = sorted((tuple(r) for r in df.groupBy("flag").agg(F.sum("v"), F.count("note")).collect()), key=str)
    cached = df.cache()
    assert cached.count() == 40_000
    rdd_id = spark.cache_manager.lookup(cached._plan).cache.value.rdd_id
    block = spark.env.block_manager.get(f"rdd_{rdd_id}_0")
    assert [pa.types.is_dictionary(t) for t in block.schema.types] == [True, False, False], block.schema
    assert sorted((tuple(r) for r in cached.groupBy("flag").agg(F.sum("v"), F.count("note")).collect()), key=str) == expected
    collected = cached.filter(F.col("flag") == "N").select("flag", "note").toArrow()
    assert collected.schema.field("flag").type == pa.string() and set(collected["flag"].to_pylist()) == {"N"}
    cached.unpersist()


def test_an_uncompressed_cache_keeps_strings_plain(spark, conf):
    conf("spark.sql.inMemoryColumnarStorage.compressed", "false")
    cached = _strings_frame(spark).cache()
    assert cached.count() == 40_000
    rdd_id = spark.cache_manager.lookup(cached._plan).cache.value.rdd_id
    block = spark.env.block_manager.get(f"rdd_{rdd_id}_0")
    assert not any(pa.types.is_dictionary(t) for t in block.schema.types)
    cached.unpersist()


def test_the_in_memory_scan_reads_only_the_columns_above_it_use(spark):
    """Spark's InMemoryScans: the scan under a Project and a Filter outputs the columns they read."""
    cached = _strings_frame(spark).cache()
    query = cached.filter(F.col("v") > 10).select("flag")
    scan = next(line for line in query._qe.explain_string("simple").splitlines() if "InMemoryTableScan" in line)
    assert "flag#" in scan and "v#" in scan and "note#" not in scan
    assert query.count() == cached.filter(F.col("v") > 10).count()
    cached.unpersist()


def test_a_plan_with_a_shuffle_is_cached_under_adaptive_execution(spark, conf):
    """The cached plan's exchange runs inside the reading query's job (it failed with "AdaptiveSparkPlan
    executed without an AdaptiveContext" when the cached plan kept its own AdaptiveSparkPlan)."""
    conf("spark.sql.adaptive.enabled", "true")
    cached = spark.range(10_000).repartition(3, "id").cache()
    assert cached.count() == 10_000
    assert cached.agg(F.sum("id")).collect()[0][0] == sum(range(10_000))
    cached.unpersist()
