"""A horizontal bar chart of task durations: how many tasks took how long.

    TaskHistogram(values=[40, 22, 32, 427], bins=8)

       22 ms –   73 ms  ███████████████████ 3
      ...
      376 ms –  427 ms  ██████ 1

One straggler stands out as a lone bar far from the others, which is what skew looks like.
"""
from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.dashboard.format import duration


def bin_counts(values: list[float], bins: int) -> list[tuple[float, float, int]]:
    """(low, high, count) for ``bins`` equal-width bins between the smallest and largest value."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [(low, high, len(values))]
    bins = max(1, min(bins, len(values)))
    width = (high - low) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / width))] += 1
    return [(low + i * width, low + (i + 1) * width, c) for i, c in enumerate(counts)]


class TaskHistogram(Widget):
    """Task durations in equal-width bins, one bar per bin.

    Reactive attributes:
        values: the durations to chart, in milliseconds.
        bins: the most bins to draw (fewer when there are fewer values).
    """

    DEFAULT_CSS = """
    TaskHistogram {
        height: auto;
        padding: 0 1;
    }
    TaskHistogram > .task-histogram--bar {
        color: $accent;
    }
    """

    COMPONENT_CLASSES = {"task-histogram--bar"}

    values: reactive[list[float]] = reactive(list, layout=True)
    bins: reactive[int] = reactive(10, layout=True)

    def __init__(self, values: list[float] | None = None, bins: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.set_reactive(TaskHistogram.bins, bins)
        if values is not None:
            self.set_reactive(TaskHistogram.values, list(values))

    def _counts(self) -> list[tuple[float, float, int]]:
        """``bin_counts`` of the current values, computed once per values (layout asks often)."""
        key = (id(self.values), len(self.values), self.bins)
        if getattr(self, "_counted", (None,))[0] != key:
            self._counted = (key, bin_counts(self.values, self.bins))
        return self._counted[1]

    def render(self) -> RenderableType:
        counts = self._counts()
        if not counts:
            return Text("No finished tasks.", style="dim")
        bar_style = self.get_component_rich_style("task-histogram--bar")
        most = max(c for _, _, c in counts)
        width = max(10, (self.size.width or 60) - 32)
        table = Table.grid(padding=(0, 1))
        table.add_column(justify="right", no_wrap=True)
        table.add_column(no_wrap=True)
        for low, high, count in counts:
            bar = "█" * max(1 if count else 0, round(width * count / most))
            table.add_row(f"{duration(low)} – {duration(high)}",
                          Text.assemble((bar, bar_style), f" {count}"))
        return table

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, len(self._counts()))
