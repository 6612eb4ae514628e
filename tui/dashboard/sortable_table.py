"""A DataTable whose columns sort by their raw values: click a header, or press ``s`` on a column.

Cells are ``SortCell`` values: they show formatted text ("1.5 MiB") but compare by the number
behind it, so sorting a size or a duration orders by magnitude, not alphabetically. Sorting the
same column again reverses the order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import DataTable


@dataclass(frozen=True, order=True)
class SortCell:
    """A table cell: ``text`` is shown, ``value`` orders it. Missing values (None) sort first.
    Within one column values are all numbers (or tuples of numbers), or all text."""

    key: tuple = field(init=False, repr=False)
    value: Any = field(compare=False)
    text: str = field(compare=False, default="")
    justify: str = field(compare=False, default="right")
    style: str = field(compare=False, default="")

    def __post_init__(self):
        v = self.value
        key = (0, 0) if v is None else ((1, v) if isinstance(v, (int, float, tuple)) else (2, str(v).lower()))
        object.__setattr__(self, "key", key)

    def __str__(self) -> str:
        return self.text

    def __rich__(self) -> Text:
        return Text(self.text, style=self.style, justify=self.justify, no_wrap=True, overflow="ellipsis")


class SortableTable(DataTable):
    """A row-cursor DataTable that sorts by a column and remembers how it is sorted.

    Reactive attributes:
        sort_column: the key of the column the rows are sorted by (None: the order they were added).
        sort_reverse: True when sorted in descending order.
    """

    DEFAULT_CSS = """
    SortableTable {
        height: 1fr;
    }
    """

    BINDINGS = [Binding("s", "sort_by_cursor_column", "Sort column")]

    sort_column: reactive[str | None] = reactive(None)
    sort_reverse: reactive[bool] = reactive(False)

    def __init__(self, **kwargs):
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by ``column``; with ``reverse`` None, sorting the current column again flips it."""
        if reverse is None:
            reverse = (not self.sort_reverse) if column == self.sort_column else False
        self.sort_column, self.sort_reverse = column, reverse
        self.sort(column, reverse=reverse)

    def replace_rows(self, rows: list[tuple[str, list[SortCell]]]) -> None:
        """Show ``rows`` (key, cells) instead of the current ones, keeping the sort order and the
        cursor on the same row when it is still there: a live log refreshes without losing your place."""
        current = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value if self.row_count else None
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        self.reapply_sort()
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current), animate=False)

    def reapply_sort(self) -> None:
        """Sort again after the rows were replaced (e.g. by a filter)."""
        if self.sort_column is not None:
            self.sort(self.sort_column, reverse=self.sort_reverse)

    def action_sort_by_cursor_column(self) -> None:
        """With a row cursor there is no current column, so ``s`` steps through the sort orders:
        the sorted column ascending, then descending, then the next column ascending."""
        keys = [k.value for k in self.columns]
        if not keys:
            return
        if self.cursor_type == "cell":
            self.sort_by(keys[self.cursor_column])
        elif self.sort_column not in keys:
            self.sort_by(keys[0], reverse=False)
        elif not self.sort_reverse:
            self.sort_by(self.sort_column, reverse=True)
        else:
            self.sort_by(keys[(keys.index(self.sort_column) + 1) % len(keys)], reverse=False)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column_key.value)
