"""WholeStageCodegenExec: a chain of Filter and Project operators run as one compiled kernel.

Spark fuses the narrow operators of a pipeline into one generated function. Ember composes the
chain into one condition and one list of output expressions over the chain's input columns and
hands them to ``engine.codegen.pipeline``, which generates and compiles a numba function. When an
expression cannot be compiled (strings, Python UDFs...), the chain runs operator by operator
with pyarrow.compute instead, and ``explain`` says why.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.expressions import Alias, AttributeReference, conjunction
from engine.codegen.pipeline import CodegenUnsupported, compile_pipeline
from engine.execution.filter_exec import FilterExec
from engine.execution.metrics import SQLMetric, metric
from engine.execution.spark_plan import SparkPlan


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

    def _fuse(self):
        chain = []
        node = self.child
        while node.supports_codegen:
            chain.append(node)
            node = node.child
        source = node
        mapping = {a.expr_id: a for a in source.output}

        def substitute(e):
            return e.transform_up(lambda n: mapping.get(n.expr_id, n) if isinstance(n, AttributeReference) else n)

        conditions = []
        for op in reversed(chain):
            if isinstance(op, FilterExec):
                conditions.append(substitute(op.condition))
            else:
                mapping = {e.expr_id: substitute(e.child if isinstance(e, Alias) else e) for e in op.project_list}
        outputs = tuple(mapping[a.expr_id] for a in self.child.output)
        return chain, source, conjunction(conditions), outputs

    @property
    def source(self) -> SparkPlan:
        """The operator whose rows feed the kernel (a scan, an exchange, a join...)."""
        return self._fused[1]

    def pipeline(self):
        """The compiled kernel, compiling it on first use; None when the chain fell back."""
        with self._lock:
            if self._pipeline is None and self._fallback_reason is None:
                _, source, condition, outputs = self._fused
                try:
                    self._pipeline = compile_pipeline(tuple(source.output), condition, outputs)
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
        return kernel.source

    def execute_partition(self, index: int, ctx) -> pa.Table:
        kernel = self.pipeline()
        if kernel is None:
            return self.child.execute_partition(index, ctx)
        chain, source, _, _ = self._fused
        table = source.execute_partition(index, ctx)
        started = time.perf_counter()
        compiled_before = kernel.compile_ms
        arrays, kept = kernel.run_counted(table)
        ctx.add(self.metrics["pipelineTime"], int((time.perf_counter() - started) * 1000))
        ctx.add(self.metrics["compileTime"], int(kernel.compile_ms - compiled_before))
        if arrays:
            out = pa.Table.from_arrays(arrays, names=[a.column_key for a in self.output])
        else:
            out = table.select([]).slice(0, kept)
        for op in chain:
            ctx.add(op.metrics["numOutputRows"], out.num_rows)
        return out
