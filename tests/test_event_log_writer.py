"""EventLoggingListener + json_protocol: Ember's event logs are Spark's event logs.

Three kinds of evidence:

* layout: every file name, rolling, compression and flush behaviour Spark's writers have;
* shape: every event's keys (order and nesting) and value types are those of the same event in a
  log that a real pyspark 4 writes in this session (generated once, cached by pyspark version);
* acceptance: Spark's own History Server lists the application and reports its jobs, stages and
  tasks (one server for the module).
"""
from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from engine.scheduler import event_logging_listener as ell
from engine.scheduler.event_logging_listener import EventLoggingListener, byte_size
from engine.scheduler.events import (
    AccumulableInfo,
    RDDInfo,
    ShuffleReadMetrics,
    ShuffleWriteMetrics,
    SparkListenerApplicationEnd,
    SparkListenerApplicationStart,
    SparkListenerBlockManagerAdded,
    SparkListenerDriverAccumUpdates,
    SparkListenerEnvironmentUpdate,
    SparkListenerExecutorAdded,
    SparkListenerExecutorRemoved,
    SparkListenerJobEnd,
    SparkListenerJobStart,
    SparkListenerLogStart,
    SparkListenerSQLExecutionEnd,
    SparkListenerSQLExecutionStart,
    SparkListenerStageCompleted,
    SparkListenerStageSubmitted,
    SparkListenerTaskEnd,
    SparkListenerTaskStart,
    SparkPlanInfo,
    SQLMetricInfo,
    StageInfo,
    TaskEndReason,
    TaskInfo,
    TaskMetrics,
)
from engine.scheduler.json_protocol import event_to_json, stack_trace_element_json
from tests.support.history_server import history_server

T0 = 1_700_000_000_000
HOST = "127.0.0.1"
SQL_EVENT = "org.apache.spark.sql.execution.ui.SparkListener"

# ---------------------------------------------------------------------------------------------
# a small Ember application, built by hand: one SQL query (two stages, one task failing once and
# retried), then a job whose only task fails twice


def _task_info(task_id, index, attempt, launch, finish=0, *, failed=False, accumulables=()):
    return TaskInfo(
        task_id=task_id,
        index=index,
        attempt=attempt,
        partition_id=index,
        launch_time=launch,
        executor_id="driver",
        host=HOST,
        finish_time=finish,
        failed=failed,
        accumulables=list(accumulables),
    )


def _sql_accumulables(task_id: int, rows: int) -> list[AccumulableInfo]:
    return [
        AccumulableInfo(id=3, name="number of output rows", update=rows, value=rows * (task_id + 1),
                        metadata="sql"),
        AccumulableInfo(id=1, name="internal.metrics.executorRunTime", update=7, value=7 * (task_id + 1)),
    ]


def _metrics(run_time: int, *, shuffle_write: int = 0, shuffle_read: int = 0) -> TaskMetrics:
    return TaskMetrics(
        executor_deserialize_time=2,
        executor_deserialize_cpu_time=1_500_000,
        executor_run_time=run_time,
        executor_cpu_time=run_time * 900_000,
        peak_execution_memory=65_536,
        result_size=1_800,
        jvm_gc_time=1,
        input_bytes_read=4_096,
        input_records_read=500,
        shuffle_read=ShuffleReadMetrics(local_blocks_fetched=2, local_bytes_read=shuffle_read,
                                        records_read=7 if shuffle_read else 0),
        shuffle_write=ShuffleWriteMetrics(bytes_written=shuffle_write, write_time=250_000,
                                          records_written=7 if shuffle_write else 0),
    )


def _stage(stage_id, name, num_tasks, parents=(), *, submitted=None, completed=None, failure=None,
           accumulables=()):
    rdd = RDDInfo(rdd_id=stage_id * 2 + 1, name="MapPartitionsRDD", num_partitions=num_tasks,
                  parent_ids=[stage_id * 2], callsite=f"{name} at app.py:12",
                  scope='{"id":"7","name":"Exchange"}')
    return StageInfo(stage_id=stage_id, attempt_id=0, name=f"{name} at app.py:12",
                     num_tasks=num_tasks, rdd_infos=[rdd], parent_ids=list(parents),
                     details="engine.sql.dataframe.collect(app.py:12)", submission_time=submitted,
                     completion_time=completed, failure_reason=failure,
                     accumulables=list(accumulables))


