"""Expressions: immutable, hashable trees, unresolved as the user writes them, resolved by analysis.

Every node is a frozen dataclass. Children are the fields that hold an ``Expression`` or a tuple
of them, in declaration order, so traversal and rewriting are generic::

    >>> e = Arithmetic("+", UnresolvedAttribute("a"), Literal(1, LongType()))
    >>> e.sql()
    '(a + 1)'

Resolved columns are ``AttributeReference`` nodes carrying an ``expr_id`` (Spark's ``a#12``); two
columns with the same name from two sides of a join stay distinct by id.
"""
from __future__ import annotations

import datetime as _dt
import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from engine.catalyst.tree import TreeNode
from engine.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    NullType,
    StringType,
    TimestampType,
    is_integral,
    wider_numeric,
)

_expr_ids = itertools.count(1)


def new_expr_id() -> int:
    """A fresh id for a named expression (Spark's ``NamedExpression.newExprId``)."""
    return next(_expr_ids)


class UnresolvedException(Exception):
    """Asked a type or nullability of an expression before analysis resolved it."""


@dataclass(frozen=True, slots=True)
class Expression(TreeNode):
    """Base of all expressions."""

    @classmethod
    def tree_base(cls) -> type:
        return Expression

    @property
    def references(self) -> frozenset[AttributeReference]:
        return frozenset(e for e in self.walk() if isinstance(e, AttributeReference))

    @property
    def resolved(self) -> bool:
        return all(c.resolved for c in self.children)

    @property
    def foldable(self) -> bool:
        return False

    @property
    def deterministic(self) -> bool:
        return all(c.deterministic for c in self.children)

    @property
    def data_type(self) -> DataType:
        raise NotImplementedError(type(self).__name__)

    @property
    def nullable(self) -> bool:
        return any(c.nullable for c in self.children)

    def render(self, ids: bool) -> str:
        raise NotImplementedError(type(self).__name__)

    def sql(self) -> str:
        """The text Spark shows for this expression and uses as its column name when unaliased."""
        return self.render(False)

    def __str__(self) -> str:
        return self.render(True)


# ---------------------------------------------------------------------------------------------
# leaves


@dataclass(frozen=True, slots=True)
class UnresolvedAttribute(Expression):
    """A column named by the user, not yet bound to a plan's output (``'a`` in Spark's plans)."""

    name: str

    @property
    def resolved(self) -> bool:
        return False

    @property
    def data_type(self) -> DataType:
        raise UnresolvedException(self.name)

    @property
    def nullable(self) -> bool:
        raise UnresolvedException(self.name)

    def render(self, ids: bool) -> str:
        return ("'" if ids else "") + self.name


@dataclass(frozen=True, slots=True)
class UnresolvedStar(Expression):
    """``*`` or ``t.*`` in a select list; expanded by analysis."""

    target: str | None = None

    @property
    def resolved(self) -> bool:
        return False

    def render(self, ids: bool) -> str:
        return f"{self.target}.*" if self.target else "*"


@dataclass(frozen=True, slots=True)
class NamedExpression(Expression):
    """An expression with a name and an id: a column of some plan's output."""

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def expr_id(self) -> int:
        raise NotImplementedError

    def to_attribute(self) -> AttributeReference:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class AttributeReference(NamedExpression):
    """A resolved column: name, type, nullability and the id that identifies it across the plan."""

    attr_name: str
    attr_type: DataType
    attr_nullable: bool = True
    attr_id: int = field(default_factory=new_expr_id)

    @property
    def name(self) -> str:
        return self.attr_name

    @property
    def expr_id(self) -> int:
        return self.attr_id

    @property
    def data_type(self) -> DataType:
        return self.attr_type

    @property
    def nullable(self) -> bool:
        return self.attr_nullable

    def to_attribute(self) -> AttributeReference:
        return self

    def with_nullability(self, nullable: bool) -> AttributeReference:
        return self if nullable == self.attr_nullable else replace(self, attr_nullable=nullable)

    def with_name(self, name: str) -> AttributeReference:
        return replace(self, attr_name=name)

    def new_instance(self) -> AttributeReference:
        return replace(self, attr_id=new_expr_id())

    @property
    def column_key(self) -> str:
        """The name of this column inside Ember's Arrow batches: unique per id, never ambiguous."""
        return f"_{self.attr_id}"

    def render(self, ids: bool) -> str:
        return f"{self.attr_name}#{self.attr_id}" if ids else self.attr_name


