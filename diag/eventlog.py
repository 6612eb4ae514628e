"""Spark event logs on disk: find them, decompress them, stream their events, report what was wrong.

The role of Spark's ``EventLogFileReaders`` (and the reading half of ``ReplayListenerBus``), for
logs written by any Spark or by Ember::

    for source in discover("/tmp/spark-events"):          # a file, a rolling dir, or a dir of apps
        events = read_events(source, on_progress=bar.update)
        for event in events:                               # dicts, one per JSON line, in log order
            ...
        events.report.status                               # "complete", "in progress", "truncated", ...

Layouts (names only decide; ``discover`` reads no content):

- single file: ``<appId>[_<attempt>][.<codec>][.inprogress]``;
- rolling: ``eventlog_v2_<appId>[_<attempt>]/`` holding ``events_<N>_<appId>...[.<codec>]``, read
  in order of ``N`` (numerically: 10 after 9), and an ``appstatus_<appId>[.inprogress]`` marker;
- a directory of applications: every non-hidden file and every rolling directory directly in it,
  as Spark's History Server lists its log directory (it does not descend further).

Codecs are the file suffix, as Spark's ``EventLogFileWriter.codecName``: ``zstd`` (one streamed
frame without a content size; read incrementally, so a log still being written reads up to its
last flush), ``lz4`` (lz4-java's ``LZ4BlockOutputStream`` framing, not the lz4 frame format) and
``snappy`` (snappy-java's ``SnappyOutputStream`` framing, not the snappy framing format). ``lzf``
is recognised and refused with ``UnsupportedCodec``. A file whose bytes contradict its suffix is
read as what its bytes say (and the report says so).

Robustness policy. Content never crashes the reader: a malformed line, a line without ``"Event"``,
an event type this module does not know (still yielded), a partial last line (a log being
written, or cut), a compressed stream that ends early, and corrupt compressed data (skipped to the
next zstd frame, lz4 block or snappy block the decoder can find) are counted in the ``ReadReport``
and reading goes on. The one exception is a file that is not an event log at all: when none of a
file's first ``SNIFF_LINES`` lines is a JSON object with an ``"Event"`` field (or it is empty, or
its bytes are not what its codec promises), reading raises ``NotAnEventLog`` naming the file and
the reason, instead of counting every line malformed.

Speed: files are read in large binary chunks, split on ``\\n`` and parsed with ``orjson``; the
per-line work in Python is a parse, a dict lookup and a counter increment.
"""
from __future__ import annotations

import os
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import msgspec
import orjson

from diag.task_end_records import TASK_END_PREFIX, decode_task_end

# ---------------------------------------------------------------------------------------------
# Event names, exactly as Spark writes them in the "Event" field. JsonProtocol writes the events it
# serializes by hand with their simple class name; every other SparkListenerEvent goes through
# Jackson (@JsonTypeInfo(use = CLASS, property = "Event")) and carries its fully qualified name.
# Checked against the classes that implement SparkListenerEvent in pyspark 4.3's jars.

CORE_EVENTS = frozenset({
    "SparkListenerLogStart",
    "SparkListenerApplicationStart",
    "SparkListenerApplicationEnd",
    "SparkListenerEnvironmentUpdate",
    "SparkListenerResourceProfileAdded",
    "SparkListenerExecutorAdded",
    "SparkListenerExecutorRemoved",
    "SparkListenerBlockManagerAdded",
    "SparkListenerBlockManagerRemoved",
    "SparkListenerJobStart",
    "SparkListenerJobEnd",
    "SparkListenerStageSubmitted",
    "SparkListenerStageCompleted",
    "SparkListenerTaskStart",
    "SparkListenerTaskGettingResult",
    "SparkListenerTaskEnd",
    "SparkListenerUnpersistRDD",
    "SparkListenerExecutorMetricsUpdate",
    "SparkListenerStageExecutorMetrics",
    "SparkListenerBlockUpdated",
})

_SCHEDULER = "org.apache.spark.scheduler."
SCHEDULER_EVENTS = frozenset(_SCHEDULER + name for name in (
    "SparkListenerSpeculativeTaskSubmitted",
    "SparkListenerUnschedulableTaskSetAdded",
    "SparkListenerUnschedulableTaskSetRemoved",
    "SparkListenerMiscellaneousProcessAdded",
    "SparkListenerExecutorExcluded",
    "SparkListenerExecutorExcludedForStage",
    "SparkListenerExecutorUnexcluded",
    "SparkListenerNodeExcluded",
    "SparkListenerNodeExcludedForStage",
    "SparkListenerNodeUnexcluded",
    # the names before Spark 3.1, still written next to the new ones
    "SparkListenerExecutorBlacklisted",
    "SparkListenerExecutorBlacklistedForStage",
    "SparkListenerExecutorUnblacklisted",
    "SparkListenerNodeBlacklisted",
    "SparkListenerNodeBlacklistedForStage",
    "SparkListenerNodeUnblacklisted",
))

