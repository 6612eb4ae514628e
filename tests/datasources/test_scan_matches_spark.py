"""File scans planned and reported as pyspark 4 plans and reports them, on the same Parquet files.

Many small files and a few big ones, read under several ``spark.sql.files.*`` settings: Ember's
scan must have as many partitions as ``df.rdd.getNumPartitions()`` in pyspark ``local[2]``. And the
scan's SQL metrics must come from where Spark's come from: the driver posts what it knew when it
planned the scan, tasks post what they measured.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.sql import SparkSession

from .conftest import ROOT
from .spark_scan_probe import scan_metric_sources

SETTINGS = [
    {},
    {"spark.sql.files.maxPartitionBytes": "1m"},
    {"spark.sql.files.maxPartitionBytes": "512k", "spark.sql.files.openCostInBytes": "64k"},
    {"spark.sql.files.openCostInBytes": "8k", "spark.sql.files.minPartitionNum": "7"},
    {"spark.sql.files.maxPartitionBytes": "2m", "spark.sql.files.openCostInBytes": "1m",
     "spark.sql.files.minPartitionNum": "1"},
    {"spark.sql.files.openCostInBytes": "0", "spark.sql.files.minPartitionNum": "16"},
]


def _write(path: Path, first_id: int, rows: int) -> None:
    ids = np.arange(first_id, first_id + rows, dtype=np.int64)
    noise = np.random.default_rng(first_id).random(rows)  # incompressible: file size follows rows
    pq.write_table(pa.table({"id": ids, "v": noise}), path, row_group_size=50_000)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scan-data")
    flat = root / "flat"
    flat.mkdir()
    for i in range(60):  # ~2 KB each
        _write(flat / f"small-{i:03d}.parquet", i * 100, 100)
    for i, rows in enumerate((200_000, 120_000, 70_000)):  # ~3.2, ~1.9, ~1.1 MB
        _write(flat / f"big-{i}.parquet", 1_000_000 * (i + 1), rows)
    for p in range(3):
        part = root / "partitioned" / f"p={p}"
        part.mkdir(parents=True)
        for i in range(4):
            _write(part / f"part-{i}.parquet", p * 1000 + i * 100, 100)
    return root


@pytest.fixture(scope="module")
def pyspark_answers(data, tmp_path_factory) -> dict:
    events = tmp_path_factory.mktemp("pyspark-events")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1",
               PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    done = subprocess.run([sys.executable, "-m", "tests.datasources.spark_scan_probe", str(data),
                           json.dumps(SETTINGS), str(events)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ember(tmp_path_factory):
    """A local[2] Ember session of this module's own, logging plain JSON lines to one file."""
    active = SparkSession._active
    SparkSession._active = None
    session = (SparkSession.builder.master("local[2]").appName("scan-vs-spark")
               .config("spark.eventLog.dir", str(tmp_path_factory.mktemp("ember-events")))
               .config("spark.eventLog.rolling.enabled", False).config("spark.eventLog.compress", False)
               .getOrCreate())
    yield session
    session.stop()
    SparkSession._active = active


@pytest.mark.spark
def test_scan_partitions_match_pyspark_under_each_setting(data, pyspark_answers, ember):
    ours = []
    for settings in SETTINGS:
        for key, value in settings.items():
            ember.conf.set(key, value)
        ours.append(ember.read.parquet(str(data / "flat"))._qe.executed_plan.num_partitions)
        for key in settings:
            ember.conf.unset(key)
    assert ours == pyspark_answers["partitions"], list(zip(SETTINGS, ours))
    assert len(set(ours)) > 3  # the settings do move the plan


@pytest.mark.spark
def test_scan_metrics_come_from_the_driver_and_tasks_as_in_spark(data, pyspark_answers, ember):
    ember.read.parquet(str(data / "partitioned")).where("v >= 0").collect()
    log = ember.event_log_path
    ember.stop()
    ours = scan_metric_sources(Path(log))
    spark = pyspark_answers["scan_metrics"]
    assert "number of partitions read" in spark["driver"]
    assert ours["driver"] == spark["driver"]
    assert set(spark["tasks"]) <= set(ours["tasks"])
    assert set(spark["declared"]) <= set(ours["declared"])
