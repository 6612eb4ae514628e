"""The help screen (``?``): every key binding of the dashboard, where it works, with a search box.

The list is read from the ``BINDINGS`` of the app, the screen it was opened from and every widget
on that screen, so it cannot drift from the real bindings. Mouse: click a tab of the footer, a
table header to sort, a row to select it; the wheel scrolls.
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label

KEY_NAMES = {"left_square_bracket": "[", "right_square_bracket": "]", "question_mark": "?", "slash": "/",
             "space": "space", "escape": "Esc", "enter": "Enter"}


def key_label(key: str) -> str:
    return ", ".join(KEY_NAMES.get(k, k) for k in key.split(","))


def _where(node: DOMNode, screen: Screen) -> str:
    return "everywhere" if node is screen or node is screen.app else type(node).__name__


def bindings_of(screen: Screen) -> list[tuple[str, str, str]]:
    """(key, what it does, where) for the app's, ``screen``'s and its widgets' bindings, once each."""
    seen: set[tuple[str, str, str]] = set()
    rows = []
    for node in [screen.app, screen, *screen.walk_children()]:
        for cls in type(node).__mro__:
            declared = cls.__dict__.get("BINDINGS")
            if not declared:
                continue
            for key, bindings in BindingsMap(declared).key_to_bindings.items():
                for binding in bindings:
                    row = (key_label(key), binding.description or binding.action.replace("_", " "),
                           _where(node, screen))
                    if row not in seen:
                        seen.add(row)
                        rows.append(row)
    return rows


class HelpScreen(ModalScreen[None]):
    """Every key binding; type to search them (key, action or place), Esc or ? to close."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 90%;
        max-width: 100;
        height: 90%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title {
        text-style: bold;
        width: 100%;
    }
    HelpScreen #help-table {
        height: 1fr;
    }
    """

    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("question_mark", "dismiss", "Close")]

    def __init__(self, behind: Screen):
        super().__init__()
        self.rows = bindings_of(behind)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Keys: type to search, Esc closes. Mouse: click keys in the footer, table headers "
                        "(sort) and rows.", id="help-title")
            yield Input(placeholder="search bindings", id="help-search")
            table = DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            table.add_column("Key", width=12)
            table.add_column("Does", width=28)
            table.add_column("Where")
            yield table

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#help-search", Input).focus()

    def _fill(self, needle: str) -> None:
        table = self.query_one("#help-table", DataTable)
        table.clear()
        needle = needle.strip().lower()
        for row in self.rows:
            if not needle or any(needle in cell.lower() for cell in row):
                table.add_row(*row)

    @on(Input.Changed, "#help-search")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_dismiss(self) -> None:
        self.dismiss(None)