SQL_EVENT_PREFIX = "org.apache.spark.sql.execution.ui."
SQL_EVENTS = frozenset(SQL_EVENT_PREFIX + name for name in (
    "SparkListenerSQLExecutionStart",
    "SparkListenerSQLExecutionEnd",
    "SparkListenerSQLAdaptiveExecutionUpdate",
    "SparkListenerSQLAdaptiveSQLMetricUpdates",
    "SparkListenerDriverAccumUpdates",
))

STREAMING_EVENTS = frozenset("org.apache.spark.sql.streaming.StreamingQueryListener$" + name for name in (
    "QueryStartedEvent",
    "QueryProgressEvent",
    "QueryIdleEvent",
    "QueryTerminatedEvent",
))

# Spark's own events that an analyzer has no use for but should not call unknown: the session
# catalog's DDL notifications, Spark Connect and the Thrift server.
_CATALOG = "org.apache.spark.sql.catalyst.catalog."
OTHER_SPARK_EVENTS = frozenset(
    [_CATALOG + f"{verb}{what}{pre}Event"
     for verb in ("Create", "Drop", "Alter", "Rename")
     for what in ("Database", "Table", "Function", "Partitions")
     for pre in ("", "Pre")
     if not (verb == "Rename" and what == "Database")]
    + ["org.apache.spark.sql.connect.service.SparkListenerConnect" + name for name in (
        "OperationStarted", "OperationAnalyzed", "OperationReadyForExecution", "OperationFinished",
        "OperationFailed", "OperationCanceled", "OperationClosed", "SessionStarted",
        "SessionClosed", "ServiceStarted", "ServiceEnd")]
    + ["org.apache.spark.sql.hive.thriftserver.ui.SparkListenerThriftServer" + name for name in (
        "SessionCreated", "SessionClosed", "OperationStart", "OperationParsed",
        "OperationCanceled", "OperationTimeout", "OperationError", "OperationFinish",
        "OperationClosed")]
)

KNOWN_EVENTS: frozenset[str] = (
    CORE_EVENTS | SCHEDULER_EVENTS | SQL_EVENTS | STREAMING_EVENTS | OTHER_SPARK_EVENTS
)

APPLICATION_END = "SparkListenerApplicationEnd"
TASK_END = "SparkListenerTaskEnd"

# ---------------------------------------------------------------------------------------------
# Names on disk (Spark's EventLogFileWriters)

IN_PROGRESS = ".inprogress"
COMPACTED = ".compact"
EVENT_LOG_DIR_PREFIX = "eventlog_v2_"
EVENT_LOG_FILE_PREFIX = "events_"
APPSTATUS_FILE_PREFIX = "appstatus_"
CODECS = ("zstd", "lz4", "snappy", "lzf")
SUPPORTED_CODECS = ("zstd", "lz4", "snappy")

# ---------------------------------------------------------------------------------------------
# Limits

SNIFF_LINES = 20  # a file is an event log if one of its first SNIFF_LINES lines is an event
SNIFF_MAX_LINE_BYTES = 64 << 20  # ... and if its first line break comes within this many bytes
MAX_MALFORMED_KEPT = 10  # per file; all are counted
PLAIN_CHUNK_BYTES = 4 << 20
COMPRESSED_CHUNK_BYTES = 256 << 10  # event logs compress 10-40x: about 4 MiB decoded per chunk


class EventLogError(Exception):
    """A file Ember cannot read as an event log. ``path`` is the file, ``reason`` says why."""

    prefix = ""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {self.prefix}{reason}")


class NotAnEventLog(EventLogError):
    """The file is not a Spark event log (empty, binary, not JSON lines, no "Event" fields)."""

    prefix = "not a Spark event log: "


class UnsupportedCodec(EventLogError):
    """An event log compressed with a codec Ember does not read (lzf)."""


# ---------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class LogSource:
    """One application's event log: a single file or a rolling directory, as found on disk.

    ``app_id`` and ``attempt_id`` are guesses from the names (the ``ApplicationStart`` event is
    the authority); ``codec`` is the first file's suffix codec (``None`` for plain text);
    ``in_progress`` is the ``.inprogress`` suffix (single file) or the ``appstatus_`` marker still
    ending in ``.inprogress`` (rolling).
    """

    path: Path
    files: tuple[Path, ...]
    codec: str | None
    app_id: str | None
    attempt_id: str | None
    in_progress: bool
    rolling: bool
    status_marker: Path | None = None

    @property
    def total_bytes(self) -> int:
        """Bytes on disk of all the files, now (a log being written grows)."""
        return sum(_size(f) for f in self.files)

    def __str__(self) -> str:
        return str(self.path)


