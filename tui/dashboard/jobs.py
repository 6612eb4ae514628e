"""The jobs table: id, description, status, duration, stages run / skipped ("4/1"), and what its stages did
(tasks, failed tasks, input, shuffle read and write, spill, worst skew), with a filter (``/``)."""
from __future__ import annotations

from tui.dashboard.data import DashboardData
from tui.dashboard.filtered_table import FilteredTableView
from tui.dashboard.format import duration
from tui.dashboard.sortable_table import SortCell
from tui.dashboard.stages import failed_cell, io_cells

STATUS_STYLE = {"succeeded": "green", "failed": "bold red", "running": "yellow", "unknown": "dim"}

JOB_COLUMNS = (("job", "Job"), ("description", "Description"), ("status", "Status"),
               ("duration", "Duration"), ("stages", "Stages"), ("tasks", "Tasks"),
               ("failed", "Failed"), ("input", "Input"), ("shuffle_read", "Shuf. read"),
               ("shuffle_write", "Shuf. write"), ("spill", "Spill"), ("skew", "Skew"))


def job_cells(row: dict) -> list[SortCell]:
    return [
        SortCell(row["job_id"], str(row["job_id"])),
        SortCell(row["description"], row["description"], justify="left"),
        SortCell(row["status"], row["status"], justify="left", style=STATUS_STYLE.get(row["status"], "")),
        SortCell(row["duration_ms"], duration(row["duration_ms"])),
        SortCell(row["stages_run"], f"{row['stages_run']}/{row['stages_skipped']}"),
        SortCell(row["tasks"], str(row["tasks"])),
        failed_cell(row),
        *io_cells(row),
    ]


class JobsView(FilteredTableView):
    """Every job of the application, sortable by any column; type after ``/`` to filter."""

    TABLE_ID, FILTER_ID = "jobs-table", "jobs-filter"
    PLACEHOLDER = "/ filter jobs by any text (description, status, id…)"
    COLUMNS = tuple((key, label, 20 if key == "description" else None) for key, label in JOB_COLUMNS)

    def rows(self, data: DashboardData) -> list[tuple[str, list[SortCell]]]:
        return [(str(row["job_id"]), job_cells(row)) for row in data.job_rows]
