"""The dashboard's screens: the dashboard of one application, the application picker (when a path
holds several), and the error screen (when nothing could be read)."""
from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Label, ListItem, ListView, Static

from diag.report import ApplicationReport
from tui.dashboard.data import DashboardData
from tui.dashboard.diagnoses import DiagnosesView
from tui.dashboard.format import duration
from tui.dashboard.jobs import JobsView
from tui.dashboard.overview import OverviewView
from tui.dashboard.stage_detail import StageDetailView
from tui.dashboard.stages import StagesView

INCOMPLETE = "The log is incomplete (still being written, or cut short): the analysis covers what it holds."


class DashboardScreen(Screen):
    """One application: overview, jobs, stages, stage detail and diagnoses, one view at a time."""

    BINDINGS = [
        Binding("o", "show('overview')", "Overview"),
        Binding("j", "show('jobs')", "Jobs"),
        Binding("t", "show('stages')", "Stages"),
        Binding("d", "show('diagnoses')", "Diagnoses"),
        Binding("escape", "back", "Back"),
    ]

    FOCUS = {"overview": "#overview-diagnoses", "jobs": "#jobs-table", "stages": "#stages-table",
             "diagnoses": "#diagnoses", "stage-detail": "#stage-detail"}

    def __init__(self, report: ApplicationReport, load_errors: list[str] | None = None):
        super().__init__()
        self.data = DashboardData(report)
        self.load_errors = list(load_errors or [])
        self.sub_title = f"{self.data.name} ({self.data.model.app_id})"

    def compose(self) -> ComposeResult:
        yield Header()
        report = self.data.report
        warnings = ([] if report.complete else [INCOMPLETE]) + [
            p for p in report.read_problems if not p.startswith("the log is ")]
        if self.load_errors:
            warnings.append(f"{len(self.load_errors)} other log(s) could not be read: " + "; ".join(self.load_errors))
        if warnings:
            yield Static("\n".join(f"⚠ {w}" for w in warnings), id="banner",
                         classes="incomplete" if not report.complete else "")
        with ContentSwitcher(initial="overview", id="views"):
            yield OverviewView(self.data, id="overview")
            yield JobsView(self.data, id="jobs")
            yield StagesView(self.data, id="stages")
            yield StageDetailView(self.data, id="stage-detail")
            yield DiagnosesView(self.data, id="diagnoses")
        yield Footer()

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
        self.app.push_screen(DashboardScreen(self.reports[index], self.load_errors))


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
