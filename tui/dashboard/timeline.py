"""The executor timeline: one lane per task slot of every executor, each task a bar over time.

    driver  #0 │███████▓▓▓▓▓▓··········██████████████████████████████│ 81%
    driver  #1 │██████▓▓▓▓▓▓▓·································│ 24%

Skew looks like one long bar with idle dots beside it on the other lanes; idle cores look like
dots. Tasks are placed in lanes as a scheduler fills slots: each task goes to the first slot of
its executor that is free when it launches (an executor gets at least as many lanes as it has
cores, more when the log shows more tasks at once). Bars are coloured by stage (a legend names
them) or by status (``c`` switches); adjacent tasks alternate █ and ▓ so their boundary shows.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from functools import cached_property
from itertools import groupby

import pyarrow.compute as pc
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from tui.dashboard.data import DashboardData
from tui.dashboard.format import duration

STAGE_COLOURS = ("dodger_blue1", "orange1", "green3", "magenta", "cyan", "gold1", "medium_purple1", "salmon1")
STATUS_COLOURS = {"Success": "green3", "TaskKilled": "yellow"}  # any other end reason is a failure
FAILED_COLOUR = "red1"
LABEL_WIDTH = 13
BUSY_WIDTH = 6
IDLE = "·"


@dataclass(frozen=True)
class TaskBar:
    start: int
    end: int
    stage_id: int
    end_reason: str


@dataclass(frozen=True)
class Lane:
    executor_id: str
    slot: int
    bars: tuple[TaskBar, ...]


def task_lanes(data: DashboardData) -> list[Lane]:
    """Every task in a lane of its executor: the first slot free at its launch (by launch time)."""
    tasks = data.model.tasks.select(["executor_id", "launch_time", "finish_time", "stage_id", "end_reason"])
    tasks = tasks.filter(pc.greater(tasks["finish_time"], 0)).sort_by([("launch_time", "ascending")])
    cores = {r["executor_id"]: r["cores"] or 1 for r in data.model.executors.to_pylist()}
    free: dict[str, list[tuple[int, int]]] = {}  # executor -> heap of (free from, slot)
    bars: dict[tuple[str, int], list[TaskBar]] = {}
    columns = [tasks[c].to_pylist() for c in tasks.column_names]
    for executor, start, end, stage_id, reason in zip(*columns):
        executor = executor or "?"
        heap = free.get(executor)
        if heap is None:
            heap = free[executor] = [(0, slot) for slot in range(cores.get(executor, 1))]
        if heap[0][0] <= start:
            _, slot = heapq.heappop(heap)
        else:
            slot = len(heap)  # more tasks at once than cores: one more lane
        heapq.heappush(heap, (end, slot))
        bars.setdefault((executor, slot), []).append(TaskBar(start, end, stage_id, reason or "Success"))
    lanes = [Lane(executor, slot, tuple(bars.get((executor, slot), ())))
             for executor, heap in free.items() for slot in range(len(heap))]
    return sorted(lanes, key=lambda lane: (_executor_order(lane.executor_id), lane.slot))


def _executor_order(executor_id: str) -> tuple:
    return (0, 0, "") if executor_id == "driver" else (1, int(executor_id), "") if executor_id.isdigit() \
        else (2, 0, executor_id)


def stage_colour(stage_id: int) -> str:
    return STAGE_COLOURS[stage_id % len(STAGE_COLOURS)]


def status_colour(end_reason: str) -> str:
    return STATUS_COLOURS.get(end_reason, FAILED_COLOUR)


class TaskTimeline(ScrollView, can_focus=True):
    """The lanes, drawn to the widget's width: the application's span split into equal cells. Only
    the lanes on screen are drawn (Textual's line API), so thousands of lanes scroll smoothly.

    Reactive attributes:
        colour_by: "stage" or "status", what the bars' colours say.
    """

    DEFAULT_CSS = """
    TaskTimeline {
        height: 1fr;
    }
    """

    colour_by: reactive[str] = reactive("stage")

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data
        self._lines: LRUCache[tuple, Strip] = LRUCache(1024)

    @cached_property
    def lanes(self) -> list[Lane]:
        return task_lanes(self.data)

    @cached_property
    def span(self) -> tuple[int, int]:
        """First launch to last finish (the application's start when known)."""
        starts = [lane.bars[0].start for lane in self.lanes if lane.bars]
        ends = [lane.bars[-1].end for lane in self.lanes if lane.bars]
        if not starts:
            return 0, 1
        app_start = self.data.model.application.get("start")
        first = min(starts) if app_start is None else min(app_start, min(starts))
        return first, max(max(ends), first + 1)

    def on_show(self) -> None:
        self._resize()

    def on_resize(self) -> None:
        self._resize()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.lanes) + 1)

    def watch_colour_by(self) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        row = y + self.scroll_offset.y
        width = self.size.width
        key = (row, width, self.colour_by)
        line = self._lines.get(key)
        if line is None:
            segments = self.line_text(row, width).render(self.app.console)
            line = self._lines[key] = Strip(list(Segment.apply_style(segments, self.rich_style)))
        return line.crop_extend(0, width, self.rich_style)

    def line_text(self, row: int, width: int) -> Text:
        """Row 0 is the time axis; row ``i`` the lane ``i - 1``."""
        if not self.lanes:
            return Text("No finished tasks yet." if row == 0 else "", style="dim")
        cells_width = max(10, width - LABEL_WIDTH - BUSY_WIDTH - 2)
        first, last = self.span
        if row == 0:
            return _axis(first, last, cells_width)
        if row > len(self.lanes):
            return Text("")
        lane = self.lanes[row - 1]
        ms_per_cell = (last - first) / cells_width
        cells: list[tuple[str, str]] = [(IDLE, "dim")] * cells_width
        busy = 0
        for i, bar in enumerate(lane.bars):
            busy += bar.end - bar.start
            lo = min(cells_width - 1, int((bar.start - first) / ms_per_cell))
            hi = max(lo + 1, min(cells_width, round((bar.end - first) / ms_per_cell)))
            colour = stage_colour(bar.stage_id) if self.colour_by == "stage" else status_colour(bar.end_reason)
            cells[lo:hi] = [("█" if i % 2 == 0 else "▓", colour)] * (hi - lo)
        out = Text(no_wrap=True, overflow="crop")
        out.append(f"{lane.executor_id[:8]:>8} #{lane.slot:<3}", style="bold" if lane.slot == 0 else "")
        out.append("│", style="dim")
        for (char, style), run in groupby(cells):
            out.append(char * len(list(run)), style=style)
        out.append("│", style="dim")
        out.append(f"{100 * busy / (last - first):4.0f}%")
        return out

    def render_text(self) -> Text:
        """Every line, as text (for tests and for copying)."""
        width = self.size.width
        return Text("\n").join(self.line_text(row, width) for row in range(len(self.lanes) + 1))


