"""CombineFilters: two stacked Filters become one, so the conjuncts are split and pushed once.

Only deterministic conditions combine. A non-deterministic condition (a Python UDF, say) runs on
exactly the rows that reach it; fusing it with the other filter would let the engine evaluate it
on rows the other condition rejects, or reorder it.
"""
from __future__ import annotations

from engine.catalyst.expressions import And, conjunction, split_conjuncts
from engine.catalyst.logical import Filter, LogicalPlan


def combine_filters(plan: LogicalPlan) -> LogicalPlan:
    """``Filter(outer, Filter(inner, x))`` as ``Filter(inner AND outer, x)``, dropping repeated conjuncts::

        Filter (b#2 < 5)                     Filter ((a#1 > 1) AND (b#2 < 5))
        +- Filter (a#1 > 1)              ->  +- LocalRelation [a#1, b#2]
           +- LocalRelation [a#1, b#2]
    """
    return plan.transform_up(_combine)


def _combine(node: LogicalPlan) -> LogicalPlan:
    match node:
        case Filter(outer, Filter(inner, grandchild)) if outer.deterministic and inner.deterministic:
            already = split_conjuncts(inner)
            extra = [c for c in split_conjuncts(outer) if c not in already]
            return Filter(And(inner, conjunction(extra)) if extra else inner, grandchild)
    return node
