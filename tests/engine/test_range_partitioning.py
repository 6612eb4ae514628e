"""Range partition ids (Spark's RangePartitioner): a row goes after every bound that sorts before
its key, nulls to the first or last partition per the null order, NaN above every number."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest

from engine.catalyst.expressions import AttributeReference, SortOrder
from engine.execution.shuffle_exchange_exec import range_partition_ids, sample_bounds
from engine.sql.types import DateType, DoubleType, LongType, StringType


def _ids(values: pa.Array, data_type, bounds, ascending=True, nulls_first=None) -> list[int]:
    key = AttributeReference("k", data_type)
    return range_partition_ids(pa.table({key.column_key: values}), SortOrder(key, ascending, nulls_first),
                               bounds).tolist()


@pytest.mark.parametrize("ascending", [True, False])
def test_numeric_keys_go_after_the_bounds_before_them_and_nulls_follow_the_null_order(ascending):
    values = pa.array([5, 10, 11, None, -3, 20, 30], pa.int64())
    bounds = np.array([10, 20], np.int64)
    forward = [0, 0, 1, None, 0, 1, 2]
    expected = [p if ascending else 2 - p for p in forward if p is not None]
    got = _ids(values, LongType(), bounds, ascending)
    assert got[:3] + got[4:] == expected
    assert got[3] == (0 if ascending else 2)  # Spark: nulls first ascending, last descending
    assert _ids(values, LongType(), bounds, ascending, nulls_first=not ascending)[3] == (2 if ascending else 0)


def test_nan_sorts_above_every_number_and_dates_partition_by_day():
    doubles = pa.array([-math.inf, 0.5, math.nan, math.inf])
    assert _ids(doubles, DoubleType(), np.array([0.0, 1.0])) == [0, 1, 2, 2]
    days = pa.array([dt.date(2020, 1, 1), dt.date(2021, 6, 1)])
    assert _ids(days, DateType(), sample_bounds(pa.array([dt.date(2021, 1, 1)] * 4), 2)) == [0, 1]


def test_string_keys_partition_as_numpy_orders_them():
    bounds = sample_bounds(pa.array(["b", "d", "f", "h"]), 2)
    assert _ids(pa.array(["a", "e", None, "z"]), StringType(), bounds) == [0, 0, 0, 1]


def test_the_sampling_job_reads_only_the_sort_key_of_a_parquet_scan(spark, conf, tmp_path, recorded):
    """The range exchange samples its first sort key; over a scan whose columns a fused Project only
    passes through, the sampling job's tasks read that column alone, and the sort is still right."""
    conf("spark.sql.adaptive.enabled", "false")
    rng = np.random.default_rng(3)
    n = 40_000
    spark.createDataFrame(pa.table({"k": rng.integers(0, 10**6, n), "a": rng.normal(size=n),
                                    "b": rng.normal(size=n), "c": rng.normal(size=n)})).write.parquet(str(tmp_path / "t"))
    spark.bus.wait_until_empty()
    recorded.events.clear()
    rows = spark.read.parquet(str(tmp_path / "t")).select("k", "a", "b", "c").orderBy("k").toArrow()
    assert rows.column("k").to_pylist() == sorted(rows.column("k").to_pylist())
    spark.bus.wait_until_empty()
    stage_input = {}
    for e in recorded.of_type("SparkListenerTaskEnd"):
        stage_input[e.stage_id] = stage_input.get(e.stage_id, 0) + e.task_metrics.input_bytes_read
    sampling, map_side = sorted(stage_input)[:2]
    assert 0 < stage_input[sampling] < stage_input[map_side] / 2
