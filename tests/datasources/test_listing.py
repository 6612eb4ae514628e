"""Listing files and discovering partitions, checked against what Spark 4 does with the same layouts."""
from __future__ import annotations

import datetime as dt
import os

import pytest

from engine.datasources.listing import list_files
from engine.datasources.partitioning import (
    escape_path_name,
    infer_partition_value_type,
    java_double_string,
    partition_dir_name,
    unescape_path_name,
    wider_partition_type,
)
from engine.sql.errors import AnalysisException
from engine.sql.types import (
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    NullType,
    StringType,
    StructType,
    TimestampType,
)

from .helpers import rel, touch


def test_directory_is_listed_recursively_skipping_hidden_and_underscore_files(tmp_path):
    root = str(tmp_path / "t")
    for name in ("a.parquet", "sub/b.parquet", "sub/deeper/c.parquet"):
        touch(os.path.join(root, name))
    for hidden in ("_SUCCESS", ".a.parquet.crc", "_temporary/0/x.parquet", ".hidden/d.parquet",
                   "_metadata", "_common_metadata", "e.parquet._COPYING_"):
        touch(os.path.join(root, hidden))
    touch(os.path.join(root, "empty.parquet"), "")  # no rows: dropped, as Spark drops empty files

    files, partition_schema = list_files([root], "parquet")

    assert rel(root, files) == ["a.parquet", "sub/b.parquet", "sub/deeper/c.parquet"]
    assert partition_schema == []
    assert all(f.size == 2 and f.partition_values == () for f in files)


def test_file_paths_globs_and_file_scheme(tmp_path):
    root = str(tmp_path)
    for name in ("x/1.csv", "x/2.csv", "y/3.csv", "z/4.txt"):
        touch(os.path.join(root, name))

    files, _ = list_files([os.path.join(root, "x", "1.csv")], "csv")
    assert rel(root, files) == ["x/1.csv"]
    files, _ = list_files([os.path.join(root, "*", "*.csv")], "csv")
    assert rel(root, files) == ["x/1.csv", "x/2.csv", "y/3.csv"]
    files, _ = list_files([os.path.join(root, "{x,z}")], "csv")
    assert rel(root, files) == ["x/1.csv", "x/2.csv", "z/4.txt"]
    files, _ = list_files(["file://" + os.path.join(root, "y")], "csv")
    assert rel(root, files) == ["y/3.csv"]
    files, _ = list_files([root], "csv", {"pathGlobFilter": "*.txt"})
    assert rel(root, files) == ["z/4.txt"]


def test_missing_path_raises_spark_error(tmp_path, spark_expected):
    missing = str(tmp_path / "nope")
    with pytest.raises(AnalysisException) as e:
        list_files([missing], "parquet")
    assert str(e.value) == f"[PATH_NOT_FOUND] Path does not exist: file:{missing}. SQLSTATE: 42K03"
    # the same shape as Spark's message
    spark_message = spark_expected["errors"]["path_not_found"].replace(spark_expected["errors"]["tmp"], "<tmp>")
    assert spark_message == "[PATH_NOT_FOUND] Path does not exist: file:<tmp>/nope. SQLSTATE: 42K03"
    with pytest.raises(AnalysisException, match=r"\[PATH_NOT_FOUND\].*\*\.parquet"):
        list_files([str(tmp_path / "*.parquet")], "parquet")


def test_hive_partitions_are_discovered_and_typed(tmp_path):
    root = str(tmp_path / "sales")
    touch(os.path.join(root, "year=2024", "region=emea", "p0.parquet"))
    touch(os.path.join(root, "year=2024", "region=a%2Fb%3Ac", "p0.parquet"))
    touch(os.path.join(root, "year=2023", "region=__HIVE_DEFAULT_PARTITION__", "p0.parquet"))
    touch(os.path.join(root, "year=__HIVE_DEFAULT_PARTITION__", "region=emea", "p0.parquet"))
    touch(os.path.join(root, "_SUCCESS"))

    files, schema = list_files([root], "parquet")

    assert schema == [("year", IntegerType()), ("region", StringType())]
    by_dir = {os.path.relpath(os.path.dirname(f.path), root): f.partition_values for f in files}
    assert by_dir == {
        "year=2023/region=__HIVE_DEFAULT_PARTITION__": (2023, None),
        "year=2024/region=a%2Fb%3Ac": (2024, "a/b:c"),
        "year=2024/region=emea": (2024, "emea"),
        "year=__HIVE_DEFAULT_PARTITION__/region=emea": (None, "emea"),
    }


