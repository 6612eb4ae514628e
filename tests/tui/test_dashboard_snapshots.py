"""SVG snapshots of the dashboard's views at 120x40, from a fixed event log the engine wrote once
(tests/tui/fixtures/skewed-join.eventlog: a skewed shuffled join), so that durations and
timestamps do not change between runs. Update with ``pytest --snapshot-update`` and look at them."""
from __future__ import annotations

from pathlib import Path

import pytest

from tui.dashboard import EmberApp

FIXTURE = Path(__file__).parent / "fixtures" / "skewed-join.eventlog"
SIZE = (120, 40)


async def _loaded(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("view, keys", [
    ("overview", []),
    ("jobs", ["j"]),
    ("stages", ["t"]),
    ("stage_detail", ["t", "down", "down", "enter"]),  # stage 2: the skewed join
    ("diagnoses", ["d"]),
])
def test_view(snap_compare, view, keys):
    assert snap_compare(EmberApp(FIXTURE), press=keys, terminal_size=SIZE, run_before=_loaded)


def test_incomplete_banner(snap_compare, tmp_path):
    data = FIXTURE.read_bytes()
    cut = tmp_path / "cut.eventlog"
    cut.write_bytes(data[:50_000])
    assert snap_compare(EmberApp(cut), terminal_size=SIZE, run_before=_loaded)
