"""The benchmark machinery on tiny data (SF 0.002): a deterministic generator, every engine giving
the same answer on every benchmark query (the correctness-by-comparison test), ``check_equal``
catching a wrong answer, and ``run_bench`` producing its table and JSON."""
from __future__ import annotations

import datetime as dt
import json
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from benchmarks import datagen
from benchmarks import queries as Q

SF = 0.002
PEERS = [e for e in Q.ENGINES if e != Q.REFERENCE_ENGINE]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return datagen.ensure_data(SF, tmp_path_factory.mktemp("bench-data"))


def _read(data, table: str) -> pa.Table:
    return pq.read_table(data.path(table))


def test_generator_is_deterministic(data, tmp_path):
    again = datagen.write_dataset(SF, tmp_path)
    assert again == data.rows
    for table in datagen.TABLES:
        assert _read(data, table).equals(pq.read_table(tmp_path / table)), table


def test_generated_values_look_like_tpch(data):
    sizes = datagen.Sizes.of(SF)
    li, orders, cust = _read(data, "lineitem"), _read(data, "orders"), _read(data, "customer")
    assert orders.num_rows == sizes.orders and cust.num_rows == sizes.customers
    assert sizes.orders <= li.num_rows <= 7 * sizes.orders
    assert pc.min_max(li["l_quantity"]).as_py() == {"min": 1.0, "max": 50.0}
    assert pc.min(li["l_discount"]).as_py() == 0.0 and pc.max(li["l_discount"]).as_py() == 0.10
    assert pc.max(li["l_tax"]).as_py() == 0.08
    shipped = pc.min_max(li["l_shipdate"]).as_py()
    assert dt.date(1992, 1, 2) <= shipped["min"] <= shipped["max"] <= dt.date(1998, 12, 1)
    assert set(pc.unique(li["l_returnflag"]).to_pylist()) == {"A", "N", "R"}
    assert set(pc.unique(li["l_linestatus"]).to_pylist()) == {"F", "O"}
    assert set(pc.unique(cust["c_mktsegment"]).to_pylist()) == set(datagen.SEGMENTS)
    assert li.schema.field("l_extendedprice").type == pa.float64()
    assert pc.all(pc.is_in(li["l_orderkey"], orders["o_orderkey"])).as_py()  # every line has its order
    lines = pq.ParquetDataset(data.path("lineitem")).files
    assert len(lines) == datagen.MIN_FILES
    skewed = _read(data, "lineitem_skewed")
    hot_share = pc.sum(pc.equal(skewed["l_orderkey"], datagen.HOT_ORDERKEY)).as_py() / skewed.num_rows
    assert 0.25 < hot_share < 0.35
    assert len(pq.ParquetDataset(data.path("lineitem_small_files")).files) >= datagen.MIN_SMALL_FILES


def test_check_equal_names_engines_and_shows_rows():
    good = pa.table({"k": [1, 2, 3], "v": [1.0, 2.0, 3.0]})
    same = pa.table({"k": pa.array([3, 1, 2], pa.int32()), "v": [3.0 * (1 + 1e-9), 1.0, 2.0]})
    Q.check_equal({"duckdb": good, "polars": same})  # order, integer width and 1e-9 do not matter
    wrong = pa.table({"k": [1, 2, 3], "v": [1.0, 2.5, 3.0]})
    with pytest.raises(Q.ResultMismatch) as raised:
        Q.check_equal({"duckdb": good, "polars": same, "ember": wrong}, query="q0")
    assert raised.value.engines == ["ember"] and raised.value.reference == "duckdb"
    message = str(raised.value)
    assert "q0: ember differs from duckdb" in message and "row 1" in message and "2.5" in message
    with pytest.raises(Q.ResultMismatch, match="rows: duckdb 3, ember 2"):
        Q.check_equal({"duckdb": good, "ember": good.slice(0, 2)}, ordered=True)


@pytest.fixture(scope="module")
def reference(data):
    """DuckDB's result of every query: what the other engines are compared with."""
    with Q.open_runner(Q.REFERENCE_ENGINE, data) as runner:
        results = {}
        for query in Q.QUERIES.values():
            runner.prepare(query)
            results[query.name] = runner.run(query)
        return results


@pytest.fixture(scope="module")
def runners(data):
    opened = {}

    def get(engine):
        if engine not in opened:
            opened[engine] = Q.open_runner(engine, data)
        return opened[engine]

    yield get
    for runner in opened.values():
        runner.close()


@pytest.mark.parametrize("engine", [pytest.param(e, marks=pytest.mark.spark) if e == "pyspark" else e
                                    for e in PEERS])
@pytest.mark.parametrize("query", list(Q.QUERIES))
def test_engine_agrees_with_duckdb(runners, reference, query, engine):
    q = Q.QUERIES[query]
    runner = runners(engine)
    runner.prepare(q)
    Q.check_equal({Q.REFERENCE_ENGINE: reference[query], engine: runner.run(q)}, ordered=q.ordered, query=query)


def test_run_bench_prints_table_and_writes_json(data, tmp_path):
    from tui.bench import run_bench

    console = Console(record=True, width=220)
    out = tmp_path / "bench.json"
    results = run_bench(SF, ["ember", "duckdb", "polars"], ["q1", "q6", "groupby_orderkey"], rounds=1,
                        console=console, warmup_rounds=0, json_path=out, data_root=data.root.parent)
    assert results.ok, results.mismatches or results.errors
    text = console.export_text()
    for needle in ("q1", "groupby_orderkey", "duckdb/ember", "polars/ember", "JSON:"):
        assert needle in text
    saved = json.loads(out.read_text())
    assert saved["format"] == "ember-bench/1" and saved["sf"] == SF and saved["machine"]["logical_cores"]
    q1 = saved["queries"]["q1"]
    assert all(q1["engines"][e]["median_s"] > 0 and len(q1["engines"][e]["times_s"]) == 1
               for e in ("ember", "duckdb", "polars"))
    assert q1["ratio_to_ember"]["duckdb"] == pytest.approx(q1["engines"]["duckdb"]["median_s"]
                                                           / q1["engines"]["ember"]["median_s"])
    assert saved["versions"]["duckdb"]["threads"] == str(Q.THREADS)


