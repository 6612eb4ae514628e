"""CSV options, inference and parsing checked against Spark 4's answers; writing against Spark's file."""
from __future__ import annotations

import datetime as dt
import importlib.util
import math
import os

import pyarrow as pa
import pytest

from engine.catalyst.logical import PartitionedFile
from engine.datasources.csv import CSVOptions, header_names, infer_csv_schema, read_csv_split, write_csv_file
from engine.datasources.schema import infer_schema
from engine.datasources.splits import FileSplit
from engine.sql.errors import AnalysisException, SparkException
from engine.sql.types import DateType, DecimalType, DoubleType, IntegerType, StringType, TimestampType, parse_type

from .conftest import FIXTURES
from .helpers import touch

_spec = importlib.util.spec_from_file_location("make_spark_fixtures", os.path.join(FIXTURES, "make_spark_fixtures.py"))
make_spark_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_spark_fixtures)


def read_all(paths, options=None, schema=None):
    """Read CSV files the way a scan would: schema, then one split per file."""
    files = [PartitionedFile(p, os.path.getsize(p)) for p in paths]
    data_schema = infer_schema("csv", files, options, schema)
    columns = [(n, t.to_arrow(), f"c{i}") for i, (n, t) in enumerate(data_schema)]
    table, metrics = read_csv_split([FileSplit(f, 0, f.size) for f in files], columns, data_schema, options)
    return data_schema, table, metrics


def spark_value(v, type_name):
    if v is None:
        return None
    if type_name.startswith("decimal"):
        return float(v)
    if type_name == "timestamp":
        return dt.datetime.fromisoformat(v)
    if type_name == "date":
        return dt.date.fromisoformat(v)
    if type_name == "double" and isinstance(v, str):
        return float(v)  # "nan", "inf" as the fixture script recorded them
    return v


def same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def assert_matches_spark(schema, table, answer):
    assert [[n, t.simpleString()] for n, t in schema] == answer["schema"]
    types = [t for _, t in answer["schema"]]
    want = [[spark_value(v, t) for v, t in zip(row, types)] for row in answer["rows"]]
    got = [list(r.values()) for r in table.to_pylist()]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert all(same(x, y) for x, y in zip(g, w)), (g, w)


def test_infer_schema_and_values_match_spark(tmp_path, spark_expected):
    path = touch(str(tmp_path / "infer.csv"), make_spark_fixtures.CSV_TEXT)
    schema, table, m = read_all([path], {"header": "true", "inferSchema": "true"})
    # int, bigint, decimal(20,0) beyond bigint, double ("-1e3", " 2"), NaN/Inf, date, date+timestamp
    # -> timestamp, boolean in any case, int+date -> string, empty column -> string, quoted values
    assert_matches_spark(schema, table, spark_expected["csv_infer"])
    assert (m.files_read, m.records_read, m.bytes_read) == (1, 3, os.path.getsize(path))


def test_strings_by_default_and_null_value_option_match_spark(tmp_path, spark_expected):
    path = touch(str(tmp_path / "infer.csv"), make_spark_fixtures.CSV_TEXT)
    schema, table, _ = read_all([path], {"HEADER": True})
    assert_matches_spark(schema, table, spark_expected["csv_strings"])

    path = touch(str(tmp_path / "na.csv"), make_spark_fixtures.CSV_NA_TEXT)
    schema, table, _ = read_all([path], {"sep": ";", "nullValue": "NA", "inferSchema": "true"})
    assert_matches_spark(schema, table, spark_expected["csv_na"])


def test_reads_the_csv_spark_wrote(spark_expected):
    root = os.path.join(FIXTURES, "spark", "csv_out")
    paths = [os.path.join(root, n) for n in sorted(os.listdir(root)) if n.endswith(".csv")]
    schema, table, _ = read_all(paths, {"header": "true", "inferSchema": "true"})
    assert_matches_spark(schema, table, spark_expected["csv_out"])


def test_writes_csv_as_spark_writes_it(tmp_path):
    spark_file = next(os.path.join(FIXTURES, "spark", "csv_out", n) for n in os.listdir(os.path.join(FIXTURES, "spark", "csv_out"))
                      if n.endswith(".csv"))
    table = pa.table({
        "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "name": ["a", "b,c", None, 'q"r', ""],
        "score": [1.5, None, 2.0, -0.5, 1e20],
        "price": [10.25, -3.1, None, 0.0, 99.99],
        "day": pa.array([dt.date(2024, 1, 31), None, dt.date(2023, 12, 1), dt.date(2023, 6, 1), dt.date(2024, 1, 1)]),
        "ts": pa.array([dt.datetime(2024, 1, 31, 10), dt.datetime(2024, 2, 1, 0, 0, 0, 500000), None,
                        dt.datetime(2023, 6, 1, 23, 59, 59), dt.datetime(2024, 1, 1)], pa.timestamp("us")),
    })
    types = [parse_type(t) for t in ("bigint", "string", "double", "decimal(10,2)", "date", "timestamp")]
    out = str(tmp_path / "ember.csv")
    size = write_csv_file(table, out, {"header": "true"}, types)
    with open(spark_file) as a, open(out) as b:
        assert b.read() == a.read()  # byte for byte what Spark wrote for the same rows
    assert size == os.path.getsize(out)

    schema, back, _ = read_all([out], {"header": "true", "inferSchema": "true"})
    assert [t for _, t in schema] == [IntegerType(), StringType(), DoubleType(), DoubleType(), DateType(), TimestampType()]
    assert back.column("c1").to_pylist() == ["a", "b,c", None, 'q"r', None]  # "" reads back as null, as in Spark
    assert back.column("c5").to_pylist() == table.column("ts").to_pylist()