def discover(path: str | os.PathLike[str]) -> list[LogSource]:
    """The event logs at ``path``: a log file, a rolling ``eventlog_v2_`` directory, or a directory
    of applications (its files and rolling directories, not descending further; hidden files such
    as Hadoop's ``.crc`` are skipped). Decides by names only: reading checks the content.

        discover("/tmp/spark-events/eventlog_v2_local-1700000000000")
        # [LogSource(path=..., files=(.../events_1_local-1700000000000.zstd, ...), codec='zstd',
        #            app_id='local-1700000000000', attempt_id=None, in_progress=False, rolling=True)]
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no such event log or directory: {root}")
    if root.is_file():
        if root.name.startswith(APPSTATUS_FILE_PREFIX):
            return [_rolling_source(root.parent)]
        return [_single_source(root)]
    if _is_rolling_dir(root):
        return [_rolling_source(root)]
    sources = []
    for child in sorted(root.iterdir(), key=lambda p: p.name):
        if _hidden(child.name):
            continue
        if child.is_dir():
            if _is_rolling_dir(child):
                sources.append(_rolling_source(child))
        elif child.is_file():
            sources.append(_single_source(child))
    return sources


def codec_of(path: Path | str) -> str | None:
    """The codec a file's name announces, as Spark's ``codecName``: ``app.lz4.inprogress`` -> lz4."""
    name = Path(path).name
    name = _strip(_strip(name, COMPACTED), IN_PROGRESS)
    parts = name.split(".")
    if len(parts) > 1 and parts[-1].lower() in CODECS:
        return parts[-1].lower()
    return None


def _single_source(path: Path) -> LogSource:
    app_id, attempt_id = _split_app_attempt(_strip(_strip(path.name, COMPACTED), IN_PROGRESS).split(".")[0])
    return LogSource(path=path, files=(path,), codec=codec_of(path), app_id=app_id,
                     attempt_id=attempt_id, in_progress=path.name.endswith(IN_PROGRESS), rolling=False)


def _rolling_source(directory: Path) -> LogSource:
    event_files: list[tuple[int, bool, str, Path]] = []
    marker: Path | None = None
    for child in directory.iterdir():
        name = child.name
        if _hidden(name) or not child.is_file():
            continue
        if name.startswith(EVENT_LOG_FILE_PREFIX):
            index = _event_file_index(name)
            if index is not None:
                event_files.append((index, name, child))
        elif name.startswith(APPSTATUS_FILE_PREFIX):
            # Both markers can exist for a moment while Spark renames: the finished one wins.
            if marker is None or marker.name.endswith(IN_PROGRESS):
                marker = child
    files = [p for *_, p in sorted(event_files)]
    # A compacted file (EventLogFileCompactor) replaces every file before it, which Spark deletes
    # soon after; read from the last one, as Spark's reader does.
    compacted = [i for i, p in enumerate(files) if p.name.endswith(COMPACTED)]
    files = tuple(files[compacted[-1]:] if compacted else files)
    dir_name = directory.name
    base = dir_name[len(EVENT_LOG_DIR_PREFIX):] if dir_name.startswith(EVENT_LOG_DIR_PREFIX) else None
    if base is None and files:  # a renamed directory: the first file's name still holds the app
        base = _strip(_strip(files[0].name, COMPACTED), IN_PROGRESS).split(".")[0].split("_", 2)[-1]
    app_id, attempt_id = _split_app_attempt(base) if base else (None, None)
    return LogSource(path=directory, files=files, codec=codec_of(files[0]) if files else None,
                     app_id=app_id, attempt_id=attempt_id,
                     in_progress=marker is not None and marker.name.endswith(IN_PROGRESS),
                     rolling=True, status_marker=marker)


def _is_rolling_dir(path: Path) -> bool:
    if path.name.startswith(EVENT_LOG_DIR_PREFIX):
        return True
    try:
        return any(c.name.startswith(APPSTATUS_FILE_PREFIX)
                   or (c.name.startswith(EVENT_LOG_FILE_PREFIX) and _event_file_index(c.name) is not None)
                   for c in path.iterdir())
    except OSError:
        return False


def _event_file_index(name: str) -> int | None:
    index = name[len(EVENT_LOG_FILE_PREFIX):].split("_", 1)[0]
    return int(index) if index.isdigit() else None


_YARN_APP = re.compile(r"(application_\d+_\d+)(?:_(.+))?")


def _split_app_attempt(name: str) -> tuple[str | None, str | None]:
    """``application_1_2_1`` -> (``application_1_2``, ``1``); ``local-17_1`` -> (``local-17``, ``1``).

    Spark joins the (sanitized) app id and attempt id with ``_``; only YARN's ids contain one.
    """
    if not name:
        return None, None
    m = _YARN_APP.fullmatch(name)
    if m:
        return m[1], m[2]
    app, _, attempt = name.partition("_")
    return app, attempt or None


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("_")


def _strip(name: str, suffix: str) -> str:
    return name[: -len(suffix)] if name.endswith(suffix) else name


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass(frozen=True)
class MalformedLine:
    path: Path
    line_number: int  # 1-based, in the decompressed text of the file
    reason: str
    excerpt: str = ""  # the line's first bytes

    def __str__(self) -> str:
        return f"{self.path}:{self.line_number}: {self.reason}"


@dataclass
class FileReport:
    """What reading one file found. Complete once the file has been read to its end."""

    path: Path
    codec: str | None
    bytes_on_disk: int = 0
    lines_read: int = 0  # complete lines, plus a final unterminated line that parsed
    events: int = 0  # lines yielded as events (known or not)
    event_counts: dict[str, int] = field(default_factory=dict)  # known event types
    unknown_events: dict[str, int] = field(default_factory=dict)
    malformed_count: int = 0
    malformed: list[MalformedLine] = field(default_factory=list)  # the first MAX_MALFORMED_KEPT
    partial_last_line: bool = False  # bytes after the last line break that are not an event
    partial_last_line_bytes: int = 0
    stream_ended_early: bool = False  # the compressed stream stops inside a frame or block
    stream_error: str | None = None  # the first corrupt compressed data found, and where
    corrupt_regions: int = 0  # stretches of corrupt compressed data skipped
    note: str | None = None  # e.g. the content's codec differs from the name's

    @property
    def truncated(self) -> bool:
        """The file ends inside a line or inside a compressed frame or block."""
        return self.partial_last_line or self.stream_ended_early

    @property
    def damaged(self) -> bool:
        """Some of the compressed data was corrupt and skipped."""
        return self.stream_error is not None

    def _corrupt(self, message: str) -> None:
        self.corrupt_regions += 1
        if self.stream_error is None:
            self.stream_error = message

    def _add_malformed(self, line_number: int, line: bytes, reason: str) -> None:
        self.malformed_count += 1
        if len(self.malformed) < MAX_MALFORMED_KEPT:
            self.malformed.append(MalformedLine(self.path, line_number, reason, line_excerpt(line)))


@dataclass
class ReadReport:
    """What reading a ``LogSource`` found, file by file; filled in while the events stream.

    ``status`` sums it up: ``complete`` (an ApplicationEnd was read and nothing was cut or
    damaged), ``in progress`` (Spark says the application still runs), ``damaged`` (corrupt
    compressed data was skipped), ``truncated`` (a file ends inside a line or a compressed block),
    ``incomplete`` (none of those, but no ApplicationEnd: the driver died, or the log was cut
    exactly between two lines). Malformed lines are counted, not part of the status.
    """

    source: LogSource
    files: list[FileReport] = field(default_factory=list)
    finished: bool = False  # every file was read to its end

    @property
    def in_progress(self) -> bool:
        return self.source.in_progress

    @property
    def ended_cleanly(self) -> bool:
        return any(f.event_counts.get(APPLICATION_END) for f in self.files)

    @property
    def truncated(self) -> bool:
        return any(f.truncated for f in self.files)

    @property
    def damaged(self) -> bool:
        return any(f.damaged for f in self.files)

    @property
    def status(self) -> str:
        if self.ended_cleanly and not self.truncated and not self.damaged:
            return "complete"
        if self.in_progress:
            return "in progress"
        if self.damaged:
            return "damaged"
        if self.truncated:
            return "truncated"
        return "incomplete"

    @property
    def lines_read(self) -> int:
        return sum(f.lines_read for f in self.files)

    @property
    def events(self) -> int:
        return sum(f.events for f in self.files)

    @property
    def malformed_count(self) -> int:
        return sum(f.malformed_count for f in self.files)

    @property
    def malformed(self) -> list[MalformedLine]:
        return [m for f in self.files for m in f.malformed]

    @property
    def event_counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.event_counts)
        return total

    @property
    def unknown_events(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.unknown_events)
        return total

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "source": str(self.source.path),
            "app_id": self.source.app_id,
            "status": self.status,
            "in_progress": self.in_progress,
            "ended_cleanly": self.ended_cleanly,
            "truncated": self.truncated,
            "damaged": self.damaged,
            "lines_read": self.lines_read,
            "events": self.events,
            "malformed_count": self.malformed_count,
            "unknown_events": dict(self.unknown_events),
            "files": [
                {
                    "path": str(f.path), "codec": f.codec, "bytes": f.bytes_on_disk,
                    "lines_read": f.lines_read, "events": f.events,
                    "malformed_count": f.malformed_count,
                    "malformed": [{"line": m.line_number, "reason": m.reason, "excerpt": m.excerpt}
                                  for m in f.malformed],
                    "unknown_events": f.unknown_events,
                    "partial_last_line": f.partial_last_line,
                    "stream_ended_early": f.stream_ended_early,
                    "stream_error": f.stream_error, "corrupt_regions": f.corrupt_regions,
                    "note": f.note,
                }
                for f in self.files
            ],
        }


# ---------------------------------------------------------------------------------------------
# Reading

ProgressCallback = Callable[[int, int], None]


class EventStream:
    """The events of one source, in order, as dicts; ``report`` fills in as they are read.

    Iterate it once (``for event in stream`` runs at the speed of the underlying generator).
    Reading may raise ``NotAnEventLog`` or ``UnsupportedCodec`` for a file that is not a
    readable event log, and ``OSError`` for a file that cannot be opened; nothing else.
    """

    def __init__(self, source: LogSource, on_progress: ProgressCallback | None = None,
                 lean_task_ends: bool = False) -> None:
        self.source = source
        self.report = ReadReport(source)
        self._events = _read_source(source, self.report, on_progress, lean_task_ends)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._events

    def __next__(self) -> dict[str, Any]:
        return next(self._events)


def read_events(source: LogSource | str | os.PathLike[str], *,
                on_progress: ProgressCallback | None = None, lean_task_ends: bool = False) -> EventStream:
    """Stream the events of ``source`` (a ``LogSource``, or the path of exactly one log).

    ``on_progress(bytes_read, total_bytes)`` is called after every chunk read from disk (bytes on
    disk, compressed; ``total_bytes`` measured when reading starts, or ``bytes_read`` if the log
    grew since).

        stream = read_events("/tmp/spark-events/local-1700000000000.zstd")
        tasks = sum(1 for e in stream if e["Event"] == "SparkListenerTaskEnd")
        stream.report.status, stream.report.malformed_count   # ("complete", 0)

    ``lean_task_ends=True`` yields each TaskEnd as a record of only the fields ``diag.model`` reads
    (``diag.task_end_records``; read with ``.get`` like a dict), which is several times cheaper
    than a full parse; every other event is a dict as usual.
    """
    if not isinstance(source, LogSource):
        found = discover(source)
        if len(found) != 1:
            raise ValueError(f"{source}: holds {len(found)} event logs; use discover() to pick one")
        source = found[0]
    return EventStream(source, on_progress, lean_task_ends)


def _read_source(source: LogSource, report: ReadReport, on_progress: ProgressCallback | None,
                 lean_task_ends: bool = False) -> Iterator[dict[str, Any]]:
    if source.rolling and not source.files:
        raise NotAnEventLog(source.path, f"a rolling event-log directory without {EVENT_LOG_FILE_PREFIX}* files")
    total = source.total_bytes
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if on_progress is not None:
            on_progress(done, max(total, done))

    last = len(source.files) - 1
    for i, path in enumerate(source.files):
        file_report = FileReport(path=path, codec=codec_of(path), bytes_on_disk=_size(path))
        report.files.append(file_report)
        # An empty file is normal where Spark has just created it: a log in progress, or a
        # rolling file after the first (Spark opens the next file before writing to it).
        empty_ok = (source.in_progress and i == last) or (source.rolling and i > 0)
        yield from _read_file(path, file_report, progress, empty_ok, lean_task_ends)
    if on_progress is not None:
        on_progress(done, max(total, done))
    report.finished = True


def _read_file(path: Path, report: FileReport, progress: Callable[[int], None],
               empty_ok: bool, lean_task_ends: bool = False) -> Iterator[dict[str, Any]]:
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        # The application ended since discover(): Spark renamed the file to its final name.
        final = path.with_name(_strip(path.name, IN_PROGRESS))
        if final == path or not final.exists():
            raise
        f = open(final, "rb")
        report.note = f"renamed to {final.name} while being read"
    with f:
        first = f.read(COMPRESSED_CHUNK_BYTES)
        codec = _content_codec(path, report, first)
        chunk_size = PLAIN_CHUNK_BYTES if codec is None else COMPRESSED_CHUNK_BYTES

        def raw_chunks() -> Iterator[bytes]:
            chunk = first
            while chunk:
                progress(len(chunk))
                yield chunk
                chunk = f.read(chunk_size)

        decoder = _DECODERS[codec] if codec else None
        text = decoder(raw_chunks(), report) if decoder else raw_chunks()
        yield from _events_of_lines(text, path, report, empty_ok, lean_task_ends)


# Magic numbers at the start of each codec's stream.
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_LZ4_MAGIC = b"LZ4Block"
_SNAPPY_MAGIC = b"\x82SNAPPY\x00"
_SNAPPY_HEADER_BYTES = 16  # magic, version and compatible version (big-endian ints)


def _magic_codec(head: bytes) -> str | None:
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if head.startswith(_LZ4_MAGIC):
        return "lz4"
    if head.startswith(_SNAPPY_MAGIC):
        return "snappy"
    if head[:2] == b"ZV" and head[2:3] in (b"\x00", b"\x01"):  # compress-lzf's chunk header
        return "lzf"
    return None


def _content_codec(path: Path, report: FileReport, head: bytes) -> str | None:
    """The codec to decode ``path`` with: its name's, unless its first bytes say otherwise."""
    named = report.codec
    if not head:
        return None  # nothing to decode
    actual = _magic_codec(head)
    if actual is None and named is not None:
        if head.lstrip()[:1] != b"{":
            raise NotAnEventLog(path, f"named .{named} but its data is not {named}-compressed "
                                      f"(starts with {line_excerpt(head, 16)})")
        report.note = f"named .{named} but holds plain text"
    elif actual is not None and actual != named:
        report.note = f"named {'.' + named if named else 'as plain text'} but holds {actual} data"
    codec = actual
    report.codec = codec
    if codec == "lzf":
        raise UnsupportedCodec(path, "lzf-compressed event logs are not supported: Ember reads zstd "
                                     "(Spark's default), lz4, snappy and plain logs; set "
                                     "spark.eventLog.compression.codec=zstd for new logs")
    return codec


