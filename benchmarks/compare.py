"""``ember bench --compare REV``: the benchmark suite on the current tree and on a baseline
revision, interleaved on the same machine in the same run, and a gate on what changed.

    result = compare_trees(base_tree, new_tree, sf=0.1, alternations=6, rounds=5)
    result.regressions        # benchmarks slower beyond their noise
    with baseline_worktree("origin/main") as base: ...   # a detached git worktree, removed after

How the timing gate decides (and why not pytest-benchmark's ``--benchmark-compare-fail``):
pytest-benchmark runs underneath (``pytest benchmarks --benchmark-only --benchmark-json``, Ember's
benchmarks only), once per tree per *alternation*, the trees' order swapped every alternation so
that a noisy minute falls on both alike. The unit of comparison is one run (one process): its
median over its timed rounds. Rounds within a process are not independent samples (they share the
process's memory layout, its warm caches and the machine's load of that minute); pooling them
makes a rank test find "significant" differences between two runs of the same code, which is
what a first version of this gate did here. A benchmark is a regression only when both hold:

* the one-sided Mann-Whitney U test over the per-run medians says NEW's are stochastically larger
  than BASE's with p < ``alpha`` (0.01): a rank test, so it assumes no distribution and one slow
  run cannot swing it the way it swings a mean. With 6 alternations per tree the smallest p it can
  give is 1/924, so 0.01 is reachable; with 4 or fewer it is not, and nothing can fail;
* NEW's median is slower than BASE's by more than ``min_effect`` (5%): with enough runs a rank
  test also finds differences too small to matter.

``--benchmark-compare-fail=median:5%`` compares one statistic of this run with a run saved at
another time, possibly on another machine state, and knows nothing of either run's spread: on a
shared CI box that fails on noise, which is what this gate must not do.

The deterministic gate (bytes, records, counts, plan shapes against ``benchmarks/expected/``) is
``benchmarks.figures``; ``ember bench --compare`` runs it on the current tree too.
"""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

ALPHA = 0.01
MIN_EFFECT = 0.05
SUITES = ("benchmarks/test_tpch.py", "benchmarks/test_operators.py")


class CompareError(Exception):
    """The comparison could not run: an unknown revision, a tree without the suites, a failed run."""


@dataclass(frozen=True)
class BenchmarkComparison:
    name: str
    base_runs: list[list[float]]  # per run (process), its timed rounds' seconds
    new_runs: list[list[float]]

    @property
    def base_medians(self) -> list[float]:
        return [statistics.median(run) for run in self.base_runs]

    @property
    def new_medians(self) -> list[float]:
        return [statistics.median(run) for run in self.new_runs]

    @property
    def base_median(self) -> float:
        return statistics.median(self.base_medians)

    @property
    def new_median(self) -> float:
        return statistics.median(self.new_medians)

    @property
    def p_slower(self) -> float:
        """One-sided Mann-Whitney over the runs' medians: NEW's larger than BASE's."""
        return mann_whitney(self.base_medians, self.new_medians)[0]

    @property
    def p_faster(self) -> float:
        return mann_whitney(self.base_medians, self.new_medians)[1]

    @property
    def ratio(self) -> float:
        """NEW's median over BASE's (> 1: NEW is slower)."""
        return self.new_median / self.base_median

    def verdict(self, alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> str:
        if self.p_slower < alpha and self.ratio > 1 + min_effect:
            return "slower"
        if self.p_faster < alpha and self.ratio < 1 / (1 + min_effect):
            return "faster"
        return "same"


@dataclass
class CompareResult:
    base: str  # what was compared: revisions or paths
    new: str
    alpha: float
    min_effect: float
    benchmarks: list[BenchmarkComparison] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # benchmark -> on which side it is missing

    @property
    def regressions(self) -> list[BenchmarkComparison]:
        return [b for b in self.benchmarks if b.verdict(self.alpha, self.min_effect) == "slower"]

    def to_json(self) -> dict:
        return {"format": "ember.bench-compare/1", "base": self.base, "new": self.new, "alpha": self.alpha,
                "min_effect": self.min_effect, "missing": self.missing,
                "benchmarks": [{"name": b.name, "base_median_s": b.base_median, "new_median_s": b.new_median,
                                "ratio": b.ratio, "p_slower": b.p_slower, "p_faster": b.p_faster,
                                "verdict": b.verdict(self.alpha, self.min_effect),
                                "base_runs_s": b.base_runs, "new_runs_s": b.new_runs}
                               for b in self.benchmarks]}


def mann_whitney(base: list[float], new: list[float]) -> tuple[float, float]:
    """One-sided p-values (NEW slower, NEW faster) of the Mann-Whitney U test (diag's, as ``ember diff`` uses)."""
    from diag.diff.stats import mann_whitney_greater

    if len(base) < 2 or len(new) < 2:
        return 1.0, 1.0
    return mann_whitney_greater(base, new), mann_whitney_greater(new, base)


# ---- trees ----
def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise CompareError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def repository_root(path: Path | None = None) -> Path:
    return Path(_git(path or Path(__file__).resolve().parent, "rev-parse", "--show-toplevel"))


@contextlib.contextmanager
def baseline_worktree(revision: str, repo: Path | None = None) -> Iterator[tuple[Path, str]]:
    """``revision`` checked out (detached) in a temporary git worktree: (its path, its commit)."""
    repo = repo or repository_root()
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], cwd=repo,
                          capture_output=True, text=True)
    commit = done.stdout.strip() if done.returncode == 0 else ""
    if not commit:
        raise CompareError(f"{revision!r} is not a revision of {repo}")
    parent = Path(tempfile.mkdtemp(prefix="ember-bench-base-"))
    tree = parent / commit[:12]
    _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
    try:
        yield tree, commit
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=repo, capture_output=True)
        subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True)
        with contextlib.suppress(OSError):
            parent.rmdir()


