"""TreeNode: children come from the dataclass fields; frozen nodes keep them, physical operators
(which an adaptive plan changes in place) compute them each time."""
from __future__ import annotations

import pickle

import cloudpickle

from engine.adaptive.adaptive_spark_plan_exec import AdaptiveSparkPlanExec
from engine.catalyst.expressions import Literal
from engine.sql import functions as F
from engine.sql.types import IntegerType


def _expression():
    return (F.col("a") + 1 > 3).expr


def test_a_frozen_node_computes_its_children_once():
    e = _expression()
    assert e.children is e.children
    assert [type(c).__name__ for c in e.children] == ["Arithmetic", "Literal"]


def test_kept_children_do_not_take_part_in_equality_or_pickling():
    e, fresh = _expression(), _expression()
    e.children
    assert e == fresh and hash(e) == hash(fresh)
    for copy in (pickle.loads(pickle.dumps(e)), cloudpickle.loads(cloudpickle.dumps(e))):
        assert copy == e and copy.children == e.children


def test_a_rebuilt_node_has_its_new_children():
    e = _expression()
    e.children
    rebuilt = e.with_new_children((e.children[0], Literal(4, IntegerType())))
    assert rebuilt.children[1] == Literal(4, IntegerType()) and e.children[1] == Literal(3, IntegerType())


def test_transform_up_keeps_unchanged_subtrees():
    e = _expression()
    assert e.transform_up(lambda node: node) is e
    changed = e.transform_up(lambda node: Literal(5, IntegerType()) if node == Literal(1, IntegerType()) else node)
    assert changed.children[1] is e.children[1] and changed.children[0] != e.children[0]


def test_a_physical_operator_follows_a_child_changed_in_place(spark):
    first = spark.range(4)._qe.executed_plan
    second = spark.range(8)._qe.executed_plan
    adaptive = AdaptiveSparkPlanExec(first)
    assert adaptive.children == (first,)
    adaptive.current_plan = second
    assert adaptive.children == (second,)
