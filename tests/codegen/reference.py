"""Test data and a row-at-a-time reference evaluator with Spark's (non-ANSI) SQL semantics.

The reference is deliberately naive: Python ints wrapped to the SQL type's width, Python floats,
``datetime.date`` for dates, microseconds for timestamps, None for null. The compiled pipeline is
checked against it row by row.
"""
from __future__ import annotations

import datetime as dt
import math
import random

import pyarrow as pa

from engine.catalyst.expressions import (
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
    ScalarFunction,
    UnaryMinus,
)
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
)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
EPOCH = dt.date(1970, 1, 1)

# ---------------------------------------------------------------------------------------------
# columns


def attrs() -> dict[str, AttributeReference]:
    """The test schema. ``y`` is never null, ``z`` is always null."""
    return {
        "i": AttributeReference("i", IntegerType()),
        "k": AttributeReference("k", IntegerType()),
        "j": AttributeReference("j", LongType()),
        "x": AttributeReference("x", DoubleType()),
        "y": AttributeReference("y", DoubleType(), attr_nullable=False),
        "bo": AttributeReference("bo", BooleanType()),
        "d": AttributeReference("d", DateType()),
        "ts": AttributeReference("ts", TimestampType()),
        "s": AttributeReference("s", StringType()),
        "dec": AttributeReference("dec", DecimalType(10, 2)),
        "z": AttributeReference("z", LongType()),
    }


def _values(name: str, n: int, rng: random.Random, null_rate: float) -> list:
    def pick(special, draw):
        return [rng.choice(special) if rng.random() < 0.3 else draw() for _ in range(n)]

    if name == "i":
        vals = pick([INT_MIN, INT_MAX, 0, -1, 1, INT_MAX - 1], lambda: rng.randint(-1000, 1000))
    elif name == "k":
        vals = [rng.randint(-3, 3) for _ in range(n)]
    elif name == "j":
        vals = pick([LONG_MIN, LONG_MAX, 0, -1, 9223372036854, -9223372036855, 2**40],
                    lambda: rng.randint(-(10**12), 10**12))
    elif name == "x":
        vals = pick([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.5, -2.5, 1e300, -1e300, 3e9, 2.5e19, -2.5e19,
                     2147483647.9, -2147483648.5], lambda: rng.uniform(-1000, 1000))
    elif name == "y":
        vals = pick([0.0, -0.0, 2.0, 1e-300, -3.0], lambda: rng.uniform(-10, 10))
    elif name == "bo":
        vals = [rng.random() < 0.5 for _ in range(n)]
    elif name == "d":
        special = [dt.date(2000, 2, 29), dt.date(1900, 3, 1), dt.date(1600, 2, 29), dt.date(1969, 12, 31),
                   dt.date(1970, 1, 1), dt.date(2400, 12, 31)]
        vals = pick(special, lambda: EPOCH + dt.timedelta(days=rng.randint(-135000, 150000)))
    elif name == "ts":
        vals = pick([0, -1, 1, 10**6 - 1, -(10**6) - 1], lambda: rng.randint(-4 * 10**15, 4 * 10**15))
    elif name == "s":
        vals = pick(["", "a", "héllo", "日本語", "\U0001F642"], lambda: "".join(rng.choice("abcxyz") for _ in range(rng.randint(0, 9))))
    elif name == "dec":
        vals = [round(rng.uniform(-1000, 1000), 2) for _ in range(n)]
    elif name == "z":
        return [None] * n
    else:
        raise KeyError(name)
    nullable = name != "y"
    return [None if nullable and rng.random() < null_rate else v for v in vals]


def make_table(cols: dict[str, AttributeReference], n: int, seed: int, null_rate: float = 0.15) -> pa.Table:
    """A deterministic table over ``cols``, named by each attribute's ``column_key``."""
    rng = random.Random(seed)
    arrays = {}
    for name, attr in cols.items():
        values = _values(name, n, rng, null_rate)
        arrow_type = attr.data_type.to_arrow()
        arrays[attr.column_key] = pa.array(values, type=arrow_type)
    return pa.table(arrays)