def test_run_bench_does_not_time_a_wrong_answer(data, tmp_path, monkeypatch):
    from tui.bench import run_bench

    real_run = Q.PolarsRunner.run

    def doubled(self, query):
        table = real_run(self, query)
        return table.set_column(0, "revenue", pc.multiply(table["revenue"], 2.0))

    monkeypatch.setattr(Q.PolarsRunner, "run", doubled)
    console = Console(record=True, width=220)
    out = tmp_path / "bench.json"
    results = run_bench(SF, ["duckdb", "polars"], ["q6"], rounds=1, console=console, warmup_rounds=0,
                        json_path=out, data_root=data.root.parent)
    assert not results.ok and "polars differs from duckdb" in results.mismatches["q6"]
    assert "wrong" in console.export_text()
    polars = json.loads(out.read_text())["queries"]["q6"]["engines"]["polars"]
    assert polars["correct"] is False and polars["times_s"] == [] and polars["median_s"] is None


def test_run_bench_records_each_runs_cpu_time(data, tmp_path, monkeypatch):
    """Each timed run's CPU seconds go into the JSON beside its wall time: a run that spins for
    0.3 s in this process shows nearly that much CPU time. A child process that ends during a run
    takes nothing off the children's time (children are matched by pid)."""
    import subprocess
    import sys
    import time

    from tui.bench import run_bench

    real_run = Q.DuckDBRunner.run
    # busy for 0.2 s, then idle: its CPU time is counted before the first run and gone after it
    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time() + 0.2\n"
                                                    "while time.time() < t: pass\ntime.sleep(60)"])

    calls = []

    def spinning(self, query):
        calls.append(query.name)
        if len(calls) == 2:                     # the first timed run (the first call is the check)
            child.kill()
            child.wait()
        until = time.perf_counter() + 0.3
        while time.perf_counter() < until:
            pass
        return real_run(self, query)

    monkeypatch.setattr(Q.DuckDBRunner, "run", spinning)
    out = tmp_path / "bench.json"
    try:
        time.sleep(0.5)
        results = run_bench(SF, ["duckdb"], ["q6"], rounds=2, console=Console(record=True), warmup_rounds=0,
                            json_path=out, data_root=data.root.parent)
    finally:
        child.kill()
        child.wait()
    assert results.ok
    duckdb = json.loads(out.read_text())["queries"]["q6"]["engines"]["duckdb"]
    assert len(duckdb["cpu_user_s"]) == len(duckdb["cpu_system_s"]) == len(duckdb["children_cpu_s"]) == 2
    assert all(user + system >= 0.25 for user, system in zip(duckdb["cpu_user_s"], duckdb["cpu_system_s"]))
    assert all(user + system <= wall * os.cpu_count() + 0.05 for user, system, wall
               in zip(duckdb["cpu_user_s"], duckdb["cpu_system_s"], duckdb["times_s"]))
    assert all(children >= 0 for children in duckdb["children_cpu_s"])


def test_timed_runs_wait_for_started_processes_to_stop_using_the_cpu():
    """``quiesce``: a child process busy for 0.4 s (as PySpark's JVM after a query) is waited for,
    then the timed run may start; a wait never passes its limit."""
    import subprocess
    import sys

    from tui.bench import quiesce

    busy = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time() + 0.4\nwhile time.time() < t: pass\n"
                                                   "time.sleep(30)"])
    try:
        waited = quiesce(timeout=5)
        assert 0.2 < waited < 2, waited
        assert busy.poll() is None            # still alive, only quiet
        assert quiesce(timeout=5) < 0.2       # quiet already: one look
    finally:
        busy.kill()
        busy.wait()
    spinning = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert 0.5 <= quiesce(timeout=0.5) < 0.7
    finally:
        spinning.kill()
        spinning.wait()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_rounds_put_every_engine_in_every_place_and_after_every_other_equally_often(n):
    """``round_order`` is a Williams design: over n rounds (2n for an odd n) each engine runs once
    in each place, and each engine runs right after each other one equally often."""
    from collections import Counter

    from tui.bench import round_order

    engines = [f"e{k}" for k in range(n)]
    period = n if n % 2 == 0 else 2 * n
    rows = [round_order(engines, r) for r in range(period)]
    assert all(sorted(row) == engines for row in rows)
    assert all(Counter(row[place] for row in rows) == Counter({e: period // n for e in engines})
               for place in range(n))
    after = Counter((row[k], row[k + 1]) for row in rows for k in range(n - 1))
    assert set(after) == {(a, b) for a in engines for b in engines if a != b}
    assert len(set(after.values())) <= 1
    assert round_order(engines, period) == rows[0]


def test_process_children_cache_bytecode_as_a_users_python_does(monkeypatch):
    """A timed child process must not compile Ember's modules from source on every start because the
    caller's environment turns bytecode caching off."""
    from benchmarks import process_times

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = process_times._env(EMBER_KERNEL_CACHE="/somewhere")
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["EMBER_KERNEL_CACHE"] == "/somewhere"
    assert str(process_times.REPO_ROOT) in env["PYTHONPATH"].split(os.pathsep)
