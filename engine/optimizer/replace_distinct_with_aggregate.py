"""ReplaceDistinctWithAggregate: ``Distinct`` is an ``Aggregate`` grouping by every column.

After this rule no other rule, and no physical operator, needs to know about ``Distinct``: it is
planned as a hash aggregate (partial, exchange, final) like any other grouping. ``Deduplicate``
(``dropDuplicates(keys)``) keeps the first whole row per key, which an aggregate cannot express,
so it stays and is executed directly.
"""
from __future__ import annotations

from engine.catalyst.logical import Aggregate, Distinct, LogicalPlan


def replace_distinct_with_aggregate(plan: LogicalPlan) -> LogicalPlan:
    """Every ``Distinct`` as an ``Aggregate`` with its child's columns as keys and as output::

        Distinct                         Aggregate [a#1, b#2], [a#1, b#2]
        +- LocalRelation [a#1, b#2]  ->  +- LocalRelation [a#1, b#2]
    """
    return plan.transform_up(_replace)


def _replace(node: LogicalPlan) -> LogicalPlan:
    if isinstance(node, Distinct):
        columns = node.child.output
        return Aggregate(columns, columns, node.child)
    return node
