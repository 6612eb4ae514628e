"""The record every detector returns: what is wrong, where, how bad, the evidence and the fix.

Detectors fill these in and never format text for a terminal; ``diag.report`` renders them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class Severity(IntEnum):
    """``info`` is context; ``low`` and above is a finding. Ordered, so ``>=`` compares them."""

    INFO = 0
    LOW = 1
    MODERATE = 2
    SEVERE = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {name!r}: one of {', '.join(s.name.lower() for s in cls)}") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Location:
    """Where a problem is: any of application, job, stage (and attempt), SQL execution and plan node."""

    app_id: str | None = None
    job_ids: tuple[int, ...] = ()
    stage_ids: tuple[int, ...] = ()
    stage_attempt: int | None = None
    sql_execution_id: int | None = None
    sql_node: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # "skew", "spill", "shuffle_heavy", "small_files", ...
    severity: Severity
    title: str  # one line: "Stage 4: one task read 40x the median"
    location: Location
    evidence: dict[str, float | int | str] = field(default_factory=dict)
    explanation: str = ""
    recommendation: str = ""
    estimated_cost_ms: int = 0  # wall-clock time the problem costs the application (for ranking)
