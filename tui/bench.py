"""``ember bench``: Ember against DuckDB, Polars and PySpark on the same queries, interleaved.

Entry point (what ``ember bench`` calls)::

    run_bench(sf: float = 0.1,
              engines: Sequence[str] = ("ember", "duckdb", "polars", "pyspark"),
              queries: Sequence[str] | None = None,        # None: every query in benchmarks.queries.QUERIES
              rounds: int = 5,
              console: rich.console.Console | None = None,
              *,
              warmup_rounds: int = 1,                      # untimed rounds after the correctness check
              json_path: str | Path | None = None,         # default ember-bench/bench-sf<SF>-<time>.json
              process: bool = False,                       # also cold compiles and whole-process times
              process_rounds: int = 3,
              data_root: str | Path | None = None,         # default $EMBER_BENCH_DATA or ~/.cache/ember/bench-data
              ) -> BenchResults

    results = run_bench(0.1, ["ember", "duckdb", "polars"], ["q1", "q6"], rounds=5, console=Console())
    results.medians["q1"]["duckdb"], results.ratios["q1"]["duckdb"]   # seconds; duckdb / ember
    results.ok                                                        # False if an engine was wrong or failed

``add_arguments(parser)`` and ``cmd_bench(args, console) -> exit status`` give the command line
(``--sf --engines --queries --rounds --warmup --json --process --process-rounds --data``);
``python -m tui.bench`` runs it without the ``ember`` command.

Policy:

1. The data comes from ``benchmarks.datagen`` (generated once per scale factor, cached).
2. Every engine opens once and stays warm (one PySpark JVM for the whole run).
3. Correctness first: each query runs once on every engine and the results are compared with
   ``check_equal`` (DuckDB is the reference). An engine that fails or disagrees is reported with
   the first differing rows, and is not timed on that query: a wrong answer has no speed.
   This run also compiles Ember's kernels, so compile time stays out of the medians
   (``process=True`` measures it separately).
4. ``warmup_rounds`` untimed rounds, then ``rounds`` timed rounds, interleaved: round r runs
   every query once on every engine, in the order ``round_order`` gives, so that machine noise
   (other processes, thermal changes, a shared CI box) falls on every engine alike. Each engine
   takes each place in the order and follows each other engine equally often (a balanced Latin
   square): a plain rotation would put every engine after the same one, round after round, and
   whatever that one leaves behind would weigh on the engine after it only.
   A ``gc.collect()`` precedes each run, outside the timing, and a wait (``quiesce``, at most
   3 s) for the processes this one started, PySpark's JVM, to stop using the CPU: the JVM goes
   on compiling and collecting after its query returns, and the next engine would pay for it.
5. Reported: the median of each (query, engine); each peer's ratio to Ember,
   ``peer_median / ember_median`` (> 1 means Ember is faster).
6. JSON (for a later ``ember bench --compare`` gate): per query and engine the median and every
   round's seconds, and CPU seconds (``RunCPU``: this process's user and system time, its child
   processes' time), rows, correctness and errors; the ratios; the machine (CPU, cores, memory,
   load average before and after, Python, each engine's version and thread count, git commit).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import psutil
from rich.console import Console
from rich.table import Table
from rich.text import Text

DEFAULT_ENGINES = ("ember", "duckdb", "polars", "pyspark")
JSON_FORMAT = "ember-bench/1"
QUIESCE_TIMEOUT_S = 3.0   # the longest wait, before a timed run, for PySpark's JVM to go quiet


def _benchmarks():
    """``benchmarks.queries`` etc. live in the repository, not in the installed package: make
    the repository importable when ``ember`` runs from elsewhere."""
    try:
        import benchmarks.queries  # noqa: F401
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parents[1]
        if not (root / "benchmarks" / "queries.py").is_file():
            raise
        sys.path.insert(0, str(root))
    from benchmarks import datagen, process_times, queries

    return datagen, queries, process_times


@dataclass(frozen=True)
class RunCPU:
    """The CPU seconds spent during one timed run: by this process (the in-process engines, and
    PySpark's Python side), split into user and system time, and by the processes it started
    (PySpark's JVM, which outlives the run; a child that ends mid-run is not counted). System
    time that grows while user time does not is the kernel's work for the run (page faults on
    fresh memory, file reads), not the engine's."""

    user: float
    system: float
    children: float


def _cpu_now() -> tuple[float, float, dict[int, float]]:
    """This process's user and system seconds so far, and each live child's CPU seconds by pid."""
    me = psutil.Process()
    own = me.cpu_times()
    return own.user, own.system, _cpu_seconds(me.children(recursive=True))


def _cpu_between(before: tuple[float, float, dict[int, float]],
                 after: tuple[float, float, dict[int, float]]) -> RunCPU:
    """The CPU spent from ``before`` to ``after`` (both ``_cpu_now``); children are matched by pid,
    so one that ended meanwhile takes nothing off the total."""
    children = sum(seconds - before[2].get(pid, 0.0) for pid, seconds in after[2].items())
    return RunCPU(after[0] - before[0], after[1] - before[1], children)


@dataclass
class BenchResults:
    """What one ``run_bench`` measured. Times are seconds."""

    sf: float
    rounds: int
    engines: list[str]
    queries: list[str]
    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # query -> engine -> per round
    cpu: dict[str, dict[str, list[RunCPU]]] = field(default_factory=dict)    # query -> engine -> per round
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # query -> engine -> why it was not timed
    mismatches: dict[str, str] = field(default_factory=dict)  # query -> check_equal's message
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    machine: dict = field(default_factory=dict)
    process: dict | None = None
    json_path: Path | None = None

    @property
    def medians(self) -> dict[str, dict[str, float]]:
        return {q: {e: statistics.median(ts) for e, ts in by_engine.items() if ts}
                for q, by_engine in self.times.items()}

    @property
    def ratios(self) -> dict[str, dict[str, float]]:
        """``peer median / Ember median`` per query and peer (> 1: Ember is faster)."""
        out = {}
        for q, medians in self.medians.items():
            ember = medians.get("ember")
            out[q] = {e: m / ember for e, m in medians.items() if e != "ember" and ember}
        return out

    @property
    def ok(self) -> bool:
        return not self.mismatches and not any(self.errors.values())

    def to_json(self) -> dict:
        medians, ratios = self.medians, self.ratios
        queries = {}
        for q in self.queries:
            engines = {}
            for e in self.engines:
                ts = self.times.get(q, {}).get(e, [])
                error = self.errors.get(q, {}).get(e)
                cpu = self.cpu.get(q, {}).get(e, [])
                engines[e] = {"median_s": medians.get(q, {}).get(e), "times_s": ts,
                              "cpu_user_s": [c.user for c in cpu], "cpu_system_s": [c.system for c in cpu],
                              "children_cpu_s": [c.children for c in cpu],
                              "rows": self.rows.get(q, {}).get(e), "correct": error is None, "error": error}
            queries[q] = {"engines": engines, "ratio_to_ember": ratios.get(q, {}),
                          "mismatch": self.mismatches.get(q)}
        return {"format": JSON_FORMAT, "created": dt.datetime.now().isoformat(timespec="seconds"),
                "sf": self.sf, "rounds": self.rounds, "engines": self.engines, "machine": self.machine,
                "versions": self.versions, "queries": queries, "process": self.process}


def run_bench(sf: float = 0.1, engines: Sequence[str] = DEFAULT_ENGINES, queries: Sequence[str] | None = None,
              rounds: int = 5, console: Console | None = None, *, warmup_rounds: int = 1,
              json_path: str | Path | None = None, process: bool = False, process_rounds: int = 3,
              data_root: str | Path | None = None) -> BenchResults:
    """Run every (query, engine) pair ``rounds`` times, interleaved; print a table; write JSON.
    See the module docstring for the policy."""
    datagen, Q, process_times = _benchmarks()
    console = console or Console()
    engines = list(dict.fromkeys(engines))
    unknown = [e for e in engines if e not in Q.ENGINES]
    if unknown:
        raise ValueError(f"unknown engines {unknown}; the engines are {', '.join(Q.ENGINES)}")
    selected = Q.select_queries(list(queries) if queries else None)
    results = BenchResults(float(sf), rounds, engines, [q.name for q in selected])
    results.machine = machine_info()

    console.print(f"[bold]ember bench[/] SF {sf:g}: {len(selected)} queries x {len(engines)} engines, "
                  f"{warmup_rounds} warm-up + {rounds} timed rounds, interleaved")
    started = time.perf_counter()
    data = datagen.ensure_data(sf, data_root)
    console.print(f"data: {data.root} ({data.rows.get('lineitem', 0):,} lineitem rows, "
                  f"{time.perf_counter() - started:.1f} s)")

    runners = {}
    try:
        for engine in engines:
            try:
                runners[engine] = Q.open_runner(engine, data)
                results.versions[engine] = runners[engine].versions()
            except Exception as exc:  # noqa: BLE001 - an engine that cannot start is reported, not fatal
                for q in selected:
                    results.errors.setdefault(q.name, {})[engine] = f"could not start: {exc}"
                console.print(Text(f"{engine}: could not start: {exc}", style="red"))
        timed = _check(selected, runners, results, console, Q)
        for r in range(warmup_rounds):
            console.print(f"warm-up round {r + 1}/{warmup_rounds}")
            _round(selected, timed, runners, r, None)
        for r in range(rounds):
            console.print(f"round {r + 1}/{rounds}")
            _round(selected, timed, runners, r, results)
    finally:
        for runner in runners.values():
            try:
                runner.close()
            except Exception as exc:  # noqa: BLE001
                console.print(Text(f"{runner.name}: close failed: {exc}", style="yellow"))
    results.machine["load_average_after"] = _load_average()

    if process:
        console.print("process times (subprocesses)...")
        results.process = process_times.measure([q.name for q in selected], engines, data, process_rounds,
                                                progress=lambda text: console.print(f"  {text}"))
    console.print(results_table(results))
    if results.process:
        console.print(process_table(results))
    for q, message in results.mismatches.items():
        console.print(Text(f"mismatch: {message}", style="red"))
    results.json_path = write_json(results, json_path)
    console.print(f"JSON: {results.json_path}")
    return results


def _check(selected, runners, results: BenchResults, console: Console, Q) -> dict[str, list[str]]:
    """Run each query once everywhere, compare, and return the engines to time per query."""
    timed = {}
    for q in selected:
        outputs = {}
        for name, runner in runners.items():
            try:
                runner.prepare(q)
                outputs[name] = runner.run(q)
            except Exception as exc:  # noqa: BLE001 - reported per engine; the others go on
                results.errors.setdefault(q.name, {})[name] = f"{type(exc).__name__}: {exc}"
                console.print(Text(f"{q.name}: {name} failed: {type(exc).__name__}: {exc}", style="red"))
        results.rows[q.name] = {name: table.num_rows for name, table in outputs.items()}
        try:
            Q.check_equal(outputs, ordered=q.ordered, query=q.name)
        except Q.ResultMismatch as mismatch:
            results.mismatches[q.name] = str(mismatch)
            for name in mismatch.engines:
                results.errors.setdefault(q.name, {})[name] = f"wrong result (differs from {mismatch.reference})"
                outputs.pop(name, None)
        timed[q.name] = [name for name in runners if name in outputs]
        status = "ok" if q.name not in results.mismatches else "MISMATCH"
        console.print(f"checked {q.name}: {status} ({', '.join(timed[q.name]) or 'no engine'})")
    return timed


def _round(selected, timed: dict[str, list[str]], runners, round_index: int, results: BenchResults | None) -> None:
    for q in selected:
        engines = timed[q.name]
        if not engines:
            continue
        for name in round_order(engines, round_index):
            gc.collect()
            quiesce()
            cpu_before = _cpu_now()
            started = time.perf_counter()
            table = runners[name].run(q)
            elapsed = time.perf_counter() - started
            cpu_after = _cpu_now()
            if results is None:
                continue
            expected = results.rows[q.name][name]
            if table.num_rows != expected:  # a changed answer mid-run is a bug, not a timing
                raise RuntimeError(f"{q.name}: {name} returned {table.num_rows} rows, {expected} when checked")
            results.times.setdefault(q.name, {}).setdefault(name, []).append(elapsed)
            results.cpu.setdefault(q.name, {}).setdefault(name, []).append(_cpu_between(cpu_before, cpu_after))


def round_order(engines: Sequence[str], round_index: int) -> list[str]:
    """The engines in the order round ``round_index`` runs them: the rows of a Williams design.

    Over n rounds (2n when n is odd) every engine runs once in each place, and runs right after
    every other engine equally often. Row r is ``0, 1, n-1, 2, n-2, ...`` plus r (mod n); with an
    odd n, the rows after the first n are the first n reversed."""
    n = len(engines)
    first = [0]
    for j in range(1, n):
        first.append((j + 1) // 2 if j % 2 else n - j // 2)
    period = n if n % 2 == 0 else 2 * n
    r = round_index % period
    row = [engines[(k + r) % n] for k in first]
    return row if r < n else row[::-1]


def quiesce(timeout: float = QUIESCE_TIMEOUT_S, window: float = 0.05, busy: float = 0.05) -> float:
    """Wait until the processes this one started stop using the CPU (at most ``busy`` of one core
    over ``window`` seconds), for at most ``timeout`` seconds; returns the seconds waited.

    PySpark's JVM goes on compiling and collecting garbage for a while after a query returns: on
    two cores, the engine timed next paid for it (Ember's Q1 took 1.27 s right after a PySpark
    query and 0.28 s three seconds later)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        children = psutil.Process().children(recursive=True)
        if not children:
            break
        before = sum(_cpu_seconds(children).values())
        time.sleep(window)
        if sum(_cpu_seconds(children).values()) - before < busy * window:
            break
    return time.perf_counter() - started


def _cpu_seconds(processes) -> dict[int, float]:
    """Each process's user and system seconds so far, by pid; one that ended meanwhile is left out."""
    seconds = {}
    for p in processes:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        seconds[p.pid] = t.user + t.system
    return seconds


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    colour = "green" if ratio >= 1 else "red"
    return f"[{colour}]{ratio:.2f}x[/]"


def results_table(results: BenchResults) -> Table:
    """query | each engine's median | each peer's ratio to Ember (peer / ember, > 1: Ember faster)."""
    peers = [e for e in results.engines if e != "ember"]
    table = Table(title=f"medians of {results.rounds} interleaved rounds, SF {results.sf:g} "
                        "(ratio = peer / ember, > 1 means Ember is faster)")
    table.add_column("query", no_wrap=True)
    for e in results.engines:
        table.add_column(e, justify="right")
    if "ember" in results.engines:
        for e in peers:
            table.add_column(f"{e}/ember", justify="right")
    medians, ratios = results.medians, results.ratios
    for q in results.queries:
        cells = [q]
        for e in results.engines:
            error = results.errors.get(q, {}).get(e)
            cells.append("[red]wrong[/]" if error and error.startswith("wrong") else
                         "[red]error[/]" if error else _fmt_seconds(medians.get(q, {}).get(e)))
        if "ember" in results.engines:
            cells += [_fmt_ratio(ratios.get(q, {}).get(e)) for e in peers]
        table.add_row(*cells)
    return table


def process_table(results: BenchResults) -> Table:
    """Ember's cold start per query, and each engine's whole-process time (warm kernel cache)."""
    table = Table(title="fresh processes: Ember cold compile, and `python -c <one query>` (median)")
    table.add_column("query")
    table.add_column("ember cold: first run", justify="right")
    table.add_column("kernel compile", justify="right")
    table.add_column("second run", justify="right")
    for e in results.engines:
        table.add_column(f"{e} process", justify="right")
    for q, entry in (results.process or {}).items():
        cold = entry.get("ember_cold") or {}
        row = [q, _fmt_seconds(cold.get("first_s")),
               f"{cold['kernel_compile_ms']:.0f} ms ({cold['kernels']})" if cold else "-",
               _fmt_seconds(cold.get("warm_s"))]
        row += [_fmt_seconds(entry["process_s"].get(e)) if e not in entry["errors"] else "[red]error[/]"
                for e in results.engines]
        table.add_row(*row)
    return table


def write_json(results: BenchResults, path: str | Path | None = None) -> Path:
    if path is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path("ember-bench") / f"bench-sf{results.sf:g}-{stamp}.json"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.to_json(), indent=2) + "\n")
    return path


