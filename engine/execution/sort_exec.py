"""SortExec: sorts each partition; after a range exchange that makes the whole output sorted.

Spark's default null order differs by direction (nulls first when ascending, last when
descending) and may differ per key, so each key sorts behind its own is-null flag.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from engine.execution.evaluator import evaluate
from engine.execution.partitioning import OrderedDistribution, UnspecifiedDistribution
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class SortExec(SparkPlan):
    order: tuple
    is_global: bool
    child: SparkPlan

    @property
    def output(self):
        return self.child.output

    @property
    def output_ordering(self):
        return self.order

    @property
    def required_child_distribution(self):
        return (OrderedDistribution(self.order),) if self.is_global else (UnspecifiedDistribution(),)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        table = self.child.execute_partition(index, ctx)
        ctx.observe_memory(table.nbytes)
        out = sort_table(table, self.order)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        return f"{attrs_string(self.order)}, {str(self.is_global).lower()}, 0"


def sort_indices(table: pa.Table, order) -> pa.Array:
    keys, columns = [], {}
    for i, o in enumerate(order):
        values = evaluate(o.child, table)
        if values.null_count:
            columns[f"n{i}"] = pc.is_null(values)
            keys.append((f"n{i}", "descending" if o.effective_nulls_first else "ascending"))
        columns[f"k{i}"] = values
        keys.append((f"k{i}", "ascending" if o.ascending else "descending"))
    if not columns:
        return pa.array(range(table.num_rows), pa.int64())
    return pc.sort_indices(pa.table(columns), sort_keys=keys)


def sort_table(table: pa.Table, order) -> pa.Table:
    if table.num_rows <= 1:
        return table
    return table.take(sort_indices(table, order))
