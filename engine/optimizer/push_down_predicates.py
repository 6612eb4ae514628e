"""PushDownPredicates: move each Filter conjunct as close to the data as it can legally go.

A filter applied early means fewer rows through every projection, join, aggregation and shuffle
above it. The rule splits a condition into its ``AND``-ed conjuncts and moves each one alone.

Policy, node by node (Spark's PushPredicateThroughNonJoin and PushPredicateThroughJoin):

- Only the deterministic prefix of a condition moves. A non-deterministic conjunct (a Python UDF)
  must see exactly the rows it saw before, and so must every conjunct after it: pushing a later
  conjunct below it would change what it is evaluated on.
- ``Project``: the columns the project defines are replaced by their definitions. Never through a
  project that computes something non-deterministic: filtering first would change the rows it
  runs on.
- ``Join`` (the Filter above it): a conjunct on one side's columns moves into that side unless
  the join pads that side with nulls (the right of a left outer join, the left of a right outer
  join, both of a full outer join): above the join the conjunct also sees the padding rows and
  may reject them, below it cannot. For inner and cross joins a conjunct on both sides joins the
  join's own condition, where the physical planner can find equi-join keys in it.
- ``Join`` (its own ON condition): a conjunct on one side's columns only decides which rows match.
  It moves into a side whose rows are dropped when they fail it: both sides of inner, cross and
  left semi joins, the right of left outer and left anti joins, the left of right outer joins.
  (A left row that fails a left-only ON conjunct of a left outer join is still returned, padded.)
- ``Aggregate``: a conjunct on grouping columns only keeps or drops whole groups, so it can drop
  their rows before aggregating instead. Not for a global aggregate (no grouping), which returns
  one row even for no input, nor when an aggregate expression is non-deterministic.
- ``Sort`` and ``Repartition``: order and partitioning do not change which rows pass.
- ``Union``: into every child, the union's columns replaced by that child's at the same position.
- ``FileScan``: conjuncts the file source can check against statistics are copied into
  ``pushed_filters``: min / max / null counts rule out row groups, and partition values rule out
  whole files. The Filter stays: what remains must still be filtered row by row, as in Spark.
"""
from __future__ import annotations

from dataclasses import replace

from engine.catalyst.expressions import (
    FLIPPED_COMPARISON,
    And,
    AttributeReference,
    Comparison,
    Expression,
    In,
    IsNotNull,
    IsNull,
    Literal,
    Or,
    conjunction,
    contains_aggregate,
    split_conjuncts,
)
from engine.catalyst.logical import (
    Aggregate,
    FileScan,
    Filter,
    Join,
    LogicalPlan,
    Project,
    Repartition,
    Sort,
    Union,
)
from engine.optimizer.columns import column_ids, definitions, substitute

# Which side a conjunct of the Filter above a join may move into, by join type.
_WHERE_INTO_LEFT = frozenset({"inner", "cross", "left_outer", "left_semi", "left_anti"})
_WHERE_INTO_RIGHT = frozenset({"inner", "cross", "right_outer"})
_WHERE_INTO_CONDITION = frozenset({"inner", "cross"})
# Which side a conjunct of the join's own ON condition may move into, by join type.
_ON_INTO_LEFT = frozenset({"inner", "cross", "left_semi", "right_outer"})
_ON_INTO_RIGHT = frozenset({"inner", "cross", "left_semi", "left_outer", "left_anti"})


def push_down_predicates(plan: LogicalPlan) -> LogicalPlan:
    """Filter conjuncts moved below the nodes that do not change which rows they keep::

        Filter ((c#3 > 1) AND (x#4 = 2))           Project [a#1, (a#1 + b#2) AS c#3, x#4]
        +- Project [a#1, (a#1 + b#2) AS c#3, x#4]  ->  +- Join inner
           +- Join inner                                 :- Filter ((a#1 + b#2) > 1)
              :- LocalRelation [a#1, b#2]                :  +- LocalRelation [a#1, b#2]
              +- LocalRelation [x#4]                     +- Filter (x#4 = 2)
                                                            +- LocalRelation [x#4]
    """
    # top-down: a conjunct pushed below one node is visited again under it and keeps sinking
    return plan.transform_down(_push)


def _push(node: LogicalPlan) -> LogicalPlan:
    match node:
        case Filter(condition, child):
            movable, fixed = _movable(condition)
            return _push_filter(node, child, movable, fixed) if movable else node
        case Join(condition=condition) if condition is not None:
            return _push_join_condition(node)
    return node


def _movable(condition: Expression) -> tuple[list[Expression], list[Expression]]:
    """The conjuncts up to the first non-deterministic one, and the rest."""
    conjuncts = split_conjuncts(condition)
    for i, c in enumerate(conjuncts):
        if not c.deterministic:
            return conjuncts[:i], conjuncts[i:]
    return conjuncts, []


def _filtered(child: LogicalPlan, conjuncts: list[Expression]) -> LogicalPlan:
    return Filter(conjunction(conjuncts), child) if conjuncts else child


