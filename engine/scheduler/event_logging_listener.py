"""Spark's ``EventLoggingListener``: write listener events as a Spark event log.

Configured from Spark's own keys, with Spark 4's defaults (checked against Spark's
``internal/config/package.scala`` and a default-configured pyspark 4.3 run):

=======================================  ====================  ===================================
key                                      Spark 4 default       Ember
=======================================  ====================  ===================================
``spark.eventLog.dir``                   ``/tmp/spark-events``  ``./ember-events``, created if
                                                               missing (Spark refuses a missing
                                                               directory); ``file:`` URIs or paths
``spark.eventLog.compress``              true                  same
``spark.eventLog.compression.codec``     zstd                  zstd, lz4, snappy; also ``none``
``spark.eventLog.rolling.enabled``       true                  same
``spark.eventLog.rolling.maxFileSize``   128m (Spark: >= 10m)  same; any positive size accepted
``spark.eventLog.overwrite``             false                 same
``spark.redaction.regex``                secret|password|...   same
=======================================  ====================  ===================================

Layout, exactly as Spark's ``EventLogFileWriters``::

    single file:  <dir>/<appId>[_<attempt>][.<codec>].inprogress   renamed on stop() to
                  <dir>/<appId>[_<attempt>][.<codec>]
    rolling:      <dir>/eventlog_v2_<appId>[_<attempt>]/
                      appstatus_<appId>[_<attempt>].inprogress     renamed on stop() (no suffix)
                      events_1_<appId>[_<attempt>][.<codec>]
                      events_2_<appId>[_<attempt>][.<codec>]       ...

``start()`` creates the file(s) and writes the ``SparkListenerLogStart`` line, then (as Spark's
``SparkContext`` posts first) ``SparkListenerResourceProfileAdded`` for the default profile. As
in Spark, only the first rolling file starts with ``LogStart``: later files start mid-stream, and
a file rolls over before the line that would take its uncompressed size past ``maxFileSize``.
A ``SparkListenerLogStart`` posted to ``on_event`` is dropped: the listener wrote its own.

Flush policy: a live reader (the History Server with ``update.interval``) must be able to follow
the log, so the compressor (zstd ``FLUSH_BLOCK``, a closed lz4/snappy block) and the file are
flushed after every event other than ``TaskStart``/``TaskEnd``, after every
``FLUSH_EVERY_TASK_EVENTS`` task events, and by a background thread at least every
``FLUSH_INTERVAL_S`` seconds while unflushed data is pending.

Compressed streams are the ones Spark's readers expect: one zstd frame per file (zstd-jni reads it
as a stream); lz4-java's ``LZ4BlockOutputStream`` framing for lz4 (blocks with an xxhash32
checksum); snappy-java's ``SnappyOutputStream`` framing for snappy. lzf is not supported.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping
from urllib.parse import unquote, urlsplit

import orjson

from engine.scheduler.events import (
    SparkListenerEnvironmentUpdate,
    SparkListenerEvent,
    SparkListenerJobStart,
    SparkListenerLogStart,
    SparkListenerStageSubmitted,
    SparkListenerTaskEnd,
    SparkListenerTaskStart,
)
from engine.scheduler.json_protocol import event_to_json, resource_profile_added_json

# The Spark release whose event-log format Ember writes; shown by the History Server.
SPARK_VERSION = "4.3.0"

DEFAULT_LOG_DIR = "./ember-events"
DEFAULT_CODEC = "zstd"
DEFAULT_MAX_FILE_SIZE = "128m"
DEFAULT_REDACTION_REGEX = r"(?i)secret|password|token|access[.]?key"
REDACTION_REPLACEMENT_TEXT = "*********(redacted)"  # Spark's Utils.REDACTION_REPLACEMENT_TEXT

FLUSH_INTERVAL_S = 1.0
FLUSH_EVERY_TASK_EVENTS = 500

IN_PROGRESS = ".inprogress"
EVENT_LOG_DIR_PREFIX = "eventlog_v2_"
EVENT_LOG_FILE_PREFIX = "events_"
APPSTATUS_FILE_PREFIX = "appstatus_"

# Events Spark does not flush after: a stage's tasks arrive in bursts.
_UNFLUSHED_EVENTS = (SparkListenerTaskStart, SparkListenerTaskEnd)

_CODEC_CLASS_NAMES = {
    "org.apache.spark.io.ZStdCompressionCodec": "zstd",
    "org.apache.spark.io.LZ4CompressionCodec": "lz4",
    "org.apache.spark.io.SnappyCompressionCodec": "snappy",
    "org.apache.spark.io.LZFCompressionCodec": "lzf",
}


class EventLoggingListener:
    """Write an application's listener events to a Spark event log.

    ``conf`` is a mapping of Spark configuration keys (see the module docstring); values may be
    strings as in ``spark-defaults.conf`` or Python values::

        listener = EventLoggingListener("local-1700000000000", {
            "spark.eventLog.dir": "file:///tmp/spark-events",
            "spark.eventLog.rolling.enabled": "false",
        })
        listener.start()
        for event in events:
            listener.on_event(event)
        listener.stop()   # /tmp/spark-events/local-1700000000000.zstd

    ``on_event`` may be called from several threads.
    """

    def __init__(
        self,
        app_id: str,
        conf: Mapping[str, Any] | None = None,
        *,
        app_attempt_id: str | None = None,
        spark_version: str = SPARK_VERSION,
    ) -> None:
        conf = dict(conf or {})
        self._conf = conf
        self.spark_version = spark_version
        self._base_dir = _local_directory(conf.get("spark.eventLog.dir", DEFAULT_LOG_DIR))
        compress = _conf_bool(conf, "spark.eventLog.compress", True)
        codec_name = conf.get("spark.eventLog.compression.codec", DEFAULT_CODEC)
        self._codec: _Codec | None = _codec(codec_name, conf) if compress else None
        self._rolling = _conf_bool(conf, "spark.eventLog.rolling.enabled", True)
        self._max_file_size = byte_size(
            conf.get("spark.eventLog.rolling.maxFileSize", DEFAULT_MAX_FILE_SIZE)
        )
        if self._max_file_size <= 0:
            raise ValueError("spark.eventLog.rolling.maxFileSize must be positive")
        self._overwrite = _conf_bool(conf, "spark.eventLog.overwrite", False)
        self._redaction = re.compile(conf.get("spark.redaction.regex", DEFAULT_REDACTION_REGEX))

        self._name = _name_for_app_and_attempt(app_id, app_attempt_id)
        suffix = f".{self._codec.name}" if self._codec else ""
        if self._rolling:
            self._log_path = self._base_dir / f"{EVENT_LOG_DIR_PREFIX}{self._name}"
        else:
            self._log_path = self._base_dir / f"{self._name}{suffix}"

        self._lock = threading.Lock()
        self._sink: _Sink | None = None
        self._file_index = 0  # rolling: number of the current events_<N>_ file
        self._file_bytes = 0  # uncompressed bytes in the current file, as Spark counts them
        self._dirty = False
        self._task_events_since_flush = 0
        self._state = "new"  # -> "started" -> "stopped"
        self._stop_flusher = threading.Event()
        self._flusher: threading.Thread | None = None

    # -----------------------------------------------------------------------------------------
    # public API

    @property
    def log_path(self) -> Path:
        """The log's final path: the file (single-file logs) or the ``eventlog_v2_`` directory."""
        return self._log_path

    def start(self) -> None:
        """Create the log file(s), write ``LogStart`` and start the periodic flusher."""
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"EventLoggingListener already {self._state}")
            self._base_dir.mkdir(parents=True, exist_ok=True)
            if self._rolling:
                self._start_rolling()
            else:
                self._start_single_file()
            self._state = "started"
            self._write(_line(event_to_json(SparkListenerLogStart(self.spark_version))))
            self._write(_line(resource_profile_added_json()))
            self._flush()
        self._flusher = threading.Thread(
            target=self._flush_periodically, name="event-log-flusher", daemon=True
        )
        self._flusher.start()

    def on_event(self, event: SparkListenerEvent) -> None:
        """Append ``event`` as one JSON line; flush unless it is a task start or end."""
        if isinstance(event, SparkListenerLogStart):
            return
        line = _line(event_to_json(self._redact(event)))
        with self._lock:
            if self._state != "started":
                raise RuntimeError(f"EventLoggingListener is {self._state}: call start() first")
            self._write(line)
            if isinstance(event, _UNFLUSHED_EVENTS):
                self._task_events_since_flush += 1
                if self._task_events_since_flush >= FLUSH_EVERY_TASK_EVENTS:
                    self._flush()
            else:
                self._flush()

    def flush(self) -> None:
        """Make everything logged so far readable by another process."""
        with self._lock:
            if self._state == "started":
                self._flush()

    def stop(self) -> None:
        """Flush and close the log, then drop the ``.inprogress`` suffix. Idempotent."""
        with self._lock:
            if self._state != "started":
                self._state = "stopped"
                return
            self._state = "stopped"
        self._stop_flusher.set()
        if self._flusher is not None:
            self._flusher.join()
        assert self._sink is not None
        self._sink.close()
        self._sink = None
        if self._rolling:
            final = self._appstatus_path(in_progress=False)
        else:
            final = self._log_path
            if final.exists() and not self._overwrite:
                raise FileExistsError(f"Target log file already exists ({final})")
        _in_progress(final).replace(final)
        os.utime(final)  # as Spark: rename() need not update the modification time

    def __enter__(self) -> EventLoggingListener:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -----------------------------------------------------------------------------------------
    # files

    def _start_single_file(self) -> None:
        final = self._log_path
        if final.exists() and not self._overwrite:
            # Spark finds out at stop(); failing before the application runs is kinder.
            raise FileExistsError(f"Target log file already exists ({final})")
        self._sink = self._open_sink(_in_progress(final))

    def _start_rolling(self) -> None:
        app_dir = self._log_path
        if app_dir.exists():
            if not self._overwrite:
                raise FileExistsError(f"Target log directory already exists ({app_dir})")
            shutil.rmtree(app_dir)
        app_dir.mkdir()
        self._appstatus_path(in_progress=True).touch()  # zero bytes, as Spark's
        self._roll_over()

    def _appstatus_path(self, *, in_progress: bool) -> Path:
        path = self._log_path / f"{APPSTATUS_FILE_PREFIX}{self._name}"
        return _in_progress(path) if in_progress else path

    def _roll_over(self) -> None:
        if self._sink is not None:
            self._sink.close()
        self._file_index += 1
        suffix = f".{self._codec.name}" if self._codec else ""
        name = f"{EVENT_LOG_FILE_PREFIX}{self._file_index}_{self._name}{suffix}"
        self._sink = self._open_sink(self._log_path / name)
        self._file_bytes = 0

    def _open_sink(self, path: Path) -> _Sink:
        raw = open(path, "wb")
        return self._codec.open(raw) if self._codec else _PlainSink(raw)

    # -----------------------------------------------------------------------------------------
    # writing (callers hold self._lock)

    def _write(self, line: bytes) -> None:
        if (
            self._rolling
            and self._file_bytes > 0  # never leave an empty file behind (Spark would)
            and self._file_bytes + len(line) > self._max_file_size
        ):
            self._roll_over()
        assert self._sink is not None
        self._sink.write(line)
        self._file_bytes += len(line)
        self._dirty = True

    def _flush(self) -> None:
        if self._dirty and self._sink is not None:
            self._sink.flush()
        self._dirty = False
        self._task_events_since_flush = 0

    def _flush_periodically(self) -> None:
        while not self._stop_flusher.wait(FLUSH_INTERVAL_S):
            with self._lock:
                if self._state == "started":
                    self._flush()

    # -----------------------------------------------------------------------------------------
    # redaction, as Spark's EventLoggingListener does it

    def _redact(self, event: SparkListenerEvent) -> SparkListenerEvent:
        if isinstance(event, SparkListenerEnvironmentUpdate):
            return replace(
                event,
                spark_properties=self._redact_map(event.spark_properties),
                system_properties=self._redact_map(event.system_properties),
                jvm_information=self._redact_map(event.jvm_information),
                classpath_entries=self._redact_map(event.classpath_entries),
                hadoop_properties=self._redact_map(event.hadoop_properties),
            )
        if isinstance(event, (SparkListenerJobStart, SparkListenerStageSubmitted)):
            # Only properties that come from the configuration: job descriptions and other
            # local properties are left alone (Spark's redactProperties).
            redacted = self._redact_map({k: v for k, v in event.properties.items() if k in self._conf})
            if any(redacted[k] != event.properties[k] for k in redacted):
                return replace(event, properties={**event.properties, **redacted})
        return event

    def _redact_map(self, values: dict[str, str]) -> dict[str, str]:
        search = self._redaction.search
        return {
            k: REDACTION_REPLACEMENT_TEXT if search(str(k)) or search(str(v)) else v
            for k, v in values.items()
        }