def _axis(first: int, last: int, width: int) -> Text:
    """"0 ms" under the first cell, the midpoint and the span at the last, as offsets from the start."""
    line = [" "] * width
    for fraction in (0.0, 0.5, 1.0):
        label = duration((last - first) * fraction)
        at = min(width - len(label), max(0, round(fraction * (width - 1)) - (len(label) // 2 if fraction else 0)))
        line[at:at + len(label)] = label
    return Text(" " * (LABEL_WIDTH + 1) + "".join(line), style="dim")


class TimelineView(Vertical):
    """The executor timeline with its legend; ``c`` colours bars by stage or by task status."""

    DEFAULT_CSS = """
    TimelineView {
        padding: 0 1;
    }
    TimelineView > #timeline-legend {
        margin-bottom: 1;
    }
    """

    BINDINGS = [Binding("c", "toggle_colours", "Colour by stage/status")]

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-legend")
        yield TaskTimeline(self.data, id="task-timeline")

    def on_show(self) -> None:
        # lanes are placed when the view is first shown, not when the dashboard opens
        self._update_legend()

    def _update_legend(self) -> None:
        self.query_one("#timeline-legend", Static).update(self._legend(self.query_one(TaskTimeline)))

    def _legend(self, timeline: TaskTimeline) -> Text:
        lanes = timeline.lanes
        legend = Text.assemble(("Executor timeline", "bold"),
                               f"  {len({lane.executor_id for lane in lanes})} executor(s), {len(lanes)} lane(s)  ",
                               (f"{IDLE} idle", "dim"), "   ")
        if timeline.colour_by == "stage":
            stages = sorted({bar.stage_id for lane in lanes for bar in lane.bars})
            for stage_id in stages[:24]:
                legend.append("█", style=stage_colour(stage_id))
                legend.append(f" stage {stage_id}  ")
            if len(stages) > 24:
                legend.append(f"… {len(stages) - 24} more")
        else:
            for label, colour in (("succeeded", "green3"), ("killed", "yellow"), ("failed", FAILED_COLOUR)):
                legend.append("█", style=colour)
                legend.append(f" {label}  ")
        legend.append("  (c: colour by stage/status)", style="dim")
        return legend

    def action_toggle_colours(self) -> None:
        timeline = self.query_one(TaskTimeline)
        timeline.colour_by = "status" if timeline.colour_by == "stage" else "stage"
        self._update_legend()

    async def show_data(self, data: DashboardData) -> None:
        """Show a newer model of the application (a live or replayed log), in the same colours."""
        colour_by = self.query_one(TaskTimeline).colour_by
        self.data = data
        await self.recompose()
        self.query_one(TaskTimeline).colour_by = colour_by
        if self.display:
            self._update_legend()
            self.query_one(TaskTimeline).on_show()
