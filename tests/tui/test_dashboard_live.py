"""``ember ui`` on a log that is still being written: the dashboard follows it, and new jobs, stages
and tasks appear in its tables as the writer appends them.

Two writers: the lines of a real engine log (tests/tui/fixtures) appended in pieces to an
``.inprogress`` file, and a real engine application run step by step while the dashboard is open."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.widgets import DataTable

from tests.tui.test_dashboard import FIXTURE, SIZE, loaded, pilot_test, text_of
from tui.dashboard import EmberApp
from tui.dashboard.screens import DashboardScreen

FOLLOW_S = 0.05


async def wait_until(pilot, condition, timeout: float = 20.0) -> None:
    """Let the app run (its follow timer polls the log) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the dashboard did not catch up with the log"
        await pilot.pause(FOLLOW_S)


def _column(table: DataTable, key: str) -> list[str]:
    return [str(c) for c in table.get_column(key)]


@pilot_test
async def test_a_growing_inprogress_log_is_followed_live(tmp_path):
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    log = tmp_path / "local-1795271042739.inprogress"
    log.write_bytes(b"".join(lines[:9]))  # up to the first stage's submission
    app = EmberApp(log, follow_interval=FOLLOW_S)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        assert isinstance(screen, DashboardScreen) and screen.live
        assert "live: following local-1795271042739.inprogress" in text_of(screen.query_one("#banner"))
        await pilot.press("j")
        jobs = screen.query_one("#jobs-table", DataTable)
        assert _column(jobs, "status") == ["running"]
        await pilot.press("t")
        stages = screen.query_one("#stages-table", DataTable)
        assert _column(stages, "status") == ["active", "pending", "pending", "pending"]
        assert _column(stages, "tasks") == ["0/4", "0/2", "0/4", "0/4"]

        with open(log, "ab") as f:  # the map stages finish; the join stage starts (half a line too)
            f.write(b"".join(lines[9:28]) + lines[28][:100])
        await wait_until(pilot, lambda: _column(stages, "status")[:3] == ["complete", "complete", "active"])
        assert _column(stages, "tasks")[:2] == ["4/4", "2/2"]

        with open(log, "ab") as f:
            f.write(lines[28][100:] + b"".join(lines[29:-1]))
        await wait_until(pilot, lambda: _column(jobs, "status") == ["succeeded"])
        assert _column(stages, "status") == ["complete"] * 4
        assert "skew" in [d.kind for d in screen.data.diagnoses]  # the diagnoses were updated too

        with open(log, "ab") as f:
            f.write(lines[-1])  # ApplicationEnd
        log.rename(log.with_name("local-1795271042739"))
        await wait_until(pilot, lambda: not screen.live)
        assert screen.data.report.complete
        assert not screen.query_one("#banner").display


def _engine_session(log_dir: Path):
    from engine.sql import SparkSession

    return (SparkSession.builder.master("local[2]").appName("ember-live")
            .config("spark.sql.shuffle.partitions", 2).config("spark.eventLog.dir", str(log_dir))
            .config("spark.sql.adaptive.enabled", "false")
            .getOrCreate())


@pilot_test
async def test_an_engine_application_is_followed_while_it_runs(tmp_path):
    """A real Ember application (Spark 4's default layout: a rolling zstd directory) runs one job,
    the dashboard opens on its log, then the application runs a second job and ends."""
    from engine.sql import SparkSession
    from engine.sql import functions as F

    saved = SparkSession._active
    SparkSession._active = None
    spark = await asyncio.to_thread(_engine_session, tmp_path)
    try:
        df = spark.range(0, 10_000, 1, 2).withColumn("k", F.col("id") % 5)
        await asyncio.to_thread(lambda: df.groupBy("k").count().collect())
        (log_dir,) = tmp_path.iterdir()
        app = EmberApp(log_dir, follow_interval=FOLLOW_S)
        async with app.run_test(size=SIZE) as pilot:
            screen = await loaded(app, pilot)
            assert isinstance(screen, DashboardScreen) and screen.live
            await pilot.press("j")
            jobs = screen.query_one("#jobs-table", DataTable)
            before = jobs.row_count
            assert before >= 1
            await asyncio.to_thread(lambda: df.where(F.col("k") > 2).groupBy("k").count().collect())
            await wait_until(pilot, lambda: jobs.row_count > before)
            await asyncio.to_thread(spark.stop)
            await wait_until(pilot, lambda: not screen.live)
            assert screen.data.report.complete
            assert set(_column(jobs, "status")) == {"succeeded"}
    finally:
        spark.stop()
        SparkSession._active = saved


@pilot_test
async def test_a_followed_log_that_vanishes_stops_the_following_with_a_message(tmp_path):
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    log = tmp_path / "local-1795271042739.inprogress"
    log.write_bytes(b"".join(lines[:20]))
    app = EmberApp(log, follow_interval=FOLLOW_S)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        assert screen.live
        log.unlink()
        await wait_until(pilot, lambda: not screen.live)
        assert "Stopped following" in " ".join(str(n.message) for n in app._notifications)
        assert "incomplete" in text_of(screen.query_one("#banner"))
        assert screen.data.model.stages.num_rows == 4  # what was read stays on screen


@pilot_test
async def test_an_application_still_running_is_followed_when_chosen_in_the_picker(tmp_path):
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    (tmp_path / "local-1795271042000").write_bytes(FIXTURE.read_bytes())  # a finished application
    running = tmp_path / "local-1795271042739.inprogress"
    running.write_bytes(b"".join(lines[:20]))
    app = EmberApp(tmp_path, follow_interval=FOLLOW_S)
    async with app.run_test(size=SIZE) as pilot:
        picker = await loaded(app, pilot)
        assert len(picker.reports) == 2
        await pilot.press("down", "enter")  # the second: the one still running
        await loaded(app, pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and screen.live
        with open(running, "ab") as f:
            f.write(b"".join(lines[20:-1]))
        await pilot.press("j")
        jobs = screen.query_one("#jobs-table", DataTable)
        await wait_until(pilot, lambda: _column(jobs, "status") == ["succeeded"])
