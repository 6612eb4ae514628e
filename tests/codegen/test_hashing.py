"""Spark-compatible Murmur3 hashing, checked against numbers computed by real Spark.

Every expected value below came from pyspark 4.3's ``hash()`` (Murmur3Hash, seed 42), computed
once by tests/codegen/spark_hash_reference.py (local[1], session time zone UTC) and pasted here,
so the suite does not start a JVM.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest

from engine.codegen.hashing import INTERPRET_MAX_ROWS, hash_columns, partition_ids

# (Arrow array, the values Spark's hash() gave for them), one row per SQL literal in the script
SPARK = {
    "int": (pa.array([0, 1, -1, 42, 2**31 - 1, -(2**31), None], pa.int32()),
            [933211791, -559580957, -1604776387, 29417773, 133916647, 723455942, 42]),
    "long": (pa.array([0, 1, -1, 2**40, 2**63 - 1, -(2**63)], pa.int64()),
             [-1670924195, -1712319331, -939490007, -1596767687, -1604625029, -853646085]),
    "double": (pa.array([0.0, -0.0, 1.5, -2.25, 1e300, math.nan, math.inf, -math.inf]),
               [-1670924195, -1670924195, 1290763749, 170083257, -359479591, -1281358385, 833680482,
                461104036]),
    "bool": (pa.array([True, False]), [-559580957, 933211791]),
    "date": (pa.array([dt.date(1970, 1, 1), dt.date(2024, 2, 29), dt.date(1900, 1, 1)]),
             [933211791, 653915859, -28786220]),
    "timestamp": (pa.array([0, 1704112496789123, -1], pa.timestamp("us")), [-1670924195, -54556287, -939490007]),
    "string": (pa.array(["", "a", "ab", "abc", "abcd", "hello world", "héllo", "日本語", "\U0001F642 ok",
                         "The quick brown fox jumps over the lazy dog!", None]),
               [142593372, 1485273170, -97053317, 1322437556, -396302900, -1528836094, 1212979866,
                -1143049834, -485843681, -138237206, 42]),
}

# hash(c1, c2, ...) of several columns: each column's hash seeds the next, nulls are skipped
SPARK_MULTI = [
    ([pa.array([7], pa.int32()), pa.array(["x"])], -1387796086),
    ([pa.array([None], pa.int32()), pa.array([7], pa.int32())], 1079293707),
    ([pa.array([7], pa.int32()), pa.array([None], pa.int32())], 1079293707),
    ([pa.array([-5], pa.int64()), pa.array([2.5]), pa.array(["héllo"]), pa.array([True])], 1089684690),
    ([pa.array([dt.date(2024, 2, 29)]), pa.array([1704112496789123], pa.timestamp("us"))], -619336987),
]


@pytest.mark.parametrize("kind", list(SPARK))
def test_single_columns_match_spark(kind):
    """Interpreted (a few rows) and compiled (more than INTERPRET_MAX_ROWS), the same numbers."""
    arr, expected = SPARK[kind]
    got = hash_columns([arr])
    assert got.dtype == np.int32
    assert got.tolist() == expected
    copies = INTERPRET_MAX_ROWS // len(arr) + 1
    many = pa.concat_arrays([arr] * copies)
    assert hash_columns([many]).tolist() == expected * copies


@pytest.mark.parametrize("case", range(len(SPARK_MULTI)))
def test_chained_columns_match_spark(case):
    arrays, expected = SPARK_MULTI[case]
    assert hash_columns(arrays).tolist() == [expected]


def test_rows_of_several_columns_hash_independently():
    # rows 2 and 3 of SPARK_MULTI stacked, plus a row of nulls (which keeps the seed, 42)
    first = pa.array([None, 7, None], pa.int32())
    second = pa.array([7, None, None], pa.int32())
    assert hash_columns([first, second]).tolist() == [1079293707, 1079293707, 42]
    strings = pa.array(["x", None, "x"])
    assert hash_columns([pa.array([7, 7, None], pa.int32()), strings]).tolist() == [
        -1387796086, hash_columns([pa.array([7], pa.int32())])[0],
        hash_columns([pa.array(["x"])])[0]]


def test_sliced_chunked_and_other_layouts_hash_like_plain_arrays():
    strings, expected = SPARK["string"]
    assert hash_columns([strings.slice(3, 6)]).tolist() == expected[3:9]
    assert hash_columns([strings.cast(pa.large_string())]).tolist() == expected
    assert hash_columns([strings.dictionary_encode()]).tolist() == expected
    assert hash_columns([pa.chunked_array([strings.slice(0, 4), strings.slice(4)])]).tolist() == expected
    ints, int_expected = SPARK["int"]
    assert hash_columns([ints.slice(5)]).tolist() == int_expected[5:]          # validity mid-byte
    bools, bool_expected = SPARK["bool"]
    many = pa.concat_arrays([bools] * 9).slice(3)                               # bit-packed, offset
    assert hash_columns([many]).tolist() == (bool_expected * 9)[3:]
    longs, long_expected = SPARK["long"]
    assert hash_columns([longs.cast(pa.timestamp("us"))]).tolist() == long_expected


def test_partition_ids_are_spark_pmod_of_the_hash():
    arr, expected = SPARK["string"]
    for n in (1, 2, 7, 200):
        assert partition_ids([arr], n).tolist() == [h % n for h in expected]   # Python % is pmod
    assert partition_ids([arr], 7).dtype == np.int32


def test_edge_cases():
    assert hash_columns([]).tolist() == []
    assert hash_columns([pa.array([], pa.int64())]).tolist() == []
    assert hash_columns([pa.nulls(3, pa.string())]).tolist() == [42, 42, 42]
    assert hash_columns([pa.nulls(2)]).tolist() == [42, 42]
    with pytest.raises(ValueError, match="differ in length"):
        hash_columns([pa.array([1, 2]), pa.array([1])])
    with pytest.raises(TypeError, match="not supported"):
        hash_columns([pa.array([[1]])])
    with pytest.raises(ValueError):
        partition_ids([pa.array([1])], 0)
