"""BroadcastHashJoinExec: every task joins its stream partition with the whole small (build) side.

Chosen when one side's estimated size is under ``spark.sql.autoBroadcastJoinThreshold``: no
shuffle of the big side. The build side can only be the side whose unmatched rows are dropped.

The broadcast table is hashed into a ``HashedRelation`` once per process, by the first task that
needs it, and every task probes that one relation (Spark builds its ``HashedRelation`` once, in the
broadcast, for the same reason: building per task would hash the small side once per partition).
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import pyarrow as pa

from engine.codegen.join import HashedRelation
from engine.execution.joins import hashed_relation, join_tables
from engine.execution.partitioning import BroadcastDistribution, UnspecifiedDistribution
from engine.execution.spark_plan import SparkPlan, attrs_string

# id of a broadcast table -> {build keys -> its relation, or None when the keys are not compiled};
# an entry goes when its table does (a finalizer), so an id is never reused while it is here
_RELATIONS: dict[int, dict[tuple[str, ...], HashedRelation | None]] = {}
_RELATIONS_LOCK = threading.Lock()


@dataclass(eq=False)
class BroadcastHashJoinExec(SparkPlan):
    left_keys: tuple
    right_keys: tuple
    join_type: str
    build_side: str  # "left" | "right"
    condition: object
    join_output: tuple
    left: SparkPlan
    right: SparkPlan

    @property
    def output(self):
        return self.join_output

    @property
    def stream(self) -> SparkPlan:
        return self.left if self.build_side == "right" else self.right

    @property
    def output_partitioning(self):
        return self.stream.output_partitioning

    @property
    def required_child_distribution(self):
        if self.build_side == "right":
            return (UnspecifiedDistribution(), BroadcastDistribution())
        return (BroadcastDistribution(), UnspecifiedDistribution())

    def execute_partition(self, index: int, ctx) -> pa.Table:
        if self.build_side == "right":
            left, right = self.left.execute_partition(index, ctx), self.right.execute_partition(0, ctx)
            relation = self.broadcast_relation(right, self.right_keys)
        else:
            left, right = self.left.execute_partition(0, ctx), self.right.execute_partition(index, ctx)
            relation = self.broadcast_relation(left, self.left_keys)
        out = join_tables(left, right, self.left_keys, self.right_keys, self.join_type, self.condition,
                          self.build_side, relation)
        ctx.add(self.metrics["numOutputRows"], out.num_rows)
        return out

    @staticmethod
    def broadcast_relation(build: pa.Table, build_keys) -> HashedRelation | None:
        """The relation of the broadcast table ``build`` over ``build_keys``, built by the first task
        that asks (the others wait for it rather than build their own)."""
        fingerprint = tuple(str(k) for k in build_keys)
        with _RELATIONS_LOCK:
            relations = _RELATIONS.get(id(build))
            if relations is None:
                relations = _RELATIONS[id(build)] = {}
                weakref.finalize(build, _RELATIONS.pop, id(build), None)
            if fingerprint not in relations:
                relations[fingerprint] = hashed_relation(build, build_keys)
            return relations[fingerprint]

    def arguments(self) -> str:
        cond = f", {self.condition}" if self.condition is not None else ""
        return (f"{attrs_string(self.left_keys)}, {attrs_string(self.right_keys)}, "
                f"{self.join_type.replace('_', '').title().replace('outer', 'Outer')}, Build{self.build_side.title()}{cond}")
