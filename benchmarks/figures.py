"""Deterministic figures of the benchmark queries on Ember, read from their event logs, and the
gate that holds them to ``benchmarks/expected/``.

Times drift with the machine; what a query does does not. Each benchmark query runs once as an
Ember application of its own with the event log on; diag reads the log back, and the figures
kept are the ones a code change can move but machine noise cannot: jobs, stages, tasks, input,
shuffle and output records and bytes, spill, and the shape of each SQL execution's final plan.
If an optimizer rule stops pushing a filter, Q3's shuffle records go up and the gate fails,
whatever the speed of the machine.

    python -m benchmarks.figures check  [--sf 0.01] [--queries q1,q3] [--tolerance bytes=2%]
    python -m benchmarks.figures update [--sf 0.01]     # after a change that moves them on purpose

``check`` exits 1 when a figure differs from the committed one (every difference is listed), 2
when there is nothing to compare with. Counts, records and the plan gate exactly; ``--tolerance
bytes=P%`` lets byte figures move by P% (for a codec or Arrow upgrade that changes compressed
sizes while nothing else moves), ``--tolerance records=P%`` likewise.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pyarrow.compute as pc

EXPECTED_DIR = Path(__file__).with_name("expected")
CI_SF = 0.01
FORMAT = "ember.bench-figures/1"

# figure -> the task column summed for it (diag.model's names, Spark's units)
TASK_SUMS = {
    "input_records": "input_records",
    "input_bytes": "input_bytes",
    "shuffle_write_records": "shuffle_records_written",
    "shuffle_write_bytes": "shuffle_bytes_written",
    "shuffle_read_records": "shuffle_records_read",
    "output_records": "output_records",
    "memory_bytes_spilled": "memory_bytes_spilled",
    "disk_bytes_spilled": "disk_bytes_spilled",
}
STAGE_FIGURES = ("tasks", "input_records", "shuffle_write_records", "shuffle_write_bytes", "shuffle_read_records")
FIGURE_KINDS = ("bytes", "records")


def expected_path(sf: float) -> Path:
    return EXPECTED_DIR / f"figures-sf{sf:g}.json"


# ---- reading figures from a log ----
def figures_of_log(path: str | Path) -> dict:
    """The deterministic figures of the one application logged at ``path``."""
    from diag.eventlog import discover, read_events
    from diag.model import build_model

    sources = discover(path)
    if len(sources) != 1:
        raise ValueError(f"{path}: expected one application's log, found {len(sources)}")
    return figures_of_model(build_model(read_events(sources[0])))


def figures_of_model(model) -> dict:
    """Counts and sums of successful task attempts (a retried task counts once), per stage in
    stage-id order (ids are deterministic within one application), and each SQL execution's final
    plan as its operator names in tree order."""
    tasks = model.tasks.filter(pc.invert(pc.or_(model.tasks["failed"], model.tasks["killed"])))
    stages = model.stages.filter(pc.equal(model.stages["ran"], True))
    figures = {
        "jobs": model.jobs.num_rows,
        "stages": stages.num_rows,
        "skipped_stages": model.stages.num_rows - stages.num_rows,
        "tasks": tasks.num_rows,
        **{name: _sum(tasks, column) for name, column in TASK_SUMS.items()},
    }
    per_stage = []
    for stage_id in sorted(set(stages["stage_id"].to_pylist())):
        of_stage = tasks.filter(pc.equal(tasks["stage_id"], stage_id))
        row = {"stage": stage_id, "tasks": of_stage.num_rows}
        row.update({name: _sum(of_stage, TASK_SUMS[name]) for name in STAGE_FIGURES if name != "tasks"})
        per_stage.append(row)
    figures["per_stage"] = per_stage
    figures["plans"] = [" > ".join(node.name for node in execution.nodes)
                        for _, execution in sorted(model.sql_executions.items())]
    return figures


def _sum(table, column: str) -> int:
    return int(pc.sum(table[column]).as_py() or 0) if table.num_rows else 0


# ---- running the queries ----
def record(sf: float = CI_SF, queries: Sequence[str] | None = None, data_root: str | Path | None = None,
           progress: Callable[[str], None] | None = None) -> dict:
    """Run each benchmark query as its own logged Ember application; the figures per query.

    Needs no Ember session running in this process: each query is an application of its own, so
    that its log starts from job 0 and stage 0 every time."""
    from benchmarks import datagen
    from benchmarks import queries as Q
    from engine.sql import SparkSession
    from engine.sql import functions as F

    if SparkSession._active is not None:
        raise RuntimeError("an Ember session is already running in this process; the figures need "
                           "one application per query (run `python -m benchmarks.figures` on its own)")
    data = datagen.ensure_data(sf, data_root)
    out = {}
    with tempfile.TemporaryDirectory(prefix="ember-figures-") as logs:
        for query in Q.select_queries(list(queries) if queries else None):
            if progress:
                progress(query.name)
            log_dir = Path(logs) / query.name
            log_dir.mkdir()
            spark = SparkSession.builder.config(conf={
                **Q.EmberRunner.CONF, **query.spark_conf,
                "spark.master": f"local[{Q.THREADS}]", "spark.app.name": f"ember-bench-{query.name}",
                "spark.eventLog.enabled": "true", "spark.eventLog.dir": str(log_dir),
                "spark.eventLog.rolling.enabled": "false", "spark.eventLog.compress": "false"}).getOrCreate()
            try:
                tables = {name: spark.read.parquet(data.path(table)) for name, table in query.tables.items()}
                if query.in_memory:
                    tables = {name: df.cache() for name, df in tables.items()}
                    for df in tables.values():
                        df.count()
                query.dataframe(tables, F).toArrow()
            finally:
                spark.stop()
            out[query.name] = figures_of_log(log_dir)
    return {"format": FORMAT, "sf": sf, "queries": out}


# ---- the gate ----
@dataclass(frozen=True)
class Difference:
    query: str
    figure: str  # "shuffle_write_bytes", "stage 2 tasks", "plan 0", "query"
    expected: object
    actual: object

    def __str__(self) -> str:
        if self.figure == "query":
            return f"{self.query}: {self.expected if self.actual is None else self.actual}"
        change = ""
        if isinstance(self.expected, int) and isinstance(self.actual, int) and self.expected:
            change = f" ({(self.actual - self.expected) / self.expected:+.1%})"
        return f"{self.query}: {self.figure} {self.expected} -> {self.actual}{change}"


def parse_tolerances(items: Sequence[str]) -> dict[str, float]:
    """``["bytes=2%", "records=0.5%"]`` -> ``{"bytes": 0.02, "records": 0.005}``."""
    out = {}
    for item in items:
        kind, sep, value = item.partition("=")
        if not sep or kind not in FIGURE_KINDS or not value.endswith("%"):
            raise ValueError(f"--tolerance {item!r}: expected KIND=P% with KIND one of {', '.join(FIGURE_KINDS)}")
        try:
            out[kind] = float(value[:-1]) / 100
        except ValueError:
            raise ValueError(f"--tolerance {item!r}: {value!r} is not a percentage") from None
    return out


def compare(expected: dict, actual: dict, tolerances: dict[str, float] | None = None) -> list[Difference]:
    """Every figure of ``actual`` that differs from ``expected`` beyond its tolerance (none by default)."""
    tolerances = tolerances or {}
    diffs: list[Difference] = []
    for query, want in expected["queries"].items():
        got = actual["queries"].get(query)
        if got is None:
            continue
        for name, value in want.items():
            if name == "per_stage":
                diffs += _compare_stages(query, value, got.get(name, []), tolerances)
            elif name == "plans":
                diffs += [Difference(query, f"plan {i}", w, g)
                          for i, (w, g) in enumerate(_padded(value, got.get(name, []))) if w != g]
            elif not _within(name, value, got.get(name), tolerances):
                diffs.append(Difference(query, name, value, got.get(name)))
    for query in actual["queries"].keys() - expected["queries"].keys():
        diffs.append(Difference(query, "query", None, "not in the expected figures (run `update`)"))
    return diffs


def _compare_stages(query: str, want: list, got: list, tolerances: dict[str, float]) -> list[Difference]:
    if len(want) != len(got):
        return [Difference(query, "stages run", [s["stage"] for s in want], [s["stage"] for s in got])]
    return [Difference(query, f"stage {w['stage']} {name}", w[name], g.get(name))
            for w, g in zip(want, got) for name in STAGE_FIGURES
            if not _within(name, w[name], g.get(name), tolerances)]


def _within(name: str, want, got, tolerances: dict[str, float]) -> bool:
    kind = "bytes" if name.endswith("bytes") or "_bytes_" in name else "records" if name.endswith("records") else None
    tolerance = tolerances.get(kind, 0.0) if kind else 0.0
    if not isinstance(want, int) or not isinstance(got, int):
        return want == got
    return abs(got - want) <= tolerance * abs(want)


def _padded(a: list, b: list) -> list[tuple]:
    n = max(len(a), len(b))
    return [(a[i] if i < len(a) else None, b[i] if i < len(b) else None) for i in range(n)]


def load_expected(sf: float) -> dict:
    path = expected_path(sf)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no expected figures for SF {sf:g} "
                                f"(create them with `python -m benchmarks.figures update --sf {sf:g}`)")
    expected = json.loads(path.read_text())
    if expected.get("format") != FORMAT:
        raise ValueError(f"{path}: format {expected.get('format')!r}, expected {FORMAT!r}")
    return expected


def write_expected(figures: dict) -> Path:
    path = expected_path(figures["sf"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=1) + "\n")
    return path


# ---- command line ----
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.figures", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["check", "update"])
    parser.add_argument("--sf", type=float, default=CI_SF)
    parser.add_argument("--queries", default="", help="comma-separated queries (default: all)")
    parser.add_argument("--tolerance", action="append", default=[], help="KIND=P%% with KIND bytes or records")
    parser.add_argument("--data", default=None, help="data cache root (default: benchmarks.datagen's)")
    args = parser.parse_args(argv)
    try:
        tolerances = parse_tolerances(args.tolerance)
        expected = load_expected(args.sf) if args.action == "check" else None
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    actual = record(args.sf, [q for q in args.queries.split(",") if q] or None, args.data,
                    progress=lambda name: print(f"running {name}", file=sys.stderr))
    if args.action == "update":
        print(f"wrote {write_expected(actual)}")
        return 0
    diffs = compare(expected, actual, tolerances)
    for diff in diffs:
        print(f"FAIL {diff}")
    checked = len(actual["queries"])
    print(f"{checked} queries checked against {expected_path(args.sf)}: "
          f"{len(diffs)} figure(s) differ" if diffs else f"{checked} queries: every figure as expected")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
