"""A sortable table with a substring filter above it (``/``): what the jobs and stages views share.

A subclass names its table and filter (``TABLE_ID``, ``FILTER_ID``, ``PLACEHOLDER``), its columns
(``COLUMNS``: key, label, width or None) and how a model becomes rows (``rows(data)``: row key and
cells). Rows are kept when any cell's text contains the filter, case-insensitively; a newer model
(live or replayed log) keeps the filter, the sort and the cursor.
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input

from tui.dashboard.data import DashboardData
from tui.dashboard.sortable_table import SortableTable, SortCell


class FilteredTableView(Vertical):
    """Reactive attributes:
        filter_text: the substring rows must contain (any column, case-insensitive).
    """

    DEFAULT_CSS = """
    FilteredTableView {
        padding: 0 1;
    }
    FilteredTableView > .table-filter {
        dock: top;
        margin-bottom: 1;
    }
    """

    TABLE_ID = ""
    FILTER_ID = ""
    PLACEHOLDER = ""
    COLUMNS: tuple[tuple[str, str, int | None], ...] = ()

    BINDINGS = [Binding("slash", "focus_filter", "Filter")]

    filter_text: reactive[str] = reactive("")

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data
        self._rows = self.rows(data)

    def rows(self, data: DashboardData) -> list[tuple[str, list[SortCell]]]:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self.PLACEHOLDER, id=self.FILTER_ID, classes="table-filter")
        table = SortableTable(id=self.TABLE_ID)
        for key, label, width in self.COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table

    def on_mount(self) -> None:
        self._fill()

    async def show_data(self, data: DashboardData) -> None:
        """Show a newer model of the application (a live or replayed log), keeping filter, sort and cursor."""
        self.data = data
        self._rows = self.rows(data)
        self._fill()

    @property
    def table(self) -> SortableTable:
        return self.query_one(f"#{self.TABLE_ID}", SortableTable)

    def _fill(self) -> None:
        needle = self.filter_text.strip().lower()
        self.table.replace_rows([(key, cells) for key, cells in self._rows
                                 if not needle or any(needle in c.text.lower() for c in cells)])

    def watch_filter_text(self) -> None:
        if self.is_mounted:
            self._fill()

    def action_focus_filter(self) -> None:
        self.query_one(f"#{self.FILTER_ID}", Input).focus()

    @on(Input.Changed, ".table-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    @on(Input.Submitted, ".table-filter")
    def _filter_done(self) -> None:
        self.table.focus()
