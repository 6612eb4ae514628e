"""How AQE regroups shuffle partitions (Spark's ``ShufflePartitionsUtil``).

Coalescing walks the reduce partitions in order and closes a group when adding the next one
would take it past the target size; partitions of several shuffles read by the same task (the two
sides of a join) are sized together, so every side gets the same groups. Empty groups are
skipped: launching a task for nothing is waste.

A skewed partition is split by its map outputs: consecutive map outputs are grouped up to the
target size, and a group far smaller than the target is merged into its neighbour.

>>> stats = [MapOutputStatistics(0, 5, ((10, 2, 30, 1, 1),))]
>>> [(s.start_reducer_index, s.end_reducer_index) for s in coalesce_partitions(stats, [None], 20)[0]]
[(0, 2), (2, 3), (3, 5)]
"""
from __future__ import annotations

import math
from typing import Sequence

from engine.adaptive.partition_specs import (
    CoalescedPartitionSpec,
    MapOutputStatistics,
    PartialReducerPartitionSpec,
    ShufflePartitionSpec,
)

SMALL_PARTITION_FACTOR = 0.2  # a split smaller than this share of the target joins its neighbour
MERGED_PARTITION_FACTOR = 1.2  # two splits that together stay under this share of the target merge


def target_size(stats: Sequence[MapOutputStatistics], advisory_size: int, min_num_partitions: int = 1,
                min_partition_size: int = 0) -> int:
    """The size a coalesced partition aims at: the advisory size, lowered so that at least
    ``min_num_partitions`` partitions remain, but never under ``min_partition_size``."""
    total = sum(sum(s.bytes_by_partition_id) for s in stats)
    max_target = max(math.ceil(total / min_num_partitions), 16)  # 16: an empty input still gets a target
    return max(min(max_target, advisory_size), min_partition_size)


def coalesce_partitions(stats: Sequence[MapOutputStatistics], input_specs: Sequence[Sequence[ShufflePartitionSpec] | None],
                        target: int) -> list[list[ShufflePartitionSpec]]:
    """New specs for each shuffle, or ``[]`` when coalescing would change nothing.

    ``input_specs[i]`` is None for a shuffle read as it was written, or its skew-split specs: the
    split sections are kept as they are and only the partitions between them are coalesced.
    """
    if not stats:
        return []
    if len({s.num_partitions for s in stats}) > 1:
        return []  # shuffles of different widths are never read together partition by partition
    num_partitions = stats[0].num_partitions
    if all(specs is None for specs in input_specs):
        groups = _coalesce_range(0, num_partitions, stats, target, allow_empty=False)
        if len(groups) >= num_partitions:
            return []
        return [_with_sizes(s, groups) for s in stats]
    return _coalesce_around_skew(stats, [list(specs) for specs in input_specs], target)


def _coalesce_around_skew(stats, input_specs, target) -> list[list[ShufflePartitionSpec]]:
    reducers = [_reducer_of(spec) for spec in input_specs[0]]
    out: list[list[ShufflePartitionSpec]] = [[] for _ in stats]
    start = 0  # first position of input_specs not yet copied or coalesced
    i = 1
    while i <= len(reducers):
        if i < len(reducers) and reducers[i - 1] == reducers[i]:
            section_end = i + 1
            while section_end < len(reducers) and reducers[section_end] == reducers[i]:
                section_end += 1
            if i - 1 > start:
                groups = _coalesce_range(reducers[start], reducers[i - 1], stats, target, allow_empty=True)
                for o, s in zip(out, stats):
                    o.extend(_with_sizes(s, groups))
            for o, specs in zip(out, input_specs):
                o.extend(specs[i - 1:section_end])
            start = i = section_end
        else:
            i += 1
    if len(reducers) > start:
        groups = _coalesce_range(reducers[start], reducers[-1] + 1, stats, target, allow_empty=True)
        for o, s in zip(out, stats):
            o.extend(_with_sizes(s, groups))
    return out if len(out[0]) < len(reducers) else []


def _reducer_of(spec: ShufflePartitionSpec) -> int:
    if isinstance(spec, PartialReducerPartitionSpec):
        return spec.reducer_index
    if isinstance(spec, CoalescedPartitionSpec) and spec.end_reducer_index == spec.start_reducer_index + 1:
        return spec.start_reducer_index
    raise ValueError(f"cannot coalesce around {spec}: expected one reducer per spec after a skew split")


def _coalesce_range(start: int, end: int, stats, target: int, allow_empty: bool) -> list[tuple[int, int]]:
    """Reducer ranges ``[a, b)`` covering ``[start, end)``, each as large as fits under ``target``."""
    sizes = [s.bytes_by_partition_id for s in stats]
    groups: list[tuple[int, int]] = []
    group_start, group_size = start, 0
    for i in range(start, end):
        size = sum(per_shuffle[i] for per_shuffle in sizes)
        if i > group_start and group_size + size > target:
            if group_size > 0:
                groups.append((group_start, i))
            group_start, group_size = i, size
        else:
            group_size += size
    if group_size > 0 or (not allow_empty and not groups):
        groups.append((group_start, end))
    return groups


def _with_sizes(stats: MapOutputStatistics, groups) -> list[ShufflePartitionSpec]:
    sizes = stats.bytes_by_partition_id
    return [CoalescedPartitionSpec(a, b, sum(sizes[a:b])) for a, b in groups]


def split_size_list_by_target_size(sizes: Sequence[int], target: int) -> list[int]:
    """Start indices of groups of consecutive ``sizes`` near ``target`` each; a group that would be
    tiny (under 20% of the target) or that fits with its predecessor (under 120%) is merged."""
    starts = [0]
    current, last = 0, -1

    def merge_small() -> None:
        nonlocal last
        if last > -1 and (current + last < target * MERGED_PARTITION_FACTOR
                          or current < target * SMALL_PARTITION_FACTOR
                          or last < target * SMALL_PARTITION_FACTOR):
            starts.pop()
            last += current
        else:
            last = current

    for i, size in enumerate(sizes):
        if i > 0 and current + size > target:
            merge_small()
            starts.append(i)
            current = size
        else:
            current += size
    merge_small()
    return starts


def create_skew_partition_specs(stats: MapOutputStatistics, reducer: int,
                                target: int) -> list[PartialReducerPartitionSpec] | None:
    """Reduce partition ``reducer`` split into slices of map outputs, or None if it cannot be split."""
    map_sizes = stats.map_sizes_for_reducer(reducer)
    starts = split_size_list_by_target_size(map_sizes, target)
    if len(starts) <= 1:
        return None
    ends = starts[1:] + [len(map_sizes)]
    return [PartialReducerPartitionSpec(reducer, a, b, sum(map_sizes[a:b])) for a, b in zip(starts, ends)]
