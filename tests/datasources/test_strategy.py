"""From ``spark.read`` to rows: resolve a relation, plan a FileScan's tasks, run them."""
from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pyarrow.parquet as pq

from engine.catalyst.expressions import Comparison, Literal
from engine.catalyst.logical import FileScan
from engine.datasources.scan import ScanMetrics
from engine.datasources.strategy import plan_scan, read_partition, resolve_relation, selected_files
from engine.sql.types import DateType, IntegerType, LongType, StringType

from .helpers import touch


def make_table(root: str) -> None:
    for day in (1, 2, 3):
        d = os.path.join(root, f"day=2024-01-0{day}")
        os.makedirs(d)
        n = 1000 * day
        pq.write_table(pa.table({"id": pa.array(range(n), pa.int64()), "v": [f"r{day}"] * n}),
                       os.path.join(d, "part-0.parquet"), row_group_size=500)
    touch(os.path.join(root, "_SUCCESS"), "")


def test_parquet_relation_plan_and_read(tmp_path):
    root = str(tmp_path / "events")
    make_table(root)
    rel = resolve_relation("PARQUET", root)
    assert [(a.name, a.data_type) for a in rel.all_columns] == [("id", LongType()), ("v", StringType()),
                                                                ("day", DateType())]
    assert len(rel.files) == 3 and rel.format == "parquet"
    id_, v, day = rel.all_columns

    # output in the scan's order, a partition column first; filters on the partition and the data
    scan = FileScan(rel, (day, id_), (Comparison(">=", day, Literal(dt.date(2024, 1, 2), DateType())),
                                      Comparison("<", id_, Literal.of(600))))
    assert [os.path.basename(os.path.dirname(f.path)) for f in selected_files(scan)] == ["day=2024-01-02",
                                                                                         "day=2024-01-03"]
    parts = plan_scan(scan, {"spark.sql.files.maxPartitionBytes": "16k", "spark.sql.files.openCostInBytes": "1k",
                             "spark.sql.files.minPartitionNum": "2"})
    assert sum(p.total_bytes for p in parts) == sum(f.size for f in selected_files(scan))

    total = ScanMetrics()
    tables = []
    for p in parts:
        t, m = read_partition(scan, p)
        assert t.column_names == [day.column_key, id_.column_key]
        tables.append(t)
        total.add(m)
    table = pa.concat_tables(tables)
    # row groups of 500 rows: ids < 600 live in the first two of each file, the rest are skipped
    assert total.row_groups_total == 4 + 6 and total.row_groups_skipped == 2 + 4
    assert table.num_rows == total.records_read == 2000
    assert set(table.column(day.column_key).to_pylist()) == {dt.date(2024, 1, 2), dt.date(2024, 1, 3)}

    # count(*): nothing to read but the row counts
    t, m = read_partition(FileScan(rel, ()), [s for p in plan_scan(FileScan(rel, ()), default_parallelism=1)
                                              for s in p.splits])
    assert (t.num_columns, t.num_rows, m.bytes_read) == (0, 6000, 0)


def test_csv_relation_with_user_schema(tmp_path):
    root = str(tmp_path / "people")
    touch(os.path.join(root, "country=fr", "a.csv"), "id,name\n1,ann\n2,bob\n")
    touch(os.path.join(root, "country=de", "b.csv"), "id,name\n3,cy\n")
    rel = resolve_relation("csv", [root], {"header": "true"}, "id int, name string, country string")
    assert [(a.name, a.data_type) for a in rel.all_columns] == [("id", IntegerType()), ("name", StringType()),
                                                                ("country", StringType())]
    id_, name, country = rel.all_columns
    scan = FileScan(rel, (name, country), (Comparison("=", country, Literal.of("fr")),))
    parts = plan_scan(scan, default_parallelism=2)
    assert [s.file.path for p in parts for s in p.splits] == [os.path.join(root, "country=fr", "a.csv")]
    t, m = read_partition(scan, parts[0])
    assert t.to_pydict() == {name.column_key: ["ann", "bob"], country.column_key: ["fr", "fr"]}
    assert m.files_read == 1 and m.records_read == 2
