"""WholeStageCodegenExec: a chain of Filter and Project operators, optionally topped by a partial
HashAggregate, run as one compiled kernel.

Spark fuses the narrow operators of a pipeline into one generated function. Ember composes the
chain into one condition and one list of output expressions over the chain's input columns and
hands them to ``engine.codegen.pipeline``, which generates and compiles a numba function. When
the top of the chain is a blocking operator (a partial aggregate: ``blocking_codegen``), the
operator compiles itself over the same condition, with the chain's projections substituted into
its keys and inputs (``compile_codegen``), and the stage outputs its partial buffers.

When an expression cannot be compiled (strings, Python UDFs...), the chain runs operator by
operator with pyarrow.compute instead, and ``explain`` says why. A stage whose top operator does
not support codegen at all (CollapseCodegenStages wraps a partial aggregate that cannot compile,
so that explain("codegen") shows its reason) only runs that operator.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.expressions import Alias, AttributeReference, conjunction
from engine.codegen.pipeline import CodegenUnsupported, compile_pipeline
from engine.execution.filter_exec import FilterExec
from engine.execution.metrics import SQLMetric, metric
from engine.execution.spark_plan import SparkPlan

# An aggregate streaming its input (``_source_tables``) takes pieces of at least this many rows:
# a Parquet row group of lineitem (1 Mi rows) alone, small files' pieces joined up to it.
STREAMED_BATCH_ROWS = 1 << 18


def is_blocking_codegen(node: SparkPlan) -> bool:
    """Whether ``node`` compiles as the top of a whole-stage kernel only (a partial aggregate)."""
    return node.supports_codegen and node.blocking_codegen


@dataclass(frozen=True, slots=True)
class _Fused:
    chain: tuple[SparkPlan, ...]      # the fused operators, top first
    source: SparkPlan                 # the operator whose rows feed the kernel
    condition: object                 # every filter of the chain, over the source's output
    outputs: tuple | None             # the top's output over the source's output (None: blocking top)
    substitute: object                # expression over the top's child -> over the source's output


@dataclass(eq=False)
class WholeStageCodegenExec(SparkPlan):
    child: SparkPlan
    codegen_stage_id: int

    def __post_init__(self):
        super().__post_init__()
        self._lock = threading.Lock()
        self._pipeline = None
        self._fallback_reason: str | None = None
        self._fused = self._fuse()

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {"pipelineTime": metric("duration", "timing"), "compileTime": metric("compile time", "timing")}

    @property
    def output(self):
        return self.child.output

    @property
    def output_ordering(self):
        return self.child.output_ordering

    @property
    def node_name(self) -> str:
        return f"WholeStageCodegen ({self.codegen_stage_id})"

    def _fuse(self) -> _Fused:
        top = self.child
        blocking = is_blocking_codegen(top)
        chain = [top] if blocking else []
        node = top.child if blocking else top
        while node.supports_codegen and not is_blocking_codegen(node):
            chain.append(node)
            node = node.child
        source = node
        mapping = {a.expr_id: a for a in source.output}

        def substitute(e):
            return e.transform_up(lambda n: mapping.get(n.expr_id, n) if isinstance(n, AttributeReference) else n)

        conditions = []
        for op in reversed(chain[1:] if blocking else chain):
            if isinstance(op, FilterExec):
                conditions.append(substitute(op.condition))
            else:
                mapping = {e.expr_id: substitute(e.child if isinstance(e, Alias) else e) for e in op.project_list}
        outputs = None if blocking or not chain else tuple(mapping[a.expr_id] for a in self.child.output)
        return _Fused(tuple(chain), source, conjunction(conditions), outputs, substitute)

    @property
    def source(self) -> SparkPlan:
        """The operator whose rows feed the kernel (a scan, an exchange, a join...)."""
        return self._fused.source

    def pipeline(self):
        """The compiled kernel (a ``CompiledPipeline``, or a ``CompiledAggregate`` under a blocking
        top), compiling it on first use; None when the stage falls back."""
        with self._lock:
            if self._pipeline is None and self._fallback_reason is None:
                fused = self._fused
                try:
                    if not fused.chain:
                        top = self.child
                        raise CodegenUnsupported(top.codegen_fallback_reason
                                                 or f"{top.node_name} does not support codegen")
                    if fused.outputs is None:
                        self._pipeline = fused.chain[0].compile_codegen(
                            tuple(fused.source.output), fused.condition, fused.substitute)
                    else:
                        self._pipeline = compile_pipeline(tuple(fused.source.output), fused.condition,
                                                          fused.outputs)
                except CodegenUnsupported as e:
                    self._fallback_reason = str(e)
            return self._pipeline

    @property
    def compile_ms(self) -> float:
        """Time spent compiling (or loading from the kernel cache) this stage's kernels so far."""
        kernel = self.pipeline()
        return kernel.compile_ms if kernel is not None else 0.0

    @property
    def compiled(self) -> bool:
        return self.pipeline() is not None

    @property
    def fallback_reason(self) -> str | None:
        self.pipeline()
        return self._fallback_reason

    def codegen_source(self) -> str:
        kernel = self.pipeline()
        if kernel is None:
            return f"/* not compiled, ran with pyarrow.compute: {self._fallback_reason} */"
        # an aggregate kernel is shown with what its generated names stand for
        return kernel.source if self._fused.outputs is not None else kernel.explain()

    def _read_source(self, kernel, index: int, ctx) -> pa.Table:
        """The source's rows for one partition. A compiled aggregate grouping by string columns
        takes them dictionary-encoded from a source that can hand them over so (a Parquet scan):
        it groups by the codes, and decoding only to encode again was most of a Q1 task's time.
        When the stage's bottom operator is a Filter over a source that can drop the rows its own
        pushed filters (taken from that Filter) rule out, the source may do so: the kernel
        evaluates the whole condition anyway, and a Parquet scan then decodes most columns only
        at the few rows a selective filter keeps (late materialization)."""
        return self._fused.source.execute_partition(index, ctx, **self._source_options(kernel))

    def _source_options(self, kernel) -> dict:
        source = self._fused.source
        options = {}
        wanted = kernel.dictionary_columns
        if wanted and getattr(source, "reads_dictionary_columns", False):
            options["dictionary_columns"] = wanted
        if isinstance(self._fused.chain[-1], FilterExec) and getattr(source, "filters_rows", False):
            options["filter_rows"] = True
        return options

    def _source_tables(self, kernel, index: int, ctx) -> Iterator[pa.Table]:
        """The source's rows for one partition as the partial aggregate takes them. From a source
        that reads in pieces (a Parquet scan: a row group each), a piece at a time when the
        aggregate indexes its groups directly (``indexes_groups_directly`` on the first piece), so
        the task holds one row group, not its whole input: a Q1 task's peak memory falls from its
        split's decoded columns to a row group's. Small pieces (small files) go together up to
        ``STREAMED_BATCH_ROWS``, so that a task still sends few partial rows. Otherwise, or from
        another source, in one table: a hash aggregate merges more keys over its whole input."""
        source = self._fused.source
        options = self._source_options(kernel)
        if not hasattr(source, "execute_partition_pieces"):
            yield source.execute_partition(index, ctx, **options)
            return
        pieces = source.execute_partition_pieces(index, ctx, **options)
        first = next(pieces)
        if not kernel.indexes_groups_directly(first):
            yield source.combine_pieces([first, *pieces])
            return
        stream = itertools.chain([first], pieces)
        del first
        batch, rows = [], 0
        for piece in stream:
            batch.append(piece)
            rows += piece.num_rows
            del piece
            if rows >= STREAMED_BATCH_ROWS:
                yield source.combine_pieces(batch)
                batch, rows = [], 0
        if batch:
            yield source.combine_pieces(batch)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        kernel = self.pipeline()
        if kernel is None:
            return self.child.execute_partition(index, ctx)
        return self._run_kernel(kernel, self._read_source(kernel, index, ctx), ctx)

    def execute_batches(self, index: int, ctx):
        """The partition as a stream of tables, for a consumer that buffers under a memory
        reservation (a shuffle write). Under a partial aggregate, the aggregate decides how many
        rows its hash map takes at once (``HashAggregateExec.partial_batches``), and each slice's
        states go downstream as they are made; any other stage gives its partition whole."""
        kernel = self.pipeline()
        top = self.child
        if kernel is None:
            yield from (top.execute_batches(index, ctx) if hasattr(top, "execute_batches")
                        else [top.execute_partition(index, ctx)])
        elif self._fused.outputs is None:
            for table in self._source_tables(kernel, index, ctx):
                yield from top.partial_batches(table, ctx, lambda rows: self._run_kernel(kernel, rows, ctx),
                                               scratch_bytes_per_row=kernel.partition_bytes_per_row)
                del table   # not held while the source reads the next piece
        else:
            yield self.execute_partition(index, ctx)

    def _run_kernel(self, kernel, table: pa.Table, ctx) -> pa.Table:
        fused = self._fused
        started = time.perf_counter()
        compiled_before = kernel.compile_ms
        if fused.outputs is None:
            arrays, kept, scratch = kernel.run_measured(table)
        else:
            (arrays, kept), scratch = kernel.run_counted(table), 0
        ctx.add(self.metrics["pipelineTime"], int((time.perf_counter() - started) * 1000))
        ctx.add(self.metrics["compileTime"], int(kernel.compile_ms - compiled_before))
        if arrays:
            out = pa.Table.from_arrays(arrays, names=[a.column_key for a in self.output])
        else:
            out = table.select([]).slice(0, kept)
        if fused.outputs is None:
            # the input batch, the hash table's groups and what radix partitioning moved
            ctx.observe_memory(table.nbytes + out.nbytes + scratch)
        # the top's rows are the stage's; every operator below it passed on the rows that were kept
        ctx.add(fused.chain[0].metrics["numOutputRows"], out.num_rows)
        for op in fused.chain[1:]:
            ctx.add(op.metrics["numOutputRows"], kept)
        return out
