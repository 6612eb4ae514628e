"""``engine.sql``: PySpark's API on Ember's engine. A PySpark script ports by changing one import:

    from engine.sql import SparkSession, functions as F
"""
from engine.sql import functions
from engine.sql.column import Column
from engine.sql.dataframe import DataFrame
from engine.sql.errors import AnalysisException, ParseException, SparkException
from engine.sql.session import SparkSession
from engine.sql.types import Row
from engine.storage import StorageLevel

__all__ = ["SparkSession", "DataFrame", "Column", "Row", "functions", "AnalysisException", "ParseException",
           "SparkException", "StorageLevel"]
