"""Differential tests: compiled pipelines against the row-at-a-time reference (reference.py).

Kernels cost ~0.5-2 s of numba compile each, so expressions are grouped: one projection pipeline
computes every expression of ``EXPRESSIONS`` at once (one kernel per null pattern), and a few
filter pipelines cover the condition and selection paths.
"""
from __future__ import annotations

import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.catalyst.expressions import (
    And,
    Arithmetic,
    CaseWhen,
    Cast,
    Comparison,
    In,
    IsNotNull,
    IsNull,
    Literal,
    Not,
    Or,
    ScalarFunction,
    UnaryMinus,
)
from engine.codegen.pipeline import compile_pipeline
from engine.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    NullType,
    TimestampType,
)

from .reference import LONG_MAX, arrow_values, attrs, evaluate, evaluate_output, make_table, rows, same

C = attrs()
i, k, j, x, y, bo, d, ts, s, dec, z = (C[n] for n in ("i", "k", "j", "x", "y", "bo", "d", "ts", "s", "dec", "z"))


def I(v):  # noqa: E743 - short literal builders keep the expression table readable
    return Literal(v, IntegerType())


def L(v):
    return Literal(v, LongType())


def D(v):
    return Literal(v, DoubleType())


NULL = Literal(None, NullType())
B_NULL = Literal(None, BooleanType())
TRUE = Literal(True, BooleanType())

EXPRESSIONS = [
    # arithmetic: wrapping integers, doubles, / and % by zero, Java's remainder sign
    Arithmetic("+", i, k),
    Arithmetic("*", i, i),
    Arithmetic("-", j, i),
    Arithmetic("*", j, j),
    Arithmetic("+", i, x),
    Arithmetic("*", x, y),
    Arithmetic("-", x, x),
    Arithmetic("/", i, k),
    Arithmetic("/", x, y),
    Arithmetic("/", j, L(3)),
    Arithmetic("/", i, I(0)),
    Arithmetic("%", i, k),
    Arithmetic("%", j, k),
    Arithmetic("%", j, L(-1)),
    Arithmetic("%", i, I(5)),
    Arithmetic("%", x, y),
    Arithmetic("%", x, D(2.5)),
    Arithmetic("%", x, D(0.0)),
    Arithmetic("+", i, NULL),
    Arithmetic("+", dec, dec),
    Arithmetic("*", dec, D(1.5)),
    Arithmetic("+", z, j),
    UnaryMinus(i),
    UnaryMinus(j),
    UnaryMinus(x),
    # comparisons, with Spark's NaN ordering and null-safe equality
    Comparison("<", i, k),
    Comparison(">=", j, L(0)),
    Comparison("=", x, x),
    Comparison("=", x, y),
    Comparison("<", x, y),
    Comparison("<=", x, y),
    Comparison(">", x, y),
    Comparison(">=", x, y),
    Comparison(">", x, D(math.nan)),
    Comparison("<=", x, D(math.nan)),
    Comparison("=", x, D(math.nan)),
    Comparison("=", i, x),
    Comparison("<", j, x),
    Comparison("<=>", x, y),
    Comparison("<=>", i, k),
    Comparison("<=>", z, j),
    Comparison("<=>", z, NULL),
    Comparison("=", bo, TRUE),
    Comparison("<", bo, TRUE),
    Comparison("<", d, Literal(dt.date(2000, 1, 1), DateType())),
    Comparison(">=", ts, Literal(dt.datetime(2000, 1, 1, 12, 30), TimestampType())),
    Comparison("=", i, NULL),
    Comparison(">", z, L(0)),
    # Kleene logic
    And(Comparison(">", i, k), bo),
    Or(bo, IsNull(x)),
    Not(bo),
    And(bo, B_NULL),
    Or(bo, B_NULL),
    And(Not(bo), Or(Comparison("<", i, I(0)), Comparison(">", x, D(0.0)))),
    Or(And(bo, Comparison("=", k, I(0))), Not(Comparison("<", j, L(0)))),
    IsNull(i),
    IsNotNull(z),
    IsNull(Arithmetic("/", i, k)),
    IsNotNull(TRUE),
    In(i, (I(1), I(-1), I(0))),
    In(j, (L(1), NULL)),
    In(x, (D(math.nan), D(0.0), D(1.5))),
    In(k, (L(2), I(-3))),
    In(z, (L(1),)),
    In(i, (Arithmetic("+", k, I(1)), I(7))),
    # CASE WHEN (null conditions count as false), coalesce
    CaseWhen((Comparison(">", i, I(0)), IsNull(x)), (j, L(-1))),
    CaseWhen((bo,), (x,), D(0.0)),
    CaseWhen((Comparison("=", k, I(0)),), (I(1),), i),
    CaseWhen((bo,), (d,), Literal(dt.date(1970, 1, 1), DateType())),
    CaseWhen((B_NULL,), (I(1),), I(2)),
    CaseWhen((bo, Comparison("<", k, I(0))), (k, NULL), j),
    ScalarFunction("coalesce", (x, y)),
    ScalarFunction("coalesce", (i, k, I(0))),
    ScalarFunction("coalesce", (z, j)),
    ScalarFunction("coalesce", (NULL, z)),
    ScalarFunction("coalesce", (ts, Literal(dt.datetime(2020, 5, 17), TimestampType()))),
    # casts
    Cast(x, IntegerType()),
    Cast(x, LongType()),
    Cast(j, IntegerType()),
    Cast(i, LongType()),
    Cast(i, DoubleType()),
    Cast(bo, IntegerType()),
    Cast(bo, DoubleType()),
    Cast(i, BooleanType()),
    Cast(x, BooleanType()),
    Cast(ts, LongType()),
    Cast(ts, IntegerType()),
    Cast(ts, DoubleType()),
    Cast(j, TimestampType()),
    Cast(i, TimestampType()),
    Cast(x, TimestampType()),
    Cast(d, DateType()),
    Cast(dec, LongType()),
    Cast(i, DecimalType(12, 2)),
    Cast(NULL, IntegerType()),
    # functions
    ScalarFunction("year", (d,)),
    ScalarFunction("month", (d,)),
    ScalarFunction("dayofmonth", (d,)),
    ScalarFunction("abs", (i,)),
    ScalarFunction("abs", (j,)),
    ScalarFunction("abs", (x,)),
    ScalarFunction("sqrt", (x,)),
    # literals as outputs
    L(5),
    Literal(None, LongType()),
    Literal(dt.date(2024, 2, 29), DateType()),
    TRUE,
    NULL,
    Literal(-(2**63), LongType()),
    D(math.inf),
]

