"""The dashboard's screens: the dashboard of one application, the application picker (when a path
holds several), and the error screen (when nothing could be read).

Keys of the dashboard: o overview, j jobs, t stages (Enter: a stage's detail, / filter), l executor
timeline, p DAG and SQL plan, d diagnoses (Enter on one: go to its stage or plan node), ? help,
Esc back, q quit; s sorts a table."""
from __future__ import annotations

import os
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Label, ListItem, ListView, LoadingIndicator, Static

from diag.report import ApplicationReport
from tui.dashboard.dag import DagView
from tui.dashboard.data import DashboardData
from tui.dashboard.diagnoses import DiagnosesView
from tui.dashboard.diagnosis_detail import DiagnosisChosen
from tui.dashboard.format import duration
from tui.dashboard.help import HelpScreen
from tui.dashboard.jobs import JobsView
from tui.dashboard.overview import OverviewView
from tui.dashboard.stage_detail import StageDetailView
from tui.dashboard.stages import StagesView
from tui.dashboard.timeline import TimelineView

INCOMPLETE = "The log is incomplete (still being written, or cut short): the analysis covers what it holds."

VIEW_KEYS = (("o", "overview", "Overview"), ("j", "jobs", "Jobs"), ("t", "stages", "Stages"),
             ("l", "timeline", "Timeline"), ("p", "dag", "DAG/plan"), ("d", "diagnoses", "Diagnoses"))


class DashboardScreen(Screen):
    """One application: overview, jobs, stages, stage detail, timeline, DAG and SQL plan, and
    diagnoses, one view at a time. ``update_report`` shows a newer model of the same application
    (a log followed live, or replayed) in every view without losing the place in any of them."""

    BINDINGS = [
        *(Binding(key, f"show('{view}')", label) for key, view, label in VIEW_KEYS),
        Binding("question_mark", "help", "Help"),
        Binding("escape", "back", "Back"),
    ]

    FOCUS = {"overview": "#overview-diagnoses", "jobs": "#jobs-table", "stages": "#stages-table",
             "diagnoses": "#diagnoses", "stage-detail": "#stage-detail", "timeline": "#task-timeline",
             "dag": "#dag"}

    def __init__(self, report: ApplicationReport, load_errors: list[str] | None = None, live: bool = False):
        super().__init__()
        self.data = DashboardData(report)
        self.load_errors = list(load_errors or [])
        self.live = live
        self.sub_title = f"{self.data.name} ({self.data.model.app_id})"

    def compose(self) -> ComposeResult:
        yield Header()
        banner = Static(id="banner")
        self._fill_banner(banner)
        yield banner
        with ContentSwitcher(initial="overview", id="views"):
            yield OverviewView(self.data, id="overview")
            yield JobsView(self.data, id="jobs")
            yield StagesView(self.data, id="stages")
            yield StageDetailView(self.data, id="stage-detail")
            yield TimelineView(self.data, id="timeline")
            yield DagView(self.data, id="dag")
            yield DiagnosesView(self.data, id="diagnoses")
        yield Footer()

    def banner_lines(self) -> list[str]:
        """What the reader says about the log: live, incomplete, lines skipped, other logs unread."""
        report = self.data.report
        if self.live:
            lines = [f"● live: following {os.path.basename(report.path.rstrip('/'))} as it is written, "
                     f"{report.events_read:,} events so far (updated {time.strftime('%H:%M:%S')})"]
        else:
            lines = [] if report.complete else [INCOMPLETE]
        lines += [p for p in report.read_problems if not p.startswith("the log is ")]
        if self.load_errors:
            lines.append(f"{len(self.load_errors)} other log(s) could not be read: " + "; ".join(self.load_errors))
        return lines

    def _fill_banner(self, banner: Static) -> None:
        lines = self.banner_lines()
        banner.update("\n".join(f"⚠ {w}" if not w.startswith("●") else w for w in lines))
        banner.display = bool(lines)
        banner.set_class(not self.data.report.complete and not self.live, "incomplete")
        banner.set_class(self.live, "live")

    async def update_report(self, report: ApplicationReport, live: bool | None = None) -> None:
        """Show a newer analysis of the same application in every view."""
        self.data = DashboardData(report)
        if live is not None:
            self.live = live
        self._fill_banner(self.query_one("#banner", Static))
        focused = self.focused
        for view in self.query_one("#views", ContentSwitcher).children:
            await view.show_data(self.data)
        if focused is not None and not focused.is_attached and self.current_view is not None:
            self._focus(self.current_view)

    def on_mount(self) -> None:
        self._focus("overview")

    @property
    def current_view(self) -> str | None:
        return self.query_one("#views", ContentSwitcher).current

    def _focus(self, view: str) -> None:
        found = self.query(self.FOCUS[view])
        if found:
            found.first().focus()

    def action_show(self, view: str) -> None:
        """Switch to a view and focus its main widget."""
        self.query_one("#views", ContentSwitcher).current = view
        self._focus(view)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self))

    def action_back(self) -> None:
        if self.current_view == "stage-detail":
            self.action_show("stages")
        elif self.current_view != "overview":
            self.action_show("overview")
        elif len(self.app.screen_stack) > 2:  # opened from the application picker
            self.app.pop_screen()

    def show_stage(self, stage_id: int, attempt: int) -> None:
        self.query_one(StageDetailView).stage = (stage_id, attempt)
        self.action_show("stage-detail")

    def on_stages_view_stage_selected(self, event: StagesView.StageSelected) -> None:
        self.show_stage(event.stage_id, event.attempt)

    def on_diagnosis_chosen(self, event: DiagnosisChosen) -> None:
        """Go to where a diagnosis is: its plan node in the DAG view, else its stage's detail."""
        where = event.diagnosis.location
        if where.sql_node is not None or (where.sql_execution_id is not None and not where.stage_ids):
            self.query_one(DagView).show_job_of(where.sql_execution_id, where.job_ids, where.sql_node)
            self.action_show("dag")
        elif where.stage_ids:
            attempt = where.stage_attempt or 0
            if self.data.stage_row(where.stage_ids[0], attempt) is None:
                attempt = 0
            self.show_stage(where.stage_ids[0], attempt)
        elif where.job_ids:
            self.query_one(DagView).show_job_of(None, where.job_ids, None)
            self.action_show("dag")


