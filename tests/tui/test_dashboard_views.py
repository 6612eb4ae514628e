"""The dashboard's timeline, DAG and plan views, diagnosis jumps, the help screen, the mouse, damaged
logs and a 100,000-task model, driven with a Pilot over real logs: the engine's (tests/tui/fixtures)
and real Spark 4's (tests/spark_jobs scenarios, generated once and cached)."""
from __future__ import annotations

import dataclasses

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from textual.widgets import DataTable, Input
from textual.widgets._footer import FooterKey

from diag.analyze import analyze
from diag.detectors import run_detectors
from tests.spark_jobs.fixtures import spark_logs  # noqa: F401 - the real Spark logs' fixture
from tests.tui.test_dashboard import FIXTURE, SIZE, loaded, pilot_test, text_of
from tui.dashboard import EmberApp
from tui.dashboard.dag import DagView
from tui.dashboard.data import DashboardData
from tui.dashboard.diagnosis_detail import DiagnosisCard
from tui.dashboard.diagnosis_list import DiagnosisList
from tui.dashboard.help import HelpScreen
from tui.dashboard.screens import DashboardScreen
from tui.dashboard.timeline import TaskTimeline, task_lanes


def _fixture_data() -> DashboardData:
    (report,), _ = analyze(FIXTURE)
    return DashboardData(report)


def test_every_task_gets_one_lane_and_lanes_never_overlap():
    data = _fixture_data()
    lanes = task_lanes(data)
    assert [(lane.executor_id, lane.slot) for lane in lanes] == [("driver", 0), ("driver", 1)]  # local[2]
    assert sum(len(lane.bars) for lane in lanes) == data.model.tasks.num_rows == 14
    for lane in lanes:
        assert all(a.end <= b.start for a, b in zip(lane.bars, lane.bars[1:]))


@pilot_test
async def test_the_timeline_shows_executor_lanes_and_switches_colours():
    app = EmberApp(FIXTURE)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("l")
        assert screen.current_view == "timeline" and app.focused.id == "task-timeline"
        lines = screen.query_one(TaskTimeline).render_text().plain.splitlines()
        assert lines[1].lstrip().startswith("driver #0") and lines[2].lstrip().startswith("driver #1")
        assert "█" in lines[1] and "·" in lines[1] and lines[1].rstrip().endswith("%")
        legend = text_of(screen.query_one("#timeline-legend"))
        assert all(f"stage {s}" in legend for s in range(4))
        await pilot.press("c")
        assert screen.query_one(TaskTimeline).colour_by == "status"
        assert "succeeded" in text_of(screen.query_one("#timeline-legend"))


@pytest.mark.spark
@pilot_test
async def test_failed_tasks_are_red_on_the_timeline_of_a_real_spark_log(spark_logs):
    app = EmberApp(spark_logs["task_failures"])
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("l", "c")
        timeline = screen.query_one(TaskTimeline)
        failed = [bar for lane in timeline.lanes for bar in lane.bars if bar.end_reason != "Success"]
        assert failed
        styles = {str(span.style) for span in timeline.render_text().spans}
        assert "red1" in styles


@pilot_test
async def test_the_dag_shows_stages_with_shuffle_edges_and_the_plan_with_metrics():
    app = EmberApp(FIXTURE)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("p")
        assert screen.current_view == "dag"
        stages = text_of(screen.query_one("#dag-stages"))
        lines = stages.splitlines()
        assert lines[0].startswith("Job 0  succeeded  4 stage(s)")
        assert "Stage 3" in lines[1]  # the result stage at the root
        assert "◀ shuffle 3.0 KiB ── Stage 2" in lines[2]
        assert "◀ shuffle 70.4 KiB ── Stage 0" in lines[3] and "◀ shuffle 2.5 KiB ── Stage 1" in lines[4]
        plan = text_of(screen.query_one("#dag-plan"))
        assert "SQL query 0" in plan and "ShuffledHashJoin" in plan
        assert "number of output rows: 1,000,000" in plan and "shuffle bytes written: 70.4 KiB" in plan


@pytest.mark.spark
@pilot_test
async def test_brackets_step_through_the_jobs_of_a_real_spark_log(spark_logs):
    app = EmberApp(spark_logs["shuffle_chain"])
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("p")
        dag = screen.query_one(DagView)
        jobs = screen.data.job_rows
        assert len(jobs) > 1
        await pilot.press("right_square_bracket")
        assert dag.job_index == 1
        assert text_of(screen.query_one("#dag-stages")).startswith(f"Job {jobs[1]['job_id']} ")
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert dag.job_index == len(jobs) - 1


@pilot_test
async def test_enter_on_a_stage_diagnosis_opens_that_stage():
    app = EmberApp(FIXTURE)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        listing = screen.query_one("#overview-diagnoses", DiagnosisList)
        assert listing.highlighted_diagnosis.kind == "skew"
        await pilot.press("enter")
        assert screen.current_view == "stage-detail"
        assert screen.query_one("#stage-detail").stage == (2, 0)
        slowest = screen.query_one("#slowest-tasks", DataTable)
        row = [str(c) for c in slowest.get_row_at(0)]
        assert row[2] == "driver" and row[3] == "127.0.0.1" and row[4] == "427 ms"


