"""Single-operator stress queries on every engine (group = query): a group-by with one group per
order, a full sort of lineitem, a shuffled join with one hot key, and a read of many small files."""
from __future__ import annotations

import pytest

from benchmarks.suite import engine_params, time_query

OPERATORS = ["groupby_orderkey", "sort_lineitem", "join_skewed", "q6_small_files"]


@pytest.mark.parametrize("engine", engine_params())
@pytest.mark.parametrize("query", OPERATORS)
def test_operator(benchmark, runner_pool, verified, query, engine):
    time_query(benchmark, runner_pool, verified, query, engine)
