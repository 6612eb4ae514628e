"""SVG snapshots of the dashboard's views at 120x40 (and the small ones at 80x24), from a fixed event
log the engine wrote once (tests/tui/fixtures/skewed-join.eventlog: a skewed shuffled join), so that
durations and timestamps do not change between runs. Update with ``pytest --snapshot-update`` and
look at them."""
from __future__ import annotations

from pathlib import Path

import pytest

from tui.dashboard import EmberApp
from tui.dashboard.replay import ReplayApp

FIXTURE = Path(__file__).parent / "fixtures" / "skewed-join.eventlog"
SIZE = (120, 40)
SMALL = (80, 24)


async def _loaded(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("view, keys", [
    ("overview", []),
    ("jobs", ["j"]),
    ("stages", ["t"]),
    ("stage_detail", ["t", "down", "down", "enter"]),  # stage 2: the skewed join
    ("diagnoses", ["d"]),
    ("timeline", ["l"]),
    ("timeline_by_status", ["l", "c"]),
    ("dag", ["p"]),
    ("plan_node_jump", ["d", "tab", "tab", "enter"]),  # the broadcastable-join diagnosis: its plan node
])
def test_view(snap_compare, view, keys):
    assert snap_compare(EmberApp(FIXTURE), press=keys, terminal_size=SIZE, run_before=_loaded)


@pytest.mark.parametrize("view, keys", [
    ("overview", []),
    ("stages", ["t"]),
    ("timeline", ["l"]),
    ("help", ["question_mark"]),
])
def test_view_at_80x24(snap_compare, view, keys):
    assert snap_compare(EmberApp(FIXTURE), press=keys, terminal_size=SMALL, run_before=_loaded)


def test_incomplete_banner(snap_compare, tmp_path):
    data = FIXTURE.read_bytes()
    cut = tmp_path / "cut.eventlog"
    cut.write_bytes(data[:50_000])
    assert snap_compare(EmberApp(cut), terminal_size=SIZE, run_before=_loaded)


def test_replay_scrubbed_to_the_join_stage(snap_compare):
    """Paused three quarters of the way through: the map stages done, the join stage running."""

    async def scrubbed(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("space", "t", *["right"] * 30)
        screen = pilot.app.screen
        while screen.shown != screen.target:
            await pilot.pause(0.05)
        await _loaded(pilot)

    app = ReplayApp(FIXTURE, speed=1e-9)  # the clock stands still: only the keys move the replay
    assert snap_compare(app, terminal_size=SIZE, run_before=scrubbed)
