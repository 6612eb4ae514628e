"""Writing: save modes, Spark's layout and names, round trips read back by Ember and by DuckDB."""
from __future__ import annotations

import datetime as dt
import os
import re
import uuid

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.datasources.listing import list_files
from engine.datasources.parquet import read_parquet_split
from engine.datasources.csv import read_csv_split
from engine.datasources.scan import PartitionColumn
from engine.datasources.schema import infer_schema
from engine.datasources.splits import FileSplit
from engine.datasources.writer import (
    WriteStats,
    abort_job,
    commit_job,
    prepare_output,
    write_task_output,
)
from engine.sql.errors import AnalysisException
from engine.sql.types import parse_schema

from .helpers import touch

# the rows of the table Spark wrote in fixtures/spark/partitioned, as Ember holds them
SCHEMA = parse_schema("id bigint, name string, score double, price decimal(10,2), day date, ts timestamp, "
                      "year int, region string")
NAMES_AND_TYPES = [(f.name, f.dataType) for f in SCHEMA.fields]
ROWS = [
    (1, "a", 1.5, 10.25, dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 10), 2024, "emea"),
    (2, "b,c", None, -3.1, None, dt.datetime(2024, 2, 1, 0, 0, 0, 500000), 2024, "a/b:c"),
    (3, None, 2.0, None, dt.date(2023, 12, 1), None, 2023, None),
    (4, 'q"r', -0.5, 0.0, dt.date(2023, 6, 1), dt.datetime(2023, 6, 1, 23, 59, 59), 2023, ""),
    (5, "", 1e20, 99.99, dt.date(2024, 1, 1), dt.datetime(2024, 1, 1), None, "emea"),
]


def ember_table(rows) -> pa.Table:
    """Columns named by (made-up) column keys and typed as Ember stores them."""
    arrays = [pa.array([r[i] for r in rows], t.to_arrow()) for i, (_, t) in enumerate(NAMES_AND_TYPES)]
    return pa.Table.from_arrays(arrays, names=[f"_{i + 10}" for i in range(len(arrays))])


def read_back(path: str, fmt: str = "parquet", options=None) -> tuple[list, list]:
    files, partition_schema = list_files([path], fmt, options)
    data_schema = infer_schema(fmt, files, options)
    columns = [(n, t.to_arrow(), n) for n, t in data_schema]
    parts = [PartitionColumn(n, t.to_arrow(), n, i) for i, (n, t) in enumerate(partition_schema)]
    splits = [FileSplit(f, 0, f.size) for f in files]
    if fmt == "parquet":
        table, _ = read_parquet_split(splits, columns, parts)
    else:
        table, _ = read_csv_split(splits, columns, data_schema, options, parts)
    return data_schema + partition_schema, sorted(tuple(r.values()) for r in table.to_pylist())


def test_save_modes(tmp_path, spark_expected):
    out = str(tmp_path / "out")
    assert prepare_output(out, "errorifexists") and os.path.isdir(out)
    touch(os.path.join(out, "old.parquet"))
    with pytest.raises(AnalysisException) as e:
        prepare_output(out)
    assert str(e.value) == (f'[PATH_ALREADY_EXISTS] Path file:{out} already exists. Set mode as "overwrite" to '
                            'overwrite the existing path. SQLSTATE: 42K04')
    assert spark_expected["errors"]["path_exists"] == str(e.value).replace(str(tmp_path) + "/out",
                                                                           spark_expected["errors"]["tmp"] + "/exists")
    for mode in ("error", "default", "ErrorIfExists"):
        with pytest.raises(AnalysisException, match="PATH_ALREADY_EXISTS"):
            prepare_output(out, mode)
    assert prepare_output(out, "ignore") is False and os.listdir(out) == ["old.parquet"]
    assert prepare_output(out, "append") is True and os.listdir(out) == ["old.parquet"]
    assert prepare_output(out, "overwrite") is True and os.listdir(out) == []
    with pytest.raises(ValueError, match="Unknown save mode: upsert"):
        prepare_output(out, "upsert")


def test_unpartitioned_task_file_is_named_as_spark_names_it(tmp_path):
    job = str(uuid.uuid4())
    out = str(tmp_path / "t")
    stats = write_task_output(ember_table(ROWS), NAMES_AND_TYPES, out, "parquet", (), 3, job)
    assert [os.path.basename(f) for f in stats.files] == [f"part-00003-{job}-c000.snappy.parquet"]
    assert (stats.files_written, stats.rows_written, stats.partitions_written) == (1, 5, 0)
    assert stats.bytes_written == os.path.getsize(stats.files[0])
    schema = pq.read_schema(stats.files[0])
    assert schema.names == [n for n, _ in NAMES_AND_TYPES]  # real names, not column keys
    assert schema.field("price").type == pa.decimal128(10, 2)  # as Spark stores decimal(10,2)
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")  # TimestampType: UTC-adjusted
    assert pq.ParquetFile(stats.files[0]).metadata.row_group(0).column(0).compression == "SNAPPY"
    # an empty task writes nothing, unless asked to keep the schema
    assert write_task_output(ember_table([]), NAMES_AND_TYPES, out, "parquet", (), 4, job) == WriteStats()
    assert write_task_output(ember_table([]), NAMES_AND_TYPES, out, "parquet", (), 5, job, write_empty=True).rows_written == 0
    stats = write_task_output(ember_table(ROWS), NAMES_AND_TYPES, out, "parquet", (), 6, job, compression="zstd")
    assert stats.files[0].endswith(f"part-00006-{job}-c000.zstd.parquet")


