"""The partial HashAggregate compiled into the whole-stage kernel (engine.codegen.aggregate).

Results are checked three ways on the same generated data (nulls in keys and values, all-null
groups, negative numbers, NaN, many groups): the compiled stage against DuckDB, against the
pyarrow path (``spark.sql.codegen.wholeStage=false``), and, directly on the operator, the
kernel's partial buffers against ``HashAggregateExec``'s pyarrow partial phase, type for type.
Kernels cost about a second of numba compile each on a cold cache, so the queries share shapes.
"""
from __future__ import annotations

import datetime as dt
import math
import re

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet
import pytest

from engine.catalyst.expressions import (
    AggregateFunction,
    Alias,
    Arithmetic,
    AttributeReference,
    Comparison,
    Literal,
    ScalarFunction,
)
from engine.codegen.aggregate import INITIAL_GROUPS, MAX_DIRECT_GROUPS, AggregateBuffer, compile_aggregate
from engine.codegen.pipeline import CodegenUnsupported
from engine.execution.filter_exec import FilterExec
from engine.execution import hash_aggregate_exec
from engine.execution.hash_aggregate_exec import HashAggregateExec, buffer_names
from engine.execution.local_table_scan_exec import LocalTableScanExec
from engine.execution.planner import _buffer_type
from engine.execution.whole_stage_codegen_exec import WholeStageCodegenExec
from engine.memory import TaskMemoryManager, UnifiedMemoryManager
from engine.scheduler.task_context import TaskContext
from engine.sql import functions as F
from engine.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

N = 6000
MANY = 5000          # distinct values of ``g``: the table grows several times past INITIAL_GROUPS


def generated(n: int = N, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)

    def nulls(share):
        return rng.random(n) < share

    a = rng.integers(-20, 20, n).astype(np.int32)
    v = rng.integers(-1000, 1000, n).astype(np.int32)
    x = rng.integers(-400, 400, n) / 4.0            # exact in binary: sums do not depend on order
    x[rng.random(n) < 0.01] = np.nan
    day0 = dt.date(2023, 12, 30)
    return pa.table({
        "a": pa.array(a, mask=nulls(0.1)),
        "b": pa.array(rng.integers(-3, 3, n), mask=nulls(0.1)),
        "d": pa.array([day0 + dt.timedelta(days=int(i)) for i in rng.integers(0, 5, n)], mask=nulls(0.1)),
        "f": pa.array(rng.random(n) < 0.5, mask=nulls(0.1)),
        "ts": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(hours=int(h)) for h in rng.integers(-2, 2, n)],
                       pa.timestamp("us"), mask=nulls(0.1)),
        "g": pa.array(rng.integers(-MANY // 2, MANY // 2, n), mask=nulls(0.01)),
        # v is null whenever a == 7: the group a = 7 has only null values
        "v": pa.array(v, mask=nulls(0.15) | (a == 7)),
        "w": pa.array(rng.integers(-(2**40), 2**40, n), mask=nulls(0.15)),
        "x": pa.array(x, mask=nulls(0.15)),
        "z": pa.nulls(n, pa.int32()),
        "s": pa.array(np.array(["p", "q", "r"])[rng.integers(0, 3, n)], mask=nulls(0.1)),
    })


@pytest.fixture(scope="module")
def data(spark):
    table = generated()
    empty = table.slice(0, 0)
    con = duckdb.connect()
    con.register("t", table)
    con.register("e", empty)
    return {"t": spark.createDataFrame(table), "e": spark.createDataFrame(empty)}, con


def _norm(value):
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else float(f"{value:.12g}")
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def _sorted(rows):
    out = [tuple(_norm(v) for v in r) for r in rows]
    return sorted(out, key=lambda r: tuple((v is None, str(type(v)), v if v is not None else 0) for v in r))


