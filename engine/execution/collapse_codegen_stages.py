"""CollapseCodegenStages: wraps each maximal chain of codegen-capable operators in one whole stage.

A chain runs down from its top through operators that support codegen. A blocking operator (a
partial aggregate, ``blocking_codegen``) can only be the top of a chain: below it a new chain
starts. A partial aggregate that cannot compile gets a stage of its own that is not compiled, so
that explain("codegen") shows why (``codegen_fallback_reason``); its child chain is still fused.
Stage ids are given bottom up, as Spark does: a stage's id is larger than those below it.
"""
from __future__ import annotations

import itertools

from engine.execution.spark_plan import SparkPlan
from engine.execution.whole_stage_codegen_exec import WholeStageCodegenExec, is_blocking_codegen


def collapse_codegen_stages(plan: SparkPlan) -> SparkPlan:
    ids = itertools.count(1)

    def below_chain(node: SparkPlan) -> SparkPlan:
        if node.supports_codegen and not is_blocking_codegen(node):
            return node.with_new_children(tuple(below_chain(c) for c in node.children))
        return collapse(node)

    def collapse(node: SparkPlan) -> SparkPlan:
        if node.supports_codegen:
            top = node.with_new_children(tuple(below_chain(c) for c in node.children))
            return WholeStageCodegenExec(top, next(ids))
        kids = node.children
        new_kids = tuple(collapse(c) for c in kids)
        if any(a is not b for a, b in zip(new_kids, kids)):
            node = node.with_new_children(new_kids)
        if node.codegen_fallback_reason:
            return WholeStageCodegenExec(node, next(ids))
        return node

    return collapse(plan)
