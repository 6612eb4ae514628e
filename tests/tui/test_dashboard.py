"""The dashboard (``ember ui``) driven with a Pilot over a real event log written by the engine:
a skewed shuffled join, so the skew detector has something to find."""
from __future__ import annotations

import asyncio
import functools
import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable, Input, Static

from tui.dashboard import EmberApp
from tui.dashboard.diagnosis_detail import DiagnosisDetail
from tui.dashboard.diagnosis_list import DiagnosisList
from tui.dashboard.histogram import TaskHistogram, bin_counts
from tui.dashboard.screens import DashboardScreen, ErrorScreen, PickerScreen
from tui.dashboard.sortable_table import SortableTable, SortCell

FIXTURE = Path(__file__).parent / "fixtures" / "skewed-join.eventlog"
SIZE = (120, 40)


def write_skewed_log(log_dir: Path) -> Path:
    """Run a skewed shuffled join on the engine (97% of the rows share one key; broadcast and AQE
    off, so one reduce task gets the hot key) and return its plain single-file event log. One task
    slot: on two, the task running beside the hot one took 716 ms against its 975 (most likely
    waiting for the GIL its Python UDF holds), too close for the skew detector to call it a straggler."""
    from engine.sql import SparkSession
    from engine.sql import functions as F

    active = SparkSession._active
    SparkSession._active = None
    spark = (SparkSession.builder.master("local[1]").appName("ember-dashboard-skew")
             .config("spark.sql.shuffle.partitions", 4).config("spark.eventLog.dir", str(log_dir))
             .config("spark.sql.autoBroadcastJoinThreshold", -1).config("spark.sql.adaptive.enabled", "false")
             .config("spark.eventLog.rolling.enabled", "false").config("spark.eventLog.compress", "false")
             .getOrCreate())
    try:
        facts = spark.range(0, 2_000_000, 1, 4).withColumn(
            "k", F.when(F.col("id") % 100 < 97, F.lit(0)).otherwise(F.col("id") % 7))
        dims = spark.range(0, 7, 1, 2).withColumnRenamed("id", "k").withColumn("label", F.concat(F.lit("k"), F.col("k")))

        @F.udf(returnType="bigint")
        def weigh(x):  # per-row Python work: the hot partition takes far longer than the others
            return x % 3

        joined = facts.join(dims, "k").withColumn("w", weigh(F.col("id")))
        rows = joined.groupBy("label").agg(F.count("*").alias("count"), F.sum("w").alias("w")).collect()
        counts = {r["label"]: r["count"] for r in rows}
        assert counts["k0"] > 1_900_000
    finally:
        spark.stop()
        SparkSession._active = active
    (log,) = [p for p in log_dir.iterdir() if p.is_file()]
    return log


@pytest.fixture(scope="module")
def skewed_log(tmp_path_factory) -> Path:
    return write_skewed_log(tmp_path_factory.mktemp("dashboard-events"))


