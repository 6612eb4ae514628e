"""Python UDFs: ``udf`` runs row at a time in BatchEvalPython, ``pandas_udf`` on Arrow batches in
ArrowEvalPython; both outside the compiled stages, with Spark's plan and event-log names.

Results are checked against plain Python on the same rows; the python_udf diagnosis against the
one the analyzer makes on a real Spark 4 log of the same kind of job."""
from __future__ import annotations

import pandas as pd
import pytest

from diag.analyze import analyze
from diag.diagnosis import Severity
from engine.execution.arrow_eval_python_exec import ArrowEvalPythonExec
from engine.execution.batch_eval_python_exec import BatchEvalPythonExec
from engine.execution.whole_stage_codegen_exec import WholeStageCodegenExec
from engine.sql import SparkSession
from engine.sql import functions as F
from engine.sql.errors import SparkException
from engine.sql.types import DoubleType, LongType
from tests.spark_jobs.fixtures import spark_logs  # noqa: F401 - real Spark logs, generated once and cached

ROWS = [(i, None if i % 7 == 0 else i * 3 - 40, f"k{i % 4}") for i in range(200)]


@F.udf("long")
def score(x):
    return None if x is None else (x * 31 + 7) % 1000


@F.udf(returnType="string")
def sign(x):
    """Returns None for some non-null inputs, too: a UDF's None is null."""
    if x is None or x == -1:
        return None
    return "neg" if x < 0 else "pos"


@F.pandas_udf("long")
def pd_score(x: pd.Series) -> pd.Series:
    return (x * 31 + 7) % 1000


def half(x: pd.Series) -> pd.Series:
    return x / 2


pd_half = F.pandas_udf(half, DoubleType())


def py_score(x):
    return None if x is None else (x * 31 + 7) % 1000


@pytest.fixture(scope="module")
def df(spark):
    return spark.createDataFrame(ROWS, ["id", "x", "k"]).repartition(3)


def _executed(df):
    return df._qe.executed_plan


def _nodes(df, kind):
    return [n for n in _executed(df).walk() if isinstance(n, kind)]


# ---- results ----
@pytest.mark.parametrize("f", [score, pd_score], ids=["udf", "pandas_udf"])
def test_select_equals_python_with_nulls_in_and_out(df, f):
    got = sorted((r["id"], r["s"]) for r in df.select("id", f("x").alias("s")).collect())
    assert got == sorted((i, py_score(x)) for i, x, _ in ROWS)


@pytest.mark.parametrize("f", [score, pd_score], ids=["udf", "pandas_udf"])
def test_filter_on_a_udf(df, f):
    got = sorted(r["id"] for r in df.where(f("x") > 500).collect())
    assert got == sorted(i for i, x, _ in ROWS if x is not None and py_score(x) > 500)
    assert df.where(f("x") > 500).columns == ["id", "x", "k"]


@pytest.mark.parametrize("f", [score, pd_score], ids=["udf", "pandas_udf"])
def test_with_column_then_group_by(df, f):
    got = {r["k"]: r["total"] for r in df.withColumn("s", f("x")).groupBy("k").agg(F.sum("s").alias("total")).collect()}
    expected: dict[str, int] = {}
    for _, x, k in ROWS:
        s = py_score(x)
        expected[k] = expected.get(k, 0) + (s or 0)
    assert got == expected


def test_udf_returning_none_is_null(df):
    got = {r["x"]: r["sign"] for r in df.select("x", sign("x").alias("sign")).collect()}
    assert got[None] is None and got[-1] is None
    assert got[-37] == "neg" and got[5] == "pos"


def test_pandas_udf_function_form_with_a_data_type_and_nan_as_null(df):
    got = {r["id"]: r["h"] for r in df.select("id", pd_half("x").alias("h")).collect()}
    for i, x, _ in ROWS:
        assert got[i] == (None if x is None else x / 2)


def test_udfs_nested_and_mixed_each_get_an_operator(df):
    q = df.select("id", pd_score(score("x")).alias("s"))
    got = sorted((r["id"], r["s"]) for r in q.collect())
    assert got == sorted((i, py_score(py_score(x))) for i, x, _ in ROWS)
    [batch], [arrow] = _nodes(q, BatchEvalPythonExec), _nodes(q, ArrowEvalPythonExec)
    assert arrow.child is batch  # the inner call is evaluated first, below


