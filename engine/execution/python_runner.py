"""Calling Python UDFs over a batch of rows: Spark's PythonUDFRunner and ArrowPythonRunner.

Spark ships rows to separate Python worker processes and back. Ember's tasks already run in
Python, so the function is called in the task's own process (an executor thread or an executor
process). What stays is the cost that makes a row-at-a-time UDF slow, and that a vectorized one
avoids:

- ``udf`` (``SQL_BATCHED_UDF``): every argument value becomes a Python object and every row is one
  call; the results are converted back to an Arrow column of the declared type.
- ``pandas_udf`` (``SQL_SCALAR_PANDAS_UDF``): one call per Arrow batch of at most
  ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows, with each argument as a pandas Series;
  the returned Series must have one value per row. Values are cast unsafely to the declared type
  (Spark's ``spark.sql.execution.pandas.convertToArrowArraySafely=false``) and NaN becomes null.

A function that raises fails the task with a ``PythonException`` that names the UDF and carries
the user's traceback without the engine's frames, as PySpark shows the worker's traceback.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import traceback

import pyarrow as pa

from engine.catalyst.expressions import PythonEvalType, PythonUDF
from engine.sql.errors import PythonException

DEFAULT_MAX_RECORDS_PER_BATCH = 10_000  # spark.sql.execution.arrow.maxRecordsPerBatch

_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python_udf(udf: PythonUDF, args: list, num_rows: int,
                   max_records_per_batch: int = DEFAULT_MAX_RECORDS_PER_BATCH) -> pa.Array:
    """The values of ``udf`` for ``num_rows`` rows whose arguments are the arrays ``args``, called
    as its ``eval_type`` says (used where a call was not extracted into an EvalPython operator)."""
    if udf.eval_type == PythonEvalType.SQL_SCALAR_PANDAS_UDF:
        return run_scalar_pandas_udf(udf, args, num_rows, max_records_per_batch)
    return run_batched_udf(udf, args, num_rows)


def run_batched_udf(udf: PythonUDF, args: list, num_rows: int) -> pa.Array:
    """One call of ``udf.func`` per row, with Python values (None for null)."""
    func = udf.func
    rows = zip(*(a.to_pylist() for a in args)) if args else itertools.repeat((), num_rows)
    with python_errors(udf):
        results = [func(*row) for row in rows]
    target = udf.data_type.to_arrow()
    try:
        return pa.array(results, type=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as e:
        raise PythonException(f"Python UDF {udf.udf_name} returned a value that is not "
                              f"{udf.data_type.simpleString()}, its declared return type: {e}") from e


def run_scalar_pandas_udf(udf: PythonUDF, args: list, num_rows: int,
                          max_records_per_batch: int) -> pa.Array:
    """One call of ``udf.func`` per batch of rows, each argument a pandas Series; a batch size of
    zero or less means one batch for all the rows, as in Spark."""
    target = udf.data_type.to_arrow()
    step = max_records_per_batch if max_records_per_batch > 0 else max(num_rows, 1)
    chunks = []
    for start in range(0, num_rows, step):
        length = min(step, num_rows - start)
        series = [a.slice(start, length).to_pandas() for a in args]
        with python_errors(udf):
            result = udf.func(*series)
        chunks.append(_series_to_arrow(udf, result, length, target))
    return pa.concat_arrays(chunks) if chunks else pa.array([], type=target)


def _series_to_arrow(udf: PythonUDF, result, length: int, target: pa.DataType) -> pa.Array:
    import pandas as pd  # only jobs with a pandas_udf pay for importing pandas

    if not isinstance(result, pd.Series):
        raise PythonException(f"pandas_udf {udf.udf_name} must return a pandas.Series, "
                              f"but returned {type(result).__name__}")
    if len(result) != length:
        raise PythonException(f"pandas_udf {udf.udf_name}: result vector was not the required length: "
                              f"expected {length}, got {len(result)}")
    try:
        return pa.Array.from_pandas(result, type=target, safe=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as e:
        raise PythonException(f"pandas_udf {udf.udf_name} returned values that are not "
                              f"{udf.data_type.simpleString()}, its declared return type: {e}") from e


@contextlib.contextmanager
def python_errors(udf: PythonUDF):
    """Re-raise what the user's function raises as a PythonException naming the UDF."""
    try:
        yield
    except Exception as e:  # any error of user code fails the task, explained
        raise PythonException(_failure_message(udf, e)) from e


def _failure_message(udf: PythonUDF, e: Exception) -> str:
    """``An exception was thrown from the Python UDF f: ValueError: bad`` and the user's traceback."""
    user = traceback.TracebackException.from_exception(e)
    user.stack = traceback.StackSummary.from_list(
        [f for f in user.stack if not os.path.abspath(f.filename).startswith(_ENGINE_DIR)])
    return (f"An exception was thrown from the Python UDF {udf.udf_name}: {type(e).__name__}: {e}\n"
            + "".join(user.format()).rstrip("\n"))
