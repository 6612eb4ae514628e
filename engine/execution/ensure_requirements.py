"""EnsureRequirements: adds an Exchange wherever a child does not meet its parent's distribution.

It asks every operator what it requires of each child and what each child provides; it never
looks at operator types. Children that must be co-partitioned (several clustered requirements,
as a shuffled join has) are hashed on their keys, in order, into the same number of partitions.
"""
from __future__ import annotations

from engine.execution.broadcast_exchange_exec import BroadcastExchangeExec
from engine.execution.partitioning import (
    AllTuples,
    BroadcastDistribution,
    ClusteredDistribution,
    HashPartitioning,
    OrderedDistribution,
    RangePartitioning,
    SinglePartition,
)
from engine.execution.shuffle_exchange_exec import ShuffleExchangeExec
from engine.execution.spark_plan import SparkPlan


def ensure_requirements(plan: SparkPlan, shuffle_partitions: int) -> SparkPlan:
    def fix(node: SparkPlan) -> SparkPlan:
        children = list(node.children)
        required = node.required_child_distribution
        for i, (child, req) in enumerate(zip(children, required)):
            if isinstance(req, BroadcastDistribution):
                if not isinstance(child, BroadcastExchangeExec):
                    children[i] = BroadcastExchangeExec(child)
            elif not child.output_partitioning.satisfies(req):
                children[i] = _exchange(req, child, shuffle_partitions)
        clustered = [i for i, r in enumerate(required) if isinstance(r, ClusteredDistribution)]
        if len(clustered) > 1:
            _co_partition(children, required, clustered, shuffle_partitions)
        if any(a is not b for a, b in zip(children, node.children)):
            return node.with_new_children(tuple(children))
        return node

    return plan.transform_up(fix)


def _exchange(req, child: SparkPlan, n: int) -> SparkPlan:
    if isinstance(req, AllTuples):
        return ShuffleExchangeExec(SinglePartition(), child)
    if isinstance(req, ClusteredDistribution):
        return ShuffleExchangeExec(HashPartitioning(req.required_num_partitions or n, req.expressions), child)
    if isinstance(req, OrderedDistribution):
        return ShuffleExchangeExec(RangePartitioning(n, req.ordering), child)
    raise TypeError(f"no exchange for {req}")


def _co_partition(children, required, indices, n) -> None:
    def matches(i, num):
        p = children[i].output_partitioning
        return isinstance(p, HashPartitioning) and p.expressions == required[i].expressions and p.num_partitions == num

    first = children[indices[0]].output_partitioning
    if all(matches(i, first.num_partitions) for i in indices):
        return
    for i in indices:
        if not matches(i, n):
            child = children[i]
            if isinstance(child, ShuffleExchangeExec):
                child = child.child
            children[i] = ShuffleExchangeExec(HashPartitioning(n, required[i].expressions), child)
