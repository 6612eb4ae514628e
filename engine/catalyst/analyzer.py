"""Analysis: binds the names in an expression to a plan's output columns and coerces types.

The DataFrame API analyses each new node as it is built, against children that are already
resolved, so a wrong column name fails at the call that used it, as in PySpark::

    >>> df.select("amount2")
    AnalysisException: [UNRESOLVED_COLUMN] A column with name `amount2` cannot be resolved.
    Did you mean 'amount'? Available columns: [`id`, `amount`].
"""
from __future__ import annotations

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
    NamedExpression,
    Not,
    Or,
    ScalarFunction,
    SortOrder,
    UnresolvedAttribute,
    UnresolvedStar,
)
from engine.sql.errors import AnalysisException, unresolved_column
from engine.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    NullType,
    StringType,
    TimestampType,
    is_numeric,
    wider_numeric,
)


def resolve(expr: Expression, inputs: tuple[AttributeReference, ...]) -> Expression:
    """``expr`` with every column bound to one of ``inputs`` and Spark's implicit casts added."""

    def bind(e: Expression) -> Expression:
        if isinstance(e, UnresolvedAttribute):
            return lookup(e.name, inputs)
        if isinstance(e, AttributeReference):
            if not any(a.expr_id == e.expr_id for a in inputs):
                same_name = [a for a in inputs if a.name.lower() == e.name.lower()]
                if len(same_name) == 1:
                    return same_name[0]
                available = ", ".join(str(a) for a in inputs)
                raise AnalysisException(
                    f"[MISSING_ATTRIBUTES] Resolved attribute(s) {e} missing from {available}."
                )
            return next(a for a in inputs if a.expr_id == e.expr_id)
        if isinstance(e, UnresolvedStar):
            raise AnalysisException(f"[INVALID_USAGE_OF_STAR] `{e.sql()}` is only allowed in a select list.")
        return e

    return coerce(expr.transform_up(bind))


def lookup(name: str, inputs: tuple[AttributeReference, ...]) -> AttributeReference:
    """The input column called ``name`` (case-insensitive, as Spark's default), or a helpful error."""
    short = name.split(".")[-1] if "." in name and not any(a.name == name for a in inputs) else name
    matches = [a for a in inputs if a.name == short] or [a for a in inputs if a.name.lower() == short.lower()]
    unique = {a.expr_id: a for a in matches}
    if len(unique) == 1:
        return matches[0]
    if not unique:
        raise unresolved_column(name, [a.name for a in inputs])
    raise AnalysisException(
        f"[AMBIGUOUS_REFERENCE] Reference `{name}` is ambiguous, could be: "
        + ", ".join(str(a) for a in unique.values())
        + "."
    )


def expand_star(exprs, inputs: tuple[AttributeReference, ...]) -> list[Expression]:
    out: list[Expression] = []
    for e in exprs:
        if isinstance(e, UnresolvedStar):
            out.extend(inputs)
        else:
            out.append(e)
    return out


def named(e: Expression) -> NamedExpression:
    """A select-list entry with a name: unaliased expressions are named by their SQL text."""
    return e if isinstance(e, NamedExpression) else Alias(e, e.sql())


def resolve_named(exprs, inputs) -> tuple[NamedExpression, ...]:
    return tuple(named(resolve(e, inputs)) for e in expand_star(exprs, inputs))


def check_boolean(e: Expression, what: str) -> Expression:
    if not isinstance(e.data_type, (BooleanType, NullType)):
        raise AnalysisException(
            f"[DATATYPE_MISMATCH] {what} must be a boolean, but `{e.sql()}` is {e.data_type.simpleString()}."
        )
    return e


def check_aggregate(grouping: tuple[Expression, ...], aggregates: tuple[Expression, ...]) -> None:
    """Every column an aggregate list uses outside an aggregate function must be grouped by."""
    grouped = set(grouping)

    def check(e: Expression) -> None:
        if e in grouped or isinstance(e, AggregateFunction):
            return
        if isinstance(e, AttributeReference):
            raise AnalysisException(
                f"[MISSING_AGGREGATION] The non-aggregating expression `{e.name}` is based on columns "
                "which are not participating in the GROUP BY clause. Add it to the GROUP BY, or wrap "
                "it in an aggregate function such as first() or any_value()."
            )
        for c in e.children:
            check(c)

    for a in aggregates:
        check(a.child if isinstance(a, Alias) else a)
    for a in aggregates:
        for n in a.walk():
            if isinstance(n, AggregateFunction):
                for inner in n.child.walk():
                    if isinstance(inner, AggregateFunction):
                        raise AnalysisException(
                            f"[NESTED_AGGREGATE_FUNCTION] It is not allowed to use an aggregate function "
                            f"in the argument of another aggregate function: `{n.sql()}`."
                        )


