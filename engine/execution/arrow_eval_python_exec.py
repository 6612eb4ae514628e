"""ArrowEvalPythonExec: runs vectorized Python UDFs (``functions.pandas_udf``) on Arrow batches.

The function is called once per batch of at most ``spark.sql.execution.arrow.maxRecordsPerBatch``
rows with pandas Series, so the per-row cost of BatchEvalPython is gone; the operator still breaks
whole-stage codegen. Shown as Spark shows it, with the UDFs' eval type last:

    ArrowEvalPython [plus_one(id#1)#5], [pythonUDF0#7], 200
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.expressions import PythonEvalType, PythonUDF
from engine.execution.eval_python_exec import EvalPythonExec
from engine.execution.python_runner import DEFAULT_MAX_RECORDS_PER_BATCH, run_scalar_pandas_udf


@dataclass(eq=False)
class ArrowEvalPythonExec(EvalPythonExec):
    max_records_per_batch: int = DEFAULT_MAX_RECORDS_PER_BATCH

    def evaluate_udf(self, udf: PythonUDF, args: list, num_rows: int) -> pa.Array:
        return run_scalar_pandas_udf(udf, args, num_rows, self.max_records_per_batch)

    def arguments(self) -> str:
        return f"{super().arguments()}, {PythonEvalType.SQL_SCALAR_PANDAS_UDF}"
