"""``ember diff`` on real Spark 4 logs of one report run with one known change each
(tests/spark_jobs/diff_pairs.py): the change is found and named; the same report run twice passes."""
from __future__ import annotations

import pytest

from diag.diff import diff_logs
from diag.diff.render import to_markdown

pytestmark = pytest.mark.spark


def _diff(logs, new):
    result = diff_logs([str(logs["baseline"])], [str(logs[new])])
    [app] = result.applications
    assert app.status == "matched" and app.name == "ember-pair-report"
    return result, app


def _failed(result, kind):
    return [g for g in result.failed if g.kind == kind]


def test_the_same_report_twice_fails_no_gate(diff_pair_logs):
    result, app = _diff(diff_pair_logs, "baseline_again")
    assert result.passed, [g.message for g in result.failed]
    assert not app.config_changes and all(q.plan_change is None for q in app.queries)
    assert all(s.status == "matched" for s in app.stages)
    assert any("times are reported, not gated" in n for n in app.notes)


def test_aqe_off_is_named_by_its_config_plan_and_task_count(diff_pair_logs):
    result, app = _diff(diff_pair_logs, "no_aqe")
    assert app.config_changes == [("spark.sql.adaptive.enabled", None, "false")]
    [plan] = _failed(result, "plan")
    assert "-AdaptiveSparkPlan" in plan.message and "-AQEShuffleRead" in plan.message
    # without AQE the 8 shuffle partitions are 8 reduce tasks, not one coalesced task
    reduce = [s for s in app.stages if any(f.metric == "tasks" and f.exceeded for f in s.figures)]
    assert [(f.base, f.new) for s in reduce for f in s.figures if f.metric == "tasks"] == [(1, 8)]


def test_no_broadcast_is_named_as_a_join_strategy_change(diff_pair_logs):
    result, app = _diff(diff_pair_logs, "no_broadcast")
    assert app.config_changes == [("spark.sql.autoBroadcastJoinThreshold", None, "-1")]
    [query] = app.queries
    assert query.plan_change.joins == (("BroadcastHashJoin Inner",), ("SortMergeJoin Inner",))
    assert "joins BroadcastHashJoin Inner -> SortMergeJoin Inner" in _failed(result, "plan")[0].message
    added = [s for s in app.stages if s.status == "added"]
    assert added and all(s.role == "map" for s in added)
    assert [c.diagnosis.kind for c in app.new_diagnoses] == ["broadcastable_join"]
    assert _failed(result, "diagnoses")


def test_an_added_repartition_is_an_added_exchange_and_stage_with_its_shuffle_bytes(diff_pair_logs):
    result, app = _diff(diff_pair_logs, "repartitioned")
    assert not app.config_changes
    assert "+Exchange RoundRobinPartitioning(4)" in app.queries[0].plan_change.summary()
    writes = {s.slot: next(f for f in s.figures if f.metric == "shuffle_write_records")
              for s in app.stages if s.status == "added"}
    # the new stage writes every one of the 4,000 order rows to the new exchange
    assert any(f.new == 4000 and f.exceeded for f in writes.values())
    totals = {f.metric: f for f in app.totals}
    assert totals["stages"].base + 1 == totals["stages"].new and totals["shuffle_write_bytes"].exceeded
    assert "RoundRobinPartitioning" in to_markdown(result)
