"""What one task of an ``AQEShuffleRead`` reads from a shuffle (Spark's ``ShufflePartitionSpec``s).

- ``CoalescedPartitionSpec(start, end)``: reduce partitions ``[start, end)`` of every map output;
- ``PartialReducerPartitionSpec(reducer, start_map, end_map)``: one reduce partition, from the map
  outputs ``[start_map, end_map)`` only (a slice of a skewed partition);
- ``PartialMapperPartitionSpec(map_index, start, end)``: reduce partitions ``[start, end)`` of one map
  output (a local read: the map output is consumed where it was written).
``data_size`` is the bytes the task reads, from the map statuses.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoalescedPartitionSpec:
    start_reducer_index: int
    end_reducer_index: int
    data_size: int = 0

    def __post_init__(self):
        if not 0 <= self.start_reducer_index <= self.end_reducer_index:
            raise ValueError(f"bad reducer range [{self.start_reducer_index}, {self.end_reducer_index})")


@dataclass(frozen=True, slots=True)
class PartialReducerPartitionSpec:
    reducer_index: int
    start_map_index: int
    end_map_index: int
    data_size: int = 0

    def __post_init__(self):
        if not 0 <= self.start_map_index < self.end_map_index:
            raise ValueError(f"bad map range [{self.start_map_index}, {self.end_map_index})")


@dataclass(frozen=True, slots=True)
class PartialMapperPartitionSpec:
    map_index: int
    start_reducer_index: int
    end_reducer_index: int


ShufflePartitionSpec = CoalescedPartitionSpec | PartialReducerPartitionSpec | PartialMapperPartitionSpec


@dataclass(frozen=True, slots=True)
class MapOutputStatistics:
    """A finished shuffle's bytes per reduce partition, summed over its map outputs, and per map
    output (Spark's ``MapOutputStatistics`` plus the map statuses the skew split reads)."""

    shuffle_id: int
    num_partitions: int
    bytes_by_map: tuple[tuple[int, ...], ...]  # [map index][reduce partition]

    @property
    def bytes_by_partition_id(self) -> tuple[int, ...]:
        if not self.bytes_by_map:
            return (0,) * self.num_partitions
        return tuple(sum(col) for col in zip(*self.bytes_by_map))

    def map_sizes_for_reducer(self, reducer: int) -> tuple[int, ...]:
        return tuple(m[reducer] for m in self.bytes_by_map)
