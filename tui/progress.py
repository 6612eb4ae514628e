"""ConsoleProgress: Spark's console progress bar, drawn with rich, one bar per running stage.

``ember run`` installs it through ``spark.extraListeners``; it reads only listener events.
"""
from __future__ import annotations

import sys
import threading

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.scheduler import events as ev


class ConsoleProgress:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(file=sys.stderr)
        self.progress = Progress(
            TextColumn("[bold]Stage {task.fields[stage]}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._bars: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()
        self._started = False

    def on_event(self, event) -> None:
        with self._lock:
            if isinstance(event, ev.SparkListenerStageSubmitted):
                if not self._started:
                    self.progress.start()
                    self._started = True
                info = event.stage_info
                key = (info.stage_id, info.attempt_id)
                self._bars[key] = self.progress.add_task(info.name, total=info.num_tasks, stage=
                                                         f"{info.stage_id}.{info.attempt_id}")
            elif isinstance(event, ev.SparkListenerTaskEnd):
                bar = self._bars.get((event.stage_id, event.stage_attempt_id))
                if bar is not None and event.reason.reason == "Success":
                    self.progress.advance(bar)
            elif isinstance(event, ev.SparkListenerStageCompleted):
                bar = self._bars.pop((event.stage_info.stage_id, event.stage_info.attempt_id), None)
                if bar is not None:
                    self.progress.remove_task(bar)
            elif isinstance(event, ev.SparkListenerApplicationEnd) and self._started:
                self.progress.stop()
                self._started = False
