"""Vectorized expression evaluation with pyarrow.compute: the fallback for what codegen cannot compile.

``evaluate(expr, table)`` computes a resolved expression over an Arrow table whose columns are
named by ``AttributeReference.column_key``; every operation is one Arrow kernel call over whole
columns. Spark's non-ANSI semantics: integer overflow wraps, ``x / 0`` and ``x % 0`` are null, a
string that does not parse as the target type casts to null, and logic is three-valued (Kleene).
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from engine.catalyst.expressions import (
    AggregateFunction,
    Alias,
    And,
    Arithmetic,
    AttributeReference,
    CaseWhen,
    Cast,
    Comparison,
    Expression,
    In,
    IsNotNull,
    IsNull,
    Literal,
    Not,
    Or,
    PythonUDF,
    ScalarFunction,
    UnaryMinus,
)
from engine.execution.python_runner import run_python_udf
from engine.sql.types import BooleanType, DataType, DateType, StringType, TimestampType

Datum = pa.Array | pa.ChunkedArray | pa.Scalar

_NUMBER = r"^\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|[Nn]a[Nn]|[+-]?[Ii]nfinity)\s*$"
_INTEGER = r"^\s*[+-]?\d+\s*$"


def evaluate(expr: Expression, table: pa.Table) -> pa.Array | pa.ChunkedArray:
    """The values of ``expr`` for every row of ``table``, as an array of ``expr.data_type``."""
    return broadcast(_eval(expr, table), table.num_rows)


def evaluate_scalar(expr: Expression):
    """The Python value of an expression without column references (for constant folding)."""
    value = _eval(expr, pa.table({"_": pa.array([0])}))
    if isinstance(value, pa.Scalar):
        return value.as_py()
    return value[0].as_py()


def broadcast(value: Datum, num_rows: int) -> pa.Array | pa.ChunkedArray:
    if isinstance(value, pa.Scalar):
        if not value.is_valid:
            return pa.nulls(num_rows, value.type)
        return pa.array([value.as_py()] * num_rows, value.type) if num_rows < 64 else pa.repeat(value, num_rows)
    return value


def _scalar(value, data_type: DataType) -> pa.Scalar:
    return pa.scalar(value, type=data_type.to_arrow())


def _eval(e: Expression, t: pa.Table) -> Datum:
    handler = _HANDLERS.get(type(e))
    if handler is None:
        raise TypeError(f"cannot evaluate {type(e).__name__}: {e}")
    return handler(e, t)


def _attribute(e: AttributeReference, t: pa.Table) -> Datum:
    return t.column(e.column_key)


def _literal(e: Literal, t: pa.Table) -> Datum:
    return _scalar(e.value, e.data_type)


def _alias(e: Alias, t: pa.Table) -> Datum:
    return _eval(e.child, t)


def _typed(e: Expression, t: pa.Table, data_type: DataType) -> Datum:
    value = _eval(e, t)
    target = data_type.to_arrow()
    return value if value.type == target else cast_datum(value, data_type)


def _null_if_zero(value: Datum) -> Datum:
    if isinstance(value, pa.Scalar):
        return value if not value.is_valid or value.as_py() != 0 else pa.scalar(None, value.type)
    return pc.if_else(pc.equal(value, pa.scalar(0, value.type)), pa.scalar(None, value.type), value)


def _arithmetic(e: Arithmetic, t: pa.Table) -> Datum:
    target = e.data_type
    left, right = _typed(e.left, t, target), _typed(e.right, t, target)
    if e.op == "+":
        return pc.add(left, right)
    if e.op == "-":
        return pc.subtract(left, right)
    if e.op == "*":
        return pc.multiply(left, right)
    right = _null_if_zero(right)
    if e.op == "/":
        return pc.divide(left, right)
    # Java's remainder: the sign follows the dividend
    quotient = pc.divide(left, right)
    if pa.types.is_floating(target.to_arrow()):
        quotient = pc.trunc(quotient)
    return pc.subtract(left, pc.multiply(quotient, right))


def _unary_minus(e: UnaryMinus, t: pa.Table) -> Datum:
    return pc.negate(_eval(e.child, t))


def _common_type(left: Expression, right: Expression) -> DataType:
    return left.data_type if left.data_type == right.data_type else right.data_type


_COMPARE = {"=": pc.equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}


def _comparison(e: Comparison, t: pa.Table) -> Datum:
    left, right = _eval(e.left, t), _eval(e.right, t)
    if left.type != right.type:
        right = cast_datum(right, e.left.data_type)
    if e.op != "<=>":
        return _COMPARE[e.op](left, right)
    both_null = pc.and_(pc.is_null(left), pc.is_null(right))
    equal = pc.fill_null(pc.equal(left, right), False)
    return pc.or_(both_null, equal)


def _and(e: And, t: pa.Table) -> Datum:
    return pc.and_kleene(_eval(e.left, t), _eval(e.right, t))


def _or(e: Or, t: pa.Table) -> Datum:
    return pc.or_kleene(_eval(e.left, t), _eval(e.right, t))


def _not(e: Not, t: pa.Table) -> Datum:
    return pc.invert(_eval(e.child, t))


def _is_null(e: IsNull, t: pa.Table) -> Datum:
    return pc.is_null(_eval(e.child, t))


def _is_not_null(e: IsNotNull, t: pa.Table) -> Datum:
    return pc.is_valid(_eval(e.child, t))


def _in(e: In, t: pa.Table) -> Datum:
    value = _eval(e.value, t)
    items = [_eval(i, t) for i in e.items]
    if not all(isinstance(i, pa.Scalar) for i in items):
        # IN over columns: an OR of equalities
        out = None
        for item in e.items:
            eq = _comparison(Comparison("=", e.value, item), t)
            out = eq if out is None else pc.or_kleene(out, eq)
        return out
    present = [i.as_py() for i in items if i.is_valid]
    value_set = pa.array(present, type=value.type) if present else pa.array([], type=value.type)
    found = pc.is_in(value, value_set=value_set, skip_nulls=True)
    null = pa.scalar(None, pa.bool_())
    found = pc.if_else(pc.is_null(value), null, found)
    if len(present) < len(items):
        found = pc.if_else(found, True, null)
    return found


def _case_when(e: CaseWhen, t: pa.Table) -> Datum:
    target = e.data_type
    out = _typed(e.else_value, t, target) if e.else_value is not None else _scalar(None, target)
    for cond, value in reversed(list(zip(e.conditions, e.values))):
        chosen = pc.fill_null(_eval(cond, t), False)
        out = pc.if_else(chosen, _typed(value, t, target), out)
    return out


def _cast(e: Cast, t: pa.Table) -> Datum:
    return cast_datum(_eval(e.child, t), e.to)


def cast_datum(value: Datum, to: DataType) -> Datum:
    """Spark's non-ANSI cast: unparsable strings and out-of-range values become null."""
    target = to.to_arrow()
    source = value.type
    if source == target:
        return value
    if pa.types.is_null(source):
        return pa.scalar(None, target) if isinstance(value, pa.Scalar) else pa.nulls(len(value), target)
    if pa.types.is_string(source) or pa.types.is_large_string(source):
        return _cast_from_string(value, to)
    if isinstance(to, StringType):
        if pa.types.is_boolean(source):
            return pc.if_else(value, "true", "false")
        return pc.cast(value, target)
    if isinstance(to, BooleanType):
        return pc.not_equal(value, pa.scalar(0, source))
    if isinstance(to, DateType) and pa.types.is_timestamp(source):
        return pc.cast(value, target)
    return pc.cast(value, target, safe=False)


