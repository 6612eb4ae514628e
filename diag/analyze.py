"""The analyzer's one entry point: a path in, one report per application found under it.

    reports = analyze("ember-events/", config={"skew.factor": "4"})

Each log is streamed through the reader into the model, then every detector runs. A file that is
not an event log fails on its own (``NotAnEventLog``); the other applications are still analysed.
"""
from __future__ import annotations

import os
from typing import Callable

from diag.detectors import run_detectors
from diag.eventlog import EventLogError, LogSource, discover, read_events
from diag.model import build_model
from diag.report import ApplicationReport

ProgressCallback = Callable[[LogSource, int, int], None]


class AnalysisError(Exception):
    """No application could be analysed under a path; the message says why for each log."""


def analyze_source(source: LogSource, config: dict | None = None,
                   on_progress: ProgressCallback | None = None) -> ApplicationReport:
    progress = (lambda done, total: on_progress(source, done, total)) if on_progress else None
    stream = read_events(source, on_progress=progress, lean_task_ends=True)
    model = build_model(stream)
    report = stream.report
    problems = []
    if report.malformed_count:
        first = report.malformed[0]
        problems.append(f"skipped {report.malformed_count} malformed line(s), the first at "
                        f"{first.path}:{first.line_number}: {first.reason}")
    if report.status != "complete":
        problems.append(f"the log is {report.status}")
    return ApplicationReport(
        path=str(source.path), model=model, run=run_detectors(model, config),
        complete=report.status == "complete", events_read=report.events,
        malformed_lines=report.malformed_count, unknown_events=dict(report.unknown_events),
        read_problems=problems)


def analyze(path: str | os.PathLike, config: dict | None = None,
            on_progress: ProgressCallback | None = None) -> tuple[list[ApplicationReport], list[str]]:
    """Reports for every application under ``path``, and the errors of the logs that could not be read."""
    if not os.path.exists(path):
        raise AnalysisError(f"{path}: no such file or directory")
    sources = discover(path)
    if not sources:
        raise AnalysisError(f"{path}: no Spark event logs found here")
    reports, errors = [], []
    for source in sources:
        try:
            reports.append(analyze_source(source, config, on_progress))
        except (EventLogError, OSError) as e:
            errors.append(str(e))
    if not reports:
        raise AnalysisError("; ".join(errors))
    return reports, errors
