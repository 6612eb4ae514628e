"""CacheManager: remembers the plans of cached DataFrames and swaps them into later queries.

``df.cache()`` registers ``df``'s analyzed plan. Any later query containing that plan (compared
whole, with ``==``) reads the cached partitions instead (Spark's ``useCachedData``). The first
job to need a partition computes and stores it, at the storage level given to ``persist``, in the
block manager (``engine.storage``), whose memory comes from the executor's storage pool.
"""
from __future__ import annotations

import itertools

from engine.catalyst import logical as L
from engine.execution.in_memory_table_scan_exec import CachedPlan
from engine.scheduler.events import SparkListenerUnpersistRDD
from engine.storage import StorageLevel

_rdd_ids = itertools.count(10_000)


class CacheManager:
    def __init__(self, session):
        self.session = session
        self._entries: dict[L.LogicalPlan, L.InMemoryRelation] = {}

    def cache(self, plan: L.LogicalPlan, storage_level: str) -> None:
        StorageLevel.flags(storage_level)  # an unknown level fails here, where the user named it
        if plan in self._entries:
            return
        cached = CachedPlan(next(_rdd_ids), storage_level)
        self._entries[plan] = L.InMemoryRelation(plan.output, plan, L.DataHandle(cached), storage_level)

    def uncache(self, plan: L.LogicalPlan) -> None:
        """Forget the cached plan, drop its blocks, and tell listeners (``SparkListenerUnpersistRDD``)."""
        entry = self._entries.pop(plan, None)
        if entry is not None:
            rdd_id = entry.cache.value.rdd_id
            self.session.env.block_manager.remove_prefix(f"rdd_{rdd_id}_")
            self.session.bus.post(SparkListenerUnpersistRDD(rdd_id))

    def lookup(self, plan: L.LogicalPlan) -> L.InMemoryRelation | None:
        return self._entries.get(plan)

    def use_cached_data(self, plan: L.LogicalPlan) -> L.LogicalPlan:
        if not self._entries:
            return plan
        return plan.transform_down(lambda node: self._entries.get(node, node))

    def plan_cached(self, plan: L.LogicalPlan):
        """The physical plan a cached relation's partitions are computed with.

        It runs without adaptive execution, as Spark's cached plans did before 3.5 (Spark's
        ``spark.sql.optimizer.canChangeCachedPlanOutputPartitioning=false``): its stages run
        inside the jobs of the query that first reads the cache, where no query stage of its own
        could be materialized first, and a cached relation keeps the partitioning it was planned with.
        """
        from engine.adaptive.adaptive_spark_plan_exec import AdaptiveSparkPlanExec
        from engine.sql.query_execution import QueryExecution

        executed = QueryExecution(self.session, plan, use_cache=False).executed_plan
        return executed.initial_plan if isinstance(executed, AdaptiveSparkPlanExec) else executed