def _cast_from_string(value: Datum, to: DataType) -> Datum:
    target = to.to_arrow()
    if isinstance(to, StringType):
        return pc.cast(value, target)
    if isinstance(to, (DateType, TimestampType)):
        fmt = "%Y-%m-%d" if isinstance(to, DateType) else "%Y-%m-%d %H:%M:%S"
        trimmed = pc.utf8_trim_whitespace(value)
        parsed = pc.strptime(trimmed, format=fmt, unit="us", error_is_null=True)
        if isinstance(to, TimestampType):
            # a bare date is a valid timestamp too
            as_date = pc.strptime(trimmed, format="%Y-%m-%d", unit="us", error_is_null=True)
            parsed = pc.coalesce(parsed, as_date)
        return pc.cast(parsed, target)
    if isinstance(to, BooleanType):
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(value))
        true = pc.is_in(lowered, value_set=pa.array(["true", "t", "yes", "y", "1"]))
        false = pc.is_in(lowered, value_set=pa.array(["false", "f", "no", "n", "0"]))
        return pc.if_else(true, True, pc.if_else(false, False, pa.scalar(None, pa.bool_())))
    pattern = _INTEGER if pa.types.is_integer(target) else _NUMBER
    valid = pc.match_substring_regex(value, pattern)
    cleaned = pc.if_else(valid, pc.utf8_trim_whitespace(value), pa.scalar(None, value.type))
    return pc.cast(cleaned, target, safe=False)


