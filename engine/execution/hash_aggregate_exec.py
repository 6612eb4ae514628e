"""HashAggregateExec: grouped aggregation in Spark's two phases around a hash exchange.

``partial`` aggregates each input partition into per-group buffers (sum, count, min, max; avg
keeps sum and count), the exchange brings each group's buffers together, and ``final`` merges
them and computes the result expressions. ``complete`` does both at once after the exchange; the
planner uses it for DISTINCT aggregates.

A ``partial`` aggregate whose keys and inputs compile is the top of a whole-stage kernel (Spark's
``*(1) HashAggregate``): ``supports_codegen`` says so, ``blocking_codegen`` says it ends the
pipeline, and ``compile_codegen`` builds the kernel over the fused pipeline's input
(``engine.codegen.aggregate``: an open-addressing hash table filled by generated numba code).
Everything else, and any partial aggregate run outside a compiled stage, uses pyarrow's grouped
aggregation kernels. Both give the same buffers: max and min of doubles follow Spark's ordering,
where NaN is above every other value.

The ``final`` phase merges its input a batch at a time under an execution memory reservation
(Spark's ``TungstenAggregationIterator``). When memory is refused, the states are sorted by key
and spilled as a run; at the end the runs are merged in key order, a key's states are brought
into one chunk (``_whole_groups``), merged and finished there, into a disk-backed result. The merge
of states is compiled (``engine.codegen.merge_aggregate``: an integer-key hash table, then one pass
per buffer) when the keys are integer-like and the buffers numeric, and pyarrow's grouped
aggregation otherwise. The buffered states are compacted (merged early) to save memory only while
that removes enough rows (``AdaptiveCompaction``, ``spark.ember.sql.aggregate.compactionMinReduction``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.catalyst.expressions import AggregateFunction, AttributeReference, Expression, Literal
from engine.codegen.aggregate import AggregateBuffer, CompiledAggregate, compile_aggregate
from engine.codegen.merge_aggregate import merge_states
from engine.codegen.pipeline import CodegenUnsupported
from engine.execution.evaluator import evaluate
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import AllTuples, ClusteredDistribution, UnspecifiedDistribution
from engine.execution.project_exec import project
from engine.execution.spark_plan import SparkPlan, attrs_string, empty_table
from engine.memory import native
from engine.memory import MemoryConsumer
from engine.memory.spill import SortedRunBuffer, disk_backed_table, input_batches, merge_sorted_runs

_COUNT_VALID = pc.CountOptions(mode="only_valid")
# pyarrow's hash grouping peaks near 5x the bytes it groups (measured: 41 MiB over 7.6 MiB of states)
GROUPING_WORKING_MEMORY = 5.0
# the compiled partial hash map (slots, hashes, keys, buffers, doubled as it grows) peaked at 61 bytes
# per group for 24-byte (bigint key, sum, count) states: 2.5x; pyarrow's grouping is no bigger per row
HASH_MAP_WORKING_MEMORY = 3.0
# below this many rows a slice's fixed costs (a kernel call, a grouping) outweigh its work
MIN_PARTIAL_ROWS = 8192
_VARIABLE_WIDTH_BYTES = 16  # a string or binary value's guess: offsets and a short value
# the final aggregate stops compacting its buffered states once a compaction removed less than this
# share of their rows (see AdaptiveCompaction); 0 compacts always. Spark has no such setting: its
# final aggregate merges each row into its hash map once, and so never compacts
COMPACTION_MIN_REDUCTION = "spark.ember.sql.aggregate.compactionMinReduction"
DEFAULT_COMPACTION_MIN_REDUCTION = 0.5


def buffer_names(fn: AggregateFunction) -> tuple[str, ...]:
    """The partial-aggregation buffers of a function, as Spark names them."""
    return ("sum", "count") if fn.name == "avg" else (fn.name,)


@dataclass(eq=False)
class HashAggregateExec(SparkPlan):
    mode: str  # "partial" | "final" | "complete"
    grouping: tuple  # named expressions: over the child's output (partial, complete) or key attributes (final)
    functions: tuple[AggregateFunction, ...]
    buffer_attrs: tuple[tuple[AttributeReference, ...], ...]
    result_attrs: tuple[AttributeReference, ...]
    result_expressions: tuple
    child: SparkPlan

    @property
    def key_attrs(self) -> tuple[AttributeReference, ...]:
        return tuple(g.to_attribute() for g in self.grouping)

    @property
    def output(self):
        if self.mode == "partial":
            return self.key_attrs + tuple(a for attrs in self.buffer_attrs for a in attrs)
        return tuple(e.to_attribute() for e in self.result_expressions)

    @property
    def required_child_distribution(self):
        if self.mode == "partial":
            return (UnspecifiedDistribution(),)
        if not self.grouping:
            return (AllTuples(),)
        return (ClusteredDistribution(tuple(self.grouping_inputs)),)

    @property
    def grouping_inputs(self):
        """The grouping expressions as the child sees them (what an exchange must hash on)."""
        return [g.child if hasattr(g, "child") and not isinstance(g, AttributeReference) else g for g in self.grouping]

    @property
    def output_partitioning(self):
        return self.child.output_partitioning

    # ---- whole-stage codegen ----
    @property
    def supports_codegen(self) -> bool:
        """True for a partial aggregate whose keys and inputs compile (see ``codegen_fallback_reason``)."""
        return self.mode == "partial" and self.codegen_fallback_reason is None

    @property
    def blocking_codegen(self) -> bool:
        """Spark's BlockingOperatorWithCodegen: it consumes all its input before it produces a row,
        so it can only be the top of a whole-stage pipeline, never in the middle of one."""
        return True

    @cached_property
    def codegen_fallback_reason(self) -> str | None:
        """Why this partial aggregate stays on pyarrow, or None when it compiles (and for the
        final and complete phases, which are never compiled)."""
        if self.mode != "partial":
            return None
        try:
            self.compile_codegen(tuple(self.child.output))
        except CodegenUnsupported as e:
            return e.reason
        return None

    def codegen_buffers(self) -> tuple[AggregateBuffer, ...]:
        """The partial buffers as the kernel accumulates them, over the child's output."""
        out = []
        for fn, attrs in zip(self.functions, self.buffer_attrs):
            if fn.distinct:
                raise CodegenUnsupported(f"{fn.sql()}: DISTINCT aggregates are not compiled")
            for buffer, attr in zip(buffer_names(fn), attrs):
                out.append(AggregateBuffer(buffer, None if _counts_rows(fn) else fn.child, attr.data_type))
        return tuple(out)

    def compile_codegen(self, input_attrs: tuple[AttributeReference, ...], condition: Expression | None = None,
                        rewrite: Callable[[Expression], Expression] = lambda e: e) -> CompiledAggregate:
        """This partial aggregate as the top of a kernel whose rows are ``input_attrs`` filtered by
        ``condition``; ``rewrite`` substitutes the fused projections into keys and inputs.
        Raises ``CodegenUnsupported`` with the reason when something cannot compile."""
        if self.mode != "partial":
            raise CodegenUnsupported(f"{self.simple_string()}: only the partial aggregate is compiled")
        keys = tuple(rewrite(e) for e in self.grouping_inputs)
        buffers = tuple(b.with_input(rewrite) for b in self.codegen_buffers())
        return compile_aggregate(input_attrs, condition, keys, buffers)

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {"peakMemory": metric("peak memory", "size"), "spillSize": metric("spill size", "size")}

    def execute_batches(self, index: int, ctx) -> Iterator[pa.Table]:
        """A partial aggregate's states as a stream of tables, one per slice of input that its
        hash map may take at once (``partial_batches``); the other modes as one table."""
        if self.mode != "partial":
            yield self.execute_partition(index, ctx)
            return
        table = self.child.execute_partition(index, ctx)
        for states in self.partial_batches(table, ctx, self._partial):
            ctx.add(self.metrics["numOutputRows"], states.num_rows)
            yield states

    def partial_batches(self, table: pa.Table, ctx, aggregate: Callable[[pa.Table], pa.Table],
                        scratch_bytes_per_row: int = 0) -> Iterator[pa.Table]:
        """``aggregate`` (this partial aggregate, compiled or not) over ``table`` in slices whose hash
        map fits in the execution memory the task is granted, each slice's states flushed downstream.

        The hash map of n rows is reserved as if every row made a group (``hash_map_bytes_per_row``),
        plus what ``aggregate`` holds per input row besides (``scratch_bytes_per_row``: the compiled
        aggregate's copy of its columns when it radix-partitions them).
        When the task cannot get that for the whole input, the aggregate takes as many rows as it
        was granted memory for, emits their states and starts again, as Spark's partial aggregation
        gives up on merging more when memory is short: the final aggregate merges the states anyway.
        """
        per_row = self.hash_map_bytes_per_row() + scratch_bytes_per_row
        with MemoryConsumer(ctx.task_memory_manager, "HashAggregate (partial)") as hash_map:
            start = 0
            while True:  # at least once: an empty input still gives a global aggregate's partial row
                granted = hash_map.acquire_memory((table.num_rows - start) * per_row)
                rows = max(MIN_PARTIAL_ROWS, granted // per_row)
                states = aggregate(table.slice(start, rows) if start or rows < table.num_rows else table)
                hash_map.free_memory(hash_map.used)
                start += rows
                yield states
                if start >= table.num_rows:
                    return

    def hash_map_bytes_per_row(self) -> int:
        """What the partial hash map needs per group, at worst one group per input row: each output
        column's fixed width and null flag, times ``HASH_MAP_WORKING_MEMORY``."""
        row = sum(_fixed_width(a.data_type.to_arrow()) + 1 for a in self.output)
        return max(1, int(HASH_MAP_WORKING_MEMORY * row))

    def execute_partition(self, index: int, ctx) -> pa.Table:
        if self.mode == "final":
            out = self._final(index, ctx)
        else:
            table = self.child.execute_partition(index, ctx)
            ctx.observe_memory(table.nbytes)
            out = self._partial(table) if self.mode == "partial" else self._results(self._complete(table))
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    def _final(self, index: int, ctx) -> pa.Table:
        """Merge the partial states of partition ``index``, spilling them sorted by key when refused memory."""
        states_schema = empty_table(self.child.output).schema
        min_reduction = float(ctx.env.conf.get(COMPACTION_MIN_REDUCTION, DEFAULT_COMPACTION_MIN_REDUCTION))
        compaction = AdaptiveCompaction(self._merge_states, min_reduction)
        with SortedRunBuffer(ctx, "HashAggregate", self.metrics["spillSize"], sort_indices=self._key_order,
                             compact=compaction, working_memory_factor=GROUPING_WORKING_MEMORY) as states:
            for batch in input_batches(self.child, index, ctx):
                states.insert(batch)
            if states.fits_in_memory():
                out = self._results(self._finish(self._merge_states(states.buffered_table(states_schema))))
            else:
                groups = self._whole_groups(merge_sorted_runs(states.runs, self._key_order))
                finished = (self._results(self._finish(self._merge_states(chunk))) for chunk in groups)
                out = disk_backed_table(ctx.env.block_manager.temp_local_path(), finished,
                                        empty_table(self.output).schema)
            ctx.add(self.metrics["peakMemory"], states.peak)
        return out

    def _key_order(self, states: pa.Table) -> pa.Array:
        """The order of ``states`` by key: a spill run is the states in it, not merged (a sort needs
        far less memory than hash grouping, and a spill happens when memory is short);
        ``_whole_groups`` merges them after the runs are merged."""
        keys = [(a.column_key, "ascending", "at_end") for a in self.key_attrs]
        if not keys:
            return pa.array(range(states.num_rows), pa.int64())
        return pc.sort_indices(states, sort_keys=keys)

    def _whole_groups(self, chunks: Iterator[pa.Table]) -> Iterator[pa.Table]:
        """Key-ordered chunks of states regrouped so that no group spans two chunks.

        A run holds a key's states in several rows, so the rows of the last key of a chunk may go
        on in the next chunk: they are held back, merged into one row, and lead the next chunk.
        """
        carry = None
        for chunk in chunks:
            if carry is not None:
                chunk = pa.concat_tables([carry, chunk], promote_options="permissive")
            start = self._last_group_start(chunk)
            if start:
                yield chunk.slice(0, start)
            carry = self._merge_states(chunk.slice(start))
        if carry is not None:
            yield carry

    def _last_group_start(self, states: pa.Table) -> int:
        """Where the rows with the same key as the last row begin, in key-ordered ``states``."""
        same = native.full(states.num_rows, True, np.bool_)
        for a in self.key_attrs:
            column = states.column(a.column_key)
            last = column[states.num_rows - 1]
            if not last.is_valid:
                equal = pc.is_null(column)
            elif pa.types.is_floating(column.type) and np.isnan(last.as_py()):
                equal = pc.is_nan(column)
            else:
                equal = pc.equal(column, last)
            same &= pc.fill_null(equal, False).to_numpy(zero_copy_only=False)
        different = np.flatnonzero(~same)
        return int(different[-1]) + 1 if len(different) else 0

    # ---- phases ----
    def _keys(self, table: pa.Table) -> dict[str, pa.ChunkedArray]:
        return {g.to_attribute().column_key: evaluate(g, table) for g in self.grouping}

    def _group(self, columns: dict, specs: list[tuple], names: list[str]) -> pa.Table:
        """Group ``columns`` by the key columns and aggregate ``specs``, renamed to ``names``."""
        keys = [a.column_key for a in self.key_attrs]
        if not columns:
            columns = {"__empty": pa.array([], pa.int8())}
        # pyarrow's max skips NaN; Spark's ordering puts NaN above every other double
        nan_flags = {}
        for col, fn, *_ in specs:
            if fn == "max" and col and pa.types.is_floating(columns[col].type) and col not in nan_flags:
                nan_flags[col] = f"{col}__nan"
                columns[nan_flags[col]] = pc.is_nan(columns[col])
        extra = [(flag, "any") for flag in nan_flags.values()]
        grouped = pa.table(columns).group_by(keys, use_threads=False).aggregate(specs + extra)
        produced = [f"{col}_{fn}" if col else fn for col, fn, *_ in specs]
        out = {k: grouped.column(k) for k in keys}
        for name, p, (col, fn, *_) in zip(names, produced, specs):
            column = grouped.column(p)
            if fn == "max" and col in nan_flags:
                any_nan = pc.fill_null(grouped.column(f"{nan_flags[col]}_any"), False)
                column = pc.if_else(any_nan, pa.scalar(float("nan"), column.type), column)
            out[name] = column
        return pa.table(out)

    def _partial(self, table: pa.Table) -> pa.Table:
        columns = self._keys(table)
        specs, names = [], []
        for i, (fn, attrs) in enumerate(zip(self.functions, self.buffer_attrs)):
            col = f"_in{i}"
            columns[col] = evaluate(fn.child, table) if not _counts_rows(fn) else pa.nulls(table.num_rows, pa.int8())
            for buffer, attr in zip(buffer_names(fn), attrs):
                if buffer == "count" and _counts_rows(fn):
                    specs.append(([], "count_all"))
                elif buffer == "count":
                    specs.append((col, "count", _COUNT_VALID))
                else:
                    specs.append((col, buffer))
                names.append(attr.column_key)
        if _counts_rows_only(specs):
            columns.setdefault("__rows", pa.nulls(table.num_rows, pa.int8()))
        return self._group(columns, specs, names)

    def _merge_states(self, table: pa.Table) -> pa.Table:
        """Combine the partial buffers of each group into one row of buffers: compiled
        (``engine.codegen.merge_aggregate``) over integer-like keys and numeric buffers, else
        pyarrow's grouped aggregation."""
        keys = [a.column_key for a in self.key_attrs]
        merges = [(attr.column_key, "sum" if buffer in ("sum", "count") else buffer)
                  for fn, attrs in zip(self.functions, self.buffer_attrs)
                  for buffer, attr in zip(buffer_names(fn), attrs)]
        merged = merge_states(table, keys, merges)
        if merged is not None:
            return merged
        columns = {k: table.column(k) for k in keys} | {column: table.column(column) for column, _ in merges}
        specs = list(merges)
        names = [column for column, _ in merges]
        if not specs:
            columns.setdefault("__rows", pa.nulls(table.num_rows, pa.int8()))
        return self._group(columns, specs, names)

    def _finish(self, merged: pa.Table) -> pa.Table:
        """Final phase: each function's value from a group's merged buffers."""
        values = {a.column_key: merged.column(a.column_key) for a in self.key_attrs}
        for fn, attrs, result in zip(self.functions, self.buffer_attrs, self.result_attrs):
            buffers = [merged.column(a.column_key) for a in attrs]
            values[result.column_key] = _finish(fn, buffers, result)
        return pa.table(values) if values else merged.select([])

    def _complete(self, table: pa.Table) -> pa.Table:
        columns = self._keys(table)
        specs, names = [], []
        for i, (fn, result) in enumerate(zip(self.functions, self.result_attrs)):
            col = f"_in{i}"
            columns[col] = evaluate(fn.child, table)
            if fn.distinct and fn.name == "count":
                specs.append((col, "count_distinct", _COUNT_VALID))
            elif fn.distinct and fn.name in ("sum", "avg"):
                specs.append((col, "distinct", _COUNT_VALID))
            elif fn.name == "count":
                specs.append((col, "count", _COUNT_VALID))
            else:
                specs.append((col, "mean" if fn.name == "avg" else fn.name))
            names.append(result.column_key)
        grouped = self._group(columns, specs, names)
        values = {a.column_key: grouped.column(a.column_key) for a in self.key_attrs}
        for fn, result in zip(self.functions, self.result_attrs):
            column = grouped.column(result.column_key)
            if fn.distinct and fn.name in ("sum", "avg"):
                column = _aggregate_lists(column, fn.name)
            if fn.name == "count":
                column = pc.fill_null(column, 0)
            values[result.column_key] = column.cast(result.data_type.to_arrow())
        return pa.table(values) if values else grouped.select([])

    def _results(self, table: pa.Table) -> pa.Table:
        return project(self.result_expressions, table)

    def arguments(self) -> str:
        keys = attrs_string(self.grouping)
        fns = ", ".join(("partial_" if self.mode == "partial" else "") + f.render(True) for f in self.functions)
        out = attrs_string(self.output)
        return f"(keys={keys}, functions=[{fns}], output={out})"

    def simple_string(self) -> str:
        return f"HashAggregate{self.arguments()}"


class AdaptiveCompaction:
    """The final aggregate's compaction of its buffered states, which gives up when it does not pay.

    Merging the states buffered so far shrinks the buffer when map tasks sent the same keys; when
    their keys are mostly distinct (a high-cardinality group-by, such as one group per order) a
    compaction removes few rows, and every later one would merge the same rows again, only for the
    last merge to do it once more. So after a compaction that removed less than ``min_reduction``
    of its rows, the states are left as they are until the end.
    """

    def __init__(self, merge: Callable[[pa.Table], pa.Table], min_reduction: float):
        if not 0 <= min_reduction <= 1:
            raise ValueError(f"{COMPACTION_MIN_REDUCTION} must be between 0 and 1, not {min_reduction}")
        self.merge, self.min_reduction = merge, min_reduction
        self.stopped = False

    def __call__(self, states: pa.Table) -> pa.Table:
        if self.stopped:
            return states
        merged = self.merge(states)
        if merged.num_rows > (1 - self.min_reduction) * states.num_rows:
            self.stopped = True
        return merged


def _fixed_width(data_type: pa.DataType) -> int:
    try:
        return max(1, data_type.bit_width // 8)
    except ValueError:  # strings, binary, nested: no fixed width
        return _VARIABLE_WIDTH_BYTES


def _counts_rows(fn: AggregateFunction) -> bool:
    """``count(1)``/``count(*)``: counts rows, whatever the values."""
    return fn.name == "count" and not fn.distinct and isinstance(fn.child, Literal) and fn.child.value is not None


def _counts_rows_only(specs) -> bool:
    return not specs or all(s[1] == "count_all" for s in specs)


def _finish(fn: AggregateFunction, buffers, result: AttributeReference):
    target = result.data_type.to_arrow()
    if fn.name == "count":
        return pc.fill_null(buffers[0], 0).cast(target)
    if fn.name == "avg":
        total, count = buffers
        count = pc.if_else(pc.equal(count, 0), pa.scalar(None, count.type), count)
        return pc.divide(total.cast(pa.float64()), count.cast(pa.float64()))
    return buffers[0].cast(target)


def _aggregate_lists(column, name: str):
    """sum/avg over each group's list of distinct values."""
    lists = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    parents = pc.list_parent_indices(lists)
    flat = pc.list_flatten(lists)
    fn = "sum" if name == "sum" else "mean"
    per_group = pa.table({"g": parents, "v": flat}).group_by("g").aggregate([("v", fn)])
    out = [None] * len(lists)
    for g, v in zip(per_group.column("g").to_pylist(), per_group.column(f"v_{fn}").to_pylist()):
        out[g] = v
    return pa.array(out, type=pa.float64() if name == "avg" else flat.type)
