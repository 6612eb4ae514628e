"""diag.eventlog on real event logs: every layout and codec Spark writes, logs cut short or still
being written, directories of applications, fuzzed logs and files that are not logs at all.

The Spark logs come from the installed pyspark: one child process starts one JVM and runs the same
small workload as one application per variant (plain, zstd, lz4, snappy, lzf single files, and a
rolling zstd directory made to roll over at Spark's 10 MiB minimum), copying each log while the
application still runs (the ``.inprogress`` snapshots) and after it stopped. That takes about a
minute once; the logs are cached in ``$EMBER_SPARK_LOG_CACHE`` (default ``~/.cache/ember/spark-logs``)
under ``<pyspark version>/eventlog-reader-<hash of the workload>/``. Ember-written logs (its own
EventLoggingListener, rolling every kilobyte) are extra inputs for file ordering.
"""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from diag import eventlog
from diag.eventlog import (
    KNOWN_EVENTS,
    MAX_MALFORMED_KEPT,
    SNIFF_LINES,
    EventLogError,
    LogSource,
    NotAnEventLog,
    UnsupportedCodec,
    codec_of,
    discover,
    read_events,
)

# ---------------------------------------------------------------------------------------------
# Real Spark logs, generated once per pyspark version and workload

WORKLOAD = textwrap.dedent('''
    import shutil, sys, time
    from pathlib import Path
    from pyspark.sql import SparkSession, functions as F

    out = Path(sys.argv[1])
    # Every variant sets every key: pyspark hands the first context's settings to the JVM as
    # system properties, which later contexts would otherwise inherit.
    VARIANTS = {
        "plain": dict(rolling="false", compress="false", codec="zstd"),
        "zstd": dict(rolling="false", compress="true", codec="zstd"),
        "lz4": dict(rolling="false", compress="true", codec="lz4"),
        "snappy": dict(rolling="false", compress="true", codec="snappy"),
        "lzf": dict(rolling="false", compress="true", codec="lzf"),
        "rolling-zstd": dict(rolling="true", compress="true", codec="zstd"),
    }
    for name, v in VARIANTS.items():
        logs = out / name / "logs"
        logs.mkdir(parents=True)
        spark = (SparkSession.builder.master("local[2]").appName(f"ember-eventlog-{name}")
                 .config("spark.eventLog.enabled", "true")
                 .config("spark.eventLog.dir", logs.as_uri())
                 .config("spark.eventLog.rolling.enabled", v["rolling"])
                 .config("spark.eventLog.rolling.maxFileSize", "10m")  # Spark's minimum
                 .config("spark.eventLog.compress", v["compress"])
                 .config("spark.eventLog.compression.codec", v["codec"])
                 .config("spark.sql.warehouse.dir", (out / "warehouse").as_uri())
                 .config("spark.sql.shuffle.partitions", "4")
                 .config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .getOrCreate())
        df = spark.range(0, 2000, 1, 4).withColumn("k", F.col("id") % 7)
        small = spark.range(0, 50).withColumnRenamed("id", "k2")
        df.join(small, df.k == small.k2).groupBy("k").agg(F.sum("id").alias("s")).orderBy("k").collect()
        cached = spark.range(0, 100, 1, 2).cache()
        cached.count()
        cached.unpersist(blocking=True)
        spark.range(0, 10, 1, 1).write.mode("overwrite").saveAsTable("ember_eventlog_t")
        spark.sql("DROP TABLE ember_eventlog_t")
        spark.sparkContext.parallelize(range(8), 2).map(lambda x: x * 2).collect()
        if v["rolling"] == "true":
            # ~2200 TaskEnd lines of ~5 KB: past 10 MiB, so Spark rolls to events_2.
            spark.range(0, 2200, 1, 2200).selectExpr("id % 10 as k").groupBy("k").count().collect()
        time.sleep(1.0)  # let the listener bus drain and flush
        shutil.copytree(logs, out / name / "inprogress")  # the log while the application runs
        spark.stop()
        print(name, "done", flush=True)
''')

WORKLOAD_KEY = hashlib.sha256(WORKLOAD.encode()).hexdigest()[:10]
SINGLE_FILE_CODECS = ("zstd", "lz4", "snappy")


