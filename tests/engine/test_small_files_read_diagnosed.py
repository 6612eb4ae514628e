"""Ember's log of a read of 300 tiny Parquet files is diagnosed small_files, as the real Spark log is.

The detector reads the scan's "number of files read" and "size of files read", which Spark (and
now Ember) posts from the driver as ``SparkListenerDriverAccumUpdates``, not from tasks.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from diag.analyze import analyze
from engine.sql import SparkSession
from engine.sql import functions as F

FILES = 300


def test_a_read_of_300_tiny_files_is_diagnosed_small_files(tmp_path):
    src = tmp_path / "tiny"
    src.mkdir()
    for f in range(FILES):
        ids = np.arange(f * 100, (f + 1) * 100, dtype=np.int64)
        pq.write_table(pa.table({"id": ids, "v": ids * 0.5}), src / f"part-{f:05d}.parquet")
    total_bytes = sum(p.stat().st_size for p in src.iterdir())

    spark = SparkSession({"spark.master": "local[2]", "spark.app.name": "tiny-files",
                          "spark.eventLog.dir": str(tmp_path / "events"), "spark.sql.shuffle.partitions": "4",
                          "spark.local.dir": str(tmp_path / "local")})
    try:
        rows = (spark.read.parquet(str(src)).groupBy((F.col("id") % 10).alias("g"))
                .agg(F.count("*").alias("n")).collect())
        log = spark.event_log_path
    finally:
        spark.stop()
    assert sorted(r["n"] for r in rows) == [FILES * 10] * 10

    (report,), errors = analyze(log)
    assert not errors
    (found,) = [d for d in report.findings if d.kind == "small_files"]
    assert found.evidence["files_read"] == FILES
    assert found.evidence["average_file_kib"] == round(total_bytes / FILES / 1024, 1)
    assert found.location.sql_node.startswith("Scan parquet")