def rows(table: pa.Table, cols: dict[str, AttributeReference]) -> list[dict[int, object]]:
    """The table as reference rows: expr_id -> value (timestamps as microseconds)."""
    columns = {}
    for attr in cols.values():
        col = table.column(attr.column_key)
        if isinstance(attr.data_type, TimestampType):
            col = col.cast(pa.int64())
        columns[attr.expr_id] = col.to_pylist()
    return [{k: v[r] for k, v in columns.items()} for r in range(table.num_rows)]


def arrow_values(arr: pa.Array, t: DataType) -> list:
    """An output array as reference values (timestamps as microseconds)."""
    if isinstance(t, TimestampType):
        arr = arr.cast(pa.int64())
    return arr.to_pylist()


def same(a, b) -> bool:
    """Equal as SQL results: null only equals null, NaN equals NaN."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


# ---------------------------------------------------------------------------------------------
# the evaluator


def wrap(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def _bits(t: DataType) -> int | None:
    return {IntegerType: 32, LongType: 64}.get(type(t))


def _is_float(t: DataType) -> bool:
    return isinstance(t, (DoubleType, DecimalType))


def _to_type(v, t: DataType):
    """Implicit widening to ``t`` (int -> bigint -> double)."""
    if v is None:
        return None
    if _is_float(t):
        return float(v)
    return v


def java_fmod(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or math.isinf(a):
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def java_rem(a: int, b: int) -> int:
    q = abs(a) % abs(b)
    return -q if a < 0 else q


def _order_key(v):
    """Spark's ordering of doubles: NaN above everything, NaN equal to NaN."""
    if isinstance(v, float) and math.isnan(v):
        return (1, 0.0)
    return (0, v)


def _compare(op: str, a, b) -> bool:
    ka, kb = _order_key(a), _order_key(b)
    return {"=": ka == kb, "<=>": ka == kb, "<": ka < kb, "<=": ka <= kb, ">": ka > kb, ">=": ka >= kb}[op]


def _common(a: DataType, b: DataType) -> DataType:
    if isinstance(a, NullType):
        return b
    if isinstance(b, NullType):
        return a
    if _is_float(a) or _is_float(b):
        return DoubleType()
    if _bits(a) and _bits(b):
        return LongType()
    return a


def _java_double_to_long(v: float, bits: int) -> int:
    if math.isnan(v):
        return 0
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if v >= hi:
        return hi
    if v <= lo:
        return lo
    return int(v)