# ---- running the suite ----
def run_suite(tree: Path, out: Path, *, sf: float, rounds: int, select: str, timeout: float = 3600) -> dict[str, list[float]]:
    """pytest-benchmark on ``tree``'s own code (its engine, its benchmarks): every timed round's
    seconds per benchmark, by the benchmark's test id (``test_tpch[q1-ember]``)."""
    missing = [s for s in SUITES if not (tree / s).is_file()]
    if missing:
        raise CompareError(f"{tree}: no {', '.join(missing)} (a revision from before the benchmark suites?)")
    env = {**os.environ, "EMBER_BENCH_SF": f"{sf:g}", "EMBER_BENCH_ROUNDS": str(rounds),
           "EMBER_BENCH_WARMUP": "1", "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "pytest", *SUITES, "--benchmark-only", "--benchmark-json", str(out),
               "-m", "not spark and not process", "-k", select, "-p", "no:cacheprovider", "-q"]
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CompareError(f"{tree}: the benchmark suite ran over {timeout:.0f} s") from None
    if done.returncode != 0 or not out.is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise CompareError(f"{tree}: the benchmark suite failed (exit {done.returncode}):\n{tail}")
    report = json.loads(out.read_text())
    return {b["fullname"].rpartition("::")[2]: list(b["stats"]["data"]) for b in report["benchmarks"]}


def compare_trees(base_tree: Path, new_tree: Path, *, sf: float = 0.1, alternations: int = 6, rounds: int = 5,
                  select: str = "ember", alpha: float = ALPHA, min_effect: float = MIN_EFFECT,
                  base_label: str | None = None, new_label: str | None = None,
                  progress: Callable[[str], None] | None = None) -> CompareResult:
    """Run the suites on both trees ``alternations`` times, swapping their order each time, and
    compare every benchmark's runs."""
    if alternations < 1 or rounds < 2:
        raise CompareError("need at least 1 alternation and 2 rounds per run")
    runs: dict[str, dict[str, list[list[float]]]] = {"base": {}, "new": {}}
    trees = {"base": base_tree, "new": new_tree}
    with tempfile.TemporaryDirectory(prefix="ember-bench-compare-") as scratch:
        for a in range(alternations):
            order = ("base", "new") if a % 2 == 0 else ("new", "base")
            for side in order:
                if progress:
                    progress(f"alternation {a + 1}/{alternations}: {side} ({trees[side]})")
                run = run_suite(trees[side], Path(scratch) / f"{side}-{a}.json", sf=sf, rounds=rounds, select=select)
                for name, data in run.items():
                    runs[side].setdefault(name, []).append(data)
    result = CompareResult(base_label or str(base_tree), new_label or str(new_tree), alpha, min_effect)
    for name in sorted(runs["base"].keys() | runs["new"].keys()):
        base, new = runs["base"].get(name), runs["new"].get(name)
        if not base or not new:
            result.missing[name] = "only in NEW" if new else "only in BASE"
            continue
        result.benchmarks.append(BenchmarkComparison(name, base, new))
    return result
