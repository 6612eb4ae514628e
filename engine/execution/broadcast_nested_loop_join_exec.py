"""BroadcastNestedLoopJoinExec: joins without equality keys (cross joins, ``a < b`` conditions).

Every stream row meets every build row; only small inputs should get here. A full outer join
needs both sides whole, so it runs in a single partition.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.joins import join_tables
from engine.execution.partitioning import AllTuples, BroadcastDistribution, UnspecifiedDistribution
from engine.execution.spark_plan import SparkPlan


@dataclass(eq=False)
class BroadcastNestedLoopJoinExec(SparkPlan):
    join_type: str
    build_side: str
    condition: object
    join_output: tuple
    left: SparkPlan
    right: SparkPlan

    @property
    def output(self):
        return self.join_output

    @property
    def output_partitioning(self):
        return (self.left if self.build_side == "right" else self.right).output_partitioning

    @property
    def required_child_distribution(self):
        if self.join_type == "full_outer":
            return (AllTuples(), AllTuples())
        if self.build_side == "right":
            return (UnspecifiedDistribution(), BroadcastDistribution())
        return (BroadcastDistribution(), UnspecifiedDistribution())

    def execute_partition(self, index: int, ctx) -> pa.Table:
        if self.join_type == "full_outer":
            left, right = self.left.execute_partition(index, ctx), self.right.execute_partition(index, ctx)
        elif self.build_side == "right":
            left, right = self.left.execute_partition(index, ctx), self.right.execute_partition(0, ctx)
        else:
            left, right = self.left.execute_partition(0, ctx), self.right.execute_partition(index, ctx)
        out = join_tables(left, right, [], [], self.join_type, self.condition)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        cond = f", {self.condition}" if self.condition is not None else ""
        return f"Build{self.build_side.title()}, {self.join_type}{cond}"
