"""A Parquet scan read a piece (row group) at a time: the pieces join to the task's table, and an
aggregate whose groups are indexed by their keys takes its input a row group at a time, while a
hash aggregate still takes the whole task's input at once."""
from __future__ import annotations

import os

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.catalyst.logical import PartitionedFile
from engine.codegen.aggregate import CompiledAggregate
from engine.datasources import page_decoder_compile, parquet
from engine.datasources.parquet import concat_pieces, parquet_split_pieces, read_parquet_split
from engine.datasources.scan import ScanMetrics
from engine.datasources.splits import FileSplit
from engine.execution import whole_stage_codegen_exec
from engine.sql import functions as F
from engine.sql.session import SparkSession

ROW_GROUPS, GROUP_ROWS = 4, 1000


@pytest.fixture(autouse=True)
def native_reads_of_small_row_groups(monkeypatch):
    """Row groups of a thousand rows, read by the page decoder as large ones are."""
    page_decoder_compile.compile_decoder()
    monkeypatch.setattr(parquet, "NATIVE_MIN_ROWS", 0)


@pytest.fixture
def lines(tmp_path):
    rng = np.random.default_rng(7)
    n = ROW_GROUPS * GROUP_ROWS
    table = pa.table({"flag": pa.array(rng.choice(["A", "N", "R"], n)),
                      "key": pa.array(rng.integers(0, n // 2, n)),
                      "price": pa.array(rng.random(n) * 100)})
    path = tmp_path / "lines" / "part-0.parquet"
    path.parent.mkdir()
    pq.write_table(table, path, row_group_size=GROUP_ROWS)
    return path


def _split(path) -> FileSplit:
    size = os.path.getsize(path)
    return FileSplit(PartitionedFile(str(path), size, ()), 0, size)


def test_the_pieces_are_the_row_groups_and_join_to_the_split_s_table(lines):
    columns = [("flag", pa.string(), "flag"), ("price", pa.float64(), "price")]
    metrics = ScanMetrics()
    pieces = list(parquet_split_pieces([_split(lines)], columns, metrics=metrics))
    assert [p.num_rows for p in pieces] == [GROUP_ROWS] * ROW_GROUPS
    whole, whole_metrics = read_parquet_split([_split(lines)], columns)
    assert concat_pieces(pieces).equals(whole)
    assert metrics == whole_metrics and metrics.records_read == ROW_GROUPS * GROUP_ROWS


def test_pieces_without_columns_add_up_their_rows():
    piece = pa.table({"_": pa.nulls(3)}).select([])
    assert concat_pieces([piece, piece, piece]).num_rows == 9


@pytest.fixture
def spark(tmp_path):
    session = SparkSession({"spark.master": "local[1]", "spark.eventLog.enabled": "false",
                            "spark.sql.shuffle.partitions": "2", "spark.local.dir": str(tmp_path / "local")})
    yield session
    session.stop()


@pytest.fixture
def aggregate_inputs(monkeypatch):
    """The row count of every table the compiled aggregate is run over."""
    seen = []
    real = CompiledAggregate.run_measured
    monkeypatch.setattr(CompiledAggregate, "run_measured",
                        lambda self, table: seen.append(table.num_rows) or real(self, table))
    return seen


def _duckdb(sql: str, path) -> list[tuple]:
    return duckdb.sql(sql.replace("lines", f"read_parquet('{path}')")).fetchall()


@pytest.mark.parametrize("batch_rows, inputs", [(GROUP_ROWS, [GROUP_ROWS] * ROW_GROUPS),    # each row group alone
                                               (2500, [3000, 1000])])   # small pieces joined up to the bar
def test_an_aggregate_indexed_by_few_flags_takes_its_input_in_pieces(spark, lines, aggregate_inputs, monkeypatch,
                                                                      batch_rows, inputs):
    monkeypatch.setattr(whole_stage_codegen_exec, "STREAMED_BATCH_ROWS", batch_rows)
    df = (spark.read.parquet(str(lines.parent)).groupBy("flag")
          .agg(F.sum("price").alias("revenue"), F.count("price").alias("n")))
    got = sorted((r["flag"], round(r["revenue"], 6), r["n"]) for r in df.collect())
    expected = [(f, round(s, 6), n) for f, s, n in
                _duckdb("select flag, sum(price), count(price) from lines group by flag order by flag", lines)]
    assert got == expected
    assert aggregate_inputs == inputs


def test_a_global_aggregate_whose_row_groups_are_all_skipped_still_answers(spark, lines, aggregate_inputs):
    df = spark.read.parquet(str(lines.parent)).where(F.col("key") > 10**9).agg(F.count("price").alias("n"))
    assert [r["n"] for r in df.collect()] == [0]
    assert aggregate_inputs == [0]   # one empty piece: the task still sends the partial row of an empty input


def test_a_hash_aggregate_takes_the_task_s_whole_input(spark, lines, aggregate_inputs):
    df = spark.read.parquet(str(lines.parent)).groupBy("key").agg(F.sum("price").alias("revenue"))
    got = sorted((r["key"], round(r["revenue"], 6)) for r in df.collect())
    expected = [(k, round(s, 6)) for k, s in _duckdb("select key, sum(price) from lines group by key order by key", lines)]
    assert got == expected
    assert aggregate_inputs == [ROW_GROUPS * GROUP_ROWS]
