"""Every detector on the same Ember job with AQE on and off, and on real Spark 4 logs.

With AQE each query stage runs as a job of its own, the last job lists the earlier stages as
skipped (Ember reuses their ids, Spark gives them new ones that never run), and the plan gains
AdaptiveSparkPlan, ShuffleQueryStage and AQEShuffleRead nodes. Diagnoses must not count a stage
twice, nor point at a stage that never ran or a plan node that is not in the query's plan.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from diag.analyze import analyze

ROOT = Path(__file__).resolve().parents[2]

# A skewed shuffled join aggregated by segment, then a write repartitioned by the skewed key.
JOB = textwrap.dedent("""
    import sys
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from engine.sql import SparkSession, functions as F

    root, aqe = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(3)
    n = 200_000
    customer = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 5_000, n))
    pq.write_table(pa.table({"customer_id": customer.astype(np.int64), "amount": rng.random(n)}),
                   f"{root}/orders.parquet")
    pq.write_table(pa.table({"customer_id": np.arange(5_000, dtype=np.int64),
                             "segment": np.array(["a", "b", "c"])[rng.integers(0, 3, 5_000)]}),
                   f"{root}/customers.parquet")
    spark = (SparkSession.builder.master("local[2]").appName(f"aqe-{aqe}")
             .config("spark.sql.adaptive.enabled", aqe).config("spark.sql.autoBroadcastJoinThreshold", -1)
             .config("spark.eventLog.dir", f"{root}/events").getOrCreate())
    orders = spark.read.parquet(f"{root}/orders.parquet")
    customers = spark.read.parquet(f"{root}/customers.parquet")
    orders.join(customers, "customer_id").groupBy("segment").agg(F.sum("amount")).collect()
    orders.repartition(8, "customer_id").write.mode("overwrite").parquet(f"{root}/out")
    spark.stop()
""")


@pytest.fixture(scope="module")
def ember_reports(tmp_path_factory):
    """"on" / "off" -> the report of the job above run on Ember with AQE on / off."""
    reports = {}
    for aqe in ("on", "off"):
        root = tmp_path_factory.mktemp(f"aqe-{aqe}")
        script = root / "job.py"
        script.write_text(JOB)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, str(script), str(root), "true" if aqe == "on" else "false"],
                       cwd=root, env=env, check=True, capture_output=True, timeout=300)
        (reports[aqe],), errors = analyze(str(root / "events"))
        assert not errors
    return reports


def _check_diagnoses_fit_the_log(report) -> None:
    model = report.model
    ran = set(model.stages.filter(model.stages["ran"])["stage_id"].to_pylist())
    places = Counter((d.kind, d.location) for d in report.run.diagnoses)
    assert [p for p, n in places.items() if n > 1] == []
    for d in report.run.diagnoses:
        assert set(d.location.stage_ids) <= ran, f"{d.title}: stages that never ran"
        if d.location.sql_node is not None:
            nodes = model.sql_executions[d.location.sql_execution_id].nodes
            assert d.location.sql_node in {n.name for n in nodes}, f"{d.title}: no such plan node"
        if d.kind == "critical_path":
            assert d.evidence["path_ms"] <= d.evidence["job_ms"], d.title


def test_ember_logs_with_and_without_aqe_are_diagnosed_consistently(ember_reports):
    on, off = ember_reports["on"], ember_reports["off"]
    assert on.model.event_counts.get("SparkListenerSQLAdaptiveExecutionUpdate", 0) > 0
    assert on.model.jobs.num_rows > off.model.jobs.num_rows  # a job per query stage
    for report in (on, off):
        _check_diagnoses_fit_the_log(report)
    # The same shuffled join is found in the final adaptive plan as in the static one, once.
    for report in (on, off):
        [join] = [d for d in report.findings if d.kind == "broadcastable_join"]
        assert join.location.sql_node == "ShuffledHashJoin"


def test_critical_paths_of_an_aqe_log_stay_inside_their_jobs(ember_reports):
    model = ember_reports["on"].model
    skipped_reruns = [j for j in model.jobs.to_pylist() if len(j["stage_ids"]) > 1]
    assert skipped_reruns, "the AQE log should have jobs that list earlier query stages"
    for d in ember_reports["on"].run.diagnoses:
        if d.kind == "critical_path":
            assert d.evidence["path_ms"] <= d.evidence["job_ms"], d.title


@pytest.mark.spark
def test_real_spark_logs_are_diagnosed_consistently(spark_logs):
    for name, path in sorted(spark_logs.items()):
        (report,), _ = analyze(str(path))
        _check_diagnoses_fit_the_log(report)
