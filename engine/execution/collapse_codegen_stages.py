"""CollapseCodegenStages: wraps each maximal chain of codegen-capable operators in one whole stage."""
from __future__ import annotations

import itertools

from engine.execution.spark_plan import SparkPlan
from engine.execution.whole_stage_codegen_exec import WholeStageCodegenExec


def collapse_codegen_stages(plan: SparkPlan) -> SparkPlan:
    ids = itertools.count(1)

    def below_chain(node: SparkPlan) -> SparkPlan:
        if node.supports_codegen:
            return node.with_new_children(tuple(below_chain(c) for c in node.children))
        return collapse(node)

    def collapse(node: SparkPlan) -> SparkPlan:
        if node.supports_codegen:
            return WholeStageCodegenExec(below_chain(node), next(ids))
        kids = node.children
        if not kids:
            return node
        new_kids = tuple(collapse(c) for c in kids)
        return node.with_new_children(new_kids) if any(a is not b for a, b in zip(new_kids, kids)) else node

    return collapse(plan)
