"""TaskEnd events decoded into only the fields the model reads: the analyzer's hot path.

A Spark 4 TaskEnd line is 3-8 KB of JSON; decoding all of it builds hundreds of Python objects
the model never looks at (executor metrics, internal accumulables). ``decode_task_end`` decodes
the fields ``diag.model`` uses into msgspec structs that answer ``.get(json_key)`` as dicts do,
so the model reads them unchanged. A line that does not fit (a damaged value) raises
``msgspec.DecodeError``; the reader then falls back to a full parse, which reports it.
"""
from __future__ import annotations

import operator
from typing import Any, Callable, ClassVar

import msgspec


class _Record(msgspec.Struct, frozen=True):
    """A struct that reads like the JSON object it came from: ``record.get("Task ID")``."""

    _by_json_name: ClassVar[dict[str, str]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        attr = self._by_json_name.get(key)
        value = getattr(self, attr) if attr is not None else None
        return default if value is None else value


def _record(name: str, fields: list[tuple[str, Any]]) -> type:
    """A record type for JSON keys ``fields`` (key, type); every field may be absent."""
    attrs = [(f"f{i}", type_ | None, msgspec.field(name=key, default=None)) for i, (key, type_) in enumerate(fields)]
    cls = msgspec.defstruct(name, attrs, bases=(_Record,), frozen=True)
    cls._by_json_name = {key: f"f{i}" for i, (key, _) in enumerate(fields)}
    return cls


_Accumulable = _record("Accumulable", [("ID", int), ("Update", Any), ("Metadata", str)])
_TaskInfo = _record("TaskInfo", [
    ("Task ID", int), ("Index", int), ("Attempt", int), ("Partition ID", int), ("Launch Time", int),
    ("Finish Time", int), ("Getting Result Time", int), ("Speculative", bool), ("Failed", bool), ("Killed", bool),
    ("Executor ID", str), ("Host", str), ("Locality", str), ("Accumulables", list[_Accumulable]),
])
_Group = {
    "Input Metrics": _record("InputMetrics", [("Bytes Read", int), ("Records Read", int)]),
    "Output Metrics": _record("OutputMetrics", [("Bytes Written", int), ("Records Written", int)]),
    "Shuffle Read Metrics": _record("ShuffleReadMetrics", [
        ("Remote Bytes Read", int), ("Local Bytes Read", int), ("Remote Blocks Fetched", int),
        ("Local Blocks Fetched", int), ("Fetch Wait Time", int), ("Total Records Read", int)]),
    "Shuffle Write Metrics": _record("ShuffleWriteMetrics", [
        ("Shuffle Bytes Written", int), ("Shuffle Write Time", int), ("Shuffle Records Written", int)]),
}
_TaskMetrics = _record("TaskMetrics", [
    ("Executor Run Time", int), ("Executor CPU Time", int), ("Executor Deserialize Time", int),
    ("Executor Deserialize CPU Time", int), ("Result Size", int), ("JVM GC Time", int),
    ("Result Serialization Time", int), ("Peak Execution Memory", int), ("Memory Bytes Spilled", int),
    ("Disk Bytes Spilled", int), *_Group.items(),
])
_EndReason = _record("TaskEndReason", [
    ("Reason", str), ("Class Name", str), ("Description", str), ("Message", str), ("Loss Reason", str),
    ("Kill Reason", str)])
_TaskEnd = _record("TaskEnd", [
    ("Event", str), ("Stage ID", int), ("Stage Attempt ID", int), ("Task Type", str),
    ("Task End Reason", _EndReason), ("Task Info", _TaskInfo), ("Task Metrics", _TaskMetrics)])

TASK_END_PREFIX = b'{"Event":"SparkListenerTaskEnd"'
decode_task_end = msgspec.json.Decoder(_TaskEnd).decode
TaskEndRecord = _TaskEnd
TaskInfoRecord = _TaskInfo
TaskMetricsRecord = _TaskMetrics
GROUP_RECORDS = _Group
AccumulableRecord = _Accumulable


def getter(record_type: type, json_keys) -> Callable[[Any], tuple]:
    """A C-speed function reading ``json_keys`` of a record as a tuple (``None`` where absent)."""
    attrs = [record_type._by_json_name[k] for k in json_keys]
    get = operator.attrgetter(*attrs)
    return (lambda record: (get(record),)) if len(attrs) == 1 else get