# (name, ember query, DuckDB SQL)
QUERIES = [
    ("one_int_key",
     lambda t: t.groupBy("a").agg(F.sum("v"), F.count("*"), F.count("v"), F.avg("x"), F.min("v"), F.max("x"),
                                  F.min("x"), F.max("d"), F.min("ts")),
     "SELECT a, sum(v), count(*), count(v), avg(x), min(v), max(x), min(x), max(d), min(ts) FROM t GROUP BY a"),
    ("two_keys_after_filter",
     lambda t: t.filter((F.col("v") > -500) | F.col("x").isNull()).groupBy("a", "b").agg(
         F.sum("w"), F.avg("v"), F.max("w"), F.count("s")),
     "SELECT a, b, sum(w), avg(v), max(w), count(s) FROM t WHERE v > -500 OR x IS NULL GROUP BY a, b"),
    ("three_keys_with_timestamp",
     lambda t: t.groupBy("ts", "f", "b").agg(F.sum("x"), F.count("*"), F.min("w")),
     "SELECT ts, f, b, sum(x), count(*), min(w) FROM t GROUP BY ts, f, b"),
    ("four_keys",
     lambda t: t.groupBy("a", "b", "d", "f").agg(F.sum("v"), F.avg("x"), F.max("v")),
     "SELECT a, b, d, f, sum(v), avg(x), max(v) FROM t GROUP BY a, b, d, f"),
    ("expression_keys_and_inputs_negative",
     lambda t: t.filter(F.col("b") != 0).groupBy((F.col("a") % 5).alias("m"), (F.col("b") * -1).alias("nb")).agg(
         F.sum(F.col("v") * 2 - 1), F.max(-F.col("x")), F.count(F.col("v") + F.col("b"))),
     "SELECT a % 5, b * -1, sum(v * 2 - 1), max(-x), count(v + b) FROM t WHERE b <> 0 GROUP BY a % 5, b * -1"),
    ("many_groups",
     lambda t: t.groupBy("g").agg(F.sum("v"), F.count("*"), F.min("x")),
     "SELECT g, sum(v), count(*), min(x) FROM t GROUP BY g"),
    ("all_null_column",
     lambda t: t.groupBy("b").agg(F.sum("z"), F.max("z"), F.count("z"), F.avg("z")),
     "SELECT b, sum(z), max(z), count(z), avg(z) FROM t GROUP BY b"),
    ("global_with_filter",
     lambda t: t.filter(F.col("a") < 0).agg(F.count("*"), F.sum("v"), F.avg("x"), F.min("d"), F.max("x"),
                                           F.count("s")),
     "SELECT count(*), sum(v), avg(x), min(d), max(x), count(s) FROM t WHERE a < 0"),
    ("global_everything_filtered_out",
     lambda t: t.filter(F.col("a") > 1000).agg(F.count("*"), F.sum("v"), F.avg("x"), F.min("d"), F.max("x"),
                                              F.count("s")),
     "SELECT count(*), sum(v), avg(x), min(d), max(x), count(s) FROM t WHERE a > 1000"),
    ("group_by_everything_filtered_out",
     lambda t: t.filter(F.col("a") > 1000).groupBy("a").agg(F.sum("v"), F.count("*"), F.count("v"), F.avg("x"),
                                                           F.min("v"), F.max("x"), F.min("x"), F.max("d"),
                                                           F.min("ts")),
     "SELECT a, sum(v), count(*), count(v), avg(x), min(v), max(x), min(x), max(d), min(ts) FROM t "
     "WHERE a > 1000 GROUP BY a"),
    ("string_key_and_int_key",
     lambda t: t.filter(F.col("v") > -900).groupBy("s", "a").agg(F.sum("v"), F.count("*"), F.max("x")),
     "SELECT s, a, sum(v), count(*), max(x) FROM t WHERE v > -900 GROUP BY s, a"),
    ("distinct_rows",
     lambda t: t.select("b", "f").distinct(),
     "SELECT DISTINCT b, f FROM t"),
]


@pytest.mark.parametrize("name,query,sql", QUERIES, ids=[q[0] for q in QUERIES])
def test_compiled_partial_aggregate_matches_duckdb_and_pyarrow(data, conf, name, query, sql):
    frames, con = data
    df = query(frames["t"])
    stages = [n for n in df._qe.executed_plan.walk() if isinstance(n, WholeStageCodegenExec)]
    fused = [s for s in stages if isinstance(s.child, HashAggregateExec)]
    assert fused and all(s.compiled for s in fused), [s.fallback_reason for s in stages]
    ours = _sorted(df.collect())
    assert ours == _sorted(con.execute(sql).fetchall())
    conf("spark.sql.codegen.wholeStage", "false")
    assert ours == _sorted(query(frames["t"]).collect())


def test_empty_input(data):
    frames, con = data
    e = frames["e"]
    assert [tuple(r) for r in e.agg(F.count("*"), F.sum("v"), F.max("x")).collect()] == [(0, None, None)]
    assert e.groupBy("a").agg(F.sum("v")).collect() == []
    assert e.count() == 0 and frames["t"].count() == N


