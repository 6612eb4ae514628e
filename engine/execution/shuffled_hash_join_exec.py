"""ShuffledHashJoinExec: both sides hash-partitioned on the join keys, joined partition by partition.

Ember picks this over Spark's default SortMergeJoin for joins too big to broadcast: its
partitions are Arrow tables in memory, so a hash join is one vectorized pass with no sort of
either side (Spark prefers sort-merge because it can stream and spill).

The build (right) side is buffered under an execution memory reservation. When memory is
refused, the join turns into a grace hash join: both sides are split by a hash of their keys into
``GRACE_BUCKETS`` files on disk, and each pair of buckets is joined on its own. Rows with equal
keys meet in the same bucket, so every join type (outer, semi, anti) stays correct per bucket.
"""
from __future__ import annotations

from dataclasses import dataclass

import os

import numpy as np
import pyarrow as pa

from engine.codegen.hashing import hash_columns
from engine.execution.evaluator import evaluate
from engine.execution.joins import join_tables
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import ClusteredDistribution
from engine.execution.spark_plan import SparkPlan, attrs_string, empty_table
from engine.memory.spill import disk_backed_table, input_batches, read_run, record_spill
from engine.memory.task_memory_manager import MemoryConsumer

GRACE_BUCKETS = 16
_BUCKET_SHIFT = 32 - GRACE_BUCKETS.bit_length() + 1  # the top log2(GRACE_BUCKETS) bits of a 32-bit hash
_RUN_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass(eq=False)
class ShuffledHashJoinExec(SparkPlan):
    left_keys: tuple
    right_keys: tuple
    join_type: str
    condition: object
    join_output: tuple
    left: SparkPlan
    right: SparkPlan

    @property
    def output(self):
        return self.join_output

    @property
    def output_partitioning(self):
        return (self.right if self.join_type == "right_outer" else self.left).output_partitioning

    @property
    def required_child_distribution(self):
        return (ClusteredDistribution(tuple(self.left_keys)), ClusteredDistribution(tuple(self.right_keys)))

    @property
    def co_partitioned_keys(self):
        """Both sides must be hashed on these keys, in this order, into the same number of partitions."""
        return (tuple(self.left_keys), tuple(self.right_keys))

    @property
    def key_types(self) -> list[pa.DataType]:
        return [k.data_type.to_arrow() for k in self.left_keys]

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {"buildDataSize": metric("data size of build side", "size"),
                "peakMemory": metric("peak memory", "size"), "spillSize": metric("spill size", "size")}

    def execute_partition(self, index: int, ctx) -> pa.Table:
        with _BuildSide(ctx, self) as build:
            for batch in input_batches(self.right, index, ctx):
                build.insert(batch)
            if build.buckets is None:
                right = build.table(empty_table(self.right.output).schema)
                ctx.add(self.metrics["buildDataSize"], right.nbytes)
                out = join_tables(self.left.execute_partition(index, ctx), right, self.left_keys, self.right_keys,
                                  self.join_type, self.condition)
            else:
                stream = _Buckets(ctx, self.left_keys, self.key_types, self.metrics["spillSize"])
                for batch in input_batches(self.left, index, ctx):
                    stream.write(batch)
                joined = (join_tables(left, right, self.left_keys, self.right_keys, self.join_type, self.condition)
                          for left, right in zip(stream.read(empty_table(self.left.output).schema),
                                                 build.buckets.read(empty_table(self.right.output).schema)))
                out = disk_backed_table(ctx.env.block_manager.temp_local_path(), joined, empty_table(self.output).schema)
                stream.remove()
            ctx.add(self.metrics["peakMemory"], build.peak)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        cond = f", {self.condition}" if self.condition is not None else ""
        return f"{attrs_string(self.left_keys)}, {attrs_string(self.right_keys)}, {self.join_type}, BuildRight{cond}"


