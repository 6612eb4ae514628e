"""ConstantFolding: compute once, while optimizing, what would otherwise be computed per row.

An expression is foldable when it depends on no column (``Literal`` leaves only, through
operators that are themselves constant-preserving). The largest foldable subtrees are evaluated
with the engine's own evaluator, so folding gives exactly the value execution would have given,
and replaced by a ``Literal`` of the expression's type. Names survive: ``(1 + 2) AS c#3`` becomes
``3 AS c#3``.
"""
from __future__ import annotations

from engine.catalyst.expressions import Expression, Literal
from engine.catalyst.logical import LogicalPlan
from engine.execution.evaluator import evaluate_scalar


def fold_constants(plan: LogicalPlan) -> LogicalPlan:
    """Every foldable, deterministic expression of every node, as a literal::

        Filter (a#1 > (10 * 2))              Filter (a#1 > 20)
        +- LocalRelation [a#1]           ->  +- LocalRelation [a#1]
    """
    return plan.transform_up(lambda node: node.map_expressions(_fold))


def _fold(expr: Expression) -> Expression:
    # top-down, so the largest foldable subtree is evaluated once rather than each of its parts
    return expr.transform_down(_fold_node)


def _fold_node(e: Expression) -> Expression:
    if isinstance(e, Literal) or not (e.foldable and e.deterministic):
        return e
    return Literal(evaluate_scalar(e), e.data_type)
