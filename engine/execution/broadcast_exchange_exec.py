"""BroadcastExchangeExec: the small side of a join, collected once and handed to every task.

Its child runs as a job of its own before the join's job (as Spark's broadcast does); the
collected table is a broadcast variable: a ``broadcast_<id>`` block stored MEMORY_AND_DISK in an
executor's block manager the first time a task there reads it, as Spark's ``TorrentBroadcast``
keeps a local copy (in local mode the driver is that executor). Its memory counts against storage
memory, and it may go to disk under pressure. The block goes when the plan that broadcast it is
garbage-collected, as Spark's ``ContextCleaner`` removes a broadcast nothing references any more:
without that, every query with a broadcast join kept its table for the life of the session.

A join over the broadcast asks for it hashed (``execute_broadcast``, Spark's ``executeBroadcast``
in ``HashedRelationBroadcastMode``): the first task of an executor to ask builds the
``HashedRelation`` over its keys, and every other task there probes that one.
"""
from __future__ import annotations

import itertools
import threading
import time
import weakref
from dataclasses import dataclass

import pyarrow as pa

from engine.codegen.join import HashedRelation
from engine.execution.joins import hashed_relation
from engine.execution.metrics import SQLMetric, metric
from engine.execution.partitioning import Partitioning, UnknownPartitioning
from engine.execution.spark_plan import SparkPlan, empty_table
from engine.storage import StorageLevel

_broadcast_ids = itertools.count(0)
_HASHING_LOCK = threading.Lock()   # tasks wait for the first one hashing a broadcast


@dataclass(eq=False)
class BroadcastExchangeExec(SparkPlan):
    child: SparkPlan

    def __post_init__(self):
        super().__post_init__()
        self.relation: pa.Table | None = None
        self.broadcast_id: int | None = None
        self.hashed: dict[tuple[str, ...], HashedRelation | None] = {}   # by the keys' fingerprint

    @property
    def block_id(self) -> str:
        return f"broadcast_{self.broadcast_id}"

    def declare_metrics(self) -> dict[str, SQLMetric]:
        return {"dataSize": metric("data size", "size"), "collectTime": metric("time to collect", "timing")}

    @property
    def output(self):
        return self.child.output

    @property
    def output_partitioning(self) -> Partitioning:
        return UnknownPartitioning(1)

    @property
    def is_stage_boundary(self) -> bool:
        return True

    @property
    def node_name(self) -> str:
        return "BroadcastExchange"

    def arguments(self) -> str:
        return "HashedRelationBroadcastMode"

    def do_prepare(self, run_job) -> None:
        if self.relation is not None:
            return
        started = time.perf_counter()
        parts = run_job(self.child, lambda table, ctx: table)
        self.relation = pa.concat_tables(parts) if parts else empty_table(self.output)
        self.broadcast_id = next(_broadcast_ids)
        self.metrics["dataSize"].merge(self.relation.nbytes)
        self.metrics["collectTime"].merge(int((time.perf_counter() - started) * 1000))
        self.metrics["numOutputRows"].merge(self.relation.num_rows)

    def execute_partition(self, index: int, ctx) -> pa.Table:
        if self.relation is None:
            raise RuntimeError("broadcast relation used before it was collected")
        block_manager = ctx.env.block_manager
        table = block_manager.get(self.block_id)
        if table is None:
            block_manager.put(self.block_id, self.relation, StorageLevel.MEMORY_AND_DISK)
            weakref.finalize(self, block_manager.remove_block, self.block_id).atexit = False
            table = self.relation
        return table

    def execute_broadcast(self, ctx, keys) -> tuple[pa.Table, HashedRelation | None]:
        """The broadcast table and its ``HashedRelation`` over ``keys`` (None when a key is not
        integer-like: the join hashes another way), built once here by the first task that asks."""
        table = self.execute_partition(0, ctx)
        fingerprint = tuple(str(k) for k in keys)
        with _HASHING_LOCK:
            if fingerprint not in self.hashed:
                self.hashed[fingerprint] = hashed_relation(table, keys)
            return table, self.hashed[fingerprint]