def _failure(description: str) -> TaskEndReason:
    return TaskEndReason(
        reason="ExceptionFailure",
        class_name="ValueError",
        description=description,
        stack_trace=[
            '  File "/work/app/engine/execution/project_exec.py", line 41, in execute\n',
            '  File "/work/app/udfs.py", line 7, in parse\n',
        ],
        full_stack_trace=f"Traceback (most recent call last):\nValueError: {description}\n",
    )


def _task_events(stage_id, task_type, tasks, t):
    """TaskStart/TaskEnd pairs; ``tasks`` is [(task_id, index, attempt, reason)]."""
    out = []
    for task_id, index, attempt, reason in tasks:
        launch = t + 10 * task_id
        out.append(SparkListenerTaskStart(stage_id, 0, _task_info(task_id, index, attempt, launch)))
        failed = reason.reason != "Success"
        info = _task_info(task_id, index, attempt, launch, launch + 8, failed=failed,
                          accumulables=_sql_accumulables(task_id, 5))
        metrics = _metrics(7, shuffle_write=120 if task_type == "ShuffleMapTask" else 0,
                           shuffle_read=120 if stage_id == 1 else 0)
        out.append(SparkListenerTaskEnd(stage_id, 0, task_type, reason, info, metrics))
    return out


def ember_application(app_id: str, app_name: str = "ember-app") -> list:
    """The whole life of a small application, as Ember's scheduler would post it."""
    ok = TaskEndReason()
    plan = SparkPlanInfo(
        node_name="HashAggregate", simple_string="HashAggregate(keys=[k#1L], functions=[sum(id#0L)])",
        metadata={},
        metrics=[SQLMetricInfo("number of output rows", 3, "sum"),
                 SQLMetricInfo("time in aggregation build", 4, "timing")],
        children=[SparkPlanInfo(
            node_name="Exchange", simple_string="Exchange hashpartitioning(k#1L, 2)", metadata={},
            metrics=[SQLMetricInfo("shuffle bytes written", 5, "size")],
            children=[SparkPlanInfo(
                node_name="Scan parquet", simple_string="FileScan parquet [id#0L,k#1L]",
                metadata={"Format": "Parquet", "Location": "InMemoryFileIndex[file:/data/t]"},
                metrics=[SQLMetricInfo("number of files read", 6, "sum")], children=[])])])
    stage0_done = _stage(0, "collect", 2, submitted=T0 + 100, completed=T0 + 200,
                         accumulables=[AccumulableInfo(3, "number of output rows", None, 10,
                                                       metadata="sql")])
    stage1_done = _stage(1, "collect", 2, [0], submitted=T0 + 210, completed=T0 + 300)
    stage2_failed = _stage(2, "count", 1, submitted=T0 + 410, completed=T0 + 450,
                           failure="Job aborted: task 0 in stage 2.0 failed 2 times: ValueError")
    properties = {"spark.sql.execution.id": "0", "spark.rdd.scope.noOverride": "true",
                  "spark.job.description": "collect at app.py:12"}
    return [
        SparkListenerLogStart("4.3.0"),
        SparkListenerApplicationStart(app_name, app_id, T0, "ember"),
        SparkListenerEnvironmentUpdate(
            spark_properties={"spark.master": "local[2]", "spark.app.name": app_name,
                              "spark.app.id": app_id, "spark.eventLog.enabled": "true"},
            system_properties={"java.io.tmpdir": "/tmp", "user.name": "ember"},
            jvm_information={"Java Home": "", "Java Version": "Python 3.11", "Scala Version": ""},
            classpath_entries={"/work/app/engine": "System Classpath"},
        ),
        SparkListenerExecutorAdded(T0 + 1, "driver", HOST, 2),
        SparkListenerBlockManagerAdded(T0 + 2, "driver", HOST, 40_401, 455_501_414, 455_501_414),
        SparkListenerSQLExecutionStart(0, "collect at app.py:12", "app.py:12",
                                       "== Physical Plan ==\nHashAggregate (3)\n", plan, T0 + 90),
        SparkListenerJobStart(0, T0 + 95, [_stage(0, "collect", 2), _stage(1, "collect", 2, [0])],
                              properties),
        SparkListenerStageSubmitted(_stage(0, "collect", 2, submitted=T0 + 100), properties),
        *_task_events(0, "ShuffleMapTask",
                      [(0, 0, 0, ok), (1, 1, 0, _failure("bad row 17")), (2, 1, 1, ok)], T0 + 100),
        SparkListenerStageCompleted(stage0_done),
        SparkListenerStageSubmitted(_stage(1, "collect", 2, [0], submitted=T0 + 210), properties),
        *_task_events(1, "ResultTask", [(3, 0, 0, ok), (4, 1, 0, ok)], T0 + 210),
        SparkListenerStageCompleted(stage1_done),
        SparkListenerJobEnd(0, T0 + 305, succeeded=True),
        SparkListenerDriverAccumUpdates(0, [(6, 3)]),
        SparkListenerSQLExecutionEnd(0, T0 + 310),
        SparkListenerJobStart(1, T0 + 400, [_stage(2, "count", 1)], {}),
        SparkListenerStageSubmitted(_stage(2, "count", 1, submitted=T0 + 410), {}),
        *_task_events(2, "ResultTask", [(5, 0, 0, _failure("boom")), (6, 0, 1, _failure("boom"))],
                      T0 + 410),
        SparkListenerStageCompleted(stage2_failed),
        SparkListenerJobEnd(1, T0 + 455, succeeded=False,
                            exception="Job aborted due to stage failure: ValueError: boom"),
        SparkListenerApplicationEnd(T0 + 500),
    ]