def test_explain_shows_the_aggregate_inside_the_stage_and_its_source(data, conf):
    conf("spark.sql.adaptive.enabled", "false")  # the plan's root is the final aggregate, not AdaptiveSparkPlan
    frames, _ = data
    df = frames["t"].filter(F.col("v") > 0).groupBy("a").agg(F.sum("v"), F.avg("x"))
    text = df._qe.explain_string("codegen")
    assert re.search(r"\*\((\d+)\) HashAggregate\(keys=\[a#\d+\], functions=\[partial_sum\(v#\d+\), "
                     r"partial_avg\(x#\d+\)\]", text), text
    assert re.search(r"\+- \*\(\d+\) Filter \(v#\d+ > 0\)", text), text
    assert "Generated code:" in text
    assert "# Ember whole-stage aggregate kernel" in text
    assert re.search(r"# k0 = a#\d+", text) and re.search(r"# a0 = sum\(v#\d+\)", text)
    assert "while True:" in text and "slots[s] = grp" in text
    assert "Not compiled" not in text
    simple = df._qe.explain_string("simple")
    assert re.search(r"\*\(\d+\) HashAggregate\(keys=\[a#\d+\], functions=\[partial_", simple)
    # the final aggregate after the exchange is not part of any kernel
    assert re.search(r"^HashAggregate\(keys=\[a#\d+\], functions=\[sum", simple, re.M)


def test_string_keys_compile_as_dictionary_codes(data):
    frames, con = data
    df = frames["t"].filter(F.col("a") > 0).groupBy("s").agg(F.sum("v"), F.count("*"))
    text = df._qe.explain_string("codegen")
    assert "Not compiled" not in text, text
    assert re.search(r"# c\d+ = s_codes#\d+", text) and re.search(r"# k0 = s#\d+", text), text
    assert "keys: k0: int" in text
    expected = con.execute("SELECT s, sum(v), count(*) FROM t WHERE a > 0 GROUP BY s").fetchall()
    assert _sorted(df.collect()) == _sorted(expected)


def test_computed_string_keys_fall_back_with_a_reason(data):
    frames, con = data
    df = frames["t"].filter(F.col("a") > 0).groupBy(F.upper("s").alias("u")).agg(F.sum("v"))
    text = df._qe.explain_string("codegen")
    assert re.search(r"Not compiled \(pyarrow.compute fallback\): HashAggregate", text), text
    assert "grouping by a computed string is not compiled" in text, text
    # the filter and the projection below still run compiled, in a stage of their own
    assert re.search(r"\*\(\d+\) Filter \(a#\d+ > 0\)", text), text
    expected = con.execute("SELECT upper(s), sum(v) FROM t WHERE a > 0 GROUP BY upper(s)").fetchall()
    assert _sorted(df.collect()) == _sorted(expected)


def test_an_uncompilable_pipeline_below_runs_everything_with_pyarrow(data):
    frames, con = data
    df = frames["t"].filter(F.col("s") == "p").groupBy("a").agg(F.sum("v"))
    [stage] = [n for n in df._qe.executed_plan.walk() if isinstance(n, WholeStageCodegenExec)]
    assert not stage.compiled and "string comparison is not compiled" in stage.fallback_reason
    assert "Not compiled" in df._qe.explain_string("codegen")
    expected = con.execute("SELECT a, sum(v) FROM t WHERE s = 'p' GROUP BY a").fetchall()
    assert _sorted(df.collect()) == _sorted(expected)


# ---------------------------------------------------------------------------------------------
# directly on the operator


def _scan(table: pa.Table, types: dict) -> tuple[LocalTableScanExec, dict[str, AttributeReference]]:
    attrs = {name: AttributeReference(name, types[name]) for name in table.column_names}
    renamed = table.rename_columns([attrs[c].column_key for c in table.column_names])
    return LocalTableScanExec(tuple(attrs.values()), renamed, 1), attrs


TYPES = {"a": IntegerType(), "b": LongType(), "d": DateType(), "f": BooleanType(), "ts": TimestampType(),
         "g": LongType(), "v": IntegerType(), "w": LongType(), "x": DoubleType(), "z": IntegerType(),
         "s": StringType()}


def _partial(child, grouping, functions) -> HashAggregateExec:
    buffers = tuple(tuple(AttributeReference(b, _buffer_type(f, b), True) for b in buffer_names(f))
                    for f in functions)
    results = tuple(AttributeReference(f.sql(), f.data_type, f.nullable) for f in functions)
    return HashAggregateExec("partial", tuple(grouping), tuple(functions), buffers, results, (), child)


def _functions(c):
    return [AggregateFunction("sum", c["v"]), AggregateFunction("count", Literal(1, IntegerType())),
            AggregateFunction("avg", c["x"]), AggregateFunction("min", c["x"]), AggregateFunction("max", c["x"]),
            AggregateFunction("max", c["d"]), AggregateFunction("min", c["f"]), AggregateFunction("sum", c["w"]),
            AggregateFunction("count", c["s"]), AggregateFunction("max", c["z"])]


