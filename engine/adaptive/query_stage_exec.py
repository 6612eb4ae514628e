"""Query stages: the pieces of an adaptive plan that run as jobs of their own.

``ShuffleQueryStageExec`` wraps a shuffle exchange whose map stage has run (or is about to): once
materialized it knows its ``MapOutputStatistics``, the real bytes of every reduce partition, which
the AQE rules plan with. ``BroadcastQueryStageExec`` wraps a broadcast exchange collected by its
own job. ``ResultQueryStageExec`` (Spark 4) marks the last stage, the one the action's job runs.
The stage id is the order in which AQE created the stage, as Spark numbers them.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from engine.adaptive.partition_specs import MapOutputStatistics
from engine.execution.broadcast_exchange_exec import BroadcastExchangeExec
from engine.execution.shuffle_exchange_exec import ShuffleExchangeExec
from engine.execution.spark_plan import SparkPlan
from engine.sql.conf import bytes_to_string


class ExchangeQueryStageExec(SparkPlan):
    """What a shuffle and a broadcast query stage share (Spark's ``ExchangeQueryStageExec``): the
    exchange they wrap, their id, no metrics of their own, and the ``Statistics`` line of formatted
    explain once they have run. Subclasses declare the dataclass fields ``exchange`` and ``stage_id``."""

    exchange: SparkPlan
    stage_id: int

    def __post_init__(self):
        super().__post_init__()
        self.metrics = {}  # a query stage has none of its own, as in Spark

    @property
    def output(self):
        return self.exchange.output

    @property
    def output_partitioning(self):
        return self.exchange.output_partitioning

    @property
    def is_materialized(self) -> bool:
        raise NotImplementedError

    def statistics(self) -> tuple[int, int]:
        """(size in bytes, rows) of the materialized stage."""
        raise NotImplementedError

    def arguments(self) -> str:
        return str(self.stage_id)

    def formatted_suffix(self) -> str | None:
        """``Statistics(sizeInBytes=…, rowCount=…)`` as Spark's formatted explain shows a finished stage."""
        if not self.is_materialized:
            return None
        size, rows = self.statistics()
        return f"Statistics(sizeInBytes={bytes_to_string(size)}, rowCount={rows:.2E})"

    def execute_partition(self, index: int, ctx) -> pa.Table:
        return self.exchange.execute_partition(index, ctx)


@dataclass(eq=False)
class ShuffleQueryStageExec(ExchangeQueryStageExec):
    exchange: ShuffleExchangeExec
    stage_id: int

    def __post_init__(self):
        super().__post_init__()
        self.map_output_statistics: MapOutputStatistics | None = None
        self.row_count: int | None = None

    @property
    def is_materialized(self) -> bool:
        return self.map_output_statistics is not None

    @property
    def data_size(self) -> int:
        """The shuffle's real size in bytes (after it ran), the AQE rules' runtime statistic."""
        if self.map_output_statistics is None:
            raise RuntimeError(f"ShuffleQueryStage {self.stage_id} has not run yet")
        return sum(self.map_output_statistics.bytes_by_partition_id)

    @property
    def node_name(self) -> str:
        return "ShuffleQueryStage"

    def statistics(self) -> tuple[int, int]:
        return self.data_size, self.row_count


@dataclass(eq=False)
class BroadcastQueryStageExec(ExchangeQueryStageExec):
    exchange: BroadcastExchangeExec
    stage_id: int

    @property
    def is_materialized(self) -> bool:
        return self.exchange.relation is not None

    @property
    def node_name(self) -> str:
        return "BroadcastQueryStage"

    def execute_broadcast(self, ctx, keys):
        return self.exchange.execute_broadcast(ctx, keys)

    def statistics(self) -> tuple[int, int]:
        return self.exchange.relation.nbytes, self.exchange.relation.num_rows


@dataclass(eq=False)
class ResultQueryStageExec(SparkPlan):
    child: SparkPlan
    stage_id: int

    def __post_init__(self):
        super().__post_init__()
        self.metrics = {}

    @property
    def output(self):
        return self.child.output

    @property
    def node_name(self) -> str:
        return "ResultQueryStage"

    def arguments(self) -> str:
        return str(self.stage_id)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        return self.child.execute_partition(index, ctx)