# What the History Server must report for ember_application.
EXPECTED_JOBS = {0: ("SUCCEEDED", 4, 1), 1: ("FAILED", 0, 2)}  # status, completed, failed tasks
EXPECTED_STAGES = {0: ("COMPLETE", 3), 1: ("COMPLETE", 2), 2: ("FAILED", 2)}  # status, task runs


def write_application(log_dir: Path, app_id: str, conf: dict[str, Any], **kwargs) -> Path:
    listener = EventLoggingListener(app_id, {"spark.eventLog.dir": str(log_dir), **conf})
    listener.start()
    for event in ember_application(app_id, **kwargs):
        listener.on_event(event)
    listener.stop()
    return listener.log_path


# ---------------------------------------------------------------------------------------------
# reading logs back (Spark's codecs: zstd stream, lz4-java blocks, snappy-java blocks)


def decode(path: Path) -> bytes:
    data = path.read_bytes()
    codec = path.name.removesuffix(".inprogress").rsplit(".", 1)[-1]
    if codec == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
        return reader.read()
    if codec == "lz4":
        return _decode_lz4_java(data)
    if codec == "snappy":
        return _decode_snappy_java(data)
    return data


def _decode_lz4_java(data: bytes) -> bytes:
    import lz4.block

    out, i = bytearray(), 0
    while i < len(data):
        magic, token, clen, olen, checksum = struct.unpack_from("<8sBiii", data, i)
        assert magic == b"LZ4Block"
        i += 21
        if olen == 0:
            break
        block = data[i:i + clen]
        raw = block if token & 0xF0 == 0x10 else lz4.block.decompress(block, uncompressed_size=olen)
        assert ell.xxhash32(raw, 0x9747B28C) & 0x0FFFFFFF == checksum
        out += raw
        i += clen
    return bytes(out)


def _decode_snappy_java(data: bytes) -> bytes:
    import cramjam

    assert data[:8] == b"\x82SNAPPY\x00"
    out, i = bytearray(), 16
    while i < len(data):
        (n,) = struct.unpack_from(">i", data, i)
        out += bytes(cramjam.snappy.decompress_raw(data[i + 4:i + 4 + n]))
        i += 4 + n
    return bytes(out)


