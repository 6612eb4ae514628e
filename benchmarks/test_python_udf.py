"""Python UDFs on Ember and PySpark (group = python_udf): the same function over lineitem as a
row-at-a-time ``udf`` and as a vectorized ``pandas_udf``, then a sum per return flag.

Each benchmark records its median over Ember's ``udf`` median as ``extra_info["ratio_to_ember_udf"]``
(the Ember udf benchmark runs first), so the table says how much a pandas_udf saves on each engine
and how Ember's Python UDF path compares with Spark's Python workers.

    pytest benchmarks/test_python_udf.py --benchmark-only            # EMBER_BENCH_SF sets the size
"""
from __future__ import annotations

import os
import sys

import pyarrow as pa
import pytest

from benchmarks import queries as Q
from benchmarks.suite import ROUNDS, SF, WARMUP_ROUNDS, engine_params

# Spark's Python workers must start with an interpreter that has pandas and pyarrow
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

KINDS = ("udf", "pandas_udf")
ENGINES = ("ember", "pyspark")


def net_price(price, discount):
    return None if price is None or discount is None else price * (1 - discount)


def net_price_series(price, discount):
    return price * (1 - discount)


def revenue_by_flag(runner: Q.Runner, kind: str) -> pa.Table:
    """The query: ``sum(f(l_extendedprice, l_discount))`` per ``l_returnflag``, f a Python UDF."""
    F = runner.F
    f = F.udf(net_price, "double") if kind == "udf" else F.pandas_udf(net_price_series, "double")
    lineitem = runner.spark.read.parquet(runner.data.path("lineitem"))
    return (lineitem.select("l_returnflag", f("l_extendedprice", "l_discount").alias("net"))
            .groupBy("l_returnflag").agg(F.sum("net").alias("revenue")).toArrow())


@pytest.fixture(scope="module")
def checked(runner_pool):
    """Every engine and kind run once and compared before anything is timed; name -> problem."""
    outputs, problems = {}, {}
    for engine in ENGINES:
        for kind in KINDS:
            name = f"{engine}-{kind}"
            try:
                outputs[name] = revenue_by_flag(runner_pool.get(engine), kind)
            except Exception as exc:  # noqa: BLE001 - reported on that benchmark
                problems[name] = f"{name} failed: {type(exc).__name__}: {exc}"
    try:
        Q.check_equal(outputs, query="python_udf", reference="ember-udf" if "ember-udf" in outputs else None)
    except Q.ResultMismatch as mismatch:
        problems.update({name: str(mismatch) for name in mismatch.engines})
    return problems


_medians: dict[str, float] = {}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("engine", engine_params(ENGINES))
def test_python_udf(benchmark, runner_pool, checked, engine, kind):
    name = f"{engine}-{kind}"
    if name in checked:
        pytest.fail(checked[name], pytrace=False)
    runner = runner_pool.get(engine)
    benchmark.group = "python_udf"
    benchmark.extra_info.update({"sf": SF, "engine": engine, "kind": kind, "threads": Q.THREADS})
    result = benchmark.pedantic(revenue_by_flag, args=(runner, kind), rounds=ROUNDS,
                                warmup_rounds=WARMUP_ROUNDS, iterations=1)
    assert result.num_rows == 3  # l_returnflag is A, N or R
    _medians[name] = benchmark.stats.stats.median
    if "ember-udf" in _medians:
        benchmark.extra_info["ratio_to_ember_udf"] = round(_medians[name] / _medians["ember-udf"], 3)
