"""Adaptive query execution end to end: results equal DuckDB's with AQE on and off, and the plan
AQE chooses follows from the real shuffle sizes (coalescing, broadcast switch, skew split)."""
from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from engine.adaptive.aqe_shuffle_read_exec import AQEShuffleReadExec
from engine.execution.broadcast_hash_join_exec import BroadcastHashJoinExec
from engine.execution.shuffled_hash_join_exec import ShuffledHashJoinExec
from engine.sql import functions as F

ROWS = 200_000
TARGET = 32 * 1024  # advisory size of the coalescing test: several reduce partitions per task


def _facts(spark, partitions=8):
    """``ROWS`` rows; key 0 holds 90% of them (a skewed join key), the rest spread over 1..999."""
    ids = F.col("id")
    return spark.range(0, ROWS, 1, partitions).select(
        ids, F.when(ids % 10 == 0, ids % 999 + 1).otherwise(0).alias("k"), (ids % 7).alias("v"))


def _dims(spark):
    return spark.range(0, 1000, 1, 2).select(F.col("id").alias("k"), (F.col("id") % 13).alias("g"))


def _expected(sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute(f"create table facts as select id, case when id % 10 = 0 then id % 999 + 1 else 0 end as k, "
                f"id % 7 as v from range({ROWS}) t(id)")
    con.execute("create table dims as select id as k, id % 13 as g from range(1000) t(id)")
    return sorted(con.execute(sql).fetchall())


def _final_plan(df):
    adaptive = df._qe.adaptive_plan
    assert adaptive is not None and adaptive.is_final_plan
    return adaptive.current_plan


def _nodes(plan, kind):
    return [n for n in plan.walk() if isinstance(n, kind)]


@pytest.mark.parametrize("adaptive", ["true", "false"])
def test_join_and_aggregate_equal_duckdb_with_aqe_on_and_off(spark, conf, adaptive):
    conf("spark.sql.adaptive.enabled", adaptive)
    conf("spark.sql.autoBroadcastJoinThreshold", -1)
    df = _facts(spark).join(_dims(spark), "k").groupBy("g").agg(F.sum("v").alias("s"), F.count("k").alias("n"))
    got = sorted(tuple(r) for r in df.collect())
    assert got == _expected("select g, sum(v), count(k) from facts join dims using (k) group by g")
    assert (df._qe.adaptive_plan is not None) == (adaptive == "true")


def test_coalescing_sizes_reduce_partitions_by_the_advisory_size(spark, conf):
    conf("spark.sql.shuffle.partitions", 40)
    conf("spark.sql.adaptive.coalescePartitions.parallelismFirst", "false")
    conf("spark.sql.adaptive.coalescePartitions.minPartitionSize", 1)
    conf("spark.sql.adaptive.advisoryPartitionSizeInBytes", TARGET)
    df = spark.range(0, 20_000, 1, 4).groupBy((F.col("id") % 2000).alias("m")).agg(F.count("id").alias("c"))
    assert len(df.collect()) == 2000
    (read,) = _nodes(_final_plan(df), AQEShuffleReadExec)
    sizes = read.child.map_output_statistics.bytes_by_partition_id
    groups = [(s.start_reducer_index, s.end_reducer_index) for s in read.partition_specs]
    assert read.arguments() == "coalesced" and len(groups) < 40
    for (a, b), nxt in zip(groups, groups[1:] + [None]):
        assert sum(sizes[a:b]) <= TARGET or b - a == 1  # no group over the target unless it is one partition
        if nxt is not None:
            assert sum(sizes[a:nxt[1]]) > TARGET  # merging with the next group would pass the target
    assert read.num_partitions == len(groups)


def test_coalescing_off_keeps_every_shuffle_partition(spark, conf):
    conf("spark.sql.shuffle.partitions", 12)
    conf("spark.sql.adaptive.coalescePartitions.enabled", "false")
    df = spark.range(0, 1000, 1, 2).groupBy((F.col("id") % 10).alias("m")).count()
    assert len(df.collect()) == 10
    assert _nodes(_final_plan(df), AQEShuffleReadExec) == [] and _final_plan(df).num_partitions == 12


def test_a_side_that_turns_out_small_is_broadcast(spark, conf):
    conf("spark.sql.autoBroadcastJoinThreshold", 64 * 1024)  # the filtered side's estimate is far over it
    small = (spark.range(0, 1_000_000, 1, 2).where((F.col("id") < 1000) & (F.col("id") % 13 == 0))
             .select(F.col("id").alias("k"), (F.col("id") % 13).alias("g")))
    df = _facts(spark).join(small, "k").groupBy("g").agg(F.sum("v").alias("s"))
    assert _nodes(df._qe.executed_plan, ShuffledHashJoinExec)  # planned as a shuffled join
    got = sorted(tuple(r) for r in df.collect())
    assert got == _expected("select g, sum(v) from facts join dims using (k) where g = 0 group by g")
    final = _final_plan(df)
    (join,) = _nodes(final, BroadcastHashJoinExec)
    assert join.build_side == "right" and "BroadcastQueryStage" in final.tree_string()
    assert "AQEShuffleRead local" in final.tree_string()


def test_a_skewed_join_partition_is_split_into_map_ranges(spark, conf):
    conf("spark.sql.autoBroadcastJoinThreshold", -1)
    conf("spark.sql.shuffle.partitions", 8)
    conf("spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes", 32 * 1024)
    # key 0 holds 90% of the rows but its constant columns compress well: ~5x the median in bytes
    conf("spark.sql.adaptive.skewJoin.skewedPartitionFactor", 3)
    conf("spark.sql.adaptive.advisoryPartitionSizeInBytes", 16 * 1024)  # key 0's slices: a few map outputs each
    df = _facts(spark).join(_dims(spark), "k").groupBy("g").agg(F.count("v").alias("n"))
    got = sorted(tuple(r) for r in df.collect())
    assert got == _expected("select g, count(v) from facts join dims using (k) group by g")
    final = _final_plan(df)
    (join,) = _nodes(final, ShuffledHashJoinExec)
    left, right = join.left, join.right
    assert "skewed" in left.arguments() and len(left.partition_specs) == len(right.partition_specs)
    split = {s.reducer_index for s in left.partition_specs if hasattr(s, "reducer_index")}
    assert len(split) == 1  # only key 0's partition is skewed
    slices = sum(1 for s in left.partition_specs if hasattr(s, "reducer_index"))
    assert slices > 1 and join.num_partitions >= slices


def test_skew_join_off_leaves_the_hot_partition_whole(spark, conf):
    conf("spark.sql.autoBroadcastJoinThreshold", -1)
    conf("spark.sql.adaptive.skewJoin.enabled", "false")
    conf("spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes", 64 * 1024)
    df = _facts(spark).join(_dims(spark), "k").groupBy("g").agg(F.count("v").alias("n"))
    df.collect()
    assert "skewed" not in _final_plan(df).tree_string()


def test_explain_shows_the_adaptive_plan_before_and_after(spark, conf):
    conf("spark.sql.autoBroadcastJoinThreshold", -1)
    df = _facts(spark).groupBy("k").count()
    before = df._qe.explain_string("simple")
    assert before.startswith("== Physical Plan ==\nAdaptiveSparkPlan isFinalPlan=false\n+- ")
    df.collect()
    after = df._qe.explain_string("simple")
    assert "AdaptiveSparkPlan isFinalPlan=true\n+- == Final Plan ==\n   ResultQueryStage" in after
    assert "+- == Initial Plan ==" in after and "ShuffleQueryStage 0" in after
    formatted = df._qe.explain_string("formatted")
    assert "AQEShuffleRead (" in formatted and ", coalesced" in formatted and "Statistics(sizeInBytes=" in formatted


def test_user_repartition_is_never_coalesced(spark):
    df = spark.range(0, 1000, 1, 2).repartition(6).groupBy((F.col("id") % 3).alias("m")).count()
    assert len(df.collect()) == 3
    final = _final_plan(df)
    reads = _nodes(final, AQEShuffleReadExec)
    assert all(r.child.exchange.can_change_num_partitions for r in reads)
    assert "REPARTITION_BY_NUM" in final.tree_string()


def test_arrow_data_round_trips_through_aqe(spark):
    table = pa.table({"k": [1, 2, 2, 3, 3, 3], "v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    df = spark.createDataFrame(table).groupBy("k").agg(F.sum("v").alias("s"))
    assert sorted(tuple(r) for r in df.collect()) == [(1, 1.0), (2, 5.0), (3, 15.0)]