def event_files(log_path: Path) -> list[Path]:
    """A log's event files in order: the file itself, or events_1_.., events_2_.. of a directory."""
    if log_path.is_file():
        return [log_path]
    files = [p for p in log_path.iterdir() if p.name.startswith("events_")]
    return sorted(files, key=lambda p: int(p.name.split("_")[1]))


def read_events(log_path: Path) -> list[dict[str, Any]]:
    lines = b"".join(decode(p) for p in event_files(log_path)).splitlines()
    return [orjson.loads(line) for line in lines]


# ---------------------------------------------------------------------------------------------
# layouts

APP = "local-1700000000000"

LAYOUTS = {
    "single-plain": {"spark.eventLog.rolling.enabled": "false", "spark.eventLog.compress": "false"},
    "single-zstd": {"spark.eventLog.rolling.enabled": False},
    "single-lz4": {"spark.eventLog.rolling.enabled": "false",
                   "spark.eventLog.compression.codec": "lz4"},
    "single-snappy": {"spark.eventLog.rolling.enabled": "false",
                      "spark.eventLog.compression.codec": "snappy"},
    "rolling-plain": {"spark.eventLog.compress": "false"},
    "rolling-zstd": {},  # Spark 4's defaults
    "rolling-zstd-tiny": {"spark.eventLog.rolling.maxFileSize": "6k"},
    "rolling-lz4-tiny": {"spark.eventLog.compression.codec": "lz4",
                         "spark.eventLog.rolling.maxFileSize": "6k"},
}


def expected_lines(app_id: str) -> list[dict[str, Any]]:
    events = [e for e in ember_application(app_id) if not isinstance(e, SparkListenerLogStart)]
    head = [{"Event": "SparkListenerLogStart", "Spark Version": ell.SPARK_VERSION},
            ell.resource_profile_added_json()]
    return head + [event_to_json(e) for e in events]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_names_and_content(tmp_path: Path, layout: str) -> None:
    conf = LAYOUTS[layout]
    log_dir = tmp_path / "missing" / "events"  # created by the listener, unlike Spark
    log_path = write_application(log_dir, APP, conf)

    codec = "" if "plain" in layout else "." + layout.split("-")[1]
    if layout.startswith("single"):
        assert log_path == log_dir / f"{APP}{codec}"
        assert sorted(p.name for p in log_dir.iterdir()) == [log_path.name]
    else:
        assert log_path == log_dir / f"eventlog_v2_{APP}"
        names = sorted(p.name for p in log_path.iterdir())
        files = event_files(log_path)
        assert names == sorted([f"appstatus_{APP}"] + [p.name for p in files])
        assert [p.name for p in files] == [f"events_{n}_{APP}{codec}" for n in range(1, len(files) + 1)]
        assert (log_path / f"appstatus_{APP}").stat().st_size == 0
        if "tiny" in layout:
            assert len(files) >= 3
            for f in files:  # each file rolled before passing the limit (with one event's slack)
                assert len(decode(f)) <= byte_size("6k")
            # As in Spark, only the first file starts with LogStart; later ones start mid-stream.
            firsts = [orjson.loads(decode(f).split(b"\n", 1)[0])["Event"] for f in files]
            assert firsts[0] == "SparkListenerLogStart"
            assert "SparkListenerLogStart" not in firsts[1:]
        else:
            assert len(files) == 1

    assert read_events(log_path) == expected_lines(APP)
    for f in event_files(log_path):
        assert decode(f).endswith(b"\n")