@dataclass(frozen=True, slots=True)
class Alias(NamedExpression):
    child: Expression
    alias_name: str
    alias_id: int = field(default_factory=new_expr_id)

    @property
    def name(self) -> str:
        return self.alias_name

    @property
    def expr_id(self) -> int:
        return self.alias_id

    @property
    def data_type(self) -> DataType:
        return self.child.data_type

    @property
    def nullable(self) -> bool:
        return self.child.nullable

    def to_attribute(self) -> AttributeReference:
        return AttributeReference(self.alias_name, self.child.data_type, self.child.nullable, self.alias_id)

    def render(self, ids: bool) -> str:
        return f"{self.child.render(ids)} AS {self.alias_name}" + (f"#{self.alias_id}" if ids else "")


@dataclass(frozen=True, slots=True)
class Literal(Expression):
    value: Any
    literal_type: DataType

    @staticmethod
    def of(value: Any) -> Literal:
        """A literal with the type Spark infers for a Python value."""
        if value is None:
            return Literal(None, NullType())
        if isinstance(value, bool):
            return Literal(value, BooleanType())
        if isinstance(value, int):
            return Literal(value, IntegerType() if -(2**31) <= value < 2**31 else LongType())
        if isinstance(value, float):
            return Literal(value, DoubleType())
        if isinstance(value, str):
            return Literal(value, StringType())
        if isinstance(value, _dt.datetime):
            return Literal(value, TimestampType())
        if isinstance(value, _dt.date):
            return Literal(value, DateType())
        raise TypeError(f"unsupported literal {value!r} of type {type(value).__name__}")

    @property
    def data_type(self) -> DataType:
        return self.literal_type

    @property
    def nullable(self) -> bool:
        return self.value is None

    @property
    def foldable(self) -> bool:
        return True

    def render(self, ids: bool) -> str:
        if self.value is None:
            return "NULL"
        if isinstance(self.value, bool):
            return str(self.value).lower()
        if isinstance(self.value, _dt.datetime):
            return f"TIMESTAMP '{self.value}'" if ids else str(self.value)
        if isinstance(self.value, _dt.date):
            return f"DATE '{self.value}'" if ids else str(self.value)
        return str(self.value)


TRUE = Literal(True, BooleanType())
FALSE = Literal(False, BooleanType())


# ---------------------------------------------------------------------------------------------
# operators


@dataclass(frozen=True, slots=True)
class Foldable(Expression):
    """An expression that is constant when all its children are."""

    @property
    def foldable(self) -> bool:
        kids = self.children
        return bool(kids) and all(c.foldable for c in kids)


ARITHMETIC_OPS = ("+", "-", "*", "/", "%")


@dataclass(frozen=True, slots=True)
class Arithmetic(Foldable):
    """``+ - * / %``. ``/`` always yields double; division or modulo by zero yields null."""

    op: str
    left: Expression
    right: Expression

    def __post_init__(self):
        if self.op not in ARITHMETIC_OPS:
            raise ValueError(f"unknown arithmetic operator {self.op!r}")

    @property
    def data_type(self) -> DataType:
        if self.op == "/":
            return DoubleType()
        return wider_numeric(self.left.data_type, self.right.data_type)

    @property
    def nullable(self) -> bool:
        return self.op in ("/", "%") or self.left.nullable or self.right.nullable

    def render(self, ids: bool) -> str:
        return f"({self.left.render(ids)} {self.op} {self.right.render(ids)})"


@dataclass(frozen=True, slots=True)
class UnaryMinus(Foldable):
    child: Expression

    @property
    def data_type(self) -> DataType:
        return self.child.data_type

    def render(self, ids: bool) -> str:
        return f"(- {self.child.render(ids)})"


COMPARISON_OPS = ("=", "<", "<=", ">", ">=", "<=>")
FLIPPED_COMPARISON = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<=", "<=>": "<=>"}


@dataclass(frozen=True, slots=True)
class Comparison(Foldable):
    """``= < <= > >=`` with SQL's null semantics; ``<=>`` is null-safe equality."""

    op: str
    left: Expression
    right: Expression

    def __post_init__(self):
        if self.op not in COMPARISON_OPS:
            raise ValueError(f"unknown comparison operator {self.op!r}")

    @property
    def data_type(self) -> DataType:
        return BooleanType()

    @property
    def nullable(self) -> bool:
        return self.op != "<=>" and (self.left.nullable or self.right.nullable)

    def render(self, ids: bool) -> str:
        return f"({self.left.render(ids)} {self.op} {self.right.render(ids)})"


@dataclass(frozen=True, slots=True)
class And(Foldable):
    left: Expression
    right: Expression

    @property
    def data_type(self) -> DataType:
        return BooleanType()

    def render(self, ids: bool) -> str:
        return f"({self.left.render(ids)} AND {self.right.render(ids)})"


