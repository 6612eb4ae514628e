"""Real Spark applications with one KNOWN performance problem each: the analyzer's test inputs.

Every scenario is a function ``f(spark, scratch)`` that runs a small, deterministic workload on an
active pyspark ``SparkSession`` (``scratch`` is an empty directory it may use for data files). Each
one CAUSES exactly the problem it is named after and nothing else, so a detector's test can say
"this log must give diagnosis X and no other". ``generate.py`` runs each scenario as its own
application, with the Spark configuration registered here, and caches its event log (the cache
key is a hash of THIS file: any change here regenerates the logs).

Each docstring states the expected diagnosis and the evidence a detector sees in the log, with the
figures measured on a 2-core machine (pyspark 4.3, local mode); ``test_scenarios.py`` asserts the
evidence against the real logs. "Duration" of a task is Finish Time - Launch Time of its Task Info;
"shuffle read bytes" is Remote Bytes Read + Local Bytes Read of its Shuffle Read Metrics.

Data are generated from ``spark.range`` or written by pyarrow into ``scratch`` (pyarrow writes are
not Spark jobs, so they do not appear in the log). Nothing depends on randomness or the clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[SparkSession, Path], None]
    diagnoses: tuple[str, ...]  # the Diagnosis kinds a detector should report; () for a healthy job
    conf: Mapping[str, str] = field(default_factory=dict)  # set when the application's context starts
    master: str = "local[2]"
    # Settings honoured only when the JVM starts (spark.driver.memory, extraJavaOptions): a scenario
    # with any runs in a JVM of its own; the others share JVMs, one application after another.
    jvm_conf: Mapping[str, str] = field(default_factory=dict)
    cold_jvm: bool = False  # must be the first application of its JVM (it shows JVM warm-up)

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip()


SCENARIOS: dict[str, Scenario] = {}


def scenario(*diagnoses: str, conf: Mapping[str, object] | None = None, master: str = "local[2]",
             jvm_conf: Mapping[str, object] | None = None, cold_jvm: bool = False):
    def register(fn: Callable[[SparkSession, Path], None]):
        SCENARIOS[fn.__name__] = Scenario(
            fn.__name__, fn, tuple(diagnoses), {k: str(v) for k, v in (conf or {}).items()}, master,
            {k: str(v) for k, v in (jvm_conf or {}).items()}, cold_jvm)
        return fn
    return register


def _noop_write(df) -> None:
    """Run the whole plan without keeping its output (Spark's ``noop`` sink)."""
    df.write.format("noop").mode("overwrite").save()


def _write_parquet(path: Path, files: int, rows_per_file: int, *, compression: str = "snappy") -> None:
    """``files`` Parquet files of ``rows_per_file`` rows each (id, k, v, name), written by pyarrow."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.mkdir(parents=True, exist_ok=True)
    names = pa.array([f"name-{i:03d}" for i in range(100)])
    for f in range(files):
        ids = np.arange(f * rows_per_file, (f + 1) * rows_per_file, dtype=np.int64)
        table = pa.table({
            "id": ids,
            "k": ids % 10_000,
            "v": (ids * 7919 % 1_000_003).astype(np.float64) / 7.0,
            "name": names.take(pa.array(ids % 100)),
        })
        pq.write_table(table, path / f"part-{f:05d}.parquet", compression=compression)


# --------------------------------------------------------------------------------------------------
@scenario("skew", conf={"spark.sql.adaptive.enabled": "false", "spark.sql.autoBroadcastJoinThreshold": "-1",
                        "spark.sql.shuffle.partitions": 16})
def skewed_join(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: skew (a skewed join key; AQE, which would split the partition, is off).

    2,000,000 facts join 400,000 dimension rows on ``k``; key 0 holds 90% of the facts. The
    dimension side is too large to broadcast (its exchange's "data size" is ~30 MB, over the
    default 10 MB threshold; the threshold is -1 as well), so the sort-merge join is the right
    plan: the only problem is the key. Over 16 shuffle partitions, the partition holding key 0
    gets ~1.8 M fact rows, each other one ~12 K (plus ~25 K dimension rows each); hashing each
    joined row (SHA-256, then SHA-512) follows in the same stage, so a task's time follows its
    rows. Evidence: in the join stage (16 tasks), max/median shuffle read records ~49 and bytes
    ~26, max/median task duration > 5 (13-19 measured); the slowest task is the one with the
    largest read. No spill, no failures, the other stages balanced.
    """
    facts = spark.range(0, 2_000_000, 1, 4).select(
        F.when(F.col("id") % 10 < 9, F.lit(0)).otherwise(F.col("id") * 7 % 400_000).alias("k"),
        (F.col("id") * 3).alias("amount"))
    dims = spark.range(0, 400_000, 1, 2).select(
        F.col("id").alias("k"), F.format_string("customer-%08d of the northern region", F.col("id")).alias("label"))
    joined = facts.join(dims, "k")
    # per-row work after the join, in the join stage: each task's time follows its row count
    digest = F.sha2(F.concat_ws("|", "label", "amount"), 256)
    _noop_write(joined.select("k", F.sha2(digest, 512).alias("digest")))


@scenario("spill", conf={"spark.memory.fraction": "0.03", "spark.sql.shuffle.partitions": 4})
def spilling_aggregation(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: spill (an aggregation whose hash map does not fit execution memory).

    ``spark.memory.fraction=0.03`` leaves ~22 MB of unified memory for the whole driver (the block
    manager's "Maximum Memory" 22,775,070); a groupBy over 1,000,000 distinct keys then falls back
    to sort-based aggregation and spills, in the partial aggregation of the map stage (2 tasks of
    500,000 keys) and in the final aggregation (2 tasks after AQE coalescing): each task's hash
    map would need ~40 MB, more than the whole pool, so every task spills whatever the timing.
    (With 4 map tasks of 250,000 keys, ~21 MB each, a map task that found the pool free at the
    right moment did not spill: runs differed.) This setting is read per SparkContext (by the
    UnifiedMemoryManager), so it needs no fresh JVM, unlike spark.driver.memory. Evidence: every
    task has TaskEnd "Memory Bytes Spilled" and "Disk Bytes Spilled" > 0 (tens of MB in memory,
    several MB on disk, per task); keys are uniform, so no skew.
    """
    df = spark.range(0, 1_000_000, 1, 2)
    _noop_write(df.groupBy((F.col("id") * 7919 % 1_000_000).alias("key"))
                .agg(F.sum("id").alias("total"), F.max("id").alias("largest")))


@scenario("small_files", conf={"spark.sql.shuffle.partitions": 8})
def small_files_read(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: small_files (a read of 2,000 tiny Parquet files).

    pyarrow writes 2,000 files of 100 rows (two columns, ~1.5 KB each) into ``scratch`` before
    Spark touches them (the write is not part of the log); Spark reads them and aggregates.
    Evidence: the scan's SQL metrics "number of files read" = 2000 and "size of files read" / 2000
    ~ 1.5 KB; ~63 scan tasks each opening ~32 files (spark.sql.files.openCostInBytes, 4 MB, packs
    32 files into a 128 MB split), each task reading only ~3,200 rows.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = scratch / "small_files"
    src.mkdir()
    for f in range(2000):
        ids = np.arange(f * 100, (f + 1) * 100, dtype=np.int64)
        pq.write_table(pa.table({"id": ids, "v": ids * 0.5}), src / f"part-{f:05d}.parquet")
    df = spark.read.parquet(str(src))
    df.groupBy((F.col("id") % 10).alias("g")).agg(F.sum("v").alias("total"), F.count("*").alias("n")).collect()


# Hadoop's local file system sets the permission of every file and directory it creates by running
# `chmod` in a child process (libhadoop, which would do it natively, is not in pyspark): each costs
# milliseconds. RawLocalFileSystem skips the .crc side files, halving those processes.
_RAW_LOCAL_FS = {"spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
                 "spark.hadoop.fs.file.impl.disable.cache": "true"}


@scenario("small_output_files", conf={"spark.sql.shuffle.partitions": 8, **_RAW_LOCAL_FS})
def small_files_write(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: small_output_files (a write that produces 2,000 tiny files).

    200,000 rows in 2 partitions are written with ``partitionBy("bucket")`` over 1,000 distinct
    buckets: each of the 2 write tasks opens one file per bucket. Evidence: the write command's SQL
    metrics "number of written files" = 2000, "number of dynamic part" = 1000, "written output" /
    files ~ 1.8 KB; TaskEnd Output Metrics "Records Written" 100,000 per task. (Hadoop's local file
    system is set to RawLocalFileSystem only to make this write cheaper without libhadoop.)
    """
    df = spark.range(0, 200_000, 1, 2).select(
        F.col("id"), (F.col("id") * 31).alias("value"), (F.col("id") % 1000).alias("bucket"))
    df.write.mode("overwrite").partitionBy("bucket").parquet(str(scratch / "out"))


@scenario("shuffle_heavy", conf={"spark.sql.shuffle.partitions": 8})
def shuffle_chain(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: shuffle_heavy (a chain of wide transformations re-shuffling the whole data).

    600,000 narrow rows (id, k, v, name) in 2 zstd Parquet files (pyarrow) are enriched with a
    string column and then go through repartition(id) -> a window partitioned by k -> groupBy(id)
    -> groupBy(k): three exchanges move every row, the fourth the partial aggregates. Evidence: one
    SQL execution with 4 shuffle exchanges (AQE runs each as its own job), whose total Shuffle
    Bytes Written is many times (> 5x) the scan's "size of files read"; no stage skewed (uniform
    keys), no spill.
    """
    from pyspark.sql import Window

    src = scratch / "input"
    _write_parquet(src, files=2, rows_per_file=300_000, compression="zstd")
    df = spark.read.parquet(str(src))
    enriched = df.withColumn("tag", F.concat_ws("/", F.col("name"), F.col("k").cast("string"), F.lit("enriched")))
    step1 = enriched.repartition(8, "id")
    step2 = step1.withColumn("rank", F.row_number().over(Window.partitionBy("k").orderBy("id")))
    step3 = step2.groupBy("id").agg(F.first("k").alias("k"), F.max("tag").alias("tag"), F.sum("rank").alias("rank"))
    step4 = step3.groupBy("k").agg(F.count("*").alias("n"), F.max("tag").alias("tag"), F.sum("rank").alias("rank"))
    step4.collect()


@scenario("task_failures", master="local[2,4]", conf={"spark.sql.shuffle.partitions": 4})
def task_failures(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: task_failures (tasks that fail once and succeed on retry).

    Master ``local[2,4]`` allows 4 attempts per task. In an 8-task stage over 8,000 rows, the
    first attempt of partitions 1, 4 and 6 raises ``raise_error("injected failure")``; their second
    attempts succeed and the job succeeds. "First attempt" is known without Python: the task sets
    a JVM system property named after the application and partition (``reflect`` of
    System.setProperty, which returns the previous value, "null" the first time). A Python UDF would
    do too, but its plan node would make the log look like a Python-UDF problem as well. Evidence:
    3 TaskEnd events with "Task End Reason" {"Reason": "ExceptionFailure", "Description":
    "[USER_RAISED_EXCEPTION] injected failure ..."} and "Failed": true, for indexes 1, 4, 6,
    attempt 0, each followed by a successful attempt 1 of the same stage and index; every job
    JobSucceeded.
    """
    token = f"ember.scenario.failed.{spark.sparkContext.applicationId}."
    first_attempt = F.expr(
        f"reflect('java.lang.System', 'setProperty', concat('{token}', spark_partition_id()), 'once') = 'null'")
    flaky = (F.when(F.spark_partition_id().isin(1, 4, 6) & first_attempt, F.raise_error(F.lit("injected failure")))
             .otherwise(F.col("id") * 2).cast("long"))
    df = spark.range(0, 8000, 1, 8).select((F.col("id") % 100).alias("g"), flaky.alias("v"))
    df.groupBy("g").agg(F.sum("v")).collect()


@scenario("tiny_tasks", conf={"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": 3000})
def tiny_tasks(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: tiny_tasks (3,000 shuffle partitions for a few MB of data, AQE off).

    A groupBy over 300,000 rows with 150,000 keys, spark.sql.shuffle.partitions=3000 and AQE off
    (which would coalesce them). Evidence: a reduce stage of 3000 tasks whose median Executor Run
    Time is a few ms (less than the per-task overhead around it), each reading ~100 records / ~1 KB;
    records are spread evenly (max/median < 2), so it is not skew.
    """
    df = spark.range(0, 300_000, 1, 2)
    _noop_write(df.groupBy((F.col("id") % 150_000).alias("key")).agg(F.count("*").alias("n")))


@scenario("python_udf", conf={"spark.sql.shuffle.partitions": 4})
def python_udf(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: python_udf (a row-at-a-time Python UDF that dominates the run time).

    A pickled (non-Arrow) ``@udf`` over 1,000,000 rows, then a sum. Evidence: the physical plan has
    a BatchEvalPython node (not ArrowEvalPython) whose SQL metrics show "number of output rows"
    1,000,000, "data sent to Python workers" ~6 MB, and "time to run Python workers" (ms, summed
    over tasks) most of the stage's summed Executor Run Time; "time to execute Python code" is
    seconds.
    """

    @F.udf("long", useArrow=False)
    def score(x):
        return (x * 31 + 7) % 1000

    df = spark.range(0, 1_000_000, 1, 4)
    df.select(score("id").alias("s")).agg(F.sum("s")).collect()


@scenario("broadcastable_join", conf={"spark.sql.autoBroadcastJoinThreshold": "-1", "spark.sql.shuffle.partitions": 8})
def broadcastable_smj(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: broadcastable_join (a sort-merge join whose small side would fit a broadcast).

    2,000,000 facts join a 100-row dimension table with ``spark.sql.autoBroadcastJoinThreshold=-1``
    (AQE on, which cannot convert it either since the runtime threshold defaults to the same -1).
    Evidence: the final plan has SortMergeJoin; the dimension side's ShuffleExchange "data size"
    is a few KB (far under the default 10 MB threshold) while the fact side shuffles tens of MB;
    the spark.sql.autoBroadcastJoinThreshold property is -1.
    """
    facts = spark.range(0, 2_000_000, 1, 4).select((F.col("id") % 100).alias("k"), (F.col("id") * 3).alias("amount"))
    dims = spark.range(0, 100, 1, 1).select(F.col("id").alias("k"), F.concat(F.lit("k-"), F.col("id")).alias("label"))
    facts.join(dims, "k").groupBy("label").agg(F.sum("amount").alias("total")).collect()


@scenario(conf={"spark.sql.adaptive.enabled": "true"})
def healthy(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: none (two well-sized jobs on defaults: AQE on, auto broadcast).

    4 Parquet files of 500,000 rows (pyarrow, ~6 MB each). Query 1: groupBy(k) over 10,000 keys,
    collected. Query 2: join with a 100-row dimension table (broadcast automatically) and a
    groupBy. Evidence of health: no failed task, no spill, balanced tasks, 8 files read (4 per
    query, ~6 MB each), shuffle bytes ~1% of the bytes read, no Python, a BroadcastHashJoin, AQE
    coalescing the 200 shuffle partitions into one.
    """
    src = scratch / "facts"
    _write_parquet(src, files=4, rows_per_file=500_000)
    facts = spark.read.parquet(str(src))
    facts.groupBy("k").agg(F.sum("v").alias("total"), F.count("*").alias("n")).collect()
    dims = spark.range(0, 100).select(F.format_string("name-%03d", F.col("id")).alias("name"),
                                      (F.col("id") % 7).alias("region"))
    facts.join(dims, "name").groupBy("region").agg(F.avg("v").alias("mean")).collect()


@scenario(cold_jvm=True, conf={"spark.sql.adaptive.enabled": "true"})
def healthy_with_warmup(spark: SparkSession, scratch: Path) -> None:
    """Diagnosis: none, though the first tasks are slow (the false-skew trap).

    The first application of a fresh JVM: an aggregation over 16 tasks of exactly 25,000 rows
    each, whose partial aggregation leaves 64 rows per task to shuffle (a few KB). The first task
    on each core also pays class loading, code generation (Janino) and JIT warm-up (~0.5 s), so it
    takes several times the median (tens of ms) with the same records. Evidence: in the first stage (16 tasks)
    max/median task duration is high (> 3; 4.8-8 measured) while max/median input records and
    shuffle write records are 1.0, and the slowest tasks are indexes 0 and 1 (the first wave).
    A skew detector must not fire; nothing else is wrong either (the shuffle is tiny).
    """
    df = spark.range(0, 400_000, 1, 16).select(
        F.col("id"), F.sqrt(F.col("id").cast("double")).alias("r"))
    df.groupBy((F.col("id") % 64).alias("b")).agg(F.sum("r").alias("r"), F.count("*").alias("n")).collect()
