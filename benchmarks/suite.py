"""What the pytest-benchmark suites share: settings from the environment, engine parameters, the
pool of warm engines, and the correctness check that runs before anything is timed.

Environment:

* ``EMBER_BENCH_SF``: scale factor (default 0.1; SF 1 locally);
* ``EMBER_BENCH_ROUNDS`` / ``EMBER_BENCH_WARMUP``: timed and warm-up rounds per benchmark (5 / 1);
* ``EMBER_BENCH_PROCESS_ROUNDS``: runs per whole-process timing (3);
* ``EMBER_BENCH_DATA``: where generated data is cached (see ``benchmarks.datagen``).

    pytest benchmarks --benchmark-only                      # every engine (PySpark needs Java 17)
    pytest benchmarks --benchmark-only -m "not spark"       # without PySpark
    pytest benchmarks --benchmark-only -m "not process"     # without the subprocess timings
"""
from __future__ import annotations

import os

import pyarrow as pa
import pytest

from benchmarks import queries as Q
from benchmarks.datagen import Dataset

SF = float(os.environ.get("EMBER_BENCH_SF", "0.1"))
ROUNDS = int(os.environ.get("EMBER_BENCH_ROUNDS", "5"))
WARMUP_ROUNDS = int(os.environ.get("EMBER_BENCH_WARMUP", "1"))
PROCESS_ROUNDS = int(os.environ.get("EMBER_BENCH_PROCESS_ROUNDS", "3"))


def engine_params(engines=Q.ENGINES) -> list:
    """Engines as pytest parameters; PySpark's carry the ``spark`` mark (``-m "not spark"``)."""
    return [pytest.param(e, marks=pytest.mark.spark, id=e) if e == "pyspark" else pytest.param(e, id=e)
            for e in engines]


class RunnerPool:
    """Each engine opened once, on first use, and kept warm for the whole session."""

    def __init__(self, data: Dataset):
        self.data = data
        self._open: dict[str, Q.Runner] = {}

    def get(self, engine: str) -> Q.Runner:
        if engine not in self._open:
            self._open[engine] = Q.open_runner(engine, self.data)
        return self._open[engine]

    def close(self) -> None:
        for runner in self._open.values():
            runner.close()
        self._open.clear()


class Verified:
    """Every selected query, run once on every selected engine (and DuckDB, the reference), its
    results compared with ``check_equal``. ``problem(query, engine)`` is why that engine must not
    be timed on that query (it failed, or its answer differs), else None."""

    def __init__(self, pool: RunnerPool, selected: dict[str, set[str]]):
        self.rows: dict[str, int] = {}
        self._problems: dict[tuple[str, str], str] = {}
        for name, engines in selected.items():
            query = Q.QUERIES[name]
            outputs: dict[str, pa.Table] = {}
            for engine in [Q.REFERENCE_ENGINE] + sorted(engines - {Q.REFERENCE_ENGINE}):
                try:
                    runner = pool.get(engine)
                    runner.prepare(query)
                    outputs[engine] = runner.run(query)
                except Exception as exc:  # noqa: BLE001 - reported on that engine's benchmark
                    self._problems[(name, engine)] = f"{name}: {engine} failed: {type(exc).__name__}: {exc}"
            try:
                Q.check_equal(outputs, ordered=query.ordered, query=name)
            except Q.ResultMismatch as mismatch:
                for engine in mismatch.engines:
                    self._problems[(name, engine)] = str(mismatch)
            if Q.REFERENCE_ENGINE in outputs:
                self.rows[name] = outputs[Q.REFERENCE_ENGINE].num_rows

    def problem(self, query: str, engine: str) -> str | None:
        return self._problems.get((query, engine))


def time_query(benchmark, pool: RunnerPool, verified: Verified, query: str, engine: str) -> None:
    """Time ``query`` on ``engine`` with ``benchmark.pedantic`` (group = the query), after the
    correctness check; fails, untimed, when the engine failed the check."""
    problem = verified.problem(query, engine)
    if problem:
        pytest.fail(problem, pytrace=False)
    q = Q.QUERIES[query]
    runner = pool.get(engine)
    benchmark.group = query
    benchmark.extra_info.update({"sf": SF, "engine": engine, "query": query, "threads": Q.THREADS})
    result = benchmark.pedantic(runner.run, args=(q,), rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    assert isinstance(result, pa.Table)
    if query in verified.rows:
        assert result.num_rows == verified.rows[query], "the timed run returned another answer than the checked one"