# ---------------------------------------------------------------------------------------------
# configuration values


def byte_size(value: int | str) -> int:
    """Parse a Spark byte size: an int, ``"1048576"``, ``"128m"``, ``"10mb"``, ``"1g"``.

    Units are binary (``k`` = 1024), as Spark's ``JavaUtils.byteStringAs``; no unit means bytes.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a byte size: {value!r}")
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", str(value).lower())
    if not m or m[2] not in _BYTE_UNITS:
        raise ValueError(
            f"not a byte size: {value!r} (expected an integer with an optional unit "
            f"b, k, kb, m, mb, g, gb, t, tb, p, pb; fractions are not allowed)"
        )
    return int(m[1]) * _BYTE_UNITS[m[2]]


_BYTE_UNITS = {"": 1, "b": 1}
for _exp, _unit in enumerate("kmgtp", start=1):
    _BYTE_UNITS[_unit] = _BYTE_UNITS[_unit + "b"] = 1024**_exp


def _conf_bool(conf: Mapping[str, Any], key: str, default: bool) -> bool:
    value = conf.get(key, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(f"{key} should be boolean, but was {value!r}")


def _local_directory(value: str | os.PathLike[str]) -> Path:
    """``file:///x``, ``file:/x``, ``file://localhost/x`` or a plain path -> a local ``Path``."""
    text = os.fspath(value)
    parts = urlsplit(text)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"spark.eventLog.dir={text!r}: not a local file URI")
        return Path(unquote(parts.path))
    if len(parts.scheme) > 1:  # one letter is a Windows drive
        raise ValueError(
            f"spark.eventLog.dir={text!r}: Ember writes event logs to local directories only "
            f"(a plain path or a file: URI)"
        )
    return Path(text)