def _same_tables(ours: pa.Table, theirs: pa.Table) -> None:
    assert ours.schema == theirs.schema
    assert _sorted(zip(*ours.to_pydict().values())) == _sorted(zip(*theirs.to_pydict().values()))


@pytest.mark.parametrize("keys", [("g",), ("a", "f"), ("ts", "d", "b"), ("a", "b", "d", "f"), (), ("s",), ("f", "s")],
                         ids=["many_groups", "two_keys", "three_keys", "four_keys", "global", "string",
                              "bool_and_string"])
def test_kernel_buffers_equal_the_pyarrow_partial_phase(keys):
    table = generated(seed=11)
    scan, c = _scan(table, TYPES)
    agg = _partial(scan, [c[k] for k in keys], _functions(c))
    assert agg.supports_codegen and agg.codegen_fallback_reason is None
    compiled = agg.compile_codegen(tuple(scan.output))
    names = [a.column_key for a in agg.output]
    ours = pa.Table.from_arrays(compiled.run(scan.table), names=names)
    theirs = agg._partial(scan.table)
    _same_tables(ours, theirs)
    if keys == ("g",):
        assert ours.num_rows > 4 * INITIAL_GROUPS          # the table grew three times at least
    # a slice with an offset (as a scan's partitions are), and chunked columns
    chunked = pa.concat_tables([scan.table.slice(5, 700), scan.table.slice(3000, 900)])
    for part in (scan.table.slice(1001, 777), chunked):
        _same_tables(pa.Table.from_arrays(compiled.run(part), names=names), agg._partial(part))
    # string columns as Parquet hands them over: already dictionary-encoded
    encoded = scan.table.set_column(scan.table.schema.get_field_index(c["s"].column_key), c["s"].column_key,
                                    scan.table[c["s"].column_key].dictionary_encode())
    _same_tables(pa.Table.from_arrays(compiled.run(encoded), names=names), agg._partial(scan.table))
    # empty input: no groups, or one global group with count 0 and null sums
    empty = scan.table.slice(0, 0)
    _same_tables(pa.Table.from_arrays(compiled.run(empty), names=names), agg._partial(empty))


@pytest.mark.parametrize("keys", [("g", "s"), ()], ids=["string_and_int", "global"])
def test_chunks_with_their_own_dictionaries_and_null_patterns_run_into_one_table(keys):
    """Parquet hands a task one chunk per row group, each with its own dictionary pages: the kernel
    runs chunk by chunk (no copy into one array) into one hash table, and the string keys' codes of
    every chunk are made to index one dictionary first. A chunk without nulls takes the kernel
    variant without null flags, the next the one with them, over the same buffers."""
    table = generated(seed=17)
    scan, c = _scan(table, TYPES)
    agg = _partial(scan, [c[k] for k in keys], _functions(c))
    compiled = agg.compile_codegen(tuple(scan.output))
    names = [a.column_key for a in agg.output]
    s_key = c["s"].column_key
    first = scan.table.slice(0, 2500)
    first = pa.table({n: pc.fill_null(col, pa.scalar("x" if n == s_key else 0, col.type))
                      if col.type != pa.bool_() else pc.fill_null(col, False)
                      for n, col in zip(first.column_names, first.columns)})
    second = scan.table.slice(2500, 3500)
    whole = pa.concat_tables([first, second])
    parts = [p.set_column(p.schema.get_field_index(s_key), s_key, p[s_key].combine_chunks().dictionary_encode())
             for p in (first, second)]
    chunked = pa.concat_tables(parts)
    assert not chunked[s_key].chunk(0).dictionary.equals(chunked[s_key].chunk(1).dictionary)
    expected = agg._partial(whole)
    _same_tables(pa.Table.from_arrays(compiled.run(chunked), names=names), expected)
    _same_tables(pa.Table.from_arrays(compiled.run(whole), names=names), expected)


@pytest.mark.parametrize("distinct, lookup", [(3, "seen[grp]"), (MAX_DIRECT_GROUPS, "slots[s]")])
def test_few_string_and_boolean_key_values_index_their_groups_directly(distinct, lookup):
    """Q1's flags: with every key a dictionary code or a boolean, and their combinations (a null
    counted as a value) at most MAX_DIRECT_GROUPS, the group is computed from the keys; more
    values take the hash table. Both equal the pyarrow partial phase."""
    table = generated(seed=19)
    rng = np.random.default_rng(19)
    names = pa.array([f"v{i}" for i in rng.integers(0, distinct, table.num_rows)], mask=rng.random(table.num_rows) < 0.1)
    table = table.set_column(table.schema.get_field_index("s"), "s", names)
    scan, c = _scan(table, TYPES)
    agg = _partial(scan, [c["f"], c["s"]], _functions(c))
    compiled = agg.compile_codegen(tuple(scan.output))
    ours = pa.Table.from_arrays(compiled.run(scan.table), names=[a.column_key for a in agg.output])
    _same_tables(ours, agg._partial(scan.table))
    assert lookup in compiled.source


