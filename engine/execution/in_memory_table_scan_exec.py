"""InMemoryTableScanExec: reads a cached DataFrame's partitions, computing any not cached yet.

The first job over a cached plan computes its partitions as part of that job (the cached plan's
stages are that job's stages) and stores each in the block manager; later jobs only read. A
partition the block manager dropped under memory pressure (``MEMORY_ONLY``) is recomputed by the
task that misses it, through the cached plan's own lineage, and stored again.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.execution.partitioning import UnknownPartitioning
from engine.execution.spark_plan import SparkPlan, attrs_string, select_output


@dataclass(eq=False)
class CachedPlan:
    """A DataFrame's plan registered by ``cache()``/``persist()``: its physical plan and block ids."""

    rdd_id: int
    storage_level: str
    physical: SparkPlan | None = None

    def block_id(self, index: int) -> str:
        return f"rdd_{self.rdd_id}_{index}"


@dataclass(eq=False)
class InMemoryTableScanExec(SparkPlan):
    scan_output: tuple
    cached: CachedPlan

    @property
    def output(self):
        return self.scan_output

    @property
    def output_partitioning(self):
        return UnknownPartitioning(self.cached.physical.num_partitions)

    def is_materialized(self, block_manager) -> bool:
        return all(block_manager.contains(self.cached.block_id(i)) for i in range(self.num_partitions))

    def lineage_children(self, block_manager) -> tuple[SparkPlan, ...]:
        """The cached plan, while some of its partitions still have to be computed."""
        return () if self.is_materialized(block_manager) else (self.cached.physical,)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        bm = ctx.env.block_manager
        block_id = self.cached.block_id(index)
        table = bm.get(block_id)
        if table is None:
            table = self.cached.physical.execute_partition(index, ctx)
            updates = bm.put(block_id, table, self.cached.storage_level)
            if str(ctx.env.conf.get("spark.taskMetrics.trackUpdatedBlockStatuses", "false")).lower() == "true":
                ctx.metrics.updated_blocks.extend(updates)
        out = select_output(table, self.scan_output)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        return f"{attrs_string(self.output)}, StorageLevel({self.cached.storage_level})"
