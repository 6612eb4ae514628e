"""The CI regression gates of ``ember bench``: deterministic figures against benchmarks/expected/
(run on every submission), and the timing gate between two trees, interleaved."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks import compare, figures

REPO = Path(__file__).resolve().parents[2]


def _figures_process(*args: str, prelude: str = "") -> subprocess.CompletedProcess:
    """``python -m benchmarks.figures`` in a fresh process (one Ember application per query),
    after ``prelude`` (code that changes the engine, as a bad commit would)."""
    code = prelude + "\nfrom benchmarks.figures import main\nraise SystemExit(main(%r))" % (list(args),)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_benchmark_figures_are_as_committed():
    """The CI gate: every benchmark query's jobs, stages, tasks, bytes, records and plan shape on
    the committed CI data equal benchmarks/expected/ (update them on purpose with `update`)."""
    done = _figures_process("check", "--sf", f"{figures.CI_SF:g}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every figure as expected" in done.stdout


def test_an_optimizer_rule_that_stops_working_fails_the_gate():
    """Without predicate pushdown Q3 still answers right, but its shuffles change: the gate names them."""
    done = _figures_process("check", "--queries", "q3", prelude=textwrap.dedent("""
        import engine.optimizer as optimizer
        optimizer.RULES = tuple(r for r in optimizer.RULES if r.__name__ != "push_down_predicates")
    """))
    assert done.returncode == 1, done.stdout + done.stderr
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL q3: ")]
    assert failures and any("shuffle" in line for line in failures), done.stdout


def _figures(**overrides) -> dict:
    query = {"jobs": 2, "stages": 2, "tasks": 6, "shuffle_write_bytes": 1000, "shuffle_write_records": 40,
             "per_stage": [{"stage": 0, "tasks": 2, "input_records": 100, "shuffle_write_records": 40,
                            "shuffle_write_bytes": 1000, "shuffle_read_records": 0},
                           {"stage": 1, "tasks": 4, "input_records": 0, "shuffle_write_records": 0,
                            "shuffle_write_bytes": 0, "shuffle_read_records": 40}],
             "plans": ["HashAggregate > Exchange > HashAggregate > Scan parquet"]}
    query.update(overrides)
    return {"format": figures.FORMAT, "sf": 0.01, "queries": {"q1": query}}


def test_figures_gate_exactly_unless_a_tolerance_is_set():
    expected = _figures()
    assert figures.compare(expected, _figures()) == []
    moved = _figures(shuffle_write_bytes=1010)
    [difference] = figures.compare(expected, moved)
    assert str(difference) == "q1: shuffle_write_bytes 1000 -> 1010 (+1.0%)"
    assert figures.compare(expected, moved, figures.parse_tolerances(["bytes=2%"])) == []
    assert figures.compare(expected, _figures(tasks=7), figures.parse_tolerances(["bytes=50%"]))  # counts stay exact


def test_figures_gate_names_plan_and_stage_changes():
    replanned = _figures(plans=["BroadcastHashJoin > Scan parquet"],
                         per_stage=[{"stage": 0, "tasks": 2, "input_records": 100, "shuffle_write_records": 0,
                                     "shuffle_write_bytes": 0, "shuffle_read_records": 0}])
    found = [str(d) for d in figures.compare(_figures(), replanned)]
    assert "q1: plan 0 HashAggregate > Exchange > HashAggregate > Scan parquet -> BroadcastHashJoin > Scan parquet" in found
    assert "q1: stages run [0, 1] -> [0]" in found
    extra = _figures()
    extra["queries"]["q9"] = extra["queries"]["q1"]
    assert [d.query for d in figures.compare(_figures(), extra)] == ["q9"]


@pytest.mark.parametrize("bad", ["bytes", "bytes=2", "time=5%", "bytes=x%"])
def test_tolerances_are_checked(bad):
    with pytest.raises(ValueError, match="--tolerance"):
        figures.parse_tolerances([bad])


def test_timing_verdict_needs_significance_and_size():
    def runs(medians):
        return [[m * 0.99, m, m * 1.01] for m in medians]

    base = runs([1.00, 1.02, 0.99, 1.01, 1.00, 0.98])
    slower = compare.BenchmarkComparison("q", base, runs([1.20, 1.22, 1.19, 1.21, 1.25, 1.18]))
    assert slower.verdict() == "slower" and slower.p_slower < 0.01 and slower.ratio == pytest.approx(1.2, abs=0.02)
    faster = compare.BenchmarkComparison("q", base, runs([0.80, 0.82, 0.79, 0.81, 0.80, 0.78]))
    assert faster.verdict() == "faster"
    tiny = compare.BenchmarkComparison("q", base, runs([1.02, 1.03, 1.025, 1.035, 1.04, 1.03]))
    assert tiny.p_slower < 0.01 and tiny.verdict() == "same"  # real, but under the 5% that matters
    noisy = compare.BenchmarkComparison("q", base, runs([1.3, 0.9, 1.25, 0.95, 1.2, 1.0]))
    assert noisy.verdict() == "same"
    few = compare.BenchmarkComparison("q", base[:3], runs([2.0, 2.0, 2.0]))
    assert few.p_slower > 0.01 and few.verdict() == "same"  # 3 runs a side cannot reach p < 0.01


def test_timing_gate_finds_a_slowdown_between_two_trees():
    """Two worktrees of HEAD, one whose Q6 sleeps 40 ms more, interleaved on this machine: Q6 is
    slower beyond its noise, Q1 (unchanged) is not."""
    slow_q6 = "def q6_dataframe(t, F):\n    import time\n    time.sleep(0.04)\n"
    with compare.baseline_worktree("HEAD", REPO) as (base, _), compare.baseline_worktree("HEAD", REPO) as (new, _):
        queries = new / "benchmarks" / "queries.py"
        source = queries.read_text()
        assert "def q6_dataframe(t, F):\n" in source
        queries.write_text(source.replace("def q6_dataframe(t, F):\n", slow_q6, 1))
        result = compare.compare_trees(base, new, sf=0.002, alternations=6, rounds=3,
                                       select="ember and (q1 or q6) and not memory and not small")
    verdicts = {b.name: b.verdict() for b in result.benchmarks}
    assert verdicts["test_tpch[q6-ember]"] == "slower", result.to_json()
    assert verdicts["test_tpch[q1-ember]"] != "slower", result.to_json()
    assert [b.name for b in result.regressions] == ["test_tpch[q6-ember]"]


def test_compare_refuses_an_unknown_revision():
    with pytest.raises(compare.CompareError, match="not a revision"):
        with compare.baseline_worktree("no-such-revision-anywhere", REPO):
            pass


def test_ember_bench_compare_reports_a_bad_revision(capsys):
    from tui.cli import main

    assert main(["bench", "--compare", "no-such-revision-anywhere"]) == 2
    assert "not a revision" in capsys.readouterr().out


def test_the_compare_table_shows_whole_test_ids():
    from rich.console import Console

    from tui.bench import compare_table

    runs = [[0.010, 0.011], [0.012, 0.010]]
    result = compare.CompareResult("base", "new", compare.ALPHA, compare.MIN_EFFECT,
                                   [compare.BenchmarkComparison("test_tpch[q6_memory-ember]", runs, runs)])
    console = Console(width=120, record=True)
    console.print(compare_table(result))
    assert "test_tpch[q6_memory-ember]" in console.export_text()  # "[q6_memory-ember]" is not taken as markup