def test_columns_without_nulls_take_a_kernel_without_null_flags():
    table = generated(seed=13)
    table = pa.table({name: pc.fill_null(col, pa.scalar(0, col.type)) if name in ("v", "w", "x", "b", "a")
                      else col for name, col in zip(table.column_names, table.columns)})
    scan, c = _scan(table, TYPES)
    functions = [AggregateFunction("sum", c["v"]), AggregateFunction("min", c["x"]), AggregateFunction("max", c["x"]),
                 AggregateFunction("avg", c["w"]), AggregateFunction("max", c["v"]), AggregateFunction("min", c["w"])]
    agg = _partial(scan, [c["a"], c["b"]], functions)
    compiled = agg.compile_codegen(scan.output)
    ours = pa.Table.from_arrays(compiled.run(scan.table), names=[a.column_key for a in agg.output])
    _same_tables(ours, agg._partial(scan.table))
    assert "c0: int N" in compiled.source and "_n[grp] = False" in compiled.source


def test_tiny_tables_grow_many_times(monkeypatch):
    from engine.codegen import aggregate
    monkeypatch.setattr(aggregate, "INITIAL_GROUPS", 1)
    rng = np.random.default_rng(5)
    n = 3000
    table = pa.table({"a": pa.array(rng.integers(-3, 4, n).astype(np.int32), mask=rng.random(n) < 0.2),
                      "b": pa.array(rng.integers(-300, 300, n), mask=rng.random(n) < 0.05),
                      "v": pa.array(rng.integers(-9, 9, n).astype(np.int32))})
    scan, c = _scan(table, {"a": IntegerType(), "b": LongType(), "v": IntegerType()})
    for keys in ([c["a"]], [c["b"]], [c["a"], c["b"]]):
        agg = _partial(scan, keys, [AggregateFunction("sum", c["v"]), AggregateFunction("max", c["v"])])
        ours = pa.Table.from_arrays(agg.compile_codegen(scan.output).run(scan.table),
                                    names=[a.column_key for a in agg.output])
        _same_tables(ours, agg._partial(scan.table))


@pytest.fixture
def radix_spy(monkeypatch):
    """Partition small tables (the thresholds lowered), and record the bits of every partitioning."""
    from engine.codegen import aggregate
    monkeypatch.setattr(aggregate, "RADIX_MIN_ROWS", 1000)
    monkeypatch.setattr(aggregate, "RADIX_SAMPLE_ROWS", 256)
    monkeypatch.setattr(aggregate, "GROUPS_PER_PARTITION", 64)
    calls = []
    partition = aggregate.radix_partition

    def spy(chunks, hashes, bits):
        calls.append(bits)
        return partition(chunks, hashes, bits)

    monkeypatch.setattr(aggregate, "radix_partition", spy)
    return calls


@pytest.mark.parametrize("keys", [("g",), ("g", "s"), ("w", "d", "f")], ids=["one_key", "int_and_string", "three_keys"])
def test_many_groups_are_radix_partitioned_into_the_same_states(radix_spy, keys):
    """A sample that makes a group of nearly every row means a table too big for the cache: the
    rows are partitioned by their keys' hash first and each partition aggregated on its own. The
    states equal pyarrow's partial phase, one row per group, whole or chunked, with or without
    nulls in a chunk, and filtered by a condition below."""
    table = generated(seed=23)
    scan, c = _scan(table, TYPES)
    functions = [f for f in _functions(c) if c["z"] not in f.references]     # z is all null
    agg = _partial(scan, [c[k] for k in keys], functions)
    compiled = agg.compile_codegen(tuple(scan.output))
    names = [a.column_key for a in agg.output]
    _same_tables(pa.Table.from_arrays(compiled.run(scan.table), names=names), agg._partial(scan.table))
    assert radix_spy and all(bits > 1 for bits in radix_spy)
    # chunks: the first without a null anywhere, the second with them, so their kernels differ
    first = scan.table.slice(0, 2500)
    first = pa.table({n: pc.fill_null(col, pa.scalar(False if col.type == pa.bool_() else
                                                       "x" if col.type == pa.string() else 0, col.type))
                      for n, col in zip(first.column_names, first.columns)})
    chunked = pa.concat_tables([first, scan.table.slice(2500)])
    _same_tables(pa.Table.from_arrays(compiled.run(chunked), names=names), agg._partial(chunked))
    calls = len(radix_spy)
    condition = Comparison(">", c["v"], Literal(0, IntegerType()))
    filtered = agg.compile_codegen(tuple(scan.output), condition)
    states, count = filtered.run_counted(chunked)
    kept = chunked.filter(pc.greater(chunked[c["v"].column_key], 0))
    assert count == kept.num_rows
    _same_tables(pa.Table.from_arrays(states, names=names), agg._partial(kept))
    assert len(radix_spy) == calls + 1


