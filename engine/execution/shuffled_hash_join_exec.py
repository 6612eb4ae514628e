"""ShuffledHashJoinExec: both sides hash-partitioned on the join keys, joined partition by partition.

Ember picks this over Spark's default SortMergeJoin for joins too big to broadcast: its
partitions are Arrow tables in memory, so a hash join is one vectorized pass with no sort of
either side (Spark prefers sort-merge because it can stream and spill; spilling joins come with
the memory manager).
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.joins import join_tables
from engine.execution.partitioning import ClusteredDistribution
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class ShuffledHashJoinExec(SparkPlan):
    left_keys: tuple
    right_keys: tuple
    join_type: str
    condition: object
    join_output: tuple
    left: SparkPlan
    right: SparkPlan

    @property
    def output(self):
        return self.join_output

    @property
    def output_partitioning(self):
        return (self.right if self.join_type == "right_outer" else self.left).output_partitioning

    @property
    def required_child_distribution(self):
        return (ClusteredDistribution(tuple(self.left_keys)), ClusteredDistribution(tuple(self.right_keys)))

    @property
    def co_partitioned_keys(self):
        """Both sides must be hashed on these keys, in this order, into the same number of partitions."""
        return (tuple(self.left_keys), tuple(self.right_keys))

    def execute_partition(self, index: int, ctx) -> pa.Table:
        left = self.left.execute_partition(index, ctx)
        right = self.right.execute_partition(index, ctx)
        ctx.observe_memory(right.nbytes)
        out = join_tables(left, right, self.left_keys, self.right_keys, self.join_type, self.condition)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        cond = f", {self.condition}" if self.condition is not None else ""
        return f"{attrs_string(self.left_keys)}, {attrs_string(self.right_keys)}, {self.join_type}, BuildRight{cond}"
