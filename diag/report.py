"""Renderings of an analysis: text for a terminal (rich), JSON for tools, Markdown for CI comments.

The JSON schema (``"schema": "ember.diagnose/1"``), stable across versions of the same schema:

    {"schema": "ember.diagnose/1",
     "applications": [{
        "app_id": str, "name": str | null, "path": str, "spark_version": str | null,
        "duration_ms": int, "complete": bool,           # false for .inprogress or truncated logs
        "read": {"events": int, "malformed_lines": int, "unknown_events": {name: count}},
        "diagnoses": [{
            "kind": str, "severity": "info|low|moderate|severe|critical", "title": str,
            "job_ids": [int], "stage_ids": [int], "stage_attempt": int | null,
            "sql_execution_id": int | null, "sql_node": str | null,
            "evidence": {str: number | str}, "explanation": str, "recommendation": str,
            "estimated_cost_ms": int}],
        "detector_failures": [{"detector": str, "error": str}]}]}

``exit_status`` gives 1 when any diagnosis reaches ``--fail-on``'s severity, for CI gates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow.compute as pc
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from diag.detectors import DetectorRun
from diag.diagnosis import Diagnosis, Severity
from diag.model import AppModel

SCHEMA = "ember.diagnose/1"

SEVERITY_STYLE = {Severity.INFO: "dim", Severity.LOW: "cyan", Severity.MODERATE: "yellow",
                  Severity.SEVERE: "bold red", Severity.CRITICAL: "bold white on red"}


@dataclass
class ApplicationReport:
    """One application's analysis: its model, what the reader saw, and the detectors' results."""

    path: str
    model: AppModel
    run: DetectorRun
    complete: bool = True
    events_read: int = 0
    malformed_lines: int = 0
    unknown_events: dict[str, int] = field(default_factory=dict)
    read_problems: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Diagnosis]:
        return [d for d in self.run.diagnoses if d.severity >= Severity.LOW]


def exit_status(reports: list[ApplicationReport], fail_on: Severity | None) -> int:
    if fail_on is None:
        return 0
    return int(any(d.severity >= fail_on for r in reports for d in r.run.diagnoses))


# ---- JSON ----
def _diagnosis_json(d: Diagnosis) -> dict:
    loc = d.location
    return {"kind": d.kind, "severity": str(d.severity), "title": d.title, "job_ids": list(loc.job_ids),
            "stage_ids": list(loc.stage_ids), "stage_attempt": loc.stage_attempt,
            "sql_execution_id": loc.sql_execution_id, "sql_node": loc.sql_node,
            "evidence": {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in d.evidence.items()},
            "explanation": d.explanation, "recommendation": d.recommendation,
            "estimated_cost_ms": int(d.estimated_cost_ms)}


def to_json(reports: list[ApplicationReport]) -> str:
    apps = []
    for r in reports:
        m = r.model
        apps.append({
            "app_id": m.app_id, "name": m.application.get("name"), "path": r.path,
            "spark_version": m.application.get("spark_version"), "duration_ms": m.duration_ms,
            "complete": r.complete,
            "read": {"events": r.events_read, "malformed_lines": r.malformed_lines,
                     "unknown_events": dict(r.unknown_events)},
            "diagnoses": [_diagnosis_json(d) for d in r.run.diagnoses],
            "detector_failures": [{"detector": f.detector, "error": f.error} for f in r.run.failures],
        })
    return json.dumps({"schema": SCHEMA, "applications": apps}, indent=2, allow_nan=False, default=str)


# ---- Markdown ----
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(reports: list[ApplicationReport]) -> str:
    lines: list[str] = []
    for r in reports:
        m = r.model
        lines.append(f"## {m.application.get('name') or m.app_id} (`{m.app_id}`)")
        lines.append("")
        lines.append(f"{m.duration_ms / 1000:.1f} s, {m.jobs.num_rows} jobs, {m.stages.num_rows} stages, "
                     f"{m.tasks.num_rows} tasks" + ("" if r.complete else " — **log incomplete**"))
        lines.append("")
        findings = r.findings
        if not findings:
            lines.append("No findings.")
            lines.append("")
        else:
            lines.append("| severity | kind | where | finding | fix | est. cost |")
            lines.append("| --- | --- | --- | --- | --- | --- |")
            for d in findings:
                lines.append(f"| {d.severity} | {d.kind} | {_md_cell(_where(d))} | {_md_cell(d.title)} | "
                             f"{_md_cell(d.recommendation)} | {d.estimated_cost_ms / 1000:.1f} s |")
            lines.append("")
        for f in r.run.failures:
            lines.append(f"> detector `{f.detector}` failed: {_md_cell(f.error)}")
        for p in r.read_problems:
            lines.append(f"> {_md_cell(p)}")
    return "\n".join(lines).rstrip() + "\n"


# ---- text ----
def _where(d: Diagnosis) -> str:
    loc = d.location
    parts = []
    if loc.job_ids:
        parts.append("job " + ",".join(map(str, loc.job_ids[:5])))
    if loc.stage_ids:
        attempt = f".{loc.stage_attempt}" if loc.stage_attempt else ""
        parts.append("stage " + ",".join(map(str, loc.stage_ids[:6])) + attempt)
    if loc.sql_execution_id is not None:
        parts.append(f"query {loc.sql_execution_id}" + (f" {loc.sql_node}" if loc.sql_node else ""))
    return "; ".join(parts) or "application"


def _stage_table(model: AppModel) -> Table:
    table = Table(title="Stages", title_justify="left", box=None, header_style="bold")
    for col in ("stage", "tasks", "failed", "time", "median task", "max task", "input", "shuffle read",
                "shuffle write", "spill"):
        table.add_column(col, justify="right", no_wrap=True)
    durations = {(q["stage_id"], q["stage_attempt"]): q for q in model.stage_quantiles("duration_ms").to_pylist()}
    tasks = model.tasks
    for s in model.stages.filter(model.stages["ran"]).to_pylist():
        mine = tasks.filter(pc.and_(pc.equal(tasks["stage_id"], s["stage_id"]), pc.equal(tasks["stage_attempt"], s["attempt"])))

        def total(col):
            return int(pc.sum(mine[col]).as_py() or 0) if mine.num_rows else 0

        q = durations.get((s["stage_id"], s["attempt"]), {})
        failed = mine.num_rows - int(pc.sum(pc.equal(mine["end_reason"], "Success")).as_py() or 0) if mine.num_rows else 0
        table.add_row(
            f"{s['stage_id']}.{s['attempt']}" if s["attempt"] else str(s["stage_id"]), str(mine.num_rows), str(failed),
            f"{(s['duration_ms'] or 0) / 1000:.2f}s", f"{q.get('median') or 0:.0f}ms", f"{q.get('max') or 0:.0f}ms",
            compact_size(total("input_bytes")),
            compact_size(total("shuffle_local_bytes_read") + total("shuffle_remote_bytes_read")),
            compact_size(total("shuffle_bytes_written")), compact_size(total("memory_bytes_spilled")))
    return table


def compact_size(n: float) -> str:
    """``3.6M``, ``984B``: sizes for narrow table columns."""
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return str(n)


def render_text(reports: list[ApplicationReport], console: Console, show_info: bool = False,
                stages: bool = True) -> None:
    for r in reports:
        m = r.model
        head = Text()
        head.append(f"{m.application.get('name') or m.app_id}", style="bold")
        head.append(f"  {m.app_id}  Spark {m.application.get('spark_version') or '?'}  "
                    f"{m.duration_ms / 1000:.1f} s  {m.jobs.num_rows} jobs  {m.stages.num_rows} stages  "
                    f"{m.tasks.num_rows} tasks")
        console.print(head)
        console.print(Text(r.path, style="dim"))
        if not r.complete:
            console.print(Text("The log is incomplete (still being written, or cut short): "
                               "the analysis covers what it holds.", style="yellow"))
        for p in r.read_problems:
            console.print(Text(p, style="yellow"))
        shown = [d for d in r.run.diagnoses if show_info or d.severity >= Severity.LOW]
        if not shown:
            console.print(Text("No findings.", style="green"))
        for i, d in enumerate(shown, 1):
            evidence = Table.grid(padding=(0, 2))
            for k, v in d.evidence.items():
                evidence.add_row(Text(k, style="dim"), Text(str(v)))
            body = Group(
                Text(d.explanation),
                evidence,
                Text.assemble(("Fix: ", "bold green"), d.recommendation),
            )
            title = Text.assemble((f"{i}. {str(d.severity).upper()}", SEVERITY_STYLE[d.severity]),
                                  f"  {d.kind}  ", (_where(d), "dim"),
                                  f"  ~{d.estimated_cost_ms / 1000:.1f} s")
            console.print(Panel(body, title=title, title_align="left", subtitle=d.title, subtitle_align="left"))
        for f in r.run.failures:
            console.print(Text(f"detector {f.detector} failed: {f.error}", style="red"))
        if stages and m.stages.num_rows:
            console.print(_stage_table(m))
        console.print()
