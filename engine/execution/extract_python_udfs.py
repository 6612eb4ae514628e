"""ExtractPythonUDFs: takes Python UDF calls out of a Project or Filter into an operator below it.

Spark's rule of the same name. A Python function cannot run inside a compiled stage, so each call
is evaluated by a BatchEvalPython (``udf``) or ArrowEvalPython (``pandas_udf``) operator that
appends its result as a column, and the expression above reads that column instead::

    Project [score(id#1) AS s#2]           Project [pythonUDF0#7 AS s#2]
    +- Range (0, 10, ...)          ->      +- BatchEvalPython [score(id#1)#5], [pythonUDF0#7]
                                              +- Range (0, 10, ...)

Calls are taken innermost first: ``f(g(x))`` needs g's result as f's argument, so g gets an
operator below f's. One operator holds calls of one eval type, as in Spark; a plan mixing ``udf``
and ``pandas_udf`` gets one operator of each. Equal calls (the same function on the same
arguments) are evaluated once.
"""
from __future__ import annotations

from engine.catalyst.expressions import AttributeReference, Expression, PythonEvalType, PythonUDF
from engine.execution.arrow_eval_python_exec import ArrowEvalPythonExec
from engine.execution.batch_eval_python_exec import BatchEvalPythonExec
from engine.execution.eval_python_exec import EvalPythonExec
from engine.execution.spark_plan import SparkPlan


def extract_python_udfs(expressions: tuple[Expression, ...], child: SparkPlan,
                        max_records_per_batch: int) -> tuple[tuple[Expression, ...], SparkPlan]:
    """``expressions`` with every Python UDF call replaced by an EvalPython operator's result
    column, and the new child that computes them (``child`` itself when there is no call)."""
    while True:
        ready = _calls_without_nested_calls(expressions)
        if not ready:
            return expressions, child
        eval_type = ready[0].eval_type
        calls = tuple(dict.fromkeys(c for c in ready if c.eval_type == eval_type))
        results = tuple(AttributeReference(f"pythonUDF{i}", c.data_type, True) for i, c in enumerate(calls))
        child = _eval_python(eval_type, calls, results, child, max_records_per_batch)
        by_call = dict(zip(calls, results))
        expressions = tuple(e.transform_up(lambda n: by_call.get(n, n) if isinstance(n, PythonUDF) else n)
                            for e in expressions)


def _calls_without_nested_calls(expressions) -> list[PythonUDF]:
    return [n for e in expressions for n in e.walk()
            if isinstance(n, PythonUDF)
            and not any(isinstance(m, PythonUDF) for a in n.args for m in a.walk())]


def _eval_python(eval_type: int, calls, results, child: SparkPlan, max_records_per_batch: int) -> EvalPythonExec:
    if eval_type == PythonEvalType.SQL_SCALAR_PANDAS_UDF:
        return ArrowEvalPythonExec(calls, results, child, max_records_per_batch)
    return BatchEvalPythonExec(calls, results, child)
