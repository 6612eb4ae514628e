"""JoinSelection again, on runtime sizes: a shuffled join whose side turned out small becomes a
broadcast hash join.

The planner chose a shuffled join from estimates; once a side's shuffle has run, its real size is
known. When it is at most ``spark.sql.adaptive.autoBroadcastJoinThreshold`` (which defaults to
``spark.sql.autoBroadcastJoinThreshold``; -1 turns this off) and the join type can build that side,
the side is broadcast from its finished shuffle and the other side is read without the join's
shuffle partitioning (``optimize_shuffle_with_local_read`` then reads it where it was written).
"""
from __future__ import annotations

from engine.adaptive.stage_fragments import keeps_partitioning_free, shuffle_stage_of, transform_up_outside_stages
from engine.execution.broadcast_exchange_exec import BroadcastExchangeExec
from engine.execution.broadcast_hash_join_exec import BroadcastHashJoinExec
from engine.execution.planner import BUILD_LEFT_JOINS, BUILD_RIGHT_JOINS
from engine.execution.shuffled_hash_join_exec import ShuffledHashJoinExec
from engine.execution.spark_plan import SparkPlan


def broadcast_threshold(conf) -> int:
    value = conf.get("spark.sql.adaptive.autoBroadcastJoinThreshold", None)
    return conf.get_bytes("spark.sql.autoBroadcastJoinThreshold") if value is None else conf.get_bytes(
        "spark.sql.adaptive.autoBroadcastJoinThreshold")


def join_selection(plan: SparkPlan, conf) -> SparkPlan:
    threshold = broadcast_threshold(conf)
    if threshold < 0:
        return plan

    def build_side(join: ShuffledHashJoinExec) -> str | None:
        sizes = {}
        for side, child, joins in (("right", join.right, BUILD_RIGHT_JOINS), ("left", join.left, BUILD_LEFT_JOINS)):
            stage = shuffle_stage_of(child)
            if stage is not None and join.join_type in joins and stage.data_size <= threshold:
                sizes[side] = stage.data_size
        return min(sizes, key=sizes.get) if sizes else None

    def rule(node: SparkPlan) -> SparkPlan:
        if not isinstance(node, ShuffledHashJoinExec) or not keeps_partitioning_free(plan, node):
            return node
        side = build_side(node)
        if side is None:
            return node
        left, right = node.left, node.right
        if side == "right":
            right = BroadcastExchangeExec(shuffle_stage_of(right))
        else:
            left = BroadcastExchangeExec(shuffle_stage_of(left))
        return BroadcastHashJoinExec(node.left_keys, node.right_keys, node.join_type, side, node.condition,
                                     node.join_output, left, right)

    return transform_up_outside_stages(plan, rule)