def _events_of_lines(chunks: Iterable[bytes], path: Path, report: FileReport,
                     empty_ok: bool, lean_task_ends: bool = False) -> Iterator[dict[str, Any]]:
    """Split decoded text into lines and parse them: the hot loop."""
    loads = orjson.loads
    task_end_prefix = TASK_END_PREFIX if lean_task_ends else None
    counts = dict.fromkeys(KNOWN_EVENTS, 0)  # unknown names raise KeyError: the slow path
    unknown = report.unknown_events
    line_no = 0
    carry = b""
    confirmed = False  # seen an event in this file: it is an event log
    first_reason: str | None = None
    head = b""  # the first decoded bytes, to tell binary data in an error message
    long_line: list[bytes] = []  # chunks without a line break, joined once the line ends
    long_line_bytes = 0
    try:
        for chunk in chunks:
            if not head:
                head = chunk[:256]
            if b"\n" not in chunk:
                long_line.append(chunk)
                long_line_bytes += len(chunk)
                if not confirmed and len(carry) + long_line_bytes > SNIFF_MAX_LINE_BYTES:
                    raise NotAnEventLog(path, f"no line break in its first {len(carry) + long_line_bytes} "
                                              f"bytes (starts with {line_excerpt(carry or long_line[0], 16)})")
                continue
            if long_line:
                chunk = b"".join([carry, *long_line, chunk])
                long_line.clear()
                long_line_bytes = 0
            elif carry:
                chunk = carry + chunk
            lines = chunk.split(b"\n")
            carry = lines.pop()
            if not confirmed:
                # Sniff: the first lines decide whether this is an event log at all.
                start = len(lines)
                for i, line in enumerate(lines):
                    line_no += 1
                    event, reason = parse_event_line(line)
                    if event is None:
                        report._add_malformed(line_no, line, reason)
                        first_reason = first_reason or f"line {line_no}: {reason}"
                        if line_no >= SNIFF_LINES:
                            raise NotAnEventLog(path, _not_a_log_reason(head, line_no, first_reason))
                        continue
                    confirmed = True
                    _count(event["Event"], counts, unknown)
                    yield event
                    start = i + 1
                    break
                if not confirmed:
                    if len(carry) > SNIFF_MAX_LINE_BYTES:
                        raise NotAnEventLog(path, f"no line break in its first {len(carry)} bytes "
                                                  f"(starts with {line_excerpt(carry, 16)})")
                    continue
                lines = lines[start:]
            for line in lines:
                line_no += 1
                if task_end_prefix is not None and line.startswith(task_end_prefix):
                    try:
                        event = decode_task_end(line)
                    except msgspec.DecodeError:
                        pass  # a damaged TaskEnd: the full parse below reports it
                    else:
                        counts[TASK_END] += 1
                        yield event
                        continue
                try:
                    event = loads(line)
                    counts[event["Event"]] += 1
                except Exception:  # noqa: BLE001 - the slow path sorts it out
                    event, reason = parse_event_line(line)
                    if event is None:
                        report._add_malformed(line_no, line, reason)
                        continue
                    _count(event["Event"], counts, unknown)
                yield event

        # The end of the file: what is left after the last line break.
        if long_line:
            carry = b"".join([carry, *long_line])
        if carry:
            event, reason = parse_event_line(carry)
            if event is not None:  # a complete event without its line break
                line_no += 1
                confirmed = True
                _count(event["Event"], counts, unknown)
                yield event
            elif confirmed or carry.lstrip().startswith(b'{"Event"'):
                report.partial_last_line = True
                report.partial_last_line_bytes = len(carry)
            else:
                first_reason = first_reason or f"line {line_no + 1}: {reason}"
        if not confirmed and not report.partial_last_line:
            if line_no == 0 and not carry:
                if report.stream_error:
                    raise NotAnEventLog(path, report.stream_error)
                if report.stream_ended_early:
                    return  # a compressed stream cut before its first block: truncated, empty
                if not empty_ok:
                    raise NotAnEventLog(path, "empty file" if report.bytes_on_disk == 0
                                        else "no text after decompression")
            else:
                raise NotAnEventLog(path, _not_a_log_reason(head, line_no, first_reason))
    finally:
        report.lines_read = line_no
        report.event_counts = {k: v for k, v in counts.items() if v}
        report.events = sum(report.event_counts.values()) + sum(unknown.values())


