"""The physical operator contract: each operator describes itself; the planner only asks.

An operator states its output columns, how its output is partitioned and ordered, what it
requires of each child (``required_child_distribution``), and computes one partition of its
output as an Arrow table whose columns are named by ``AttributeReference.column_key``.
No planner code dispatches on operator types: it reads these answers.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.catalyst.expressions import AttributeReference, SortOrder
from engine.catalyst.tree import TreeNode
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import Distribution, Partitioning, UnknownPartitioning, UnspecifiedDistribution


@dataclass(eq=False)
class SparkPlan(TreeNode):
    @classmethod
    def tree_base(cls) -> type:
        return SparkPlan

    def __post_init__(self):
        self.metrics: dict[str, SQLMetric] = {"numOutputRows": metric("number of output rows")}
        self.metrics.update(self.declare_metrics())

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {}

    # ---- what the operator says about itself ----
    @property
    def output(self) -> tuple[AttributeReference, ...]:
        raise NotImplementedError(type(self).__name__)

    @property
    def output_partitioning(self) -> Partitioning:
        kids = self.children
        return kids[0].output_partitioning if len(kids) == 1 else UnknownPartitioning(1)

    @property
    def required_child_distribution(self) -> tuple[Distribution, ...]:
        return tuple(UnspecifiedDistribution() for _ in self.children)

    @property
    def output_ordering(self) -> tuple[SortOrder, ...]:
        return ()

    @property
    def required_child_ordering(self) -> tuple[tuple[SortOrder, ...], ...]:
        return tuple(() for _ in self.children)

    @property
    def num_partitions(self) -> int:
        return self.output_partitioning.num_partitions

    @property
    def supports_codegen(self) -> bool:
        """Whether this operator can be fused into a whole-stage kernel with its neighbours."""
        return False

    @property
    def blocking_codegen(self) -> bool:
        """True for an operator that consumes its whole input inside a kernel (a partial aggregate):
        it can only be the top of a fused chain."""
        return False

    @property
    def codegen_fallback_reason(self) -> str | None:
        """Why an operator that could be fused cannot be compiled for this plan (shown by explain)."""
        return None

    @property
    def is_stage_boundary(self) -> bool:
        """True for Exchanges: the rows below are produced by another stage (or job)."""
        return False

    def execute_partition(self, index: int, ctx) -> pa.Table:
        raise NotImplementedError(type(self).__name__)

    def do_prepare(self, run_job) -> None:
        """Work that must finish before a job over this operator starts (a broadcast's collect,
        a range exchange's sampling); ``run_job(plan, result_fn)`` runs a job of its own."""

    def driver_metric_updates(self) -> list[tuple[int, int]]:
        """``(accumulator id, value)`` pairs of the metrics the driver measures itself (a scan's
        file listing, an AQE read's partition sizes): posted as ``SparkListenerDriverAccumUpdates``
        when the operator's stage is planned, as Spark's ``SQLMetrics.postDriverMetricUpdates``
        does, instead of arriving with task results."""
        return []

    # ---- how it shows itself ----
    @property
    def node_name(self) -> str:
        return type(self).__name__.removesuffix("Exec")

    def arguments(self) -> str:
        return ""

    def simple_string(self) -> str:
        args = self.arguments()
        return f"{self.node_name} {args}" if args else self.node_name

    def tree_string(self, prefix_codegen: bool = True) -> str:
        lines: list[str] = []
        self._tree_lines(lines, "", "", prefix_codegen, None)
        return "\n".join(lines)

    def _tree_lines(self, lines, first, rest, prefix_codegen, codegen_id) -> None:
        own_codegen = getattr(self, "codegen_stage_id", None)
        if own_codegen is not None:
            # a whole-stage node shows its fused operators, marked "*(n)" as Spark does when compiled
            codegen_id = own_codegen if self.compiled else None
            self.child._tree_lines(lines, first, rest, prefix_codegen, codegen_id)
            return
        marker = f"*({codegen_id}) " if (prefix_codegen and codegen_id is not None) else ""
        lines.append(first + marker + self.simple_string())
        kids = self.children
        for i, c in enumerate(kids):
            last = i == len(kids) - 1
            inner_id = codegen_id if (c.supports_codegen and codegen_id is not None) else None
            c._tree_lines(lines, rest + ("+- " if last else ":- "), rest + ("   " if last else ":  "),
                          prefix_codegen, inner_id)

    def __str__(self) -> str:
        return self.tree_string()


def select_output(table: pa.Table, attrs) -> pa.Table:
    """``table`` reduced to ``attrs`` in order (columns are keyed by attribute id)."""
    keys = [a.column_key for a in attrs]
    if table.column_names == keys:
        return table
    return table.select(keys)


def empty_table(attrs) -> pa.Table:
    return pa.table({a.column_key: pa.array([], a.data_type.to_arrow()) for a in attrs}) if attrs else pa.table({})


def attrs_string(attrs) -> str:
    return "[" + ", ".join(str(a) for a in attrs) + "]"