class _BuildSide(MemoryConsumer):
    """The build side's rows, in memory while the reservation holds, else in hash buckets on disk."""

    def __init__(self, ctx, join: ShuffledHashJoinExec):
        super().__init__(ctx.task_memory_manager, "ShuffledHashJoin build side")
        self.ctx, self.join = ctx, join
        self.buffered: list[pa.Table] = []
        self.buckets: _Buckets | None = None

    def insert(self, batch: pa.Table) -> None:
        if self.buckets is None:
            self.reserve(batch.nbytes)
        if self.buckets is None:
            self.buffered.append(batch)
        else:
            self.buckets.write(batch)

    def spill(self, size: int, trigger: MemoryConsumer) -> int:
        if self.buckets is None:
            self.buckets = _Buckets(self.ctx, self.join.right_keys, self.join.key_types, self.join.metrics["spillSize"])
        for batch in self.buffered:
            self.buckets.write(batch)
        self.buffered = []
        released = self.used
        self.free_memory(released)
        return released

    def table(self, schema: pa.Schema) -> pa.Table:
        return pa.concat_tables(self.buffered) if self.buffered else schema.empty_table()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        if self.buckets is not None:
            self.buckets.remove()


class _Buckets:
    """One side of a grace hash join: rows split by a hash of the join keys into bucket files."""

    def __init__(self, ctx, keys, key_types: list[pa.DataType], spill_metric):
        self.ctx, self.keys, self.key_types, self.spill_metric = ctx, keys, key_types, spill_metric
        self.paths = [ctx.env.block_manager.temp_local_path("temp_local_join") for _ in range(GRACE_BUCKETS)]
        self._writers: list[pa.ipc.RecordBatchStreamWriter | None] = [None] * GRACE_BUCKETS
        self._sinks: list[pa.OSFile | None] = [None] * GRACE_BUCKETS

    def write(self, batch: pa.Table) -> None:
        # both sides hash their keys as the left's types, so equal keys of different widths meet
        ids = bucket_ids([evaluate(k, batch).cast(t) for k, t in zip(self.keys, self.key_types)])
        order = np.argsort(ids, kind="stable")
        counts = np.bincount(ids, minlength=GRACE_BUCKETS)
        rows = batch.take(pa.array(order))
        start = 0
        for bucket, count in enumerate(counts):
            if count:
                self._writer(bucket, batch.schema).write_table(rows.slice(start, int(count)))
                start += int(count)
        record_spill(self.ctx, self.spill_metric, batch.nbytes, 0)

    def _writer(self, bucket: int, schema: pa.Schema):
        if self._writers[bucket] is None:
            self._sinks[bucket] = pa.OSFile(self.paths[bucket], "wb")
            self._writers[bucket] = pa.ipc.new_stream(self._sinks[bucket], schema, options=_RUN_OPTIONS)
        return self._writers[bucket]

    def read(self, schema: pa.Schema):
        """Each bucket's rows as one table, bucket by bucket (every bucket, empty ones included)."""
        self._close()
        for bucket, path in enumerate(self.paths):
            if self._sinks[bucket] is None:
                yield schema.empty_table()
            else:
                yield pa.concat_tables(list(read_run(path)))

    def _close(self) -> None:
        for bucket, writer in enumerate(self._writers):
            if writer is not None:
                writer.close()
                self._sinks[bucket].close()
                self.ctx.metrics.disk_bytes_spilled += os.path.getsize(self.paths[bucket])
                self._writers[bucket] = None

    def remove(self) -> None:
        self._close()
        for path in self.paths:
            if os.path.exists(path):
                os.remove(path)


def bucket_ids(keys: list) -> np.ndarray:
    """A grace-hash bucket per row: the top bits of a multiplicative mix of Spark's key hash.

    Mixing matters: every row of a shuffle partition has the same ``pmod(hash, n)``, so the low
    bits of the hash itself would put them all in a few buckets.
    """
    arrays = [k.combine_chunks() if isinstance(k, pa.ChunkedArray) else k for k in keys]
    hashes = hash_columns(arrays).astype(np.uint32).astype(np.uint64)
    return (((hashes * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)) >> np.uint64(_BUCKET_SHIFT)).astype(np.int64)