def test_radix_partitions_outgrowing_the_estimate_grow_and_others_stay_in_one_table(radix_spy, monkeypatch):
    """A sample that repeats its keys underestimates the groups: partitions then outgrow their
    slot tables and grow on their own. Few groups, or a column that is all null in a chunk (its
    values cannot be moved), keep the single table. Every case equals pyarrow's partial phase."""
    from engine.codegen import aggregate
    monkeypatch.setattr(aggregate, "INITIAL_GROUPS", 1)
    monkeypatch.setattr(aggregate, "GROUPS_PER_PARTITION", 4)
    rehashed = []
    rehash = aggregate._rehash

    def counted(*args):
        rehashed.append(args[1])
        return rehash(*args)

    monkeypatch.setattr(aggregate, "_rehash", counted)
    partition = aggregate.radix_partition

    def after_the_sample(*args):
        rehashed.clear()                                # the sample's own table grew too
        return partition(*args)

    monkeypatch.setattr(aggregate, "radix_partition", after_the_sample)
    n = 6000
    rng = np.random.default_rng(29)
    # every key twice: the sample's next to each other, the others anywhere after it
    keys = np.concatenate([np.repeat(np.arange(128), 2), rng.permutation(np.repeat(np.arange(1, 2873) * 7919, 2))])
    table = generated(seed=29).set_column(5, "g", pa.array(keys))
    scan, c = _scan(table, TYPES)
    for grouping, functions, partitioned in (([c["g"]], [AggregateFunction("sum", c["v"])], True),
                                             ([c["a"]], [AggregateFunction("sum", c["v"])], False),
                                             ([c["g"]], _functions(c), False)):
        radix_spy.clear()
        agg = _partial(scan, grouping, functions)
        names = [a.column_key for a in agg.output]
        ours = pa.Table.from_arrays(agg.compile_codegen(tuple(scan.output)).run(scan.table), names=names)
        _same_tables(ours, agg._partial(scan.table))
        assert bool(radix_spy) == partitioned
        if partitioned:
            assert radix_spy == [aggregate.MAX_RADIX_BITS] and rehashed


def test_radix_partitioning_reports_and_reserves_the_copy_it_makes(radix_spy, monkeypatch):
    """Partitioning copies every column the kernel reads, and holds each row's hash and partition
    id: ``partition_bytes_per_row`` says how much, ``run_measured`` what a run held, the stage
    counts it in the task's peak memory, and the partial aggregate reserves it with its hash map,
    so that a task short of memory takes slices that small."""
    table = generated(seed=23)
    scan, c = _scan(table, TYPES)
    agg = _partial(scan, [c["g"]], [AggregateFunction("sum", c["v"]), AggregateFunction("count", c["s"])])
    compiled = agg.compile_codegen(tuple(scan.output))
    # the hash and id (9), g (int64) and v (int32) with their validity, s's validity only
    assert compiled.partition_bytes_per_row == 9 + (8 + 1) + (4 + 1) + 1
    run = compiled.run_measured(scan.table)
    assert radix_spy and run.kept == N
    assert run.scratch_bytes == N * compiled.partition_bytes_per_row    # every column here has nulls
    assert _partial(scan, [c["a"]], [AggregateFunction("sum", c["v"])]).compile_codegen(
        tuple(scan.output)).run_measured(scan.table).scratch_bytes == 0  # few groups: one table
    computed = _partial(scan, [Arithmetic("+", c["g"], Literal(1, LongType()))], [AggregateFunction("sum", c["v"])])
    assert computed.compile_codegen(tuple(scan.output)).partition_bytes_per_row == 0

    stage = WholeStageCodegenExec(agg, 1)
    per_row = agg.hash_map_bytes_per_row() + compiled.partition_bytes_per_row
    memory = 2000 * per_row                         # three slices of 2000 rows
    monkeypatch.setattr(hash_aggregate_exec, "MIN_PARTIAL_ROWS", 1000)

    class Ctx:
        def __init__(self):
            self.peak = 0
            self.task_memory_manager = TaskMemoryManager(UnifiedMemoryManager(memory, 0), task_attempt_id=1)

        def add(self, m, value):
            pass

        def observe_memory(self, nbytes):
            self.peak = max(self.peak, nbytes)

    ctx = Ctx()
    slices = list(stage.execute_batches(0, ctx))
    assert [s.num_rows for s in slices] == [len(pc.unique(table["g"][i:i + 2000])) for i in range(0, N, 2000)]
    ctx = Ctx()
    whole = stage.execute_partition(0, ctx)
    assert ctx.peak >= scan.table.nbytes + whole.nbytes + run.scratch_bytes


