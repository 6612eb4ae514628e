"""``engine.sql.functions``: the PySpark functions, same names, same behaviour.

    >>> from engine.sql import functions as F
    >>> df.groupBy("k").agg(F.sum("v").alias("total"), F.countDistinct("u"))
"""
from __future__ import annotations

import functools

from engine.catalyst import expressions as E
from engine.sql.column import Column, name_or_column, to_expr
from engine.sql.types import DataType, StringType, parse_type


def _col(c) -> E.Expression:
    return name_or_column(c) if isinstance(c, str) else to_expr(c)


def col(name: str) -> Column:
    """The column called ``name``."""
    return Column(E.UnresolvedStar() if name == "*" else E.UnresolvedAttribute(name))


column = col


def lit(value) -> Column:
    """A literal value (a Column passes through)."""
    return value if isinstance(value, Column) else Column(E.Literal.of(value))


def expr(text: str) -> Column:
    """A SQL expression string, e.g. ``expr("price * qty AS total")``."""
    from engine.catalyst.parser import parse_expression

    return Column(parse_expression(text))


def when(condition: Column, value) -> Column:
    return Column(E.CaseWhen((to_expr(condition),), (to_expr(value),)))


def asc(c) -> Column:
    return Column(E.SortOrder(_col(c), True))


def desc(c) -> Column:
    return Column(E.SortOrder(_col(c), False))


# ---- aggregates ----
def _agg(name: str, c, distinct: bool = False) -> Column:
    return Column(E.AggregateFunction(name, _col(c), distinct))


def sum(c) -> Column:  # noqa: A001 - PySpark's name
    return _agg("sum", c)


def avg(c) -> Column:
    return _agg("avg", c)


mean = avg


def min(c) -> Column:  # noqa: A001
    return _agg("min", c)


def max(c) -> Column:  # noqa: A001
    return _agg("max", c)


def count(c) -> Column:
    """``count("*")`` counts rows; ``count(col)`` counts non-null values."""
    if isinstance(c, str) and c == "*":
        return Column(E.AggregateFunction("count", E.Literal.of(1)))
    return _agg("count", c)


def countDistinct(c, *cols) -> Column:  # noqa: N802
    if cols:
        raise NotImplementedError("countDistinct over several columns: count distinct of a concat or struct instead")
    return _agg("count", c, True)


count_distinct = countDistinct


def sumDistinct(c) -> Column:  # noqa: N802
    return _agg("sum", c, True)


# ---- scalar functions ----
def _fn(name: str, *args) -> Column:
    return Column(E.ScalarFunction(name, tuple(args)))


def year(c) -> Column:
    return _fn("year", _col(c))


def month(c) -> Column:
    return _fn("month", _col(c))


def dayofmonth(c) -> Column:
    return _fn("dayofmonth", _col(c))


def to_date(c, format: str | None = None) -> Column:  # noqa: A002 - PySpark's name
    args = (_col(c),) if format is None else (_col(c), E.Literal(format, StringType()))
    return _fn("to_date", *args)


def concat(*cols) -> Column:
    return _fn("concat", *(_col(c) for c in cols))


def upper(c) -> Column:
    return _fn("upper", _col(c))


def lower(c) -> Column:
    return _fn("lower", _col(c))


def length(c) -> Column:
    return _fn("length", _col(c))


def trim(c) -> Column:
    return _fn("trim", _col(c))


def substring(c, pos: int, len: int) -> Column:  # noqa: A002
    return _fn("substring", _col(c), E.Literal.of(pos), E.Literal.of(len))


def abs(c) -> Column:  # noqa: A001
    return _fn("abs", _col(c))


def sqrt(c) -> Column:
    return _fn("sqrt", _col(c))


def round(c, scale: int = 0) -> Column:  # noqa: A001
    return _fn("round", _col(c), E.Literal.of(scale))


def coalesce(*cols) -> Column:
    return _fn("coalesce", *(_col(c) for c in cols))


def isnull(c) -> Column:
    return Column(E.IsNull(_col(c)))


# ---- Python UDFs ----
def udf(f=None, returnType: DataType | str = StringType()):  # noqa: N803 - PySpark's name
    """A row-at-a-time Python function usable on Columns; also works as ``@udf(returnType=...)``.

    It runs once per row in Python, in a BatchEvalPython operator outside the compiled stages: the
    slow path Spark users know, kept visible in plans. ``None`` in and out is null.

        >>> @udf("long")
        ... def score(x):
        ...     return None if x is None else (x * 31 + 7) % 1000
        >>> df.select(score("id").alias("s"))
    """
    if f is None or isinstance(f, (str, DataType)):
        rtype = returnType if f is None else f
        return functools.partial(udf, returnType=rtype)
    return _user_defined_function(f, returnType, E.PythonEvalType.SQL_BATCHED_UDF)


def pandas_udf(f=None, returnType: DataType | str | None = None, functionType: int | None = None):  # noqa: N803
    """A vectorized Python function: pandas Series in, a pandas Series of the same length out.

    It runs once per Arrow batch (``spark.sql.execution.arrow.maxRecordsPerBatch`` rows) in an
    ArrowEvalPython operator, so it avoids the per-row cost of ``udf``. The return type is
    required, as a DDL string or a DataType; the forms are PySpark's::

        >>> @pandas_udf("long")
        ... def plus_one(s: pd.Series) -> pd.Series:
        ...     return s + 1
        >>> plus_one = pandas_udf(lambda s: s + 1, LongType())

    Only the scalar (Series to Series) form is supported; a null arrives as NaN or None, and a NaN
    or None returned becomes null.
    """
    if functionType not in (None, E.PythonEvalType.SQL_SCALAR_PANDAS_UDF):
        raise NotImplementedError(f"pandas_udf functionType {functionType}: only the scalar form "
                                  f"({E.PythonEvalType.SQL_SCALAR_PANDAS_UDF}, Series to Series) is supported")
    if f is None or isinstance(f, (str, DataType)):
        rtype = returnType if f is None else f
        if rtype is None:
            raise TypeError("pandas_udf needs a returnType, e.g. @pandas_udf(\"long\") or pandas_udf(f, LongType())")
        return functools.partial(pandas_udf, returnType=rtype)
    if returnType is None:
        raise TypeError(f"pandas_udf({getattr(f, '__name__', 'f')}) needs a returnType, "
                        "e.g. pandas_udf(f, \"double\") or pandas_udf(f, DoubleType())")
    return _user_defined_function(f, returnType, E.PythonEvalType.SQL_SCALAR_PANDAS_UDF)


def _user_defined_function(f, returnType, eval_type: int):  # noqa: N803
    """The callable ``udf`` and ``pandas_udf`` return: each call builds a PythonUDF expression."""
    return_type = parse_type(returnType)
    name = getattr(f, "__name__", "udf")

    @functools.wraps(f)
    def call(*cols) -> Column:
        if eval_type == E.PythonEvalType.SQL_SCALAR_PANDAS_UDF and not cols:
            raise TypeError(f"pandas_udf {name} needs at least one column argument")
        return Column(E.PythonUDF(name, f, return_type, tuple(_col(c) for c in cols), eval_type))

    call.func = f
    call.returnType = return_type
    call.evalType = eval_type
    return call
