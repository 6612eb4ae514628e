"""Reading an event log while Spark (or Ember) still writes it, and the model of what was read so far.

    follower = LogFollower("ember-events/eventlog_v2_local-1795266991484")
    follower.poll()                       # reads what was appended since the last poll: new events
    report = follower.report()            # the application so far, with its diagnoses

``diag.eventlog`` reads a log from its start to its end; a dashboard that follows a running
application reads the same log again and again, so this module remembers where it stopped, per
file, and feeds only the new events to one ``IncrementalModel``. The policy, by file kind (Spark's
writer appends and flushes; it never rewrites what it wrote):

- plain text: the byte offset after the last complete line. A partial last line (the writer is in
  the middle of it) is read again, whole, by the next poll.
- zstd (Spark 4's default): Spark closes a frame at every flush and Ember flushes its one frame, so
  the bytes on disk decode up to the last flush. Each file keeps a streaming decompressor, fed the
  bytes appended since the last poll; the decoded text after its last line break waits for more.
- lz4 and snappy: their Java block framing has no cheap point to resume from, so such a file is
  read once it is complete: a rolling file that has a successor, or any file once the application
  has ended.

New rolling files are picked up as they appear, and a single ``.inprogress`` file that the writer
renames when the application ends is followed under its new name.
"""
from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import msgspec

from diag.detectors import run_detectors
from diag.eventlog import (
    IN_PROGRESS,
    KNOWN_EVENTS,
    MAX_MALFORMED_KEPT,
    SNIFF_LINES,
    EventLogError,
    LogSource,
    MalformedLine,
    NotAnEventLog,
    codec_of,
    discover,
    line_excerpt,
    parse_event_line,
    read_events,
)
from diag.model import AppModel, ModelBuilder
from diag.report import ApplicationReport
from diag.task_end_records import TASK_END_PREFIX, decode_task_end

READ_CHUNK_BYTES = 4 << 20
STREAMED_CODECS = (None, "zstd")  # read as they grow; the other codecs once a file is complete


class IncrementalModel:
    """``diag.model``'s builder, fed event by event; ``snapshot()`` is an ``AppModel`` of the events
    so far that later events leave untouched (the builder keeps mutating its own dicts)."""

    def __init__(self) -> None:
        self._builder = ModelBuilder()
        self.events = 0
        self.unknown_events: Counter[str] = Counter()

    def add(self, event) -> None:
        name = event.get("Event")
        if name not in KNOWN_EVENTS:
            self.unknown_events[str(name)] += 1
        self._builder.add(event)
        self.events += 1

    @property
    def application_ended(self) -> bool:
        return "end" in self._builder.application

    def snapshot(self) -> AppModel:
        model = self._builder.build()
        return dataclasses.replace(
            model, application=dict(model.application), environment=dict(model.environment),
            tasks=model.tasks.combine_chunks(),  # one chunk, however many polls added tasks
            sql_executions=copy.deepcopy(model.sql_executions), event_counts=dict(model.event_counts))


def application_report(model: AppModel, path: str, config: dict | None, *, complete: bool, events: int,
                       malformed: list[MalformedLine], malformed_count: int,
                       unknown_events: dict[str, int], status: str | None = None) -> ApplicationReport:
    """An ``ApplicationReport`` (diagnoses included) of a model read so far; ``status`` says why it
    is not complete ("in progress", "truncated", ...), and the problems say what was skipped."""
    problems = []
    if malformed_count:
        first = malformed[0]
        problems.append(f"skipped {malformed_count} malformed line(s), the first at "
                        f"{first.path}:{first.line_number}: {first.reason}")
    if status is not None:
        problems.append(f"the log is {status}")
    return ApplicationReport(path=path, model=model, run=run_detectors(model, config), complete=complete,
                             events_read=events, malformed_lines=malformed_count,
                             unknown_events=dict(unknown_events), read_problems=problems)