def machine_info() -> dict:
    """What the figures depend on: CPU, cores, memory, load, Python, commit."""
    import psutil

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "python": sys.version.split()[0],
        "load_average_before": _load_average(),
        "git_commit": _git_commit(),
        "hostname": platform.node(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parents[1],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


# ---- command line ----
def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``ember bench`` options, on ``parser`` (a subcommand's parser or a fresh one)."""
    parser.add_argument("--sf", type=float, default=float(os.environ.get("EMBER_BENCH_SF", "0.1")),
                        help="TPC-H scale factor of the generated data (default $EMBER_BENCH_SF or 0.1)")
    parser.add_argument("--engines", default=",".join(DEFAULT_ENGINES),
                        help="comma-separated engines (default: %(default)s)")
    parser.add_argument("--queries", default="", help="comma-separated queries (default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds after the check (default: %(default)s)")
    parser.add_argument("--json", default=None, help="where to write the JSON results")
    parser.add_argument("--process", action="store_true",
                        help="also measure Ember's cold compile and each engine's whole-process time")
    parser.add_argument("--process-rounds", type=int, default=3)
    parser.add_argument("--data", default=None,
                        help="data cache root (default $EMBER_BENCH_DATA or ~/.cache/ember/bench-data)")
    gate = parser.add_argument_group("regression gate (--compare)")
    gate.add_argument("--compare", metavar="REV", default=None,
                      help="instead of the peers: Ember's benchmarks on this tree against REV (checked out in a "
                           "git worktree), interleaved; exit 1 when a benchmark is slower beyond its noise or a "
                           "deterministic figure moved")
    gate.add_argument("--alternations", type=int, default=6,
                      help="runs of the suite per tree, their order swapped each time (default: %(default)s)")
    gate.add_argument("--select", default="ember", help="pytest -k expression of the benchmarks (default: %(default)s)")
    gate.add_argument("--alpha", type=float, default=None, help="significance of the Mann-Whitney test (default 0.01)")
    gate.add_argument("--min-effect", type=float, default=None,
                      help="smallest slowdown of the median that fails, as a fraction (default 0.05)")
    gate.add_argument("--no-figures", action="store_true",
                      help="skip the deterministic figures' gate against benchmarks/expected/")
    return parser


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    """Run ``run_bench`` from parsed ``add_arguments`` options; 1 if an engine was wrong or failed.
    With ``--compare REV``, the regression gate instead (``cmd_compare``)."""
    if args.compare:
        return cmd_compare(args, console)
    results = run_bench(args.sf, [e for e in args.engines.split(",") if e],
                        [q for q in args.queries.split(",") if q] or None, args.rounds, console,
                        warmup_rounds=args.warmup, json_path=args.json, process=args.process,
                        process_rounds=args.process_rounds, data_root=args.data)
    return 0 if results.ok else 1


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    """``ember bench --compare REV``: the timing gate of ``benchmarks.compare`` between REV and this
    tree, then the deterministic figures of this tree against ``benchmarks/expected/``.
    0: nothing regressed; 1: a benchmark is slower or a figure moved; 2: the gate could not run."""
    _benchmarks()
    from benchmarks import compare, figures

    alpha = compare.ALPHA if args.alpha is None else args.alpha
    min_effect = compare.MIN_EFFECT if args.min_effect is None else args.min_effect
    progress = lambda text: console.print(f"  {text}")  # noqa: E731
    try:
        new_tree = compare.repository_root()
        with compare.baseline_worktree(args.compare, new_tree) as (base_tree, commit):
            console.print(f"[bold]ember bench --compare[/] {args.compare} ({commit[:12]}) vs this tree, SF {args.sf:g}, "
                          f"{args.alternations} alternations x {args.rounds} rounds")
            result = compare.compare_trees(base_tree, new_tree, sf=args.sf, alternations=args.alternations,
                                           rounds=args.rounds, select=args.select, alpha=alpha,
                                           min_effect=min_effect, base_label=f"{args.compare} ({commit[:12]})",
                                           new_label="working tree", progress=progress)
    except compare.CompareError as e:
        console.print(Text(f"error: {e}", style="red"))
        return 2
    console.print(compare_table(result))
    for name, where in result.missing.items():
        console.print(Text(f"{name}: {where}, not compared", style="yellow"))
    report = result.to_json()
    failed = bool(result.regressions)
    if not args.no_figures:
        console.print(f"deterministic figures at SF {figures.CI_SF:g} against {figures.expected_path(figures.CI_SF)}")
        try:
            expected = figures.load_expected(figures.CI_SF)
        except (FileNotFoundError, ValueError) as e:
            console.print(Text(f"error: {e}", style="red"))
            return 2
        differences = figures.compare(expected, figures.record(figures.CI_SF, progress=progress))
        for difference in differences:
            console.print(Text(f"FAIL {difference}", style="red"))
        console.print("figures: " + (f"{len(differences)} differ" if differences else "every figure as expected"))
        report["figures"] = [str(d) for d in differences]
        failed = failed or bool(differences)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"JSON: {args.json}")
    verdict = "[red]FAILED[/]: " + ", ".join(b.name for b in result.regressions) if result.regressions else "[green]no timing regression[/]"
    console.print(verdict)
    return 1 if failed else 0


def compare_table(result) -> Table:
    """benchmark | BASE median | NEW median | NEW/BASE | p (slower) | verdict."""
    table = Table(title=f"{result.new} vs {result.base}: Mann-Whitney one-sided, alpha {result.alpha:g}, "
                        f"min effect {result.min_effect:.0%}")
    table.add_column("benchmark", overflow="fold")
    for column in ("base", "new", "new/base", "p slower", "verdict"):
        table.add_column(column, justify="left" if column == "verdict" else "right", no_wrap=True)
    colours = {"slower": "red", "faster": "green", "same": "default"}
    for b in result.benchmarks:
        verdict = b.verdict(result.alpha, result.min_effect)
        # Text: a test id's "[q6-ember]" is not rich markup
        table.add_row(Text(b.name), _fmt_seconds(b.base_median), _fmt_seconds(b.new_median), f"{b.ratio:.2f}x",
                      f"{b.p_slower:.3g}", f"[{colours[verdict]}]{verdict}[/]")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(prog="python -m tui.bench", description=__doc__.splitlines()[0]))
    return cmd_bench(parser.parse_args(argv), Console())


if __name__ == "__main__":
    raise SystemExit(main())
