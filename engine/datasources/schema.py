"""The data schema of a file relation: the user's, or inferred from the files by format."""
from __future__ import annotations

from typing import Sequence

from engine.catalyst.logical import PartitionedFile
from engine.datasources.csv import infer_csv_schema
from engine.datasources.options import OptionsLike
from engine.datasources.parquet import infer_parquet_schema
from engine.sql.errors import AnalysisException
from engine.sql.types import DataType, StructType, parse_schema

FORMATS = ("parquet", "csv")


def check_format(format: str) -> str:
    """The format name, lower-cased, or Spark's error for an unknown one."""
    name = format.lower()
    if name not in FORMATS:
        raise AnalysisException(f"[DATA_SOURCE_NOT_FOUND] Failed to find the data source: {format}. "
                                f"Ember reads and writes: {', '.join(FORMATS)}.")
    return name


def user_schema(schema: StructType | str | None) -> StructType | None:
    """A schema given to ``spark.read.schema(...)``: a StructType or a DDL string."""
    if schema is None or isinstance(schema, StructType):
        return schema
    return parse_schema(schema)


def infer_schema(format: str, files: Sequence[PartitionedFile], options: OptionsLike = None,
                 schema: StructType | str | None = None) -> list[tuple[str, DataType]]:
    """The data columns ``(name, type)`` of ``files``: the given schema if any, else inferred.

    Parquet takes the first file's schema (Spark without ``mergeSchema``); CSV follows the
    ``header`` / ``inferSchema`` options (see ``csv``). No files and no schema is Spark's
    ``[UNABLE_TO_INFER_SCHEMA]`` error.

    >>> infer_schema("csv", files, {"header": "true", "inferSchema": "true"})   # doctest: +SKIP
    [('id', IntegerType()), ('name', StringType())]
    """
    fmt = check_format(format)
    given = user_schema(schema)
    if given is not None:
        return [(f.name, f.dataType) for f in given.fields]
    paths = [f.path for f in files]
    if fmt == "parquet":
        return infer_parquet_schema(paths)
    return infer_csv_schema(paths, options)