def test_zstd_file_is_one_frame_readable_while_in_progress(tmp_path: Path) -> None:
    listener = EventLoggingListener(APP, {"spark.eventLog.dir": f"file://{tmp_path}",
                                          "spark.eventLog.rolling.enabled": "false"})
    listener.start()
    events = ember_application(APP)
    for event in events[:8]:  # up to the first StageSubmitted, which flushes
        listener.on_event(event)
    in_progress = tmp_path / f"{APP}.zstd.inprogress"
    assert in_progress.exists() and not listener.log_path.exists()
    # A live reader (the History Server) decodes what has been flushed so far.
    partial = zstandard.ZstdDecompressor().decompressobj().decompress(in_progress.read_bytes())
    last = orjson.loads(partial.splitlines()[-1])["Event"]
    assert last == "SparkListenerStageSubmitted"

    # Task events are not flushed one by one; the background flusher writes them within ~1 s.
    assert isinstance(events[8], SparkListenerTaskStart)
    listener.on_event(events[8])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        partial = zstandard.ZstdDecompressor().decompressobj().decompress(in_progress.read_bytes())
        if orjson.loads(partial.splitlines()[-1])["Event"] == "SparkListenerTaskStart":
            break
        time.sleep(0.1)
    else:
        pytest.fail("TaskStart not flushed by the periodic flusher")
    listener.stop()
    data = listener.log_path.read_bytes()
    one_frame = zstandard.ZstdDecompressor().decompressobj()
    one_frame.decompress(data)
    assert one_frame.eof and one_frame.unused_data == b""
    frame = zstandard.get_frame_parameters(data)
    assert frame.content_size == zstandard.CONTENTSIZE_UNKNOWN  # streamed, as Spark's


