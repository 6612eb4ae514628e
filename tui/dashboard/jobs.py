"""The jobs table: id, description, status, duration, stages run / skipped, tasks."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from tui.dashboard.data import DashboardData
from tui.dashboard.format import duration
from tui.dashboard.sortable_table import SortableTable, SortCell

STATUS_STYLE = {"succeeded": "green", "failed": "bold red", "running": "yellow", "unknown": "dim"}

JOB_COLUMNS = (("job", "Job"), ("description", "Description"), ("status", "Status"),
               ("duration", "Duration"), ("stages", "Stages (run/skipped)"), ("tasks", "Tasks"))


def job_cells(row: dict) -> list[SortCell]:
    return [
        SortCell(row["job_id"], str(row["job_id"])),
        SortCell(row["description"], row["description"], justify="left"),
        SortCell(row["status"], row["status"], justify="left", style=STATUS_STYLE.get(row["status"], "")),
        SortCell(row["duration_ms"], duration(row["duration_ms"])),
        SortCell(row["stages_run"], f"{row['stages_run']}/{row['stages_skipped']}"),
        SortCell(row["tasks"], str(row["tasks"])),
    ]


class JobsView(Vertical):
    """Every job of the application, sortable by any column."""

    DEFAULT_CSS = """
    JobsView {
        padding: 0 1;
    }
    """

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data

    def compose(self) -> ComposeResult:
        table = SortableTable(id="jobs-table")
        for key, label in JOB_COLUMNS:
            table.add_column(label, key=key)
        for row in self.data.job_rows:
            table.add_row(*job_cells(row), key=str(row["job_id"]))
        yield table

    async def show_data(self, data: DashboardData) -> None:
        """Show a newer model of the application (a live or replayed log), keeping sort and cursor."""
        self.data = data
        self.query_one("#jobs-table", SortableTable).replace_rows(
            [(str(row["job_id"]), job_cells(row)) for row in data.job_rows])
