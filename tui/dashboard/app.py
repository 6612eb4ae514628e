"""The Ember dashboard: ``EmberApp(path)`` reads the event log(s) at ``path`` in a worker thread and
opens one application's dashboard (or a picker first, when there are several).

    $ ember ui ember-events/eventlog_v2_local-1795266991484

Nothing the reader says becomes a traceback: a path that is not an event log, or does not exist,
opens an error screen with the reader's message, and ``run_dashboard`` returns 1.
"""
from __future__ import annotations

import os

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Header, Label, LoadingIndicator

from diag.analyze import analyze
from diag.report import ApplicationReport
from tui.dashboard.screens import DashboardScreen, ErrorScreen, PickerScreen


class EmberApp(App[None]):
    """The dashboard for the event log(s) at ``path``.

    Reactive attributes:
        load_error: the reader's message when nothing could be read (None otherwise).
    """

    CSS_PATH = "dashboard.tcss"
    TITLE = "Ember"
    BINDINGS = [Binding("q", "quit", "Quit")]
    ENABLE_COMMAND_PALETTE = False

    load_error: reactive[str | None] = reactive(None)

    def __init__(self, path: str | os.PathLike, config: dict | None = None):
        super().__init__()
        self.path = str(path)
        self.config = config
        self.reports: list[ApplicationReport] = []
        self.load_errors: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="loading"):
            yield Label(f"Reading {self.path} …", id="loading-label")
            yield LoadingIndicator()
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        """Read and diagnose the log(s) off the event loop."""
        try:
            reports, errors = analyze(self.path, self.config)
        except Exception as e:  # AnalysisError, or a reader bug: either way a message, not a traceback
            self.call_from_thread(self._failed, str(e) or type(e).__name__)
        else:
            self.call_from_thread(self._loaded, reports, errors)

    def _failed(self, message: str) -> None:
        self.load_error = message
        self.push_screen(ErrorScreen(self.path, message))

    def _loaded(self, reports: list[ApplicationReport], errors: list[str]) -> None:
        self.reports, self.load_errors = reports, errors
        if len(reports) == 1:
            self.push_screen(DashboardScreen(reports[0], errors))
        else:
            self.push_screen(PickerScreen(self.path, reports, errors))

    def action_quit(self) -> None:
        self.exit(return_code=1 if self.load_error else 0)


def run_dashboard(path: str) -> int:
    """Run the dashboard on ``path`` (a log file or a directory) until the user quits; the exit code
    is 0, or 1 when nothing could be read there."""
    app = EmberApp(path)
    app.run()
    return app.return_code or 0
