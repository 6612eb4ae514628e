"""A job whose shuffled data is ten times the execution memory finishes by spilling, with the
process's memory held near the configured size (measured with psutil in a subprocess).

What bounds it: the map side aggregates in slices its hash map has memory for and buffers its
shuffle output under a reservation, spilling when refused (``ShuffleExternalSorter``); the reduce
side reads block by block, reserves the working memory of an in-memory merge or spills instead,
spills runs taken a batch at a time and merges runs of small batches; and the process returns
freed native memory (``spark.ember.memory.returnFreedMemory`` with ``ARROW_DEFAULT_MEMORY_POOL=system``:
the system allocator for Arrow, a fixed glibc mmap threshold) instead of keeping it in allocator caches.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

MiB = 1024 * 1024
EXECUTION_MEMORY = 16 * MiB  # spark.driver.memory 27m, no reserved memory: 0.6 * 27 MiB
ROWS = 7_000_000
SHUFFLED_BYTES = ROWS * 24  # one (key, sum, count) state per row reaches the final aggregate: 10x the memory
# Besides the execution memory the tasks are granted, the process holds what is not reserved: the
# map tasks' input partitions (two 2.8 MB ranges), a spill's sort indices and the batch being
# written, Python objects and event-log buffers, and allocator fragmentation. Measured growth with
# the settings below: 39-41 MiB on a shared 2-core machine (113-120 MiB without returnFreedMemory).
ALLOWANCE = 32 * MiB
JOB = textwrap.dedent(f"""
    import json, sys, threading, time
    import psutil
    from engine.sql import SparkSession, functions as F

    spark = (SparkSession.builder.master("local[2]").appName("bounded-memory")
             .config("spark.driver.memory", "27m").config("spark.testing.reservedMemory", "0")
             .config("spark.sql.shuffle.partitions", 4).config("spark.sql.adaptive.enabled", "false")
             .config("spark.eventLog.dir", sys.argv[1]).config("spark.eventLog.compress", "false")
             .config("spark.eventLog.rolling.enabled", "false")
             .config("spark.ember.memory.returnFreedMemory", "true").getOrCreate())

    def job(rows, parts):
        grouped = (spark.range(0, rows, numPartitions=parts)
                   .select((F.col("id") * 7919 % (rows // 2)).alias("k"), F.col("id"))
                   .groupBy("k").agg(F.sum("id").alias("s"), F.count("id").alias("c")))
        return grouped.agg(F.count(F.lit(1)), F.sum("s"), F.sum("c")).collect()[0]

    job(1000, 2)  # compile the kernels first: their memory is not the job's
    process = psutil.Process()
    def anonymous():
        info = process.memory_info()
        return info.rss - info.shared  # file-backed pages (mapped spill output) are the OS's to drop
    baseline, peak, peak_rss, done = anonymous(), [0], [0], threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anonymous())
            peak_rss[0] = max(peak_rss[0], process.memory_info().rss)
            time.sleep(0.01)
    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    groups, total, count = job({ROWS}, 20)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    spark.stop()
    print(json.dumps({{"groups": groups, "total": total, "count": count, "baseline": baseline,
                      "peak": peak[0], "peak_rss": peak_rss[0], "seconds": seconds,
                      "log": spark.event_log_path}}))
""")


def test_aggregating_ten_times_the_execution_memory_spills_within_bounded_memory(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # returnFreedMemory needs Arrow's system allocator, which Arrow reads at process start
    environment = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}
    done = subprocess.run([sys.executable, "-c", JOB, str(tmp_path)], cwd=root, capture_output=True, text=True,
                          timeout=300, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["groups"], result["total"], result["count"]) == (ROWS // 2, ROWS * (ROWS - 1) // 2, ROWS)
    growth = result["peak"] - result["baseline"]
    print(f"\nbounded job: {result['seconds']:.1f} s, private memory growth {growth / MiB:.0f} MiB "
          f"(peak RSS with mapped files {result['peak_rss'] / MiB:.0f} MiB) for "
          f"{EXECUTION_MEMORY / MiB:.0f} MiB of execution memory")
    assert SHUFFLED_BYTES >= 10 * EXECUTION_MEMORY
    assert growth < 2 * EXECUTION_MEMORY + ALLOWANCE
    assert result["seconds"] < 20

    tasks = [json.loads(line) for line in open(result["log"]) if '"SparkListenerTaskEnd"' in line]
    metrics = [t["Task Metrics"] for t in tasks]
    assert sum(m["Memory Bytes Spilled"] for m in metrics) > 5 * EXECUTION_MEMORY
    assert sum(m["Disk Bytes Spilled"] for m in metrics) > 0
    assert 0 < max(m["Peak Execution Memory"] for m in metrics)
