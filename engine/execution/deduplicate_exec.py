"""DeduplicateExec: ``dropDuplicates(cols)`` keeps the first row of each key within its partition.

It requires the rows of each key in one partition, so it follows a hash exchange on the keys.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.execution.partitioning import ClusteredDistribution
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class DeduplicateExec(SparkPlan):
    keys: tuple
    child: SparkPlan

    @property
    def output(self):
        return self.child.output

    @property
    def required_child_distribution(self):
        return (ClusteredDistribution(tuple(self.keys)),)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        table = self.child.execute_partition(index, ctx)
        if table.num_rows == 0:
            return table
        columns = {k.column_key: table.column(k.column_key) for k in self.keys}
        columns["__row"] = pa.array(np.arange(table.num_rows, dtype=np.int64))
        firsts = pa.table(columns).group_by([k.column_key for k in self.keys], use_threads=False).aggregate(
            [("__row", "min")]
        )
        rows = np.sort(firsts.column("__row_min").to_numpy())
        out = table.take(pa.array(rows))
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        return attrs_string(self.keys)