def test_partition_by_layout_matches_spark_and_reads_back_as_spark_read_it(tmp_path, spark_expected):
    out = str(tmp_path / "sales")
    job = "3768364a-ed82-4dee-9083-5d1536d53456"  # the uuid of Spark's own job, to compare names too
    assert prepare_output(out, "overwrite")
    stats = write_task_output(ember_table(ROWS), NAMES_AND_TYPES, out, "parquet", ["year", "region"], 0, job)
    commit_job(out)

    dirs = sorted({os.path.relpath(os.path.dirname(f), out) for f in stats.files})
    assert dirs == spark_expected["partitioned"]["dirs"]  # "" and null -> default partition, a/b:c escaped
    assert sorted({os.path.basename(f) for f in stats.files}) == spark_expected["partitioned"]["file_names"]
    assert stats.partitions == frozenset(dirs) and stats.files_written == 4 and stats.rows_written == 5
    assert os.path.exists(os.path.join(out, "_SUCCESS"))
    assert pq.read_schema(stats.files[0]).names == ["id", "name", "score", "price", "day", "ts"]

    schema, rows = read_back(out)
    assert [[n, t.simpleString()] for n, t in schema] == spark_expected["partitioned"]["schema"]
    want = sorted(tuple(_from_json(v) for v in r) for r in spark_expected["partitioned"]["rows"])
    assert rows == want


def _from_json(v):
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT.*", v):
        return dt.datetime.fromisoformat(v)
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", v):
        return dt.date.fromisoformat(v)
    if isinstance(v, str) and re.fullmatch(r"-?\d+\.\d\d", v):
        return float(v)  # decimal(10,2), held as float64
    return v


def test_round_trip_over_several_tasks_compared_with_duckdb(tmp_path):
    out = str(tmp_path / "rt")
    prepare_output(out, "error")
    rows = [(i, f"n{i}", i / 4, round(i * 1.01, 2), dt.date(2024, 1, 1 + i % 28), dt.datetime(2024, 1, 1, i % 24),
             2020 + (i // 7) % 3, ["eu", "us", "apac"][i % 3]) for i in range(300)]
    job = str(uuid.uuid4())
    total = WriteStats()
    for task in range(3):
        total = total.merge(write_task_output(ember_table(rows[task::3]), NAMES_AND_TYPES, out, "parquet",
                                              ["year"], task, job))
    commit_job(out)
    assert (total.files_written, total.partitions_written, total.rows_written) == (9, 3, 300)

    schema, back = read_back(out)
    assert [n for n, _ in schema] == ["id", "name", "score", "price", "day", "ts", "region", "year"]
    assert back == sorted(r[:6] + (r[7], r[6]) for r in rows)

    duck = duckdb.connect().execute(
        f"SELECT id, name, score, price::DOUBLE, day, timezone('UTC', ts), region, year::INTEGER "
        f"FROM read_parquet('{out}/**/*.parquet', hive_partitioning=true) ORDER BY id").fetchall()
    assert duck == sorted(r[:6] + (r[7], r[6]) for r in rows)


def test_csv_write_with_partitions_and_header(tmp_path):
    out = str(tmp_path / "csv")
    stats = write_task_output(ember_table(ROWS), NAMES_AND_TYPES, out, "csv", ["year"], 1, "u-1",
                              options={"header": "true"})
    assert sorted(os.path.relpath(f, out) for f in stats.files) == [
        "year=2023/part-00001-u-1.c000.csv", "year=2024/part-00001-u-1.c000.csv",
        "year=__HIVE_DEFAULT_PARTITION__/part-00001-u-1.c000.csv"]
    schema, rows = read_back(out, "csv", {"header": "true", "inferSchema": "true"})
    assert [n for n, _ in schema] == ["id", "name", "score", "price", "day", "ts", "region", "year"]
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[3][1] == 'q"r' and rows[4][-1] is None and rows[1][7] == 2024


def test_partition_column_errors_and_abort(tmp_path):
    out = str(tmp_path / "x")
    with pytest.raises(AnalysisException, match="Partition column `nope` not found"):
        write_task_output(ember_table(ROWS), NAMES_AND_TYPES, out, "parquet", ["nope"])
    two = ember_table(ROWS).select([6, 7])
    with pytest.raises(AnalysisException, match="ALL_PARTITION_COLUMNS_NOT_ALLOWED"):
        write_task_output(two, NAMES_AND_TYPES[6:], out, "parquet", ["year", "REGION"])
    with pytest.raises(AnalysisException, match="DATA_SOURCE_NOT_FOUND"):
        write_task_output(ember_table(ROWS), NAMES_AND_TYPES, out, "orc")

    stats = write_task_output(ember_table(ROWS), NAMES_AND_TYPES, out, "parquet", ["Year"], 0, "job-a")
    keep = write_task_output(ember_table(ROWS), NAMES_AND_TYPES, out, "parquet", (), 0, "job-b")
    assert abort_job(out, "job-a") == stats.files_written
    assert [f.path for f in list_files([out], "parquet")[0]] == list(keep.files)
    assert not any(n.endswith(".tmp") for _, _, names in os.walk(out) for n in names)
