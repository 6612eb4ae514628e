"""SparkPlanner: turns an optimized logical plan into physical operators.

Choices made here, as Spark makes them:
- aggregation: a partial HashAggregate before the exchange and a final one after it; a single
  ``complete`` one after the exchange when an aggregate is DISTINCT;
- equi-joins: BroadcastHashJoin when a buildable side's estimated size is at most
  ``spark.sql.autoBroadcastJoinThreshold``, else ShuffledHashJoin (see its module for why not
  sort-merge); joins without equality keys: BroadcastNestedLoopJoin;
- ``orderBy(...).limit(n)``: TakeOrderedAndProject; a global sort: a range exchange then a sort.
- Python UDF calls in a Project or Filter: evaluated by a BatchEvalPython (``udf``) or
  ArrowEvalPython (``pandas_udf``) operator below it (``extract_python_udfs``, Spark's ExtractPythonUDFs).
Exchanges are not placed here: ``ensure_requirements`` adds them where a child's partitioning
does not meet its parent's required distribution.
"""
from __future__ import annotations

from engine.catalyst import logical as L
from engine.catalyst.expressions import (
    AggregateFunction,
    Alias,
    AttributeReference,
)
from engine.execution.broadcast_hash_join_exec import BroadcastHashJoinExec
from engine.execution.broadcast_nested_loop_join_exec import BroadcastNestedLoopJoinExec
from engine.execution.coalesce_exec import CoalesceExec
from engine.execution.deduplicate_exec import DeduplicateExec
from engine.execution.extract_python_udfs import extract_python_udfs
from engine.execution.file_source_scan_exec import FileSourceScanExec
from engine.execution.filter_exec import FilterExec
from engine.execution.hash_aggregate_exec import HashAggregateExec, buffer_names
from engine.execution.in_memory_table_scan_exec import InMemoryTableScanExec
from engine.execution.joins import equi_join_keys
from engine.execution.limit_exec import GlobalLimitExec, LocalLimitExec
from engine.execution.local_table_scan_exec import LocalTableScanExec
from engine.execution.partitioning import HashPartitioning, RoundRobinPartitioning
from engine.execution.project_exec import ProjectExec
from engine.execution.python_runner import DEFAULT_MAX_RECORDS_PER_BATCH
from engine.execution.range_exec import RangeExec
from engine.execution.shuffle_exchange_exec import REPARTITION_BY_NUM, ShuffleExchangeExec
from engine.execution.sort_exec import SortExec
from engine.execution.spark_plan import SparkPlan
from engine.execution.take_ordered_and_project_exec import TakeOrderedAndProjectExec
from engine.execution.union_exec import UnionExec
from engine.optimizer.columns import column_ids
from engine.sql.types import DoubleType, LongType, is_integral

BUILD_RIGHT_JOINS = ("inner", "cross", "left_outer", "left_semi", "left_anti")
BUILD_LEFT_JOINS = ("inner", "cross", "right_outer")


