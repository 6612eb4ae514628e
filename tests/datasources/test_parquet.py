"""Reading Parquet: Ember's types, column pruning, partition constants, files from Spark and DuckDB."""
from __future__ import annotations

import datetime as dt
import decimal
import os

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.catalyst.expressions import Comparison, Literal
from engine.catalyst.logical import PartitionedFile
from engine.datasources.listing import list_files
from engine.datasources.parquet import infer_parquet_schema, read_parquet_split, row_groups_in_range
from engine.datasources.scan import PartitionColumn, ScanColumn
from engine.datasources.schema import infer_schema
from engine.datasources.splits import FileSplit
from engine.sql.errors import AnalysisException
from engine.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from .conftest import FIXTURES
from .helpers import write_parquet


def whole(f: PartitionedFile) -> list[FileSplit]:
    return [FileSplit(f, 0, f.size)]


def cols(schema, prefix="_"):
    return [ScanColumn(n, t.to_arrow(), f"{prefix}{n}") for n, t in schema]


def test_file_types_become_embers_types(tmp_path):
    paris = dt.datetime(2024, 1, 31, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    table = pa.table({
        "i8": pa.array([1, None], pa.int8()),
        "i16": pa.array([-2, 3], pa.int16()),
        "u32": pa.array([4_000_000_000, 0], pa.uint32()),
        "f32": pa.array([1.5, None], pa.float32()),
        "dec": pa.array([decimal.Decimal("10.25"), decimal.Decimal("-3.10")], pa.decimal128(10, 2)),
        "ls": pa.array(["a", None], pa.large_string()),
        "dict": pa.array(["x", "y"]).dictionary_encode(),
        "ts_ns_tz": pa.array([paris, None], pa.timestamp("ns", tz="Europe/Paris")),
        "ts_ms": pa.array([dt.datetime(2024, 1, 1, 0, 0, 0, 123000), None], pa.timestamp("ms")),
        "d": pa.array([dt.date(2024, 1, 31), None], pa.date32()),
        "b": pa.array([True, None]),
    })
    f = write_parquet(str(tmp_path / "types.parquet"), table)
    schema = infer_parquet_schema([f.path])
    assert schema == [("i8", IntegerType()), ("i16", IntegerType()), ("u32", LongType()), ("f32", DoubleType()),
                      ("dec", DecimalType(10, 2)), ("ls", StringType()), ("dict", StringType()),
                      ("ts_ns_tz", TimestampType()), ("ts_ms", TimestampType()), ("d", DateType()), ("b", BooleanType())]

    out, m = read_parquet_split(whole(f), cols(schema))
    assert out.schema == pa.schema([pa.field(f"_{n}", t.to_arrow()) for n, t in schema])
    assert out.to_pydict() == {
        "_i8": [1, None], "_i16": [-2, 3], "_u32": [4_000_000_000, 0], "_f32": [1.5, None], "_dec": [10.25, -3.1],
        "_ls": ["a", None], "_dict": ["x", "y"],
        "_ts_ns_tz": [dt.datetime(2024, 1, 31, 10, 0), None],  # the instant, in UTC
        "_ts_ms": [dt.datetime(2024, 1, 1, 0, 0, 0, 123000), None], "_d": [dt.date(2024, 1, 31), None],
        "_b": [True, None],
    }
    assert (m.files_read, m.records_read, m.row_groups_total) == (1, 2, 1)


def test_column_pruning_missing_columns_names_and_partition_constants(tmp_path):
    f = write_parquet(str(tmp_path / "a.parquet"), pa.table({"Id": [1, 2, 3], "name": ["a", "b", "c"],
                                                             "wide": ["x" * 1000] * 3}))
    f = PartitionedFile(f.path, f.size, (2024, None))
    columns = [("name", pa.string(), "_n"), ("id", pa.int64(), "_i"), ("absent", pa.float64(), "_x")]
    parts = [PartitionColumn("year", pa.int32(), "_y", 0), PartitionColumn("region", pa.string(), "_r", 1)]
    out, m = read_parquet_split(whole(f), columns, parts)
    assert out.column_names == ["_n", "_i", "_x", "_y", "_r"]
    assert out.to_pydict() == {"_n": ["a", "b", "c"], "_i": [1, 2, 3], "_x": [None] * 3, "_y": [2024] * 3,
                               "_r": [None] * 3}
    assert out.schema.field("_y").type == pa.int32()
    md = pq.ParquetFile(f.path).metadata
    assert m.bytes_read == md.row_group(0).column(0).total_compressed_size + md.row_group(0).column(1).total_compressed_size

    # count(*): no columns at all, still the number of rows
    out, m = read_parquet_split(whole(f), [])
    assert (out.num_columns, out.num_rows, m.bytes_read) == (0, 3, 0)

    # a filter on a partition column skips the whole file without opening it
    out, m = read_parquet_split(whole(f), columns, parts, (Comparison("=", _attr("year"), Literal.of(2023)),))
    assert (out.num_rows, m.files_pruned, m.files_read) == (0, 1, 0)


def _attr(name):
    from engine.catalyst.expressions import AttributeReference
    return AttributeReference(name, IntegerType())


def test_ranges_of_one_file_in_one_task_read_each_row_group_once(tmp_path):
    f = write_parquet(str(tmp_path / "rg.parquet"), pa.table({"v": pa.array(range(10_000), pa.int64())}),
                      row_group_size=1000, compression="none")
    md = pq.ParquetFile(f.path).metadata
    third = f.size // 3
    splits = [FileSplit(f, 0, third), FileSplit(f, third, third), FileSplit(f, 2 * third, f.size - 2 * third)]
    groups = [row_groups_in_range(md, s.start, s.end) for s in splits]
    assert sorted(g for gs in groups for g in gs) == list(range(10))
    out, m = read_parquet_split(splits, [("v", pa.int64(), "_v")])
    assert sorted(out.column("_v").to_pylist()) == list(range(10_000))
    assert m.files_read == 1 and m.row_groups_total == 10


def test_unsupported_column_type_is_a_clear_error(tmp_path):
    f = write_parquet(str(tmp_path / "bin.parquet"), pa.table({"b": pa.array([b"\x00"], pa.binary())}))
    with pytest.raises(AnalysisException, match=r"UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE.*`b`"):
        infer_parquet_schema([f.path])
    with pytest.raises(AnalysisException, match="UNABLE_TO_INFER_SCHEMA"):
        infer_parquet_schema([])


def test_reads_the_table_spark_wrote_as_spark_reads_it(spark_expected):
    root = os.path.join(FIXTURES, "spark", "partitioned")
    files, partition_schema = list_files([root], "parquet")
    data_schema = infer_schema("parquet", files)
    assert [[n, t.simpleString()] for n, t in data_schema + partition_schema] == spark_expected["partitioned"]["schema"]

    columns = cols(data_schema, "d_")
    parts = [PartitionColumn(n, t.to_arrow(), f"p_{n}", i) for i, (n, t) in enumerate(partition_schema)]
    splits = [FileSplit(f, 0, f.size) for f in files]
    out, m = read_parquet_split(splits, columns, parts)
    rows = sorted((list(r.values()) for r in out.to_pylist()), key=lambda r: r[0])
    want = [[_from_json(v, t) for v, (_, t) in zip(r, data_schema + partition_schema)]
            for r in spark_expected["partitioned"]["rows"]]
    assert rows == want  # INT96 timestamps, decimals, escaped and null partition values included
    assert m.files_read == len(files) == 4


def _from_json(v, t):
    if v is None:
        return None
    if isinstance(t, DecimalType):
        return float(v)
    if isinstance(t, TimestampType):
        return dt.datetime.fromisoformat(v)
    if isinstance(t, DateType):
        return dt.date.fromisoformat(v)
    return v


def test_reads_parquet_written_by_duckdb_and_skips_its_row_groups(tmp_path):
    path = str(tmp_path / "duck.parquet")
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT i::BIGINT AS id, 'n' || i AS name, (i * 0.5)::DECIMAL(12,2) AS price,
                           DATE '2024-01-01' + (i % 30)::INTEGER AS day,
                           CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 5)::INTEGER END AS k
                         FROM range(20000) t(i))
                    TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 2048)""")
    f = PartitionedFile(path, os.path.getsize(path))
    schema = infer_parquet_schema([path])
    assert [t for _, t in schema] == [LongType(), StringType(), DecimalType(12, 2), DateType(), IntegerType()]
    id_attr = _typed_attr("id", LongType())
    out, m = read_parquet_split(whole(f), cols(schema), pushed_filters=(Comparison(">=", id_attr, Literal.of(18000)),))
    assert m.row_groups_skipped >= 5 and m.row_groups_total == pq.ParquetFile(path).metadata.num_row_groups
    ours = sorted(tuple(r.values()) for r in out.to_pylist() if r["_id"] >= 18000)
    theirs = con.execute(f"SELECT id, name, price::DOUBLE, day, k FROM '{path}' WHERE id >= 18000 ORDER BY id").fetchall()
    assert ours == theirs


def _typed_attr(name, t):
    from engine.catalyst.expressions import AttributeReference
    return AttributeReference(name, t)


def test_dictionary_columns_keep_the_files_dictionary_pages(tmp_path):
    one = write_parquet(str(tmp_path / "one.parquet"), pa.table({"flag": ["A", "R", None, "A"], "n": [1, 2, 3, 4]}))
    two = write_parquet(str(tmp_path / "two.parquet"), pa.table({"flag": ["N", "A"], "n": [5, 6]}))
    columns = [("FLAG", pa.string(), "_f"), ("n", pa.int64(), "_n"), ("n", pa.string(), "_s")]
    out, _ = read_parquet_split([*whole(one), *whole(two)], columns, dictionary_columns=frozenset({"_f", "_s"}))
    # the asked string column arrives encoded (the two files' dictionaries differ, and combine);
    # a column asked for that is not a string in Ember's schema is conformed as always
    assert out.schema.field("_f").type == pa.dictionary(pa.int32(), pa.string())
    assert out.column("_f").combine_chunks().to_pylist() == ["A", "R", None, "A", "N", "A"]
    assert out.schema.field("_n").type == pa.int64() and out.schema.field("_s").type == pa.string()
    # every other read sees plain strings
    plain, _ = read_parquet_split(whole(one), columns)
    assert plain.schema.field("_f").type == pa.string()


def test_dictionary_columns_are_plain_where_files_disagree(tmp_path):
    encoded = write_parquet(str(tmp_path / "a.parquet"), pa.table({"flag": ["A", "R"]}))
    large = write_parquet(str(tmp_path / "b.parquet"), pa.table({"flag": pa.array(["N"], pa.large_string())}))
    lacking = write_parquet(str(tmp_path / "c.parquet"), pa.table({"other": [1]}))
    out, _ = read_parquet_split([*whole(encoded), *whole(large), *whole(lacking)], [("flag", pa.string(), "_f")],
                                dictionary_columns=frozenset({"_f"}))
    assert out.schema == pa.schema([pa.field("_f", pa.string())])
    assert out.column("_f").to_pylist() == ["A", "R", "N", None]
