"""How the dashboard writes numbers: durations, sizes and where a diagnosis is, as Spark's UI does.

    duration(1530)   -> "1.5 s"       size(3 * 1024**2) -> "3.0 MiB"
    where(diagnosis) -> "stage 2"     severity_text(Severity.SEVERE) -> Text("SEVERE", "bold red")
"""
from __future__ import annotations

from rich.text import Text

from diag.detectors.common import human_bytes
from diag.diagnosis import Diagnosis, Severity
from diag.report import SEVERITY_STYLE, _where


def duration(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.1f} min"
    return f"{ms / 3_600_000:.1f} h"


def size(n: float | None) -> str:
    return "-" if n is None else human_bytes(n)


def where(d: Diagnosis) -> str:
    """Where a diagnosis is, in the same words as ``ember diagnose``."""
    return _where(d)


def severity_style(severity: Severity) -> str:
    return SEVERITY_STYLE[severity]


def severity_text(severity: Severity) -> Text:
    return Text(str(severity).upper(), style=severity_style(severity))