def pilot_test(test):
    """Run an async Pilot test (the project does not use pytest-asyncio)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


def text_of(widget) -> str:
    """What a widget shows, as plain text."""
    renderable = widget.content if isinstance(widget, Static) else widget.render()
    console = Console(file=io.StringIO(), width=118, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


async def loaded(app: EmberApp, pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.screen


@pilot_test
async def test_the_app_loads_the_log_and_shows_the_overview(skewed_log):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        assert isinstance(screen, DashboardScreen)
        assert screen.current_view == "overview"
        assert not screen.query_one("#banner").display  # a finished log: no incomplete banner
        summary = text_of(screen.query_one("#summary"))
        assert "ember-dashboard-skew" in summary and screen.data.model.app_id in summary
        assert screen.data.model.tasks.num_rows == 14  # 4 + 2 map tasks, 4 join tasks, 4 aggregate tasks


@pilot_test
async def test_the_skew_diagnosis_is_in_the_overview_with_its_fix(skewed_log):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        diagnoses = screen.query_one("#overview-diagnoses", DiagnosisList).diagnoses
        skew = [d for d in diagnoses if d.kind == "skew"]
        assert skew, [d.kind for d in diagnoses]
        assert diagnoses[0] is skew[0]  # the costliest finding comes first
        detail = screen.query_one("#overview-detail", DiagnosisDetail)
        assert detail.diagnosis is skew[0]
        await pilot.press("down")  # highlight the next diagnosis: the detail follows
        assert detail.diagnosis is diagnoses[1]
        text = text_of(detail)
        assert "Fix:" in text and "Evidence" in text


@pytest.mark.parametrize("key, view, focused", [
    ("j", "jobs", "jobs-table"), ("t", "stages", "stages-table"), ("d", "diagnoses", "diagnoses"),
])
@pilot_test
async def test_each_view_opens_with_its_key(skewed_log, key, view, focused):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press(key)
        assert screen.current_view == view
        assert app.focused is not None and app.focused.id == focused
        await pilot.press("o")
        assert screen.current_view == "overview"


@pilot_test
async def test_the_jobs_table(skewed_log):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("j")
        table = screen.query_one("#jobs-table", DataTable)
        assert table.row_count == 1
        row = [str(c) for c in table.get_row_at(0)]
        assert row[0] == "0" and row[2] == "succeeded" and row[4] == "4/0" and row[5] == "14"
        stages = screen.data.stage_rows
        shuffle_written = sum(r["shuffle_write_bytes"] for r in stages)
        assert _column(table, "shuffle_write") == [shuffle_written] and shuffle_written > 0
        assert _column(table, "skew") == [max(r["skew"] for r in stages if r["skew"] is not None)]


@pilot_test
async def test_the_jobs_filter_keeps_matching_rows(skewed_log):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("j", "slash")
        assert isinstance(app.focused, Input)
        table = screen.query_one("#jobs-table", DataTable)
        await pilot.press(*"nothing-like-this")
        assert table.row_count == 0
        app.focused.value = "succeeded"
        await pilot.pause()
        assert table.row_count == 1
        await pilot.press("enter")
        assert app.focused is table


def _column(table: DataTable, key: str) -> list:
    return [c.value for c in table.get_column(key)]


@pilot_test
async def test_sorting_stages_by_clicking_a_header_and_with_s(skewed_log):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("t")
        table = screen.query_one("#stages-table", SortableTable)
        assert _column(table, "stage") == [(0, 0), (1, 0), (2, 0), (3, 0)]
        keys = [c.key.value for c in table.ordered_columns]
        x = sum(c.get_render_width(table) for c in table.ordered_columns[:keys.index("duration")]) + 2
        await pilot.click(table, offset=(x, 0))  # the "Duration" header
        assert table.sort_column == "duration" and not table.sort_reverse
        durations = _column(table, "duration")
        assert durations == sorted(durations)
        await pilot.click(table, offset=(x, 0))  # again: descending
        assert _column(table, "duration") == sorted(durations, reverse=True)
        # sizes sort by bytes, not by their text ("72.9 KiB" > "3.0 KiB" > "0 B")
        table.sort_by("shuffle_read", reverse=True)
        reads = _column(table, "shuffle_read")
        assert reads == sorted(reads, reverse=True) and reads[0] > 10_000
        await pilot.press("s")  # s steps on: the next column ascending
        assert table.sort_column == "shuffle_write" and not table.sort_reverse


@pilot_test
async def test_the_jobs_table_sorts_with_s(skewed_log):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("j", "s")
        table = screen.query_one("#jobs-table", SortableTable)
        assert (table.sort_column, table.sort_reverse) == ("job", False)
        await pilot.press("s")
        assert (table.sort_column, table.sort_reverse) == ("job", True)


@pilot_test
async def test_the_stage_filter_keeps_matching_rows(skewed_log):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("t", "slash")
        assert isinstance(app.focused, Input)
        table = screen.query_one("#stages-table", DataTable)
        await pilot.press(*"nothing-like-this")
        assert table.row_count == 0
        app.focused.value = ""
        await pilot.pause()
        assert table.row_count == 4
        needle = max(table.get_column("shuffle_write")).text  # e.g. "70.4 KiB": the map stage of the big side
        app.focused.value = needle
        await pilot.pause()
        assert 1 <= table.row_count < 4
        assert all(any(needle in c.text for c in table.get_row_at(i)) for i in range(table.row_count))
        await pilot.press("enter")  # back to the table
        assert app.focused is table


@pilot_test
async def test_enter_on_a_stage_opens_its_task_summary_histogram_and_diagnoses(skewed_log):
    app = EmberApp(skewed_log)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        skew = next(d for d in screen.data.diagnoses if d.kind == "skew")
        skewed_stage = skew.location.stage_ids[0]
        await pilot.press("t")
        table = screen.query_one("#stages-table", DataTable)
        table.move_cursor(row=table.get_row_index(f"{skewed_stage}.0"))
        await pilot.press("enter")
        await pilot.pause()
        assert screen.current_view == "stage-detail"
        summary = screen.query_one("#task-summary", DataTable)
        assert [str(r.value) for r in summary.rows] == ["Duration", "GC time", "Input", "Shuffle read",
                                                        "Shuffle write", "Spill (memory)", "Spill (disk)"]
        q = screen.data.model.stage_quantiles("duration_ms").to_pylist()
        expected = next(r for r in q if r["stage_id"] == skewed_stage)
        row = [str(c) for c in summary.get_row("Duration")]
        assert row[1] == f"{expected['min']:.0f} ms" and row[5].replace(" ms", "").replace(" s", "")
        histogram = screen.query_one(TaskHistogram)
        assert len(histogram.values) == 4 and max(histogram.values) == expected["max"]
        cards = screen.query(".stage-diagnosis")
        assert any(card.diagnosis is skew for card in cards)
        await pilot.press("escape")
        assert screen.current_view == "stages"


@pilot_test
async def test_a_path_that_is_not_an_event_log_shows_the_error_screen(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not JSON\n")
    app = EmberApp(path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        assert isinstance(screen, ErrorScreen)
        assert "not a Spark event log" in screen.message
        assert "Traceback" not in screen.message
        assert "not a Spark event log" in text_of(screen.query_one("#error-message"))
        await pilot.press("q")
    assert app.return_code == 1


@pilot_test
async def test_a_missing_path_shows_the_error_screen(tmp_path):
    app = EmberApp(tmp_path / "nowhere")
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        assert isinstance(screen, ErrorScreen) and "no such file or directory" in screen.message


@pilot_test
async def test_a_truncated_log_shows_the_incomplete_banner(skewed_log, tmp_path):
    data = skewed_log.read_bytes()
    cut = tmp_path / "cut.eventlog"
    cut.write_bytes(data[: len(data) * 2 // 3])
    app = EmberApp(cut)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        assert isinstance(screen, DashboardScreen)
        banner = text_of(screen.query_one("#banner"))
        assert "incomplete" in banner and "cut short" in banner


@pilot_test
async def test_several_applications_open_a_picker(skewed_log, tmp_path):
    shutil.copy(skewed_log, tmp_path / skewed_log.name)
    shutil.copy(FIXTURE, tmp_path / "local-fixture")
    app = EmberApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        assert isinstance(screen, PickerScreen) and len(screen.reports) == 2
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert app.screen.data.report is screen.reports[1]
        await pilot.press("escape")  # back to the picker
        assert app.screen is screen


def test_histogram_bins():
    assert bin_counts([], 10) == []
    assert bin_counts([5, 5], 10) == [(5, 5, 2)]
    bins = bin_counts([0, 10, 20, 100], 4)
    assert [c for _, _, c in bins] == [3, 0, 0, 1] and bins[0][0] == 0 and bins[-1][1] == 100


def test_sort_cells_order_by_value_not_text():
    cells = [SortCell(3 * 1024, "3.0 KiB"), SortCell(None, "-"), SortCell(900, "900 B")]
    assert [c.text for c in sorted(cells)] == ["-", "900 B", "3.0 KiB"]
