"""Real Spark applications that differ from a baseline by ONE known change: ``ember diff``'s inputs.

Every scenario runs the same small report (4,000 order rows joined to a 50-row customer table,
summed per segment, collected) under the same application name, ``ember-pair-report``, so the
logs pair by name as a user's nightly runs do. ``baseline`` and ``baseline_again`` are the same
application run twice; each other scenario changes one thing against ``baseline``:

    no_aqe            spark.sql.adaptive.enabled=false: no AdaptiveSparkPlan, no coalescing of the
                      8 shuffle partitions (8 reduce tasks where AQE ran 1)
    no_broadcast      spark.sql.autoBroadcastJoinThreshold=-1: SortMergeJoin instead of
                      BroadcastHashJoin, two more shuffle exchanges and map stages
    repartitioned     the orders are repartition(4)-ed before the join: one more round-robin
                      exchange, a map stage that writes every order row to the shuffle

``generate.py`` runs them in one JVM, one application after another, and caches their logs under
the hash of THIS file (``generate_logs(module="tests.spark_jobs.diff_pairs")``); the scenarios of
``scenarios.py`` keep their own cache.
"""
from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tests.spark_jobs.scenarios import Scenario

APP_NAME = "ember-pair-report"
BASE_CONF = {"spark.app.name": APP_NAME, "spark.sql.shuffle.partitions": "8"}


def _report(spark: SparkSession, repartition: bool) -> None:
    orders = spark.range(0, 4000, 1, 2).select(
        (F.col("id") % 50).alias("customer"), (F.col("id") * 3 % 101).alias("amount"))
    if repartition:
        orders = orders.repartition(4)
    customers = spark.range(0, 50, 1, 1).select(
        F.col("id").alias("customer"), F.concat(F.lit("segment-"), (F.col("id") % 5).cast("string")).alias("segment"))
    orders.join(customers, "customer").groupBy("segment").agg(F.sum("amount").alias("revenue")).collect()


def baseline(spark: SparkSession, scratch: Path) -> None:
    """The report as it is: AQE on, the customer side broadcast."""
    _report(spark, repartition=False)


def repartitioned(spark: SparkSession, scratch: Path) -> None:
    """The report with ``orders.repartition(4)`` before the join: one more exchange and stage."""
    _report(spark, repartition=True)


def _pair(name: str, run, **conf: str) -> Scenario:
    return Scenario(name, run, (), {**BASE_CONF, **conf})


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    _pair("baseline", baseline),
    _pair("baseline_again", baseline),
    _pair("no_aqe", baseline, **{"spark.sql.adaptive.enabled": "false"}),
    _pair("no_broadcast", baseline, **{"spark.sql.autoBroadcastJoinThreshold": "-1"}),
    _pair("repartitioned", repartitioned),
)}