def _application_label(report: ApplicationReport) -> Text:
    m = report.model
    return Text.assemble((m.application.get("name") or m.app_id, "bold"), f"  {m.app_id}  ",
                         f"{duration(m.duration_ms)}  {m.jobs.num_rows} jobs  ",
                         (f"{len(report.findings)} finding(s)", "yellow" if report.findings else "green"),
                         ("" if report.complete else "  (incomplete)", "red"))


class PickerScreen(Screen):
    """Choose one of the applications found under the path."""

    BINDINGS = [Binding("q", "app.quit", "Quit")]

    def __init__(self, path: str, reports: list[ApplicationReport], load_errors: list[str]):
        super().__init__()
        self.path, self.reports, self.load_errors = path, reports, load_errors

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="picker"):
            yield Label(f"{len(self.reports)} applications in {self.path}: choose one (Enter)", id="picker-title")
            yield ListView(*(ListItem(Label(_application_label(r))) for r in self.reports), id="applications")
            for e in self.load_errors:
                yield Label(f"⚠ {e}", classes="load-error")
        yield Footer()

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        index = event.list_view.index or 0
        self.app.open_application(self.reports[index], self.load_errors)


def loading_layout(path: str) -> ComposeResult:
    """What the dashboard and replay apps show while a worker reads the log."""
    yield Header()
    with Vertical(id="loading"):
        yield Label(f"Reading {path} …", id="loading-label")
        yield LoadingIndicator()
    yield Footer()


class ErrorScreen(Screen):
    """Nothing could be read: the reader's message, and how to leave."""

    BINDINGS = [Binding("q", "app.quit", "Quit"), Binding("escape", "app.quit", "Quit", show=False)]

    def __init__(self, path: str, message: str):
        super().__init__()
        self.path, self.message = path, message

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="error-box"):
            yield Label(f"Cannot open {os.path.basename(str(self.path).rstrip('/')) or self.path}", id="error-title")
            yield Static(Text(self.message), id="error-message")
            yield Label("ember ui reads Spark event logs: a file, a directory of them, or an "
                        "eventlog_v2_* rolling-log directory.  Press q to quit.", id="error-hint")
        yield Footer()