def test_header_names_quote_escape_and_user_schema(tmp_path):
    assert header_names(["a", "", "A", "b"]) == ["a0", "_c1", "A2", "b"]
    path = touch(str(tmp_path / "q.csv"), "x|y|x\n'a|b'|'\\'c'|3\n'it''s'|d|4\n")
    schema, table, _ = read_all([path], {"header": True, "sep": "|", "quote": "'", "inferSchema": True})
    assert schema == [("x0", StringType()), ("y", StringType()), ("x2", IntegerType())]
    assert table.to_pydict() == {"c0": ["a|b", "it's"], "c1": ["'c", "d"], "c2": [3, 4]}

    path = touch(str(tmp_path / "t.csv"), "1\t2024-01-31\tx\textra\n2\tnot a date\ty\tmore\n")
    schema, table, _ = read_all([path], {"sep": "\\t"}, "a int, d date, s string")
    assert table.to_pydict() == {"c0": [1, 2], "c1": [dt.date(2024, 1, 31), None], "c2": ["x", "y"]}
    _, table, _ = read_all([path], {"sep": "\t"}, "a bigint, d string, s string, e string, missing double")
    assert table.column("c4").to_pylist() == [None, None]

    with pytest.raises(AnalysisException, match="UNABLE_TO_INFER_SCHEMA"):
        infer_csv_schema([], {})
    assert CSVOptions.parse({"quote": "", "escape": ""}).quote is None


def test_malformed_rows_by_mode(tmp_path):
    path = touch(str(tmp_path / "m.csv"), "a,b,c\n1,2,3\n4,5\n6,7,8,9\n")
    _, table, _ = read_all([path], {"header": "true", "inferSchema": "true"})
    assert table.to_pydict() == {"c0": [1, 4, 6], "c1": [2, 5, 7], "c2": [3, None, 8]}  # PERMISSIVE
    _, table, _ = read_all([path], {"header": "true", "mode": "DROPMALFORMED"})
    assert table.to_pydict() == {"c0": ["1"], "c1": ["2"], "c2": ["3"]}
    with pytest.raises(SparkException, match="FAILFAST"):
        read_all([path], {"header": "true", "mode": "FAILFAST"})


def test_multiline_values_and_timestamps_with_zones(tmp_path):
    path = touch(str(tmp_path / "ml.csv"), 'id,note,t\n1,"two\nlines",2024-01-31T10:00:00Z\n'
                                           '2,x,2024-01-31 12:00:00+02:00\n3,y,2024-01-31T10:00:00.123456\n')
    schema, table, _ = read_all([path], {"header": True, "multiLine": True, "inferSchema": True})
    assert schema == [("id", IntegerType()), ("note", StringType()), ("t", TimestampType())]
    assert table.column("c1").to_pylist() == ["two\nlines", "x", "y"]
    assert table.column("c2").to_pylist() == [dt.datetime(2024, 1, 31, 10), dt.datetime(2024, 1, 31, 10),
                                              dt.datetime(2024, 1, 31, 10, 0, 0, 123456)]


def test_several_files_skip_each_header_and_empty_files(tmp_path):
    a = touch(str(tmp_path / "a.csv"), "id,v\n1,99999999999\n")
    b = touch(str(tmp_path / "b.csv"), "id,v\n2,3\n")
    c = touch(str(tmp_path / "c.csv"), "id,v\n")  # only a header
    schema, table, m = read_all([a, b, c], {"header": "true", "inferSchema": "true"})
    assert schema == [("id", IntegerType()), ("v", parse_type("bigint"))]
    assert table.to_pydict() == {"c0": [1, 2], "c1": [99999999999, 3]}
    assert m.files_read == 3 and m.records_read == 2
    # beyond bigint: decimal(p, 0), which Ember holds as float64
    d = touch(str(tmp_path / "d.csv"), "12345678901234567890123\n")
    assert infer_csv_schema([d], {"inferSchema": "true"}) == [("_c0", DecimalType(23, 0))]
