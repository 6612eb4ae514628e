"""CoalesceExec: ``coalesce(n)`` merges neighbouring partitions without a shuffle."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.partitioning import UnknownPartitioning
from engine.execution.spark_plan import SparkPlan, empty_table


@dataclass(eq=False)
class CoalesceExec(SparkPlan):
    target: int
    child: SparkPlan

    @property
    def output(self):
        return self.child.output

    @property
    def output_partitioning(self):
        return UnknownPartitioning(min(self.target, self.child.num_partitions))

    def parent_partitions(self, index: int) -> range:
        n, m = self.child.num_partitions, self.num_partitions
        return range(index * n // m, (index + 1) * n // m)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        parts = [self.child.execute_partition(i, ctx) for i in self.parent_partitions(index)]
        return pa.concat_tables(parts) if parts else empty_table(self.output)

    def arguments(self) -> str:
        return str(self.target)
