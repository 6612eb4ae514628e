"""BooleanSimplification and PruneFilters: shorten conditions, and drop filters known in advance.

Every rewrite holds in SQL's three-valued logic, where a condition is true, false or null:

- ``true AND x -> x``, ``false AND x -> false``, ``true OR x -> true``, ``false OR x -> x``
  (``false AND null`` is false and ``true OR null`` is true, so these hold for null ``x`` too);
- ``NOT NOT x -> x``;
- ``NOT (a > b) -> a <= b`` (and the other orderings): both sides are null exactly when ``a`` or
  ``b`` is. Not for floating-point operands: the evaluator compares NaN as IEEE does, where
  ``NaN > 1`` and ``NaN <= 1`` are both false;
- ``x AND x -> x`` and ``x OR x -> x`` for deterministic ``x`` (two calls of a UDF may differ).

Then a ``Filter`` whose condition became ``true`` is removed, and one whose condition is ``false``
or null (no row can pass) becomes an empty ``LocalRelation`` with the same columns, which later
planning can see is empty.
"""
from __future__ import annotations

import functools

import pyarrow as pa

from engine.catalyst.expressions import (
    FALSE,
    TRUE,
    And,
    AttributeReference,
    Comparison,
    Expression,
    Literal,
    Not,
    Or,
)
from engine.catalyst.logical import DataHandle, Filter, LocalRelation, LogicalPlan

_NEGATED_ORDERING = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def simplify_booleans(plan: LogicalPlan) -> LogicalPlan:
    """Every node's conditions simplified; Filters on a constant condition removed or emptied::

        Filter ((a#1 > 1) AND true)          Filter (a#1 > 1)
        +- LocalRelation [a#1]           ->  +- LocalRelation [a#1]

        Filter false                     ->  LocalRelation [a#1]   (no rows)
        +- LocalRelation [a#1]
    """
    return plan.transform_up(_simplify_node)


def empty_relation(output: tuple[AttributeReference, ...]) -> LocalRelation:
    """A ``LocalRelation`` with no rows and columns ``output``.

    The same object for the same output: ``DataHandle`` compares by identity, and two
    optimizations of one plan must give equal plans.
    """
    return _empty_relation(tuple(output))


@functools.lru_cache(maxsize=256)
def _empty_relation(output: tuple[AttributeReference, ...]) -> LocalRelation:
    schema = pa.schema([pa.field(a.column_key, a.data_type.to_arrow()) for a in output])
    return LocalRelation(output, DataHandle(schema.empty_table()))


def _simplify_node(node: LogicalPlan) -> LogicalPlan:
    node = node.map_expressions(lambda e: e.transform_up(_simplify))
    match node:
        case Filter(Literal(value=True), child):
            return child
        case Filter(Literal(value=False | None)):
            return empty_relation(node.output)
    return node


def _simplify(e: Expression) -> Expression:
    match e:
        case And(left, right):
            if left == FALSE or right == FALSE:
                return FALSE
            if left == TRUE:
                return right
            if right == TRUE or (left == right and left.deterministic):
                return left
        case Or(left, right):
            if left == TRUE or right == TRUE:
                return TRUE
            if left == FALSE:
                return right
            if right == FALSE or (left == right and left.deterministic):
                return left
        case Not(Not(inner)):
            return inner
        case Not(Comparison(op, left, right)) if op in _NEGATED_ORDERING and not (
            _floating(left) or _floating(right)
        ):
            return Comparison(_NEGATED_ORDERING[op], left, right)
    return e


def _floating(e: Expression) -> bool:
    return pa.types.is_floating(e.data_type.to_arrow())