@pytest.mark.spark
@pilot_test
async def test_a_plan_node_diagnosis_opens_the_dag_on_its_node(spark_logs):
    app = EmberApp(spark_logs["broadcastable_smj"])
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("d")
        cards = list(screen.query(DiagnosisCard))
        target = next(c for c in cards if c.diagnosis.kind == "broadcastable_join")
        target.focus()
        await pilot.press("enter")
        assert screen.current_view == "dag"
        dag = screen.query_one(DagView)
        assert dag.marked_node == "SortMergeJoin"
        job = screen.data.job_rows[dag.job_index]
        assert job["sql_execution_id"] == target.diagnosis.location.sql_execution_id
        plan = text_of(screen.query_one("#dag-plan"))
        assert "SortMergeJoin  ◀ diagnosis" in plan


@pilot_test
async def test_the_help_screen_lists_every_binding_and_searches_them():
    app = EmberApp(FIXTURE)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(app, pilot)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = {key for key, _, _ in help_screen.rows}
        assert {"o", "j", "t", "l", "p", "d", "?", "Esc", "q", "s", "/", "[", "]", "c"} <= keys
        assert all(binding.key in {k for k, *_ in help_screen.rows} or binding.key == "question_mark"
                   or binding.key == "escape" for binding in screen.BINDINGS)
        table = help_screen.query_one("#help-table", DataTable)
        assert table.row_count == len(help_screen.rows)
        assert isinstance(app.focused, Input)
        await pilot.press(*"timeline")
        found = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert 1 <= len(found) < len(help_screen.rows)
        assert ["l", "Timeline", "everywhere"] in found and ["c", "Colour by stage/status", "TimelineView"] in found
        assert all(any("timeline" in cell.lower() for cell in row) for row in found)
        await pilot.press("escape")
        assert app.screen is screen


@pilot_test
async def test_the_mouse_switches_views_from_the_footer_and_selects_rows():
    app = EmberApp(FIXTURE)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(app, pilot)
        stages_key = next(k for k in screen.query(FooterKey) if k.key == "t")
        await pilot.click(stages_key)
        assert screen.current_view == "stages"
        table = screen.query_one("#stages-table", DataTable)
        await pilot.click(table, offset=(3, 3))  # the third row, under the header
        assert table.cursor_row == 2
        await pilot.click(table, offset=(3, 3))  # a second click on the selected row opens it
        assert screen.current_view == "stage-detail"
        assert screen.query_one("#stage-detail").stage == (2, 0)


@pilot_test
async def test_a_malformed_and_truncated_log_opens_and_says_what_was_skipped(tmp_path):
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "local-damaged"
    damaged.write_bytes(b"".join(lines[:12]) + b'{"Event": "SparkListenerTaskEnd", oops\n' + b"".join(lines[12:30])
                        + lines[30][:200])
    app = EmberApp(damaged)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(app, pilot)
        assert isinstance(screen, DashboardScreen)
        assert screen.query_one("#banner").display
        incomplete, skipped = screen.banner_lines()
        assert "incomplete" in incomplete
        assert skipped.startswith(f"skipped 1 malformed line(s), the first at {damaged}:13: invalid JSON")
        assert "Traceback" not in text_of(screen.query_one("#banner"))
        for key in ("j", "t", "l", "p", "d"):  # every view opens on what could be read
            await pilot.press(key)
            assert screen.current_view is not None


def _hundred_thousand_tasks():
    """The fixture's real tasks repeated to 100,000 rows with fresh task ids and launch times spread
    over the application, as a large real log models them."""
    (report,), _ = analyze(FIXTURE)
    model = report.model
    tasks = model.tasks
    copies = -(-100_000 // tasks.num_rows)
    big = pa.concat_tables([tasks] * copies).slice(0, 100_000).combine_chunks()
    ids = pa.array(range(100_000), pa.int64())
    shift = pc.multiply(pc.divide(ids, tasks.num_rows), 3)
    big = big.set_column(big.schema.get_field_index("task_id"), "task_id", ids)
    for column in ("launch_time", "finish_time"):
        index = big.schema.get_field_index(column)
        big = big.set_column(index, column, pc.add(big[column], shift))
    model = dataclasses.replace(model, tasks=big)
    return dataclasses.replace(report, model=model, run=run_detectors(model))


@pilot_test
async def test_a_model_of_100000_tasks_opens_and_every_view_draws():
    report = _hundred_thousand_tasks()
    app = EmberApp(report.path, reports=[report])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.data.model.tasks.num_rows == 100_000
        for key in ("j", "t", "l", "p", "d", "o"):
            await pilot.press(key)
            await pilot.pause()
        await pilot.press("t", "enter")
        await pilot.pause()
        assert screen.current_view == "stage-detail"
        assert len(screen.query_one("#slowest-tasks", DataTable).rows) == 10
        await pilot.press("l")
        await pilot.pause()
        timeline = screen.query_one(TaskTimeline)
        assert sum(len(lane.bars) for lane in timeline.lanes) == 100_000