PASS_THROUGH = (s, d, bo)
ALL = tuple(C.values())
# a kernel per group keeps numba's compile time down: it grows faster than linearly with width
GROUP_SIZE = 14
GROUPS = [tuple(EXPRESSIONS[n:n + GROUP_SIZE]) + PASS_THROUGH for n in range(0, len(EXPRESSIONS), GROUP_SIZE)]


def check(pipeline, table, condition, outputs):
    """Run ``pipeline`` and compare every output with the reference, row by row."""
    result = pipeline.run(table)
    assert len(result) == len(outputs)
    kept = [r for r in rows(table, C) if condition is None or evaluate(condition, r) is True]
    for out, arr in zip(outputs, result):
        assert isinstance(arr, (pa.Array, pa.ChunkedArray))   # a pass-through column of a chunked table stays chunked
        assert arr.type == out.data_type.to_arrow(), out
        assert len(arr) == len(kept), out
        got = arrow_values(arr, out.data_type)
        want = [evaluate_output(out, r) for r in kept]
        bad = [(n, g, w) for n, (g, w) in enumerate(zip(got, want)) if not same(g, w)]
        assert not bad, f"{out}: (row, got, want) {bad[:5]}"
    return result


@pytest.fixture(scope="module")
def table():
    return make_table(C, 240, seed=7)


@pytest.fixture(scope="module")
def projections():
    return [compile_pipeline(ALL, None, group) for group in GROUPS]


@pytest.mark.parametrize("group", range(len(GROUPS)))
def test_projection_with_nulls(projections, table, group):
    pipeline = projections[group]
    check(pipeline, table, None, GROUPS[group])
    assert pipeline.compile_ms > 0.0
    assert "def kernel(" in pipeline.source


def test_sliced_and_chunked_batches_share_the_kernel(projections, table):
    sliced = table.slice(13, 150)                      # bitmaps start mid-byte
    chunked = pa.concat_tables([table.slice(0, 101), table.slice(101)])
    assert chunked.column(0).num_chunks == 2
    batch = table.slice(5, 60).to_batches()[0]
    for pipeline, group in zip(projections, GROUPS):
        before = pipeline.compile_ms
        for part in (sliced, chunked, batch):
            check(pipeline, part, None, group)
        assert pipeline.compile_ms == pytest.approx(before, abs=5.0)   # same null pattern: memoized


@pytest.mark.parametrize("group", [0, 5])
def test_batch_without_nulls_gets_a_kernel_without_validity_reads(projections, group):
    pipeline = projections[group]
    clean = make_table(C, 120, seed=11, null_rate=0.0)
    check(pipeline, clean, None, GROUPS[group])
    source = pipeline.source
    assert "_m[i]" not in source            # no column's validity is read ...
    assert "c10_" not in source             # ... and the all-null z is not even passed in
    pipeline.run(make_table(C, 50, seed=12))
    assert "_m[i]" in pipeline.source


def test_empty_batch(projections, table):
    for pipeline, group in zip(projections, GROUPS):
        result = check(pipeline, table.slice(0, 0), None, group)
        assert all(len(a) == 0 for a in result)


FILTERS = [
    # (condition, outputs): a mix of computed and pass-through outputs
    (And(Or(Comparison(">", i, k), IsNull(bo)), Not(Comparison("<", x, y))),
     (s, Arithmetic("+", j, L(1)), d, ScalarFunction("year", (d,)), x, Arithmetic("+", i, k))),
    # nothing passes
    (Comparison(">", j, L(LONG_MAX)), (s, Arithmetic("*", i, I(2)))),
    # selection only: the string passes through, the other columns are copied by the kernel
    (Or(bo, In(k, (I(1), I(2)))), (s, d, ts, i)),
    # over the all-null column: null > j is null, so only k = 0 keeps a row
    (Or(Comparison(">", z, j), Comparison("=", k, I(0))), (z, Arithmetic("-", z, j), k)),
]


