"""Writing a DataFrame to files: Spark's ``FileFormatWriter`` and its commit protocol, simplified.

A write job is three calls:

1. ``prepare_output(path, mode)`` on the driver applies the save mode: ``errorifexists`` (the
   default; ``error`` and ``default`` too) raises ``[PATH_ALREADY_EXISTS]`` when the path exists,
   ``overwrite`` removes it first, ``append`` adds to it, ``ignore`` returns False to say "skip
   the write" when it exists.
2. ``write_task_output(...)`` in every task writes the task's rows: one file per task and
   partition-value combination, named as Spark names them
   (``part-00003-<job uuid>.c000.snappy.parquet``), inside Hive directories ``k=v`` for the
   ``partitionBy`` columns, which are not stored in the files. Files carry the real column names.
3. ``commit_job(path)`` writes the ``_SUCCESS`` marker (``abort_job`` removes a failed job's files).

Unlike Spark's ``FileOutputCommitter`` there is no ``_temporary`` staging directory: each file is
written under a hidden name and renamed into place, so readers never see half a file, but a job
that fails midway leaves its finished files until ``abort_job`` removes them.

Types are written as Spark would: decimals (float64 inside Ember) as ``decimal(p,s)`` when the
values fit, timestamps as UTC-adjusted microseconds (Spark's ``TimestampType``), everything else
as Ember holds it.
"""
from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from engine.datasources.csv import write_csv_file
from engine.datasources.listing import qualified, strip_scheme
from engine.datasources.options import OptionsLike
from engine.datasources.parquet import COMPRESSION_EXTENSIONS, write_parquet_file
from engine.datasources.partitioning import partition_dir_name
from engine.datasources.schema import check_format
from engine.sql.errors import AnalysisException
from engine.sql.types import DataType, DecimalType, TimestampType

SAVE_MODES = ("overwrite", "append", "ignore", "error", "errorifexists", "default")
SUCCESS_MARKER = "_SUCCESS"


@dataclass(frozen=True, slots=True)
class WriteStats:
    """What a task (or, merged, a job) wrote: Spark's ``BasicWriteTaskStats``.

    ``partitions`` holds the partition directories written, relative to the output path, so
    that merging the stats of several tasks counts each directory once (``numParts``).
    """

    files: tuple[str, ...] = ()
    bytes_written: int = 0
    rows_written: int = 0
    partitions: frozenset[str] = field(default_factory=frozenset)

    @property
    def files_written(self) -> int:
        return len(self.files)

    @property
    def partitions_written(self) -> int:
        return len(self.partitions)

    def merge(self, other: WriteStats) -> WriteStats:
        return WriteStats(self.files + other.files, self.bytes_written + other.bytes_written,
                          self.rows_written + other.rows_written, self.partitions | other.partitions)


def prepare_output(path: str, mode: str = "errorifexists") -> bool:
    """Apply a save mode before a write; False means "do not write" (``ignore`` on an existing path)."""
    m = (mode or "errorifexists").lower()
    if m not in SAVE_MODES:
        raise ValueError(f"Unknown save mode: {mode}. Accepted save modes are 'overwrite', 'append', "
                         f"'ignore', 'error', 'errorifexists', 'default'.")
    target = strip_scheme(path)
    exists = os.path.lexists(target)
    if exists and m in ("error", "errorifexists", "default"):
        raise AnalysisException(f"[PATH_ALREADY_EXISTS] Path {qualified(target)} already exists. "
                                f"Set mode as \"overwrite\" to overwrite the existing path. SQLSTATE: 42K04")
    if exists and m == "ignore":
        return False
    if exists and m == "overwrite":
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.remove(target)
    os.makedirs(target, exist_ok=True)
    return True


def commit_job(path: str) -> None:
    """Mark a finished write with an empty ``_SUCCESS`` file, as Hadoop's committer does."""
    target = strip_scheme(path)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, SUCCESS_MARKER), "wb"):
        pass


