"""OptimizeSkewedJoin: a join partition far bigger than the others is split, and each slice is joined
with a copy of the other side's matching partition.

A side's partition is skewed when it is over ``spark.sql.adaptive.skewJoin.skewedPartitionFactor``
times that side's median partition AND over
``spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes``. It is split by map outputs into
slices near the target size (the advisory size, or the mean of the side's unskewed partitions if
larger). Only a side whose unmatched rows the join does not keep on the other side can be split:
the left of inner, left outer, semi and anti joins; the right of inner and right outer joins.
"""
from __future__ import annotations

from engine.adaptive.aqe_shuffle_read_exec import AQEShuffleReadExec
from engine.adaptive.partition_specs import CoalescedPartitionSpec
from engine.adaptive.shuffle_partitions_util import create_skew_partition_specs
from engine.adaptive.stage_fragments import keeps_partitioning_free, transform_up_outside_stages
from engine.adaptive.query_stage_exec import ShuffleQueryStageExec
from engine.execution.shuffled_hash_join_exec import ShuffledHashJoinExec
from engine.execution.spark_plan import SparkPlan

SPLITTABLE_LEFT = ("inner", "cross", "left_outer", "left_semi", "left_anti")
SPLITTABLE_RIGHT = ("inner", "cross", "right_outer")


def median_size(sizes) -> int:
    ordered = sorted(sizes)
    n = len(ordered)
    middle = (ordered[n // 2] + ordered[n // 2 - 1]) // 2 if n % 2 == 0 else ordered[n // 2]
    return max(middle, 1)


def optimize_skewed_join(plan: SparkPlan, conf) -> SparkPlan:
    if not conf.get_bool("spark.sql.adaptive.skewJoin.enabled"):
        return plan
    factor = float(conf.get("spark.sql.adaptive.skewJoin.skewedPartitionFactor"))
    threshold = conf.get_bytes("spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes")
    advisory = conf.get_bytes("spark.sql.adaptive.advisoryPartitionSizeInBytes")

    def split(join: ShuffledHashJoinExec) -> SparkPlan:
        left, right = join.left, join.right
        if not (isinstance(left, ShuffleQueryStageExec) and isinstance(right, ShuffleQueryStageExec)
                and left.is_materialized and right.is_materialized):
            return join
        left_sizes = left.map_output_statistics.bytes_by_partition_id
        right_sizes = right.map_output_statistics.bytes_by_partition_id
        if len(left_sizes) != len(right_sizes):
            return join
        left_skew = max(median_size(left_sizes) * factor, threshold)
        right_skew = max(median_size(right_sizes) * factor, threshold)
        left_target = _target(left_sizes, left_skew, advisory)
        right_target = _target(right_sizes, right_skew, advisory)
        left_specs, right_specs = [], []
        for i, (lsize, rsize) in enumerate(zip(left_sizes, right_sizes)):
            lparts = rparts = None
            if join.join_type in SPLITTABLE_LEFT and lsize > left_skew:
                lparts = create_skew_partition_specs(left.map_output_statistics, i, left_target)
            if join.join_type in SPLITTABLE_RIGHT and rsize > right_skew:
                rparts = create_skew_partition_specs(right.map_output_statistics, i, right_target)
            for lp in lparts or [CoalescedPartitionSpec(i, i + 1, lsize)]:
                for rp in rparts or [CoalescedPartitionSpec(i, i + 1, rsize)]:
                    left_specs.append(lp)
                    right_specs.append(rp)
        if len(left_specs) == len(left_sizes):
            return join
        return join.with_new_children((AQEShuffleReadExec(left, tuple(left_specs)),
                                       AQEShuffleReadExec(right, tuple(right_specs))))

    def rule(node: SparkPlan) -> SparkPlan:
        if isinstance(node, ShuffledHashJoinExec) and keeps_partitioning_free(plan, node):
            return split(node)
        return node

    return transform_up_outside_stages(plan, rule)


def _target(sizes, skew_threshold: float, advisory: int) -> int:
    unskewed = [s for s in sizes if s <= skew_threshold]
    return max(advisory, sum(unskewed) // len(unskewed)) if unskewed else advisory
