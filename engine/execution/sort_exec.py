"""SortExec: sorts each partition; after a range exchange that makes the whole output sorted.

Spark's default null order differs by direction (nulls first when ascending, last when
descending) and may differ per key, so each key sorts behind its own is-null flag.

The input is buffered under an execution memory reservation (Spark's ``UnsafeExternalSorter``):
when the task's memory is refused, the buffer is sorted and spilled as a run, and the runs are
merged at the end into a disk-backed result, so a partition bigger than memory still sorts.

Keys that are integers, dates, timestamps or booleans are packed, with their null flags, into one
unsigned word per row and radix-sorted by a compiled kernel (``engine.codegen.sorting``), when
their value ranges fit in 64 bits together; other keys sort with ``pyarrow.compute.sort_indices``.
Both are stable, so the order is the same either way. The rows are then gathered one column at
a time (``take_in_order``), so sorting in memory needs the order and one column besides the
buffer, not a second copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.codegen.sorting import RADIX_SCRATCH_BYTES_PER_ROW, radix_argsort
from engine.execution.evaluator import evaluate
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import OrderedDistribution, UnspecifiedDistribution
from engine.execution.spark_plan import SparkPlan, attrs_string, empty_table
from engine.memory import native
from engine.memory.spill import SortedRunBuffer, disk_backed_table, input_batches, merge_sorted_runs, take_in_order


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
        order = partial(sort_indices, order=self.order)
        with ExternalSorter(ctx, "ExternalSorter", self.metrics["spillSize"], sort_indices=order) as sorter:
            for batch in input_batches(self.child, index, ctx):
                sorter.insert(batch)
            if sorter.fits_in_memory():
                out = sorter.sorted_table(schema)
            else:
                merged = merge_sorted_runs(sorter.runs, order)
                out = disk_backed_table(ctx.env.block_manager.temp_local_path(), merged, schema)
            ctx.add(self.metrics["peakMemory"], sorter.peak)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def arguments(self) -> str:
        return f"{attrs_string(self.order)}, {str(self.is_global).lower()}, 0"


class ExternalSorter(SortedRunBuffer):
    """A sort's buffer: its working memory is what sorting in memory really adds, the radix
    kernel's scratch per row, then (once that is freed) the order and one gathered column."""

    def _working_memory(self) -> int:
        if not self.buffered:
            return 0
        buffered = pa.concat_tables(self.buffered, promote_options="permissive")  # no copy: chunks
        return RADIX_SCRATCH_BYTES_PER_ROW * buffered.num_rows + max(c.nbytes for c in buffered.columns)

    def sorted_table(self, schema: pa.Schema) -> pa.Table:
        """Everything buffered, sorted (only when nothing was spilled); the buffer is given up."""
        return take_in_order(self.buffered, self.sort_indices) if self.buffered else schema.empty_table()


def sort_indices(table: pa.Table, order) -> pa.Array:
    """The stable order of ``table``'s rows under ``order``: a radix sort of the packed keys when
    they pack into 64 bits, else Arrow's multi-key sort."""
    values = [evaluate(o.child, table) for o in order]
    if not values:
        return pa.array(np.arange(table.num_rows, dtype=np.int64))
    packed = packed_sort_keys(values, order)
    if packed is not None:
        return pa.array(radix_argsort(*packed))
    keys, columns = [], {}
    for i, (o, v) in enumerate(zip(order, values)):
        if v.null_count:
            columns[f"n{i}"] = pc.is_null(v)
            keys.append((f"n{i}", "descending" if o.effective_nulls_first else "ascending"))
        columns[f"k{i}"] = v
        keys.append((f"k{i}", "ascending" if o.ascending else "descending"))
    return pc.sort_indices(pa.table(columns), sort_keys=keys)


def packed_sort_keys(values: list[pa.Array | pa.ChunkedArray], order) -> tuple[np.ndarray, int] | None:
    """Every row's sort keys packed into one uint64 whose unsigned order is the row order, and how
    many bits it uses; None when a key is not integer-like or the keys need more than 64 bits.

    Most significant first, each key contributes its null flag (only when it has nulls: 0 for the
    rows that sort first, per Spark's null order) and its value minus the key's minimum (the
    maximum minus the value when descending), in as many bits as the key's range needs::

        ORDER BY a (1..6), b DESC (0..2, with nulls)  ->  (a - 1) << 3 | is_null(b) << 2 | (2 - b)
    """
    fields = []
    for v, o in zip(values, order):
        field = _packed_field(v, o)
        if field is None:
            return None
        fields.append(field)
    total_bits = sum(bits for _, bits in fields)
    if total_bits > 64:
        return None
    packed = native.zeros(len(values[0]), np.uint64)
    for field, bits in fields:
        if bits:
            packed <<= np.uint64(bits)
            packed |= field
    return packed, total_bits


def _packed_field(values: pa.Array | pa.ChunkedArray, o) -> tuple[np.ndarray, int] | None:
    """One key's bits (as uint64) and their width, or None when the key cannot be packed."""
    ints = _as_int64(values)
    if ints is None:
        return None
    has_nulls = values.null_count > 0
    if values.null_count == len(values):
        low = high = 0
    else:
        bounds = pc.min_max(ints)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
    bits = (high - low).bit_length()
    if has_nulls:
        ints = ints.fill_null(low if o.ascending else high)
    raw = ints.to_numpy()
    # subtracting in int64 may wrap, but the difference is below 2**64, so its uint64 view is exact
    field = ((raw - np.int64(low)) if o.ascending else (np.int64(high) - raw)).view(np.uint64)
    if not has_nulls:
        return field, bits
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    flag = (valid if o.effective_nulls_first else ~valid).astype(np.uint64)
    return (flag << np.uint64(bits)) | field, bits + 1


def _as_int64(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """An integer-like key as int64 (dates as days, timestamps in their unit, booleans as 0/1);
    None for every other type and for uint64, whose values may not fit."""
    t = values.type
    if pa.types.is_boolean(t) or pa.types.is_date32(t):
        return values.cast(pa.int8() if pa.types.is_boolean(t) else pa.int32()).cast(pa.int64())
    if pa.types.is_date64(t) or pa.types.is_timestamp(t):
        return values.cast(pa.int64())
    if pa.types.is_integer(t) and not pa.types.is_uint64(t):
        return values.cast(pa.int64())
    return None


def sort_table(table: pa.Table, order) -> pa.Table:
    if table.num_rows <= 1:
        return table
    return table.take(sort_indices(table, order))