def _substring(args: list[Datum]) -> Datum:
    pos = args[1].as_py()
    length = args[2].as_py() if len(args) > 2 else None
    start = pos - 1 if pos > 0 else pos
    if pos == 0:
        start = 0
    stop = None if length is None else start + length
    if stop is not None and start < 0 <= stop:
        stop = None
    return pc.utf8_slice_codeunits(args[0], start=start, stop=stop)


def _scalar_function(e: ScalarFunction, t: pa.Table) -> Datum:
    name = e.name
    if name == "concat":
        parts = [_typed(a, t, StringType()) for a in e.args]
        return pc.binary_join_element_wise(*parts, "")
    if name == "coalesce":
        return pc.coalesce(*[_typed(a, t, e.data_type) for a in e.args])
    args = [_eval(a, t) for a in e.args]
    first = args[0]
    if name == "upper":
        return pc.utf8_upper(first)
    if name == "lower":
        return pc.utf8_lower(first)
    if name == "trim":
        return pc.utf8_trim(first, characters=" ")
    if name == "length":
        return pc.cast(pc.utf8_length(first), pa.int32())
    if name in ("year", "month", "dayofmonth"):
        if pa.types.is_string(first.type):
            first = _cast_from_string(first, DateType())
        part = {"year": pc.year, "month": pc.month, "dayofmonth": pc.day}[name](first)
        return pc.cast(part, pa.int32())
    if name == "to_date":
        if pa.types.is_string(first.type):
            if len(args) > 1:
                fmt = _java_to_strptime(args[1].as_py())
                parsed = pc.strptime(first, format=fmt, unit="us", error_is_null=True)
                return pc.cast(parsed, pa.date32())
            return _cast_from_string(first, DateType())
        return pc.cast(first, pa.date32())
    if name == "abs":
        return pc.abs(first)
    if name == "round":
        digits = args[1].as_py() if len(args) > 1 else 0
        return pc.round(first, ndigits=digits, round_mode="half_towards_infinity")
    if name == "sqrt":
        return pc.sqrt(pc.cast(first, pa.float64()))
    if name == "substring":
        return _substring(args)
    raise TypeError(f"no evaluator for function {name}")


def _java_to_strptime(fmt: str) -> str:
    """Spark's datetime pattern (``yyyy-MM-dd``) as a strptime format."""
    out = fmt
    for java, c in (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")):
        out = out.replace(java, c)
    return out


def _python_udf(e: PythonUDF, t: pa.Table) -> Datum:
    # a call the planner did not extract into an EvalPython operator (an aggregate's key, a join
    # condition, a sort key) runs here, called the same way
    return run_python_udf(e, [broadcast(_eval(a, t), t.num_rows) for a in e.args], t.num_rows)


def _aggregate(e: AggregateFunction, t: pa.Table) -> Datum:
    raise TypeError(f"aggregate function {e.sql()} outside an aggregation")


_HANDLERS = {
    AttributeReference: _attribute,
    Literal: _literal,
    Alias: _alias,
    Arithmetic: _arithmetic,
    UnaryMinus: _unary_minus,
    Comparison: _comparison,
    And: _and,
    Or: _or,
    Not: _not,
    IsNull: _is_null,
    IsNotNull: _is_not_null,
    In: _in,
    CaseWhen: _case_when,
    Cast: _cast,
    ScalarFunction: _scalar_function,
    PythonUDF: _python_udf,
    AggregateFunction: _aggregate,
}

