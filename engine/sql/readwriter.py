"""``spark.read`` and ``df.write``: Parquet and CSV, with Spark's options and save modes."""
from __future__ import annotations

from engine.sql.errors import AnalysisException


class DataFrameReader:
    def __init__(self, session):
        self._session = session
        self._options: dict[str, str] = {}
        self._schema = None
        self._format = "parquet"

    def format(self, source: str) -> DataFrameReader:
        self._format = source.lower()
        return self

    def option(self, key: str, value) -> DataFrameReader:
        self._options[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def options(self, **options) -> DataFrameReader:
        for k, v in options.items():
            self.option(k, v)
        return self

    def schema(self, schema) -> DataFrameReader:
        self._schema = schema
        return self

    def load(self, path=None, format: str | None = None, **options):  # noqa: A002
        if format:
            self._format = format.lower()
        self.options(**options)
        if path is None:
            raise AnalysisException("[UNABLE_TO_INFER_SCHEMA] load() needs a path")
        paths = [path] if isinstance(path, str) else list(path)
        if self._format not in ("parquet", "csv"):
            raise AnalysisException(f"[DATA_SOURCE_NOT_FOUND] Failed to find the data source: {self._format}. "
                                    "Ember reads parquet and csv.")
        from engine.sql.dataframe import DataFrame
        from engine.sql.file_relation import file_scan

        return DataFrame(self._session, file_scan(self._format, paths, self._options, self._schema))

    def parquet(self, *paths, **options):
        return self.load(list(paths), "parquet", **options)

    def csv(self, path, schema=None, sep=None, header=None, inferSchema=None, nullValue=None, **options):  # noqa: N803
        for key, value in (("sep", sep), ("header", header), ("inferSchema", inferSchema), ("nullValue", nullValue)):
            if value is not None:
                self.option(key, value)
        if schema is not None:
            self.schema(schema)
        return self.load(path, "csv", **options)


class DataFrameWriter:
    def __init__(self, df):
        self._df = df
        self._mode = "errorifexists"
        self._partition_by: list[str] = []
        self._options: dict[str, str] = {}
        self._format = "parquet"

    def mode(self, save_mode: str | None) -> DataFrameWriter:
        mode = (save_mode or "errorifexists").lower()
        if mode not in ("append", "overwrite", "ignore", "error", "errorifexists", "default"):
            raise ValueError(f"[INVALID_SAVE_MODE] Unknown save mode: {save_mode}. Accepted save modes are "
                             "'overwrite', 'append', 'ignore', 'error', 'errorifexists', 'default'.")
        self._mode = "errorifexists" if mode in ("error", "default") else mode
        return self

    def partitionBy(self, *cols) -> DataFrameWriter:  # noqa: N802
        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        self._partition_by = list(cols)
        return self

    def option(self, key: str, value) -> DataFrameWriter:
        self._options[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def options(self, **options) -> DataFrameWriter:
        for k, v in options.items():
            self.option(k, v)
        return self

    def format(self, source: str) -> DataFrameWriter:
        self._format = source.lower()
        return self

    def save(self, path: str, format: str | None = None, mode: str | None = None, partitionBy=None):  # noqa: A002, N803
        from engine.sql.file_relation import write_files

        if format:
            self._format = format.lower()
        if mode:
            self.mode(mode)
        if partitionBy:
            self.partitionBy(partitionBy)
        write_files(self._df, path, self._format, self._mode, self._partition_by, self._options)

    def parquet(self, path: str, mode: str | None = None, partitionBy=None, compression: str | None = None):  # noqa: N803
        if compression:
            self.option("compression", compression)
        self.save(path, "parquet", mode, partitionBy)

    def csv(self, path: str, mode: str | None = None, header=None, sep=None):
        if header is not None:
            self.option("header", header)
        if sep is not None:
            self.option("sep", sep)
        self.save(path, "csv", mode)
