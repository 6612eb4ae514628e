"""EvalPythonExec: what BatchEvalPython and ArrowEvalPython share (Spark's ``EvalPythonExec``).

The operator appends one column per Python UDF call to its child's rows: its output is the
child's output followed by ``result_attrs`` (``pythonUDF0``, ``pythonUDF1``...), which the Project
or Filter above reads instead of the call. It never takes part in whole-stage codegen, so the
operators above and below it are compiled as separate stages, as in Spark.

Metrics carry Spark's names. Ember calls the function in the task's own process (see
``python_runner``), so "data sent to Python workers" is the Arrow size of the argument columns
handed to Python and "data returned from Python workers" the Arrow size of the results; "time to
execute Python code" is the time spent calling the functions, conversions included.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.expressions import AttributeReference, PythonUDF
from engine.execution.evaluator import evaluate
from engine.execution.metrics import SQLMetric, metric
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class EvalPythonExec(SparkPlan):
    udfs: tuple[PythonUDF, ...]
    result_attrs: tuple[AttributeReference, ...]
    child: SparkPlan

    def __post_init__(self):
        super().__post_init__()
        if len(self.udfs) != len(self.result_attrs) or not self.udfs:
            raise ValueError(f"{self.node_name} needs one result column per UDF, and at least one UDF")

    def evaluate_udf(self, udf: PythonUDF, args: list, num_rows: int) -> pa.Array:
        """The values of one call for ``num_rows`` rows given its argument columns."""
        raise NotImplementedError(type(self).__name__)

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {
            "pythonDataSent": metric("data sent to Python workers", "size"),
            "pythonDataReceived": metric("data returned from Python workers", "size"),
            "pythonEvalTime": metric("time to execute Python code", "timing"),
        }

    @property
    def output(self):
        return tuple(self.child.output) + tuple(self.result_attrs)

    @property
    def output_ordering(self):
        return self.child.output_ordering

    def execute_partition(self, index: int, ctx) -> pa.Table:
        table = self.child.execute_partition(index, ctx)
        sent = received = 0
        started = time.perf_counter()
        for udf, attr in zip(self.udfs, self.result_attrs):
            args = [evaluate(a, table) for a in udf.args]
            result = self.evaluate_udf(udf, args, table.num_rows)
            sent += sum(a.nbytes for a in args)
            received += result.nbytes
            table = table.append_column(attr.column_key, result)
        ctx.add(self.metrics["pythonEvalTime"], int((time.perf_counter() - started) * 1000))
        ctx.add(self.metrics["pythonDataSent"], sent)
        ctx.add(self.metrics["pythonDataReceived"], received)
        ctx.add(self.metrics["numOutputRows"], table.num_rows)
        return table

    def arguments(self) -> str:
        calls = ", ".join(f"{udf}#{udf.result_id}" for udf in self.udfs)
        return f"[{calls}], {attrs_string(self.result_attrs)}"
