"""The ``ember`` command.

    ember run SCRIPT [ARGS...]   run a PySpark-shaped script on Ember, then diagnose its event log
    ember demo                   generate demo data, run the demo job, diagnose it
    ember diagnose LOG...        diagnose any Spark event log (Ember's or a real cluster's)
    ember diff BASE NEW          compare two runs of a workload; fail on regressions (a CI gate)
    ember bench                  time Ember against DuckDB, Polars and PySpark on the same data
    ember ui LOG                 the dashboard: overview and diagnoses, jobs, stages, stage detail,
                                 timeline, DAG and SQL plan; follows a log still being written
    ember replay LOG --speed N   the dashboard on a finished log replayed in its own time, N times faster
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback

from rich.console import Console
from rich.progress import Progress

PROGRESS_LISTENER = "tui.progress.ConsoleProgress"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ember", description="Understand why a Spark job is slow.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a script with the Ember engine, then summarise its event log")
    run.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                     help="a Spark configuration value, as spark-submit --conf (repeatable)")
    run.add_argument("--no-progress", action="store_true", help="do not draw stage progress bars")
    run.add_argument("script")
    run.add_argument("args", nargs=argparse.REMAINDER)
    demo = sub.add_parser("demo", help="run the demo job on generated data and summarise it")
    demo.add_argument("--data", default="demo-data", help="where the demo data is generated (default: demo-data)")
    demo.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE")
    diagnose = sub.add_parser("diagnose", help="diagnose Spark event logs: files, rolling directories, or "
                                               "directories of many applications")
    diagnose.add_argument("logs", nargs="+", metavar="LOG")
    diagnose.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    diagnose.add_argument("--fail-on", metavar="SEVERITY", type=_severity,
                          help="exit with status 1 when a diagnosis reaches this severity "
                               "(info, low, moderate, severe, critical): a CI gate")
    diagnose.add_argument("--set", action="append", default=[], metavar="DETECTOR.THRESHOLD=VALUE",
                          help="override a detector threshold, e.g. skew.factor=3 (repeatable)")
    diagnose.add_argument("--all", action="store_true", help="also show info-level context, not only findings")
    diagnose.add_argument("--no-stages", action="store_true", help="leave out the per-stage table")
    from tui import diff

    diff.add_arguments(sub.add_parser("diff", help="compare event logs of two runs of the same workload "
                                                   "(or N runs each) and fail on regressions: a CI gate"))
    ui = sub.add_parser("ui", help="open the dashboard on an event log or a directory of logs (a log still "
                                   "being written is followed live)")
    ui.add_argument("path", metavar="LOG")
    replay = sub.add_parser("replay", help="replay a finished event log in the dashboard, as if it were live")
    replay.add_argument("path", metavar="LOG")
    replay.add_argument("--speed", type=_positive_float, default=1.0, metavar="N",
                        help="N times the log's own pace (default 1; 10 plays a minute in 6 s)")
    from tui import bench

    bench.add_arguments(sub.add_parser("bench", help="benchmark Ember against DuckDB, Polars and PySpark on "
                                                     "TPC-H-shaped data, interleaved, and print the ratios"))
    return parser


def _severity(name: str):
    from diag.diagnosis import Severity

    try:
        return Severity.parse(name)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _pairs(pairs: list[str], flag: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"ember: {flag} takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def _submit_conf(pairs: list[str], progress: bool) -> dict[str, str]:
    conf = _pairs(pairs, "--conf")
    if progress:
        listeners = [x for x in conf.get("spark.extraListeners", "").split(",") if x]
        conf["spark.extraListeners"] = ",".join(listeners + [PROGRESS_LISTENER])
    return conf


def _finish_sessions(console: Console) -> list:
    from engine.sql.session import SparkSession
    from tui.summary import print_summary

    if SparkSession._active is not None:
        SparkSession._active.stop()
    sessions = list(SparkSession.finished)
    SparkSession.finished.clear()
    for session in sessions:
        print_summary(session, console)
        if session.event_log_path:
            reports, errors = _analyze_with_progress([session.event_log_path], {}, console)
            _render(reports, errors, "text", console, show_info=False, stages=False)
    return sessions


def _analyze_with_progress(paths: list[str], config: dict, console: Console):
    from diag.analyze import AnalysisError, analyze

    reports, errors = [], []
    with Progress(console=console, transient=True) as progress:
        bars = {}

        def on_progress(source, done, total):
            key = str(source.path)
            if key not in bars:
                bars[key] = progress.add_task(f"reading {source.path.name}", total=max(total, 1))
            progress.update(bars[key], completed=done, total=max(total, done, 1))

        for path in paths:
            try:
                found, failed = analyze(path, config, on_progress)
            except AnalysisError as e:
                errors.append(str(e))
                continue
            reports += found
            errors += failed
    return reports, errors


def _render(reports, errors, fmt: str, console: Console, show_info: bool, stages: bool) -> None:
    from diag import report

    if fmt == "json":
        print(report.to_json(reports))
    elif fmt == "markdown":
        print(report.to_markdown(reports), end="")
    else:
        report.render_text(reports, console, show_info=show_info, stages=stages)
    for e in errors:
        Console(stderr=True).print(f"[red]ember: {e}[/]")


def cmd_ui(args, console: Console) -> int:
    from tui.dashboard import run_dashboard

    return run_dashboard(args.path)


def cmd_replay(args, console: Console) -> int:
    from tui.dashboard.replay import run_replay

    return run_replay(args.path, args.speed)


def cmd_diagnose(args, console: Console) -> int:
    from diag.report import exit_status

    config = _pairs(args.set, "--set")
    reports, errors = _analyze_with_progress(args.logs, config, Console(stderr=True))
    _render(reports, errors, args.format, console, args.all, not args.no_stages)
    if not reports:
        return 2
    return exit_status(reports, args.fail_on)


def cmd_run(args, console: Console) -> int:
    from engine.sql import session as session_module

    if not os.path.isfile(args.script):
        console.print(f"[red]ember run: no such script: {args.script}[/]")
        return 2
    session_module.submit_conf.update(_submit_conf(args.conf, not args.no_progress))
    sys.argv = [args.script, *args.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
    status = 0
    try:
        runpy.run_path(args.script, run_name="__main__")
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # the user's script failed: show it, then still summarise what ran
        console.print(traceback.format_exc(), markup=False, highlight=False)
        status = 1
    if not _finish_sessions(console):
        console.print("ember run: the script did not create a SparkSession, so there is no event log.")
    return status


def cmd_demo(args, console: Console) -> int:
    from engine.sql import SparkSession
    from engine.sql import session as session_module
    from tui import demo

    with Progress(console=console, transient=True) as progress:
        demo.generate(args.data, progress)
    session_module.submit_conf.update(_submit_conf(args.conf, True))
    spark = (SparkSession.builder.master("local[2]").appName("ember-demo")
             .config("spark.sql.shuffle.partitions", 8)
             .config("spark.sql.autoBroadcastJoinThreshold", -1)
             .getOrCreate())
    demo.run(spark, args.data)
    spark.stop()
    _finish_sessions(console)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console()
    from tui.bench import cmd_bench
    from tui.diff import cmd_diff

    handler = {"run": cmd_run, "demo": cmd_demo, "diagnose": cmd_diagnose, "bench": cmd_bench,
               "diff": cmd_diff, "ui": cmd_ui, "replay": cmd_replay}[args.command]
    return handler(args, console)


if __name__ == "__main__":
    sys.exit(main())