@dataclass(frozen=True, slots=True)
class Or(Foldable):
    left: Expression
    right: Expression

    @property
    def data_type(self) -> DataType:
        return BooleanType()

    def render(self, ids: bool) -> str:
        return f"({self.left.render(ids)} OR {self.right.render(ids)})"


@dataclass(frozen=True, slots=True)
class Not(Foldable):
    child: Expression

    @property
    def data_type(self) -> DataType:
        return BooleanType()

    def render(self, ids: bool) -> str:
        return f"(NOT {self.child.render(ids)})"


@dataclass(frozen=True, slots=True)
class IsNull(Foldable):
    child: Expression

    @property
    def data_type(self) -> DataType:
        return BooleanType()

    @property
    def nullable(self) -> bool:
        return False

    def render(self, ids: bool) -> str:
        return f"({self.child.render(ids)} IS NULL)"


@dataclass(frozen=True, slots=True)
class IsNotNull(Foldable):
    child: Expression

    @property
    def data_type(self) -> DataType:
        return BooleanType()

    @property
    def nullable(self) -> bool:
        return False

    def render(self, ids: bool) -> str:
        return f"({self.child.render(ids)} IS NOT NULL)" if not ids else f"isnotnull({self.child.render(ids)})"


@dataclass(frozen=True, slots=True)
class In(Foldable):
    """``value IN (items)``: true if equal to one, null if none equal and any side is null."""

    value: Expression
    items: tuple[Expression, ...]

    @property
    def data_type(self) -> DataType:
        return BooleanType()

    def render(self, ids: bool) -> str:
        return f"({self.value.render(ids)} IN ({', '.join(i.render(ids) for i in self.items)}))"


@dataclass(frozen=True, slots=True)
class CaseWhen(Foldable):
    """``CASE WHEN c1 THEN v1 ... ELSE e END``; a null condition counts as false."""

    conditions: tuple[Expression, ...]
    values: tuple[Expression, ...]
    else_value: Expression | None = None

    def __post_init__(self):
        if len(self.conditions) != len(self.values) or not self.conditions:
            raise ValueError("CASE WHEN needs one value per condition, and at least one")

    @property
    def data_type(self) -> DataType:
        branch_types = [v.data_type for v in self.values]
        if self.else_value is not None:
            branch_types.append(self.else_value.data_type)
        known = [t for t in branch_types if not isinstance(t, NullType)]
        if not known:
            return NullType()
        out = known[0]
        for t in known[1:]:
            if t != out:
                out = wider_numeric(out, t)
        return out

    @property
    def nullable(self) -> bool:
        return self.else_value is None or any(v.nullable for v in self.values) or self.else_value.nullable

    def render(self, ids: bool) -> str:
        parts = ["CASE"]
        for c, v in zip(self.conditions, self.values):
            parts.append(f"WHEN {c.render(ids)} THEN {v.render(ids)}")
        if self.else_value is not None:
            parts.append(f"ELSE {self.else_value.render(ids)}")
        parts.append("END")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Cast(Foldable):
    child: Expression
    to: DataType

    @property
    def data_type(self) -> DataType:
        return self.to

    @property
    def nullable(self) -> bool:
        # a string that does not parse becomes null
        return self.child.nullable or isinstance(self.child.data_type, StringType)

    def render(self, ids: bool) -> str:
        return f"CAST({self.child.render(ids)} AS {self.to.simpleString().upper()})"


# name -> (result type given argument types, nullable given argument nullabilities)
SCALAR_FUNCTIONS: dict[str, Callable[[list[DataType]], DataType]] = {
    "upper": lambda ts: StringType(),
    "lower": lambda ts: StringType(),
    "length": lambda ts: IntegerType(),
    "concat": lambda ts: StringType(),
    "year": lambda ts: IntegerType(),
    "month": lambda ts: IntegerType(),
    "dayofmonth": lambda ts: IntegerType(),
    "to_date": lambda ts: DateType(),
    "abs": lambda ts: ts[0],
    "coalesce": lambda ts: next((t for t in ts if not isinstance(t, NullType)), NullType()),
    "round": lambda ts: ts[0] if is_integral(ts[0]) else DoubleType(),
    "sqrt": lambda ts: DoubleType(),
    "substring": lambda ts: StringType(),
    "trim": lambda ts: StringType(),
}


