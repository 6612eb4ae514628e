"""The overview: what the application is, how big, and its ranked diagnoses; the highlighted
diagnosis shows its explanation, evidence and fix underneath."""
from __future__ import annotations

import os

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from tui.dashboard.data import DashboardData
from tui.dashboard.diagnosis_detail import DiagnosisDetail
from tui.dashboard.diagnosis_list import DiagnosisList
from tui.dashboard.format import duration


def summary_table(data: DashboardData) -> Table:
    """Name, id, Spark version, duration, executors and cores, and job / stage / task counts."""
    m, report = data.model, data.report
    grid = Table.grid(padding=(0, 2))
    for _ in range(2):
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(no_wrap=True)
    ran = sum(1 for r in data.stage_rows if r["status"] != "skipped")
    grid.add_row("Application", Text(data.name, style="bold"), "Duration", duration(m.duration_ms))
    grid.add_row("App ID", m.app_id, "Executors", f"{m.executors.num_rows} ({data.total_cores} cores)")
    grid.add_row("Spark", m.application.get("spark_version") or "?", "Jobs", str(m.jobs.num_rows))
    grid.add_row("User", m.application.get("user") or "?", "Stages",
                 f"{m.stages.num_rows} ({ran} run, {m.stages.num_rows - ran} skipped)")
    grid.add_row("Log", os.path.basename(report.path.rstrip("/")), "Tasks", str(m.tasks.num_rows))
    return grid


class OverviewView(VerticalScroll):
    """The application at a glance and its diagnoses, most costly first."""

    DEFAULT_CSS = """
    OverviewView {
        padding: 0 1;
    }
    OverviewView > #summary {
        border: round $primary;
        border-title-color: $text;
        padding: 0 1;
        height: auto;
    }
    OverviewView > .section {
        margin-top: 1;
        text-style: bold;
    }
    OverviewView > #overview-detail {
        border: round $secondary;
        margin-top: 1;
    }
    """

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data

    def compose(self) -> ComposeResult:
        summary = Static(summary_table(self.data), id="summary")
        summary.border_title = "Application"
        yield summary
        yield Label(_diagnoses_heading(self.data), id="diagnoses-heading", classes="section")
        diagnoses = self.data.diagnoses
        yield DiagnosisList(diagnoses, id="overview-diagnoses")
        detail = DiagnosisDetail(diagnoses[0] if diagnoses else None, id="overview-detail")
        detail.border_title = "Selected diagnosis (Enter: go to its stage or plan node)"
        yield detail
        yield Label("No findings: nothing in this log looks slow.", id="no-findings")

    def on_mount(self) -> None:
        self._show_or_hide()

    def _show_or_hide(self) -> None:
        found = bool(self.data.diagnoses)
        self.query_one("#overview-diagnoses").display = found
        self.query_one("#overview-detail").display = found
        self.query_one("#no-findings").display = not found

    async def show_data(self, data: DashboardData) -> None:
        """Show a newer model of the application (a live or replayed log); the highlighted diagnosis
        stays highlighted while it is still found."""
        self.data = data
        self.query_one("#summary", Static).update(summary_table(data))
        self.query_one("#diagnoses-heading", Label).update(_diagnoses_heading(data))
        listing = self.query_one("#overview-diagnoses", DiagnosisList)
        highlighted = listing.highlighted_diagnosis
        listing.set_diagnoses(data.diagnoses, keep=highlighted)
        self.query_one("#overview-detail", DiagnosisDetail).diagnosis = listing.highlighted_diagnosis
        self._show_or_hide()

    def on_diagnosis_list_highlighted(self, event: DiagnosisList.Highlighted) -> None:
        self.query_one("#overview-detail", DiagnosisDetail).diagnosis = event.diagnosis


def _diagnoses_heading(data: DashboardData) -> str:
    findings = len(data.findings)
    return f"Diagnoses: {findings} finding(s), {len(data.diagnoses) - findings} note(s)"
