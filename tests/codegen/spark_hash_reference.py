"""Regenerate the expected values in test_hashing.py from real Spark (run by hand, not by pytest).

    PYSPARK_PYTHON=.venv/bin/python .venv/bin/python tests/codegen/spark_hash_reference.py

Each case is a list of SQL expressions; Spark's ``hash(...)`` (Murmur3Hash, seed 42) of them is
printed as a Python literal that test_hashing.py pastes in as its expected value.
"""
from __future__ import annotations

import pprint

# (label, SQL argument list) -- the label names the Arrow values the test hashes
CASES = [
    ("int 0", "CAST(0 AS INT)"),
    ("int 1", "CAST(1 AS INT)"),
    ("int -1", "CAST(-1 AS INT)"),
    ("int 42", "CAST(42 AS INT)"),
    ("int max", "CAST(2147483647 AS INT)"),
    ("int min", "CAST(-2147483648 AS INT)"),
    ("int null", "CAST(NULL AS INT)"),
    ("long 0", "CAST(0 AS BIGINT)"),
    ("long 1", "CAST(1 AS BIGINT)"),
    ("long -1", "CAST(-1 AS BIGINT)"),
    ("long 2^40", "CAST(1099511627776 AS BIGINT)"),
    ("long max", "CAST(9223372036854775807 AS BIGINT)"),
    ("long min", "CAST(-9223372036854775808 AS BIGINT)"),
    ("double 0.0", "CAST(0.0 AS DOUBLE)"),
    ("double -0.0", "CAST('-0.0' AS DOUBLE)"),
    ("double 1.5", "CAST(1.5 AS DOUBLE)"),
    ("double -2.25", "CAST(-2.25 AS DOUBLE)"),
    ("double 1e300", "CAST(1e300 AS DOUBLE)"),
    ("double NaN", "CAST('NaN' AS DOUBLE)"),
    ("double inf", "CAST('Infinity' AS DOUBLE)"),
    ("double -inf", "CAST('-Infinity' AS DOUBLE)"),
    ("bool true", "true"),
    ("bool false", "false"),
    ("date 1970-01-01", "DATE'1970-01-01'"),
    ("date 2024-02-29", "DATE'2024-02-29'"),
    ("date 1900-01-01", "DATE'1900-01-01'"),
    ("ts 0", "timestamp_micros(0)"),
    ("ts 1704112496789123", "timestamp_micros(1704112496789123)"),
    ("ts -1", "timestamp_micros(-1)"),
    ("str empty", "''"),
    ("str a", "'a'"),
    ("str ab", "'ab'"),
    ("str abc", "'abc'"),
    ("str abcd", "'abcd'"),
    ("str hello world", "'hello world'"),
    ("str héllo", "'héllo'"),
    ("str 日本語", "'日本語'"),
    ("str emoji", "'\U0001F642 ok'"),
    ("str long", "'The quick brown fox jumps over the lazy dog!'"),
    ("str null", "CAST(NULL AS STRING)"),
    ("multi int,str", "CAST(7 AS INT), 'x'"),
    ("multi null,int", "CAST(NULL AS INT), CAST(7 AS INT)"),
    ("multi int,null", "CAST(7 AS INT), CAST(NULL AS INT)"),
    ("multi long,double,str,bool", "CAST(-5 AS BIGINT), CAST(2.5 AS DOUBLE), 'héllo', true"),
    ("multi date,ts", "DATE'2024-02-29', timestamp_micros(1704112496789123)"),
]


def main() -> None:
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("ember-hash-reference")
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    try:
        select = ", ".join(f"hash({args}) AS c{i}" for i, (_, args) in enumerate(CASES))
        row = spark.sql(f"SELECT {select}").collect()[0]
        print("pyspark", spark.version)
        pprint.pprint({label: row[i] for i, (label, _) in enumerate(CASES)}, sort_dicts=False, width=100)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
