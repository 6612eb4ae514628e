"""ColumnPruning: read, carry and compute only the columns some node above actually uses.

The rule walks down from the root with the set of column ids still required:

- ``FileScan`` narrows ``scan_output`` to those columns: unread columns are never decoded.
- ``Project`` and ``Aggregate`` drop the expressions nobody uses; a Project left repeating its
  child's output exactly is removed.
- ``Filter``, ``Sort``, ``Limit``, ``Deduplicate`` and ``Repartition`` need the required columns
  plus the ones their own expressions read; ``Distinct`` needs all of its child's.
- ``Join``, ``Aggregate`` and ``Union`` buffer, hash or shuffle what their children produce, so a
  child still carrying unused columns (an in-memory relation cannot be narrowed itself) gets a
  Project keeping only the needed ones. Union children are matched by position, so each child
  keeps exactly the needed positions, in order.
- Every node keeps at least one column, so ``count(*)`` still sees rows: Arrow batches carry their
  row count along with their columns.

Projects are never inserted directly under a Filter: predicate pushdown would move the Filter
below such a Project and the two rules would undo each other forever (Spark removes these
Projects again in ``ColumnPruning.removeProjectBeforeFilter`` for the same reason). The root's
output never changes: everything it produces is required.
"""
from __future__ import annotations

from dataclasses import replace

from engine.catalyst.logical import (
    Aggregate,
    Deduplicate,
    Distinct,
    FileScan,
    Filter,
    Join,
    Limit,
    LogicalPlan,
    Project,
    Repartition,
    Sort,
    Union,
)
from engine.optimizer.columns import column_ids


def prune_columns(plan: LogicalPlan) -> LogicalPlan:
    """The plan with every node producing only the columns used above it::

        Project [a#1]                                Project [a#1]
        +- Filter (b#2 > 1)                      ->  +- Filter (b#2 > 1)
           +- Relation [a#1, b#2, c#3] parquet          +- Relation [a#1, b#2] parquet
    """
    return _prune(plan, plan.output_set)


def _prune(plan: LogicalPlan, required: frozenset[int]) -> LogicalPlan:
    """``plan`` rewritten to produce at least the ``required`` columns it has, and as few others as it can."""
    required = _at_least_one(plan, required)
    match plan:
        case FileScan(scan_output=columns):
            kept = tuple(a for a in columns if a.attr_id in required)
            return _rebuilt(plan, scan_output=kept)
        case Project(project_list, child):
            kept = tuple(e for e in project_list if e.expr_id in required)
            new_child = _prune(child, column_ids(kept))
            if kept == new_child.output:
                return new_child
            return _rebuilt(plan, project_list=kept, child=new_child)
        case Aggregate(grouping, aggregates, child):
            kept = tuple(e for e in aggregates if e.expr_id in required)
            needed = column_ids(grouping + kept)
            return _rebuilt(plan, aggregate_expressions=kept, child=_narrowed(_prune(child, needed), needed))
        case Join(left, right, _, condition):
            needed = required | column_ids([condition] if condition is not None else [])
            return _rebuilt(
                plan,
                left=_narrowed(_prune(left, needed), needed),
                right=_narrowed(_prune(right, needed), needed),
            )
        case Union(children):
            positions = [i for i, a in enumerate(plan.output) if a.attr_id in required]
            return _rebuilt(plan, union_children=tuple(_prune_by_position(c, positions) for c in children))
        case Distinct(child):
            return _rebuilt(plan, child=_prune(child, child.output_set))
        case Filter(child=child) | Sort(child=child) | Limit(child=child) | Deduplicate(child=child) | Repartition(
            child=child
        ):
            return _rebuilt(plan, child=_prune(child, required | column_ids(plan.expressions)))
    # LocalRelation, Range and InMemoryRelation hold their data as it is; a parent narrows them
    return plan


def _at_least_one(plan: LogicalPlan, required: frozenset[int]) -> frozenset[int]:
    if plan.output and not (required & plan.output_set):
        return required | {plan.output[0].attr_id}
    return required


def _narrowed(child: LogicalPlan, needed: frozenset[int]) -> LogicalPlan:
    """``child``, under a Project keeping only the ``needed`` columns if it produces others."""
    needed = _at_least_one(child, needed)
    kept = tuple(a for a in child.output if a.attr_id in needed)
    return child if len(kept) == len(child.output) else Project(kept, child)


def _prune_by_position(child: LogicalPlan, positions: list[int]) -> LogicalPlan:
    wanted = tuple(child.output[i] for i in positions)
    pruned = _prune(child, frozenset(a.attr_id for a in wanted))
    return pruned if pruned.output == wanted else Project(wanted, pruned)


def _rebuilt(plan: LogicalPlan, **fields) -> LogicalPlan:
    """``plan`` with ``fields`` replaced, or ``plan`` itself when they equal its own."""
    if all(getattr(plan, name) is value or getattr(plan, name) == value for name, value in fields.items()):
        return plan
    return replace(plan, **fields)