@dataclass(frozen=True, slots=True)
class ScalarFunction(Foldable):
    """A built-in row function such as ``upper(s)`` or ``year(d)``; see ``SCALAR_FUNCTIONS``."""

    name: str
    args: tuple[Expression, ...]

    def __post_init__(self):
        if self.name not in SCALAR_FUNCTIONS:
            raise ValueError(f"unknown function {self.name!r}")

    @property
    def data_type(self) -> DataType:
        return SCALAR_FUNCTIONS[self.name]([a.data_type for a in self.args])

    @property
    def nullable(self) -> bool:
        if self.name == "coalesce":
            return all(a.nullable for a in self.args)
        return self.name == "to_date" or any(a.nullable for a in self.args)

    def render(self, ids: bool) -> str:
        return f"{self.name}({', '.join(a.render(ids) for a in self.args)})"


AGGREGATE_FUNCTIONS = ("sum", "avg", "count", "min", "max")


@dataclass(frozen=True, slots=True)
class AggregateFunction(Expression):
    """``sum avg count min max``, optionally over distinct values. ``count(*)`` is ``count(1)``."""

    name: str
    child: Expression
    distinct: bool = False

    def __post_init__(self):
        if self.name not in AGGREGATE_FUNCTIONS:
            raise ValueError(f"unknown aggregate function {self.name!r}")

    @property
    def data_type(self) -> DataType:
        if self.name == "count":
            return LongType()
        if self.name == "avg":
            return DoubleType()
        if self.name == "sum":
            return LongType() if is_integral(self.child.data_type) else DoubleType()
        return self.child.data_type

    @property
    def nullable(self) -> bool:
        return self.name != "count"

    def render(self, ids: bool) -> str:
        inner = ("DISTINCT " if self.distinct else "") + self.child.render(ids)
        return f"{self.name}({inner})"


@dataclass(frozen=True, slots=True)
class SortOrder(Expression):
    """A sort key; Spark's default puts nulls first when ascending and last when descending."""

    child: Expression
    ascending: bool = True
    nulls_first: bool | None = None

    @property
    def effective_nulls_first(self) -> bool:
        return self.ascending if self.nulls_first is None else self.nulls_first

    @property
    def data_type(self) -> DataType:
        return self.child.data_type

    def render(self, ids: bool) -> str:
        direction = "ASC" if self.ascending else "DESC"
        nulls = "NULLS FIRST" if self.effective_nulls_first else "NULLS LAST"
        return f"{self.child.render(ids)} {direction} {nulls}"


class PythonEvalType:
    """How a Python UDF is called, with Spark's numbers (``PythonEvalType`` in PySpark and Spark)."""

    SQL_BATCHED_UDF = 100          # ``udf``: one call per row, rows pickled to the worker
    SQL_SCALAR_PANDAS_UDF = 200    # ``pandas_udf``: one call per Arrow batch, as pandas Series


@dataclass(frozen=True, slots=True, eq=False)
class PythonUDF(Expression):
    """A Python function over columns (``functions.udf`` / ``pandas_udf``); never compiled.

    The planner takes every call out of its Project or Filter into an operator of its own below
    (BatchEvalPython or ArrowEvalPython, chosen by ``eval_type``), as Spark's ExtractPythonUDFs
    does. ``result_id`` is Spark's ``resultId``: it names the call in those operators' plans.
    """

    udf_name: str
    func: Callable
    return_type: DataType
    args: tuple[Expression, ...]
    eval_type: int = PythonEvalType.SQL_BATCHED_UDF
    result_id: int = field(default_factory=new_expr_id)

    def __eq__(self, other):
        return (isinstance(other, PythonUDF) and self.func is other.func and self.args == other.args
                and self.return_type == other.return_type and self.eval_type == other.eval_type)

    def __hash__(self):
        return hash((id(self.func), self.args))

    @property
    def data_type(self) -> DataType:
        return self.return_type

    @property
    def nullable(self) -> bool:
        return True

    @property
    def deterministic(self) -> bool:
        return False

    def render(self, ids: bool) -> str:
        return f"{self.udf_name}({', '.join(a.render(ids) for a in self.args)})"


# ---------------------------------------------------------------------------------------------
# helpers


def split_conjuncts(e: Expression) -> list[Expression]:
    """``a AND (b AND c)`` -> ``[a, b, c]``."""
    if isinstance(e, And):
        return split_conjuncts(e.left) + split_conjuncts(e.right)
    return [e]


def conjunction(parts: list[Expression]) -> Expression | None:
    """The AND of ``parts``, or None when there are none."""
    out: Expression | None = None
    for p in parts:
        out = p if out is None else And(out, p)
    return out


def contains_aggregate(e: Expression) -> bool:
    return any(isinstance(n, AggregateFunction) for n in e.walk())


def strip_alias(e: Expression) -> Expression:
    return e.child if isinstance(e, Alias) else e