def _push_filter(f: Filter, child: LogicalPlan, movable: list[Expression], fixed: list[Expression]) -> LogicalPlan:
    match child:
        case Project(project_list, grandchild) if all(e.deterministic for e in project_list):
            defined = definitions(project_list)
            below = [substitute(c, defined) for c in movable]
            return _filtered(Project(project_list, _filtered(grandchild, below)), fixed)
        case Aggregate() if child.grouping_expressions and all(
            e.deterministic for e in child.aggregate_expressions
        ):
            return _through_aggregate(f, child, movable, fixed)
        case Sort(child=grandchild) | Repartition(child=grandchild):
            return _filtered(replace(child, child=_filtered(grandchild, movable)), fixed)
        case Union(children):
            columns = child.output
            rewritten = []
            for c in children:
                by_position = {u.attr_id: a for u, a in zip(columns, c.output)}
                rewritten.append(_filtered(c, [substitute(p, by_position) for p in movable]))
            return _filtered(Union(tuple(rewritten)), fixed)
        case Join():
            return _through_join(f, child, movable, fixed)
        case FileScan():
            return _into_scan(f, child, movable)
    return f


def _through_aggregate(f: Filter, agg: Aggregate, movable: list[Expression], fixed: list[Expression]) -> LogicalPlan:
    grouping_columns = column_ids(agg.grouping_expressions)
    # only definitions without an aggregate function can be evaluated on the rows below
    defined = definitions(e for e in agg.aggregate_expressions if not contains_aggregate(e))
    below, above = [], []
    for c in movable:
        rewritten = substitute(c, defined)
        if column_ids([rewritten]) <= grouping_columns:
            below.append(rewritten)
        else:
            above.append(c)
    if not below:
        return f
    return _filtered(replace(agg, child=_filtered(agg.child, below)), above + fixed)


def _through_join(f: Filter, join: Join, movable: list[Expression], fixed: list[Expression]) -> LogicalPlan:
    left_ids, right_ids, how = join.left.output_set, join.right.output_set, join.join_type
    to_left, to_right, to_condition, above = [], [], [], []
    for c in movable:
        columns = column_ids([c])
        if columns <= left_ids and how in _WHERE_INTO_LEFT:
            to_left.append(c)
        elif columns <= right_ids and how in _WHERE_INTO_RIGHT:
            to_right.append(c)
        elif how in _WHERE_INTO_CONDITION:
            to_condition.append(c)
        else:
            above.append(c)
    if not (to_left or to_right or to_condition):
        return f
    existing = [join.condition] if join.condition is not None else []
    moved = Join(
        _filtered(join.left, to_left), _filtered(join.right, to_right), how, conjunction(existing + to_condition)
    )
    return _filtered(moved, above + fixed)


def _push_join_condition(join: Join) -> LogicalPlan:
    movable, fixed = _movable(join.condition)
    left_ids, right_ids, how = join.left.output_set, join.right.output_set, join.join_type
    to_left, to_right, kept = [], [], []
    for c in movable:
        columns = column_ids([c])
        if columns <= left_ids and how in _ON_INTO_LEFT:
            to_left.append(c)
        elif columns <= right_ids and how in _ON_INTO_RIGHT:
            to_right.append(c)
        else:
            kept.append(c)
    if not (to_left or to_right):
        return join
    return Join(_filtered(join.left, to_left), _filtered(join.right, to_right), how, conjunction(kept + fixed))


def _into_scan(f: Filter, scan: FileScan, movable: list[Expression]) -> LogicalPlan:
    new: list[Expression] = []
    for c in movable:
        source = _source_filter(c)
        if source is not None and source not in scan.pushed_filters and source not in new:
            new.append(source)
    if not new:
        return f
    return Filter(f.condition, replace(scan, pushed_filters=scan.pushed_filters + tuple(new)))


def _source_filter(e: Expression) -> Expression | None:
    """``e`` as a predicate a file source can check against statistics, or None if it is not one.

    Spark's ``translateFilter``: a column compared with a literal (written column first, ``5 > b``
    as ``b < 5``), ``IS [NOT] NULL`` of a column, a column ``IN`` literals, and ``AND`` / ``OR`` of
    these. ``engine.datasources.pruning`` evaluates them against statistics.
    """
    match e:
        case Comparison(_, AttributeReference(), Literal()):
            return e
        case Comparison(op, Literal() as literal, AttributeReference() as column):
            return Comparison(FLIPPED_COMPARISON[op], column, literal)
        case IsNull(AttributeReference()) | IsNotNull(AttributeReference()):
            return e
        case In(AttributeReference(), items) if all(isinstance(i, Literal) for i in items):
            return e
        case And(left, right) | Or(left, right):
            left_source, right_source = _source_filter(left), _source_filter(right)
            if left_source is None or right_source is None:
                return None
            return replace(e, left=left_source, right=right_source)
    return None
