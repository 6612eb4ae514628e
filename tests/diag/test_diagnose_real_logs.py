"""Diagnoses of real Spark 4 logs whose problem is known because the scenario caused it
(tests/spark_jobs/scenarios.py): each expected finding is there, with evidence, and nothing
unexpected is reported at ``low`` or above. Healthy logs produce no finding at all."""
from __future__ import annotations

import json

import pytest

from diag.analyze import analyze
from diag.diagnosis import Severity
from diag.report import to_json, to_markdown
from tui.cli import main as ember

pytestmark = pytest.mark.spark

# scenario -> (kinds that must be found, kinds that may also be found because the scenario causes them too)
EXPECTED = {
    "skewed_join": ({"skew"}, {"broadcastable_join", "shuffle_heavy"}),
    "spilling_aggregation": ({"spill"}, {"gc_pressure", "shuffle_heavy", "skew"}),
    "small_files_read": ({"small_files"}, {"tiny_tasks"}),
    "small_files_write": ({"small_output_files"}, {"tiny_tasks"}),
    "shuffle_chain": ({"shuffle_heavy"}, set()),
    "task_failures": ({"task_failures"}, set()),
    "tiny_tasks": ({"tiny_tasks"}, set()),
    "python_udf": ({"python_udf"}, set()),
    "broadcastable_smj": ({"broadcastable_join"}, set()),
    "healthy": (set(), set()),
    "healthy_with_warmup": (set(), set()),
}


@pytest.fixture(scope="module")
def reports(spark_logs):
    out = {}
    for name, path in spark_logs.items():
        found, errors = analyze(path)
        assert not errors and len(found) == 1
        out[name] = found[0]
    return out


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_expected_findings_and_no_others(reports, scenario):
    report = reports[scenario]
    assert report.complete and not report.run.failures
    required, allowed = EXPECTED[scenario]
    kinds = {d.kind for d in report.findings}
    assert required <= kinds, f"{scenario}: expected {required}, found {[d.title for d in report.findings]}"
    assert kinds <= required | allowed, f"{scenario}: unexpected {[d.title for d in report.findings]}"
    for d in report.findings:
        assert d.evidence and d.explanation and d.recommendation


def test_skew_names_the_stage_and_why_aqe_did_not_help(reports):
    [skew] = [d for d in reports["skewed_join"].findings if d.kind == "skew"]
    assert skew.location.stage_ids and skew.evidence["read_bytes_ratio"] >= 5
    assert "spark.sql.adaptive.enabled=false" in skew.explanation


def test_task_failures_grouped_with_the_reason(reports):
    [d] = [d for d in reports["task_failures"].findings if d.kind == "task_failures"]
    assert d.evidence["failed_attempts"] >= 1 and "reason_1" in d.evidence
    assert d.severity < Severity.CRITICAL  # every task recovered on retry


def test_json_and_markdown_reports(reports):
    doc = json.loads(to_json([reports["tiny_tasks"], reports["healthy"]]))
    assert doc["schema"] == "ember.diagnose/1" and len(doc["applications"]) == 2
    kinds = [d["kind"] for d in doc["applications"][0]["diagnoses"]]
    assert "tiny_tasks" in kinds
    assert "| severity | kind |" in to_markdown([reports["tiny_tasks"]])
    assert "No findings." in to_markdown([reports["healthy"]])


def test_fail_on_gates(spark_logs, capsys):
    assert ember(["diagnose", str(spark_logs["healthy"]), "--fail-on", "low"]) == 0
    assert ember(["diagnose", str(spark_logs["tiny_tasks"]), "--fail-on", "low", "--format", "markdown"]) == 1
    assert "tiny_tasks" in capsys.readouterr().out