# ---------------------------------------------------------------------------------------------
# type coercion (Spark's TypeCoercion rules, the common cases)


def _cast(e: Expression, to: DataType) -> Expression:
    return e if e.data_type == to else Cast(e, to)


def _coerce_pair(left: Expression, right: Expression) -> tuple[Expression, Expression]:
    lt, rt = left.data_type, right.data_type
    if lt == rt:
        return left, right
    if isinstance(lt, NullType):
        return _cast(left, rt), right
    if isinstance(rt, NullType):
        return left, _cast(right, lt)
    if is_numeric(lt) and is_numeric(rt):
        wide = wider_numeric(lt, rt)
        return _cast(left, wide), _cast(right, wide)
    for a, b, swap in ((lt, rt, False), (rt, lt, True)):
        if isinstance(a, (DateType, TimestampType)) and isinstance(b, StringType):
            return (_cast(left, rt), right) if swap else (left, _cast(right, lt))
        if isinstance(a, TimestampType) and isinstance(b, DateType):
            return (_cast(left, rt), right) if not swap else (left, _cast(right, lt))
        if is_numeric(a) and isinstance(b, (StringType, BooleanType)):
            target = DoubleType() if isinstance(b, StringType) else a
            return (_cast(left, target), _cast(right, target))
    raise AnalysisException(
        f"[DATATYPE_MISMATCH] Cannot compare or combine `{left.sql()}` ({lt.simpleString()}) "
        f"with `{right.sql()}` ({rt.simpleString()})."
    )


def _coerce_node(e: Expression) -> Expression:
    if isinstance(e, Arithmetic):
        left, right = e.left, e.right
        if isinstance(left.data_type, StringType):
            left = Cast(left, DoubleType())
        if isinstance(right.data_type, StringType):
            right = Cast(right, DoubleType())
        for side in (left, right):
            if not (is_numeric(side.data_type) or isinstance(side.data_type, NullType)):
                raise AnalysisException(
                    f"[DATATYPE_MISMATCH] `{e.sql()}`: {e.op} needs numbers, but `{side.sql()}` is "
                    f"{side.data_type.simpleString()}."
                )
        left, right = _coerce_pair(left, right)
        return e if (left is e.left and right is e.right) else Arithmetic(e.op, left, right)
    if isinstance(e, Comparison):
        left, right = _coerce_pair(e.left, e.right)
        return e if (left is e.left and right is e.right) else Comparison(e.op, left, right)
    if isinstance(e, (And, Or)):
        check_boolean(e.left, f"The operand of {type(e).__name__.upper()}")
        check_boolean(e.right, f"The operand of {type(e).__name__.upper()}")
        return e
    if isinstance(e, Not):
        check_boolean(e.child, "The operand of NOT")
        return e
    if isinstance(e, In):
        items = tuple(_coerce_pair(e.value, i)[1] for i in e.items)
        value = e.value
        if items and any(i.data_type != value.data_type for i in items):
            value = _cast(value, items[0].data_type)
        return In(value, items) if items != e.items or value is not e.value else e
    if isinstance(e, CaseWhen):
        for c in e.conditions:
            check_boolean(c, "A CASE WHEN condition")
        return e
    if isinstance(e, AggregateFunction) and e.name in ("sum", "avg") and isinstance(e.child.data_type, StringType):
        return AggregateFunction(e.name, Cast(e.child, DoubleType()), e.distinct)
    if isinstance(e, ScalarFunction) and e.name in ("upper", "lower", "length", "trim", "substring"):
        first = e.args[0]
        if not isinstance(first.data_type, (StringType, NullType)):
            return ScalarFunction(e.name, (Cast(first, StringType()),) + e.args[1:])
    return e


def coerce(expr: Expression) -> Expression:
    return expr.transform_up(_coerce_node)


def resolve_sort_order(e: Expression, inputs) -> SortOrder:
    if isinstance(e, SortOrder):
        return SortOrder(resolve(e.child, inputs), e.ascending, e.nulls_first)
    return SortOrder(resolve(e, inputs))
