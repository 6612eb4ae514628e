"""CollapseProject: two adjacent Projects become one, the inner definitions written into the outer.

The outer list keeps its names and ids, so nothing above notices. The merge is refused when it
would copy a non-deterministic inner expression (a Python UDF) into more than one place: each copy
would be evaluated separately and could disagree, and the UDF would run more often.
"""
from __future__ import annotations

from collections import Counter

from engine.catalyst.expressions import Alias, AttributeReference, Expression
from engine.catalyst.logical import LogicalPlan, Project
from engine.optimizer.columns import definitions, substitute


def collapse_projects(plan: LogicalPlan) -> LogicalPlan:
    """``Project(outer, Project(inner, x))`` as one ``Project`` over ``x``::

        Project [(b#2 * 2) AS d#3]                Project [((a#1 + 1) * 2) AS d#3]
        +- Project [a#1, (a#1 + 1) AS b#2]    ->  +- LocalRelation [a#1]
           +- LocalRelation [a#1]
    """
    return plan.transform_up(_collapse)


def _collapse(node: LogicalPlan) -> LogicalPlan:
    match node:
        case Project(outer, Project(inner, grandchild)):
            defined = definitions(inner)
            if _copies_nondeterministic(outer, defined):
                return node
            return Project(tuple(_inline(e, defined) for e in outer), grandchild)
    return node


def _copies_nondeterministic(outer: tuple[Expression, ...], defined: dict[int, Expression]) -> bool:
    uses = Counter(
        a.attr_id
        for e in outer
        for a in e.walk()
        if isinstance(a, AttributeReference) and a.attr_id in defined
    )
    return any(n > 1 and not defined[attr_id].deterministic for attr_id, n in uses.items())


def _inline(e: Expression, defined: dict[int, Expression]) -> Expression:
    if isinstance(e, AttributeReference) and e.attr_id in defined:
        # the outer column keeps its name and id; only its definition moves up
        return Alias(defined[e.attr_id], e.attr_name, e.attr_id)
    if isinstance(e, Alias):
        return Alias(substitute(e.child, defined), e.alias_name, e.alias_id)
    return substitute(e, defined)
