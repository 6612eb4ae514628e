"""``ember replay LOG --speed N``: a finished log played back in its own time, N times faster, with
the dashboard showing the application as it was at each moment.

    $ ember replay ember-events/eventlog_v2_local-1795266991484 --speed 5

Keys: space pauses and resumes, ``n`` steps to the next event (and pauses), ← and → move the
replay back and forward by a fortieth of the log's duration. The bar at the bottom shows where the
replay is. Every view works as in ``ember ui``; the model behind them is built from the events up
to the replay's moment (``diag.replay.LogReplay``), in a worker thread.
"""
from __future__ import annotations

import os

from rich.console import RenderableType
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Footer, Input

from diag.replay import LogReplay
from diag.report import ApplicationReport
from tui.dashboard.format import duration
from tui.dashboard.screens import INCOMPLETE, DashboardScreen, ErrorScreen, loading_layout

TICK_S = 0.1  # how often the replay clock advances (wall-clock seconds)
SCRUB_STEPS = 40  # ← and → move by the log's duration over this


class ReplayBar(Widget):
    """Where the replay is: play state, time into the application, speed, a progress bar, and the
    number of events shown.

    Reactive attributes:
        position_ms: time since the log's first event that the dashboard shows.
        total_ms: the log's duration, first event to last.
        events, total_events: the events the shown model was built from, and all of them.
        paused: the replay clock is stopped.
        speed: log milliseconds per wall-clock millisecond.
    """

    DEFAULT_CSS = """
    ReplayBar {
        height: 1;
        background: $boost;
        padding: 0 1;
    }
    ReplayBar > .replay-bar--done {
        color: $accent;
    }
    """

    COMPONENT_CLASSES = {"replay-bar--done"}

    position_ms: reactive[float] = reactive(0.0)
    total_ms: reactive[float] = reactive(0.0)
    events: reactive[int] = reactive(0)
    total_events: reactive[int] = reactive(0)
    paused: reactive[bool] = reactive(False)
    speed: reactive[float] = reactive(1.0)

    def render(self) -> RenderableType:
        state = Text("❚❚ paused " if self.paused else "▶ playing ", style="bold")
        clock = f" {duration(self.position_ms)} / {duration(self.total_ms)}  ×{self.speed:g}  "
        counts = f"  event {self.events}/{self.total_events}  space pause · n next event · ←/→ step"
        width = max(10, self.size.width - len(state) - len(clock) - len(counts))
        done = round(width * self.position_ms / self.total_ms) if self.total_ms else width
        return Text.assemble(state, clock, ("█" * done, self.get_component_rich_style("replay-bar--done")),
                             ("░" * (width - done), "dim"), counts, no_wrap=True, overflow="crop")


class ReplayScreen(DashboardScreen):
    """The dashboard of a log being replayed, with the replay bar and its keys."""

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/play"),
        Binding("n", "next_event", "Next event"),
        # priority: the tables would take the arrows for their own cursor (see check_action)
        Binding("left", "scrub(-1)", "Step back", priority=True),
        Binding("right", "scrub(1)", "Step forward", priority=True),
    ]

    def __init__(self, replay: LogReplay, report: ApplicationReport, speed: float):
        super().__init__(report)
        self.replay = replay
        self.speed = speed
        self.position_ms = 0.0
        self.shown = report.events_read  # the events the views show
        self.target = self.shown  # the events the replay's moment holds
        self._computing = False

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, Footer):  # the bar goes right above the footer
                yield self._replay_bar()
            yield widget

    def _replay_bar(self) -> ReplayBar:
        bar = ReplayBar(id="replay-bar")
        bar.total_ms = self.replay.end - self.replay.start
        bar.total_events = len(self.replay.events)
        bar.speed = self.speed
        bar.events = self.shown
        return bar

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(TICK_S, self._tick)

    def banner_lines(self) -> list[str]:
        return [line for line in super().banner_lines() if line != INCOMPLETE]  # the bar says where we are

    @property
    def bar(self) -> ReplayBar:
        return self.query_one(ReplayBar)

    def _tick(self) -> None:
        bar = self.bar
        if not bar.paused:
            self.seek(self.position_ms + TICK_S * 1000 * self.speed)
            if self.position_ms >= bar.total_ms:
                bar.paused = True

    def seek(self, position_ms: float, events: int | None = None) -> None:
        """Move the replay to ``position_ms`` into the log (and to ``events`` events, when given:
        stepping one event at a time among events stamped with the same millisecond)."""
        total = self.bar.total_ms
        self.position_ms = max(0.0, min(float(total), position_ms))
        self.target = events if events is not None else self.replay.events_until(self.replay.start + self.position_ms)
        self.bar.position_ms = self.position_ms
        self._catch_up()

    def _catch_up(self) -> None:
        if self.target != self.shown and not self._computing:
            self._computing = True
            self._build(self.target)

    @work(thread=True, group="replay", exit_on_error=False)
    def _build(self, count: int) -> None:
        """The model of the first ``count`` events, off the event loop."""
        report = self.replay.report_at(count)
        self.app.call_from_thread(self._show, report, count)

    async def _show(self, report: ApplicationReport, count: int) -> None:
        await self.update_report(report)
        self.shown = count
        self.bar.events = count
        self._computing = False
        self._catch_up()  # the clock may have moved on meanwhile

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "scrub" and isinstance(self.focused, Input):
            return False  # let the filter box have its arrows
        return super().check_action(action, parameters)

    def action_toggle_pause(self) -> None:
        bar = self.bar
        if bar.paused and self.position_ms >= bar.total_ms:
            self.seek(0)  # at the end: play again from the start
        bar.paused = not bar.paused

    def action_next_event(self) -> None:
        self.bar.paused = True
        count = min(self.target + 1, len(self.replay.events))
        self.seek(self.replay.time_of(count) - self.replay.start, events=count)

    def action_scrub(self, direction: int) -> None:
        self.seek(self.position_ms + direction * self.bar.total_ms / SCRUB_STEPS)


class ReplayApp(App[None]):
    """``ember replay``: reads the log in a worker, then replays it at ``speed``."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "Ember replay"
    BINDINGS = [Binding("q", "quit", "Quit")]
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, path: str | os.PathLike, speed: float = 1.0, config: dict | None = None):
        super().__init__()
        if speed <= 0:
            raise ValueError(f"--speed must be above 0, got {speed}")
        self.path, self.speed, self.config = str(path), speed, config
        self.failed = False

    def compose(self) -> ComposeResult:
        yield from loading_layout(self.path)

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        try:
            replay = LogReplay(self.path, self.config)
            report = replay.report_at(replay.events_until(replay.start))
        except Exception as e:  # not a log, several logs, unreadable: a message, not a traceback
            self.call_from_thread(self._failed, str(e) or type(e).__name__)
        else:
            self.call_from_thread(self.push_screen, ReplayScreen(replay, report, self.speed))

    def _failed(self, message: str) -> None:
        self.failed = True
        self.push_screen(ErrorScreen(self.path, message))

    def action_quit(self) -> None:
        self.exit(return_code=1 if self.failed else 0)


def run_replay(path: str, speed: float) -> int:
    """Replay the log at ``path`` until the user quits; 1 when it could not be read."""
    app = ReplayApp(path, speed)
    app.run()
    return app.return_code or 0
