"""``diag.diff``: its statistics and limits on known numbers, and whole diffs of Ember's own logs
(repeated runs of one job, one side slowed by a sleeping UDF)."""
from __future__ import annotations

import itertools
import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from diag.diagnosis import Severity
from diag.diff import DiffInputError, Thresholds, diff_logs, parse_limits
from diag.diff.gates import Limit
from diag.diff.layout import align, call_site_key
from diag.diff.render import to_json, to_junit, to_markdown
from diag.diff.stats import holm_rejections, mann_whitney_greater, smallest_p
from tests.diag.diff_runs import SLOW_TASK_S, ember_runs


# ---- statistics
def test_mann_whitney_exact_p_values():
    assert mann_whitney_greater([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(1 / 252)
    assert mann_whitney_greater([1, 2, 3], [4, 5, 6]) == pytest.approx(1 / 20)
    # interleaved samples: U = 15 of 25, P(U >= 15) = 87/252
    assert mann_whitney_greater([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]) == pytest.approx(87 / 252)
    assert mann_whitney_greater([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) == 1.0


def test_mann_whitney_with_ties_uses_the_corrected_normal_approximation():
    assert mann_whitney_greater([5, 5, 5], [5, 5, 5]) == 1.0
    p = mann_whitney_greater([10, 10, 11, 12, 12], [12, 13, 13, 14, 15])
    assert 0.001 < p < 0.02


@pytest.mark.parametrize("base, new", [([1.5, 4.5, 9.5, 12.5, 20.5], list(range(3, 15))),
                                       ([1.0, 3.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0, 11.0, 12.0], [2.0, 7.0]),
                                       ([0.3, 0.1, 0.9, 0.5], [0.2, 0.8, 0.6, 0.7, 0.4])])
def test_mann_whitney_exact_p_value_is_the_share_of_rankings_with_as_large_a_u(base, new):
    """Without ties and with a side of at most 8 runs: every way of splitting the pooled ranks into
    the two sides is equally likely; the p-value counts those whose U is at least the observed."""
    pooled = sorted(base + new)
    rank = {v: i + 1 for i, v in enumerate(pooled)}
    def u_of(new_ranks):
        return sum(new_ranks) - len(new) * (len(new) + 1) / 2
    observed = u_of([rank[v] for v in new])
    splits = list(itertools.combinations(range(1, len(pooled) + 1), len(new)))
    expected = sum(u_of(s) >= observed for s in splits) / len(splits)
    assert mann_whitney_greater(base, new) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("base, new, scipy_p", [
    # scipy 1.17.1, mannwhitneyu(new, base, alternative="greater").pvalue
    ([10, 10, 11, 12, 12], [12, 13, 13, 14, 15], 0.009621782899537414),
    ([3.1, 2.9, 3.3, 3.0, 3.2, 3.1, 2.8, 3.0, 3.4, 3.05], [3.3, 3.5, 3.2, 3.6, 3.4, 3.7, 3.3, 3.8, 3.5, 3.45],
     0.00048433186782878866),
    (list(range(12)), [x + 4.5 for x in range(12)], 0.0060114127038087195),           # both sides over 8
    ([1, 2, 3, 4, 5, 6, 7, 8, 9], [2.5, 4.5, 6.5, 8.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5],
     0.006085750673944833),
])
def test_mann_whitney_normal_approximation_equals_scipy_s(base, new, scipy_p):
    assert mann_whitney_greater(base, new) == pytest.approx(scipy_p, rel=1e-12)


def test_smallest_p_and_holm():
    assert smallest_p(1, 1) == 0.5 and smallest_p(5, 5) == pytest.approx(1 / 252)
    assert holm_rejections([0.004, 0.5, 0.01], 0.05) == [True, False, True]
    assert holm_rejections([0.03, 0.04], 0.05) == [False, False]  # 0.03 > 0.05 / 2: nothing rejects


# ---- limits
def test_limits_parse_and_apply():
    assert Limit.parse("10%").exceeded(100, 111) and not Limit.parse("10%").exceeded(100, 110)
    assert Limit.parse("0").exceeded(0, 1) and not Limit.parse("0").exceeded(5, 4)
    assert Limit.parse("5%").exceeded(0, 1)  # from nothing to something always grows past a relative limit
    assert not Limit.parse("off").exceeded(1, 10 ** 9)
    with pytest.raises(ValueError, match="N%"):
        Limit.parse("lots")


def test_a_limit_key_covers_the_metrics_it_prefixes():
    limits = parse_limits(["shuffle_write=20%", "tasks=3"])
    assert str(limits["shuffle_write_bytes"]) == str(limits["shuffle_write_records"]) == "20%"
    assert str(limits["shuffle_read_bytes"]) == "5%" and str(limits["tasks"]) == "3"
    with pytest.raises(ValueError, match="unknown metric 'bytes'"):
        parse_limits(["bytes=1%"])


# ---- layout
def test_call_sites_lose_directories_and_line_numbers():
    assert call_site_key("collect at /ci/build-7/jobs/daily.py:42") == "collect at daily.py"
    assert call_site_key("parquet at NativeMethodAccessorImpl.java:0") == "parquet at NativeMethodAccessorImpl.java"
    assert call_site_key("nightly revenue report") == "nightly revenue report"


def test_alignment_reports_an_inserted_piece_and_keeps_the_rest_matched():
    assert align(["a", "b", "c"], ["a", "x", "b", "c"], str) == [(0, 0), (None, 1), (1, 2), (2, 3)]
    assert align(["a", "b"], ["a", "c"], str) == [(0, 0), (1, None), (None, 1)]


# ---- Ember's logs
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return ember_runs(tmp_path_factory.mktemp("ember-diff-runs"))


def _paths(dirs):
    return [str(d) for d in dirs]


def test_identical_runs_pass_every_gate_including_the_time_gates(runs):
    result = diff_logs(_paths(runs["base"]), _paths(runs["again"]))
    [app] = result.applications
    assert result.passed, [g.message for g in result.failed]
    assert [g for g in app.gates if g.kind == "time"], "5 runs a side must gate times"
    assert not any("not gated" in n for n in app.notes)


def test_a_slower_task_fails_the_time_gate_with_mann_whitney(runs):
    result = diff_logs(_paths(runs["base"]), _paths(runs["slow"]))
    failed = [g for g in result.failed if g.kind == "time"]
    assert failed, [g.message for g in result.gates if g.kind == "time"]
    assert any(g.name == "time application" for g in failed)
    assert all("Mann-Whitney" in g.message for g in failed)
    # the sleep changes no deterministic figure
    assert not [g for g in result.failed if g.kind != "time"]
    [app] = result.applications
    assert app.duration.new_median - app.duration.base_median >= SLOW_TASK_S * 1000 * 0.8


def test_a_single_pair_reports_times_and_never_gates_them(runs):
    result = diff_logs(_paths(runs["base"][:1]), _paths(runs["slow"][:1]))
    [app] = result.applications
    assert result.passed and not [g for g in app.gates if g.kind == "time"]
    assert any("times are reported, not gated" in n for n in app.notes)
    assert "times are reported, not gated" in to_markdown(result)


def test_junit_has_one_testcase_per_gate_and_a_failure_per_failed_gate(runs):
    result = diff_logs(_paths(runs["base"]), _paths(runs["slow"]))
    root = ET.fromstring(to_junit(result))
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(result.gates) == int(root.get("tests"))
    failures = root.findall("./testsuite/testcase/failure")
    assert len(failures) == len(result.failed) == int(root.get("failures")) > 0


def test_json_follows_the_documented_schema(runs):
    doc = json.loads(to_json(diff_logs(_paths(runs["base"][:2]), _paths(runs["again"][:2]))))
    assert doc["schema"] == "ember.diff/1" and doc["passed"] is True
    assert set(doc["thresholds"]) == {"limits", "alpha", "time_floor_ms", "fail_on_new_diagnosis",
                                      "allow_plan_changes"}
    [app] = doc["applications"]
    assert app["status"] == "matched" and len(app["base"]["paths"]) == 2
    for key in ("notes", "config_changes", "totals", "duration_ms", "queries", "jobs", "stages",
                "new_diagnoses", "resolved_diagnoses", "gates"):
        assert key in app
    stage = app["stages"][0]
    assert {"slot", "query", "role", "status", "base_stage_id", "new_stage_id", "figures", "duration_ms",
            "skew_ratio"} <= set(stage)
    assert set(stage["figures"]["tasks"]) == {"base", "new", "exceeded"}
    assert len(stage["duration_ms"]["base"]) == 2
    assert all(isinstance(g["passed"], bool) for g in doc["gates"])


def _app_dir(tmp_path, name, runs):
    folder = tmp_path / name
    folder.mkdir()
    for run in runs:
        [log] = run.iterdir()
        shutil.copytree(log, folder / log.name)
    return str(folder)


def test_directories_of_applications_pair_by_name(runs, tmp_path):
    base = _app_dir(tmp_path, "base", [runs["base"][0], runs["other"][0]])
    new = _app_dir(tmp_path, "new", [runs["other"][1], runs["again"][0]])
    result = diff_logs([base], [new])
    assert [(a.name, a.status) for a in result.applications] == [
        ("ember-diff-job", "matched"), ("ember-diff-other", "matched")]
    assert result.passed, [g.message for g in result.failed]


def test_an_application_missing_from_new_fails_its_gate(runs, tmp_path):
    base = _app_dir(tmp_path, "base", [runs["base"][0], runs["other"][0]])
    new = _app_dir(tmp_path, "new", [runs["again"][0], runs["again"][1]])
    result = diff_logs([base], [new])
    [gate] = result.failed
    assert gate.kind == "application" and "ember-diff-other" in gate.message


def test_limits_decide_what_fails(runs):
    strict = diff_logs(_paths(runs["base"][:1]), _paths(runs["other"][:1]))
    assert not strict.passed  # another job altogether: its stages are new
    assert any(g.kind == "figures" for g in strict.failed)
    relaxed = Thresholds(limits=parse_limits([f"{m}=off" for m in ("tasks", "failed", "input", "output", "shuffle",
                                                                  "spill", "jobs", "stages")]),
                         allow_plan_changes=True, fail_on_new_diagnosis=Severity.CRITICAL)
    assert diff_logs(_paths(runs["base"][:1]), _paths(runs["other"][:1]), relaxed).passed


def test_bad_input_names_the_file(tmp_path, runs):
    with pytest.raises(DiffInputError, match="NEW .*nowhere: no such file"):
        diff_logs(_paths(runs["base"][:1]), [str(tmp_path / "nowhere")])
    text = tmp_path / "notes.txt"
    text.write_text("hello\nworld\n")
    with pytest.raises(DiffInputError, match=r"BASE .*notes.txt: not a Spark event log"):
        diff_logs([str(text)], _paths(runs["base"][:1]))
