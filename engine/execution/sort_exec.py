"""SortExec: sorts each partition; after a range exchange that makes the whole output sorted.

Spark's default null order differs by direction (nulls first when ascending, last when
descending) and may differ per key, so each key sorts behind its own is-null flag.

The input is buffered under an execution memory reservation (Spark's ``UnsafeExternalSorter``):
when the task's memory is refused, the buffer is sorted and spilled as a run, and the runs are
merged at the end into a disk-backed result, so a partition bigger than memory still sorts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc

from engine.execution.evaluator import evaluate
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import OrderedDistribution, UnspecifiedDistribution
from engine.execution.spark_plan import SparkPlan, attrs_string, empty_table
from engine.memory.spill import SortedRunBuffer, disk_backed_table, input_batches, merge_sorted_runs

# sorting in memory takes the sort indices and the sorted copy: about 2x the rows (measured 1.7x)
SORT_WORKING_MEMORY = 2.0


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

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {"peakMemory": metric("peak memory", "size"), "spillSize": metric("spill size", "size")}

    def execute_partition(self, index: int, ctx) -> pa.Table:
        schema = empty_table(self.output).schema
        sort = partial(sort_table, order=self.order)
        order = partial(sort_indices, order=self.order)
        with SortedRunBuffer(ctx, "ExternalSorter", self.metrics["spillSize"], sort_indices=order,
                             working_memory_factor=SORT_WORKING_MEMORY) as sorter:
            for batch in input_batches(self.child, index, ctx):
                sorter.insert(batch)
            if sorter.fits_in_memory():
                out = sort(sorter.buffered_table(schema))
            else:
                merged = merge_sorted_runs(sorter.runs, order)
                out = disk_backed_table(ctx.env.block_manager.temp_local_path(), merged, schema)
            ctx.add(self.metrics["peakMemory"], sorter.peak)
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
