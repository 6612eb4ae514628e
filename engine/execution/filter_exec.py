"""FilterExec: keeps the rows whose condition is true (null counts as false)."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from engine.execution.evaluator import evaluate
from engine.execution.spark_plan import SparkPlan


@dataclass(eq=False)
class FilterExec(SparkPlan):
    condition: object
    child: SparkPlan

    @property
    def output(self):
        return self.child.output

    @property
    def supports_codegen(self) -> bool:
        return True

    @property
    def output_ordering(self):
        return self.child.output_ordering

    def execute_partition(self, index: int, ctx) -> pa.Table:
        table = self.child.execute_partition(index, ctx)
        out = filter_table(table, self.condition)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        return str(self.condition)


def filter_table(table: pa.Table, condition) -> pa.Table:
    mask = evaluate(condition, table)
    return table.filter(pc.fill_null(mask, False))
