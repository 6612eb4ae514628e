"""ShuffleExchangeExec: the stage boundary. Map tasks write partitioned files; reduce tasks read them.

The map side runs in the stage below (``write_map_output``); ``execute_partition`` is the reduce
side, reading partition ``index`` from every map output. A range exchange needs bounds before its
map tasks run: ``QueryExecution`` computes them with a sampling job first, as Spark's
``RangePartitioner`` does.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.catalyst.expressions import AttributeReference
from engine.codegen.hashing import partition_ids as hash_partition_ids
from engine.codegen.sorting import partition_ids_by_range
from engine.execution.evaluator import evaluate
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import (
    HashPartitioning,
    Partitioning,
    RangePartitioning,
    RoundRobinPartitioning,
    SinglePartition,
)
from engine.execution.project_exec import ProjectExec
from engine.execution.spark_plan import SparkPlan
from engine.execution.whole_stage_codegen_exec import WholeStageCodegenExec
from engine.memory import native
from engine.memory.spill import input_batches


ENSURE_REQUIREMENTS = "ENSURE_REQUIREMENTS"  # added by EnsureRequirements: AQE may coalesce it
REPARTITION_BY_NUM = "REPARTITION_BY_NUM"  # the user's repartition(n): AQE keeps its n partitions


@dataclass(eq=False)
class ShuffleExchangeExec(SparkPlan):
    partitioning: Partitioning
    child: SparkPlan
    shuffle_origin: str = ENSURE_REQUIREMENTS  # Spark's ShuffleOrigin

    def __post_init__(self):
        super().__post_init__()
        self.shuffle_id: int | None = None
        self.range_bounds: np.ndarray | None = None

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {
            "dataSize": metric("data size", "size"),
            "shuffleBytesWritten": metric("shuffle bytes written", "size"),
            "shuffleRecordsWritten": metric("shuffle records written"),
            "shuffleWriteTime": metric("shuffle write time", "nsTiming"),
            "recordsRead": metric("records read"),
            "localBytesRead": metric("local bytes read", "size"),
            "localBlocksFetched": metric("local blocks read"),
            "fetchWaitTime": metric("fetch wait time", "timing"),
        }

    @property
    def output(self):
        return self.child.output

    @property
    def output_partitioning(self) -> Partitioning:
        return self.partitioning

    @property
    def is_stage_boundary(self) -> bool:
        return True

    @property
    def node_name(self) -> str:
        return "Exchange"

    @property
    def can_change_num_partitions(self) -> bool:
        """Whether AQE may read this shuffle in other partitions than it wrote (Spark's
        ``supportedShuffleOrigins`` of CoalesceShufflePartitions): not a user's repartition(n)."""
        return self.shuffle_origin == ENSURE_REQUIREMENTS

    def arguments(self) -> str:
        return f"{self._partitioning_string()}, {self.shuffle_origin}"

    def _partitioning_string(self) -> str:
        p = self.partitioning
        if isinstance(p, HashPartitioning):
            return f"hashpartitioning({', '.join(str(e) for e in p.expressions)}, {p.num_partitions})"
        if isinstance(p, RangePartitioning):
            return f"rangepartitioning({', '.join(str(o) for o in p.ordering)}, {p.num_partitions})"
        if isinstance(p, SinglePartition):
            return "SinglePartition"
        return f"RoundRobinPartitioning({p.num_partitions})"

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(a.column_key, a.data_type.to_arrow()) for a in self.output])

    def do_prepare(self, run_job) -> None:
        """A range exchange samples its input's first sort key with a job to find the bounds."""
        if not isinstance(self.partitioning, RangePartitioning) or self.range_bounds is not None:
            return
        first = self.partitioning.ordering[0]
        per_partition = max(20 * self.partitioning.num_partitions, 100)

        def sample(table: pa.Table, ctx) -> pa.Array:
            keys = _one_chunk(evaluate(first.child, table))
            if len(keys) <= per_partition:
                return keys
            return keys.take(pa.array(np.linspace(0, len(keys) - 1, per_partition).astype(np.int64)))

        samples = run_job(_sampling_plan(self.child, first.child.references), sample)
        arrays = [s for s in samples if len(s)]
        values = pa.concat_arrays(arrays) if arrays else pa.array([], pa.int64())
        self.range_bounds = sample_bounds(values, self.partitioning.num_partitions)

    # ---- map side ----
    def partition_ids(self, table: pa.Table, map_index: int, first_row: int = 0) -> np.ndarray:
        """The reduce partition of each row of ``table``, rows ``first_row...`` of map task ``map_index``'s input."""
        p = self.partitioning
        n = table.num_rows
        if isinstance(p, SinglePartition) or p.num_partitions == 1:
            return native.zeros(n, dtype=np.int32)
        if isinstance(p, HashPartitioning):
            keys = [_one_chunk(evaluate(e, table)) for e in p.expressions]
            return hash_partition_ids(keys, p.num_partitions)
        if isinstance(p, RangePartitioning):
            return range_partition_ids(table, p.ordering[0], self.range_bounds)
        if isinstance(p, RoundRobinPartitioning):
            return ((np.arange(n, dtype=np.int64) + first_row + map_index) % p.num_partitions).astype(np.int32)
        raise TypeError(f"cannot partition by {p}")

    def write_map_output(self, map_index: int, ctx):
        """Partition the child's rows batch by batch into a ``ShuffleExternalSorter``, which holds
        them under the task's execution memory and spills when refused, then write the map output."""
        write = ctx.metrics.shuffle_write
        before = (write.bytes_written, write.records_written, write.write_time)
        manager = ctx.env.shuffle_manager
        sorter = manager.new_sorter(self.shuffle_id, self.partitioning.num_partitions, ctx.task_memory_manager,
                                    ctx.env.block_manager.temp_local_path, partial(_count_spill, ctx))
        rows = data_size = 0
        with sorter:
            for batch in input_batches(self.child, map_index, ctx):
                sorter.insert(batch, self.partition_ids(batch, map_index, rows))
                rows += batch.num_rows
                data_size += batch.nbytes
            status = manager.write(self.shuffle_id, map_index, ctx.attempt_number, sorter, write)
        ctx.add(self.metrics["dataSize"], data_size)
        ctx.add(self.metrics["shuffleBytesWritten"], write.bytes_written - before[0])
        ctx.add(self.metrics["shuffleRecordsWritten"], write.records_written - before[1])
        ctx.add(self.metrics["shuffleWriteTime"], write.write_time - before[2])
        return status

    # ---- reduce side ----
    def execute_partition(self, index: int, ctx) -> pa.Table:
        return self.read_reduce_partition(index, ctx)

    def execute_batches(self, index: int, ctx):
        """Reduce partition ``index`` one map output's block at a time, for operators that buffer
        under a memory reservation and spill (``engine.memory.spill.input_batches``)."""
        read = ctx.metrics.shuffle_read
        before = (read.records_read, read.local_bytes_read, read.local_blocks_fetched, read.fetch_wait_time)
        try:
            yield from ctx.env.shuffle_manager.read_blocks(self.shuffle_id, index, read)
        finally:
            self._add_read_metrics(ctx, before)

    def read_reduce_partition(self, index: int, ctx, map_range: range | None = None) -> pa.Table:
        """Reduce partition ``index`` from every map output (or the maps in ``map_range``)."""
        read = ctx.metrics.shuffle_read
        before = (read.records_read, read.local_bytes_read, read.local_blocks_fetched, read.fetch_wait_time)
        table = ctx.env.shuffle_manager.read(self.shuffle_id, index, read, map_range)
        self._add_read_metrics(ctx, before)
        return table

    def _add_read_metrics(self, ctx, before: tuple[int, int, int, int]) -> None:
        read = ctx.metrics.shuffle_read
        ctx.add(self.metrics["recordsRead"], read.records_read - before[0])
        ctx.add(self.metrics["localBytesRead"], read.local_bytes_read - before[1])
        ctx.add(self.metrics["localBlocksFetched"], read.local_blocks_fetched - before[2])
        ctx.add(self.metrics["fetchWaitTime"], read.fetch_wait_time - before[3])