def test_decorator_forms_of_pandas_udf():
    by_keyword = F.pandas_udf(returnType=LongType())(lambda s: s)
    assert by_keyword.returnType == LongType() and by_keyword.evalType == 200
    with pytest.raises(TypeError, match="needs a returnType"):
        F.pandas_udf(lambda s: s)
    with pytest.raises(NotImplementedError, match="only the scalar form"):
        F.pandas_udf(lambda s: s, "long", functionType=201)


def test_pandas_udf_batches_follow_max_records_per_batch(spark, conf):
    sizes = []

    @F.pandas_udf("long")
    def batch_size(s: pd.Series) -> pd.Series:
        sizes.append(len(s))
        return s

    conf("spark.sql.execution.arrow.maxRecordsPerBatch", 40)
    spark.range(0, 100, 1, 1).select(batch_size("id")).collect()
    assert sizes == [40, 40, 20]


def test_pandas_udf_of_the_wrong_length_fails_clearly(spark):
    shorter = F.pandas_udf(lambda s: s.head(1), "long")
    with pytest.raises(SparkException, match="result vector was not the required length: expected 5, got 1"):
        spark.range(0, 5, 1, 1).select(shorter("id")).collect()


def test_udf_returning_the_wrong_type_fails_naming_the_udf(spark):
    text = F.udf(lambda x: f"n{x}", "long")
    with pytest.raises(SparkException, match="Python UDF <lambda> returned a value that is not bigint"):
        spark.range(3).select(text("id")).collect()


def test_an_error_in_a_udf_fails_the_task_with_the_users_traceback(spark):
    @F.udf("long")
    def explode(x):
        if x == 2:
            raise ZeroDivisionError(f"cannot score {x}")
        return x

    with pytest.raises(SparkException) as failure:
        spark.range(0, 4, 1, 1).select(explode("id")).collect()
    message = str(failure.value)
    assert "PythonException: An exception was thrown from the Python UDF explode: ZeroDivisionError: cannot score 2" \
        in message
    assert 'raise ZeroDivisionError(f"cannot score {x}")' in message  # the user's line, from their traceback
    assert "python_runner.py" not in message  # not the engine's frames


# ---- plans ----
def test_plan_shows_batch_eval_python_between_codegen_stages(spark):
    q = spark.range(0, 100, 1, 2).where(F.col("id") % 3 != 0).select(score("id").alias("s"))
    [batch] = _nodes(q, BatchEvalPythonExec)
    assert batch.simple_string() == f"BatchEvalPython [score(id#{batch.udfs[0].args[0].expr_id})#{batch.udfs[0].result_id}], " \
                                    f"[pythonUDF0#{batch.result_attrs[0].expr_id}]"
    stages = _nodes(q, WholeStageCodegenExec)
    above = next(s for s in stages if s.source is batch)
    below = next(s for s in stages if s is batch.child)
    assert above.compiled and below.compiled and above.codegen_stage_id > below.codegen_stage_id
    codegen = q._qe.explain_string("codegen")
    assert "Found 2 WholeStageCodegen subtrees." in codegen
    assert "+- BatchEvalPython [score(id#" in codegen


def test_plan_shows_arrow_eval_python_with_its_eval_type(spark):
    q = spark.range(0, 100, 1, 2).where(F.col("id") % 3 != 0).select(pd_score("id").alias("s"))
    [arrow] = _nodes(q, ArrowEvalPythonExec)
    assert arrow.simple_string().startswith("ArrowEvalPython [pd_score(id#") and arrow.simple_string().endswith(", 200")
    assert not _nodes(q, BatchEvalPythonExec)
    assert "Found 2 WholeStageCodegen subtrees." in q._qe.explain_string("codegen")


def test_a_udf_filter_keeps_its_output_without_the_udf_column(spark):
    q = spark.range(10).where(score("id") > 100)
    top = _executed(q)
    assert [a.name for a in top.output] == ["id"]
    assert "Filter (pythonUDF0#" in q._qe.explain_string("simple")