class _LineParser:
    """Lines of one file into events, counting the malformed ones (``diag.eventlog``'s rules)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.line_no = 0
        self.malformed: list[MalformedLine] = []
        self.malformed_count = 0

    def events(self, lines: list[bytes]) -> Iterator[Any]:
        for line in lines:
            self.line_no += 1
            if line.startswith(TASK_END_PREFIX):
                try:
                    yield decode_task_end(line)
                    continue
                except msgspec.DecodeError:
                    pass  # a damaged TaskEnd: the full parse below says what is wrong
            event, reason = parse_event_line(line)
            if event is None:
                self.malformed_count += 1
                if len(self.malformed) < MAX_MALFORMED_KEPT:
                    self.malformed.append(MalformedLine(self.path, self.line_no, reason, line_excerpt(line)))
                continue
            yield event


class _FileCursor:
    """Where reading one file stopped. ``offset`` is the raw bytes read; ``carry`` the text after the
    last line break, which waits for the rest of its line. For plain text the byte offset of the
    last complete line is ``offset - len(carry)``; for zstd ``offset`` is what the decoder was fed."""

    def __init__(self, path: Path, codec: str | None) -> None:
        self.codec = codec
        self.offset = 0
        self.carry = b""
        self.parser = _LineParser(path)
        self.finished = False  # read to its end, and the file is complete
        self.error: str | None = None
        self._zstd = None

    def read(self, path: Path, complete: bool) -> Iterator[Any]:
        """The events appended to ``path`` since the last call. When the file is ``complete``, a
        last line without its line break is an event if it parses, else the file was cut."""
        with open(path, "rb") as f:
            f.seek(self.offset)
            while chunk := f.read(READ_CHUNK_BYTES):
                self.offset += len(chunk)
                decoded = chunk if self.codec is None else self._decode_zstd(chunk)
                if decoded is None:
                    return
                text = self.carry + decoded
                end = text.rfind(b"\n")
                if end < 0:
                    self.carry = text
                    continue
                self.carry = text[end + 1:]
                yield from self.parser.events(text[:end].split(b"\n"))
        if complete and self.carry:
            event, _ = parse_event_line(self.carry)
            if event is not None:
                self.carry = b""
                yield event
        self.finished = complete

    def _decode_zstd(self, chunk: bytes) -> bytes | None:
        import zstandard

        out = []
        try:
            while chunk:
                if self._zstd is None:
                    self._zstd = zstandard.ZstdDecompressor().decompressobj()
                out.append(self._zstd.decompress(chunk))
                if not self._zstd.eof:
                    break
                chunk, self._zstd = self._zstd.unused_data, None  # the next frame follows this one
        except zstandard.ZstdError as e:
            self.error = f"corrupt zstd data before byte {self.offset}: {e}; the rest of the file was skipped"
            self.finished = True
            return None
        return b"".join(out)


class LogFollower:
    """One application's log, read a little more at every ``poll()``.

    ``path`` is a single log file (``.inprogress`` or not) or a rolling ``eventlog_v2_*`` directory.
    The model only grows: a poll reads whole new lines and leaves a partial one for later.
    """

    def __init__(self, path: str | Path, config: dict | None = None) -> None:
        self.path = Path(path)
        self.config = config
        self.model = IncrementalModel()
        self.source: LogSource | None = None
        self._cursors: dict[str, _FileCursor] = {}
        self._whole_file_problems: list[str] = []

    @property
    def in_progress(self) -> bool:
        """The writer has not closed the log (the ``.inprogress`` name or status marker is there)."""
        return self.source is None or self.source.in_progress

    @property
    def finished(self) -> bool:
        """The log is closed and every byte of it was read: polling again would find nothing."""
        return (self.source is not None and not self.source.in_progress
                and all(self._cursor(p).finished for p in self.source.files))

    def poll(self) -> int:
        """Read what was appended since the last poll; the number of new events."""
        before = self.model.events
        self.source = source = self._discover()
        last = len(source.files) - 1
        for i, path in enumerate(source.files):
            cursor = self._cursor(path)
            if cursor.finished:
                continue
            complete = not source.in_progress or i < last
            try:
                if cursor.codec in STREAMED_CODECS:
                    for event in cursor.read(path, complete):
                        self.model.add(event)
                elif complete:
                    self._read_whole(path, cursor)
            except FileNotFoundError:
                break  # renamed by the writer while being read: the next poll finds it
        if self.model.events == 0 and source.files and self.malformed_count >= SNIFF_LINES:
            raise NotAnEventLog(source.files[0], f"no JSON object with an \"Event\" field in its first "
                                                 f"{self.malformed_count} lines")
        return self.model.events - before

    def report(self) -> ApplicationReport:
        """The application as read so far, diagnosed."""
        status = None
        if self.in_progress:
            status = "in progress"
        elif any(c.carry for c in self._cursors.values()):
            status = "truncated"
        elif not self.model.application_ended:
            status = "incomplete"
        report = application_report(
            self.model.snapshot(), str(self.path), self.config, complete=status is None,
            events=self.model.events, malformed=self.malformed, malformed_count=self.malformed_count,
            unknown_events=self.model.unknown_events, status=status)
        report.read_problems[:0] = self._whole_file_problems + [
            f"{p}: {c.error}" for p, c in self._cursors.items() if c.error]
        return report

    @property
    def malformed(self) -> list[MalformedLine]:
        return [m for c in self._cursors.values() for m in c.parser.malformed]

    @property
    def malformed_count(self) -> int:
        return sum(c.parser.malformed_count for c in self._cursors.values())

    def _discover(self) -> LogSource:
        if not self.path.exists() and self.path.name.endswith(IN_PROGRESS):
            final = self.path.with_name(self.path.name[:-len(IN_PROGRESS)])
            if final.exists():  # the application ended and the writer dropped the suffix
                self.path = final
        found = discover(self.path)
        if len(found) != 1:
            raise EventLogError(self.path, f"holds {len(found)} event logs; follow one of them")
        return found[0]

    def _cursor(self, path: Path) -> _FileCursor:
        key = path.name[:-len(IN_PROGRESS)] if path.name.endswith(IN_PROGRESS) else path.name
        if key not in self._cursors:
            self._cursors[key] = _FileCursor(path, codec_of(path))
        return self._cursors[key]

    def _read_whole(self, path: Path, cursor: _FileCursor) -> None:
        single = LogSource(path=path, files=(path,), codec=cursor.codec, app_id=None, attempt_id=None,
                           in_progress=False, rolling=False)
        stream = read_events(single, lean_task_ends=True)
        for event in stream:
            self.model.add(event)
        cursor.finished = True
        (file_report,) = stream.report.files
        cursor.parser.malformed_count = file_report.malformed_count
        cursor.parser.malformed = list(file_report.malformed)
        if file_report.stream_error:
            self._whole_file_problems.append(f"{path}: {file_report.stream_error}")


def event_time(event) -> int | None:
    """When an event happened (epoch milliseconds), from the field Spark stamps it with; None for
    the events that carry no time (environment, resource profiles, block updates...)."""
    for key in ("Timestamp", "Submission Time", "Completion Time", "time"):
        value = event.get(key)
        if isinstance(value, int):
            return value
    info = event.get("Stage Info")
    if info is not None:
        value = info.get("Completion Time") or info.get("Submission Time")
        return value if isinstance(value, int) else None
    info = event.get("Task Info")
    if info is not None:
        value = info.get("Finish Time") or info.get("Launch Time")
        return value if isinstance(value, int) else None
    return None