def test_on_event_is_thread_safe(tmp_path: Path) -> None:
    listener = EventLoggingListener(APP, {"spark.eventLog.dir": str(tmp_path),
                                          "spark.eventLog.rolling.maxFileSize": "4k"})
    events = [e for e in ember_application(APP) if isinstance(e, SparkListenerTaskEnd)]
    with listener:
        threads = [threading.Thread(target=lambda: [listener.on_event(e) for e in events * 20])
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = read_events(listener.log_path)
    assert len(lines) == 2 + 4 * 20 * len(events)


def test_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = EventLoggingListener("app-1")
    assert default.log_path == Path("ember-events") / "eventlog_v2_app-1"  # rolling, zstd
    assert default._codec.name == "zstd"
    for uri in ("file:///x/y", "file:/x/y", "file://localhost/x/y", "/x/y"):
        log = EventLoggingListener("a", {"spark.eventLog.dir": uri,
                                         "spark.eventLog.rolling.enabled": "FALSE"}).log_path
        assert log == Path("/x/y/a.zstd")
    assert EventLoggingListener("app:1/2.x", {"spark.eventLog.compress": "false"},
                                app_attempt_id="1").log_path.name == "eventlog_v2_app-1-2_x_1"
    assert [byte_size(v) for v in (512, "512", "4k", "10m", " 10MB ", "1g")] == [
        512, 512, 4096, 10 * 2**20, 10 * 2**20, 2**30]
    with pytest.raises(ValueError, match="fractions"):
        byte_size("1.5m")
    with pytest.raises(ValueError, match="boolean"):
        EventLoggingListener("a", {"spark.eventLog.compress": "yes"})
    with pytest.raises(ValueError, match="zstd, lz4 or snappy"):
        EventLoggingListener("a", {"spark.eventLog.compression.codec": "lzf"})
    with pytest.raises(ValueError, match="local directories only"):
        EventLoggingListener("a", {"spark.eventLog.dir": "hdfs://nn:8020/logs"})
    plain = EventLoggingListener("a", {"spark.eventLog.compression.codec": "none",
                                       "spark.eventLog.rolling.enabled": "false"})
    assert plain.log_path.name == "a"


def test_existing_log_is_refused_unless_overwrite(tmp_path: Path) -> None:
    conf = {"spark.eventLog.rolling.enabled": "false"}
    write_application(tmp_path, APP, conf)
    with pytest.raises(FileExistsError):
        EventLoggingListener(APP, {"spark.eventLog.dir": str(tmp_path), **conf}).start()
    write_application(tmp_path, APP, {**conf, "spark.eventLog.overwrite": "true"})
    write_application(tmp_path, APP, {})
    with pytest.raises(FileExistsError):
        EventLoggingListener(APP, {"spark.eventLog.dir": str(tmp_path)}).start()


def test_redaction(tmp_path: Path) -> None:
    conf = {"spark.eventLog.dir": str(tmp_path), "spark.eventLog.compress": "false",
            "spark.db.password": "hunter2"}
    with EventLoggingListener(APP, conf) as listener:
        listener.on_event(SparkListenerEnvironmentUpdate(
            {"spark.db.password": "hunter2", "spark.master": "local"},
            {"aws.access.key": "AKIA"}, {"Java Version": "17"}))
        listener.on_event(SparkListenerJobStart(0, T0, [], {"spark.db.password": "hunter2",
                                                            "callSite.short": "my token"}))
    env, job = read_events(listener.log_path)[2:]
    assert env["Spark Properties"] == {"spark.db.password": "*********(redacted)",
                                       "spark.master": "local"}
    assert env["System Properties"] == {"aws.access.key": "*********(redacted)"}
    # Only configuration keys are redacted in job properties, as Spark's redactProperties.
    assert job["Properties"] == {"spark.db.password": "*********(redacted)",
                                 "callSite.short": "my token"}


# ---------------------------------------------------------------------------------------------
# JSON shapes against a real pyspark log

REFERENCE_VERSION = "1"  # bump when the workload below changes
REFERENCE_WORKLOAD = textwrap.dedent("""
    import sys
    from pyspark import TaskContext
    from pyspark.sql import SparkSession, functions as F

    spark = (SparkSession.builder.master("local[2,2]").appName("ember-reference")
             .config("spark.eventLog.enabled", "true")
             .config("spark.eventLog.dir", sys.argv[1])
             .config("spark.eventLog.rolling.enabled", "false")
             .config("spark.eventLog.compress", "false")
             .config("spark.ui.enabled", "false").getOrCreate())
    df = spark.range(0, 1000, 1, 4).withColumn("k", F.col("id") % 7)
    small = spark.range(0, 50).withColumnRenamed("id", "k2")
    df.join(small, df.k == small.k2).groupBy("k").agg(F.sum("id").alias("s")).orderBy("k").collect()

    def flaky(x):
        tc = TaskContext.get()
        if tc.partitionId() == 0 and tc.attemptNumber() == 0:
            raise ValueError("first attempt fails")
        return x

    sc = spark.sparkContext
    sc.parallelize(range(4), 2).map(flaky).collect()

    def boom(x):
        raise RuntimeError("always fails")

    try:
        sc.parallelize(range(2), 1).map(boom).collect()
    except Exception:
        pass
    spark.stop()
""")


def reference_cache_dir() -> Path:
    """``$EMBER_SPARK_REFERENCE_CACHE``, else ``~/.cache/ember/spark-reference-logs``."""
    configured = os.environ.get("EMBER_SPARK_REFERENCE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "ember" / "spark-reference-logs"


@pytest.fixture(scope="module")
def spark_reference_log(tmp_path_factory) -> list[dict[str, Any]]:
    """Events of a log the installed pyspark writes (plain, single file): ~20 s once, then cached
    per pyspark version and workload version."""
    pyspark = pytest.importorskip("pyspark")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("no Java: cannot run pyspark to write a reference event log")
    cached = reference_cache_dir() / f"{pyspark.__version__}-{REFERENCE_VERSION}" / "events.jsonl"
    if not cached.exists():
        work = tmp_path_factory.mktemp("spark-reference-run")
        (work / "logs").mkdir()
        (work / "workload.py").write_text(REFERENCE_WORKLOAD)
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
        run = subprocess.run([sys.executable, "workload.py", (work / "logs").as_uri()], cwd=work,
                             env=env, capture_output=True, text=True, timeout=300)
        logs = list((work / "logs").iterdir())
        assert run.returncode == 0 and len(logs) == 1, run.stderr[-5000:]
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        shutil.copyfile(logs[0], partial)
        partial.replace(cached)  # atomic: concurrent runs never read half a file
    return [orjson.loads(line) for line in cached.read_bytes().splitlines()]


# Objects whose keys are data (property names, plan metadata), not schema.
_DATA_MAPS = {"Properties", "Spark Properties", "System Properties", "JVM Information",
              "Hadoop Properties", "Metrics Properties", "Classpath Entries", "Log Urls",
              "Attributes", "Resources", "modifiedConfigs", "metadata",
              "Executor Resource Requests", "Task Resource Requests"}


# Option fields of Spark's SQL case classes that Ember leaves empty: Jackson writes None as null.
_EMPTY_OPTIONS = {".queryId"}


def _json_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def shapes(events: list[dict[str, Any]]):
    """Per event name: {path: {ordered key tuples}} and {path: {JSON types}}."""
    keys: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    types: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))

    def walk(event: str, path: str, value: Any) -> None:
        path = re.sub(r"sparkPlanInfo(\.children\[\])*", "sparkPlanInfo", path)  # any plan node
        types[event][path].add(_json_type(value))
        if isinstance(value, dict) and path.rsplit(".", 1)[-1] not in _DATA_MAPS:
            keys[event][path].add(tuple(value))
            for k, v in value.items():
                walk(event, f"{path}.{k}", v)
        elif isinstance(value, list):
            for v in value:
                walk(event, f"{path}[]", v)

    for e in events:
        walk(e["Event"], "", e)
    return keys, types


