"""Spark's configuration keys and defaults, and ``spark.conf`` (``RuntimeConfig``).

Keys, defaults and value syntax are Spark's, so a user's settings carry over unchanged.
"""
from __future__ import annotations

import os
import re

DEFAULTS: dict[str, str] = {
    "spark.master": "local[*]",
    "spark.app.name": "ember",
    "spark.sql.shuffle.partitions": "200",
    "spark.sql.autoBroadcastJoinThreshold": "10485760",
    "spark.sql.files.maxPartitionBytes": "134217728",
    "spark.sql.files.openCostInBytes": "4194304",
    "spark.sql.codegen.wholeStage": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes": "64MB",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.parallelismFirst": "true",
    "spark.sql.adaptive.coalescePartitions.minPartitionSize": "1MB",
    "spark.sql.adaptive.skewJoin.enabled": "true",
    "spark.sql.adaptive.skewJoin.skewedPartitionFactor": "5.0",
    "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes": "256MB",
    "spark.sql.adaptive.localShuffleReader.enabled": "true",
    "spark.sql.caseSensitive": "false",
    "spark.sql.inMemoryColumnarStorage.compressed": "true",
    "spark.eventLog.enabled": "true",
    "spark.eventLog.dir": "./ember-events",
    "spark.eventLog.compress": "true",
    "spark.eventLog.compression.codec": "zstd",
    "spark.eventLog.rolling.enabled": "true",
    "spark.eventLog.rolling.maxFileSize": "128m",
    "spark.local.dir": "/tmp",
    "spark.shuffle.compress": "true",
    "spark.shuffle.checksum.enabled": "true",
    "spark.shuffle.checksum.algorithm": "ADLER32",
    "spark.cleaner.referenceTracking": "true",
    "spark.speculation": "false",
    "spark.speculation.interval": "100ms",
    "spark.speculation.multiplier": "1.5",
    "spark.speculation.quantile": "0.75",
    "spark.speculation.minTaskRuntime": "100ms",
}

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
               "g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50}


def bytes_to_string(n: float) -> str:
    """Spark's ``Utils.bytesToString``, as explain prints sizes: ``512 B``, ``3.1 KiB``, ``45.8 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def parse_bytes(value: str | int) -> int:
    """``"10MB"``, ``"128m"``, ``"1g"`` or a plain number of bytes (``-1`` stays -1)."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(-?\d+)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size in bytes: {value!r} (examples: 10485760, 10MB, 128m)")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


# Spark's default spark.task.maxFailures on a cluster (local masters default to one attempt).
CLUSTER_MAX_FAILURES = 4

_LOCAL_CLUSTER = re.compile(r"local-cluster\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]")


def parse_local_cluster(master: str) -> tuple[int, int, int] | None:
    """``local-cluster[E,C,M]``: E executor processes with C task slots and M MiB each; None for
    another master."""
    m = _LOCAL_CLUSTER.fullmatch(master.strip())
    if not m:
        return None
    executors, cores, memory_mb = (int(g) for g in m.groups())
    if executors < 1 or cores < 1 or memory_mb < 1:
        raise ValueError(f"Master URL '{master}': executors, cores and memory (MiB) must each be at least 1")
    return executors, cores, memory_mb


def parse_master(master: str) -> tuple[int, int]:
    """Task slots and max task failures of a master URL: ``local``, ``local[N]``, ``local[*]``,
    ``local[N,F]``, or ``local-cluster[E,C,M]`` (E*C slots, Spark's cluster default of 4 attempts)."""
    cluster = parse_local_cluster(master)
    if cluster is not None:
        return cluster[0] * cluster[1], CLUSTER_MAX_FAILURES
    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:\s*,\s*(\d+))?\])?", master.strip())
    if not m:
        raise ValueError(
            f"Could not parse Master URL: '{master}'. Ember runs local, local[N], local[*], local[N,F] "
            "and local-cluster[E,C,M]."
        )
    if m.group(1) is None:
        slots = 1
    elif m.group(1) == "*":
        slots = os.cpu_count() or 1
    else:
        slots = int(m.group(1))
    failures = int(m.group(2)) if m.group(2) else 1
    if slots < 1:
        raise ValueError(f"Asked to run locally with {slots} threads in master URL '{master}'")
    return slots, failures


class RuntimeConfig:
    """``spark.conf``: get and set Spark configuration values (always strings, as Spark keeps them)."""

    _UNSET = object()

    def __init__(self, values: dict[str, str]):
        self._values = dict(values)

    def get(self, key: str, default=_UNSET):
        if key in self._values:
            return self._values[key]
        if default is not RuntimeConfig._UNSET:
            return default
        if key in DEFAULTS:
            return DEFAULTS[key]
        raise KeyError(f"[SQL_CONF_NOT_FOUND] The SQL config \"{key}\" cannot be found.")

    def set(self, key: str, value) -> None:
        self._values[key] = str(value).lower() if isinstance(value, bool) else str(value)

    def unset(self, key: str) -> None:
        self._values.pop(key, None)

    def get_bool(self, key: str) -> bool:
        return str(self.get(key)).strip().lower() == "true"

    def get_bytes(self, key: str) -> int:
        return parse_bytes(self.get(key))

    def getAll(self) -> dict[str, str]:  # noqa: N802 - PySpark's name
        return {**DEFAULTS, **self._values}

    def isModifiable(self, key: str) -> bool:  # noqa: N802
        return key.startswith("spark.sql.")