# ---- event logs and the python_udf diagnosis ----
def _run_app(events, name, job):
    active = SparkSession._active
    SparkSession._active = None
    spark = (SparkSession.builder.master("local[2]").appName(name).config("spark.sql.shuffle.partitions", 4)
             .config("spark.eventLog.dir", str(events)).getOrCreate())
    try:
        job(spark)
    finally:
        spark.stop()
        SparkSession._active = active
    [report], errors = analyze(events)
    assert not errors
    return report


def _row_at_a_time_job(spark):
    spark.range(0, 20_000, 1, 4).select(score("id").alias("s")).agg(F.sum("s")).collect()


def _vectorized_job(spark):
    spark.range(0, 20_000, 1, 4).select(pd_score("id").alias("s")).agg(F.sum("s")).collect()


@pytest.fixture(scope="module")
def udf_report(tmp_path_factory):
    return _run_app(tmp_path_factory.mktemp("udf-events"), "row-at-a-time", _row_at_a_time_job)


@pytest.fixture(scope="module")
def pandas_udf_report(tmp_path_factory):
    return _run_app(tmp_path_factory.mktemp("pandas-udf-events"), "vectorized", _vectorized_job)


def _parent_names(execution, node):
    by_id = {n.node_id: n for n in execution.nodes}
    names = []
    while node.parent_id is not None:
        node = by_id[node.parent_id]
        names.append(node.name)
    return names


def test_event_log_plan_has_batch_eval_python_with_sparks_metrics(udf_report):
    [execution] = udf_report.model.sql_executions.values()
    [node] = execution.nodes_named("BatchEvalPython")
    assert node.description.startswith("BatchEvalPython [score(id#")
    assert node.metrics["number of output rows"] == 20_000
    assert node.metrics["data sent to Python workers"] == 20_000 * 8
    assert node.metrics["data returned from Python workers"] > 0
    assert "time to execute Python code" in node.metrics
    parents = _parent_names(execution, node)
    assert parents[:2] == ["Project", "HashAggregate"]
    assert parents[2].startswith("WholeStageCodegen (")  # the compiled stage starts above the UDF
    children = [n for n in execution.nodes if n.parent_id == node.node_id]
    assert [c.name for c in children] == ["Range"]


def test_python_udf_diagnosis_on_embers_row_at_a_time_log(udf_report, pandas_udf_report):
    [finding] = [d for d in udf_report.findings if d.kind == "python_udf"]
    assert finding.severity == Severity.MODERATE
    assert finding.location.sql_node == "BatchEvalPython"
    assert "pandas_udf" in finding.recommendation and "built-in functions" in finding.recommendation
    assert not [d for d in pandas_udf_report.findings if d.kind == "python_udf"]
    [execution] = pandas_udf_report.model.sql_executions.values()
    assert execution.nodes_named("ArrowEvalPython")


@pytest.mark.spark
def test_ember_and_spark_logs_get_the_same_python_udf_diagnosis(udf_report, spark_logs):  # noqa: F811
    [spark_report], errors = analyze(spark_logs["python_udf"])
    assert not errors
    [spark_finding] = [d for d in spark_report.findings if d.kind == "python_udf"]
    [ember_finding] = [d for d in udf_report.findings if d.kind == "python_udf"]
    assert (ember_finding.severity, ember_finding.location.sql_node, ember_finding.recommendation) == \
        (spark_finding.severity, spark_finding.location.sql_node, spark_finding.recommendation)


# ---- executor processes ----
def test_udfs_on_local_cluster_travel_with_their_closures():
    offset = 1000  # captured by the closures below: they reach the executors by value

    add = F.udf(lambda x: None if x is None else x + offset, "long")
    pd_add = F.pandas_udf(lambda s: s + offset, "long")
    active = SparkSession._active
    SparkSession._active = None
    spark = (SparkSession.builder.master("local-cluster[2,1,512]").config("spark.eventLog.enabled", "false")
             .getOrCreate())
    try:
        rows = spark.createDataFrame([(i, None if i % 5 == 0 else i) for i in range(40)], ["id", "x"])
        got = {r["id"]: (r["a"], r["p"]) for r in rows.select("id", add("x").alias("a"), pd_add("x").alias("p")).collect()}
    finally:
        spark.stop()
        SparkSession._active = active
    assert got == {i: (None, None) if i % 5 == 0 else (i + offset, i + offset) for i in range(40)}
