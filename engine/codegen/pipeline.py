"""Whole-stage codegen of a filter + project pipeline into one numba function over Arrow buffers.

``compile_pipeline(input_attrs, condition, outputs)`` turns a pipeline's expressions into the
source of one function, which runs a single loop over the batch::

    for i in range(n):
        <condition as (value, is_null) pairs>        # Kleene logic; null counts as false
        if not (cond and not cond_is_null): continue
        sel[k] = i                                   # the selection, for pass-through columns
        <each computed output>; out_v[k] = v; out_n[k] = is_null
        k += 1
    return k

Policy:

* Every expression is generated as a pair of Python expressions, its value and its null flag.
  Null flags are folded while generating: a column whose batch has no nulls contributes the
  constant ``False`` and its validity array is never passed in; an all-null column contributes
  ``True`` and not even its values are read. The source therefore depends on the null pattern of
  the batch (``N`` no nulls, ``M`` mixed, ``A`` all null per column), and each pattern is its own
  kernel, compiled on first use and memoized by ``kernel_cache`` on the sha256 of the source.
* The source names columns by position (``c0``, ``c1``, ...), never by id, so the same pipeline
  shape in another query or another process shares the compiled kernel.
* A sub-expression computed where it dominates later uses (Spark's subexpression elimination) is
  computed once: a condition ``a + 1 > 5`` and an output ``a + 1`` share one addition.
* Null flags and boolean values are combined with ``& | not``, which do not branch; only CASE WHEN,
  coalesce and integer ``%`` branch, and a failed condition when there are outputs to compute (a
  filter that only selects rows writes every index and advances ``k`` by its condition). Kernels are decorated ``njit(<signature>, nogil=True,
  cache=True, error_model="numpy")``: compiled when first imported, the GIL released while they
  run, and a division by zero gives inf/NaN instead of raising (the result is null anyway).
* Compile time grows faster than linearly with the number of computed outputs (about 0.2 s for a
  selection, 0.8 s for 14 outputs, 9 s for 105, cold; a few ms from numba's disk cache).
* Outputs that are plain columns (of any type, strings included) are not computed in the kernel:
  they are taken from the input with the kernel's selection by pyarrow.
* Semantics are Spark's without ANSI mode: integer arithmetic wraps, ``/`` is double, ``x / 0`` and
  ``x % 0`` are null, ``%`` keeps the sign of the dividend, NaN equals NaN and sorts above every
  other double, double to integer casts truncate and saturate (NaN becomes 0).
* Anything else raises :class:`CodegenUnsupported` with a reason naming the expression, for the
  planner to fall back to vectorized pyarrow.compute.
"""
from __future__ import annotations

import datetime as _dt
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
import pyarrow as pa

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
    SortOrder,
    UnaryMinus,
)
from engine.codegen.kernel_cache import Kernel, fingerprint, load_kernel
from engine.memory import native
from engine.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    NullType,
    StringType,
    TimestampType,
    is_numeric,
    wider_numeric,
)

# Bumped whenever generated code changes meaning, so stale modules in the disk cache are not reused.
CODEGEN_VERSION = 1

Batch = Union[pa.Table, pa.RecordBatch]


