"""The Ember dashboard: ``EmberApp(path)`` reads the event log(s) at ``path`` in a worker thread and
opens one application's dashboard (or a picker first, when there are several).

    $ ember ui ember-events/eventlog_v2_local-1795266991484

A log still being written (a ``.inprogress`` file, or a rolling directory whose status marker is
still ``.inprogress``) is followed live: every ``follow_interval`` seconds a worker thread reads
what was appended (``diag.follow.LogFollower``), re-runs the detectors, and the dashboard's views
show the new model, until the application ends.

Nothing the reader says becomes a traceback: a path that is not an event log, or does not exist,
opens an error screen with the reader's message, and ``run_dashboard`` returns 1.
"""
from __future__ import annotations

import os
import threading

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive

from diag.analyze import analyze
from diag.eventlog import discover
from diag.follow import LogFollower
from diag.report import ApplicationReport
from tui.dashboard.screens import DashboardScreen, ErrorScreen, PickerScreen, loading_layout


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

    FOLLOW_INTERVAL_S = 1.0

    def __init__(self, path: str | os.PathLike, config: dict | None = None,
                 follow_interval: float = FOLLOW_INTERVAL_S, reports: list[ApplicationReport] | None = None):
        """``reports``: the analyses of ``path`` when the caller has them already (nothing is read)."""
        super().__init__()
        self.path = str(path)
        self.config = config
        self.follow_interval = follow_interval
        self.given_reports = reports
        self.reports: list[ApplicationReport] = []
        self.load_errors: list[str] = []
        self.follower: LogFollower | None = None
        self._poll_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield from loading_layout(self.path)

    def on_mount(self) -> None:
        if self.given_reports:
            self._loaded(self.given_reports, [])
        else:
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        """Read and diagnose the log(s) off the event loop; follow a log still being written."""
        try:
            follower = _follower_for(self.path, self.config)
            if follower is not None:
                follower.poll()
                self.call_from_thread(self._following, follower, follower.report())
                return
            reports, errors = analyze(self.path, self.config)
        except Exception as e:  # AnalysisError, or a reader bug: either way a message, not a traceback
            self.call_from_thread(self._failed, str(e) or type(e).__name__)
        else:
            self.call_from_thread(self._loaded, reports, errors)

    def open_application(self, report: ApplicationReport, load_errors: list[str]) -> None:
        """The dashboard of one application chosen in the picker: followed live when its log is
        still being written."""
        if not report.complete and _follower_for(report.path, self.config) is not None:
            self.follow_log(report.path)
        else:
            self.push_screen(DashboardScreen(report, load_errors))

    @work(thread=True, exclusive=True, exit_on_error=False)
    def follow_log(self, path: str) -> None:
        """Start following one log (read all it holds so far) off the event loop."""
        try:
            follower = LogFollower(path, self.config)
            follower.poll()
        except Exception as e:  # unreadable since the picker listed it: a message, not a traceback
            self.call_from_thread(self.notify, f"Cannot follow {path}: {e}", severity="error", timeout=10)
        else:
            self.call_from_thread(self._following, follower, follower.report())

    def _following(self, follower: LogFollower, report: ApplicationReport) -> None:
        if self.follower is not None:  # the picker's previous choice
            self._follow_timer.stop()
        self.follower, self.reports = follower, [report]
        self.push_screen(DashboardScreen(report, live=True))
        self._follow_timer = self.set_interval(self.follow_interval, self.follow)

    @work(thread=True, group="follow", exit_on_error=False)
    def follow(self) -> None:
        """Read what the writer appended since the last poll; when there is something new (or the
        application has ended), analyse again and refresh the dashboard. A poll still running when
        the timer fires again (a burst of events to model) makes the new one return at once."""
        if not self._poll_lock.acquire(blocking=False):
            return
        try:
            follower = self.follower
            try:
                new_events = follower.poll()
            except Exception as e:  # the log vanished or turned unreadable: say so, keep what was shown
                self.call_from_thread(self.notify, f"Stopped following: {e}", severity="error", timeout=10)
                self.call_from_thread(self._stop_following, self.reports[0])
                return
            if follower.finished:
                self.call_from_thread(self._stop_following, follower.report())
                self.call_from_thread(self.notify, "The application ended." if follower.model.application_ended
                                      else "The writer closed the log before the application ended.", timeout=10)
            elif new_events:
                self.call_from_thread(self._refresh, follower.report(), True)
        finally:
            self._poll_lock.release()

    async def _refresh(self, report: ApplicationReport, live: bool) -> None:
        self.reports = [report]
        screen = next((s for s in self.screen_stack if isinstance(s, DashboardScreen)), None)
        if screen is not None:
            await screen.update_report(report, live=live)

    async def _stop_following(self, report: ApplicationReport) -> None:
        self._follow_timer.stop()
        await self._refresh(report, False)

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


def _follower_for(path: str, config: dict | None) -> LogFollower | None:
    """A follower when ``path`` is exactly one log and it is still being written, else None."""
    if not os.path.exists(path):
        return None
    sources = discover(path)
    if len(sources) == 1 and sources[0].in_progress:
        return LogFollower(sources[0].path, config)
    return None


def run_dashboard(path: str) -> int:
    """Run the dashboard on ``path`` (a log file or a directory) until the user quits; the exit code
    is 0, or 1 when nothing could be read there."""
    app = EmberApp(path)
    app.run()
    return app.return_code or 0