def _count(name: str, counts: dict[str, int], unknown: dict[str, int]) -> None:
    if name in counts:
        counts[name] += 1
    else:
        unknown[name] = unknown.get(name, 0) + 1


def parse_event_line(line: bytes) -> tuple[dict[str, Any] | None, str]:
    """(event, "") or (None, why the line is not an event): the one judgement of a line that the
    batch reader and ``diag.follow``'s incremental reader share, so both count the same lines as malformed."""
    if not line.strip():
        return None, "empty line"
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return None, f"invalid JSON ({_short(str(e))})"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    name = value.get("Event")
    if name is None:
        return None, 'no "Event" field'
    if not isinstance(name, str) or not name:
        return None, f'"Event" is not a name: {_short(repr(name))}'
    return value, ""


def _not_a_log_reason(head: bytes, lines: int, first_reason: str | None) -> str:
    what = "binary data" if _looks_binary(head) else 'no JSON object with an "Event" field'
    where = f"in its first {lines} line{'s' if lines != 1 else ''}" if lines else "in its text"
    detail = f" ({first_reason})" if first_reason else ""
    return f"{what} {where}{detail}"


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(head) - 3  # not just a character cut at the end of the excerpt
    return False


def line_excerpt(data: bytes, n: int = 40) -> str:
    """The first ``n`` bytes of a line, printable, for a report of what was skipped where."""
    text = repr(bytes(data[:n]))[2:-1]
    return text + ("..." if len(data) > n else "")


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Decoders: raw chunks of a file -> chunks of decompressed text. None raises for bad content: an
# early end sets ``stream_ended_early``; corrupt data is recorded (``stream_error``, the first
# message, and ``corrupt_regions``) and skipped up to the next point the codec can restart from:
# the next zstd frame (Spark closes one at every flush) or lz4 block, both found by their magic
# number. snappy-java blocks carry no magic: a corrupt block is skipped by its length, and a
# corrupt length ends the file's reading. Text on either side of a gap ends up in one malformed
# line, which the line reader counts.


