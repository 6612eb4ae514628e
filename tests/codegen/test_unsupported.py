"""What the pipeline compiler refuses, with the reason the planner shows when it falls back,
and a few hand-checked results of Spark's semantics (the differential tests trust reference.py)."""
from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from engine.catalyst.expressions import (
    AggregateFunction,
    And,
    Arithmetic,
    AttributeReference,
    Cast,
    Comparison,
    Literal,
    Or,
    PythonUDF,
    ScalarFunction,
    UnresolvedAttribute,
)
from engine.codegen.pipeline import CodegenUnsupported, compile_pipeline
from engine.sql.types import BooleanType, DateType, DoubleType, IntegerType, LongType, StringType, TimestampType

n = AttributeReference("n", LongType())
s = AttributeReference("s", StringType())
t = AttributeReference("t", TimestampType())
d = AttributeReference("d", DateType())
INPUTS = (n, s, t, d)


@pytest.mark.parametrize("expr, reason", [
    (ScalarFunction("upper", (s,)), f"upper({s}): string functions are not compiled"),
    (ScalarFunction("length", (s,)), f"length({s}): string functions are not compiled"),
    (Arithmetic("+", n, ScalarFunction("length", (s,))), "string functions are not compiled"),
    (Comparison("=", s, Literal("a", StringType())), f"({s} = a): string comparison is not compiled"),
    (Cast(s, LongType()), "casts to and from strings are not compiled"),
    (Cast(n, StringType()), "casts to and from strings are not compiled"),
    (Cast(d, TimestampType()), "depends on the session time zone"),
    (Cast(t, DateType()), "depends on the session time zone"),
    (ScalarFunction("year", (t,)), f"year({t}): year() of timestamp depends on the session time zone"),
    (ScalarFunction("round", (n,)), f"round({n}): round() is not compiled"),
    (PythonUDF("f", len, LongType(), (s,)), f"f({s}): Python UDFs are never compiled"),
    (AggregateFunction("sum", n), f"sum({n}): aggregate functions are not compiled"),
    (Arithmetic("+", d, Literal(1, IntegerType())), "arithmetic on date is not compiled"),
    (Comparison("<", d, t), "comparing date with timestamp is not compiled"),
    (UnresolvedAttribute("x"), "unresolved"),
    (ScalarFunction("coalesce", (Literal(1, LongType()), Cast(s, LongType()))), "strings"),
])
def test_unsupported_expressions_give_a_reason(expr, reason):
    with pytest.raises(CodegenUnsupported) as info:
        compile_pipeline(INPUTS, None, (expr,))
    assert reason in info.value.reason
    assert str(info.value) == info.value.reason
    with pytest.raises(CodegenUnsupported):       # in a condition too
        compile_pipeline(INPUTS, And(Comparison(">", n, Literal(0, LongType())), Comparison("=", expr, expr))
                         if expr.resolved else expr, (n,))


def test_strings_passed_through_compile():
    p = compile_pipeline(INPUTS, Comparison(">", n, Literal(0, LongType())), (s, n, d))
    table = pa.table({n.column_key: pa.array([1, -1, None, 3], pa.int64()),
                      s.column_key: ["a", "b", "c", None],
                      t.column_key: pa.array([0, 1, 2, 3], pa.timestamp("us")),
                      d.column_key: pa.array([0, 1, 2, None], pa.date32())})
    out, kept = p.run_counted(table)
    assert kept == 2
    assert [a.to_pylist() for a in out] == [["a", None], [1, 3], [dt.date(1970, 1, 1), None]]


def test_references_outside_the_inputs_are_a_planning_error():
    stray = AttributeReference("stray", LongType())
    with pytest.raises(ValueError, match="not among the pipeline's input columns"):
        compile_pipeline(INPUTS, None, (Arithmetic("+", stray, n),))
    with pytest.raises(ValueError, match="not boolean"):
        compile_pipeline(INPUTS, n, (n,))


def test_spark_semantics_spot_checks():
    a = AttributeReference("a", LongType())
    b = AttributeReference("b", LongType())
    x = AttributeReference("x", DoubleType())
    i = AttributeReference("i", IntegerType())
    dd = AttributeReference("dd", DateType())
    p_ = AttributeReference("p", BooleanType())
    table = pa.table({
        a.column_key: pa.array([-7, 7, -(2**63), 5], pa.int64()),
        b.column_key: pa.array([2, -2, -1, 0], pa.int64()),
        x.column_key: pa.array([math.nan, 1e20, -1.9, math.nan]),
        i.column_key: pa.array([2**31 - 1, 1, -(2**31), 0], pa.int32()),
        dd.column_key: pa.array([dt.date(1600, 2, 29), dt.date(1969, 12, 31), dt.date(2000, 3, 1), None]),
        p_.column_key: pa.array([None, None, True, False]),
    })
    nan, inf = Literal(math.nan, DoubleType()), Literal(math.inf, DoubleType())
    outputs = (
        Arithmetic("%", a, b),                        # Java's sign; MIN % -1 = 0; % 0 is null
        Arithmetic("/", a, b),                        # double division; / 0 is null
        Cast(x, IntegerType()),                       # NaN -> 0, saturating, truncating
        Cast(x, LongType()),
        Arithmetic("+", i, Literal(1, IntegerType())),  # int overflow wraps
        ScalarFunction("year", (dd,)), ScalarFunction("month", (dd,)), ScalarFunction("dayofmonth", (dd,)),
        Comparison("=", x, nan), Comparison(">", x, inf),   # NaN = NaN, NaN above infinity
        And(p_, Literal(False, BooleanType())), Or(p_, Literal(True, BooleanType())), And(p_, p_),
    )
    got = [arr.to_pylist() for arr in compile_pipeline((a, b, x, i, dd, p_), None, outputs).run(table)]
    assert got == [
        [-1, 1, 0, None],
        [-3.5, -3.5, 9.223372036854776e18, None],
        [0, 2**31 - 1, -1, 0],
        [0, 2**63 - 1, -1, 0],
        [-(2**31), 2, -(2**31) + 1, 1],
        [1600, 1969, 2000, None], [2, 12, 3, None], [29, 31, 1, None],
        [True, False, False, True], [True, False, False, True],
        [False, False, False, False], [True, True, True, True], [None, None, True, False],
    ]