class CodegenUnsupported(Exception):
    """An expression the pipeline compiler cannot compile; ``reason`` says which and why.

    >>> CodegenUnsupported("upper(s#3): string functions are not compiled").reason
    'upper(s#3): string functions are not compiled'
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# physical types


@dataclass(frozen=True, slots=True)
class _Physical:
    numpy: np.dtype      # the values array
    numba: str           # its element type in a numba signature
    ctor: str            # how generated code makes a scalar of it
    zero: str            # a placeholder value for nulls


_INT32 = _Physical(np.dtype(np.int32), "int32", "np.int32", "np.int32(0)")
_INT64 = _Physical(np.dtype(np.int64), "int64", "np.int64", "np.int64(0)")
_FLOAT64 = _Physical(np.dtype(np.float64), "float64", "np.float64", "np.float64(0.0)")
_BOOL = _Physical(np.dtype(np.bool_), "boolean", "bool", "False")

_PHYSICAL: dict[type, _Physical] = {
    IntegerType: _INT32,
    LongType: _INT64,
    DoubleType: _FLOAT64,
    DecimalType: _FLOAT64,
    BooleanType: _BOOL,
    DateType: _INT32,            # days since the epoch, as Arrow's date32
    TimestampType: _INT64,       # microseconds since the epoch, as Arrow's timestamp[us]
}

# Under a condition, columns of these types are copied by the kernel at the rows it keeps, as it
# writes its computed outputs: cheaper than taking the rows with pyarrow afterwards (TPC-H Q3's
# lineitem filter: 34 ms of takes per task of 3M rows). Other columns are passed through.
_GATHERED = frozenset({IntegerType, LongType, DoubleType, DateType, TimestampType})

_STRING_FUNCTIONS = frozenset({"upper", "lower", "length", "concat", "substring", "trim", "to_date"})
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EPOCH = _dt.date(1970, 1, 1)
_EPOCH_TS = _dt.datetime(1970, 1, 1)
_MICROS_PER_SECOND = 1_000_000


def _physical(t: DataType, e: Expression) -> _Physical:
    phys = _PHYSICAL.get(type(t))
    if phys is None:
        if isinstance(t, StringType):
            raise CodegenUnsupported(f"{e}: strings are not compiled, only passed through")
        raise CodegenUnsupported(f"{e}: type {t.simpleString()} is not compiled")
    return phys


# ---------------------------------------------------------------------------------------------
# generated values


@dataclass(frozen=True, slots=True)
class _Val:
    """One expression in generated code: Python expressions for its value and its null flag.

    ``null`` is ``"False"`` or ``"True"`` when known while generating; otherwise a variable.
    ``const`` holds the Python value of a non-null literal (None otherwise), used for folding.
    """

    value: str
    null: str
    type: DataType
    const: object = None


# Boolean code is built from atoms (names, constants, parenthesised expressions) with ``& | not``,
# never ``and``/``or``: those short-circuit, and every short circuit is a branch that numba and
# LLVM must optimise; wide kernels compile markedly faster without them. Constants fold away.

def _not(a: str) -> str:
    return {"True": "False", "False": "True"}.get(a, f"(not {a})")


def _and(*terms: str) -> str:
    if "False" in terms:
        return "False"
    rest = list(dict.fromkeys(t for t in terms if t != "True"))
    return "True" if not rest else rest[0] if len(rest) == 1 else "(" + " & ".join(rest) + ")"


def _or(*terms: str) -> str:
    if "True" in terms:
        return "True"
    rest = list(dict.fromkeys(t for t in terms if t != "False"))
    return "False" if not rest else rest[0] if len(rest) == 1 else "(" + " | ".join(rest) + ")"


def _true_code(val: _Val) -> str:
    """Code that is true when a boolean value is TRUE (not false, not null)."""
    return _and(val.value, _not(val.null))


def _balanced(code: str) -> bool:
    """Whether the parentheses of ``code`` balance without ever going negative."""
    depth = 0
    for ch in code:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


class _Emitter:
    """Generates the body of the row loop of one kernel variant.

    ``scopes`` is a stack of what has been computed, one level per ``if`` block entered: an
    expression found in an enclosing level is reused (it dominates), one computed inside a branch
    is forgotten when the branch closes.
    """

    def __init__(self, inputs: tuple[AttributeReference, ...], states: dict[int, str]):
        self.slot_of = {a.expr_id: j for j, a in enumerate(inputs)}
        self.states = states          # input slot -> "N" | "M" | "A"
        self.lines: list[str] = []
        self.depth = 2                # inside ``def kernel`` and ``for i in range(n)``
        self.scopes: list[dict] = [{}]
        self.counter = 0
        self.helpers: set[str] = set()

    # -- plumbing -------------------------------------------------------------------------------

    def tmp(self) -> str:
        self.counter += 1
        return f"t{self.counter}"

    def emit(self, line: str, depth: int | None = None) -> None:
        self.lines.append("    " * (self.depth if depth is None else depth) + line)

    def assign(self, code: str) -> str:
        name = self.tmp()
        self.emit(f"{name} = {code}")
        return name

    def boolean(self, code: str) -> str:
        """``code`` as an atom: constants and names as they are, anything else in a variable
        (one per distinct code in scope, so a flag such as ``a_null | b_null`` is computed once)."""
        if code in ("True", "False") or code.isidentifier():
            return code
        key = ("code", code)
        for scope in reversed(self.scopes):
            if key in scope:
                return scope[key]
        name = self.assign(code[1:-1] if code.startswith("(") and code.endswith(")")
                           and _balanced(code[1:-1]) else code)
        self.scopes[-1][key] = name
        return name

    def flag(self, *flags: str) -> str:
        """A null flag that is the OR of ``flags``."""
        return self.boolean(_or(*flags))

    def open_block(self, header: str) -> None:
        self.emit(header)
        self.depth += 1
        self.scopes.append({})

    def close_block(self) -> None:
        self.depth -= 1
        self.scopes.pop()

    def expr(self, e: Expression) -> _Val:
        for scope in reversed(self.scopes):
            if e in scope:
                return scope[e]
        emitter = _EMITTERS.get(type(e))
        if emitter is None:
            raise CodegenUnsupported(_unsupported_reason(e))
        val = emitter(self, e)
        if not isinstance(e, Literal):   # constants cost nothing, and 0.0 == -0.0 would alias
            self.scopes[-1][e] = val
        return val

    def coerce(self, val: _Val, to: DataType, e: Expression) -> _Val:
        """``val`` as the physical type of ``to`` (the implicit widening of Spark's type coercion)."""
        if isinstance(to, NullType):
            return _Val("False", "True", to)
        phys = _physical(to, e)
        if isinstance(val.type, NullType):
            return _Val(phys.zero, "True", to)
        if _PHYSICAL.get(type(val.type)) is phys:
            return _Val(val.value, val.null, to, val.const)
        if phys is _BOOL or _PHYSICAL.get(type(val.type)) is _BOOL:
            raise CodegenUnsupported(f"{e}: implicit conversion between {val.type.simpleString()} "
                                     f"and {to.simpleString()} is not compiled")
        return _Val(f"{phys.ctor}({val.value})", val.null, to, val.const)

    def typed_zero_for(self, t: DataType, e: Expression) -> str:
        return "False" if isinstance(t, NullType) else _physical(t, e).zero


# ---------------------------------------------------------------------------------------------
# one emitter per expression type


def _emit_literal(g: _Emitter, e: Literal) -> _Val:
    t = e.literal_type
    if e.value is None:
        return _Val(g.typed_zero_for(t, e), "True", t)
    if isinstance(t, StringType):
        raise CodegenUnsupported(f"{e}: strings are not compiled, only passed through")
    phys = _physical(t, e)
    v = e.value
    if isinstance(t, BooleanType):
        return _Val("True" if v else "False", "False", t, bool(v))
    if isinstance(t, DateType):
        v = (v - _EPOCH).days if isinstance(v, _dt.date) else int(v)
    elif isinstance(t, TimestampType):
        v = _timestamp_micros(v) if isinstance(v, _dt.datetime) else int(v)
    elif phys is _FLOAT64:
        v = float(v)
    else:
        v = int(v)
    return _Val(_number_code(v, phys), "False", t, v)


def _timestamp_micros(ts: _dt.datetime) -> int:
    # naive datetimes are taken as UTC, as pyarrow does when it converts them to timestamp[us]
    if ts.tzinfo is not None:
        ts = ts.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    delta = ts - _EPOCH_TS
    return (delta.days * 86_400 + delta.seconds) * _MICROS_PER_SECOND + delta.microseconds


def _number_code(v: int | float, phys: _Physical) -> str:
    if phys is _FLOAT64:
        if math.isnan(v):
            return "np.nan"
        if math.isinf(v):
            return "np.inf" if v > 0 else "-np.inf"
        return f"np.float64({float(v)!r})"
    if v == _INT64_MIN:
        return f"np.int64(-{_INT64_MAX} - 1)"    # -9223372036854775808 alone does not fit a literal
    return f"{phys.ctor}({int(v)})"


def _emit_attribute(g: _Emitter, e: AttributeReference) -> _Val:
    slot = g.slot_of.get(e.expr_id)
    if slot is None:
        raise ValueError(f"{e} is not among the pipeline's input columns")
    t = e.data_type
    if isinstance(t, NullType):
        return _Val("False", "True", t)
    _physical(t, e)
    state = g.states[slot]
    if state == "A":
        return _Val(_physical(t, e).zero, "True", t)
    value = g.assign(f"c{slot}_v[i]")
    null = g.assign(f"not c{slot}_m[i]") if state == "M" else "False"
    return _Val(value, null, t)


def _numeric_operand(g: _Emitter, e: Expression, parent: Expression) -> _Val:
    t = e.data_type          # checked before generating e, so the reason names the operation
    if not (is_numeric(t) or isinstance(t, NullType)):
        raise CodegenUnsupported(f"{parent}: arithmetic on {t.simpleString()} is not compiled")
    return g.expr(e)


def _emit_arithmetic(g: _Emitter, e: Arithmetic) -> _Val:
    left = _numeric_operand(g, e.left, e)
    right = _numeric_operand(g, e.right, e)
    out_type = e.data_type
    if isinstance(out_type, NullType):
        return _Val("False", "True", out_type)
    operand_type = DoubleType() if e.op == "/" else out_type
    phys = _physical(operand_type, e)
    lv = g.coerce(left, operand_type, e)
    rv = g.coerce(right, operand_type, e)
    null = g.flag(lv.null, rv.null)
    if null == "True":
        return _Val(phys.zero, "True", out_type)
    if e.op in "+-*":
        code = f"{lv.value} {e.op} {rv.value}"
        return _Val(g.assign(code if phys is _FLOAT64 else f"{phys.ctor}({code})"), null, out_type)
    # / and %: a zero divisor makes the result null, and must not reach the division
    if rv.const is not None and rv.const == 0:
        return _Val(phys.zero, "True", out_type)
    if e.op == "/":
        if rv.const is not None:
            return _Val(g.assign(f"{lv.value} / {rv.value}"), null, out_type)
        zero = g.boolean(f"({rv.value} == 0)")    # error_model="numpy": x / 0 does not raise
        return _Val(g.assign(f"{lv.value} / {rv.value}"), g.flag(null, zero), out_type)
    if phys is _FLOAT64:
        if rv.const is not None:
            return _Val(g.assign(f"np.fmod({lv.value}, {rv.value})"), null, out_type)
        zero = g.boolean(f"({rv.value} == 0)")
        return _Val(g.assign(f"np.fmod({lv.value}, {rv.value})"), g.flag(null, zero), out_type)
    if rv.const == -1:
        return _Val(phys.zero, null, out_type)
    # Java's remainder takes the dividend's sign; Python's (numba's) takes the divisor's.
    # x % -1 is 0 and must not reach the hardware division (MIN % -1 traps).
    zero = "False" if rv.const is not None else g.boolean(f"({rv.value} == 0)")
    out = g.tmp()
    if rv.const is None:
        g.emit(f"if {zero} or {rv.value} == -1:")
        g.emit(f"    {out} = {phys.zero}")
        g.emit("else:")
        g.depth += 1
    g.emit(f"{out} = {phys.ctor}({lv.value} % {rv.value})")
    g.emit(f"if {out} != 0 and (({out} < 0) != ({lv.value} < 0)):")
    g.emit(f"    {out} = {phys.ctor}({out} - {rv.value})")
    if rv.const is None:
        g.depth -= 1
    return _Val(out, g.flag(null, zero), out_type)


def _emit_unary_minus(g: _Emitter, e: UnaryMinus) -> _Val:
    child = _numeric_operand(g, e.child, e)
    if isinstance(child.type, NullType):
        return child
    phys = _physical(child.type, e)
    code = f"-{child.value}" if phys is _FLOAT64 else f"{phys.ctor}(-{child.value})"
    return _Val(g.assign(code), child.null, child.type)


def _comparable_type(a: DataType, b: DataType, e: Expression) -> DataType:
    for t in (a, b):
        if isinstance(t, StringType):
            raise CodegenUnsupported(f"{e}: string comparison is not compiled")
    if isinstance(a, NullType):
        return b
    if isinstance(b, NullType):
        return a
    if is_numeric(a) and is_numeric(b):
        return wider_numeric(a, b)
    if type(a) is type(b) and type(a) in _PHYSICAL:
        return a
    raise CodegenUnsupported(f"{e}: comparing {a.simpleString()} with {b.simpleString()} is not compiled")


def _compare_code(op: str, a: str, b: str, t: DataType) -> str:
    """Spark's ordering: for doubles NaN equals NaN and is above every other value."""
    if _PHYSICAL.get(type(t)) is not _FLOAT64:
        return f"({a} == {b})" if op in ("=", "<=>") else f"({a} {op} {b})"
    return {
        "=": f"(({a} == {b}) | (({a} != {a}) & ({b} != {b})))",
        "<=>": f"(({a} == {b}) | (({a} != {a}) & ({b} != {b})))",
        "<": f"(({a} < {b}) | (({b} != {b}) & ({a} == {a})))",
        "<=": f"(({a} <= {b}) | ({b} != {b}))",
        ">": f"(({a} > {b}) | (({a} != {a}) & ({b} == {b})))",
        ">=": f"(({a} >= {b}) | ({a} != {a}))",
    }[op]


def _emit_comparison(g: _Emitter, e: Comparison) -> _Val:
    t = _comparable_type(e.left.data_type, e.right.data_type, e)
    left, right = g.expr(e.left), g.expr(e.right)
    if isinstance(t, NullType):
        return _Val("True", "False", BooleanType()) if e.op == "<=>" else _Val("False", "True", BooleanType())
    lv, rv = g.coerce(left, t, e), g.coerce(right, t, e)
    cmp = _compare_code(e.op, lv.value, rv.value, t)
    if e.op == "<=>":
        if lv.null == "False" and rv.null == "False":
            return _Val(g.boolean(cmp), "False", BooleanType())
        code = _or(_and(lv.null, rv.null), _and(_not(lv.null), _not(rv.null), cmp))
        return _Val(g.boolean(code), "False", BooleanType())
    null = g.flag(lv.null, rv.null)
    if null == "True":
        return _Val("False", "True", BooleanType())
    return _Val(g.boolean(cmp), null, BooleanType())


def _boolean_operand(g: _Emitter, e: Expression, parent: Expression) -> _Val:
    val = g.expr(e)
    if isinstance(val.type, NullType):
        return _Val("False", "True", BooleanType())
    if not isinstance(val.type, BooleanType):
        raise CodegenUnsupported(f"{parent}: {e} is not boolean")
    return val


def _emit_and(g: _Emitter, e: And) -> _Val:
    # Kleene: false if either side is false, else null if either is null, else true
    a, b = _boolean_operand(g, e.left, e), _boolean_operand(g, e.right, e)
    no_false = g.boolean(_not(_or(_and(_not(a.null), _not(a.value)), _and(_not(b.null), _not(b.value)))))
    return _Val(no_false, g.boolean(_and(no_false, _or(a.null, b.null))), BooleanType())


def _emit_or(g: _Emitter, e: Or) -> _Val:
    # Kleene: true if either side is true, else null if either is null, else false
    a, b = _boolean_operand(g, e.left, e), _boolean_operand(g, e.right, e)
    any_true = g.boolean(_or(_and(_not(a.null), a.value), _and(_not(b.null), b.value)))
    return _Val(any_true, g.boolean(_and(_not(any_true), _or(a.null, b.null))), BooleanType())


def _emit_not(g: _Emitter, e: Not) -> _Val:
    child = _boolean_operand(g, e.child, e)
    return _Val(g.boolean(_not(child.value)), child.null, BooleanType())


def _emit_is_null(g: _Emitter, e: IsNull) -> _Val:
    child = g.expr(e.child)
    return _Val(child.null, "False", BooleanType())


def _emit_is_not_null(g: _Emitter, e: IsNotNull) -> _Val:
    child = g.expr(e.child)
    return _Val(g.boolean(_not(child.null)), "False", BooleanType())


def _emit_in(g: _Emitter, e: In) -> _Val:
    # true if equal to an item; else null if the value or any item is null; else false
    t = e.value.data_type
    for item in e.items:
        t = _comparable_type(t, item.data_type, e)
    value = g.expr(e.value)
    items = [g.expr(item) for item in e.items]
    if isinstance(t, NullType) or value.null == "True":
        return _Val("False", "True", BooleanType())
    v = g.coerce(value, t, e)
    matches, item_nulls = [], []
    for item in items:
        iv = g.coerce(item, t, e)
        if iv.null == "True":
            item_nulls.append("True")
            continue
        eq = _compare_code("=", v.value, iv.value, t)
        matches.append(_and(_not(iv.null), eq))
        item_nulls.append(iv.null)
    match = g.boolean(_or(*matches))
    null = g.boolean(_or(v.null, _and(_not(match), _or(*item_nulls))))
    return _Val(match, null, BooleanType())


def _emit_case_when(g: _Emitter, e: CaseWhen) -> _Val:
    out_type = e.data_type
    if isinstance(out_type, StringType):
        raise CodegenUnsupported(f"{e}: strings are not compiled, only passed through")
    out_v, out_n = g.tmp(), g.tmp()
    assigned_nulls: list[str] = []

    def assign_branch(value_expr: Expression | None) -> None:
        if value_expr is None:
            val = _Val(g.typed_zero_for(out_type, e), "True", out_type)
        else:
            val = g.coerce(g.expr(value_expr), out_type, e)
        g.emit(f"{out_v} = {val.value}")
        g.emit(f"{out_n} = {val.null}")
        assigned_nulls.append(val.null)

    opened = 0
    for cond, value in zip(e.conditions, e.values):
        c = _boolean_operand(g, cond, e)
        g.open_block(f"if {_true_code(c)}:")
        assign_branch(value)
        g.close_block()
        g.open_block("else:")     # the next condition is evaluated only when this one failed
        opened += 1
    assign_branch(e.else_value)
    for _ in range(opened):
        g.close_block()
    null = "False" if all(n == "False" for n in assigned_nulls) else out_n
    return _Val(out_v, null, out_type)


def _emit_cast(g: _Emitter, e: Cast) -> _Val:
    src, dst = e.child.data_type, e.to
    if isinstance(src, StringType) or isinstance(dst, StringType):
        raise CodegenUnsupported(f"{e}: casts to and from strings are not compiled")
    if isinstance(dst, NullType):
        return _Val("False", "True", dst)
    dst_phys = _physical(dst, e)
    if isinstance(src, NullType):
        return _Val(dst_phys.zero, "True", dst)
    _physical(src, e)
    how = _cast_how(src, dst)
    if how is None:
        kinds = {_cast_kind(src), _cast_kind(dst)}
        reason = "depends on the session time zone" if kinds == {"date", "ts"} else "is not compiled"
        raise CodegenUnsupported(f"{e}: cast from {src.simpleString()} to {dst.simpleString()} {reason}")
    child = g.expr(e.child)
    if how == "same":
        return _Val(child.value, child.null, dst, child.const)
    x = child.value
    if how == "double_to_ts":
        # Spark: NaN and infinities become null; other values saturate like Java's (long) cast
        bad = g.boolean(f"(({x} != {x}) | ({x} == np.inf) | ({x} == -np.inf))")
        value = g.assign(f"np.int64(0) if {bad} else {_saturating_int(f'{x} * 1e6', 64)}")
        return _Val(value, g.flag(child.null, bad), dst)
    code = {
        "convert": f"{dst_phys.ctor}({x})",      # widening, or wrapping like Java's narrowing
        "to_bool": f"({x} != 0)",
        "from_bool": f"{dst_phys.ctor}(1) if {x} else {dst_phys.ctor}(0)",
        "double_to_int": _saturating_int(x, 32),
        "double_to_long": _saturating_int(x, 64),
        "ts_to_seconds": f"{dst_phys.ctor}({x} // {_MICROS_PER_SECOND})",   # floor, as Spark
        "ts_to_double": f"{x} / 1e6",
        "seconds_to_ts": (f"np.int64({_INT64_MAX}) if {x} > {_INT64_MAX // _MICROS_PER_SECOND} else "
                          f"(np.int64(-{_INT64_MAX} - 1) if {x} < {-(_INT64_MAX // _MICROS_PER_SECOND)} "
                          f"else np.int64({x}) * {_MICROS_PER_SECOND})"),
    }[how]
    return _Val(g.assign(code), child.null, dst)


def _saturating_int(x: str, bits: int) -> str:
    """Java's double-to-integer conversion: truncate toward zero, saturate, NaN becomes 0."""
    if bits == 32:
        ctor, lo_code, hi = "np.int32", f"np.int32({_INT32_MIN})", _INT32_MAX
        lo = _INT32_MIN
    else:
        ctor, lo_code, hi = "np.int64", f"np.int64(-{_INT64_MAX} - 1)", _INT64_MAX
        lo = _INT64_MIN
    return (f"({ctor}(0) if {x} != {x} else ({ctor}({hi}) if {x} >= {float(hi)!r} else "
            f"({lo_code} if {x} <= {float(lo)!r} else {ctor}({x}))))")


def _cast_kind(t: DataType) -> str:
    if isinstance(t, (IntegerType, LongType)):
        return "int"
    if isinstance(t, DecimalType):
        return "decimal"
    return {DoubleType: "double", BooleanType: "bool", DateType: "date", TimestampType: "ts"}[type(t)]


# (source kind, destination kind) -> how; "int" is int or bigint, the destination's width decides
_CASTS: dict[tuple[str, str], str] = {
    ("int", "int"): "convert",
    ("int", "double"): "convert",
    ("int", "decimal"): "convert",
    ("int", "bool"): "to_bool",
    ("int", "ts"): "seconds_to_ts",
    ("double", "bool"): "to_bool",
    ("double", "ts"): "double_to_ts",
    ("decimal", "double"): "same",       # both are float64 in Ember
    ("decimal", "bool"): "to_bool",
    ("bool", "int"): "from_bool",
    ("bool", "double"): "from_bool",
    ("bool", "decimal"): "from_bool",
    ("ts", "int"): "ts_to_seconds",
    ("ts", "double"): "ts_to_double",
    ("ts", "bool"): "to_bool",
}


def _cast_how(src: DataType, dst: DataType) -> str | None:
    if type(src) is type(dst):
        return "same"                      # decimal to decimal keeps Ember's float64 as is
    kinds = (_cast_kind(src), _cast_kind(dst))
    if kinds in (("double", "int"), ("decimal", "int")):
        return "double_to_long" if isinstance(dst, LongType) else "double_to_int"
    return _CASTS.get(kinds)


def _emit_scalar_function(g: _Emitter, e: ScalarFunction) -> _Val:
    name = e.name
    if name in _STRING_FUNCTIONS:
        raise CodegenUnsupported(f"{e}: string functions are not compiled")
    if name in ("year", "month", "dayofmonth"):
        arg_type = e.args[0].data_type
        if not isinstance(arg_type, (DateType, NullType)):
            reason = "depends on the session time zone" if isinstance(arg_type, TimestampType) else "needs a date"
            raise CodegenUnsupported(f"{e}: {name}() of {arg_type.simpleString()} {reason}")
        arg = g.expr(e.args[0])
        if isinstance(arg.type, NullType):
            return _Val("np.int32(0)", "True", IntegerType())
        if arg.null == "True":
            return _Val("np.int32(0)", "True", IntegerType())
        key = ("civil", e.args[0])
        civil = next((s[key] for s in reversed(g.scopes) if key in s), None)
        if civil is None:
            g.helpers.add("civil_from_days")
            y, m, d = g.tmp(), g.tmp(), g.tmp()
            g.emit(f"{y}, {m}, {d} = _civil_from_days(np.int64({arg.value}))")
            civil = (y, m, d)
            g.scopes[-1][key] = civil
        part = civil[("year", "month", "dayofmonth").index(name)]
        return _Val(g.assign(f"np.int32({part})"), arg.null, IntegerType())
    if name == "abs":
        arg = _numeric_operand(g, e.args[0], e)
        if isinstance(arg.type, NullType):
            return arg
        phys = _physical(arg.type, e)
        code = f"abs({arg.value})" if phys is _FLOAT64 else f"{phys.ctor}(abs({arg.value}))"
        return _Val(g.assign(code), arg.null, arg.type)
    if name == "sqrt":
        arg = _numeric_operand(g, e.args[0], e)
        if isinstance(arg.type, NullType):
            return _Val("np.float64(0.0)", "True", DoubleType())
        return _Val(g.assign(f"np.sqrt(np.float64({arg.value}))"), arg.null, DoubleType())
    if name == "coalesce":
        return _emit_coalesce(g, e)
    raise CodegenUnsupported(f"{e}: {name}() is not compiled")


def _emit_coalesce(g: _Emitter, e: ScalarFunction) -> _Val:
    out_type = e.data_type
    if isinstance(out_type, StringType):
        raise CodegenUnsupported(f"{e}: strings are not compiled, only passed through")
    if isinstance(out_type, NullType):
        return _Val("False", "True", out_type)
    out_v, out_n = g.tmp(), g.tmp()
    assigned_nulls: list[str] = []
    opened = 0
    for arg in e.args:
        val = g.coerce(g.expr(arg), out_type, e)
        if val.null == "True":
            continue
        if val.null == "False":            # never null: later arguments are never needed
            g.emit(f"{out_v} = {val.value}")
            g.emit(f"{out_n} = False")
            assigned_nulls.append("False")
            break
        g.open_block(f"if not {val.null}:")
        g.emit(f"{out_v} = {val.value}")
        g.emit(f"{out_n} = False")
        g.close_block()
        g.open_block("else:")
        opened += 1
    else:
        g.emit(f"{out_v} = {_physical(out_type, e).zero}")
        g.emit(f"{out_n} = True")
        assigned_nulls.append("True")
    for _ in range(opened):
        g.close_block()
    if opened == 0 and assigned_nulls == ["True"]:
        return _Val(_physical(out_type, e).zero, "True", out_type)
    null = "False" if opened == 0 and assigned_nulls == ["False"] else out_n
    return _Val(out_v, null, out_type)


def _emit_alias(g: _Emitter, e: Alias) -> _Val:
    return g.expr(e.child)


_EMITTERS: dict[type, Callable[[_Emitter, Expression], _Val]] = {
    Literal: _emit_literal,
    AttributeReference: _emit_attribute,
    Alias: _emit_alias,
    Arithmetic: _emit_arithmetic,
    UnaryMinus: _emit_unary_minus,
    Comparison: _emit_comparison,
    And: _emit_and,
    Or: _emit_or,
    Not: _emit_not,
    IsNull: _emit_is_null,
    IsNotNull: _emit_is_not_null,
    In: _emit_in,
    CaseWhen: _emit_case_when,
    Cast: _emit_cast,
    ScalarFunction: _emit_scalar_function,
}


def _unsupported_reason(e: Expression) -> str:
    if isinstance(e, PythonUDF):
        return f"{e}: Python UDFs are never compiled"
    if isinstance(e, AggregateFunction):
        return f"{e}: aggregate functions are not compiled in a filter/project pipeline"
    if isinstance(e, SortOrder):
        return f"{e}: sort orders are not expressions of a pipeline"
    if not e.resolved:
        return f"{e}: unresolved expressions cannot be compiled"
    return f"{e}: {type(e).__name__} is not compiled"


# ---------------------------------------------------------------------------------------------
# kernel source


_CIVIL_FROM_DAYS = '''
@njit(nogil=True, cache=True)
def _civil_from_days(days):
    # proleptic Gregorian (year, month, day) of a count of days since 1970-01-01
    # (Howard Hinnant's civil_from_days; // is floor division, as the algorithm needs)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y, m, d
'''

_HELPERS = {"civil_from_days": _CIVIL_FROM_DAYS}


@dataclass(frozen=True, slots=True)
class _Variant:
    """The kernel of one null pattern: its source and how to call it."""

    pattern: tuple[str, ...]                 # null state of each referenced column, by slot order
    source: str
    columns: tuple[tuple[int, str], ...]     # (input slot, "N" | "M") of each column passed in
    out_nullable: tuple[bool, ...]           # per computed output: is a null array passed in
    has_selection: bool
    has_kernel: bool


def _generate(inputs: tuple[AttributeReference, ...], used: tuple[int, ...], condition: Expression | None,
              computed: tuple[Expression, ...], pattern: tuple[str, ...]) -> _Variant:
    if condition is None and not computed:
        return _Variant(pattern, "# pass-through only: no kernel\n", (), (), False, False)
    states = dict(zip(used, pattern))
    g = _Emitter(inputs, states)
    g.emit("k = 0", depth=1)
    g.emit("for i in range(n):", depth=1)
    # A selection that only copies columns (``_GATHERED`` pass-throughs) is made without a
    # branch: every row writes its index and values at ``k`` and only a kept row moves ``k`` on
    # (a branch mispredicts at every other row of a 50% filter). Computed outputs keep the
    # branch: a selective filter then skips their work.
    branch_free = condition is not None and all(isinstance(e, AttributeReference) for e in computed)
    if condition is not None:
        c = _boolean_operand(g, condition, condition)
        if branch_free:
            keep = g.assign(_true_code(c))
        else:
            g.emit(f"if not ({_true_code(c)}):")
            g.emit("    continue")
        g.emit("sel[k] = i")
    out_nullable = []
    for j, e in enumerate(computed):
        val = g.coerce(g.expr(e), e.data_type, e)
        if isinstance(e.data_type, NullType):
            out_nullable.append(False)      # all null: no array, nothing to write
            continue
        g.emit(f"o{j}_v[k] = {val.value}")
        out_nullable.append(val.null != "False")
        if val.null != "False":
            g.emit(f"o{j}_n[k] = {val.null}")
    g.emit(f"k += np.int64({keep})" if branch_free else "k += 1")
    g.emit("return k", depth=1)

    columns = tuple((slot, states[slot]) for slot in used if states[slot] != "A")
    params, sig = ["n"], ["int64"]
    for slot, state in columns:
        params.append(f"c{slot}_v")
        sig.append(f"{_physical(inputs[slot].data_type, inputs[slot]).numba}[::1]")
        if state == "M":
            params.append(f"c{slot}_m")
            sig.append("boolean[::1]")
    if condition is not None:
        params.append("sel")
        sig.append("int64[::1]")
    for j, e in enumerate(computed):
        if isinstance(e.data_type, NullType):
            continue
        params.append(f"o{j}_v")
        sig.append(f"{_physical(e.data_type, e).numba}[::1]")
        if out_nullable[j]:
            params.append(f"o{j}_n")
            sig.append("boolean[::1]")

    header = kernel_module_head("kernel", "engine.codegen.pipeline", column_legend(inputs, used, pattern), (),
                                g.helpers, sig, params)
    source = header + "".join(line + "\n" for line in g.lines)
    return _Variant(pattern, source, columns, tuple(out_nullable), condition is not None, True)


def column_legend(inputs, used, pattern, note=lambda slot: "") -> str:
    """``c0: int M, c3: double N``: each input column a kernel reads, its type and null state."""
    return ", ".join(f"c{slot}: {inputs[slot].data_type.simpleString()} {state}{note(slot)}"
                     for slot, state in zip(used, pattern)) or "none"


def kernel_module_head(what: str, generator: str, legend: str, notes, helpers, sig, params,
                       fastmath: tuple[str, ...] = ()) -> str:
    """The module text before a kernel's body: what generated it, its column legend and notes, the
    helpers it calls, and its ``njit`` signature line (shared by pipeline and aggregate kernels).
    ``fastmath`` names LLVM fast-math flags the kernel may use (none unless a caller says so)."""
    options = f", fastmath={{{', '.join(repr(f) for f in sorted(fastmath))}}}" if fastmath else ""
    parts = [
        f"# Ember whole-stage {what}, codegen v{CODEGEN_VERSION}: generated by {generator}\n",
        f"# columns (N no nulls, M some nulls, A all null): {legend}\n",
        *(f"# {note}\n" for note in notes),
        "import numpy as np\n\n",
        "from engine.codegen.jit import njit\n",
        *(_HELPERS[h] for h in sorted(helpers)),
        "\n\n",
        f'@njit("int64({", ".join(sig)})", nogil=True, cache=True, error_model="numpy"{options})\n',
        f"def kernel({', '.join(params)}):\n",
    ]
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Arrow <-> numpy


def _unpack_bits(buf: pa.Buffer, offset: int, n: int) -> np.ndarray:
    """An Arrow bitmap (values of a boolean array, or validity) as a contiguous numpy bool array."""
    start = offset // 8
    raw = np.frombuffer(buf, np.uint8, count=(offset + n + 7) // 8 - start, offset=start)
    bit = offset % 8
    return np.unpackbits(raw, bitorder="little")[bit:bit + n].view(np.bool_)


def _column_values(arr: pa.Array, attr: AttributeReference) -> np.ndarray:
    expected = attr.data_type.to_arrow()
    if arr.type != expected:
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if arr.type != expected:
            arr = arr.cast(expected, safe=False)
    phys = _PHYSICAL[type(attr.data_type)]
    data = arr.buffers()[1]
    if phys is _BOOL:
        return _unpack_bits(data, arr.offset, len(arr))
    values = np.frombuffer(data, dtype=phys.numpy, count=arr.offset + len(arr))[arr.offset:]
    # a memory-mapped block (DISK_ONLY cache) is read-only, and the kernels' signatures take
    # writable arrays (numba types the two apart): copy it rather than compile every kernel twice
    return values if values.flags.writeable else values.copy()


def _column_validity(arr: pa.Array) -> np.ndarray:
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    validity = arr.buffers()[0]
    if validity is None:             # a chunk without nulls in a column that has some elsewhere
        return native.full(len(arr), True, np.bool_)
    return _unpack_bits(validity, arr.offset, len(arr))


def _null_state(arr: pa.Array) -> str:
    nulls = arr.null_count
    return "N" if nulls == 0 else ("A" if nulls == len(arr) else "M")


def _to_arrow(values: np.ndarray, nulls: np.ndarray | None, k: int, arrow_type: pa.DataType) -> pa.Array:
    validity, null_count = None, 0
    if nulls is not None:
        is_null = nulls[:k]
        null_count = int(np.count_nonzero(is_null))
        if null_count:
            validity = pa.py_buffer(np.packbits(~is_null, bitorder="little"))
    if values.dtype == np.bool_:
        data = pa.py_buffer(np.packbits(values[:k], bitorder="little"))
    else:
        data = pa.py_buffer(values[:k])      # zero-copy; the buffer keeps the array alive
    return pa.Array.from_buffers(arrow_type, k, [validity, data], null_count)


def _batch_column(batch: Batch, attr: AttributeReference) -> pa.Array | pa.ChunkedArray:
    """``attr``'s column of ``batch`` as it is stored (a table's may be chunked)."""
    key = attr.column_key
    index = batch.schema.get_field_index(key)
    if index < 0:
        raise KeyError(f"column {key} ({attr}) is not in the batch; it has {batch.schema.names}")
    return batch.column(index)


def _column(batch: Batch, attr: AttributeReference) -> pa.Array:
    col = _batch_column(batch, attr)
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def _chunks(table: pa.Table) -> list[pa.RecordBatch]:
    """``table`` as record batches whose columns share their row ranges (zero-copy slices)."""
    return [b for b in table.to_batches() if b.num_rows]


def _take_selected(column: pa.Array | pa.ChunkedArray, selection: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """The rows ``selection`` (ascending row numbers) of ``column``. A chunked column is taken
    chunk by chunk, into a chunked result: pyarrow's take over a ChunkedArray concatenates its
    chunks first."""
    if isinstance(column, pa.Array):
        return column.take(pa.array(selection))
    pieces, start, k = [], 0, 0
    for piece in column.chunks:
        stop = start + len(piece)
        end = k + int(np.searchsorted(selection[k:], stop))
        if end > k:
            pieces.append(piece.take(pa.array(selection[k:end] - start)))
        start, k = stop, end
    return pa.chunked_array(pieces, type=column.type)


# ---------------------------------------------------------------------------------------------
# the compiled pipeline


class KernelFamily:
    """What compiled pipelines and compiled aggregates share: one generated kernel per null pattern
    of the input columns, generated on demand and compiled (or loaded from the kernel cache) once.

    A subclass sets ``input_attrs`` and ``_used`` (the slots its kernels read), implements
    ``_generate_variant(pattern)``, and calls ``_init_variants()`` at the end of ``__init__``.
    """

    input_attrs: tuple[AttributeReference, ...]
    _used: tuple[int, ...]

    _noun = "kernel"  # what the subclass compiles, for error messages

    def _init_variants(self) -> None:
        self._variants: dict[tuple[str, ...], _Variant] = {}
        self._kernels: dict[tuple[str, ...], Kernel] = {}
        self._lock = threading.Lock()
        self.compile_ms = 0.0
        # every column possibly null: the pattern that visits the most of every expression
        self._variant(tuple("M" for _ in self._used))
        self._current = tuple("M" if self.input_attrs[s].nullable else "N" for s in self._used)
        self._variant(self._current)

    def _slot(self, attr: AttributeReference) -> int:
        slot = self._slot_of.get(attr.expr_id)
        if slot is None:
            raise ValueError(f"{attr} is not among the {self._noun}'s input columns "
                             f"{[str(a) for a in self.input_attrs]}")
        return slot

    @property
    def dictionary_columns(self) -> frozenset[str]:
        """Column keys of the string columns the kernels take dictionary-encoded (none here: a
        compiled aggregate grouping by strings overrides it)."""
        return frozenset()

    @property
    def source(self) -> str:
        """The generated source of the current kernel (what ``explain("codegen")`` shows)."""
        return self._variant(self._current).source

    @property
    def fingerprint(self) -> str:
        """sha256 of ``source``: the kernel's name in the kernel cache."""
        return fingerprint(self.source)

    @property
    def kernel(self) -> Kernel | None:
        """The compiled kernel behind ``source``, once a run or ``precompile`` has loaded it."""
        return self._kernels.get(self._current)

    def _variant(self, pattern: tuple[str, ...]):
        variant = self._variants.get(pattern)
        if variant is None:
            variant = self._variants[pattern] = self._generate_variant(pattern)
        return variant

    def _generate_variant(self, pattern: tuple[str, ...]):
        raise NotImplementedError

    def _kernel(self, variant) -> Kernel:
        kernel = self._kernels.get(variant.pattern)
        if kernel is None:
            with self._lock:
                kernel = self._kernels.get(variant.pattern)
                if kernel is None:
                    started = time.perf_counter()
                    kernel = load_kernel(variant.source)
                    self.compile_ms += (time.perf_counter() - started) * 1000.0
                    self._kernels[variant.pattern] = kernel
        return kernel


class CompiledPipeline(KernelFamily):
    """A filter + project pipeline compiled to numba kernels; see :func:`compile_pipeline`.

    ``run`` picks (or compiles, once per process) the kernel of the batch's null pattern.
    ``source`` and ``fingerprint`` describe the kernel used last, or before any run the kernel for
    the columns' declared nullability; ``compile_ms`` is the time this pipeline spent obtaining
    kernels (numba compiles, loads from the disk cache; close to 0 when memoized in the process).
    """

    _noun = "pipeline"

    def __init__(self, input_attrs: tuple[AttributeReference, ...], condition: Expression | None,
                 outputs: tuple[Expression, ...]):
        self.input_attrs = input_attrs
        self.condition = condition
        self.outputs = outputs
        self._slot_of = {a.expr_id: j for j, a in enumerate(input_attrs)}
        self._plan: list[tuple[str, int]] = []      # ("column", slot) or ("computed", index)
        computed: list[Expression] = []
        for out in outputs:
            if isinstance(out, AttributeReference) and not (condition is not None and type(out.data_type) in _GATHERED):
                self._plan.append(("column", self._slot(out)))
            else:
                self._plan.append(("computed", len(computed)))
                computed.append(out)
        self._computed = tuple(computed)
        referenced = set()
        for e in ([condition] if condition is not None else []) + computed:
            referenced |= {self._slot(a) for a in e.references}
        self._used = tuple(sorted(referenced))
        self.last_count = 0     # rows kept by the latest run on any thread; see run_counted
        self._init_variants()

    # -- introspection ------------------------------------------------------------------------

    def explain(self) -> str:
        """The source, preceded by which column and expression each generated name stands for."""
        lines = [f"# c{j} = {a}" for j, a in enumerate(self.input_attrs) if j in self._used]
        if self.condition is not None:
            lines.append(f"# keep rows where {self.condition}")
        for kind, index in self._plan:
            if kind == "computed":
                lines.append(f"# o{index} = {self._computed[index]}")
        passed = [str(self.input_attrs[index]) for kind, index in self._plan if kind == "column"]
        if passed:
            lines.append(f"# passed through by pyarrow: {', '.join(passed)}")
        return "\n".join(lines) + "\n" + self.source

    # -- compiling ----------------------------------------------------------------------------

    def _generate_variant(self, pattern: tuple[str, ...]) -> _Variant:
        return _generate(self.input_attrs, self._used, self.condition, self._computed, pattern)

    def precompile(self) -> Kernel | None:
        """Compile (or load) the kernel of the declared nullability now instead of at the first run."""
        variant = self._variant(self._current)
        return self._kernel(variant) if variant.has_kernel else None

    # -- running ------------------------------------------------------------------------------

    def run(self, table: Batch) -> list[pa.Array | pa.ChunkedArray]:
        """One Arrow array per output expression, for the rows where the condition is true (a
        column passed through from a table of several chunks stays chunked)."""
        return self.run_counted(table)[0]

    def run_counted(self, table: Batch) -> tuple[list[pa.Array | pa.ChunkedArray], int]:
        """``run``, and how many rows were kept (the only result when there are no outputs).

        A table of several chunks (a task's Parquet row groups) runs chunk by chunk into one
        selection and one set of output arrays, with the kernel of the whole table's null pattern:
        no column is copied into one contiguous array first, and a column passed through whole
        stays chunked."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        n = table.num_rows

        def column(slot: int) -> pa.Array | pa.ChunkedArray:
            col = _batch_column(table, self.input_attrs[slot])
            return col.chunk(0) if col.num_chunks == 1 else col

        if n == 0:
            self.last_count = 0
            return [_column(table, self.input_attrs[index]) if kind == "column"
                    else pa.array([], type=self._computed[index].data_type.to_arrow())
                    for kind, index in self._plan], 0

        pattern = tuple(_null_state(column(slot)) for slot in self._used)
        variant = self._variant(pattern)
        self._current = pattern
        k, selection, computed = n, None, []
        if variant.has_kernel:
            kernel = self._kernel(variant)
            if variant.has_selection:
                selection = native.empty(n, np.int64)
            for j, e in enumerate(self._computed):
                if isinstance(e.data_type, NullType):
                    computed.append(None)
                    continue
                values = native.empty(n, _PHYSICAL[type(e.data_type)].numpy)
                computed.append((values, native.empty(n, np.bool_) if variant.out_nullable[j] else None))
            k = start = 0
            for chunk in _chunks(table):
                args: list = [chunk.num_rows]
                for slot, state in variant.columns:
                    arr = _column(chunk, self.input_attrs[slot])
                    args.append(_column_values(arr, self.input_attrs[slot]))
                    if state == "M":
                        args.append(_column_validity(arr))
                if selection is not None:
                    args.append(selection[k:])
                for out in computed:
                    if out is not None:
                        args += [a[k:] for a in out if a is not None]
                kept = int(kernel.func(*args))
                if selection is not None and start:
                    selection[k:k + kept] += start
                k, start = k + kept, start + chunk.num_rows

        selected = selection is not None and k < n
        result = []
        for kind, index in self._plan:
            if kind == "column":
                arr = column(index)
                result.append(_take_selected(arr, selection[:k]) if selected else arr)
                continue
            e = self._computed[index]
            if computed[index] is None:
                result.append(pa.nulls(k, type=e.data_type.to_arrow()))
            else:
                values, nulls = computed[index]
                result.append(_to_arrow(values, nulls, k, e.data_type.to_arrow()))
        self.last_count = k
        return result, k


def compile_pipeline(input_attrs: tuple[AttributeReference, ...], condition: Expression | None,
                     outputs: tuple[Expression, ...]) -> CompiledPipeline:
    """Compile ``WHERE condition`` + ``SELECT outputs`` over batches with columns ``input_attrs``.

    Raises :class:`CodegenUnsupported` naming the first expression that cannot compile. Kernels
    themselves compile lazily, on the first batch of each null pattern (``precompile`` forces it).

    >>> p = compile_pipeline((a, s), Comparison(">", a, Literal(1, LongType())),
    ...                      (s, Arithmetic("*", a, Literal(2, LongType()))))   # doctest: +SKIP
    >>> p.run(batch)                                                           # doctest: +SKIP
    [<pyarrow.StringArray ...>, <pyarrow.Int64Array ...>]
    """
    input_attrs = tuple(input_attrs)
    outputs = tuple(o.child if isinstance(o, Alias) else o for o in outputs)
    for e in ([condition] if condition is not None else []) + [o for o in outputs
                                                               if not isinstance(o, AttributeReference)]:
        for node in e.walk():
            if type(node) not in _EMITTERS:
                raise CodegenUnsupported(_unsupported_reason(node))
    if condition is not None and not isinstance(condition.data_type, (BooleanType, NullType)):
        raise ValueError(f"condition {condition} is {condition.data_type.simpleString()}, not boolean")
    return CompiledPipeline(input_attrs, condition, outputs)