def _zstd_chunks(raw: Iterable[bytes], report: FileReport) -> Iterator[bytes]:
    """Zstandard frames without a content size, streamed: Spark closes a frame at every flush
    (SPARK-29322); a log still being written ends after a flush or inside a frame."""
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    dobj = dctx.decompressobj()
    in_frame = False
    searching = False  # after corrupt data: looking for the next frame's magic number
    carry = b""  # while searching: the last bytes seen, as a magic number may straddle chunks
    for data in _slices(raw, _ZSTD_FEED_BYTES):
        start = 0  # where to search from
        if searching:
            data = carry + data
        while data:
            if searching:
                at = data.find(_ZSTD_MAGIC, start)
                if at < 0:
                    carry = data[-(len(_ZSTD_MAGIC) - 1):]
                    break
                data, searching = data[at:], False
                dobj = dctx.decompressobj()
            try:
                out = dobj.decompress(data)
            except zstandard.ZstdError as e:
                report._corrupt(f"corrupt zstd data: {_short(str(e))}")
                # the bad frame starts at data[0] or before it: search again from data[1]
                searching, start, in_frame = True, 1, False
                continue
            in_frame = True
            if out:
                yield out
            if dobj.eof:  # one frame done; another may follow
                data = dobj.unused_data
                dobj = dctx.decompressobj()
                in_frame = False
            else:
                data = b""
    if in_frame:
        report.stream_ended_early = True