@pytest.mark.spark
def test_every_event_has_the_keys_and_types_of_real_spark(spark_reference_log) -> None:
    ours_keys, ours_types = shapes(expected_lines(APP))
    spark_keys, spark_types = shapes(spark_reference_log)
    assert set(ours_keys) <= set(spark_keys), set(ours_keys) - set(spark_keys)
    problems = []
    for event, paths in ours_keys.items():
        for path, key_tuples in paths.items():
            for k in key_tuples - spark_keys[event].get(path, set()):
                problems.append(f"{event}{path}: {k} not among {spark_keys[event].get(path)}")
        for path, ts in ours_types[event].items():
            if path not in spark_types[event]:
                problems.append(f"{event}{path}: no such path in Spark's log")
            elif not ts <= spark_types[event][path] | ({"null"} if path in _EMPTY_OPTIONS else set()):
                problems.append(f"{event}{path}: types {ts} vs Spark's {spark_types[event][path]}")
    assert not problems, "\n".join(problems)


@pytest.mark.spark
def test_accumulable_value_types(spark_reference_log) -> None:
    """SQL metric values are strings, internal task metrics numbers: in Spark's log and ours."""
    for events in (spark_reference_log, expected_lines(APP)):
        accs = [a for e in events if e["Event"] == "SparkListenerTaskEnd"
                for a in e["Task Info"]["Accumulables"]]
        assert {type(a["Update"]) for a in accs if a.get("Metadata") == "sql"} == {str}
        assert {type(a["Update"]) for a in accs if a["Name"].startswith("internal.")} == {int}


def test_task_end_reasons_without_a_reference() -> None:
    """Reasons local pyspark cannot produce: keys in the order of Spark's taskEndReasonToJson."""
    info = _task_info(9, 0, 0, T0, T0 + 5, failed=True,
                      accumulables=_sql_accumulables(9, 1))
    cases = {
        "TaskKilled": (TaskEndReason("TaskKilled", kill_reason="stage cancelled"),
                       ["Reason", "Kill Reason", "Accumulator Updates"]),
        "FetchFailed": (TaskEndReason("FetchFailed", executor_id="3", shuffle_id=1, map_id=4,
                                      reduce_id=2, message="missing shuffle_1_4_2"),
                        ["Reason", "Block Manager Address", "Shuffle ID", "Map ID", "Map Index",
                         "Reduce ID", "Message"]),
        "ExecutorLostFailure": (TaskEndReason("ExecutorLostFailure", executor_id="3",
                                              message="worker process died"),
                                ["Reason", "Executor ID", "Exit Caused By App", "Loss Reason"]),
    }
    for reason, expected_keys in cases.values():
        out = event_to_json(SparkListenerTaskEnd(0, 0, "ResultTask", reason, info, None))
        assert list(out["Task End Reason"]) == expected_keys
        assert "Task Metrics" not in out
    removed = event_to_json(SparkListenerExecutorRemoved(T0, "3", "worker lost"))
    assert list(removed) == ["Event", "Timestamp", "Executor ID", "Removed Reason"]


