"""UnionExec: the partitions of every child, one after another, columns matched by position."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.partitioning import UnknownPartitioning
from engine.execution.spark_plan import SparkPlan


@dataclass(eq=False)
class UnionExec(SparkPlan):
    union_output: tuple
    union_children: tuple

    @property
    def output(self):
        return self.union_output

    @property
    def output_partitioning(self):
        return UnknownPartitioning(sum(c.num_partitions for c in self.union_children))

    def execute_partition(self, index: int, ctx) -> pa.Table:
        for child in self.union_children:
            if index < child.num_partitions:
                table = child.execute_partition(index, ctx)
                arrow = [a.data_type.to_arrow() for a in self.union_output]
                columns = [c if c.type == t else c.cast(t) for c, t in zip(table.columns, arrow)]
                return pa.Table.from_arrays(columns, names=[a.column_key for a in self.union_output])
            index -= child.num_partitions
        raise IndexError(index)