def test_a_null_key_probing_past_the_key_zero_stays_its_own_group(monkeypatch):
    # A null key is stored as 0 plus a null flag. Build the probe sequence that makes 0 walk past
    # null's slot: 8 groups in 16 slots, null in its home slot, and keys whose home is 0's home
    # filling every slot from there up to null's.
    from engine.codegen import aggregate
    monkeypatch.setattr(aggregate, "INITIAL_GROUPS", 8)
    bits, mask = 4, (1 << 64) - 1

    def home(x: int) -> int:
        return (((aggregate.HASH_SEED ^ (x & mask)) * aggregate.HASH_MULTIPLIER) & mask) >> (64 - bits)

    null_home = (((aggregate.HASH_SEED ^ aggregate.HASH_NULL) * aggregate.HASH_MULTIPLIER) & mask) >> (64 - bits)
    run = (null_home - home(0)) % (1 << bits)
    assert 0 < run <= 7, "the hash constants changed: pick another table size for this test"
    fillers = [x for x in range(1, 100_000) if home(x) == home(0)][:run]
    keys = [None] + fillers + [0, 0, None]
    table = pa.table({"a": pa.array(keys, pa.int32()), "v": pa.array(range(len(keys)), pa.int32())})
    scan, c = _scan(table, {"a": IntegerType(), "v": IntegerType()})
    agg = _partial(scan, [c["a"]], [AggregateFunction("sum", c["v"])])
    out = agg.compile_codegen(scan.output).run(scan.table)
    sums = dict(zip(out[0].to_pylist(), out[1].to_pylist()))
    assert sums[None] == len(keys) - 1 and sums[0] == 2 * len(keys) - 5 and len(sums) == len(keys) - 2


def test_fused_stage_runs_filter_project_and_aggregate_in_one_kernel():
    table = generated(seed=3)
    scan, c = _scan(table, TYPES)
    cond = Comparison(">", c["v"], Literal(0, IntegerType()))
    filtered = FilterExec(cond, scan)
    from engine.execution.project_exec import ProjectExec
    key = Alias(Arithmetic("+", c["b"], Literal(1, LongType())), "b1")
    project = ProjectExec((key, c["v"], c["x"]), filtered)
    b1 = key.to_attribute()
    agg = _partial(project, [b1], [AggregateFunction("sum", c["v"]), AggregateFunction("avg", c["x"])])
    stage = WholeStageCodegenExec(agg, 1)
    assert stage.compiled, stage.fallback_reason
    assert [type(op).__name__ for op in stage._fused.chain] == ["HashAggregateExec", "ProjectExec", "FilterExec"]
    assert "# keep rows where" in stage.codegen_source()

    class Ctx:
        def __init__(self):
            self.updates, self.memory = {}, 0

        def add(self, m, value):
            self.updates[m.name, id(m)] = self.updates.get((m.name, id(m)), 0) + value

        def observe_memory(self, nbytes):
            self.memory = max(self.memory, nbytes)

    ctx = Ctx()
    out = stage.execute_partition(0, ctx)
    expected = agg._partial(project.execute_partition(0, Ctx()))
    _same_tables(out, expected)
    kept = sum(1 for v in table.column("v").to_pylist() if v is not None and v > 0)
    assert ctx.updates["number of output rows", id(filtered.metrics["numOutputRows"])] == kept
    assert ctx.updates["number of output rows", id(agg.metrics["numOutputRows"])] == out.num_rows
    assert ctx.memory > 0


