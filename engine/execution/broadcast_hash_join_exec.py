"""BroadcastHashJoinExec: every task joins its stream partition with the whole small (build) side.

Chosen when one side's estimated size is under ``spark.sql.autoBroadcastJoinThreshold``: no
shuffle of the big side. The build side can only be the side whose unmatched rows are dropped.

The broadcast comes hashed into a ``HashedRelation`` over the build keys, built once per executor
by the broadcast (``BroadcastExchangeExec.execute_broadcast``), and every task probes that one
relation: building it per task would hash the small side once per partition.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.joins import join_tables
from engine.execution.partitioning import BroadcastDistribution, UnspecifiedDistribution
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class BroadcastHashJoinExec(SparkPlan):
    left_keys: tuple
    right_keys: tuple
    join_type: str
    build_side: str  # "left" | "right"
    condition: object
    join_output: tuple
    left: SparkPlan
    right: SparkPlan

    @property
    def output(self):
        return self.join_output

    @property
    def stream(self) -> SparkPlan:
        return self.left if self.build_side == "right" else self.right

    @property
    def output_partitioning(self):
        return self.stream.output_partitioning

    @property
    def required_child_distribution(self):
        if self.build_side == "right":
            return (UnspecifiedDistribution(), BroadcastDistribution())
        return (BroadcastDistribution(), UnspecifiedDistribution())

    def execute_partition(self, index: int, ctx) -> pa.Table:
        if self.build_side == "right":
            left = self.left.execute_partition(index, ctx)
            right, relation = self.right.execute_broadcast(ctx, self.right_keys)
        else:
            left, relation = self.left.execute_broadcast(ctx, self.left_keys)
            right = self.right.execute_partition(index, ctx)
        out = join_tables(left, right, self.left_keys, self.right_keys, self.join_type, self.condition,
                          self.build_side, relation)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        cond = f", {self.condition}" if self.condition is not None else ""
        return (f"{attrs_string(self.left_keys)}, {attrs_string(self.right_keys)}, "
                f"{self.join_type.replace('_', '').title().replace('outer', 'Outer')}, Build{self.build_side.title()}{cond}")
