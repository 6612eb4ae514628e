"""Sort, aggregate and join under a few MiB of execution memory: they spill, the results match
DuckDB on the same data, and the spill shows in the task metrics and the operators' SQL metrics."""
from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from engine.memory.spill import merge_sorted_runs, write_run
from engine.sql import functions as F
from tests.engine.support import unified_memory

MiB = 1024 * 1024


@pytest.fixture
def tiny_memory(spark, conf, recorded):
    """2 MiB of unified memory for the test (1 MiB of it the storage region)."""
    conf("spark.sql.autoBroadcastJoinThreshold", "-1")
    conf("spark.sql.adaptive.enabled", "false")
    conf("spark.sql.shuffle.partitions", "2")
    recorded.events.clear()
    with unified_memory(spark, 2 * MiB, 1 * MiB) as manager:
        yield manager
        assert manager.execution_memory_used() == 0  # every operator released what it took


def _spilled(spark, recorded) -> tuple[int, int, int]:
    spark.bus.wait_until_empty()
    metrics = [e.task_metrics for e in recorded.of_type("SparkListenerTaskEnd")]
    return (sum(m.memory_bytes_spilled for m in metrics), sum(m.disk_bytes_spilled for m in metrics),
            max(m.peak_execution_memory for m in metrics))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 300_000
    facts = pa.table({
        "k": pa.array(rng.integers(0, 1_000_000, n), mask=rng.random(n) < 0.01),
        "s": pa.array(np.array(["a", "bb", "ccc", "dddd"])[rng.integers(0, 4, n)]),
        "x": pa.array(rng.normal(0, 100, n)),
        "id": pa.array(np.arange(n)),
    })
    dims = pa.table({"k": pa.array(rng.integers(0, 1_200_000, 600_000)), "y": pa.array(np.arange(600_000))})
    con = duckdb.connect()
    con.register("facts", facts)
    con.register("dims", dims)
    return facts, dims, con


def _same(rows, expected):
    def norm(row):
        return tuple(round(v, 6) if isinstance(v, float) else v for v in row)

    key = lambda r: tuple((v is None, v if v is not None else 0) for v in r)  # noqa: E731
    assert sorted(map(norm, rows), key=key) == sorted(map(norm, expected), key=key)


def test_aggregate_spills_and_matches_duckdb(spark, tiny_memory, recorded, data):
    facts, _, con = data
    df = spark.createDataFrame(facts).groupBy("k").agg(F.sum("x").alias("t"), F.count("s").alias("c"),
                                                       F.max("s").alias("m"), F.avg("id").alias("a"))
    rows = [tuple(r) for r in df.collect()]
    _same(rows, con.execute("SELECT k, sum(x), count(s), max(s), avg(id) FROM facts GROUP BY k").fetchall())
    memory, disk, peak = _spilled(spark, recorded)
    assert memory > 0 and disk > 0 and 0 < peak
    final = [n for n in df._qe.executed_plan.walk() if getattr(n, "mode", None) == "final"][0]
    assert final.metrics["spillSize"].value > 0 and final.metrics["peakMemory"].value > 0


def test_sort_spills_and_keeps_spark_null_order(spark, tiny_memory, recorded, data):
    facts, _, con = data
    rows = [tuple(r) for r in spark.createDataFrame(facts).orderBy(F.desc("k"), "id").select("k", "id").collect()]
    assert rows == con.execute("SELECT k, id FROM facts ORDER BY k DESC NULLS LAST, id").fetchall()
    memory, disk, _ = _spilled(spark, recorded)
    assert memory > 0 and disk > 0


@pytest.mark.parametrize("how,sql", [
    ("inner", "SELECT count(*), sum(x), sum(y) FROM facts JOIN dims USING (k)"),
    ("full", "SELECT count(*), sum(x), sum(y) FROM facts FULL JOIN dims ON facts.k = dims.k"),
    ("left_anti", "SELECT count(*), sum(x), sum(0) FROM facts ANTI JOIN dims ON facts.k = dims.k"),
])
def test_shuffled_hash_join_spills_to_grace_buckets_and_matches_duckdb(spark, tiny_memory, recorded, data, how, sql):
    facts, dims, con = data
    joined = spark.createDataFrame(facts).join(spark.createDataFrame(dims), "k", how)
    y = F.sum("y") if how != "left_anti" else F.sum(F.lit(0))
    row = joined.agg(F.count(F.lit(1)), F.sum("x"), y).collect()[0]
    expected = con.execute(sql).fetchone()
    assert (row[0], round(row[1], 4), row[2]) == (expected[0], round(expected[1], 4), expected[2])
    memory, disk, _ = _spilled(spark, recorded)
    assert memory > 0 and disk > 0


def test_merge_of_sorted_runs_is_sorted_with_ties_across_runs(tmp_path):
    rng = np.random.default_rng(5)
    runs = []
    for i in range(5):
        keys = np.sort(rng.integers(0, 50, 20_000 + i))
        path = str(tmp_path / f"run{i}")
        write_run(path, pa.table({"k": keys, "run": np.full(len(keys), i)}))
        runs.append(path)
    merged = pa.concat_tables(merge_sorted_runs(runs, lambda t: pa.compute.sort_indices(t, [("k", "ascending")])))
    keys = merged.column("k").to_numpy()
    assert len(keys) == sum(20_000 + i for i in range(5))
    assert (np.diff(keys) >= 0).all()
