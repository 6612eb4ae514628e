"""A finished log replayed in its own time: every event with the moment it happened, and the
application as it was at any moment (the model of the events up to then, diagnosed).

    replay = LogReplay("ember-events/eventlog_v2_local-1795266991484")
    n = replay.events_until(replay.start + 5_000)   # the events of the first 5 seconds
    report = replay.report_at(n)                    # the application 5 s after it started

Events are read once (TaskEnds as lean records) and kept in memory. Moving forward feeds the new
events to the same ``IncrementalModel``; moving back builds the model again from the first event,
which costs one pass over the events before that moment.
"""
from __future__ import annotations

import bisect
import os

from diag.eventlog import EventLogError, discover, read_events
from diag.follow import IncrementalModel, application_report, event_time
from diag.report import ApplicationReport


class LogReplay:
    """The events of one finished log, each with its time (epoch ms, never decreasing: an event
    without a time, or stamped earlier than the one before it, takes the time before it)."""

    def __init__(self, path: str | os.PathLike, config: dict | None = None) -> None:
        found = discover(path)
        if len(found) != 1:
            raise EventLogError(path, f"holds {len(found)} event logs; replay one of them")
        self.path = str(path)
        self.config = config
        stream = read_events(found[0], lean_task_ends=True)
        self.events = list(stream)
        self.read_report = stream.report
        if not self.events:
            raise EventLogError(path, "holds no events to replay")
        self.times = _monotonic_times(self.events)
        self._model = IncrementalModel()

    @property
    def start(self) -> int:
        return self.times[0]

    @property
    def end(self) -> int:
        return self.times[-1]

    def events_until(self, time_ms: float) -> int:
        """How many events happened at or before ``time_ms``."""
        return bisect.bisect_right(self.times, time_ms)

    def time_of(self, count: int) -> int:
        """The moment the replay is at after ``count`` events: the time of the last of them."""
        return self.times[count - 1] if count else self.start

    def report_at(self, count: int) -> ApplicationReport:
        """The application after its first ``count`` events, diagnosed."""
        count = max(0, min(count, len(self.events)))
        if count < self._model.events:
            self._model = IncrementalModel()
        for event in self.events[self._model.events:count]:
            self._model.add(event)
        report = self.read_report
        everything = count == len(self.events)
        return application_report(
            self._model.snapshot(), self.path, self.config,
            complete=everything and report.status == "complete", events=count,
            malformed=report.malformed, malformed_count=report.malformed_count,
            unknown_events=self._model.unknown_events,
            status=report.status if everything and report.status != "complete" else None)


def _monotonic_times(events: list) -> list[int]:
    stamped = [event_time(e) for e in events]
    first = next((t for t in stamped if t is not None), 0)
    times, latest = [], first
    for t in stamped:
        if t is not None and t > latest:
            latest = t
        times.append(latest)
    return times
