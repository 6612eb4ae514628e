"""How fast the dashboard opens a large log once diag has modelled it (the issue's target: 100,000
tasks in under 3 s), and how fast its heaviest views draw.

The log is the analyzer benchmark's: a real pyspark application's log whose TaskEnd events are
repeated until it holds ``EMBER_BENCH_DASHBOARD_TASKS`` tasks (default 100,000). Reading and
modelling it is not timed here (benchmarks/test_diag_throughput.py times that); the timed part is
from handing the analysed report to the dashboard until the overview is drawn, then the stages
table, the timeline and the last stage's detail (its task summary, histogram, slowest tasks) each
drawn once.

    EMBER_BENCH_DASHBOARD_TASKS=100000 .venv/bin/python -m pytest benchmarks/test_dashboard_open.py --benchmark-only
"""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from benchmarks.test_diag_throughput import _big_log
from diag.analyze import analyze
from tests.spark_jobs.fixtures import spark_logs  # noqa: F401 - the real logs' fixture
from tui.dashboard import EmberApp
from tui.dashboard.screens import DashboardScreen

TASKS = int(os.environ.get("EMBER_BENCH_DASHBOARD_TASKS", "100000"))
TARGET_OPEN_SECONDS = 3.0

pytestmark = pytest.mark.spark


async def _open_and_draw(report) -> dict[str, float]:
    """Seconds to the overview drawn, then to each of the heavier views drawn."""
    seconds = {}
    start = time.perf_counter()
    app = EmberApp(report.path, reports=[report])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        seconds["open"] = time.perf_counter() - start
        for name, keys in (("stages", ["t"]), ("timeline", ["l"]), ("stage_detail", ["t", "s", "s", "enter"])):
            start = time.perf_counter()
            await pilot.press(*keys)
            await pilot.pause()
            seconds[name] = time.perf_counter() - start
    return seconds


def test_the_dashboard_opens_a_large_log(benchmark, spark_logs):
    log = _big_log(Path(spark_logs["healthy"]), TASKS)
    (report,), _ = analyze(log)
    assert report.model.tasks.num_rows >= TASKS

    seconds = benchmark.pedantic(lambda: asyncio.run(_open_and_draw(report)), rounds=1, iterations=1)
    benchmark.extra_info.update(tasks=report.model.tasks.num_rows, **{f"{k}_s": v for k, v in seconds.items()})
    if TASKS >= 100_000:
        assert seconds["open"] < TARGET_OPEN_SECONDS, f"{seconds['open']:.1f} s to open {TASKS} tasks"