class SparkPlanner:
    def __init__(self, conf, cache_manager=None):
        self.conf = conf
        self.cache_manager = cache_manager
        self.notes: list[str] = []

    @property
    def default_parallelism(self) -> int:
        return int(self.conf.get("spark.default.parallelism"))

    @property
    def max_records_per_batch(self) -> int:
        """Rows per call of a pandas_udf."""
        return int(self.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch", DEFAULT_MAX_RECORDS_PER_BATCH))

    def plan(self, node: L.LogicalPlan) -> SparkPlan:
        method = getattr(self, "_" + type(node).__name__.lower(), None)
        if method is None:
            raise NotImplementedError(f"no physical plan for {type(node).__name__}")
        return method(node)

    # ---- leaves ----
    def _localrelation(self, node: L.LocalRelation) -> SparkPlan:
        slices = max(1, min(node.table.num_rows, self.default_parallelism))
        return LocalTableScanExec(node.output, node.table, slices)

    def _range(self, node: L.Range) -> SparkPlan:
        return RangeExec(node.start, node.end, node.step, node.num_partitions, node.output)

    def _filescan(self, node: L.FileScan) -> SparkPlan:
        return FileSourceScanExec.create(node, self.conf)

    def _inmemoryrelation(self, node: L.InMemoryRelation, required: frozenset[int] | None = None) -> SparkPlan:
        """The cached relation's scan, of the ``required`` columns only when a Project above says
        which (Spark's InMemoryScans strategy): a compiled stage then reads, and the scan decodes,
        nothing else."""
        cached = node.cache.value
        if cached.physical is None:
            cached.physical = self.cache_manager.plan_cached(node.cached_plan)
        output = node.output if required is None else \
            tuple(a for a in node.output if a.attr_id in required) or node.output[:1]
        return InMemoryTableScanExec(output, cached)

    def _plan_for_columns(self, node: L.LogicalPlan, required: frozenset[int]) -> SparkPlan:
        """``node`` planned, with an in-memory relation under its Filters narrowed to ``required``
        plus the columns the Filters read (the optimizer cannot put a Project there)."""
        if isinstance(node, L.Filter):
            return self._filter(node, self._plan_for_columns(node.child, required | column_ids([node.condition])))
        if isinstance(node, L.InMemoryRelation):
            return self._inmemoryrelation(node, required)
        return self.plan(node)

    # ---- unary ----
    def _project(self, node: L.Project) -> SparkPlan:
        child = self._plan_for_columns(node.child, column_ids(node.project_list))
        project_list, child = extract_python_udfs(tuple(node.project_list), child, self.max_records_per_batch)
        return ProjectExec(project_list, child)

    def _filter(self, node: L.Filter, child: SparkPlan | None = None) -> SparkPlan:
        child = self.plan(node.child) if child is None else child
        (condition,), evaluated = extract_python_udfs((node.condition,), child, self.max_records_per_batch)
        if evaluated is child:
            return FilterExec(condition, child)
        # the UDFs' result columns are not the Filter's output: a Project drops them, as in Spark
        return ProjectExec(tuple(child.output), FilterExec(condition, evaluated))

    def _sort(self, node: L.Sort) -> SparkPlan:
        return SortExec(node.order, node.is_global, self.plan(node.child))

    def _limit(self, node: L.Limit) -> SparkPlan:
        if isinstance(node.child, L.Sort) and node.child.is_global:
            child = self.plan(node.child.child)
            partial = TakeOrderedAndProjectExec(node.n, node.child.order, True, child)
            return TakeOrderedAndProjectExec(node.n, node.child.order, False, partial)
        return GlobalLimitExec(node.n, LocalLimitExec(node.n, self.plan(node.child)))

    def _repartition(self, node: L.Repartition) -> SparkPlan:
        child = self.plan(node.child)
        if not node.shuffle:
            return CoalesceExec(node.num_partitions, child)
        if node.partition_expressions:
            partitioning = HashPartitioning(node.num_partitions, tuple(node.partition_expressions))
        else:
            partitioning = RoundRobinPartitioning(node.num_partitions)
        return ShuffleExchangeExec(partitioning, child, REPARTITION_BY_NUM)

    def _deduplicate(self, node: L.Deduplicate) -> SparkPlan:
        return DeduplicateExec(node.keys, self.plan(node.child))

    def _union(self, node: L.Union) -> SparkPlan:
        return UnionExec(node.output, tuple(self.plan(c) for c in node.union_children))

    def _aggregate(self, node: L.Aggregate) -> SparkPlan:
        child = self.plan(node.child)
        # a grouping key keeps its attribute: a column, or the alias the user gave it (groupBy(expr.alias("k"))
        # groups by k#2, and a Sort above refers to k#2); any other expression gets an alias of its own
        grouping = tuple(g if isinstance(g, (AttributeReference, Alias)) else Alias(g, g.sql())
                         for g in node.grouping_expressions)
        keys = tuple(g.to_attribute() for g in grouping)
        functions = node.aggregate_functions
        result_attrs = tuple(AttributeReference(f.sql(), f.data_type, f.nullable) for f in functions)
        by_grouping = {g: k for g, k in zip(node.grouping_expressions, keys)}
        by_grouping.update({g.child: k for g, k in zip(node.grouping_expressions, keys) if isinstance(g, Alias)})
        by_function = dict(zip(functions, result_attrs))

        def to_result(e):
            if e in by_grouping:
                return by_grouping[e]
            if isinstance(e, AggregateFunction):
                return by_function[e]
            return e

        results = tuple(e.transform_down(to_result) if not isinstance(e, AttributeReference) else to_result(e)
                        for e in node.aggregate_expressions)
        results = tuple(r if isinstance(r, (Alias, AttributeReference)) else Alias(r, r.sql()) for r in results)
        if any(f.distinct for f in functions):
            return HashAggregateExec("complete", grouping, functions, (), result_attrs, results, child)
        buffers = tuple(tuple(AttributeReference(b, _buffer_type(f, b), True) for b in buffer_names(f)) for f in functions)
        partial = HashAggregateExec("partial", grouping, functions, buffers, result_attrs, (), child)
        return HashAggregateExec("final", keys, functions, buffers, result_attrs, results, partial)

    # ---- joins ----
    def _join(self, node: L.Join) -> SparkPlan:
        left, right = self.plan(node.left), self.plan(node.right)
        left_keys, right_keys, residual = equi_join_keys(node.condition, node.left.output_set, node.right.output_set)
        join_type = "inner" if node.join_type == "cross" else node.join_type
        threshold = int(self.conf.get("spark.sql.autoBroadcastJoinThreshold"))
        left_size, right_size = node.left.size_in_bytes, node.right.size_in_bytes
        fits_right = join_type in BUILD_RIGHT_JOINS and 0 <= right_size <= threshold
        fits_left = join_type in BUILD_LEFT_JOINS and 0 <= left_size <= threshold
        if left_keys:
            if fits_right and (not fits_left or right_size <= left_size):
                return BroadcastHashJoinExec(tuple(left_keys), tuple(right_keys), join_type, "right", residual,
                                             node.output, left, right)
            if fits_left:
                return BroadcastHashJoinExec(tuple(left_keys), tuple(right_keys), join_type, "left", residual,
                                             node.output, left, right)
            self.notes.append(
                f"ShuffledHashJoin for {join_type} join: estimated sides {left_size} and {right_size} bytes, "
                f"over spark.sql.autoBroadcastJoinThreshold={threshold}"
            )
            return ShuffledHashJoinExec(tuple(left_keys), tuple(right_keys), join_type, residual, node.output,
                                        left, right)
        build = "right" if join_type in BUILD_RIGHT_JOINS else "left"
        return BroadcastNestedLoopJoinExec(join_type, build, node.condition, node.output, left, right)


def _buffer_type(fn: AggregateFunction, buffer: str):
    if buffer == "count":
        return LongType()
    if buffer == "sum":
        return LongType() if is_integral(fn.child.data_type) else DoubleType()
    return fn.child.data_type


from engine.execution.shuffled_hash_join_exec import ShuffledHashJoinExec  # noqa: E402
