"""The PySpark-shaped API: behaviours a PySpark user relies on, one test each."""
from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pyarrow as pa
import pytest

from engine.sql import AnalysisException, Row, SparkException
from engine.sql import functions as F
from engine.sql.types import DateType, DoubleType, LongType, StringType, StructField, StructType


@pytest.fixture
def people(spark):
    return spark.createDataFrame(
        [(1, "Ann", 34.5, dt.date(2024, 1, 5)), (2, "Bob", None, dt.date(2024, 3, 1)), (3, None, 19.0, None)],
        ["id", "name", "score", "joined"],
    )


def test_create_data_frame_from_rows_pandas_and_arrow(spark):
    rows = spark.createDataFrame([Row(a=1, b="x"), Row(a=2, b=None)])
    assert rows.dtypes == [("a", "bigint"), ("b", "string")]
    schema = StructType([StructField("a", LongType()), StructField("b", StringType())])
    typed = spark.createDataFrame([(1, "x")], schema)
    assert typed.schema == schema
    ddl = spark.createDataFrame([(1.5, "2024-01-01")], "x double, y string")
    assert ddl.dtypes == [("x", "double"), ("y", "string")]
    pdf = spark.createDataFrame(pd.DataFrame({"a": [1, 2], "f": [0.5, None]}))
    assert pdf.collect() == [Row(a=1, f=0.5), Row(a=2, f=None)]
    arrow = spark.createDataFrame(pa.table({"n": pa.array([1, 2], pa.int16())}))
    assert arrow.dtypes == [("n", "int")]
    assert spark.createDataFrame([], schema).count() == 0


def test_schema_columns_dtypes_and_print_schema(people, capsys):
    assert people.columns == ["id", "name", "score", "joined"]
    assert people.schema["score"].dataType == DoubleType()
    assert people.schema["joined"].dataType == DateType()
    people.printSchema()
    assert capsys.readouterr().out == (
        "root\n |-- id: bigint (nullable = true)\n |-- name: string (nullable = true)\n"
        " |-- score: double (nullable = true)\n |-- joined: date (nullable = true)\n")


def test_show_draws_spark_table(people, capsys):
    people.select("id", "name", "score").show()
    assert capsys.readouterr().out == (
        "+---+----+-----+\n| id|name|score|\n+---+----+-----+\n|  1| Ann| 34.5|\n|  2| Bob| NULL|\n"
        "|  3|NULL| 19.0|\n+---+----+-----+\n")
    people.select("id").show(2)
    assert capsys.readouterr().out.endswith("only showing top 2 rows\n")


def test_actions_collect_first_take_count_to_pandas_to_arrow(people):
    assert people.count() == 3
    assert people.orderBy("id").first() == Row(id=1, name="Ann", score=34.5, joined=dt.date(2024, 1, 5))
    assert [r.id for r in people.orderBy(F.desc("id")).take(2)] == [3, 2]
    names = people.toPandas()["name"]
    assert names[:2].tolist() == ["Ann", "Bob"] and names.isna().tolist() == [False, False, True]
    table = people.toArrow()
    assert table.column_names == ["id", "name", "score", "joined"] and table.num_rows == 3
    row = people.orderBy("id").first()
    assert row["name"] == "Ann" and row.asDict()["id"] == 1


def test_transformations_are_lazy(spark, people):
    jobs_before = len(spark.status.jobs)
    derived = people.filter(F.col("id") > 1).select("name").withColumn("u", F.upper("name")).orderBy("u")
    spark.bus.wait_until_empty()
    assert len(spark.status.jobs) == jobs_before
    derived.collect()
    spark.bus.wait_until_empty()
    assert len(spark.status.jobs) > jobs_before


def test_wrong_column_name_says_what_and_suggests(people):
    with pytest.raises(AnalysisException) as e:
        people.select("nmae")
    message = str(e.value)
    assert "`nmae`" in message and "Did you mean 'name'" in message and "`score`" in message
    with pytest.raises(AnalysisException, match="UNRESOLVED_COLUMN"):
        people.filter(F.col("scroe") > 1)
    with pytest.raises(AnalysisException, match="UNRESOLVED_COLUMN"):
        people.groupBy("nam").count()
    with pytest.raises(AttributeError, match="Did you mean 'score'"):
        people.scor


def test_type_errors_are_analysis_errors(people):
    with pytest.raises(AnalysisException, match="DATATYPE_MISMATCH"):
        people.filter(F.col("id") + 1)
    with pytest.raises(AnalysisException, match="MISSING_AGGREGATION"):
        people.groupBy("id").agg(F.col("name"))
    with pytest.raises(AnalysisException, match="NUM_COLUMNS_MISMATCH"):
        people.union(people.select("id"))


def test_three_valued_logic_in_filters(spark):
    df = spark.createDataFrame([(1, None), (2, True), (3, False)], "id bigint, b boolean")
    assert [r.id for r in df.filter(F.col("b") | F.lit(True)).collect()] == [1, 2, 3]
    assert [r.id for r in df.filter(~F.col("b")).collect()] == [3]
    assert [r.id for r in df.filter(F.col("b").isNull() | F.col("b")).collect()] == [1, 2]


def test_null_semantics_of_division_and_comparison(spark):
    df = spark.createDataFrame([(4, 0), (None, 1)], ["a", "b"])
    assert df.select((F.col("a") / F.col("b")).alias("q"), (F.col("a") % F.col("b")).alias("r"),
                     F.col("a").eqNullSafe(None).alias("n")).collect() == [
        Row(q=None, r=None, n=False), Row(q=None, r=None, n=True)]


