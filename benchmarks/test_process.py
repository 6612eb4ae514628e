"""Fresh-process timings (marked ``process``; slow, each round is a new interpreter):

* Ember's cold start per query: kernel caches emptied before every round, so each round compiles
  every kernel (``extra_info`` holds the kernel compile milliseconds and the warm second run);
* the whole ``python -c <one query>`` process per engine, Ember with a warm kernel cache.
"""
from __future__ import annotations

import shutil
import tempfile

import pytest

from benchmarks import process_times as P
from benchmarks.suite import PROCESS_ROUNDS, engine_params

QUERIES = ["q1", "q6", "q3", "groupby_orderkey", "sort_lineitem", "join_skewed"]

pytestmark = pytest.mark.process


@pytest.mark.parametrize("query", QUERIES)
def test_ember_cold_compile(benchmark, bench_data, query):
    made: list[str] = []

    def fresh_cache():
        made.append(tempfile.mkdtemp(prefix="ember-cold-"))
        return (query, bench_data, made[-1]), {}

    def cold(query, data, cache):
        try:
            return P.cold_compile(query, data, cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    benchmark.group = f"cold compile: {query}"
    result = benchmark.pedantic(cold, setup=fresh_cache, rounds=PROCESS_ROUNDS, iterations=1)
    assert result.from_disk_cache == 0   # really cold (a plain sort has no generated kernel at all)
    benchmark.extra_info.update(result.to_json())


@pytest.mark.parametrize("engine", engine_params())
@pytest.mark.parametrize("query", QUERIES)
def test_process_time(benchmark, bench_data, query, engine, tmp_path):
    cache = tmp_path if engine == "ember" else None
    P.one_query_process(engine, query, bench_data, cache)  # warms the kernel cache and the OS file cache
    benchmark.group = f"process: {query}"
    benchmark.pedantic(P.one_query_process, args=(engine, query, bench_data, cache), rounds=PROCESS_ROUNDS,
                       iterations=1)