def test_stack_trace_elements() -> None:
    import traceback

    assert stack_trace_element_json('  File "/a/b/hash_join.py", line 88, in probe\n') == {
        "Declaring Class": "hash_join", "Method Name": "probe", "File Name": "hash_join.py",
        "Line Number": 88}
    assert stack_trace_element_json(
        "org.apache.spark.scheduler.Task.run(Task.scala:147)") == {
        "Declaring Class": "org.apache.spark.scheduler.Task", "Method Name": "run",
        "File Name": "Task.scala", "Line Number": 147}
    frame = traceback.extract_stack()[-1]
    assert stack_trace_element_json(frame)["Line Number"] == frame.lineno
    assert stack_trace_element_json("???")["Line Number"] == -1


# ---------------------------------------------------------------------------------------------
# Spark's History Server reads the logs

HISTORY_LAYOUTS = ["single-plain", "rolling-zstd-tiny", "single-lz4", "single-snappy"]


def _app_id(n: int) -> str:
    return f"local-17000000000{n:02d}"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("history-logs")
    apps = {}
    for n, layout in enumerate(HISTORY_LAYOUTS):
        apps[layout] = _app_id(n)
        write_application(log_dir, apps[layout], LAYOUTS[layout], app_name=f"ember-{layout}")
    with history_server(log_dir) as hs:
        yield hs, apps


@pytest.mark.spark
@pytest.mark.parametrize("layout", HISTORY_LAYOUTS)
def test_history_server_lists_the_application(history, layout: str) -> None:
    hs, apps = history
    app = hs.wait_for_application(apps[layout])
    attempt = app["attempts"][-1]
    assert app["name"] == f"ember-{layout}"
    assert attempt["completed"] is True
    assert attempt["appSparkVersion"] == ell.SPARK_VERSION
    assert attempt["sparkUser"] == "ember"
    assert attempt["startTimeEpoch"] == T0 and attempt["endTimeEpoch"] == T0 + 500


@pytest.mark.spark
@pytest.mark.parametrize("layout", HISTORY_LAYOUTS)
def test_history_server_jobs_stages_and_tasks(history, layout: str) -> None:
    hs, apps = history
    app_id = apps[layout]
    hs.wait_for_application(app_id)

    jobs = {j["jobId"]: (j["status"], j["numCompletedTasks"], j["numFailedTasks"])
            for j in hs.jobs(app_id)}
    assert jobs == EXPECTED_JOBS

    stages = {s["stageId"]: (s["status"], s["numCompleteTasks"] + s["numFailedTasks"])
              for s in hs.stages(app_id)}
    assert stages == EXPECTED_STAGES

    tasks = hs.tasks(app_id, 0)
    assert sorted((t["index"], t["attempt"], t["status"]) for t in tasks) == [
        (0, 0, "SUCCESS"), (1, 0, "FAILED"), (1, 1, "SUCCESS")]
    failed = next(t for t in tasks if t["status"] == "FAILED")
    assert "bad row 17" in failed["errorMessage"]
    done = next(t for t in tasks if t["index"] == 0)
    assert done["taskMetrics"]["executorRunTime"] == 7
    assert done["taskMetrics"]["shuffleWriteMetrics"]["bytesWritten"] == 120
    assert done["taskMetrics"]["inputMetrics"]["recordsRead"] == 500
    assert [e["id"] for e in hs.executors(app_id)] == ["driver"]


@pytest.mark.spark
def test_history_server_follows_a_running_application(history) -> None:
    """Spark 4's default layout (rolling, zstd) is readable while the application runs."""
    hs, _ = history
    app_id = _app_id(len(HISTORY_LAYOUTS))
    listener = EventLoggingListener(app_id, {"spark.eventLog.dir": hs.log_dir.as_uri()})
    events = ember_application(app_id, app_name="ember-running")
    first_job_end = next(i for i, e in enumerate(events) if isinstance(e, SparkListenerJobEnd))
    listener.start()
    try:
        for event in events[: first_job_end + 1]:
            listener.on_event(event)
        hs.wait_for_application(app_id, completed=False)
        assert [(j["jobId"], j["status"]) for j in hs.jobs(app_id)] == [(0, "SUCCEEDED")]
        for event in events[first_job_end + 1:]:
            listener.on_event(event)
    finally:
        listener.stop()
    hs.wait_for_application(app_id, completed=True)
