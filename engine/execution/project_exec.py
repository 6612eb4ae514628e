"""ProjectExec: computes the select list of each row, vectorized over the partition."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.expressions import AttributeReference, SortOrder
from engine.execution.evaluator import evaluate
from engine.execution.spark_plan import SparkPlan, attrs_string


@dataclass(eq=False)
class ProjectExec(SparkPlan):
    project_list: tuple
    child: SparkPlan

    @property
    def output(self):
        return tuple(e.to_attribute() for e in self.project_list)

    @property
    def supports_codegen(self) -> bool:
        return True

    @property
    def output_ordering(self) -> tuple[SortOrder, ...]:
        kept = {e.expr_id for e in self.project_list if isinstance(e, AttributeReference)}
        ordering = []
        for o in self.child.output_ordering:
            if isinstance(o.child, AttributeReference) and o.child.expr_id in kept:
                ordering.append(o)
            else:
                break
        return tuple(ordering)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        table = self.child.execute_partition(index, ctx)
        return project(self.project_list, table)

    def arguments(self) -> str:
        return attrs_string(self.project_list)


def project(project_list, table: pa.Table) -> pa.Table:
    """Evaluate ``project_list`` over ``table``; with no columns the row count is kept."""
    if not project_list:
        return table.select([])
    return pa.table({e.to_attribute().column_key: evaluate(e, table) for e in project_list})
