"""The stages table, one row per stage attempt, with a substring filter (``/``).

Enter on a row posts ``StagesView.StageSelected``; the dashboard opens that stage's detail.
"""
from __future__ import annotations

from textual import on
from textual.message import Message
from textual.widgets import DataTable

from tui.dashboard.data import DashboardData
from tui.dashboard.filtered_table import FilteredTableView
from tui.dashboard.format import duration, size
from tui.dashboard.sortable_table import SortCell

STAGE_COLUMNS = (("stage", "Stage"), ("name", "Name"), ("status", "Status"), ("tasks", "Tasks"),
                 ("failed", "Failed"), ("duration", "Duration"), ("input", "Input"),
                 ("shuffle_read", "Shuf. read"), ("shuffle_write", "Shuf. write"), ("spill", "Spill"),
                 ("skew", "Skew"))  # skew: the slowest task over the median task

SKEW_WARNING = 5.0  # as the skew detector's factor: a stage whose slowest task took 5x the median


def stage_key(stage_id: int, attempt: int) -> str:
    return f"{stage_id}.{attempt}"


def failed_cell(row: dict) -> SortCell:
    return SortCell(row["failed"], str(row["failed"]), style="bold red" if row["failed"] else "")


def io_cells(row: dict) -> list[SortCell]:
    """Input, shuffle read, shuffle write, spill and skew: the columns jobs and stages share."""
    skew = row["skew"]
    return [
        SortCell(row["input_bytes"], size(row["input_bytes"])),
        SortCell(row["shuffle_read_bytes"], size(row["shuffle_read_bytes"])),
        SortCell(row["shuffle_write_bytes"], size(row["shuffle_write_bytes"])),
        SortCell(row["spill_bytes"], size(row["spill_bytes"]), style="yellow" if row["spill_bytes"] else ""),
        SortCell(skew, "-" if skew is None else f"{skew:.1f}x",
                 style="bold red" if skew is not None and skew >= SKEW_WARNING else ""),
    ]


def stage_cells(row: dict) -> list[SortCell]:
    return [
        SortCell((row["stage_id"], row["attempt"]),
                 f"{row['stage_id']}.{row['attempt']}" if row["attempt"] else str(row["stage_id"])),
        SortCell(row["name"], row["name"], justify="left"),
        SortCell(row["status"], row["status"], justify="left",
                 style={"failed": "bold red", "skipped": "dim", "pending": "dim italic",
                        "active": "yellow"}.get(row["status"], "")),
        SortCell(row["tasks"], f"{row['tasks']}/{row['num_tasks']}"),
        failed_cell(row),
        SortCell(row["duration_ms"], duration(row["duration_ms"])),
        *io_cells(row),
    ]


class StagesView(FilteredTableView):
    """Every stage attempt; type after ``/`` to keep only the rows that contain the text."""

    TABLE_ID, FILTER_ID = "stages-table", "stages-filter"
    PLACEHOLDER = "/ filter stages by any text (name, status, id…)"
    COLUMNS = tuple((key, label, 24 if key == "name" else None) for key, label in STAGE_COLUMNS)

    class StageSelected(Message):
        def __init__(self, stage_id: int, attempt: int) -> None:
            super().__init__()
            self.stage_id, self.attempt = stage_id, attempt

    def rows(self, data: DashboardData) -> list[tuple[str, list[SortCell]]]:
        return [(stage_key(row["stage_id"], row["attempt"]), stage_cells(row)) for row in data.stage_rows]

    @on(DataTable.RowSelected, "#stages-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        stage_id, attempt = map(int, event.row_key.value.split("."))
        self.post_message(self.StageSelected(stage_id, attempt))
