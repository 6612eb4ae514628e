"""Split planning: hand-computed cases, then Spark 4's own plans for real Parquet files."""
from __future__ import annotations

import os

import pyarrow as pa
import pytest

from engine.catalyst.logical import PartitionedFile
from engine.datasources.parquet import read_parquet_split
from engine.datasources.splits import (
    FilePartition,
    FileSplit,
    max_split_bytes,
    plan_file_partitions,
)
from engine.sql.conf import parse_bytes

from .conftest import FIXTURES

MB = 1024 * 1024


def shape(partitions: list[FilePartition]) -> list[list[tuple[str, int, int]]]:
    return [[(s.file.path, s.start, s.length) for s in p.splits] for p in partitions]


def test_large_file_is_cut_and_ranges_packed_next_fit_decreasing():
    # total = 300 + 50 + 10 + 3 * 4 = 372 MB; / 2 cores = 186 MB; capped by maxPartitionBytes = 128 MB
    files = [PartitionedFile("a", 300 * MB), PartitionedFile("b", 50 * MB), PartitionedFile("c", 10 * MB)]
    assert max_split_bytes(files, 128 * MB, 4 * MB, 2) == 128 * MB
    parts = plan_file_partitions(files, 128 * MB, 4 * MB, 2)
    # ranges by length: a0 128, a1 128, b 50, a2 44, c 10. a0 then a1 each fill a partition (128 + 4 open
    # cost), b starts the third (54), a2 fits (98 + 4), c fits (112 <= 128)
    assert shape(parts) == [
        [("a", 0, 128 * MB)],
        [("a", 128 * MB, 128 * MB)],
        [("b", 0, 50 * MB), ("a", 256 * MB, 44 * MB), ("c", 0, 10 * MB)],
    ]
    assert [p.index for p in parts] == [0, 1, 2]


def test_small_files_are_packed_with_open_cost():
    # 10 files of 1 MB: total 10 * (1 + 4) = 50 MB / 2 = 25 MB per split; 5 files cost 25 MB
    files = [PartitionedFile(f"f{i}", MB) for i in range(10)]
    assert max_split_bytes(files, 128 * MB, 4 * MB, 2) == 25 * MB
    parts = plan_file_partitions(files, 128 * MB, 4 * MB, 2)
    assert [[s.file.path for s in p.splits] for p in parts] == [[f"f{i}" for i in range(5)],
                                                                 [f"f{i}" for i in range(5, 10)]]
    # spark.sql.files.maxPartitionNum=1 repacks with ceil(50 MB / 1) as the limit
    assert len(plan_file_partitions(files, 128 * MB, 4 * MB, 2, max_partition_num=1)) == 1


def test_more_cores_mean_smaller_splits_and_open_cost_is_a_floor():
    # 100 MB over 8 cores: (100 + 4) / 8 = 13 MB splits: 7 of 13 MB and one of 9 MB, one per partition
    parts = plan_file_partitions([PartitionedFile("big", 100 * MB)], 128 * MB, 4 * MB, 8)
    assert [p.total_bytes for p in parts] == [13 * MB] * 7 + [9 * MB]
    # tiny data: bytes per core below the open cost, so the open cost is the split size
    assert max_split_bytes([PartitionedFile("t", 1000)], 128 * MB, 4 * MB, 64) == 4 * MB


def test_unsplittable_files_stay_whole():
    files = [PartitionedFile("big.csv", 300 * MB), PartitionedFile("small.csv", MB)]
    parts = plan_file_partitions(files, 128 * MB, 4 * MB, 2, splitable=False)
    assert shape(parts) == [[("big.csv", 0, 300 * MB)], [("small.csv", 0, MB)]]
    parts = plan_file_partitions(files, 128 * MB, 4 * MB, 2, splitable=lambda f: f.path != "big.csv")
    assert shape(parts)[0] == [("big.csv", 0, 300 * MB)]


def test_parse_bytes_and_split_validation():
    assert parse_bytes("128m") == 128 * MB and parse_bytes("4MB") == 4 * MB and parse_bytes("1g") == 1024 * MB
    assert parse_bytes("1048576") == MB
    with pytest.raises(ValueError):
        parse_bytes("12 parsecs")
    with pytest.raises(ValueError):
        FileSplit(PartitionedFile("a", 10), 5, 6)


def _split_files_in_spark_listing_order(spark_expected) -> list[PartitionedFile]:
    # Spark listed the local directory in the file system's order, f2 before f1 before f0 (visible
    # from the tie order of equal-length ranges in its plans); with that order the plans are identical.
    order = ["f2.parquet", "f1.parquet", "f0.parquet", "f3.parquet", "f4.parquet"]
    sizes = spark_expected["file_sizes"]
    files = [PartitionedFile(os.path.join(FIXTURES, "split_files", n), os.path.getsize(os.path.join(FIXTURES, "split_files", n)))
             for n in order]
    assert {os.path.basename(f.path): f.size for f in files} == sizes  # the very files Spark planned
    return files


def test_plans_match_spark(spark_expected):
    files = _split_files_in_spark_listing_order(spark_expected)
    for case in spark_expected["splits"]:
        s = case["setting"]
        parts = plan_file_partitions(files, s["maxPartitionBytes"], s["openCostInBytes"], s["minPartitionNum"])
        ours = [[[os.path.basename(sp.file.path), sp.start, sp.length] for sp in p.splits] for p in parts]
        assert ours == case["partitions"], s

        # in name order only the ties can move: the same multiset of ranges per partition size
        by_name = plan_file_partitions(sorted(files, key=lambda f: f.path), s["maxPartitionBytes"],
                                       s["openCostInBytes"], s["minPartitionNum"])
        assert [sorted(sp.length for sp in p.splits) for p in by_name] == \
            [sorted(r[2] for r in p) for p in case["partitions"]]


def test_row_groups_go_to_the_range_holding_their_midpoint_as_in_spark(spark_expected):
    """Spark's rows per task come from parquet-mr's midpoint rule; ours must be the same."""
    files = _split_files_in_spark_listing_order(spark_expected)
    total_rows = 12000 + 6000 + 2000 + 500 + 100
    for case in spark_expected["splits"]:
        s = case["setting"]
        parts = plan_file_partitions(files, s["maxPartitionBytes"], s["openCostInBytes"], s["minPartitionNum"])
        seen: list[int] = []
        rows = []
        for p in parts:
            table, metrics = read_parquet_split(p.splits, [("id", pa.int64(), "_1")])
            rows.append(table.num_rows)
            seen.extend(table.column("_1").to_pylist())
            assert metrics.records_read == table.num_rows
        assert rows == case["rows"], s
        assert sorted(seen) == list(range(total_rows))  # every row group read once, none twice
