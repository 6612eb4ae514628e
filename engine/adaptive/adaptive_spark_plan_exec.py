"""AdaptiveSparkPlanExec: runs a query stage by stage and re-plans between stages.

    initial plan --(exchanges whose inputs are ready become query stages)--> jobs run them
        ^                                                                      |
        +------ preparation rules re-plan the rest on the stages' real sizes <-+

Each shuffle stage runs as a job of its own that ends with its map stage (the DAG scheduler's
``submit_map_stage``), each broadcast stage as its collect job. When no exchange is left, the rest
becomes the ``ResultQueryStage`` that the action's job runs. Every new plan is reported to the
listener (``SparkListenerSQLAdaptiveExecutionUpdate``); the last one, after the result job, says
``isFinalPlan=true``. Rules run in two places, as in Spark: the preparation rules over the whole
plan after stages finish (they may change joins), the stage optimizer rules over the operators of
each new stage just before it is created (they change how it reads the finished shuffles below).
A global sort's range exchange over a small finished input gets no sampling job
(``single_range_partition``: Ember's one divergence from Spark's jobs here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pyarrow as pa

from engine.adaptive.coalesce_shuffle_partitions import coalesce_shuffle_partitions
from engine.adaptive.join_selection import join_selection
from engine.adaptive.optimize_shuffle_with_local_read import optimize_shuffle_with_local_read
from engine.adaptive.optimize_skewed_join import optimize_skewed_join
from engine.adaptive.partition_specs import MapOutputStatistics
from engine.adaptive.query_stage_exec import BroadcastQueryStageExec, ResultQueryStageExec, ShuffleQueryStageExec
from engine.adaptive.single_range_partition import use_single_range_partition
from engine.adaptive.stage_fragments import QUERY_STAGES, transform_up_outside_stages
from engine.execution.broadcast_exchange_exec import BroadcastExchangeExec
from engine.execution.shuffle_exchange_exec import ShuffleExchangeExec
from engine.execution.spark_plan import SparkPlan

# Over the whole plan once stages have run. Joins are chosen before skew is handled: a join that
# becomes a broadcast join has no skewed partitions left to split.
QUERY_STAGE_PREPARATION_RULES = (join_selection, optimize_skewed_join)
# Over one new stage's operators. The local read replaces whatever coalescing chose for the stream
# side of a broadcast join, so it comes last.
QUERY_STAGE_OPTIMIZER_RULES = (coalesce_shuffle_partitions, optimize_shuffle_with_local_read)


@dataclass
class AdaptiveContext:
    """What the adaptive driver needs from the running query (set by ``QueryExecution.execute``)."""

    conf: object
    shuffle_manager: object
    prepare: Callable[[SparkPlan], None]  # runs the driver-side work below a node (broadcasts, sampling)
    submit_map_stage: Callable[[ShuffleExchangeExec], None]
    on_plan_update: Callable[[], None]
    post_driver_metrics: Callable[[list[tuple[int, int]]], None]


@dataclass(eq=False)
class AdaptiveSparkPlanExec(SparkPlan):
    current_plan: SparkPlan

    def __post_init__(self):
        super().__post_init__()
        self.metrics = {}
        self.initial_plan = self.current_plan
        self.is_final_plan = False
        self.context: AdaptiveContext | None = None
        self._next_stage_id = 0

    @property
    def output(self):
        return self.current_plan.output

    @property
    def output_partitioning(self):
        return self.current_plan.output_partitioning

    @property
    def prepares_subtree(self) -> bool:
        """The stages below run under this node's control, not by a preparation pass over them."""
        return True

    @property
    def node_name(self) -> str:
        return "AdaptiveSparkPlan"

    def arguments(self) -> str:
        return f"isFinalPlan={str(self.is_final_plan).lower()}"

    def explain_sections(self) -> list[tuple[str | None, SparkPlan]]:
        """The plans explain shows under this node: the initial plan alone before execution, then
        the current (or final) plan and the initial plan."""
        if self.current_plan is self.initial_plan:
            return [(None, self.initial_plan)]
        return [("Final Plan" if self.is_final_plan else "Current Plan", self.current_plan),
                ("Initial Plan", self.initial_plan)]

    def _tree_lines(self, lines, first, rest, prefix_codegen, codegen_id) -> None:
        lines.append(first + self.simple_string())
        sections = self.explain_sections()
        for i, (title, plan) in enumerate(sections):
            last = i == len(sections) - 1
            if title is None:
                plan._tree_lines(lines, rest + "+- ", rest + "   ", prefix_codegen, None)
                continue
            lines.append(f"{rest}+- == {title} ==")
            plan._tree_lines(lines, rest + "   ", rest + ("   " if last else ":  "), prefix_codegen, None)

    # ---- running ----
    def do_prepare(self, run_job) -> None:
        """Run every query stage, re-planning after each wave, and leave the result stage ready."""
        if self.is_final_plan or isinstance(self.current_plan, ResultQueryStageExec):
            return
        ctx = self.context
        if ctx is None:
            raise RuntimeError("AdaptiveSparkPlan executed without an AdaptiveContext")
        while True:
            self.current_plan, created = self._create_query_stages(self.current_plan)
            if not created:
                break
            ctx.on_plan_update()
            for stage in created:
                self._materialize(stage)
            self.current_plan = self._apply(QUERY_STAGE_PREPARATION_RULES, self.current_plan)
        result = self._apply(QUERY_STAGE_OPTIMIZER_RULES, self.current_plan)
        self._post_read_metrics(result)
        self.current_plan = ResultQueryStageExec(result, self._new_stage_id())
        ctx.on_plan_update()

    def finish(self) -> None:
        """The result job has run: the plan is final (posted once more, as Spark does)."""
        self.is_final_plan = True
        self.context.on_plan_update()

    def execute_partition(self, index: int, ctx) -> pa.Table:
        return self.current_plan.execute_partition(index, ctx)

    def _apply(self, rules, plan: SparkPlan) -> SparkPlan:
        for rule in rules:
            plan = rule(plan, self.context.conf)
        return plan

    def _new_stage_id(self) -> int:
        stage_id = self._next_stage_id
        self._next_stage_id += 1
        return stage_id

    def _create_query_stages(self, plan: SparkPlan) -> tuple[SparkPlan, list[SparkPlan]]:
        """Every exchange whose input stages have all run becomes a query stage (bottom up)."""
        created: list[SparkPlan] = []

        def ready(node: SparkPlan) -> bool:
            for c in node.children:
                if isinstance(c, QUERY_STAGES):
                    if not c.is_materialized:
                        return False
                elif isinstance(c, (ShuffleExchangeExec, BroadcastExchangeExec)) or not ready(c):
                    return False
            return True

        def rule(node: SparkPlan) -> SparkPlan:
            if not isinstance(node, (ShuffleExchangeExec, BroadcastExchangeExec)) or not ready(node):
                return node
            child = self._apply(QUERY_STAGE_OPTIMIZER_RULES, node.child)
            exchange = node if child is node.child else node.with_new_children((child,))
            if isinstance(exchange, ShuffleExchangeExec):
                use_single_range_partition(exchange, self.context.conf)
            self._post_read_metrics(exchange.child)
            stage_type = ShuffleQueryStageExec if isinstance(node, ShuffleExchangeExec) else BroadcastQueryStageExec
            stage = stage_type(exchange, self._new_stage_id())
            created.append(stage)
            return stage

        return transform_up_outside_stages(plan, rule), created

    def _materialize(self, stage: SparkPlan) -> None:
        ctx = self.context
        ctx.prepare(stage.exchange)
        if isinstance(stage, BroadcastQueryStageExec):
            ctx.post_driver_metrics([(m.accumulator_id, m.value) for m in stage.exchange.metrics.values() if m.value])
            return
        ctx.submit_map_stage(stage.exchange)
        statuses = ctx.shuffle_manager.map_statuses(stage.exchange.shuffle_id)
        stage.map_output_statistics = MapOutputStatistics(
            stage.exchange.shuffle_id, stage.exchange.partitioning.num_partitions,
            tuple(s.block_sizes for s in statuses))
        stage.row_count = sum(sum(s.block_records) for s in statuses)

    def _post_read_metrics(self, fragment: SparkPlan) -> None:
        updates = [u for node in _stage_nodes(fragment) for u in node.driver_metric_updates()]
        if updates:
            self.context.post_driver_metrics(updates)


def _stage_nodes(fragment: SparkPlan):
    """The operators of one stage: ``fragment`` down to (not into) the query stages it reads."""
    yield fragment
    if isinstance(fragment, QUERY_STAGES):
        return
    for c in fragment.children:
        yield from _stage_nodes(c)