def spark_log_cache() -> Path:
    """``$EMBER_SPARK_LOG_CACHE``, else ``~/.cache/ember/spark-logs``."""
    configured = os.environ.get("EMBER_SPARK_LOG_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "ember" / "spark-logs"


@pytest.fixture(scope="module")
def spark_logs() -> Path:
    """The cache entry: ``<variant>/logs/`` (after stop) and ``<variant>/inprogress/`` (before)."""
    pyspark = pytest.importorskip("pyspark")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("no Java: cannot run pyspark to write event logs")
    entry = spark_log_cache() / pyspark.__version__ / f"eventlog-reader-{WORKLOAD_KEY}"
    if (entry / "DONE").exists():
        return entry
    entry.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        scratch = work / "scratch"  # Spark's cwd: derby.log, spark-warehouse and the like
        scratch.mkdir()
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
        run = subprocess.run([sys.executable, "-c", WORKLOAD, str(work / "out")], cwd=scratch,
                             env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr[-5000:]
        shutil.rmtree(scratch)
        (work / "out" / "DONE").touch()
        try:
            (work / "out").rename(entry)  # atomic: a concurrent run never sees half an entry
        except OSError:
            assert (entry / "DONE").exists()  # another run got there first
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return entry


def spark_source(spark_logs: Path, variant: str, stage: str = "logs") -> LogSource:
    [source] = discover(spark_logs / variant / stage)
    return source


def read_all(source: LogSource | Path) -> tuple[list[dict[str, Any]], Any]:
    stream = read_events(source)
    events = list(stream)
    return events, stream.report


def signature(events: list[dict[str, Any]]) -> tuple:
    """What two applications running the same workload share: event types and counts, jobs and
    their stages, each stage's tasks, SQL executions. Not times, ids or the order of tasks."""
    names = Counter(e["Event"] for e in events)
    jobs = [(e["Job ID"], sorted(e["Stage IDs"])) for e in events
            if e["Event"] == "SparkListenerJobStart"]
    tasks = sorted((e["Stage ID"], e["Stage Attempt ID"], e["Task Info"]["Index"],
                    e["Task End Reason"]["Reason"]) for e in events
                   if e["Event"] == "SparkListenerTaskEnd")
    sql = [e["description"] for e in events  # execution ids count on across a JVM's applications
           if e["Event"] == "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"]
    return names, jobs, tasks, sql


# ---------------------------------------------------------------------------------------------
# layouts and codecs


@pytest.mark.spark
def test_plain_log_reads_cleanly_and_every_event_is_known(spark_logs) -> None:
    source = spark_source(spark_logs, "plain")
    assert not source.rolling and source.codec is None and not source.in_progress
    assert source.app_id.startswith("local-") and source.attempt_id is None
    assert source.files == (source.path,)
    events, report = read_all(source)
    assert events[0] == {"Event": "SparkListenerLogStart", "Spark Version": events[0]["Spark Version"]}
    assert events[-1]["Event"] == "SparkListenerApplicationEnd"
    start = next(e for e in events if e["Event"] == "SparkListenerApplicationStart")
    assert start["App ID"] == source.app_id
    assert report.status == "complete" and report.ended_cleanly and report.finished
    assert report.malformed_count == 0 and not report.truncated
    # Every event type a real Spark wrote is in KNOWN_EVENTS: SQL, catalog and RDD ones included.
    assert report.unknown_events == Counter()
    assert len(events) == report.events == report.lines_read == sum(report.event_counts.values())
    names = set(report.event_counts)
    assert {"org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart",
            "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd",
            "SparkListenerUnpersistRDD", "SparkListenerTaskEnd"} <= names
    assert any(n.startswith("org.apache.spark.sql.catalyst.catalog.") for n in names), names


@pytest.mark.spark
@pytest.mark.parametrize("codec", SINGLE_FILE_CODECS)
def test_each_codec_reads_the_same_events_as_the_plain_log(spark_logs, codec) -> None:
    plain, _ = read_all(spark_source(spark_logs, "plain"))
    source = spark_source(spark_logs, codec)
    assert source.codec == codec and source.path.name == f"{source.app_id}.{codec}"
    events, report = read_all(source)
    assert signature(events) == signature(plain)
    assert report.status == "complete" and report.malformed_count == 0
    assert report.unknown_events == Counter() and report.files[0].note is None


@pytest.mark.spark
def test_zstd_matches_an_independent_decoder(spark_logs) -> None:
    """Spark closes a zstd frame at every flush (SPARK-29322), none with a content size."""
    source = spark_source(spark_logs, "zstd")
    data = source.files[0].read_bytes()
    assert zstandard.get_frame_parameters(data).content_size == zstandard.CONTENTSIZE_UNKNOWN
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    expected = [orjson.loads(line) for line in reader.read().splitlines()]
    events, _ = read_all(source)
    assert events == expected


@pytest.mark.spark
def test_rolling_zstd_directory_reads_its_files_in_order(spark_logs) -> None:
    source = spark_source(spark_logs, "rolling-zstd")
    assert source.rolling and source.codec == "zstd" and not source.in_progress
    assert source.path.name == f"eventlog_v2_{source.app_id}"
    assert [f.name for f in source.files] == [f"events_{i}_{source.app_id}.zstd"
                                             for i in range(1, len(source.files) + 1)]
    assert len(source.files) >= 2, "the workload no longer fills Spark's 10 MiB rolling size"
    assert source.status_marker.name == f"appstatus_{source.app_id}"
    events, report = read_all(source)
    # Only the first file starts with LogStart; later files start mid-stream.
    first_lines = [next(iter(read_events(_single(f))))["Event"] for f in source.files]
    assert first_lines[0] == "SparkListenerLogStart"
    assert "SparkListenerLogStart" not in first_lines[1:]
    expected = []
    for f in source.files:
        reader = zstandard.ZstdDecompressor().stream_reader(f.read_bytes(), read_across_frames=True)
        expected += [orjson.loads(line) for line in reader.read().splitlines()]
    assert events == expected
    assert report.status == "complete" and report.malformed_count == 0
    assert [f.path for f in report.files] == list(source.files)
    # The same workload as the single-file logs, plus one job of 2200 tasks.
    plain, _ = read_all(spark_source(spark_logs, "plain"))
    more = Counter(e["Event"] for e in events)
    more.subtract(Counter(e["Event"] for e in plain))
    assert min(more.values()) >= 0 and more["SparkListenerTaskEnd"] >= 2200


def _single(path: Path) -> LogSource:
    """One file of a rolling log, read on its own."""
    return LogSource(path=path, files=(path,), codec=codec_of(path), app_id=None, attempt_id=None,
                     in_progress=False, rolling=False)


@pytest.mark.spark
def test_lzf_is_refused_with_a_clear_error(spark_logs) -> None:
    source = spark_source(spark_logs, "lzf")
    assert source.codec == "lzf"
    with pytest.raises(UnsupportedCodec) as info:
        next(iter(read_events(source)))
    assert str(source.files[0]) in str(info.value) and "lzf" in str(info.value)
    assert "spark.eventLog.compression.codec" in str(info.value)


@pytest.mark.spark
def test_a_directory_of_applications(spark_logs, tmp_path) -> None:
    for variant in ("plain", "zstd", "lz4", "snappy"):
        [f] = (spark_logs / variant / "logs").iterdir()
        shutil.copy(f, tmp_path / f.name)
    [rolling] = (spark_logs / "rolling-zstd" / "logs").iterdir()
    shutil.copytree(rolling, tmp_path / rolling.name)  # with Hadoop's hidden .crc files
    [running] = (spark_logs / "zstd" / "inprogress").iterdir()
    shutil.copy(running, tmp_path / running.name)
    (tmp_path / ".hidden-notes").write_text("not a log, and hidden")

    sources = discover(tmp_path)
    assert [s.path.name for s in sources] == sorted(p.name for p in tmp_path.iterdir()
                                                    if not p.name.startswith("."))
    assert sum(s.rolling for s in sources) == 1 and sum(s.in_progress for s in sources) == 1
    assert Counter(s.codec for s in sources) == Counter({"zstd": 3, "lz4": 1, "snappy": 1, None: 1})
    assert not any(f.name.startswith(".") for s in sources for f in s.files)
    for s in sources:
        events, report = read_all(s)
        assert report.status == ("in progress" if s.in_progress else "complete"), s
        assert events[0]["Event"] == "SparkListenerLogStart" and report.malformed_count == 0
        assert next(e["App ID"] for e in events if e["Event"] == "SparkListenerApplicationStart") == s.app_id


@pytest.mark.spark
def test_small_read_chunks_split_lines_headers_and_blocks_anywhere(spark_logs, monkeypatch) -> None:
    variants = ("plain",) + SINGLE_FILE_CODECS + ("rolling-zstd",)
    expected = {v: read_all(spark_source(spark_logs, v))[0] for v in variants}
    monkeypatch.setattr(eventlog, "PLAIN_CHUNK_BYTES", 997)  # lines of 100 KB span 100 chunks
    monkeypatch.setattr(eventlog, "COMPRESSED_CHUNK_BYTES", 331)  # lz4/snappy headers split too
    for v in variants:
        events, report = read_all(spark_source(spark_logs, v))
        assert events == expected[v] and report.status == "complete", v


@pytest.mark.spark
def test_progress_reports_bytes_on_disk(spark_logs) -> None:
    for variant in ("plain", "lz4", "rolling-zstd"):
        source = spark_source(spark_logs, variant)
        calls = []
        for _ in read_events(source, on_progress=lambda done, total: calls.append((done, total))):
            pass
        total = source.total_bytes
        assert calls[-1] == (total, total)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
        assert {t for _, t in calls} == {total}


# ---------------------------------------------------------------------------------------------
# logs still being written, and logs cut short


@pytest.mark.spark
@pytest.mark.parametrize("variant", ("plain", "zstd", "lz4", "snappy", "rolling-zstd"))
def test_a_log_still_being_written_reads_what_is_there(spark_logs, variant) -> None:
    """A copy taken while the application ran: a prefix of the finished log, and says so."""
    running = spark_source(spark_logs, variant, "inprogress")
    final = spark_source(spark_logs, variant)
    assert running.in_progress and running.app_id == final.app_id
    if running.rolling:
        assert running.status_marker.name == f"appstatus_{running.app_id}.inprogress"
    else:
        assert running.path.name == final.path.name + ".inprogress"
        assert running.codec == final.codec
    events, report = read_all(running)
    finished, _ = read_all(final)
    assert events == finished[:len(events)]
    assert len(events) > len(finished) // 2
    assert report.status == "in progress" and report.in_progress and not report.ended_cleanly
    assert report.malformed_count == 0
    if variant == "lz4":
        # lz4-java writes whole 32 KiB blocks only (Spark does not sync-flush it): the copy ends
        # at a block boundary inside a line, without the end-of-stream block.
        assert report.files[-1].partial_last_line and report.files[-1].stream_ended_early


def _cut(source: LogSource, tmp_path: Path, fraction: float, *, inside_line: bool = False) -> Path:
    """A copy of a single-file log cut at ``fraction`` of its bytes (for plain text, moved a few
    bytes back into the line that holds that offset)."""
    data = source.files[0].read_bytes()
    at = int(len(data) * fraction)
    if inside_line:
        at = data.index(b"\n", at) - 7
    cut = tmp_path / source.files[0].name
    cut.write_bytes(data[:at])
    return cut


@pytest.mark.spark
@pytest.mark.parametrize("variant", ("plain",) + SINGLE_FILE_CODECS)
@pytest.mark.parametrize("fraction", (0.3, 0.77))
def test_a_truncated_log_reads_what_is_there_and_says_so(spark_logs, tmp_path, variant, fraction) -> None:
    source = spark_source(spark_logs, variant)
    finished, _ = read_all(source)
    cut = _cut(source, tmp_path, fraction, inside_line=variant == "plain")
    events, report = read_all(cut)
    assert events == finished[:len(events)] and 0 < len(events) < len(finished)
    assert report.status == "truncated" and report.truncated and not report.ended_cleanly
    assert not report.in_progress and report.malformed_count == 0
    [f] = report.files
    if variant == "plain":
        assert f.partial_last_line and f.partial_last_line_bytes > 0
    else:  # cut inside a zstd frame, an lz4 block or a snappy block
        assert f.stream_ended_early and f.stream_error is None


@pytest.mark.spark
@pytest.mark.parametrize("codec", SINGLE_FILE_CODECS)
def test_a_compressed_log_cut_in_its_first_block_is_truncated_not_an_error(spark_logs, tmp_path, codec) -> None:
    source = spark_source(spark_logs, codec)
    finished, _ = read_all(source)
    cut = tmp_path / source.files[0].name
    cut.write_bytes(source.files[0].read_bytes()[:100])
    events, report = read_all(cut)
    assert events == finished[:len(events)] and len(events) <= 1  # at most LogStart, flushed first
    assert report.status == "truncated" and report.files[0].stream_ended_early


@pytest.mark.spark
def test_a_rolling_log_whose_last_file_is_cut(spark_logs, tmp_path) -> None:
    source = spark_source(spark_logs, "rolling-zstd")
    copy = tmp_path / source.path.name
    shutil.copytree(source.path, copy)
    last = copy / source.files[-1].name
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    finished, _ = read_all(source)
    events, report = read_all(copy)
    assert events == finished[:len(events)] and len(events) < len(finished)
    assert report.status == "truncated" and not report.files[0].truncated
    assert report.files[-1].stream_ended_early


def _is_subsequence(part: list, whole: list) -> bool:
    it = iter(whole)
    return all(any(x == y for y in it) for x in part)


@pytest.mark.spark
@pytest.mark.parametrize("codec", SINGLE_FILE_CODECS)
def test_corrupt_compressed_data_is_skipped_to_the_next_block(spark_logs, tmp_path, codec) -> None:
    """A damaged stretch in the middle costs the events in it, not the rest of the log."""
    source = spark_source(spark_logs, codec)
    finished, _ = read_all(source)
    data = bytearray(source.files[0].read_bytes())
    at = len(data) // 2
    data[at:at + 64] = random.Random(codec).randbytes(64)
    damaged = tmp_path / source.files[0].name
    damaged.write_bytes(bytes(data))
    events, report = read_all(damaged)
    assert _is_subsequence(events, finished) and report.ended_cleanly
    assert len(finished) - 12 <= len(events) < len(finished)
    assert report.status == "damaged" and report.files[0].corrupt_regions >= 1
    assert report.files[0].stream_error.startswith(f"corrupt {codec}")
    assert report.lines_read == len(events) + report.malformed_count


def test_a_log_cut_right_after_a_line_is_incomplete_not_truncated(ember_logs, tmp_path) -> None:
    plain = ember_logs["plain"]
    lines = plain.read_bytes().splitlines(keepends=True)
    cut = tmp_path / plain.name
    cut.write_bytes(b"".join(lines[:-1]))  # no ApplicationEnd, no partial line
    events, report = read_all(cut)
    assert len(events) == len(lines) - 1
    assert report.status == "incomplete" and not report.truncated and not report.ended_cleanly


# ---------------------------------------------------------------------------------------------
# Ember-written logs: many rolled files (Ember accepts any rolling size), every codec


@pytest.fixture(scope="module")
def ember_logs(tmp_path_factory) -> dict[str, Path]:
    """One application of 120 jobs written by Ember's EventLoggingListener per layout."""
    from engine.scheduler.event_logging_listener import EventLoggingListener
    from engine.scheduler.events import (SparkListenerApplicationEnd, SparkListenerApplicationStart,
                                         SparkListenerJobEnd, SparkListenerJobStart)

    root = tmp_path_factory.mktemp("ember-logs")
    layouts = {
        "plain": {"spark.eventLog.rolling.enabled": "false", "spark.eventLog.compress": "false"},
        "rolling-plain": {"spark.eventLog.compress": "false", "spark.eventLog.rolling.maxFileSize": "1k"},
        **{f"rolling-{c}": {"spark.eventLog.compression.codec": c,
                            "spark.eventLog.rolling.maxFileSize": "1k"} for c in SINGLE_FILE_CODECS},
    }
    paths = {}
    for name, conf in layouts.items():
        listener = EventLoggingListener("local-1700000000000", {
            "spark.eventLog.dir": str(root / name), **conf})
        with listener:
            t = 1_700_000_000_000
            listener.on_event(SparkListenerApplicationStart("ember-test", "local-1700000000000", t, "ember"))
            for job in range(120):
                listener.on_event(SparkListenerJobStart(job, t + job, [], {"spark.job.description": f"job {job}"}))
                listener.on_event(SparkListenerJobEnd(job, t + job + 1, True))
            listener.on_event(SparkListenerApplicationEnd(t + 500))
        paths[name] = listener.log_path
    return paths


@pytest.mark.parametrize("layout", ("rolling-plain",) + tuple(f"rolling-{c}" for c in SINGLE_FILE_CODECS))
def test_many_rolled_files_are_read_in_numeric_order(ember_logs, layout) -> None:
    [source] = discover(ember_logs[layout])
    indexes = [int(f.name.split("_")[1]) for f in source.files]
    assert len(indexes) >= 12 and indexes == list(range(1, len(indexes) + 1))  # 10 after 9
    events, report = read_all(source)
    plain, _ = read_all(ember_logs["plain"])
    assert events == plain
    assert [e["Job ID"] for e in events if e["Event"] == "SparkListenerJobStart"] == list(range(120))
    assert report.status == "complete" and report.malformed_count == 0


def test_discover_finds_a_rolling_directory_from_its_marker_or_a_renamed_directory(ember_logs, tmp_path) -> None:
    log_dir = ember_logs["rolling-zstd"]
    [marker] = [p for p in log_dir.iterdir() if p.name.startswith("appstatus_")]
    [by_marker] = discover(marker)
    assert by_marker.path == log_dir and by_marker.status_marker == marker
    renamed = tmp_path / "some-app"
    shutil.copytree(log_dir, renamed)
    [source] = discover(renamed)
    assert source.rolling and source.app_id == "local-1700000000000" and len(source.files) >= 12


def test_a_compacted_file_replaces_the_files_before_it(ember_logs, tmp_path) -> None:
    copy = tmp_path / ember_logs["rolling-zstd"].name
    shutil.copytree(ember_logs["rolling-zstd"], copy)
    third = next(copy.glob("events_3_*"))
    third.rename(third.with_name(third.name + ".compact"))
    [source] = discover(copy)
    assert source.files[0].name == third.name + ".compact" and source.codec == "zstd"
    assert [int(f.name.split("_")[1]) for f in source.files] == list(range(3, len(source.files) + 3))


def test_app_and_attempt_ids_are_guessed_from_names(tmp_path) -> None:
    for name, app, attempt in [
        ("local-1700000000000.zstd.inprogress", "local-1700000000000", None),
        ("application_1700000000000_0042_1.lz4", "application_1700000000000_0042", "1"),
        ("application_1700000000000_0042", "application_1700000000000_0042", None),
        ("app-20240101120000-0001_2.snappy", "app-20240101120000-0001", "2"),
    ]:
        (tmp_path / name).write_bytes(b"")
        [source] = discover(tmp_path / name)
        assert (source.app_id, source.attempt_id) == (app, attempt), name
        assert source.in_progress == name.endswith(".inprogress")
    rolling = tmp_path / "eventlog_v2_application_1700000000000_0042_3"
    rolling.mkdir()
    (rolling / "events_1_application_1700000000000_0042_3.zstd").write_bytes(b"")
    (rolling / "appstatus_application_1700000000000_0042_3.inprogress").write_bytes(b"")
    [source] = [s for s in discover(tmp_path) if s.rolling]
    assert (source.app_id, source.attempt_id, source.in_progress) == (
        "application_1700000000000_0042", "3", True)
    assert codec_of("events_1_app.zstd.compact") == "zstd" and codec_of("app.json") is None


def test_an_application_that_just_started_has_empty_files(tmp_path) -> None:
    """Spark creates the files before it writes: empty is normal while in progress."""
    running = tmp_path / "local-1.lz4.inprogress"
    running.write_bytes(b"")
    events, report = read_all(running)
    assert events == [] and report.status == "in progress"
    finished = tmp_path / "local-2.lz4"
    finished.write_bytes(b"")
    with pytest.raises(NotAnEventLog, match="empty file"):
        read_all(finished)


def test_a_log_that_finishes_between_discover_and_read_is_read_under_its_final_name(ember_logs, tmp_path) -> None:
    running = tmp_path / "local-1700000000000.inprogress"
    shutil.copy(ember_logs["plain"], running)
    [source] = discover(running)
    running.rename(tmp_path / "local-1700000000000")  # what Spark does when the application stops
    events, report = read_all(source)
    assert events == read_all(ember_logs["plain"])[0]
    assert "renamed to local-1700000000000" in report.files[0].note


# ---------------------------------------------------------------------------------------------
# damaged lines inside a real log


def _damage(lines: list[bytes]) -> tuple[list[bytes], dict[int, str]]:
    """Ember's log lines damaged in the ways real logs are damaged: {line number: expected reason}
    for the malformed ones; two events get a custom (unknown) event type."""
    out: list[bytes] = []
    expected: dict[int, str] = {}
    job_starts = 0
    for line in lines:
        if b'"SparkListenerJobStart"' in line:
            job_starts += 1
            if job_starts in (3, 5):
                line = line.replace(b'"SparkListenerJobStart"', b'"com.example.MyListenerEvent"')
            elif job_starts == 7:
                line = line.replace(b'"Event"', b'"Evnt"')
                expected[len(out) + 1] = 'no "Event" field'
            elif job_starts == 9:
                line = line[: len(line) // 2]
                expected[len(out) + 1] = "invalid JSON ("
            elif job_starts == 11:
                for extra, reason in ((b"", "empty line"), (b"[1, 2, 3]", "a JSON list, not an object"),
                                      (b'{"Event": 42}', '"Event" is not a name: 42'),
                                      (b"\x00\x01\x02garbage", "invalid JSON (")):
                    out.append(extra)
                    expected[len(out)] = reason
        out.append(line)
    return out, expected


def test_damaged_lines_are_counted_with_file_line_and_reason(ember_logs, tmp_path) -> None:
    lines, expected = _damage(ember_logs["plain"].read_bytes().split(b"\n")[:-1])
    log = tmp_path / "local-1700000000000"
    log.write_bytes(b"\n".join(lines) + b"\n")
    events, report = read_all(log)
    assert report.status == "complete" and report.malformed_count == len(expected) == 6
    assert {m.line_number for m in report.malformed} == set(expected)
    for m in report.malformed:
        assert m.path == log and m.reason.startswith(expected[m.line_number]), m
    assert report.unknown_events == Counter({"com.example.MyListenerEvent": 2})
    assert sum(e["Event"] == "com.example.MyListenerEvent" for e in events) == 2  # still yielded
    assert report.lines_read == len(lines) == len(events) + report.malformed_count


def test_only_the_first_malformed_lines_are_kept_but_all_are_counted(ember_logs, tmp_path) -> None:
    lines = ember_logs["plain"].read_bytes().split(b"\n")[:-1]
    damaged = [l if i % 3 else l[:-1] for i, l in enumerate(lines)]  # every third line loses its "}"
    log = tmp_path / "local-1700000000000"
    log.write_bytes(b"\n".join(damaged) + b"\n")
    events, report = read_all(log)
    broken = sum(1 for i in range(len(lines)) if i % 3 == 0)
    assert report.malformed_count == broken > MAX_MALFORMED_KEPT
    assert len(report.malformed) == MAX_MALFORMED_KEPT
    assert [m.line_number for m in report.malformed] == [1 + 3 * i for i in range(MAX_MALFORMED_KEPT)]
    assert len(events) == len(lines) - broken


# ---------------------------------------------------------------------------------------------
# fuzzing: damaged bytes never raise anything but NotAnEventLog, and what is skipped is counted


def _mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if len(data) < 2:
            break
        kind = rng.choice(("flip", "overwrite", "delete", "insert", "duplicate", "truncate", "newline"))
        at = rng.randrange(len(data))
        n = rng.randint(1, 64)
        if kind == "flip":
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == "overwrite":
            data[at:at + n] = rng.randbytes(len(data[at:at + n]))
        elif kind == "delete":
            del data[at:at + rng.randint(1, 4096)]
        elif kind == "insert":
            data[at:at] = rng.randbytes(n)
        elif kind == "duplicate":
            data[at:at] = data[at:at + rng.randint(1, 4096)]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = b"\n"
    return bytes(data)


def _oracle(data: bytes) -> tuple[list[dict], int, bool]:
    """Independently: the events and malformed lines of a plain log, and whether the sniff rule
    (an event among the first SNIFF_LINES lines, or a partial first line) finds a log."""
    *lines, tail = data.split(b"\n")
    events, malformed, first_event = [], 0, None
    for i, line in enumerate(lines):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("Event"), str) and value["Event"]:
            events.append(value)
            first_event = i if first_event is None else first_event
        else:
            malformed += 1
    is_log = first_event is not None and first_event < SNIFF_LINES
    if tail:
        try:
            value = orjson.loads(tail)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("Event"), str) and value["Event"]:
            events.append(value)
            is_log = is_log or (first_event is None and len(lines) < SNIFF_LINES)
        elif first_event is None and len(lines) < SNIFF_LINES and tail.lstrip().startswith(b'{"Event"'):
            is_log = True
    return events, malformed, is_log


FUZZ_TRIALS = 40


@pytest.mark.spark
@pytest.mark.parametrize("variant", ("plain",) + SINGLE_FILE_CODECS)
def test_fuzzed_logs_raise_only_not_an_event_log_and_count_what_they_skip(spark_logs, tmp_path, variant) -> None:
    source = spark_source(spark_logs, variant)
    original = source.files[0].read_bytes()
    rng = random.Random(f"ember-eventlog-fuzz-{variant}")
    outcomes = Counter()
    for trial in range(FUZZ_TRIALS):
        damaged = _mutate(rng, original)
        path = tmp_path / str(trial) / source.files[0].name
        path.parent.mkdir()
        path.write_bytes(damaged)
        stream = read_events(path)
        try:
            events = list(stream)
        except NotAnEventLog as e:
            assert str(path) in str(e)
            outcomes["not a log"] += 1
            if variant == "plain":
                assert not _oracle(damaged)[2], f"trial {trial}: {e}"
            continue
        report = stream.report
        outcomes[report.status] += 1
        assert report.lines_read == len(events) + report.malformed_count == report.events + report.malformed_count
        assert len(report.malformed) == min(report.malformed_count, MAX_MALFORMED_KEPT)
        assert all(m.path == path and 1 <= m.line_number <= report.lines_read for m in report.malformed)
        assert all(isinstance(e, dict) and isinstance(e["Event"], str) for e in events)
        assert sum(report.event_counts.values()) + sum(report.unknown_events.values()) == len(events)
        if variant == "plain":
            expected, malformed, is_log = _oracle(damaged)
            assert is_log and events == expected and report.malformed_count == malformed, trial
    assert outcomes["not a log"] < FUZZ_TRIALS // 4, outcomes


# ---------------------------------------------------------------------------------------------
# files that are not event logs


def _png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    pixels = zlib.compress(b"".join(b"\x00" + bytes(range(48)) for _ in range(16)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def _not_logs() -> dict[str, tuple[bytes, str]]:
    csv = b"".join(b"%d,name-%d,%d.5\n" % (i, i, i) for i in range(500))
    return {
        "picture.png": (_png(), "binary data"),
        "table.csv": (b"id,name,value\n" + csv, 'no JSON object with an "Event" field'),
        "random.bin": (random.Random(7).randbytes(100_000), "binary data"),
        "empty-app": (b"", "empty file"),
        "records.jsonl": (b"".join(orjson.dumps({"id": i, "name": "x"}) + b"\n" for i in range(50)),
                          'no "Event" field'),
        "one-line.json": (b'{"id": 1}', 'no "Event" field'),
        "table.zstd": (zstandard.ZstdCompressor().compress(csv), 'no JSON object with an "Event" field'),
        "named.zstd": (csv, "named .zstd but its data is not zstd-compressed"),
        "named.lz4": (random.Random(8).randbytes(5000), "named .lz4 but its data is not lz4-compressed"),
        "named.snappy": (b"\x89PNG\r\n", "named .snappy but its data is not snappy-compressed"),
        "archive.gz": (zlib.compress(csv), "binary data"),
        "one-long-line": (b"x" * (3 << 20), "no line break"),  # SNIFF_MAX_LINE_BYTES is 1 MiB here
    }


@pytest.mark.parametrize("name", sorted(_not_logs()))
def test_a_file_that_is_not_an_event_log_raises_one_clear_error(tmp_path, monkeypatch, name) -> None:
    monkeypatch.setattr(eventlog, "SNIFF_MAX_LINE_BYTES", 1 << 20)
    monkeypatch.setattr(eventlog, "PLAIN_CHUNK_BYTES", 256 << 10)
    data, reason = _not_logs()[name]
    path = tmp_path / name
    path.write_bytes(data)
    stream = read_events(path)
    with pytest.raises(NotAnEventLog) as info:
        next(iter(stream))  # before a single event is yielded
    message = str(info.value)
    assert message.startswith(f"{path}: not a Spark event log: ") and reason in message, message
    assert info.value.path == path and isinstance(info.value, EventLogError)
    assert stream.report.malformed_count <= SNIFF_LINES


def test_a_log_whose_content_contradicts_its_name_is_read_as_its_bytes_say(ember_logs, tmp_path) -> None:
    [zstd_file] = [f for f in discover(ember_logs["rolling-zstd"])[0].files][:1]
    renamed = tmp_path / "events_1_local-1700000000000.lz4"
    shutil.copy(zstd_file, renamed)
    events, report = read_all(_single(renamed))
    assert events and events[0]["Event"] == "SparkListenerLogStart"
    assert report.files[0].codec == "zstd" and "holds zstd data" in report.files[0].note


def test_known_events_are_spelled_as_spark_writes_them() -> None:
    sql = "org.apache.spark.sql.execution.ui."
    assert {"SparkListenerTaskEnd", "SparkListenerResourceProfileAdded",
            "SparkListenerExecutorMetricsUpdate", "SparkListenerStageExecutorMetrics",
            "SparkListenerBlockUpdated", "SparkListenerUnpersistRDD", "SparkListenerTaskGettingResult",
            sql + "SparkListenerSQLExecutionStart", sql + "SparkListenerSQLExecutionEnd",
            sql + "SparkListenerSQLAdaptiveExecutionUpdate", sql + "SparkListenerSQLAdaptiveSQLMetricUpdates",
            sql + "SparkListenerDriverAccumUpdates",
            # Jackson-serialized core events carry their fully qualified class name
            "org.apache.spark.scheduler.SparkListenerSpeculativeTaskSubmitted",
            "org.apache.spark.scheduler.SparkListenerExecutorExcluded",
            "org.apache.spark.sql.streaming.StreamingQueryListener$QueryProgressEvent",
            } <= KNOWN_EVENTS
    assert "SparkListenerSpeculativeTaskSubmitted" not in KNOWN_EVENTS  # never written short
    assert all(n.startswith(("SparkListener", "org.apache.spark.")) for n in KNOWN_EVENTS)
