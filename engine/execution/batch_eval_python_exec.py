"""BatchEvalPythonExec: runs row-at-a-time Python UDFs (``functions.udf``), one call per row.

This is the operator Spark users learn to avoid: every value crosses into Python as an object and
back, one call per row, outside any compiled stage. Its name in plans and event logs is Spark's,
so the analyzer's python_udf diagnosis finds it in Ember's logs as it does in a cluster's:

    BatchEvalPython [score(id#1)#5], [pythonUDF0#7]
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.expressions import PythonUDF
from engine.execution.eval_python_exec import EvalPythonExec
from engine.execution.python_runner import run_batched_udf


@dataclass(eq=False)
class BatchEvalPythonExec(EvalPythonExec):
    def evaluate_udf(self, udf: PythonUDF, args: list, num_rows: int) -> pa.Array:
        return run_batched_udf(udf, args, num_rows)