def test_what_does_not_compile_says_why():
    table = generated(n=10)
    scan, c = _scan(table, TYPES)
    cases = [
        ([ScalarFunction("upper", (c["s"],))], [AggregateFunction("sum", c["v"])],
         "grouping by a computed string is not compiled"),
        ([c["x"]], [AggregateFunction("sum", c["v"])], "grouping by double is not compiled"),
        ([c["a"], c["b"], c["d"], c["f"], c["ts"]], [], "grouping by 5 keys is not compiled"),
        ([c["a"]], [AggregateFunction("min", c["s"])], "min of string is not compiled"),
        ([c["a"]], [AggregateFunction("sum", c["v"], distinct=True)], "DISTINCT aggregates are not compiled"),
    ]
    for keys, functions, reason in cases:
        agg = _partial(scan, keys, functions)
        assert not agg.supports_codegen
        assert reason in agg.codegen_fallback_reason
    final = HashAggregateExec("final", (), (), (), (), (), scan)
    assert not final.supports_codegen and final.codegen_fallback_reason is None
    with pytest.raises(CodegenUnsupported, match="upper"):
        compile_aggregate(scan.output, None, (), (AggregateBuffer("count", ScalarFunction("upper", (c["s"],)),
                                                                  LongType()),))


def test_pyarrow_path_orders_nan_above_every_double():
    # Spark: max(1.0, NaN) is NaN; pyarrow's hash_max skips NaN, so the partial phase corrects it
    table = pa.table({"k": pa.array([1, 1, 2, 2], pa.int32()), "x": pa.array([1.0, float("nan"), 2.0, None])})
    scan, c = _scan(table, {"k": IntegerType(), "x": DoubleType()})
    agg = _partial(scan, [c["k"]], [AggregateFunction("max", c["x"]), AggregateFunction("min", c["x"])])
    by_key = {r[0]: r[1:] for r in zip(*agg._partial(scan.table).to_pydict().values())}
    assert math.isnan(by_key[1][0]) and by_key[1][1] == 1.0
    assert by_key[2] == (2.0, 2.0)
    compiled = {r[0]: r[1:] for r in zip(*[a.to_pylist() for a in agg.compile_codegen(scan.output).run(scan.table)])}
    assert math.isnan(compiled[1][0]) and compiled[1][1] == 1.0 and compiled[2] == (2.0, 2.0)


def test_string_keys_used_only_as_keys_are_asked_for_dictionary_encoded():
    table = generated(n=50)
    scan, c = _scan(table, TYPES)
    count = (AggregateBuffer("count", None, LongType()),)
    grouped = compile_aggregate(scan.output, None, (c["s"], c["a"]), count)
    assert grouped.dictionary_columns == frozenset({c["s"].column_key})
    # a kernel that also reads the column itself (here its validity, for count(s)) takes it plain
    counted = compile_aggregate(scan.output, None, (c["s"],), (AggregateBuffer("count", c["s"], LongType()),))
    assert counted.dictionary_columns == frozenset()
    # an encoded column groups as its strings do
    batch = table.rename_columns([c[name].column_key for name in table.column_names])
    at = batch.schema.get_field_index(c["s"].column_key)
    encoded = batch.set_column(at, c["s"].column_key, batch.column(at).dictionary_encode())
    assert [a.to_pylist() for a in grouped.run(encoded)] == [a.to_pylist() for a in grouped.run(batch)]


def test_a_parquet_scan_hands_string_keys_to_the_compiled_aggregate_encoded(spark, conf, tmp_path):
    conf("spark.sql.adaptive.enabled", "false")  # the stage is in the executed plan, not in a query stage
    table = generated()
    path = str(tmp_path / "t.parquet")
    pa.parquet.write_table(table, path)
    df = spark.read.parquet(path).filter(F.col("a") > 0).groupBy("s").agg(F.sum("v"), F.count("*"))
    stage = next(n for n in df._qe.executed_plan.walk()
                 if isinstance(n, WholeStageCodegenExec) and isinstance(n.child, HashAggregateExec))
    key = stage.pipeline().keys[0].column_key
    ctx = TaskContext(0, 0, 0, 0, 0, spark.env)
    assert pa.types.is_dictionary(stage._read_source(stage.pipeline(), 0, ctx).schema.field(key).type)
    con = duckdb.connect()
    con.register("t", table)
    expected = con.execute("SELECT s, sum(v), count(*) FROM t WHERE a > 0 GROUP BY s").fetchall()
    assert _sorted(df.collect()) == _sorted(expected)


def test_a_missing_key_column_is_named_not_replaced_by_another():
    """Looking a column up by a key the batch lacks must fail naming it (a -1 index would read the
    batch's last column instead)."""
    k, v = AttributeReference("k", StringType()), AttributeReference("v", LongType())
    agg = compile_aggregate((k, v), None, (k,), (AggregateBuffer("sum", v, LongType()),))
    with pytest.raises(KeyError, match=re.escape(f"column {k.column_key} ({k}) is not in the batch")):
        agg.run(pa.table({v.column_key: [1, 2], "other": ["a", "b"]}))
