"""The analyzer's throughput on a large log: read + model a log of many tasks.

The log is made of real Spark 4 events: a real pyspark application's log (the ``healthy``
scenario of tests/spark_jobs), whose TaskEnd events are repeated with fresh task ids until the
log holds ``EMBER_BENCH_TASKS`` tasks (default 200,000; the issue's target is 1,000,000 tasks in
under 20 s and 2 GiB). Written once per size under the benchmark data cache.

    EMBER_BENCH_TASKS=1000000 .venv/bin/python -m pytest benchmarks/test_diag_throughput.py --benchmark-only
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import orjson
import psutil
import pytest

from diag.eventlog import read_events
from diag.model import build_model
from tests.spark_jobs.fixtures import spark_logs  # noqa: F401 - the real logs' fixture

TASKS = int(os.environ.get("EMBER_BENCH_TASKS", "200000"))
TARGET_SECONDS_PER_MILLION = 20.0
TARGET_PEAK_BYTES = 2 << 30

pytestmark = pytest.mark.spark


def _big_log(source_log: Path, tasks: int) -> Path:
    root = Path(os.environ.get("EMBER_BENCH_DATA", Path.home() / ".cache" / "ember" / "bench-data"))
    path = root / f"eventlog-{tasks}-tasks.json"
    if path.exists():
        return path
    root.mkdir(parents=True, exist_ok=True)
    lines = [line for line in source_log.read_bytes().splitlines() if line.strip()]
    task_ends = [orjson.loads(line) for line in lines if b'"SparkListenerTaskEnd"' in line]
    head = [line for line in lines if b'"SparkListenerApplicationEnd"' not in line]
    end = [line for line in lines if b'"SparkListenerApplicationEnd"' in line]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for line in head:
            f.write(line + b"\n")
        for i in range(tasks):
            event = task_ends[i % len(task_ends)]
            event["Task Info"]["Task ID"] = 1_000_000 + i
            f.write(orjson.dumps(event) + b"\n")
        for line in end:
            f.write(line + b"\n")
    tmp.rename(path)
    return path


class _PeakRSS:
    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_read_and_model_a_large_log(benchmark, spark_logs):
    log = _big_log(Path(spark_logs["healthy"]), TASKS)

    def read_and_model():
        return build_model(read_events(str(log), lean_task_ends=True))

    with _PeakRSS() as rss:
        model = benchmark.pedantic(read_and_model, rounds=1, iterations=1)
    seconds = benchmark.stats.stats.median
    per_million = seconds * 1_000_000 / TASKS
    benchmark.extra_info.update(tasks=TASKS, seconds=seconds, projected_seconds_per_million=per_million,
                                peak_rss_mib=rss.peak >> 20, log_mib=log.stat().st_size >> 20)
    assert model.tasks.num_rows >= TASKS
    if TASKS >= 1_000_000:
        assert seconds < TARGET_SECONDS_PER_MILLION * TASKS / 1_000_000, f"{seconds:.1f} s for {TASKS} tasks"
        assert rss.peak < TARGET_PEAK_BYTES, f"peak RSS {rss.peak >> 20} MiB"
