"""The stages table, one row per stage attempt, with a substring filter (``/``).

Enter on a row posts ``StagesView.StageSelected``; the dashboard opens that stage's detail.
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input

from tui.dashboard.data import DashboardData
from tui.dashboard.format import duration, size
from tui.dashboard.sortable_table import SortableTable, SortCell

STAGE_COLUMNS = (("stage", "Stage"), ("name", "Name"), ("status", "Status"), ("tasks", "Tasks"),
                 ("failed", "Failed"), ("duration", "Duration"), ("input", "Input"),
                 ("shuffle_read", "Shuf. read"), ("shuffle_write", "Shuf. write"), ("spill", "Spill"),
                 ("skew", "Skew"))  # skew: the slowest task over the median task

SKEW_WARNING = 5.0  # as the skew detector's factor: a stage whose slowest task took 5x the median


def stage_key(stage_id: int, attempt: int) -> str:
    return f"{stage_id}.{attempt}"


def stage_cells(row: dict) -> list[SortCell]:
    skew = row["skew"]
    return [
        SortCell((row["stage_id"], row["attempt"]),
                 f"{row['stage_id']}.{row['attempt']}" if row["attempt"] else str(row["stage_id"])),
        SortCell(row["name"], row["name"], justify="left"),
        SortCell(row["status"], row["status"], justify="left",
                 style={"failed": "bold red", "skipped": "dim", "pending": "dim italic",
                        "active": "yellow"}.get(row["status"], "")),
        SortCell(row["tasks"], f"{row['tasks']}/{row['num_tasks']}"),
        SortCell(row["failed"], str(row["failed"]), style="bold red" if row["failed"] else ""),
        SortCell(row["duration_ms"], duration(row["duration_ms"])),
        SortCell(row["input_bytes"], size(row["input_bytes"])),
        SortCell(row["shuffle_read_bytes"], size(row["shuffle_read_bytes"])),
        SortCell(row["shuffle_write_bytes"], size(row["shuffle_write_bytes"])),
        SortCell(row["spill_bytes"], size(row["spill_bytes"]), style="yellow" if row["spill_bytes"] else ""),
        SortCell(skew, "-" if skew is None else f"{skew:.1f}x",
                 style="bold red" if skew is not None and skew >= SKEW_WARNING else ""),
    ]


class StagesView(Vertical):
    """Every stage attempt; type after ``/`` to keep only the rows that contain the text.

    Reactive attributes:
        filter_text: the substring rows must contain (any column, case-insensitive).
    """

    DEFAULT_CSS = """
    StagesView {
        padding: 0 1;
    }
    StagesView > #stages-filter {
        dock: top;
        margin-bottom: 1;
    }
    """

    BINDINGS = [Binding("slash", "focus_filter", "Filter")]

    filter_text: reactive[str] = reactive("")

    class StageSelected(Message):
        def __init__(self, stage_id: int, attempt: int) -> None:
            super().__init__()
            self.stage_id, self.attempt = stage_id, attempt

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data
        self._rows = [(row, stage_cells(row)) for row in data.stage_rows]

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter stages by any text (name, status, id…)", id="stages-filter")
        table = SortableTable(id="stages-table")
        for key, label in STAGE_COLUMNS:
            table.add_column(label, key=key, width=24 if key == "name" else None)
        yield table

    def on_mount(self) -> None:
        self._fill()

    async def show_data(self, data: DashboardData) -> None:
        """Show a newer model of the application (a live or replayed log), keeping filter, sort and cursor."""
        self.data = data
        self._rows = [(row, stage_cells(row)) for row in data.stage_rows]
        self._fill()

    def _fill(self) -> None:
        needle = self.filter_text.strip().lower()
        self.query_one("#stages-table", SortableTable).replace_rows([
            (stage_key(row["stage_id"], row["attempt"]), cells) for row, cells in self._rows
            if not needle or any(needle in c.text.lower() for c in cells)])

    def watch_filter_text(self) -> None:
        if self.is_mounted:
            self._fill()

    def action_focus_filter(self) -> None:
        self.query_one("#stages-filter", Input).focus()

    @on(Input.Changed, "#stages-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    @on(Input.Submitted, "#stages-filter")
    def _filter_done(self) -> None:
        self.query_one("#stages-table", SortableTable).focus()

    @on(DataTable.RowSelected, "#stages-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        stage_id, attempt = map(int, event.row_key.value.split("."))
        self.post_message(self.StageSelected(stage_id, attempt))
