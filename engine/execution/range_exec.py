"""RangeExec: ``spark.range``, each partition generating its own slice of the ids."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.execution.partitioning import Partitioning, UnknownPartitioning
from engine.execution.spark_plan import SparkPlan


@dataclass(eq=False)
class RangeExec(SparkPlan):
    start: int
    end: int
    step: int
    slices: int
    range_output: tuple

    @property
    def output(self):
        return self.range_output

    @property
    def output_partitioning(self) -> Partitioning:
        return UnknownPartitioning(self.slices)

    @property
    def supports_codegen(self) -> bool:
        return False

    def execute_partition(self, index: int, ctx) -> pa.Table:
        total = len(range(self.start, self.end, self.step))
        lo, hi = index * total // self.slices, (index + 1) * total // self.slices
        ids = self.start + self.step * np.arange(lo, hi, dtype=np.int64)
        ctx.add(self.metrics["numOutputRows"], len(ids))
        ctx.metrics.input_records_read += len(ids)
        return pa.table({self.range_output[0].column_key: ids})

    def arguments(self) -> str:
        return f"({self.start}, {self.end}, step={self.step}, splits={self.slices})"
