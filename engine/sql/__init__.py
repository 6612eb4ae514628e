"""``engine.sql``: PySpark's API on Ember's engine. A PySpark script ports by changing one import:

    from engine.sql import SparkSession, functions as F

Names load on first use, so the planner's modules can import ``engine.sql.types`` without
pulling in the whole API.
"""
import importlib

_EXPORTS = {
    "SparkSession": "engine.sql.session",
    "DataFrame": "engine.sql.dataframe",
    "Column": "engine.sql.column",
    "Row": "engine.sql.types",
    "AnalysisException": "engine.sql.errors",
    "ParseException": "engine.sql.errors",
    "SparkException": "engine.sql.errors",
    "StorageLevel": "engine.storage",
}

__all__ = [*_EXPORTS, "functions", "types"]


def __getattr__(name: str):
    if name in ("functions", "types"):
        return importlib.import_module(f"engine.sql.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine.sql' has no attribute {name!r}")
