"""A global sort over a small finished shuffle skips its sampling job (engine.adaptive.single_range_partition);
every other global sort still samples, and the rows come out sorted either way."""
from __future__ import annotations

import pytest

from engine.execution.partitioning import RangePartitioning
from engine.execution.shuffle_exchange_exec import ShuffleExchangeExec
from engine.sql import functions as F


@pytest.fixture
def events(recorded):
    recorded.events.clear()
    return recorded


def _range_exchange(df) -> ShuffleExchangeExec:
    plan = df._qe.adaptive_plan.current_plan
    return next(n.exchange for n in plan.walk()
                if hasattr(n, "exchange") and isinstance(n.exchange.partitioning, RangePartitioning))


def _sums_by_key(spark):
    return (spark.range(0, 100, numPartitions=3).groupBy((F.col("id") % 7).alias("k"))
            .agg(F.sum("id").alias("s")).orderBy(F.desc("k")))


def _expected_sums():
    return [(k, sum(i for i in range(100) if i % 7 == k)) for k in range(6, -1, -1)]


def _job_count(spark, events) -> int:
    spark.bus.wait_until_empty()
    return len(events.of_type("SparkListenerJobStart"))


def test_a_sort_of_a_small_coalesced_aggregate_runs_no_sampling_job(spark, events):
    df = _sums_by_key(spark)
    assert [tuple(r) for r in df.collect()] == _expected_sums()
    # the aggregate's shuffle stage, the range exchange's stage, the result: no sampling job
    assert _job_count(spark, events) == 3
    assert len(_range_exchange(df).range_bounds) == 0


def test_a_sort_of_a_scan_still_samples(spark, events):
    df = spark.range(0, 1000, numPartitions=4).orderBy(F.desc("id"))
    assert [r.id for r in df.collect()] == list(range(999, -1, -1))
    assert _job_count(spark, events) == 3  # sampling, the range exchange's stage, the result
    assert len(_range_exchange(df).range_bounds) > 0


def test_a_small_input_over_the_advisory_size_still_samples(spark, events, conf):
    conf("spark.sql.shuffle.partitions", "1")  # one partition without coalescing
    conf("spark.sql.adaptive.advisoryPartitionSizeInBytes", "16b")
    df = _sums_by_key(spark)
    assert [tuple(r) for r in df.collect()] == _expected_sums()
    assert _job_count(spark, events) == 4