def test_group_by_shortcuts_and_dict_agg(people):
    assert people.groupBy().max("score").collect() == [Row(**{"max(score)": 34.5})]
    assert people.agg({"score": "avg"}).collect()[0][0] == pytest.approx(26.75)
    counts = {r.name: r["count"] for r in people.groupBy("name").count().collect()}
    assert counts == {"Ann": 1, "Bob": 1, None: 1}


def test_cache_persist_unpersist(spark, people):
    cached = people.filter(F.col("id") > 1).persist("DISK_ONLY")
    assert cached.is_cached and cached.storageLevel == "DISK_ONLY"
    assert cached.count() == 2
    assert cached.select("id").collect() == [Row(id=2), Row(id=3)]
    assert "InMemoryTableScan" in cached._qe.executed_plan.tree_string()
    cached.unpersist()
    assert not cached.is_cached


def test_explain_modes(people, capsys):
    df = people.filter(F.col("id") > 1).groupBy("name").agg(F.sum("score"))
    for mode in ("simple", "extended", "formatted", "cost", "codegen"):
        df.explain(mode=mode)
    out = capsys.readouterr().out
    for section in ("== Parsed Logical Plan ==", "== Analyzed Logical Plan ==", "== Optimized Logical Plan ==",
                    "== Physical Plan ==", "Statistics(sizeInBytes=", "WholeStageCodegen subtrees",
                    "HashAggregate", "Exchange hashpartitioning"):
        assert section in out
    with pytest.raises(ValueError, match="Unknown explain mode"):
        df.explain(mode="verbose")


def test_udf_runs_row_at_a_time(spark):
    @F.udf(returnType="bigint")
    def square(x):
        return None if x is None else x * x

    df = spark.createDataFrame([(1,), (None,), (3,)], ["x"])
    assert [r[0] for r in df.select(square("x")).collect()] == [1, None, 9]
    assert "+- BatchEvalPython [square(x#" in df.select(square("x"))._qe.explain_string("codegen")


def test_failed_task_is_retried_then_succeeds(tmp_path):
    """local[2,3]: up to three attempts per task; the first attempt of each task fails here."""
    from engine.sql import SparkSession

    marker = tmp_path / "attempted"

    @F.udf(returnType="bigint")
    def flaky(x):
        flag = marker / str(x)
        if not flag.exists():
            marker.mkdir(exist_ok=True)
            flag.write_text("failed once")
            raise RuntimeError(f"transient failure for {x}")
        return x

    active = SparkSession._active
    SparkSession._active = None
    spark = SparkSession.builder.master("local[2,3]").config("spark.eventLog.enabled", "false").getOrCreate()
    try:
        df = spark.createDataFrame([(1,), (2,)], ["x"])
        assert sorted(r[0] for r in df.select(flaky("x")).collect()) == [1, 2]
        spark.bus.wait_until_empty()
        failed = sum(s.tasks_failed for s in spark.status.stages.values())
        assert failed == 2
    finally:
        spark.stop()
        SparkSession._active = active


def test_task_failure_beyond_max_failures_fails_the_job(spark):
    @F.udf(returnType="bigint")
    def boom(x):
        raise ValueError("bad row")

    df = spark.createDataFrame([(1,)], ["x"])
    with pytest.raises(SparkException, match="Job aborted due to stage failure.*ValueError: bad row"):
        df.select(boom("x")).collect()
    assert spark.range(3).count() == 3  # the session is still usable


def test_write_modes_and_partition_by_round_trip(spark, people, tmp_path):
    out = str(tmp_path / "people")
    people.write.partitionBy("name").parquet(out)
    assert os.path.exists(os.path.join(out, "_SUCCESS"))
    assert sorted(os.listdir(out)) == ["_SUCCESS", "name=Ann", "name=Bob", "name=__HIVE_DEFAULT_PARTITION__"]
    with pytest.raises(AnalysisException, match="PATH_ALREADY_EXISTS"):
        people.write.parquet(out)
    people.write.mode("ignore").parquet(out)
    back = spark.read.parquet(out)
    assert sorted(back.columns) == ["id", "joined", "name", "score"]
    assert sorted((r.id, r.name) for r in back.collect()) == [(1, "Ann"), (2, "Bob"), (3, None)]
    people.write.mode("append").partitionBy("name").parquet(out)
    assert spark.read.parquet(out).count() == 6
    people.write.mode("overwrite").parquet(out)
    assert spark.read.parquet(out).count() == 3


def test_csv_read_with_options(spark, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("id;name;score\n1;Ann;3.5\n2;;\n3;Cy;7\n")
    df = spark.read.option("header", True).option("sep", ";").option("inferSchema", True).csv(str(path))
    assert df.dtypes == [("id", "int"), ("name", "string"), ("score", "double")]
    assert df.filter(F.col("score") > 3).count() == 2
    raw = spark.read.csv(str(path), sep=";")
    assert raw.columns == ["_c0", "_c1", "_c2"] and raw.count() == 4


def test_missing_path_is_a_clear_error(spark, tmp_path):
    with pytest.raises(AnalysisException, match="PATH_NOT_FOUND"):
        spark.read.parquet(str(tmp_path / "nope"))


def test_conf_get_set_and_master_urls(spark):
    spark.conf.set("spark.sql.shuffle.partitions", 3)
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    assert spark.range(100).repartition("id").groupBy().count().collect()[0][0] == 100
    spark.conf.set("spark.sql.shuffle.partitions", 4)
    from engine.sql.conf import parse_master

    assert parse_master("local[3,2]") == (3, 2)
    with pytest.raises(ValueError, match="Could not parse Master URL"):
        parse_master("yarn")
