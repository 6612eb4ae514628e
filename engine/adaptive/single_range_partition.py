"""A global sort of a small, already shuffled input skips its sampling job (an Ember divergence).

A range exchange needs split points before its map tasks run, and Spark's ``RangePartitioner``
always finds them with a sampling job over the exchange's input. When adaptive execution has
already materialized that input, Ember knows its real size: if the stage reads only finished
shuffle stages, in a single (coalesced) partition, and at most
``spark.sql.adaptive.advisoryPartitionSizeInBytes`` in all, sampling can only split data that AQE
would coalesce back into one partition after the exchange. Ember then gives the exchange no split
points, so every row goes to range partition 0, and the sampling job (one job, its stage and its
tasks in the event log) does not run. The result is the same sorted rows; what differs from Spark's
log is the missing sampling job.

    before: ShuffleQueryStage 0 -> [sampling job over AQEShuffleRead coalesced] -> Exchange rangepartitioning
    after:  ShuffleQueryStage 0 -> Exchange rangepartitioning (all rows to partition 0)
"""
from __future__ import annotations

import pyarrow as pa

from engine.adaptive.aqe_shuffle_read_exec import AQEShuffleReadExec
from engine.adaptive.query_stage_exec import ShuffleQueryStageExec
from engine.adaptive.stage_fragments import shuffle_stage_of
from engine.execution.partitioning import RangePartitioning
from engine.execution.shuffle_exchange_exec import ShuffleExchangeExec, sample_bounds
from engine.execution.spark_plan import SparkPlan


def use_single_range_partition(exchange: ShuffleExchangeExec, conf) -> bool:
    """Give a range ``exchange`` over a small materialized input no split points (see the module
    docstring); True when it did, False when the exchange still needs its sampling job."""
    partitioning = exchange.partitioning
    if not isinstance(partitioning, RangePartitioning) or exchange.range_bounds is not None:
        return False
    fragment = exchange.child
    stages = _shuffle_stages_read(fragment)
    if not stages or fragment.num_partitions != 1:
        return False
    if sum(s.data_size for s in stages) > conf.get_bytes("spark.sql.adaptive.advisoryPartitionSizeInBytes"):
        return False
    key_type = partitioning.ordering[0].child.data_type.to_arrow()
    exchange.range_bounds = sample_bounds(pa.array([], key_type), partitioning.num_partitions)
    return True


def _shuffle_stages_read(fragment: SparkPlan) -> list[ShuffleQueryStageExec] | None:
    """The materialized shuffle stages the operators of one stage read, or None when any of its
    inputs is something else (a scan, a broadcast, a stage not run yet): its size is not known."""
    stages: list[ShuffleQueryStageExec] = []

    def visit(node: SparkPlan) -> bool:
        if isinstance(node, (AQEShuffleReadExec, ShuffleQueryStageExec)):
            stage = shuffle_stage_of(node)
            if stage is None:
                return False
            stages.append(stage)
            return True
        kids = node.children
        return bool(kids) and not node.is_stage_boundary and all(visit(c) for c in kids)

    return stages if visit(fragment) else None