def abort_job(path: str, job_uuid: str) -> int:
    """Remove the files a failed job wrote (their names carry its uuid); returns how many."""
    removed = 0
    for root, _, names in os.walk(strip_scheme(path)):
        for n in names:
            if job_uuid in n:
                os.remove(os.path.join(root, n))
                removed += 1
    return removed


def resolve_partition_columns(names: Sequence[str], partition_by: Sequence[str]) -> list[str]:
    """The data's own spelling of each ``partitionBy`` column; Spark's checks and errors."""
    out = []
    for p in partition_by:
        match = [n for n in names if n == p] or [n for n in names if n.lower() == p.lower()]
        if not match:
            raise AnalysisException(f"Partition column `{p}` not found in schema "
                                    f"struct<{','.join(names)}>.")
        out.append(match[0])
    if len(set(x.lower() for x in out)) != len(out):
        raise AnalysisException(f"[COLUMN_ALREADY_EXISTS] Found duplicate partition columns in {list(partition_by)}.")
    if out and len(out) == len(names):
        raise AnalysisException("[ALL_PARTITION_COLUMNS_NOT_ALLOWED] Cannot use all columns for partition columns.")
    return out


def output_file_name(task_partition: int, job_uuid: str, format: str, compression: str | None = None,
                     partitioned: bool = False) -> str:
    """Spark's name for a task's output file.

    Spark's single-directory writer names it ``part-00007-<uuid>-c000.snappy.parquet`` and its
    dynamic-partition writer ``part-00007-<uuid>.c000.snappy.parquet`` (``c000`` counts the files
    of a task in one directory; Ember writes one).
    """
    fmt = check_format(format)
    if fmt == "parquet":
        codec = (compression or "snappy").lower()
        if codec not in COMPRESSION_EXTENSIONS:
            raise ValueError(f"Codec [{compression}] is not available. Available codecs are "
                             f"{', '.join(sorted(COMPRESSION_EXTENSIONS))}.")
        ext = COMPRESSION_EXTENSIONS[codec] + ".parquet"
    else:
        if (compression or "none").lower() not in ("none", "uncompressed"):
            raise ValueError(f"Ember writes CSV uncompressed; got compression {compression!r}")
        ext = ".csv"
    return f"part-{task_partition:05d}-{job_uuid}{'.' if partitioned else '-'}c000{ext}"


def write_task_output(table: pa.Table, names_and_types: Sequence[tuple[str, DataType]], path: str,
                      format: str = "parquet", partition_by: Sequence[str] = (), task_attempt_id: int = 0,
                      job_uuid: str | None = None, compression: str | None = None, options: OptionsLike = None,
                      write_empty: bool = False) -> WriteStats:
    """Write one task's rows under ``path``; returns what was written.

    ``table`` holds Ember's columns (any names, e.g. column keys) in the order of
    ``names_and_types``, which gives the real column names and Spark types. ``task_attempt_id``
    is the task's partition index (Spark's ``part-%05d`` number). ``compression`` defaults to
    snappy for Parquet and none for CSV; ``options`` are the writer's options (CSV ``header``,
    ``sep``...). An empty task writes nothing unless ``write_empty`` (Spark writes one empty file
    for a job with no rows at all, so that the schema survives).

    >>> write_task_output(t, [("id", LongType()), ("day", DateType())], "/out", "parquet",
    ...                   partition_by=["day"], task_attempt_id=3, job_uuid=u)   # doctest: +SKIP
    WriteStats(files=('/out/day=2024-01-01/part-00003-<u>.c000.snappy.parquet',), ...)
    """
    fmt = check_format(format)
    if table.num_columns != len(names_and_types):
        raise ValueError(f"{table.num_columns} columns for {len(names_and_types)} names")
    job_uuid = job_uuid or str(uuid.uuid4())
    names = [n for n, _ in names_and_types]
    types = dict(names_and_types)
    partition_cols = resolve_partition_columns(names, partition_by)
    data = table.rename_columns(names)
    file_name = output_file_name(task_attempt_id, job_uuid, fmt, compression, partitioned=bool(partition_cols))
    root = strip_scheme(path)

    if not partition_cols:
        if data.num_rows == 0 and not write_empty:
            return WriteStats()
        written = _write_file(data, types, root, file_name, fmt, compression, options)
        return WriteStats((written[0],), written[1], data.num_rows)

    stats = WriteStats()
    data_names = [n for n in names if n not in partition_cols]
    data = _empty_strings_to_null(data, partition_cols)
    data, runs = _partition_runs(data, partition_cols)
    for start, length in runs:
        values = [data.column(c)[start].as_py() for c in partition_cols]
        rel = "/".join(partition_dir_name(c, v, types[c]) for c, v in zip(partition_cols, values))
        chunk = data.slice(start, length).select(data_names)
        file_path, size = _write_file(chunk, types, os.path.join(root, rel), file_name, fmt, compression, options)
        stats = stats.merge(WriteStats((file_path,), size, chunk.num_rows, frozenset([rel])))
    return stats


