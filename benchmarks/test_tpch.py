"""TPC-H Q1, Q6 and Q3 from Parquet, and Q1 and Q6 from memory, on every engine (group = query)."""
from __future__ import annotations

import pytest

from benchmarks.suite import engine_params, time_query

TPCH = ["q1", "q1_memory", "q6", "q6_memory", "q3"]


@pytest.mark.parametrize("engine", engine_params())
@pytest.mark.parametrize("query", TPCH)
def test_tpch(benchmark, runner_pool, verified, query, engine):
    time_query(benchmark, runner_pool, verified, query, engine)