def _cast(v, src: DataType, dst: DataType):
    if v is None or isinstance(src, NullType):
        return None
    if type(src) is type(dst):
        return v
    if isinstance(dst, BooleanType):
        return v != 0
    if isinstance(src, BooleanType):
        return float(int(v)) if _is_float(dst) else int(v)
    if isinstance(src, TimestampType):
        if _is_float(dst):
            return v / 1e6
        return wrap(v // 10**6, _bits(dst))
    if isinstance(dst, TimestampType):
        if _is_float(src):
            if math.isnan(v) or math.isinf(v):
                return None
            return _java_double_to_long(v * 1e6, 64)
        if v > LONG_MAX // 10**6:
            return LONG_MAX
        if v < -(LONG_MAX // 10**6):
            return LONG_MIN
        return v * 10**6
    if _is_float(dst):
        return float(v)
    if _is_float(src):
        return _java_double_to_long(v, _bits(dst))
    return wrap(v, _bits(dst))


def evaluate(e: Expression, row: dict[int, object]):
    """The value of ``e`` on one row, with SQL null semantics (None is null)."""
    if isinstance(e, Alias):
        return evaluate(e.child, row)
    if isinstance(e, Literal):
        v, t = e.value, e.literal_type
        if v is None:
            return None
        if isinstance(t, TimestampType):
            return (v - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
        return float(v) if _is_float(t) else v
    if isinstance(e, AttributeReference):
        return row[e.expr_id]
    if isinstance(e, Arithmetic):
        l, r = evaluate(e.left, row), evaluate(e.right, row)
        if l is None or r is None:
            return None
        t = e.data_type
        if e.op == "/":
            return None if float(r) == 0 else float(l) / float(r)
        if _is_float(t):
            l, r = float(l), float(r)
            if e.op == "%":
                return None if r == 0 else java_fmod(l, r)
            return {"+": l + r, "-": l - r, "*": l * r}[e.op]
        if e.op == "%":
            return None if r == 0 else wrap(java_rem(l, r), _bits(t))
        return wrap({"+": l + r, "-": l - r, "*": l * r}[e.op], _bits(t))
    if isinstance(e, UnaryMinus):
        v = evaluate(e.child, row)
        if v is None:
            return None
        return -v if _is_float(e.data_type) else wrap(-v, _bits(e.data_type))
    if isinstance(e, Comparison):
        l, r = evaluate(e.left, row), evaluate(e.right, row)
        t = _common(e.left.data_type, e.right.data_type)
        l, r = _to_type(l, t), _to_type(r, t)
        if e.op == "<=>":
            if l is None or r is None:
                return l is None and r is None
            return _compare("=", l, r)
        if l is None or r is None:
            return None
        return _compare(e.op, l, r)
    if isinstance(e, And):
        l, r = evaluate(e.left, row), evaluate(e.right, row)
        if l is False or r is False:
            return False
        return None if l is None or r is None else True
    if isinstance(e, Or):
        l, r = evaluate(e.left, row), evaluate(e.right, row)
        if l is True or r is True:
            return True
        return None if l is None or r is None else False
    if isinstance(e, Not):
        v = evaluate(e.child, row)
        return None if v is None else not v
    if isinstance(e, IsNull):
        return evaluate(e.child, row) is None
    if isinstance(e, IsNotNull):
        return evaluate(e.child, row) is not None
    if isinstance(e, In):
        v = evaluate(e.value, row)
        if v is None:
            return None
        t = e.value.data_type
        for item in e.items:
            t = _common(t, item.data_type)
        v = _to_type(v, t)
        saw_null = False
        for item in e.items:
            iv = _to_type(evaluate(item, row), t)
            if iv is None:
                saw_null = True
            elif _compare("=", v, iv):
                return True
        return None if saw_null else False
    if isinstance(e, CaseWhen):
        t = e.data_type
        for c, v in zip(e.conditions, e.values):
            if evaluate(c, row) is True:
                return _to_type(evaluate(v, row), t)
        return None if e.else_value is None else _to_type(evaluate(e.else_value, row), t)
    if isinstance(e, Cast):
        return _cast(evaluate(e.child, row), e.child.data_type, e.to)
    if isinstance(e, ScalarFunction):
        args = [evaluate(a, row) for a in e.args]
        if e.name == "coalesce":
            return next((_to_type(a, e.data_type) for a in args if a is not None), None)
        if args[0] is None:
            return None
        v = args[0]
        if e.name == "year":
            return v.year
        if e.name == "month":
            return v.month
        if e.name == "dayofmonth":
            return v.day
        if e.name == "abs":
            return abs(v) if _is_float(e.data_type) else wrap(abs(v), _bits(e.data_type))
        if e.name == "sqrt":
            v = float(v)
            return math.nan if math.isnan(v) or v < 0 else math.sqrt(v)
    raise NotImplementedError(f"reference cannot evaluate {e}")


def evaluate_output(e: Expression, row: dict[int, object]):
    """``evaluate`` converted to the output's type (dates stay dates, decimals become floats)."""
    v = evaluate(e, row)
    if v is None:
        return None
    t = e.data_type
    if _is_float(t):
        return float(v)
    if isinstance(t, BooleanType):
        return bool(v)
    return v

