"""LocalTableScanExec: rows given to ``createDataFrame``, sliced into partitions."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.partitioning import Partitioning, UnknownPartitioning
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class LocalTableScanExec(SparkPlan):
    scan_output: tuple
    table: pa.Table
    slices: int

    @property
    def output(self):
        return self.scan_output

    @property
    def output_partitioning(self) -> Partitioning:
        return UnknownPartitioning(self.slices)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        n = self.table.num_rows
        start, stop = index * n // self.slices, (index + 1) * n // self.slices
        part = self.table.slice(start, stop - start)
        ctx.add(self.metrics["numOutputRows"], part.num_rows)
        return part

    def arguments(self) -> str:
        return attrs_string(self.output)
