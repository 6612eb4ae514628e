"""OptimizeShuffleWithLocalRead: the stream side of a broadcast join reads map outputs where they are.

After ``join_selection`` turned a shuffled join into a broadcast join, the stream side's shuffle
has already run, but the join no longer needs its rows grouped by key. Reading "locally" gives each
task the blocks of one map output (split into ranges of reducers when there are fewer map outputs
than reduce partitions), instead of every map output's share of one reducer.
"""
from __future__ import annotations

from engine.adaptive.aqe_shuffle_read_exec import AQEShuffleReadExec
from engine.adaptive.partition_specs import PartialMapperPartitionSpec
from engine.adaptive.query_stage_exec import ShuffleQueryStageExec
from engine.adaptive.stage_fragments import keeps_partitioning_free, shuffle_stage_of, transform_up_outside_stages
from engine.execution.broadcast_hash_join_exec import BroadcastHashJoinExec
from engine.execution.spark_plan import SparkPlan


def local_read_specs(stage: ShuffleQueryStageExec) -> tuple[PartialMapperPartitionSpec, ...]:
    stats = stage.map_output_statistics
    num_maps, num_reducers = len(stats.bytes_by_map), stats.num_partitions
    per_map = max(1, num_reducers // max(num_maps, 1))
    bounds = [num_reducers * i // per_map for i in range(per_map + 1)]
    return tuple(PartialMapperPartitionSpec(m, a, b) for m in range(num_maps) for a, b in zip(bounds, bounds[1:]))


def optimize_shuffle_with_local_read(plan: SparkPlan, conf) -> SparkPlan:
    if not conf.get_bool("spark.sql.adaptive.localShuffleReader.enabled"):
        return plan

    def rule(node: SparkPlan) -> SparkPlan:
        if not isinstance(node, BroadcastHashJoinExec) or not keeps_partitioning_free(plan, node):
            return node
        stream = node.left if node.build_side == "right" else node.right
        stage = shuffle_stage_of(stream)
        if stage is None or isinstance(stream, AQEShuffleReadExec) and stream.is_local_read:
            return node
        specs = local_read_specs(stage)
        if not specs:
            return node
        local = AQEShuffleReadExec(stage, specs)
        return node.with_new_children((local, node.right) if node.build_side == "right" else (node.left, local))

    return transform_up_outside_stages(plan, rule)