def _name_for_app_and_attempt(app_id: str, attempt_id: str | None) -> str:
    # Spark's EventLogFileWriter.nameForAppAndAttempt with Utils.sanitizeDirName.
    def sanitize(text: str) -> str:
        return re.sub(r"[.${}'\"]", "_", re.sub(r"[ :/]", "-", text)).lower()

    base = sanitize(app_id)
    return f"{base}_{sanitize(attempt_id)}" if attempt_id else base


def _in_progress(path: Path) -> Path:
    return path.with_name(path.name + IN_PROGRESS)


def _line(event_json: dict[str, Any]) -> bytes:
    return orjson.dumps(event_json) + b"\n"


# ---------------------------------------------------------------------------------------------
# compressed streams, framed as the Java libraries Spark reads them with


class _Sink:
    """A byte stream into one log file."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _PlainSink(_Sink):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def write(self, data: bytes) -> None:
        self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        self._raw.close()


class _ZstdSink(_Sink):
    """One zstd frame per file (no content size: it is streamed), blocks flushed on demand."""

    def __init__(self, raw: BinaryIO, level: int) -> None:
        import zstandard

        self._flush_block = zstandard.FLUSH_BLOCK
        self._writer = zstandard.ZstdCompressor(level=level).stream_writer(raw, closefd=True)

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def flush(self) -> None:
        self._writer.flush(self._flush_block)  # also flushes the file

    def close(self) -> None:
        self._writer.close()  # ends the frame


class _BlockSink(_Sink):
    """Buffers up to ``block_size`` bytes and writes them as one framed block."""

    def __init__(
        self,
        raw: BinaryIO,
        block_size: int,
        encode_block: Callable[[bytes], bytes],
        header: bytes = b"",
        trailer: bytes = b"",
    ) -> None:
        self._raw = raw
        self._block_size = block_size
        self._encode_block = encode_block
        self._trailer = trailer
        self._buffer = bytearray()
        raw.write(header)

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self._block_size:
            self._raw.write(self._encode_block(bytes(self._buffer[: self._block_size])))
            del self._buffer[: self._block_size]

    def flush(self) -> None:
        if self._buffer:
            self._raw.write(self._encode_block(bytes(self._buffer)))
            self._buffer.clear()
        self._raw.flush()

    def close(self) -> None:
        self.flush()
        self._raw.write(self._trailer)
        self._raw.close()


class _Codec:
    def __init__(self, name: str, open_sink: Callable[[BinaryIO], _Sink]) -> None:
        self.name = name  # Spark's short name: the file suffix
        self.open = open_sink


def _codec(name: str, conf: Mapping[str, Any]) -> _Codec | None:
    short = _CODEC_CLASS_NAMES.get(name, str(name).strip().lower())
    if short == "none":
        return None
    if short == "zstd":
        level = int(conf.get("spark.io.compression.zstd.level", 1))
        return _Codec("zstd", lambda raw: _ZstdSink(raw, level))
    if short == "lz4":
        block_size = byte_size(conf.get("spark.io.compression.lz4.blockSize", "32k"))
        return _Codec("lz4", lambda raw: _lz4_block_sink(raw, block_size))
    if short == "snappy":
        block_size = byte_size(conf.get("spark.io.compression.snappy.blockSize", "32k"))
        return _Codec("snappy", lambda raw: _snappy_sink(raw, block_size))
    raise ValueError(
        f"spark.eventLog.compression.codec={name!r}: Ember writes zstd, lz4 or snappy event logs "
        f"(or 'none' for plain text)"
    )


# snappy-java's SnappyOutputStream: a 16-byte header (magic, version 1, compatible version 1),
# then per block the big-endian length of the raw-snappy compressed block and the block.
_SNAPPY_JAVA_HEADER = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)


def _snappy_sink(raw: BinaryIO, block_size: int) -> _Sink:
    import cramjam

    def encode(block: bytes) -> bytes:
        compressed = bytes(cramjam.snappy.compress_raw(block))
        return struct.pack(">i", len(compressed)) + compressed

    return _BlockSink(raw, block_size, encode, header=_SNAPPY_JAVA_HEADER)


# lz4-java's LZ4BlockOutputStream: per block "LZ4Block", a token (method | level), compressed and
# original lengths, the xxhash32 (seed 0x9747b28c, low 28 bits) of the original bytes, the data;
# an empty RAW block ends the stream.
_LZ4_MAGIC = b"LZ4Block"
_LZ4_METHOD_RAW = 0x10
_LZ4_METHOD_LZ4 = 0x20
_LZ4_SEED = 0x9747B28C


def _lz4_block_sink(raw: BinaryIO, block_size: int) -> _Sink:
    import lz4.block

    level = max(0, (block_size - 1).bit_length() - 10)

    def encode(block: bytes) -> bytes:
        compressed = lz4.block.compress(block, mode="default", store_size=False)
        method = _LZ4_METHOD_LZ4
        if len(compressed) >= len(block):
            compressed, method = block, _LZ4_METHOD_RAW
        checksum = xxhash32(block, _LZ4_SEED) & 0x0FFFFFFF
        head = struct.pack("<8sBiii", _LZ4_MAGIC, method | level, len(compressed), len(block), checksum)
        return head + compressed

    trailer = struct.pack("<8sBiii", _LZ4_MAGIC, _LZ4_METHOD_RAW | level, 0, 0, 0)
    return _BlockSink(raw, block_size, encode, trailer=trailer)


_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_M32 = 0xFFFFFFFF


def xxhash32(data: bytes, seed: int = 0) -> int:
    """XXH32 (pure Python: only lz4 event logs need it, one call per 32 KiB block)."""

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & _M32

    n = len(data)
    i = 0
    if n >= 16:
        v1, v2, v3, v4 = (seed + _P1 + _P2) & _M32, (seed + _P2) & _M32, seed, (seed - _P1) & _M32
        words = struct.unpack_from(f"<{n // 16 * 4}I", data)
        for j in range(0, len(words), 4):
            v1 = rotl((v1 + words[j] * _P2) & _M32, 13) * _P1 & _M32
            v2 = rotl((v2 + words[j + 1] * _P2) & _M32, 13) * _P1 & _M32
            v3 = rotl((v3 + words[j + 2] * _P2) & _M32, 13) * _P1 & _M32
            v4 = rotl((v4 + words[j + 3] * _P2) & _M32, 13) * _P1 & _M32
        h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) & _M32
        i = n // 16 * 16
    else:
        h = (seed + _P5) & _M32
    h = (h + n) & _M32
    while i + 4 <= n:
        (word,) = struct.unpack_from("<I", data, i)
        h = rotl((h + word * _P3) & _M32, 17) * _P4 & _M32
        i += 4
    while i < n:
        h = rotl((h + data[i] * _P5) & _M32, 11) * _P1 & _M32
        i += 1
    h ^= h >> 15
    h = h * _P2 & _M32
    h ^= h >> 13
    h = h * _P3 & _M32
    h ^= h >> 16
    return h
