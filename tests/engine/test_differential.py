"""Query results checked against DuckDB on the same Parquet files (with nulls, several files,
row groups, and an empty table). Each case is run twice: with broadcast joins allowed, and with
them disabled so that joins shuffle."""
from __future__ import annotations

import datetime as dt
import decimal
import math

import duckdb
import pytest

from engine.sql import functions as F
from tests.engine import datagen


@pytest.fixture(scope="module")
def tables(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("differential")
    facts = datagen.write_parquet(datagen.facts(), str(root / "facts"))
    dims = datagen.write_parquet(datagen.dims(), str(root / "dims"), files=2, row_group_size=5)
    empty = datagen.write_parquet(datagen.facts().slice(0, 0), str(root / "empty"), files=1)
    con = duckdb.connect()
    for name, path in (("facts", facts), ("dims", dims), ("empty", empty)):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}/*.parquet')")
    frames = {name: spark.read.parquet(path) for name, path in (("facts", facts), ("dims", dims), ("empty", empty))}
    return frames, con


def _norm(value):
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.9g}")
    if isinstance(value, decimal.Decimal):
        return float(f"{float(value):.9g}")
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def _key(row):
    return tuple((v is None, "" if v is None else str(type(v)), v if v is not None else 0) for v in row)


def _rows(rows, ordered: bool):
    out = [tuple(_norm(v) for v in r) for r in rows]
    return out if ordered else sorted(out, key=_key)


# (name, ember query, DuckDB SQL, ordered)
CASES = [
    ("project_arithmetic",
     lambda t: t["facts"].select("id", (F.col("d") * 2 + 1).alias("x"), (F.col("k") % 3).alias("m"),
                                 (F.col("id") / 4).alias("q"), -F.col("k")),
     "SELECT id, d * 2 + 1, k % 3, id / 4, -k FROM facts", False),
    ("filter_three_valued",
     lambda t: t["facts"].filter(~(F.col("k") > 2) | F.col("s").isNull()).select("id", "k", "s"),
     "SELECT id, k, s FROM facts WHERE NOT (k > 2) OR s IS NULL", False),
    ("filter_string_expression",
     lambda t: t["facts"].filter("k between 1 and 4 and d is not null and s != 'apple'").select("id"),
     "SELECT id FROM facts WHERE k BETWEEN 1 AND 4 AND d IS NOT NULL AND s <> 'apple'", False),
    ("isin_with_null",
     lambda t: t["facts"].select("id", F.col("k").isin(1, 2, None).alias("i"), F.col("k").isin(3, 4).alias("j")),
     "SELECT id, k IN (1, 2, NULL), k IN (3, 4) FROM facts", False),
    ("when_otherwise_and_casts",
     lambda t: t["facts"].select(
         "id",
         F.when(F.col("d") > 60, "high").when(F.col("d") > 40, "mid").otherwise("low").alias("band"),
         F.col("k").cast("string").alias("ks"), F.col("flag").cast("int").alias("fi"),
         F.col("k").cast("double").alias("kd")),
     "SELECT id, CASE WHEN d > 60 THEN 'high' WHEN d > 40 THEN 'mid' ELSE 'low' END, CAST(k AS VARCHAR), "
     "CAST(flag AS INTEGER), CAST(k AS DOUBLE) FROM facts", False),
    ("string_and_date_functions",
     lambda t: t["facts"].select("id", F.upper("s"), F.lower("s"), F.length("s"), F.concat("s", F.lit("-"), "s"),
                                 F.year("day"), F.month("day"), F.dayofmonth("day")),
     "SELECT id, upper(s), lower(s), length(s), s || '-' || s, year(day), month(day), day(day) FROM facts", False),
    ("to_date_and_date_filter",
     lambda t: t["facts"].filter(F.col("day") >= "2025-01-01").select("id", F.to_date(F.lit("2024-03-05")).alias("c")),
     "SELECT id, DATE '2024-03-05' FROM facts WHERE day >= DATE '2025-01-01'", False),
    ("group_by_aggregates",
     lambda t: t["facts"].groupBy("k").agg(F.sum("d"), F.avg("d"), F.min("s"), F.max("day"), F.count("s"),
                                           F.count("*"), F.sum("k")),
     "SELECT k, sum(d), avg(d), min(s), max(day), count(s), count(*), sum(k) FROM facts GROUP BY k", False),
    ("group_by_expression_and_distinct_count",
     lambda t: t["facts"].groupBy((F.col("k") % 2).alias("parity"), "flag").agg(
         F.countDistinct("s").alias("ds"), F.sum("id").alias("si")),
     "SELECT k % 2, flag, count(DISTINCT s), sum(id) FROM facts GROUP BY k % 2, flag", False),
    ("group_by_alias_then_order_and_filter_by_it",
     lambda t: t["facts"].groupBy((F.col("k") % 3).alias("m")).agg(F.sum("id").alias("si"))
     .filter(F.col("m") >= 0).orderBy(F.desc("m")),
     "SELECT k % 3 AS m, sum(id) FROM facts GROUP BY k % 3 HAVING k % 3 >= 0 ORDER BY m DESC", True),
    ("aggregate_expression_over_aggregates",
     lambda t: t["facts"].groupBy("s").agg((F.sum("d") / F.count("d")).alias("mean"), (F.max("k") - F.min("k"))),
     "SELECT s, sum(d) / count(d), max(k) - min(k) FROM facts GROUP BY s", False),
    ("global_aggregate",
     lambda t: t["facts"].agg(F.count("*"), F.sum("d"), F.min("k"), F.avg("k"), F.countDistinct("k")),
     "SELECT count(*), sum(d), min(k), avg(k), count(DISTINCT k) FROM facts", False),
    ("global_aggregate_of_empty_input",
     lambda t: t["empty"].agg(F.count("*"), F.sum("d"), F.max("s"), F.count("k")),
     "SELECT count(*), sum(d), max(s), count(k) FROM empty", False),
    ("group_by_of_empty_input",
     lambda t: t["empty"].groupBy("k").agg(F.sum("d")),
     "SELECT k, sum(d) FROM empty GROUP BY k", False),
    ("filter_everything_out",
     lambda t: t["facts"].filter(F.col("id") < 0).groupBy("s").count(),
     "SELECT s, count(*) FROM facts WHERE id < 0 GROUP BY s", False),
    ("inner_join_on_name",
     lambda t: t["facts"].join(t["dims"], "k").select("id", "k", "name", "w"),
     "SELECT id, f.k, name, w FROM facts f JOIN dims d ON f.k = d.k", False),
    ("left_join_with_nulls",
     lambda t: t["facts"].join(t["dims"], t["facts"].k == t["dims"].k, "left").select(t["facts"].id, t["dims"].name),
     "SELECT id, name FROM facts f LEFT JOIN dims d ON f.k = d.k", False),
    ("right_join",
     lambda t: t["facts"].filter(F.col("id") < 200).join(t["dims"], "k", "right").select("k", "id", "name"),
     "SELECT d.k, id, name FROM (SELECT * FROM facts WHERE id < 200) f RIGHT JOIN dims d ON f.k = d.k", False),
    ("full_outer_join_using",
     lambda t: t["facts"].filter(F.col("id") < 300).join(t["dims"], "k", "full").select("k", "id", "name"),
     "SELECT coalesce(f.k, d.k), id, name FROM (SELECT * FROM facts WHERE id < 300) f "
     "FULL OUTER JOIN dims d ON f.k = d.k", False),
    ("semi_and_anti_joins",
     lambda t: t["facts"].join(t["dims"].filter(F.col("w") > 50), "k", "left_semi").select("id").union(
         t["facts"].join(t["dims"].filter(F.col("w") > 50), "k", "left_anti").select((-F.col("id")).alias("id"))),
     "SELECT id FROM facts WHERE k IN (SELECT k FROM dims WHERE w > 50) UNION ALL "
     "SELECT -id FROM facts f WHERE NOT EXISTS (SELECT 1 FROM dims d WHERE d.w > 50 AND d.k = f.k)", False),
    ("join_with_residual_condition",
     lambda t: t["facts"].join(t["dims"], (t["facts"].k == t["dims"].k) & (t["facts"].d > t["dims"].w), "left")
     .select(t["facts"].id, t["dims"].w),
     "SELECT id, w FROM facts f LEFT JOIN dims d ON f.k = d.k AND f.d > d.w", False),
    ("non_equi_join",
     lambda t: t["dims"].alias("a").join(t["dims"].select(F.col("w").alias("w2")), F.col("w") < F.col("w2"))
     .groupBy("name").count(),
     "SELECT a.name, count(*) FROM dims a JOIN dims b ON a.w < b.w GROUP BY a.name", False),
    ("cross_join",
     lambda t: t["dims"].select("name").crossJoin(t["dims"].select(F.col("k").alias("k2"))).groupBy("name").agg(F.sum("k2")),
     "SELECT a.name, sum(b.k) FROM dims a CROSS JOIN dims b GROUP BY a.name", False),
    ("distinct",
     lambda t: t["facts"].select("k", "flag").distinct(),
     "SELECT DISTINCT k, flag FROM facts", False),
    ("drop_duplicates_keys",
     lambda t: t["facts"].dropDuplicates(["s"]).select("s"),
     "SELECT DISTINCT s FROM facts", False),
    ("order_by_nulls_and_directions",
     lambda t: t["facts"].select("id", "k", "s").orderBy(F.col("k").desc(), F.col("s").asc_nulls_last(), "id"),
     "SELECT id, k, s FROM facts ORDER BY k DESC NULLS LAST, s ASC NULLS LAST, id", True),
    ("order_by_default_nulls_first",
     lambda t: t["facts"].select("d", "id").orderBy("d", "id"),
     "SELECT d, id FROM facts ORDER BY d ASC NULLS FIRST, id", True),
    ("order_by_string_desc",
     lambda t: t["facts"].select("s", "id").orderBy(F.desc("s"), F.asc("id")),
     "SELECT s, id FROM facts ORDER BY s DESC NULLS LAST, id", True),
    ("top_n",
     lambda t: t["facts"].orderBy(F.col("d").desc(), "id").limit(7).select("id", "d"),
     "SELECT id, d FROM facts ORDER BY d DESC NULLS LAST, id LIMIT 7", True),
    ("limit_then_aggregate",
     lambda t: t["facts"].filter(F.col("k") == 3).select("k").limit(5).groupBy("k").count(),
     "SELECT k, count(*) FROM (SELECT k FROM facts WHERE k = 3 LIMIT 5) GROUP BY k", False),
    ("union_and_union_by_name",
     lambda t: t["dims"].select("k", "name").union(t["dims"].select("k", "name")).unionByName(
         t["dims"].select("name", "k")),
     "SELECT k, name FROM dims UNION ALL SELECT k, name FROM dims UNION ALL SELECT k, name FROM dims", False),
    ("repartition_by_column_then_aggregate",
     lambda t: t["facts"].repartition(5, "s").groupBy("s").agg(F.max("id")),
     "SELECT s, max(id) FROM facts GROUP BY s", False),
    ("coalesce_keeps_rows",
     lambda t: t["facts"].coalesce(1).filter(F.col("k") < 0).select("id"),
     "SELECT id FROM facts WHERE k < 0", False),
    ("with_column_rename_drop",
     lambda t: t["facts"].withColumn("e", F.col("id") * 10).withColumnRenamed("s", "fruit").drop("d", "day")
     .filter(F.col("fruit") == "cherry"),
     "SELECT id, k, s AS fruit, flag, id * 10 AS e FROM facts WHERE s = 'cherry'", False),
    ("select_expr",
     lambda t: t["facts"].selectExpr("id", "k * 2 AS kk", "CASE WHEN flag THEN 'y' ELSE 'n' END AS f",
                                     "CAST(d AS bigint) AS di").filter("kk > 4"),
     "SELECT id, k * 2, CASE WHEN flag THEN 'y' ELSE 'n' END, CAST(trunc(d) AS BIGINT) FROM facts WHERE k * 2 > 4",
     False),
    ("self_join",
     lambda t: t["dims"].join(t["dims"], "k").select("k"),
     "SELECT a.k FROM dims a JOIN dims b ON a.k = b.k", False),
    ("cached_dataframe_reused",
     lambda t: _cached_twice(t["facts"]),
     "SELECT k, count(*) FROM facts WHERE d > 10 GROUP BY k", False),
]


def _cached_twice(df):
    cached = df.filter(F.col("d") > 10).cache()
    cached.count()
    result = cached.groupBy("k").count()
    cached.unpersist()
    return result


@pytest.mark.parametrize("broadcast", [True, False], ids=["broadcast", "shuffled"])
@pytest.mark.parametrize("name,query,sql,ordered", CASES, ids=[c[0] for c in CASES])
def test_same_result_as_duckdb(tables, conf, broadcast, name, query, sql, ordered):
    frames, con = tables
    conf("spark.sql.autoBroadcastJoinThreshold", "10485760" if broadcast else "-1")
    ours = [tuple(r) for r in query(frames).collect()]
    theirs = con.execute(sql).fetchall()
    assert _rows(ours, ordered) == _rows(theirs, ordered)


def test_range_matches_python(spark):
    df = spark.range(-7, 1000, 3, numPartitions=5)
    assert [r.id for r in df.filter(F.col("id") % 2 == 0).collect()] == [i for i in range(-7, 1000, 3) if i % 2 == 0]
    assert spark.range(10, 0, -2).count() == 5
    assert spark.range(0).count() == 0
