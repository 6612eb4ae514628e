"""``ember replay``: a finished engine log (tests/tui/fixtures/skewed-join.eventlog) played back with
pause, step and scrub, the dashboard showing the application as it was at the replay's moment."""
from __future__ import annotations

import pytest
from textual.widgets import DataTable

from diag.replay import LogReplay
from tests.tui.test_dashboard import FIXTURE, SIZE, pilot_test, text_of
from tests.tui.test_dashboard_live import wait_until
from tui.cli import _parser
from tui.dashboard.replay import SCRUB_STEPS, ReplayApp, ReplayBar, ReplayScreen
from tui.dashboard.screens import ErrorScreen


async def opened(app: ReplayApp, pilot) -> ReplayScreen:
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.screen


async def settled(app: ReplayApp, pilot) -> None:
    """Wait until the views show the replay's moment (the model is built in a worker)."""
    await wait_until(pilot, lambda: app.screen.shown == app.screen.target)
    await app.workers.wait_for_complete()
    await pilot.pause()


@pilot_test
async def test_the_replay_plays_to_the_end_in_its_own_time_scaled():
    app = ReplayApp(FIXTURE, speed=200)  # the 1.6 s application in about 10 ms of ticks
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot)
        assert isinstance(screen, ReplayScreen)
        bar = screen.query_one(ReplayBar)
        await wait_until(pilot, lambda: bar.paused)
        await settled(app, pilot)
        assert bar.position_ms == bar.total_ms == screen.replay.end - screen.replay.start
        assert screen.data.model.tasks.num_rows == 14 and screen.data.report.complete
        assert "skew" in [d.kind for d in screen.data.diagnoses]
        assert "event 47/47" in text_of(bar)


@pilot_test
async def test_pause_next_event_and_the_scrubber_show_the_application_at_that_moment():
    replay = LogReplay(FIXTURE)
    app = ReplayApp(FIXTURE, speed=0.001)  # the clock barely moves: the keys move the replay
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot)
        bar = screen.query_one(ReplayBar)
        await pilot.press("space")
        assert bar.paused
        first = screen.target
        await pilot.press("n")
        await settled(app, pilot)
        assert screen.shown == first + 1 == screen.data.report.events_read

        await pilot.press("t")
        stages = screen.query_one("#stages-table", DataTable)
        for _ in range(SCRUB_STEPS):  # back past the start: the application before any task ended
            await pilot.press("left")
        await settled(app, pilot)
        assert screen.position_ms == 0 and screen.data.model.tasks.num_rows == 0
        assert stages.row_count == 0  # no job has started yet

        step = bar.total_ms / SCRUB_STEPS
        for _ in range(SCRUB_STEPS * 3 // 4):  # three quarters of the way: the join stage runs
            await pilot.press("right")
        await settled(app, pilot)
        assert screen.position_ms == pytest.approx(step * (SCRUB_STEPS * 3 // 4))
        expected = replay.report_at(replay.events_until(replay.start + screen.position_ms))
        assert screen.data.model.tasks.num_rows == expected.model.tasks.num_rows > 0
        statuses = [str(c) for c in stages.get_column("status")]
        assert statuses == [r["status"] for r in screen.data.stage_rows]
        assert "complete" in statuses and "complete" != statuses[-1]
        assert "playing" not in text_of(bar) and "paused" in text_of(bar)


@pilot_test
async def test_every_view_opens_during_a_replay():
    app = ReplayApp(FIXTURE, speed=0.001)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot)
        await pilot.press("space", *["right"] * 30)
        await settled(app, pilot)
        for key, view in (("j", "jobs"), ("t", "stages"), ("l", "timeline"), ("p", "dag"), ("d", "diagnoses"),
                          ("o", "overview")):
            await pilot.press(key)
            assert screen.current_view == view


@pilot_test
async def test_a_path_that_is_not_a_log_shows_the_error_screen(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a log\n")
    app = ReplayApp(path)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen) and "not a Spark event log" in app.screen.message
        await pilot.press("q")
    assert app.return_code == 1


def test_the_replay_command_takes_a_positive_speed():
    args = _parser().parse_args(["replay", "some.log", "--speed", "10"])
    assert (args.command, args.path, args.speed) == ("replay", "some.log", 10.0)
    assert _parser().parse_args(["replay", "some.log"]).speed == 1.0
    with pytest.raises(SystemExit):
        _parser().parse_args(["replay", "some.log", "--speed", "0"])
