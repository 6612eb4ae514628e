"""What counts as a regression: the limits each figure may grow by, and the gate records.

Default limits, and why:

    tasks, failed_tasks, jobs, stages, *_records   0         the same data and plan give exactly these
    input/output/shuffle *_bytes                   5 %       compressed sizes wobble a little with
                                                             the order rows reach a compressor in
    spill_*_bytes                                  10 %      spill depends on memory timing; from
                                                             zero to anything still fails
    duration (times)                               10 %      and at least TIME_FLOOR_MS, and only when
                                                             Mann-Whitney over repeated runs says so
    plan shape                                     exact     unless ``allow_plan_changes``

Only increases fail: fewer bytes or tasks is an improvement. ``--max-increase`` overrides a limit:
``shuffle_write=10%`` (relative), ``tasks=4`` (absolute, in the metric's unit), ``spill=off``. A key
names a metric or every metric it prefixes at an underscore (``shuffle_write`` covers
``shuffle_write_bytes`` and ``shuffle_write_records``; ``bytes`` is not a prefix of anything).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from diag.diagnosis import Severity
from diag.diff.layout import APPLICATION_METRICS

TIME_METRIC = "duration"
TIME_FLOOR_MS = 100  # a slowdown smaller than this is not worth failing a build, however significant
ALPHA = 0.05  # family-wise false-alarm rate of the time gates of one application (Holm-corrected)


@dataclass(frozen=True)
class Limit:
    """How much a figure may grow: ``relative`` (0.05 is 5 %) or ``absolute`` units; ``off`` never fails."""

    relative: float | None = None
    absolute: float | None = None

    @property
    def off(self) -> bool:
        return self.relative is None and self.absolute is None

    def exceeded(self, base: float, new: float) -> bool:
        if self.off or new <= base:
            return False
        if self.relative is not None:
            return new > base * (1 + self.relative)
        return new - base > self.absolute

    def __str__(self) -> str:
        if self.off:
            return "off"
        if self.relative is not None:
            return f"{self.relative * 100:g}%"
        return f"{self.absolute:g}"

    @classmethod
    def parse(cls, text: str) -> Limit:
        text = text.strip().lower()
        if text in ("off", "none", "any"):
            return cls()
        try:
            if text.endswith("%"):
                value = float(text[:-1]) / 100
                limit = cls(relative=value)
            else:
                value = float(text)
                limit = cls(absolute=value)
        except ValueError:
            raise ValueError(f"a limit is N% (relative), N (absolute) or off, not {text!r}") from None
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"a limit must be a finite number >= 0, not {text!r}")
        return limit


def _default_limit(metric: str) -> Limit:
    if metric == TIME_METRIC:
        return Limit(relative=0.10)
    if metric.startswith("spill_"):
        return Limit(relative=0.10)
    if metric.endswith("_bytes"):
        return Limit(relative=0.05)
    return Limit(absolute=0)


METRICS = (*APPLICATION_METRICS, TIME_METRIC)
DEFAULT_LIMITS = {m: _default_limit(m) for m in METRICS}


def parse_limits(pairs: list[str]) -> dict[str, Limit]:
    """``["shuffle_write=10%", "tasks=2"]`` -> the default limits with those overridden."""
    limits = dict(DEFAULT_LIMITS)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--max-increase takes METRIC=LIMIT, got {pair!r}")
        covered = [m for m in METRICS if m == key or m.startswith(key + "_")]
        if not covered:
            raise ValueError(f"--max-increase: unknown metric {key!r}; known: {', '.join(METRICS)}")
        limit = Limit.parse(value)
        limits.update(dict.fromkeys(covered, limit))
    return limits


@dataclass(frozen=True)
class Thresholds:
    limits: dict[str, Limit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    alpha: float = ALPHA
    time_floor_ms: int = TIME_FLOOR_MS
    fail_on_new_diagnosis: Severity | None = Severity.LOW  # None: new diagnoses are reported only
    allow_plan_changes: bool = False


@dataclass(frozen=True)
class Gate:
    """One pass/fail check; each becomes a JUnit testcase."""

    application: str
    name: str
    kind: str  # "application", "figures", "plan", "time", "diagnoses"
    passed: bool
    message: str
