"""InMemoryTableScanExec: reads a cached DataFrame's partitions, computing any not cached yet.

The first job over a cached plan computes its partitions as part of that job (the cached plan's
stages are that job's stages) and stores each in the block manager; later jobs only read. A
partition the block manager dropped under memory pressure (``MEMORY_ONLY``) is recomputed by the
task that misses it, through the cached plan's own lineage, and stored again.

Blocks are columnar and, as Spark's are with ``spark.sql.inMemoryColumnarStorage.compressed``
(default true), compressed: each column is one contiguous chunk, and a string column with few
distinct values is stored dictionary-encoded (Spark's ``DictionaryEncoding`` scheme). A compiled
aggregate grouping by such a column takes its codes as they are; every other reader gets strings.
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

    reads_dictionary_columns = True

    def execute_partition(self, index: int, ctx, dictionary_columns: frozenset[str] = frozenset()) -> pa.Table:
        """One cached partition; string columns keyed in ``dictionary_columns`` stay
        dictionary-encoded where the block stores them so, every other column is decoded."""
        bm = ctx.env.block_manager
        block_id = self.cached.block_id(index)
        table = bm.get(block_id)
        if table is None:
            table = self.cached.physical.execute_partition(index, ctx)
            if ctx.env.conf.get_bool("spark.sql.inMemoryColumnarStorage.compressed"):
                table = compress_cached_batch(table)
            updates = bm.put(block_id, table, self.cached.storage_level)
            if str(ctx.env.conf.get("spark.taskMetrics.trackUpdatedBlockStatuses", "false")).lower() == "true":
                ctx.metrics.updated_blocks.extend(updates)
        out = _decoded(select_output(table, self.scan_output), dictionary_columns)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        return f"{attrs_string(self.output)}, StorageLevel({self.cached.storage_level})"


def compress_cached_batch(table: pa.Table) -> pa.Table:
    """``table`` as the cache stores it: each column one chunk, and each string column whose
    dictionary is at most half its length dictionary-encoded (codes plus distinct values take less
    memory than the strings, and a grouping by the column needs no encoding pass at each query)."""
    table = table.combine_chunks()
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            encoded = column.dictionary_encode()
            if encoded.num_chunks and len(encoded.chunk(0).dictionary) * 2 <= len(column):
                column = encoded
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(
        [f.with_type(c.type) for f, c in zip(table.schema, columns)], metadata=table.schema.metadata))


def _decoded(table: pa.Table, keep: frozenset[str]) -> pa.Table:
    """``table`` with every dictionary-encoded column not keyed in ``keep`` decoded."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type) and field.name not in keep:
            table = table.set_column(i, field.with_type(field.type.value_type),
                                     table.column(i).cast(field.type.value_type))
    return table