def _empty_strings_to_null(data: pa.Table, partition_cols: list[str]) -> pa.Table:
    """Spark's ``Empty2Null``: "" and null name the same directory, so they are one partition."""
    for c in partition_cols:
        col = data.column(c)
        if pa.types.is_string(col.type):
            i = data.column_names.index(c)
            data = data.set_column(i, c, pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col))
    return data


def _partition_runs(data: pa.Table, partition_cols: list[str]) -> tuple[pa.Table, list[tuple[int, int]]]:
    """The rows sorted by the partition columns (as Spark's writer sorts them) and the
    ``(start, length)`` runs of equal partition values in that order."""
    n = data.num_rows
    if n == 0:
        return data, []
    order = pc.sort_indices(data.select(partition_cols), sort_keys=[(c, "ascending", "at_start") for c in partition_cols])
    data_sorted = data.take(order)
    changed = pa.array([False] * max(n - 1, 0), pa.bool_())
    for c in partition_cols:
        col = data_sorted.column(c).combine_chunks()
        a, b = col.slice(1), col.slice(0, n - 1)
        differs = pc.or_(pc.xor(pc.is_null(a), pc.is_null(b)), pc.fill_null(pc.not_equal(a, b), False))
        changed = pc.or_(changed, differs)
    starts = [0] + [i + 1 for i in pc.indices_nonzero(changed).to_pylist()]
    ends = starts[1:] + [n]
    return data_sorted, [(s, e - s) for s, e in zip(starts, ends)]


def _write_file(table: pa.Table, types: dict[str, DataType], directory: str, file_name: str, fmt: str,
                compression: str | None, options: OptionsLike) -> tuple[str, int]:
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, file_name)
    staging = os.path.join(directory, f".{file_name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if fmt == "parquet":
            size = write_parquet_file(_spark_physical(table, types), staging, compression or "snappy")
        else:
            size = write_csv_file(table, staging, options, [types.get(n) for n in table.column_names])
        os.replace(staging, final)
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    return final, size


def _spark_physical(table: pa.Table, types: dict[str, DataType]) -> pa.Table:
    """Ember's columns as Spark would store them in Parquet (decimals, UTC timestamps)."""
    arrays, fields = [], []
    for name, column in zip(table.column_names, table.columns):
        t = types.get(name)
        if isinstance(t, DecimalType) and pa.types.is_floating(column.type):
            column = _to_decimal(column, t)
        elif isinstance(t, TimestampType) and pa.types.is_timestamp(column.type) and column.type.tz is None:
            column = column.cast(pa.timestamp("us", tz="UTC"))
        arrays.append(column)
        fields.append(pa.field(name, column.type, nullable=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _to_decimal(column, t: DecimalType):
    target = pa.decimal128(t.precision, t.scale)
    try:
        return pc.cast(pc.round(column, t.scale), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column  # values beyond the declared precision: keep them as doubles rather than lose them
