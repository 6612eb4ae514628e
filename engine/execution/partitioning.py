"""How an operator's output rows are spread over partitions, and what its parent needs.

An operator states its ``output_partitioning``; its parent states a ``Distribution`` per child.
``EnsureRequirements`` inserts an Exchange wherever a partitioning does not satisfy the
distribution required of it (Spark's ``Partitioning.satisfies``).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.catalyst.expressions import Expression, SortOrder


# ---- distributions: what a parent requires of a child ---------------------------------------


@dataclass(frozen=True, slots=True)
class Distribution:
    pass


@dataclass(frozen=True, slots=True)
class UnspecifiedDistribution(Distribution):
    pass


@dataclass(frozen=True, slots=True)
class AllTuples(Distribution):
    """Every row in one partition (a global limit, a final aggregate without keys)."""


@dataclass(frozen=True, slots=True)
class ClusteredDistribution(Distribution):
    """Rows with equal ``expressions`` in the same partition (aggregation, joins)."""

    expressions: tuple[Expression, ...]
    required_num_partitions: int | None = None


@dataclass(frozen=True, slots=True)
class OrderedDistribution(Distribution):
    """Rows range-partitioned by ``ordering``: partition i's rows all sort before partition i+1's."""

    ordering: tuple[SortOrder, ...]


@dataclass(frozen=True, slots=True)
class BroadcastDistribution(Distribution):
    """The whole child available to every task (the build side of a broadcast join)."""


# ---- partitionings: what an operator produces ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Partitioning:
    num_partitions: int

    def satisfies(self, required: Distribution) -> bool:
        if isinstance(required, UnspecifiedDistribution):
            return True
        if isinstance(required, AllTuples):
            return self.num_partitions == 1
        return False


@dataclass(frozen=True, slots=True)
class UnknownPartitioning(Partitioning):
    def satisfies(self, required: Distribution) -> bool:
        if isinstance(required, (ClusteredDistribution, OrderedDistribution)) and self.num_partitions == 1:
            return getattr(required, "required_num_partitions", None) in (None, 1)
        return Partitioning.satisfies(self, required)


@dataclass(frozen=True, slots=True)
class SinglePartition(Partitioning):
    num_partitions: int = 1

    def satisfies(self, required: Distribution) -> bool:
        if isinstance(required, BroadcastDistribution):
            return False
        if isinstance(required, ClusteredDistribution):
            return required.required_num_partitions in (None, 1)
        return True


@dataclass(frozen=True, slots=True)
class RoundRobinPartitioning(Partitioning):
    pass


@dataclass(frozen=True, slots=True)
class HashPartitioning(Partitioning):
    """Spark's ``HashPartitioning``: ``pmod(murmur3(expressions), n)``."""

    expressions: tuple[Expression, ...] = ()

    def satisfies(self, required: Distribution) -> bool:
        if isinstance(required, ClusteredDistribution):
            if required.required_num_partitions not in (None, self.num_partitions):
                return False
            return bool(self.expressions) and all(e in required.expressions for e in self.expressions)
        return Partitioning.satisfies(self, required)


@dataclass(frozen=True, slots=True)
class RangePartitioning(Partitioning):
    ordering: tuple[SortOrder, ...] = ()

    def satisfies(self, required: Distribution) -> bool:
        if isinstance(required, OrderedDistribution):
            n = min(len(required.ordering), len(self.ordering))
            return self.ordering[:n] == required.ordering[:n] and len(self.ordering) >= len(required.ordering)
        if isinstance(required, ClusteredDistribution):
            keys = [o.child for o in self.ordering]
            return bool(keys) and all(k in required.expressions for k in keys)
        return Partitioning.satisfies(self, required)
