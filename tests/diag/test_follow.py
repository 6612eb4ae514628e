"""Following a log while it is written (``diag.follow``) and replaying a finished one (``diag.replay``),
on a real log the engine wrote (tests/tui/fixtures/skewed-join.eventlog), appended in pieces the way
a writer flushes: cut anywhere, even inside a line; and on real Spark 4 logs caught while the
application ran and after it stopped (the codec logs of tests/diag/test_eventlog.py)."""
from __future__ import annotations

from pathlib import Path

import shutil

import pytest
import zstandard

from diag.analyze import analyze
from diag.eventlog import NotAnEventLog, read_events
from diag.follow import LogFollower, event_time
from diag.replay import LogReplay
from tests.diag.test_eventlog import spark_logs  # noqa: F401 - here: the codec logs, before and after stop

FIXTURE = Path(__file__).parents[1] / "tui" / "fixtures" / "skewed-join.eventlog"


def _kinds(report) -> list[str]:
    return [d.kind for d in report.run.diagnoses]


def test_a_growing_inprogress_file_is_read_piece_by_piece_and_ends_like_a_full_read(tmp_path):
    data = FIXTURE.read_bytes()
    log = tmp_path / "local-1.inprogress"
    follower = LogFollower(log.with_name("local-1.inprogress"))
    cuts = [0, 3000, 3001, 20_000, 41_234, len(data)]  # inside lines, and one byte at a time
    seen = []
    for lo, hi in zip(cuts, cuts[1:]):
        with open(log, "ab") as f:
            f.write(data[lo:hi])
        follower.poll()
        seen.append(follower.model.events)
        assert not follower.finished and follower.report().read_problems[-1] == "the log is in progress"
    assert seen == sorted(seen) and seen[0] < seen[-1]
    log.rename(tmp_path / "local-1")  # the writer drops the suffix when the application ends
    assert follower.poll() == 0
    assert follower.finished
    report = follower.report()
    (full,), _ = analyze(FIXTURE)
    assert report.complete and report.read_problems == []
    assert report.events_read == full.events_read
    assert report.model.tasks.num_rows == full.model.tasks.num_rows == 14
    assert report.model.tasks["task_id"].to_pylist() == full.model.tasks["task_id"].to_pylist()
    assert _kinds(report) == _kinds(full)


def test_snapshots_do_not_change_when_more_events_arrive(tmp_path):
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    log = tmp_path / "app.inprogress"
    log.write_bytes(b"".join(lines[:20]))
    follower = LogFollower(log)
    follower.poll()
    early = follower.report().model
    tasks, stages = early.tasks.num_rows, early.stages.num_rows
    with open(log, "ab") as f:
        f.write(b"".join(lines[20:]))
    follower.poll()
    assert (early.tasks.num_rows, early.stages.num_rows) == (tasks, stages)
    assert "end" not in early.application and "end" in follower.report().model.application


def test_a_rolling_zstd_directory_is_followed_as_frames_and_files_appear(tmp_path):
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    directory = tmp_path / "eventlog_v2_local-1"
    directory.mkdir()
    (directory / "appstatus_local-1.inprogress").touch()
    follower = LogFollower(directory)
    compress = zstandard.ZstdCompressor()
    first = directory / "events_1_local-1.zstd"
    for piece in (lines[:10], lines[10:25]):  # two frames, as two flushes of Spark's writer
        with open(first, "ab") as f:
            f.write(compress.compress(b"".join(piece)))
        follower.poll()
    assert follower.model.events == 25
    frame = compress.compress(b"".join(lines[25:]))
    second = directory / "events_2_local-1.zstd"
    second.write_bytes(frame[:len(frame) // 2])  # half a frame: what was decoded so far, no more
    follower.poll()
    assert 25 <= follower.model.events < len(lines)
    with open(second, "ab") as f:
        f.write(frame[len(frame) // 2:])
    (directory / "appstatus_local-1.inprogress").rename(directory / "appstatus_local-1")
    follower.poll()
    assert follower.finished and follower.model.events == len(lines)
    assert follower.report().complete


def test_malformed_lines_are_skipped_and_said(tmp_path):
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    log = tmp_path / "app.inprogress"
    log.write_bytes(b"".join(lines[:5]) + b"{not json\n" + b"".join(lines[5:]))
    follower = LogFollower(log)
    follower.poll()
    problems = follower.report().read_problems
    assert any("skipped 1 malformed line(s), the first at" in p and ":6: invalid JSON" in p for p in problems)


def test_a_file_that_is_no_event_log_is_refused(tmp_path):
    log = tmp_path / "notes.inprogress"
    log.write_text("".join(f"line {i}\n" for i in range(30)))
    with pytest.raises(NotAnEventLog, match="no JSON object"):
        LogFollower(log).poll()


def test_event_times_come_from_the_field_spark_stamps():
    assert event_time({"Event": "SparkListenerJobStart", "Submission Time": 5}) == 5
    assert event_time({"Event": "SparkListenerTaskStart", "Task Info": {"Launch Time": 7, "Finish Time": 0}}) == 7
    assert event_time({"Event": "SparkListenerStageCompleted",
                       "Stage Info": {"Submission Time": 3, "Completion Time": 9}}) == 9
    assert event_time({"Event": "SparkListenerEnvironmentUpdate"}) is None


def test_replay_builds_the_application_as_it_was_at_any_moment():
    replay = LogReplay(FIXTURE)
    assert replay.start < replay.end
    assert replay.times == sorted(replay.times)
    moment = replay.times[29]  # while the join stage runs
    mid = replay.events_until(moment)
    assert mid >= 30
    halfway = replay.report_at(mid)
    assert 0 < halfway.model.tasks.num_rows < 14 and not halfway.complete
    assert halfway.model.jobs["completed"].to_pylist() == [None]  # the job is still running then
    everything = replay.report_at(len(replay.events))
    assert everything.complete and everything.model.tasks.num_rows == 14
    again = replay.report_at(mid)  # back in time: built again from the first event
    assert again.model.tasks.num_rows == halfway.model.tasks.num_rows
    assert replay.time_of(mid) == moment


@pytest.mark.spark
@pytest.mark.parametrize("variant", ["lz4", "snappy", "zstd", "rolling-zstd"])
def test_a_real_spark_log_is_followed_from_running_to_stopped(spark_logs, tmp_path, variant):  # noqa: F811
    """Spark's own files while the application ran, then as it left them: lz4 and snappy files are
    read once complete, zstd ones as they grow; either way the end equals a full read."""
    (running,) = [p for p in (spark_logs / variant / "inprogress").iterdir() if not p.name.startswith(".")]
    (stopped,) = [p for p in (spark_logs / variant / "logs").iterdir() if not p.name.startswith(".")]
    copy = shutil.copytree if running.is_dir() else shutil.copy
    followed = tmp_path / running.name
    copy(running, followed)
    follower = LogFollower(followed)
    follower.poll()
    if variant in ("lz4", "snappy"):
        assert follower.model.events == 0  # not until the writer has closed the file
    else:
        assert follower.model.events > 0
    assert follower.report().read_problems[-1] == "the log is in progress"
    if running.is_dir():
        shutil.rmtree(followed)
    else:
        followed.unlink()
    copy(stopped, tmp_path / stopped.name)
    follower.poll()
    assert follower.finished
    report = follower.report()
    expected = sum(1 for _ in read_events(tmp_path / stopped.name))
    assert report.complete and report.events_read == expected
