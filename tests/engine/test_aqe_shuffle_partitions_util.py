"""AQE's partition arithmetic (Spark's ShufflePartitionsUtil and OptimizeSkewedJoin helpers), on
hand-made map output sizes."""
from __future__ import annotations

from engine.adaptive.optimize_skewed_join import median_size
from engine.adaptive.partition_specs import CoalescedPartitionSpec, MapOutputStatistics, PartialReducerPartitionSpec
from engine.adaptive.shuffle_partitions_util import (
    coalesce_partitions,
    create_skew_partition_specs,
    split_size_list_by_target_size,
    target_size,
)

MIB = 1 << 20


def _stats(*per_map, shuffle_id=0):
    return MapOutputStatistics(shuffle_id, len(per_map[0]), tuple(per_map))


def test_two_shuffles_are_coalesced_together_as_sparks_doc_example():
    left = _stats((100 * MIB, 20 * MIB, 100 * MIB, 10 * MIB, 30 * MIB))
    right = _stats((10 * MIB, 10 * MIB, 70 * MIB, 5 * MIB, 5 * MIB), shuffle_id=1)
    specs = coalesce_partitions([left, right], [None, None], 128 * MIB)
    assert [(s.start_reducer_index, s.end_reducer_index) for s in specs[0]] == [(0, 1), (1, 2), (2, 3), (3, 5)]
    assert [s.data_size for s in specs[1]] == [10 * MIB, 10 * MIB, 70 * MIB, 10 * MIB]


def test_empty_partitions_get_no_task_and_nothing_changes_when_nothing_merges():
    assert coalesce_partitions([_stats((0, 5, 0, 0, 7))], [None], 6) == [
        [CoalescedPartitionSpec(0, 4, 5), CoalescedPartitionSpec(4, 5, 7)]]
    assert coalesce_partitions([_stats((0, 0, 9, 0))], [None], 5) == [[CoalescedPartitionSpec(2, 3, 9)]]
    assert coalesce_partitions([_stats((10, 10))], [None], 10) == []


def test_target_size_keeps_parallelism_but_not_under_min_partition_size():
    stats = [_stats((40 * MIB, 40 * MIB))]
    assert target_size(stats, 64 * MIB, min_num_partitions=4, min_partition_size=MIB) == 20 * MIB
    assert target_size(stats, 64 * MIB, min_num_partitions=1000, min_partition_size=MIB) == MIB
    assert target_size(stats, 64 * MIB, min_num_partitions=1) == 64 * MIB


def test_skew_sections_are_kept_and_the_rest_coalesced():
    stats = _stats((1, 1, 50, 1), (1, 1, 50, 1))
    skew = [CoalescedPartitionSpec(0, 1, 2), CoalescedPartitionSpec(1, 2, 2), PartialReducerPartitionSpec(2, 0, 1, 50),
            PartialReducerPartitionSpec(2, 1, 2, 50), CoalescedPartitionSpec(3, 4, 2)]
    out = coalesce_partitions([stats], [skew], 10)[0]
    assert out == [CoalescedPartitionSpec(0, 2, 4), skew[2], skew[3], CoalescedPartitionSpec(3, 4, 2)]


def test_a_skewed_partition_splits_by_map_outputs_merging_tiny_tails():
    assert split_size_list_by_target_size([10, 10, 10, 10, 1], 20) == [0, 2]
    stats = _stats((30, 0), (30, 0), (30, 0), (2, 0))
    specs = create_skew_partition_specs(stats, 0, 30)
    assert [(s.start_map_index, s.end_map_index) for s in specs] == [(0, 1), (1, 2), (2, 4)]
    assert create_skew_partition_specs(_stats((5, 0), (5, 0)), 0, 30) is None


def test_median_as_spark_computes_it():
    assert median_size([1, 9, 3, 7]) == 5
    assert median_size([0, 0, 0]) == 1