def _count_spill(ctx, memory_bytes: int, disk_bytes: int) -> None:
    """A shuffle write buffer spilled: the task's "Memory/Disk Bytes Spilled" (Exchange has no spill metric)."""
    ctx.metrics.memory_bytes_spilled += memory_bytes
    ctx.metrics.disk_bytes_spilled += disk_bytes


def _one_chunk(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _numeric(values: pa.Array) -> pa.Array:
    """Dates as days, timestamps in their unit, booleans as 0/1: keys that order as numbers."""
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        values = values.cast(pa.int32() if pa.types.is_date32(values.type) else pa.int64())
    if pa.types.is_boolean(values.type):
        values = values.cast(pa.int8())
    return values


def _sortable(values: pa.Array) -> np.ndarray:
    return _numeric(values).to_numpy(zero_copy_only=False)


def _sampling_plan(child: SparkPlan, keys) -> SparkPlan:
    """What a range exchange's sampling job runs: ``child``, or, when ``child`` only passes a scan's
    columns through (a fused stage of column-only Projects), that scan reading the sort key columns
    alone (Spark's sampling job computes whole rows; only their keys are ever looked at)."""
    node = child
    while isinstance(node, WholeStageCodegenExec) or (
            isinstance(node, ProjectExec) and all(isinstance(e, AttributeReference) for e in node.project_list)):
        node = node.child
    return node.reading_only(keys) if hasattr(node, "reading_only") else child


def sample_bounds(samples: pa.Array, num_partitions: int) -> np.ndarray:
    """``num_partitions - 1`` split points from a sample of the first sort key (nulls dropped)."""
    values = _sortable(pc.drop_null(samples))
    if len(values) == 0 or num_partitions <= 1:
        return values[:0]
    values = np.sort(values, kind="stable")
    picks = [values[min(len(values) - 1, (i * len(values)) // num_partitions)] for i in range(1, num_partitions)]
    return np.unique(np.asarray(picks, dtype=values.dtype))


def range_partition_ids(table: pa.Table, order, bounds: np.ndarray) -> np.ndarray:
    """The partition of each row for a global sort on ``order`` (its first key): numeric keys by a
    compiled binary search over the bounds, others (strings) by ``numpy.searchsorted``."""
    keys = _one_chunk(evaluate(order.child, table))
    last = len(bounds)
    null_partition = 0 if order.effective_nulls_first else last
    numeric = _numeric(keys)
    if pa.types.is_integer(numeric.type) or pa.types.is_floating(numeric.type):
        valid = numeric.is_valid().to_numpy(zero_copy_only=False) if numeric.null_count else None
        values = (numeric.fill_null(0) if valid is not None else numeric).to_numpy()
        return partition_ids_by_range(values, valid, bounds, order.ascending, null_partition)
    ids = native.full(len(keys), null_partition, dtype=np.int32)
    valid = keys.is_valid().to_numpy(zero_copy_only=False).astype(bool)
    positions = np.searchsorted(bounds, _sortable(keys.filter(valid)), side="left").astype(np.int32)
    ids[valid] = positions if order.ascending else last - positions
    return ids
