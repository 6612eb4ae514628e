"""What detectors share: configurable thresholds, severity by cost, and per-stage task statistics."""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from diag.diagnosis import Severity
from diag.model import AppModel


class Thresholds:
    """A detector module's UPPER_CASE constants, each overridable by config key ``<detector>.<name>``.

    >>> t = Thresholds("diag.detectors.skew", {"skew.factor": "3"})
    >>> t.FACTOR          # 3.0 instead of the module's 5
    """

    def __init__(self, module_name: str, config: dict[str, str] | None):
        self._module = sys.modules[module_name]
        self._prefix = module_name.rsplit(".", 1)[-1]
        self._config = config or {}

    def __getattr__(self, name: str):
        default = getattr(self._module, name)
        override = self._config.get(f"{self._prefix}.{name.lower()}")
        if override is None:
            return default
        if isinstance(default, bool):
            return str(override).strip().lower() == "true"
        if isinstance(default, int):
            return int(float(override))
        if isinstance(default, float):
            return float(override)
        return override


def severity_by_share(cost_ms: float, app_ms: float, floor: Severity = Severity.LOW) -> Severity:
    """How much of the application's wall time a problem costs decides how bad it is."""
    share = cost_ms / app_ms if app_ms > 0 else 0.0
    if share >= 0.6:
        return Severity.CRITICAL
    if share >= 0.3:
        return Severity.SEVERE
    if share >= 0.1:
        return Severity.MODERATE
    return floor


def total_cores(model: AppModel) -> int:
    cores = pc.sum(model.executors["cores"]).as_py() if model.executors.num_rows else 0
    return int(cores or 1)


@dataclass(frozen=True)
class StageTasks:
    """The successful tasks of one stage attempt, with the statistics detectors ask of them."""

    stage_id: int
    attempt: int
    name: str
    tasks: pa.Table

    def column(self, name: str) -> pa.ChunkedArray:
        return self.tasks[name]

    def median(self, name: str) -> float:
        return float(pc.approximate_median(self.tasks[name]).as_py() or 0) if self.tasks.num_rows else 0.0

    def max(self, name: str) -> float:
        return float(pc.max(self.tasks[name]).as_py() or 0) if self.tasks.num_rows else 0.0

    def sum(self, name: str) -> int:
        return int(pc.sum(self.tasks[name]).as_py() or 0) if self.tasks.num_rows else 0


def successful_stage_tasks(model: AppModel) -> list[StageTasks]:
    """Each stage attempt that ran, with its successful tasks."""
    ok = model.tasks.filter(pc.equal(model.tasks["end_reason"], "Success"))
    out = []
    for stage in model.stages.filter(model.stages["ran"]).to_pylist():
        mask = pc.and_(pc.equal(ok["stage_id"], stage["stage_id"]), pc.equal(ok["stage_attempt"], stage["attempt"]))
        out.append(StageTasks(stage["stage_id"], stage["attempt"], stage["name"] or "", ok.filter(mask)))
    return out


def mib(n: float) -> float:
    return round(n / (1 << 20), 2)


def human_bytes(n: float) -> str:
    """``3.1 KiB``, ``48.0 MiB``: sizes for titles."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30,
          "t": 1 << 40, "tb": 1 << 40}


def conf_bytes(model: AppModel, key: str, default: int) -> int:
    """A size setting of the application (``"10MB"``, ``"256m"``, ``"1048576"``), or ``default``."""
    value = model.conf(key)
    if value is None:
        return default
    m = re.fullmatch(r"\s*(-?\d+)\s*([a-zA-Z]*)\s*", value)
    if not m or m.group(2).lower() not in _UNITS:
        return default
    return int(m.group(1)) * _UNITS[m.group(2).lower()]
