"""Renderings of a diff: text for a terminal (rich), Markdown for a pull-request comment, JSON for
tools, JUnit XML for CI test reports; and the exit status.

The JSON schema (``"schema": "ember.diff/1"``); figures are medians over a side's runs, times keep
every run's value, and a side's value is null where that side has no such piece of work:

    {"schema": "ember.diff/1", "passed": bool,
     "thresholds": {"limits": {metric: "5%" | "0" | "off"}, "alpha": float, "time_floor_ms": int,
                    "fail_on_new_diagnosis": severity | null, "allow_plan_changes": bool},
     "applications": [{
        "name": str, "status": "matched" | "added" | "removed",
        "base": {"paths": [str]}, "new": {"paths": [str]},
        "notes": [str],
        "config_changes": [{"key": str, "base": str | null, "new": str | null}],
        "totals": {metric: {"base": int | null, "new": int | null, "exceeded": bool}},
        "duration_ms": TIMING,
        "queries": [{"slot": "q1", "label": str, "status": str, "base_execution_id": int | null,
                     "new_execution_id": int | null, "duration_ms": TIMING,
                     "plan_change": null | {"summary": str, "added": {op: n}, "removed": {op: n},
                                            "joins": {"base": [str], "new": [str]},
                                            "exchanges": {"base": int, "new": int},
                                            "aqe": {"base": [str], "new": [str]}}}],
        "jobs": [{"slot": "q1.j1", "query": str, "status": str, "base_job_id": int | null,
                  "new_job_id": int | null, "figures": FIGURES, "duration_ms": TIMING}],
        "stages": [{"slot": "q1.s2", "query": str, "role": "map" | "result", "status": str,
                    "base_stage_id": int | null, "new_stage_id": int | null, "figures": FIGURES,
                    "duration_ms": TIMING, "skew_ratio": {"base": float | null, "new": float | null}}],
        "new_diagnoses": [DIAGNOSIS], "resolved_diagnoses": [DIAGNOSIS],
        "gates": [GATE]}],
     "gates": [GATE]}                  # every application's gates, in order

    FIGURES   = {metric: {"base": int | null, "new": int | null, "exceeded": bool}}
    TIMING    = {"base": [int], "new": [int], "p_value": float | null, "regressed": bool}
    DIAGNOSIS = {"kind": str, "severity": str, "title": str, "where": str, "runs": int}
    GATE      = {"application": str, "name": str, "kind": "application|figures|plan|time|diagnoses",
                 "passed": bool, "message": str}

``exit_status``: 0 when every gate passed, 1 when one failed (2, bad input, is the caller's).
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from rich.console import Console
from rich.table import Table
from rich.text import Text

from diag.diff.compare import ApplicationDiff, DiffResult, Figures, Timing
from diag.diff.gates import Gate
from diag.report import compact_size

SCHEMA = "ember.diff/1"

# the columns of the stage tables: heading -> metrics summed into it
_STAGE_COLUMNS = (("tasks", ("tasks",)), ("failed", ("failed_tasks",)), ("input", ("input_bytes",)),
                  ("shuffle read", ("shuffle_read_bytes",)), ("shuffle write", ("shuffle_write_bytes",)),
                  ("spill", ("spill_memory_bytes", "spill_disk_bytes")), ("output", ("output_bytes",)))


def exit_status(result: DiffResult) -> int:
    return 0 if result.passed else 1


# ---- JSON
def _figures_json(figures: list[Figures]) -> dict:
    return {f.metric: {"base": f.base, "new": f.new, "exceeded": f.exceeded} for f in figures}


def _timing_json(t: Timing) -> dict:
    return {"base": list(t.base_ms), "new": list(t.new_ms), "p_value": t.p_value, "regressed": t.regressed}


def _gate_json(g: Gate) -> dict:
    return {"application": g.application, "name": g.name, "kind": g.kind, "passed": g.passed, "message": g.message}


def _first(ids: list[int]) -> int | None:
    return ids[0] if ids else None


def _app_json(a: ApplicationDiff) -> dict:
    def change_json(c):
        return None if c is None else {
            "summary": c.summary(), "added": c.added, "removed": c.removed,
            "joins": {"base": list(c.joins[0]), "new": list(c.joins[1])},
            "exchanges": {"base": c.exchanges[0], "new": c.exchanges[1]},
            "aqe": {"base": list(c.aqe[0]), "new": list(c.aqe[1])}}

    def diagnosis_json(c):
        d = c.diagnosis
        return {"kind": d.kind, "severity": str(d.severity), "title": d.title, "where": c.where, "runs": c.runs}

    return {
        "name": a.name, "status": a.status, "base": {"paths": a.base_paths}, "new": {"paths": a.new_paths},
        "notes": a.notes,
        "config_changes": [{"key": k, "base": b, "new": n} for k, b, n in a.config_changes],
        "totals": _figures_json(a.totals), "duration_ms": _timing_json(a.duration),
        "queries": [{"slot": q.slot, "label": q.label, "status": q.status, "base_execution_id": q.base_execution_id,
                     "new_execution_id": q.new_execution_id, "duration_ms": _timing_json(q.timing),
                     "plan_change": change_json(q.plan_change)} for q in a.queries],
        "jobs": [{"slot": j.slot, "query": j.query, "status": j.status, "base_job_id": _first(j.base_job_ids),
                  "new_job_id": _first(j.new_job_ids), "figures": _figures_json(j.figures),
                  "duration_ms": _timing_json(j.timing)} for j in a.jobs],
        "stages": [{"slot": s.slot, "query": s.query, "role": s.role, "status": s.status,
                    "base_stage_id": _first(s.base_stage_ids), "new_stage_id": _first(s.new_stage_ids),
                    "figures": _figures_json(s.figures), "duration_ms": _timing_json(s.timing),
                    "skew_ratio": {"base": s.skew_ratio[0], "new": s.skew_ratio[1]}} for s in a.stages],
        "new_diagnoses": [diagnosis_json(c) for c in a.new_diagnoses],
        "resolved_diagnoses": [diagnosis_json(c) for c in a.resolved_diagnoses],
        "gates": [_gate_json(g) for g in a.gates],
    }


def to_json(result: DiffResult) -> str:
    t = result.thresholds
    return json.dumps({
        "schema": SCHEMA, "passed": result.passed,
        "thresholds": {"limits": {m: str(limit) for m, limit in t.limits.items()}, "alpha": t.alpha,
                       "time_floor_ms": t.time_floor_ms,
                       "fail_on_new_diagnosis": str(t.fail_on_new_diagnosis) if t.fail_on_new_diagnosis is not None
                       else None, "allow_plan_changes": t.allow_plan_changes},
        "applications": [_app_json(a) for a in result.applications],
        "gates": [_gate_json(g) for g in result.gates],
    }, indent=2, allow_nan=False)


# ---- JUnit XML
def to_junit(result: DiffResult) -> str:
    """One testsuite per application, one testcase per gate, a ``<failure>`` for each failed gate."""
    root = ET.Element("testsuites", name="ember diff", tests=str(len(result.gates)),
                      failures=str(len(result.failed)))
    for app in result.applications:
        failed = [g for g in app.gates if not g.passed]
        suite = ET.SubElement(root, "testsuite", name=app.name, tests=str(len(app.gates)),
                              failures=str(len(failed)), errors="0")
        for g in app.gates:
            case = ET.SubElement(suite, "testcase", classname=f"ember.diff.{g.kind}", name=g.name)
            if g.passed:
                ET.SubElement(case, "system-out").text = g.message
            else:
                ET.SubElement(case, "failure", message=g.message, type=f"{g.kind} regression").text = g.message
        if app.notes:
            ET.SubElement(suite, "system-out").text = "\n".join(app.notes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---- shared by text and Markdown
def _value(metric: str, v: int | None) -> str:
    if v is None:
        return "—"
    return compact_size(v) if metric.endswith("_bytes") else f"{v:,}"


def _pair(figures: list[Figures], metrics: tuple[str, ...]) -> str:
    chosen = [f for f in figures if f.metric in metrics]
    base = None if any(f.base is None for f in chosen) else sum(f.base for f in chosen)
    new = None if any(f.new is None for f in chosen) else sum(f.new for f in chosen)
    mark = " ✗" if any(f.exceeded for f in chosen) else ""
    if base == new:
        return _value(metrics[0], base)
    return f"{_value(metrics[0], base)} → {_value(metrics[0], new)}{mark}"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v / 1000:.2f}s" if v >= 1000 else f"{v:.0f}ms"


def _timing(t: Timing) -> str:
    text = f"{_ms(t.base_median)} → {_ms(t.new_median)}"
    if t.p_value is not None:
        text += f" (p={t.p_value:.2g}{', slower ✗' if t.regressed else ''})"
    return text


def _skew(pair: tuple[float | None, float | None]) -> str:
    return " → ".join("—" if v is None else f"{v:.1f}" for v in pair)


def _stage_changed(s) -> bool:
    return s.status != "matched" or any(f.base != f.new for f in s.figures)


def headline(result: DiffResult) -> str:
    """``2 of 17 gates failed`` or ``all 17 gates passed``."""
    failed, total = len(result.failed), len(result.gates)
    return (f"{failed} of {total} gates failed" if failed else f"all {total} gates passed")


# ---- Markdown
def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(result: DiffResult) -> str:
    """A pull-request comment: verdict first, then what changed, then every failed gate."""
    mark = "❌" if result.failed else "✅"
    lines = [f"## {mark} ember diff: {headline(result)}", ""]
    for a in result.applications:
        lines += [f"### {_md(a.name)} ({a.status})", ""]
        lines += [f"- BASE: {len(a.base_paths)} run(s), NEW: {len(a.new_paths)} run(s); "
                  f"wall time {_timing(a.duration)}", ""]
        lines += [f"> {_md(n)}" for n in a.notes] + ([""] if a.notes else [])
        if a.config_changes:
            lines += ["**Configuration changed**", "", "| key | BASE | NEW |", "| --- | --- | --- |"]
            lines += [f"| `{k}` | {_md(b if b is not None else '(unset)')} | {_md(n if n is not None else '(unset)')} |"
                      for k, b, n in a.config_changes] + [""]
        plans = [q for q in a.queries if q.plan_change is not None or q.status != "matched"]
        if plans:
            lines += ["**Queries whose plan changed, added or removed**", "", "| query | status | change |",
                      "| --- | --- | --- |"]
            lines += [f"| {q.slot} {_md(q.label)} | {q.status} | "
                      f"{_md(q.plan_change.summary() if q.plan_change else '')} |" for q in plans] + [""]
        stages = [s for s in a.stages if _stage_changed(s)]
        if stages:
            lines += ["**Stages that changed**", "",
                      "| stage | status | " + " | ".join(h for h, _ in _STAGE_COLUMNS) + " | time | skew |",
                      "| --- | --- | " + " | ".join("---" for _ in _STAGE_COLUMNS) + " | --- | --- |"]
            for s in stages:
                cells = " | ".join(_pair(s.figures, metrics) for _, metrics in _STAGE_COLUMNS)
                lines.append(f"| {s.slot} {_md(s.label)} | {s.status} | {cells} | {_timing(s.timing)} | "
                             f"{_skew(s.skew_ratio)} |")
            lines.append("")
        for title, changes in (("New diagnoses", a.new_diagnoses), ("Resolved diagnoses", a.resolved_diagnoses)):
            if changes:
                lines += [f"**{title}**", ""]
                lines += [f"- {c.diagnosis.severity} `{c.diagnosis.kind}` at {c.where}: {_md(c.diagnosis.title)}"
                          for c in changes] + [""]
        failed = [g for g in a.gates if not g.passed]
        if failed:
            lines += ["**Failed gates**", "", "| gate | why |", "| --- | --- |"]
            lines += [f"| {_md(g.name)} | {_md(g.message)} |" for g in failed] + [""]
    return "\n".join(lines).rstrip() + "\n"


# ---- text
def render_text(result: DiffResult, console: Console) -> None:
    style = "bold red" if result.failed else "bold green"
    console.print(Text(f"ember diff: {headline(result)}", style=style))
    for a in result.applications:
        console.print()
        console.print(Text.assemble((a.name, "bold"), f"  {a.status}  BASE {len(a.base_paths)} run(s), "
                                    f"NEW {len(a.new_paths)} run(s)  wall time {_timing(a.duration)}"))
        for n in a.notes:
            console.print(Text(n, style="yellow"))
        if a.config_changes:
            table = Table(title="Configuration changed", title_justify="left", box=None, header_style="bold")
            for col in ("key", "BASE", "NEW"):
                table.add_column(col)
            for k, b, n in a.config_changes:
                table.add_row(k, b if b is not None else "(unset)", n if n is not None else "(unset)")
            console.print(table)
        queries = Table(title="Queries", title_justify="left", box=None, header_style="bold")
        for col in ("query", "status", "time", "plan"):
            queries.add_column(col)
        for q in a.queries:
            queries.add_row(f"{q.slot} {q.label}", q.status, _timing(q.timing),
                            q.plan_change.summary() if q.plan_change else "same")
        console.print(queries)
        stages = Table(title="Stages", title_justify="left", box=None, header_style="bold")
        for col in ("stage", "status", *(h for h, _ in _STAGE_COLUMNS), "time", "skew"):
            stages.add_column(col, overflow="fold")
        for s in a.stages:
            stages.add_row(f"{s.slot} {s.role}", s.status, *(_pair(s.figures, m) for _, m in _STAGE_COLUMNS),
                           _timing(s.timing), _skew(s.skew_ratio), style=None if _stage_changed(s) else "dim")
        console.print(stages)
        for title, changes, colour in (("new diagnosis", a.new_diagnoses, "red"),
                                       ("resolved", a.resolved_diagnoses, "green")):
            for c in changes:
                console.print(Text(f"{title}: {c.diagnosis.severity} {c.diagnosis.kind} at {c.where}: "
                                   f"{c.diagnosis.title}", style=colour))
        for g in a.gates:
            if not g.passed:
                console.print(Text.assemble(("FAILED ", "bold red"), (g.name, "bold"), f"  {g.message}"))