@pytest.mark.parametrize("case", range(len(FILTERS)))
def test_filter(case, table):
    condition, outputs = FILTERS[case]
    pipeline = compile_pipeline(ALL, condition, outputs)
    result = check(pipeline, table, condition, outputs)
    if case == 1:
        assert all(len(a) == 0 for a in result)
    check(pipeline, table.slice(0, 0), condition, outputs)


def test_a_selection_alone_has_no_branch_and_a_computing_filter_keeps_it(table):
    """Case 2 only selects rows and copies columns: every row writes its index and values and the
    condition moves ``k``. Case 0 computes outputs, so a failed row skips them with ``continue``."""
    selection = compile_pipeline(ALL, *FILTERS[2])
    assert "continue" not in selection.source and "k += np.int64(" in selection.source
    assert "continue" in compile_pipeline(ALL, *FILTERS[0]).source


def test_under_a_condition_fixed_width_columns_are_copied_by_the_kernel_and_strings_pass_through(table):
    condition, outputs = FILTERS[2]
    text = compile_pipeline(ALL, condition, outputs).explain()
    assert f"# passed through by pyarrow: {s}" in text
    assert all(f"= {a}" in text for a in (d, ts, i))
    assert f"# o0 = {d}" in text and "o0_v[k] = " in text


def test_filter_pipelines_are_thread_safe(table):
    condition, outputs = FILTERS[0]
    pipeline = compile_pipeline(ALL, condition, outputs)
    slices = [table.slice(start, 60) for start in range(0, 240, 60)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(pipeline.run, slices))
    for part, result in zip(slices, results):
        again = pipeline.run(part)
        for a, b in zip(result, again):
            assert all(same(u, v) for u, v in zip(a.to_pylist(), b.to_pylist()))
        check(pipeline, part, condition, outputs)


def test_pass_through_only_needs_no_kernel(table):
    pipeline = compile_pipeline(ALL, None, (s, d))
    assert "def kernel" not in pipeline.source
    result = pipeline.run(table)
    assert result[0].equals(table.column(s.column_key).chunk(0))
    assert pipeline.precompile() is None


def test_source_names_columns_by_position_so_queries_share_kernels():
    a1, b1 = attrs()["j"], attrs()["x"]
    a2, b2 = attrs()["j"], attrs()["x"]
    assert a1.expr_id != a2.expr_id
    p1 = compile_pipeline((a1, b1), Comparison(">", a1, L(3)), (Arithmetic("*", a1, b1),))
    p2 = compile_pipeline((a2, b2), Comparison(">", a2, L(3)), (Arithmetic("*", a2, b2),))
    assert p1.source == p2.source and p1.fingerprint == p2.fingerprint
    p3 = compile_pipeline((a1, b1), Comparison(">", a1, L(4)), (Arithmetic("*", a1, b1),))
    assert p3.fingerprint != p1.fingerprint


def test_common_subexpressions_are_computed_once():
    plus = Arithmetic("+", j, L(1))
    p = compile_pipeline(ALL, Comparison(">", plus, L(5)), (plus, Arithmetic("*", plus, plus)))
    assert p.source.count("+ np.int64(1)") == 1


def test_explain_maps_names_to_expressions():
    p = compile_pipeline(ALL, Comparison(">", j, L(0)), (s, Arithmetic("+", j, L(1))))
    text = p.explain()
    assert f"# c2 = {j}" in text
    assert f"# keep rows where {Comparison('>', j, L(0))}" in text
    assert f"# passed through by pyarrow: {s}" in text
    assert "@njit(" in text and "nogil=True, cache=True" in text


def test_declared_non_nullable_column_has_no_validity_in_default_source():
    p = compile_pipeline(ALL, None, (Arithmetic("*", y, D(2.0)),))
    assert "c4_m" not in p.source
    p2 = compile_pipeline(ALL, None, (Arithmetic("*", x, D(2.0)),))
    assert "c3_m[i]" in p2.source


def test_chunks_with_their_own_null_patterns_run_into_one_selection(table):
    """A task's table of row groups: one chunk has no nulls in a column (no validity buffer), the
    next is all null in it; the kernel of the whole column's pattern runs each chunk in turn and
    the selection indexes the whole table."""
    condition, outputs = FILTERS[0]
    pipeline = compile_pipeline(ALL, condition, outputs)
    first = table.slice(0, 120)
    first = pa.table({name: pc.fill_null(col, pa.scalar(0, col.type)) if pa.types.is_integer(col.type) else col
                      for name, col in zip(first.column_names, first.columns)})
    second = table.slice(120)
    second = pa.table({name: pa.nulls(len(second), col.type) if pa.types.is_integer(col.type) else col
                       for name, col in zip(second.column_names, second.columns)})
    chunked = pa.concat_tables([first, second])
    assert chunked.column(0).num_chunks == 2
    check(pipeline, chunked, condition, outputs)