def test_partition_type_inference_matches_spark(tmp_path, spark_expected):
    """Each case is a directory Spark read; the inferred type and the typed values must agree."""
    for case, answer in spark_expected["partition_inference"].items():
        raw_values = {  # the directory names the fixture script wrote, in order
            "ints": ["1", "2"], "longs": ["1", "3000000000"], "int_double": ["1", "1.5"],
            "long_double": ["3000000000", "1.5"], "dates": ["2024-01-31", "2024-02-01"],
            "date_ts": ["2024-01-31", "2024-01-31 10%3A00%3A00"], "ts": ["2024-01-31 10%3A00%3A00.5"],
            "strings": ["abc", "1"], "nulls": ["__HIVE_DEFAULT_PARTITION__", "5"],
            "all_null": ["__HIVE_DEFAULT_PARTITION__"], "decimal": ["12345678901234567890"],
            "escaped": ["a%2Fb%3Dc"], "int_date": ["1", "2024-01-31"], "signs": ["-5", "+7"], "exp": ["1e3"],
        }[case]
        root = str(tmp_path / case)
        for i, v in enumerate(raw_values):
            touch(os.path.join(root, f"k={v}", f"part{i}.csv"), f"{i}\n")
        files, schema = list_files([root], "csv")
        assert [t.simpleString() for _, t in schema] == [answer["type"]], case
        got = sorted((os.path.basename(f.path)[4:-4], _jsonable(f.partition_values[0])) for f in files)
        want = [(row[0], _spark_value(row[1], answer["type"])) for row in answer["rows"]]
        assert got == want, case


def _jsonable(v):
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


def _spark_value(v, type_name):
    if v is not None and type_name.startswith("decimal"):
        return float(v)  # Ember keeps decimals as float64
    return v


def test_partition_layouts_spark_rejects_or_ignores(tmp_path, spark_expected):
    layouts = spark_expected["layouts"]

    # a data file next to partition directories is not part of the table (Spark reads only k=1)
    root = str(tmp_path / "root_file")
    touch(os.path.join(root, "a.csv"))
    touch(os.path.join(root, "k=1", "b.csv"))
    files, schema = list_files([root], "csv")
    assert rel(root, files) == ["k=1/b.csv"] and schema == [("k", IntegerType())]
    assert layouts["root_file"]["result"] == [["x", 1]]

    root = str(tmp_path / "mixed")
    touch(os.path.join(root, "a=1", "x.csv"))
    touch(os.path.join(root, "b=2", "x.csv"))
    with pytest.raises(AnalysisException, match=r"^\[CONFLICTING_PARTITION_COLUMN_NAMES\] Conflicting partition"):
        list_files([root], "csv")
    assert layouts["mixed_names"]["error"].startswith("[CONFLICTING_PARTITION_COLUMN_NAMES] Conflicting partition")

    root = str(tmp_path / "undefined")
    touch(os.path.join(root, "k=1", "x.csv"))
    touch(os.path.join(root, "undefined", "x.csv"))
    with pytest.raises(AnalysisException) as e:
        list_files([root], "csv")
    spark_error = layouts["non_partition_dir"]["error"].replace(spark_expected["errors"]["tmp"] + "/layout_", "<root>/")
    ours = str(e.value).replace(str(tmp_path) + "/", "<root>/")
    assert sorted(ours.split("\n")) == sorted(spark_error.split("\n"))  # same text, suspicious paths in any order


def test_base_path_recursive_lookup_and_user_types(tmp_path):
    root = str(tmp_path / "t")
    touch(os.path.join(root, "d=2024-01-31", "h=07", "x.csv"))

    # reading a partition directory itself: its k=v is not a column unless basePath says so
    leaf = os.path.join(root, "d=2024-01-31")
    assert list_files([leaf], "csv")[1] == [("h", IntegerType())]
    files, schema = list_files([leaf], "csv", {"basePath": root})
    assert schema == [("d", DateType()), ("h", IntegerType())]
    assert files[0].partition_values == (dt.date(2024, 1, 31), 7)

    files, schema = list_files([root], "csv", {"recursiveFileLookup": "true"})
    assert schema == [] and files[0].partition_values == ()

    given = StructType().add("h", StringType()).add("x", StringType())
    files, schema = list_files([root], "csv", schema=given)
    assert schema == [("d", DateType()), ("h", StringType())] and files[0].partition_values[1] == "07"

    files, schema = list_files([root], "csv", type_inference=False)
    assert schema == [("d", StringType()), ("h", StringType())]

    with pytest.raises(AnalysisException, match="Wrong basePath"):
        list_files([root], "csv", {"basePath": str(tmp_path / "elsewhere")})


def test_partition_value_helpers():
    assert escape_path_name("a/b:c=d%") == "a%2Fb%3Ac%3Dd%25"
    assert unescape_path_name("a%2Fb%3Ac%3Dd%25") == "a/b:c=d%"
    assert unescape_path_name("100%") == "100%" and unescape_path_name("%zz") == "%zz"
    assert infer_partition_value_type("2024-01-31 10%3A00%3A00") == TimestampType()
    assert infer_partition_value_type("1.5d") == DoubleType()
    assert infer_partition_value_type("07") == IntegerType()
    assert wider_partition_type(IntegerType(), LongType()) == LongType()
    assert wider_partition_type(LongType(), DoubleType()) == StringType()
    assert wider_partition_type(NullType(), DateType()) == DateType()
    assert wider_partition_type(DateType(), TimestampType()) == TimestampType()
    assert [java_double_string(x) for x in (1.0, 1e20, -2.5e-5, 123456.789, float("nan"))] == \
        ["1.0", "1.0E20", "-2.5E-5", "123456.789", "NaN"]
    assert partition_dir_name("ts", dt.datetime(2024, 1, 31, 10, 0, 0, 500000), TimestampType()) == \
        "ts=2024-01-31 10%3A00%3A00.5"
    assert partition_dir_name("s", "", StringType()) == "s=__HIVE_DEFAULT_PARTITION__"
