"""LocalLimitExec takes the first n rows of each partition; GlobalLimitExec the first n overall."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.partitioning import AllTuples
from engine.execution.spark_plan import SparkPlan


@dataclass(eq=False)
class LocalLimitExec(SparkPlan):
    limit: int
    child: SparkPlan

    @property
    def output(self):
        return self.child.output

    @property
    def output_ordering(self):
        return self.child.output_ordering

    def execute_partition(self, index: int, ctx) -> pa.Table:
        return self.child.execute_partition(index, ctx).slice(0, self.limit)

    def arguments(self) -> str:
        return str(self.limit)


@dataclass(eq=False)
class GlobalLimitExec(SparkPlan):
    limit: int
    child: SparkPlan

    @property
    def output(self):
        return self.child.output

    @property
    def output_ordering(self):
        return self.child.output_ordering

    @property
    def required_child_distribution(self):
        return (AllTuples(),)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        out = self.child.execute_partition(index, ctx).slice(0, self.limit)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        return f"{self.limit}, 0"
