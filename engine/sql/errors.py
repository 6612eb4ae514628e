"""The exceptions a user of ``engine.sql`` sees, named as PySpark names them."""
from __future__ import annotations

import difflib


class AnalysisException(Exception):
    """The query cannot be analysed: a column, function or type that does not fit the data."""


class ParseException(AnalysisException):
    """A SQL expression string that does not parse; the message points at the position."""


class SparkException(Exception):
    """A job failed while running (Spark's ``org.apache.spark.SparkException``)."""


class PythonException(Exception):
    """A Python UDF raised while a task ran it (PySpark's ``PythonException``); the message names
    the UDF and carries the user's traceback, and the task fails with it."""


def unresolved_column(name: str, available: list[str]) -> AnalysisException:
    """Spark's UNRESOLVED_COLUMN error: names the column, suggests the closest, lists the rest."""
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
    if not close:
        close = [a for a in available if a.lower() == name.lower()]
    suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(f"`{a}`" for a in available)
    return AnalysisException(
        f"[UNRESOLVED_COLUMN] A column with name `{name}` cannot be resolved.{suggestion} "
        f"Available columns: [{listed}]."
    )
