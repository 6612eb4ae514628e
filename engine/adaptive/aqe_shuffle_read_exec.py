"""AQEShuffleReadExec: reads a finished shuffle in the partitions AQE chose (Spark's AQEShuffleRead).

One task per partition spec: a coalesced range of reduce partitions, a slice of a skewed reduce
partition (some of its map outputs), or one map output's blocks (a local read). Its metrics are
known on the driver as soon as the plan is made (number of partitions, their sizes, how many were
coalesced or split) and are posted as ``SparkListenerDriverAccumUpdates``, as Spark does.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.adaptive.partition_specs import (
    CoalescedPartitionSpec,
    PartialMapperPartitionSpec,
    PartialReducerPartitionSpec,
)
from engine.adaptive.query_stage_exec import ShuffleQueryStageExec
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import UnknownPartitioning
from engine.execution.spark_plan import SparkPlan


@dataclass(eq=False)
class AQEShuffleReadExec(SparkPlan):
    child: ShuffleQueryStageExec
    partition_specs: tuple

    def __post_init__(self):
        if not self.partition_specs:
            raise ValueError("AQEShuffleRead needs at least one partition spec")
        super().__post_init__()
        self.metrics = self.declare_metrics()  # only its driver-side metrics, as Spark's

    def declare_metrics(self) -> dict[str, SQLMetric]:
        out = {"numPartitions": metric("number of partitions"),
               "partitionDataSize": metric("partition data size", "size")}
        if self.is_local_read:
            return out
        out["numEmptyPartitions"] = metric("number of empty partitions")
        if self.has_coalesced_partition:
            out["numCoalescedPartitions"] = metric("number of coalesced partitions")
        if self.has_skewed_partition:
            out["numSkewedPartitions"] = metric("number of skewed partitions")
            out["numSkewedSplits"] = metric("number of skewed partition splits")
        return out

    # ---- what kind of read it is ----
    @property
    def is_local_read(self) -> bool:
        return all(isinstance(s, PartialMapperPartitionSpec) for s in self.partition_specs)

    @property
    def has_coalesced_partition(self) -> bool:
        return any(isinstance(s, CoalescedPartitionSpec) and s.end_reducer_index - s.start_reducer_index > 1
                   for s in self.partition_specs)

    @property
    def has_skewed_partition(self) -> bool:
        return any(isinstance(s, PartialReducerPartitionSpec) for s in self.partition_specs)

    @property
    def output(self):
        return self.child.output

    @property
    def output_partitioning(self):
        return UnknownPartitioning(len(self.partition_specs))

    @property
    def node_name(self) -> str:
        return "AQEShuffleRead"

    def arguments(self) -> str:
        if self.is_local_read:
            return "local"
        if self.has_coalesced_partition and self.has_skewed_partition:
            return "coalesced and skewed"
        if self.has_coalesced_partition:
            return "coalesced"
        if self.has_skewed_partition:
            return "skewed"
        return ""

    def formatted_suffix(self) -> str | None:
        """Formatted explain names the kind of read on the node's line: ``AQEShuffleRead (8), coalesced``."""
        return self.arguments() or None

    # ---- driver-side metrics ----
    def driver_metric_updates(self) -> list[tuple[int, int]]:
        """``(accumulator id, value)`` pairs, one per partition for the data sizes (Spark's
        ``sendDriverMetrics`` posts each partition's size as its own update)."""
        m = self.metrics
        updates = [(m["numPartitions"].accumulator_id, len(self.partition_specs))]
        sizes = [self._spec_size(s) for s in self.partition_specs]
        if not self.is_local_read:
            updates.append((m["numEmptyPartitions"].accumulator_id, sum(1 for s in sizes if s == 0)))
        if self.has_coalesced_partition:
            coalesced = sum(1 for s in self.partition_specs if isinstance(s, CoalescedPartitionSpec)
                            and s.end_reducer_index - s.start_reducer_index > 1)
            updates.append((m["numCoalescedPartitions"].accumulator_id, coalesced))
        if self.has_skewed_partition:
            splits = [s for s in self.partition_specs if isinstance(s, PartialReducerPartitionSpec)]
            updates.append((m["numSkewedPartitions"].accumulator_id, len({s.reducer_index for s in splits})))
            updates.append((m["numSkewedSplits"].accumulator_id, len(splits)))
        updates.extend((m["partitionDataSize"].accumulator_id, size) for size in sizes)
        return updates

    def _spec_size(self, spec) -> int:
        if isinstance(spec, PartialMapperPartitionSpec):
            stats = self.child.map_output_statistics
            return sum(stats.bytes_by_map[spec.map_index][spec.start_reducer_index:spec.end_reducer_index])
        return spec.data_size

    # ---- reading ----
    def execute_partition(self, index: int, ctx) -> pa.Table:
        spec = self.partition_specs[index]
        exchange = self.child.exchange
        if isinstance(spec, CoalescedPartitionSpec):
            parts = [exchange.read_reduce_partition(r, ctx) for r in range(spec.start_reducer_index,
                                                                           spec.end_reducer_index)]
        elif isinstance(spec, PartialReducerPartitionSpec):
            parts = [exchange.read_reduce_partition(spec.reducer_index, ctx,
                                                    range(spec.start_map_index, spec.end_map_index))]
        else:
            maps = range(spec.map_index, spec.map_index + 1)
            parts = [exchange.read_reduce_partition(r, ctx, maps) for r in range(spec.start_reducer_index,
                                                                                 spec.end_reducer_index)]
        return pa.concat_tables(parts) if parts else exchange.arrow_schema.empty_table()
