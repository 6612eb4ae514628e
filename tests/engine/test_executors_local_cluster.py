"""local-cluster[E,C,M]: tasks run in E real executor processes and report back."""
from __future__ import annotations

import subprocess
import sys

from engine.codegen.pipeline import compile_pipeline
from engine.executor import serializer
from engine.scheduler import events as ev
from engine.sql import functions as F
from engine.sql.conf import parse_local_cluster, parse_master
from engine.sql.session import SparkSession


def test_parse_local_cluster_master():
    assert parse_local_cluster("local-cluster[2,3,1024]") == (2, 3, 1024)
    assert parse_local_cluster("local[2]") is None
    assert parse_master("local-cluster[2,3,1024]") == (6, 4)


def test_local_cluster_runs_tasks_in_executor_processes(tmp_path):
    options = {"spark.master": "local-cluster[2,1,512]", "spark.eventLog.enabled": "false",
               "spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": "4",
               "spark.local.dir": str(tmp_path)}
    spark = SparkSession(options)
    events = []
    spark.bus.add_listener(type("Recorder", (), {"on_event": lambda self, e: events.append(e)})())
    try:
        pids = {spark.backend.executor_pid(e) for e in ("0", "1")}
        assert len(pids) == 2 and spark.backend.executor_pid("0") != __import__("os").getpid()
        df = (spark.range(0, 10000, numPartitions=4).where(F.col("id") % 3 == 0)
              .withColumn("k", F.col("id") % 5).groupBy("k").agg(F.count("id").alias("n")))
        expected = {k: sum(1 for i in range(0, 10000) if i % 3 == 0 and i % 5 == k) for k in range(5)}
        assert {r["k"]: r["n"] for r in df.collect()} == expected
        spark.bus.wait_until_empty()
        ends = [e for e in events if isinstance(e, ev.SparkListenerTaskEnd)]
        assert {e.task_info.executor_id for e in ends} <= {"0", "1"} and ends
        assert all(e.executor_metrics["ProcessTreePythonRSSMemory"] > 0 for e in ends)
        # SQL metric updates made in the executors reach the driver's plan
        exchange_rows = [a for e in ends for a in e.task_info.accumulables if a.name == "records read"]
        assert sum(a.update for a in exchange_rows) > 0
    finally:
        spark.stop()


def test_a_compiled_kernel_travels_as_its_cached_module_and_loads_without_recompiling(tmp_path):
    from engine.catalyst.expressions import Arithmetic, AttributeReference, Literal
    from engine.sql.types import LongType

    a = AttributeReference("a", LongType(), False)
    pipeline = compile_pipeline((a,), None, (Arithmetic("*", a, Literal(3, LongType())),))
    kernel = pipeline.precompile()
    payload = tmp_path / "pipeline.bin"
    payload.write_bytes(serializer.dumps(pipeline))
    probe = ("import sys; from engine.executor import serializer; "
             f"p = serializer.loads(open({str(payload)!r}, 'rb').read()); k = p.kernel; "
             "print(k.fingerprint, k.from_disk_cache)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == [kernel.fingerprint, "True"]
