"""TakeOrderedAndProjectExec: ``orderBy(...).limit(n)`` without sorting everything.

Each partition keeps its own top n (``partial``); one final task takes the top n of those.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.partitioning import AllTuples, UnspecifiedDistribution
from engine.execution.sort_exec import sort_table
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class TakeOrderedAndProjectExec(SparkPlan):
    limit: int
    order: tuple
    partial: bool
    child: SparkPlan

    @property
    def output(self):
        return self.child.output

    @property
    def output_ordering(self):
        return self.order

    @property
    def required_child_distribution(self):
        return (UnspecifiedDistribution(),) if self.partial else (AllTuples(),)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        table = self.child.execute_partition(index, ctx)
        out = sort_table(table, self.order).slice(0, self.limit)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        return f"(limit={self.limit}, orderBy={attrs_string(self.order)}, output={attrs_string(self.output)})"
