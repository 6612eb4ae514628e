"""Walking an adaptive plan within one stage: the query stages a stage reads and the safety check
that a rule changing how a join's inputs are partitioned does not break an operator above it."""
from __future__ import annotations

from engine.adaptive.aqe_shuffle_read_exec import AQEShuffleReadExec
from engine.adaptive.query_stage_exec import BroadcastQueryStageExec, ShuffleQueryStageExec
from engine.execution.partitioning import UnspecifiedDistribution
from engine.execution.spark_plan import SparkPlan

QUERY_STAGES = (ShuffleQueryStageExec, BroadcastQueryStageExec)


def shuffle_stage_of(node: SparkPlan) -> ShuffleQueryStageExec | None:
    """The materialized shuffle stage ``node`` reads, directly or through an AQEShuffleRead."""
    if isinstance(node, AQEShuffleReadExec):
        node = node.child
    if isinstance(node, ShuffleQueryStageExec) and node.is_materialized:
        return node
    return None


def stage_reads(fragment: SparkPlan) -> list[SparkPlan]:
    """The shuffle-stage leaves of one stage's operators (query stages or reads of them), left to
    right, not looking inside the stages or into a broadcast's input."""
    found: list[SparkPlan] = []

    def visit(node: SparkPlan) -> None:
        if isinstance(node, (AQEShuffleReadExec, ShuffleQueryStageExec)):
            found.append(node)
        elif not isinstance(node, BroadcastQueryStageExec) and not node.is_stage_boundary:
            for c in node.children:
                visit(c)

    visit(fragment)
    return found


def keeps_partitioning_free(root: SparkPlan, target: SparkPlan) -> bool:
    """Whether no operator between ``root`` and ``target`` (in the same stage) relies on how
    ``target``'s output is partitioned: only then may a rule re-split ``target``'s inputs
    (Spark checks the same by asking EnsureRequirements whether a new shuffle would appear)."""

    def path(node: SparkPlan) -> list[tuple[SparkPlan, int]] | None:
        if node is target:
            return []
        for i, c in enumerate(node.children):
            rest = path(c)
            if rest is not None:
                return [(node, i)] + rest
        return None

    steps = path(root) or []
    relied = False
    for node, i in steps:
        if node.is_stage_boundary or isinstance(node, QUERY_STAGES):
            relied = False  # an exchange re-partitions: what is below it is free again
            continue
        relied = relied or not isinstance(node.required_child_distribution[i], UnspecifiedDistribution)
    return not relied


def transform_up_outside_stages(plan: SparkPlan, rule) -> SparkPlan:
    """``rule`` applied bottom up to every node not inside a query stage: a stage's operators have
    run, and rebuilding them would lose the stage's shuffle output."""
    if isinstance(plan, QUERY_STAGES):
        return rule(plan)
    kids = plan.children
    new_kids = tuple(transform_up_outside_stages(c, rule) for c in kids)
    if any(a is not b for a, b in zip(new_kids, kids)):
        plan = plan.with_new_children(new_kids)
    return rule(plan)