# zstd can expand a thousandfold (logs of near-identical tasks come close): feed the decoder
# slices small enough that one call never returns more than a few tens of megabytes.
_ZSTD_FEED_BYTES = 16 << 10


def _slices(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    for chunk in chunks:
        if len(chunk) <= size:
            yield chunk
        else:
            for i in range(0, len(chunk), size):
                yield chunk[i:i + size]


# lz4-java's LZ4BlockOutputStream: every block is "LZ4Block", a token (method | level), the
# compressed and decompressed lengths and an xxhash32 of the decompressed bytes (little-endian
# ints), then the data; lz4-java stores a block RAW when compression would not make it smaller. A
# block of zero bytes ends a stream; Spark reads on past it (concatenated streams), and so does
# this. The checksum is not verified: decompression and JSON parsing catch corrupt data, and a
# pure-Python xxhash would halve the throughput.
_LZ4_HEADER = struct.Struct("<8sBiii")
_LZ4_METHOD_RAW = 0x10
_LZ4_METHOD_LZ4 = 0x20


def _lz4_chunks(raw: Iterable[bytes], report: FileReport) -> Iterator[bytes]:
    from lz4.block import LZ4BlockError, decompress

    header_size = _LZ4_HEADER.size
    unpack = _LZ4_HEADER.unpack_from
    buf = b""
    consumed = 0  # bytes of the file before buf
    ended = False  # the last block read was the end mark
    resync = False  # after corrupt data: looking for the next block's magic number

    def blocks(final: bool) -> Iterator[bytes]:
        """Decode the complete blocks in buf; keep the rest for the next chunk."""
        nonlocal buf, consumed, ended, resync
        pos = 0
        end_of_buf = len(buf)
        while True:
            if resync:
                at = buf.find(_LZ4_MAGIC, pos)
                if at < 0:
                    pos = max(pos, end_of_buf - len(_LZ4_MAGIC) + 1)
                    break
                pos, resync = at, False
            if end_of_buf - pos < header_size:
                break
            magic, token, compressed, size, _checksum = unpack(buf, pos)
            method, level = token & 0xF0, token & 0x0F
            if (magic != _LZ4_MAGIC or method not in (_LZ4_METHOD_RAW, _LZ4_METHOD_LZ4)
                    or not 0 <= compressed <= size <= 1 << (10 + level)
                    or (method == _LZ4_METHOD_RAW and compressed != size)):
                report._corrupt(f"corrupt lz4 block header at byte {consumed + pos}")
                pos, resync = pos + 1, True
                continue
            block_end = pos + header_size + compressed
            if block_end > end_of_buf:
                if final and buf.find(_LZ4_MAGIC, pos + 1) >= 0:
                    # The file ends before this block does, yet more blocks follow: its
                    # lengths are corrupt.
                    report._corrupt(f"corrupt lz4 block header at byte {consumed + pos}")
                    pos, resync = pos + 1, True
                    continue
                break
            block = buf[pos + header_size:block_end]
            if method == _LZ4_METHOD_LZ4:
                try:
                    block = decompress(block, uncompressed_size=size)
                except LZ4BlockError:
                    block = b""
                if len(block) != size:
                    report._corrupt(f"corrupt lz4 block at byte {consumed + pos}")
                    pos, resync = pos + 1, True
                    continue
            yield block
            ended = size == 0
            pos = block_end
        consumed += pos
        buf = buf[pos:]

    for data in raw:
        buf = buf + data if buf else data
        out = list(blocks(final=False))
        if out:
            yield b"".join(out)
    out = list(blocks(final=True))
    if out:
        yield b"".join(out)
    if (buf and not resync) or not ended:
        report.stream_ended_early = True


# snappy-java's SnappyOutputStream: a 16-byte header (magic, version, compatible version), then
# for every block its compressed length (big-endian int) and the raw snappy block. There is no end
# mark; a header may reappear where streams were concatenated.
_SNAPPY_LENGTH = struct.Struct(">i")
_SNAPPY_MAX_BLOCK = 1 << 30
_SNAPPY_MAX_RATIO = 32


def _snappy_chunks(raw: Iterable[bytes], report: FileReport) -> Iterator[bytes]:
    import cramjam

    decompress_raw = cramjam.snappy.decompress_raw
    decompress_raw_len = cramjam.snappy.decompress_raw_len
    unpack = _SNAPPY_LENGTH.unpack_from
    buf = b""
    consumed = 0
    for data in raw:
        buf = buf + data if buf else data
        pos = 0
        end_of_buf = len(buf)
        out = []
        lost = False  # a corrupt length: the blocks after it cannot be found
        while end_of_buf - pos >= 4:
            if buf.startswith(_SNAPPY_MAGIC[:4], pos):
                if end_of_buf - pos < _SNAPPY_HEADER_BYTES:
                    break
                if buf.startswith(_SNAPPY_MAGIC, pos):
                    pos += _SNAPPY_HEADER_BYTES
                    continue
            (length,) = unpack(buf, pos)
            if length < 0 or length > _SNAPPY_MAX_BLOCK:
                report._corrupt(f"corrupt snappy block length {length} at byte {consumed + pos}")
                lost = True
                break
            block_end = pos + 4 + length
            if block_end > end_of_buf:
                break
            block = buf[pos + 4:block_end]
            try:
                # A snappy block decodes to at most ~22x its size: a larger announced length is
                # corruption, and must not become an allocation of gigabytes.
                if decompress_raw_len(block) > _SNAPPY_MAX_RATIO * length + 64:
                    raise ValueError("announced length impossible for the block's size")
                out.append(decompress_raw(block))
            except Exception as e:  # noqa: BLE001 - cramjam.DecompressionError and kin
                report._corrupt(f"corrupt snappy block at byte {consumed + pos}: {_short(str(e))}")
            pos = block_end
        if out:
            yield b"".join(out)
        if lost:
            return
        consumed += pos
        buf = buf[pos:]
    if buf:
        report.stream_ended_early = True


_DECODERS: dict[str, Callable[[Iterable[bytes], FileReport], Iterator[bytes]]] = {
    "zstd": _zstd_chunks,
    "lz4": _lz4_chunks,
    "snappy": _snappy_chunks,
}

__all__ = [
    "CODECS", "SUPPORTED_CODECS", "KNOWN_EVENTS", "CORE_EVENTS", "SCHEDULER_EVENTS", "SQL_EVENTS",
    "STREAMING_EVENTS", "OTHER_SPARK_EVENTS", "EventLogError", "NotAnEventLog", "UnsupportedCodec",
    "LogSource", "discover", "codec_of", "read_events", "EventStream", "ReadReport", "FileReport",
    "MalformedLine",
]
