"""``ember diff``: the command's options and body (the comparison itself is ``diag.diff``).

    ember diff base.zstd new.zstd                                  one pair: figures and plans gate
    ember diff --base b1 b2 b3 b4 b5 --new n1 n2 n3 n4 n5          repeated runs: times gate too
    ember diff last-good/ this-run/ --format junit --output diff.xml

Exit status: 0 when every gate passed, 1 when one failed, 2 when an input is missing or is not an
event log (the message names it).
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

from rich.console import Console
from rich.text import Text

FORMATS = ("text", "markdown", "json", "junit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="*", metavar="BASE NEW",
                        help="two event logs (files, rolling directories, or directories of applications)")
    parser.add_argument("--base", nargs="+", default=[], metavar="LOG",
                        help="BASE logs: several runs of the same application make times gate")
    parser.add_argument("--new", nargs="+", default=[], metavar="LOG", help="NEW logs, as --base")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", metavar="FILE", help="write the rendering to FILE; print only the verdict")
    parser.add_argument("--max-increase", action="append", default=[], metavar="METRIC=LIMIT",
                        help="how much a figure may grow before its gate fails: 10%% (relative), 1000 (absolute) "
                             "or off; METRIC is e.g. shuffle_write_bytes, shuffle_write (both bytes and records), "
                             "tasks, spill, duration (repeatable)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="false-alarm rate of the time gates of one application (default 0.05)")
    parser.add_argument("--time-floor-ms", type=int, default=None,
                        help="a slowdown below this many ms never fails (default 100)")
    parser.add_argument("--fail-on-new-diagnosis", metavar="SEVERITY", default="low",
                        help="fail when NEW has a diagnosis BASE did not, at this severity or above "
                             "(low, moderate, severe, critical; off: report only). Default: low")
    parser.add_argument("--allow-plan-changes", action="store_true",
                        help="report physical plan changes without failing on them")
    parser.add_argument("--set", action="append", default=[], metavar="DETECTOR.THRESHOLD=VALUE",
                        help="override a detector threshold for both sides, as ember diagnose --set")


def _sides(args) -> tuple[list[str], list[str]]:
    if args.logs and (args.base or args.new):
        raise ValueError("give BASE NEW, or --base and --new, not both")
    if args.logs:
        if len(args.logs) != 2:
            raise ValueError(f"expected BASE and NEW, got {len(args.logs)} path(s)")
        return [args.logs[0]], [args.logs[1]]
    if not args.base or not args.new:
        raise ValueError("give BASE NEW, or --base LOG... and --new LOG...")
    return args.base, args.new


def _thresholds(args):
    from diag.diagnosis import Severity
    from diag.diff import Thresholds, parse_limits
    from diag.diff.gates import ALPHA, TIME_FLOOR_MS

    severity = args.fail_on_new_diagnosis.strip().lower()
    alpha = ALPHA if args.alpha is None else args.alpha
    if not 0 < alpha < 1:
        raise ValueError(f"--alpha must be between 0 and 1, not {alpha}")
    return Thresholds(limits=parse_limits(args.max_increase), alpha=alpha,
                      time_floor_ms=TIME_FLOOR_MS if args.time_floor_ms is None else args.time_floor_ms,
                      fail_on_new_diagnosis=None if severity == "off" else Severity.parse(severity),
                      allow_plan_changes=args.allow_plan_changes)


def _rendered(result, fmt: str) -> str:
    from diag.diff import render

    if fmt == "json":
        return render.to_json(result) + "\n"
    if fmt == "junit":
        return render.to_junit(result)
    if fmt == "markdown":
        return render.to_markdown(result)
    console = Console(record=True, width=160, file=io.StringIO())
    render.render_text(result, console)
    return console.export_text()


def cmd_diff(args, console: Console) -> int:
    from diag.diff import DiffInputError, diff_logs, render
    from tui.cli import _pairs

    errors = Console(stderr=True)
    try:
        base, new = _sides(args)
        thresholds = _thresholds(args)
        result = diff_logs(base, new, thresholds, _pairs(args.set, "--set"))
    except (ValueError, DiffInputError) as e:
        errors.print(Text(f"ember diff: {e}", style="red"), soft_wrap=True)
        return 2
    if args.output:
        Path(args.output).write_text(_rendered(result, args.format))
        console.print(f"ember diff: {render.headline(result)}; {args.format} written to {args.output}",
                      highlight=False)
    elif args.format == "text":
        render.render_text(result, console)
    else:
        print(_rendered(result, args.format), end="")
    return render.exit_status(result)
