"""CoalesceShufflePartitions: neighbouring small reduce partitions are read by one task.

Applied to the operators of one stage before it runs. All shuffles the stage reads are coalesced
together, with the same groups (a join reads partition i of both sides in one task); the group
size aims at ``spark.sql.adaptive.advisoryPartitionSizeInBytes``. With
``spark.sql.adaptive.coalescePartitions.parallelismFirst`` (the default) the target is lowered so
that at least the default parallelism (or ``coalescePartitions.minPartitionNum``) of tasks remain,
but not under ``coalescePartitions.minPartitionSize``. A shuffle the user sized
(``repartition(n)``) is never coalesced, nor is a stage that reads one.
"""
from __future__ import annotations

from engine.adaptive.aqe_shuffle_read_exec import AQEShuffleReadExec
from engine.adaptive.query_stage_exec import ShuffleQueryStageExec
from engine.adaptive.shuffle_partitions_util import coalesce_partitions, target_size
from engine.adaptive.stage_fragments import stage_reads
from engine.execution.spark_plan import SparkPlan


def min_num_partitions(conf) -> int:
    if not conf.get_bool("spark.sql.adaptive.coalescePartitions.parallelismFirst"):
        return 1
    explicit = conf.get("spark.sql.adaptive.coalescePartitions.minPartitionNum", None)
    return int(explicit) if explicit is not None else int(conf.get("spark.default.parallelism"))


def coalesce_shuffle_partitions(fragment: SparkPlan, conf) -> SparkPlan:
    if not conf.get_bool("spark.sql.adaptive.coalescePartitions.enabled"):
        return fragment
    reads = stage_reads(fragment)
    stages = [r.child if isinstance(r, AQEShuffleReadExec) else r for r in reads]
    if not reads or not all(isinstance(s, ShuffleQueryStageExec) and s.is_materialized for s in stages):
        return fragment
    if not all(s.exchange.can_change_num_partitions for s in stages):
        return fragment
    if any(isinstance(r, AQEShuffleReadExec) and not r.has_skewed_partition for r in reads):
        return fragment  # already coalesced
    stats = [s.map_output_statistics for s in stages]
    target = target_size(stats, conf.get_bytes("spark.sql.adaptive.advisoryPartitionSizeInBytes"),
                         min_num_partitions(conf),
                         conf.get_bytes("spark.sql.adaptive.coalescePartitions.minPartitionSize"))
    input_specs = [r.partition_specs if isinstance(r, AQEShuffleReadExec) else None for r in reads]
    new_specs = coalesce_partitions(stats, input_specs, target)
    if not new_specs:
        return fragment
    replacement = {id(r): AQEShuffleReadExec(s, tuple(specs)) for r, s, specs in zip(reads, stages, new_specs)}

    def rule(node: SparkPlan) -> SparkPlan:
        return replacement.get(id(node), node)

    return _replace_reads(fragment, rule)


def _replace_reads(node: SparkPlan, rule) -> SparkPlan:
    """``rule`` applied to the reads of this stage, without descending into query stages."""
    replaced = rule(node)
    if replaced is not node or isinstance(node, (AQEShuffleReadExec, ShuffleQueryStageExec)):
        return replaced
    kids = node.children
    new_kids = tuple(_replace_reads(c, rule) for c in kids)
    return node.with_new_children(new_kids) if any(a is not b for a, b in zip(new_kids, kids)) else node
