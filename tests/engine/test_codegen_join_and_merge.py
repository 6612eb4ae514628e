"""The compiled hash join (engine.codegen.join), the compiled merge of partial aggregate states
(engine.codegen.merge_aggregate) and the integer-key hash table under both (engine.codegen.integer_keys).

Each is checked against pyarrow on the same random data: joins against ``Table.join``, merges
against ``Table.group_by``, with null keys, duplicate build keys, keys of mixed widths and NaN.
``join_tables`` is checked for every join type with and without the compiled path (string keys
take pyarrow's), and with a residual condition.
"""
from __future__ import annotations

import datetime as dt
import gc
import math
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.catalyst.expressions import AttributeReference, Comparison
from engine.codegen.integer_keys import EMPTY, group_rows, integer_key_matrix
from engine.codegen.join import build_hashed_relation
from engine.codegen.merge_aggregate import merge_states
from engine.execution.broadcast_exchange_exec import BroadcastExchangeExec
from engine.execution.hash_aggregate_exec import AdaptiveCompaction
from engine.execution.joins import join_tables
from engine.execution.local_table_scan_exec import LocalTableScanExec
from engine.memory.memory_manager import UnifiedMemoryManager
from engine.sql.types import LongType, StringType
from engine.storage import BlockManager

RNG = np.random.default_rng(7)


def _with_nulls(values: np.ndarray, share: float, data_type: pa.DataType) -> pa.Array:
    return pa.array(values, data_type, mask=RNG.random(len(values)) < share)


# ---- integer_keys ----
def test_null_keys_group_apart_from_zero_and_rows_group_in_first_seen_order():
    keys = integer_key_matrix([pa.array([0, None, 0, 5, None, 5], pa.int32())], null_groups=True)
    grouped = group_rows(keys.values)
    assert grouped.group_of_row.tolist() == [0, 1, 0, 2, 1, 2]
    assert grouped.first_row.tolist() == [0, 1, 3]
    assert grouped.lookup(np.array([[5, 0], [0, 1], [7, 0]])).tolist() == [2, 1, EMPTY]


def test_dates_timestamps_and_booleans_are_integer_keys_and_strings_and_doubles_are_not():
    columns = [pa.array([dt.date(2020, 1, 1)]), pa.array([dt.datetime(2020, 1, 1)], pa.timestamp("us")),
               pa.array([True])]
    assert integer_key_matrix(columns).values.tolist() == [[18262, 1577836800000000, 1]]
    in_millis = pa.array([dt.datetime(2020, 1, 1)], pa.timestamp("ms"))
    assert integer_key_matrix([in_millis]).values.tolist() == [[1577836800000000]]
    assert integer_key_matrix([pa.array(["a"])]) is None
    assert integer_key_matrix([pa.array([1.5])]) is None


def test_looking_up_a_different_number_of_key_columns_is_refused():
    grouped = group_rows(integer_key_matrix([pa.array([1, 2])]).values)
    with pytest.raises(ValueError, match="looking up 2 key columns in a table of 1"):
        grouped.lookup(np.zeros((1, 2), np.int64))


# ---- join ----
def _pairs_by_pyarrow(stream_keys: list[pa.Array], build_keys: list[pa.Array]) -> list[tuple[int, int]]:
    stream = pa.table({f"k{i}": k.cast(pa.int64()) for i, k in enumerate(stream_keys)}
                      | {"s": np.arange(len(stream_keys[0]))})
    build = pa.table({f"k{i}": k for i, k in enumerate(build_keys)} | {"b": np.arange(len(build_keys[0]))})
    names = [f"k{i}" for i in range(len(stream_keys))]
    joined = stream.join(build, keys=names, join_type="inner")
    return sorted(zip(joined.column("s").to_pylist(), joined.column("b").to_pylist()))


@pytest.mark.parametrize("key_count", [1, 2])
@pytest.mark.parametrize("unique_build", [True, False])
def test_probe_pairs_are_pyarrows_with_null_keys_duplicates_and_mixed_widths(unique_build, key_count):
    """One key is looked up in its bitmap index, two in the slot table."""
    build_values = RNG.permutation(3000) if unique_build else RNG.integers(0, 800, 3000)
    build_keys = [_with_nulls(build_values, 0.05, pa.int64()), pa.array(build_values % 3, pa.int64())][:key_count]
    stream_values = RNG.integers(-10, 3100, 5000)
    stream_keys = [_with_nulls(stream_values, 0.05, pa.int32()), pa.array(stream_values % 3, pa.int16())][:key_count]
    relation = build_hashed_relation(build_keys)
    probe = relation.probe(stream_keys)
    stream_rows, build_rows = probe.pairs()
    assert relation.unique == unique_build
    assert (relation.bitmap is not None) == (key_count == 1)
    assert sorted(zip(stream_rows.tolist(), build_rows.tolist())) == _pairs_by_pyarrow(stream_keys, build_keys)
    assert np.all(np.diff(stream_rows) >= 0), "pairs come in stream order"
    assert not probe.every_row_once


def test_every_row_once_when_each_stream_row_meets_one_build_row():
    relation = build_hashed_relation([pa.array([4, 1, 3, 2])])
    assert relation.probe([pa.array([1, 1, 4, 2])]).every_row_once
    assert not relation.probe([pa.array([1, None])]).every_row_once
    assert not build_hashed_relation([pa.array([1, 1])]).probe([pa.array([1])]).every_row_once


def test_a_narrow_single_key_gets_a_bitmap_that_turns_misses_away_and_keeps_every_match():
    build = pa.array([10, 12, 75, 12], pa.int64())
    relation = build_hashed_relation([build])
    assert relation.bitmap is not None and relation.bitmap.low == 10 and relation.bitmap.size == 66
    extremes = [np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 9, 11, 76]
    stream = pa.array([75, 10, 12, 13] + extremes, pa.int64())
    stream_rows, build_rows = relation.probe([stream]).pairs()
    assert sorted(zip(stream_rows.tolist(), build_rows.tolist())) == [(0, 2), (1, 0), (2, 1), (2, 3)]
    wide = build_hashed_relation([pa.array([0, 10**12], pa.int64())])
    assert wide.bitmap is None
    assert wide.probe([pa.array([10**12, 5], pa.int64())]).pairs()[1].tolist() == [1]


def test_a_relation_over_strings_is_not_built():
    assert build_hashed_relation([pa.array(["a", "b"])]) is None


K_LEFT, K_RIGHT = AttributeReference("k", LongType()), AttributeReference("k", LongType())
V_LEFT, V_RIGHT = AttributeReference("v", LongType()), AttributeReference("v", LongType())
S_LEFT, S_RIGHT = AttributeReference("s", StringType()), AttributeReference("s", StringType())


def _side(attrs, keys: np.ndarray, null_share: float) -> pa.Table:
    k, v, s = attrs
    key_column = _with_nulls(keys, null_share, pa.int64())
    return pa.table({k.column_key: key_column, v.column_key: pa.array(RNG.integers(0, 100, len(keys))),
                     s.column_key: pc.cast(key_column, pa.string())})


def _rows(table: pa.Table) -> list[tuple]:
    rows = [tuple(table.column(i)[j].as_py() for i in range(table.num_columns)) for j in range(table.num_rows)]
    return sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r))


JOIN_TYPES = ["inner", "left_outer", "right_outer", "full_outer", "left_semi", "left_anti"]


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("join_type", JOIN_TYPES)
def test_join_tables_compiled_on_integer_keys_equals_pyarrow_on_string_keys(join_type, residual):
    """The same keys as bigint (compiled) and as their strings (pyarrow's hash join) give the same rows."""
    left = _side((K_LEFT, V_LEFT, S_LEFT), RNG.integers(0, 300, 1000), 0.05)
    right = _side((K_RIGHT, V_RIGHT, S_RIGHT), RNG.integers(0, 400, 500), 0.05)
    condition = Comparison(">", V_LEFT, V_RIGHT) if residual else None
    compiled = join_tables(left, right, [K_LEFT], [K_RIGHT], join_type, condition)
    by_pyarrow = join_tables(left, right, [S_LEFT], [S_RIGHT], join_type, condition)
    assert compiled.num_rows > 0
    assert _rows(compiled) == _rows(by_pyarrow)


@pytest.mark.parametrize("join_type", ["inner", "right_outer"])
def test_a_left_build_side_gives_the_same_rows_as_a_right_one(join_type):
    left = _side((K_LEFT, V_LEFT, S_LEFT), RNG.permutation(200), 0.0)
    right = _side((K_RIGHT, V_RIGHT, S_RIGHT), RNG.integers(0, 250, 800), 0.05)
    built_left = join_tables(left, right, [K_LEFT], [K_RIGHT], join_type, None, build_side="left")
    by_pyarrow = join_tables(left, right, [S_LEFT], [S_RIGHT], join_type, None)
    assert _rows(built_left) == _rows(by_pyarrow)


def test_a_prebuilt_relation_is_probed_as_given():
    left = _side((K_LEFT, V_LEFT, S_LEFT), np.arange(10), 0.0)
    right = _side((K_RIGHT, V_RIGHT, S_RIGHT), np.arange(5), 0.0)
    # a relation over other keys than the right's own: the probe must use the one it was handed
    relation = build_hashed_relation([pa.array([7, 8, 9, 0, 1], pa.int64())])
    out = join_tables(left, right, [K_LEFT], [K_RIGHT], "inner", None, relation=relation)
    assert sorted(out.column(K_LEFT.column_key).to_pylist()) == [0, 1, 7, 8, 9]


# ---- merge_aggregate ----
def _merged_by_pyarrow(states: pa.Table, keys, merges) -> list[tuple]:
    grouped = states.group_by(keys, use_threads=False).aggregate(list(merges))
    names = keys + [f"{c}_{m}" for c, m in merges]
    return _normalised(grouped.select(names))


def _normalised(table: pa.Table) -> list[tuple]:
    rows = [tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in r.values()) for r in table.to_pylist()]
    return sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r))


def test_merge_sums_counts_mins_and_maxes_per_key_as_pyarrow_does():
    n = 20000
    groups = RNG.integers(0, 3000, n)
    doubles = RNG.normal(size=n)
    doubles[RNG.random(n) < 0.01] = np.nan
    states = pa.table({
        "k1": _with_nulls(groups, 0.02, pa.int64()),
        "k2": pa.array(groups % 2 == 0),
        "sum_l": _with_nulls(RNG.integers(-50, 50, n), 0.3, pa.int64()),
        "sum_d": _with_nulls(doubles, 0.3, pa.float64()),
        "count": pa.array(RNG.integers(0, 9, n)),
        "max_d": _with_nulls(doubles, 0.5, pa.float64()),
        "min_i": _with_nulls(RNG.integers(-9, 9, n), 0.5, pa.int32()),
        "max_day": _with_nulls(RNG.integers(0, 20000, n), 0.2, pa.int32()).view(pa.date32()),
    })
    merges = [("sum_l", "sum"), ("sum_d", "sum"), ("count", "sum"), ("min_i", "min"), ("max_day", "max")]
    merged = merge_states(states, ["k1", "k2"], merges)
    assert merged.schema.types == [pa.int64(), pa.bool_(), pa.int64(), pa.float64(), pa.int64(), pa.int32(), pa.date32()]
    expected = _merged_by_pyarrow(states, ["k1", "k2"], merges)
    got = _normalised(merged)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[:2] == e[:2] and g[2] == e[2] and g[4:] == e[4:]
        assert (g[3] is None and e[3] is None) or g[3] == pytest.approx(e[3])


def test_merge_max_and_min_follow_sparks_nan_ordering():
    nan = float("nan")
    states = pa.table({"k": pa.array([1, 1, 2, 2, 3, 3]), "x": pa.array([nan, 5.0, 5.0, nan, nan, nan])})
    maxes = merge_states(states, ["k"], [("x", "max")]).column("x").to_pylist()
    mins = merge_states(states, ["k"], [("x", "min")]).column("x").to_pylist()
    assert [math.isnan(v) for v in maxes] == [True, True, True]
    assert mins[:2] == [5.0, 5.0] and math.isnan(mins[2])


def test_merge_leaves_string_keys_and_string_buffers_to_pyarrow():
    assert merge_states(pa.table({"k": ["a"], "x": [1]}), ["k"], [("x", "sum")]) is None
    assert merge_states(pa.table({"k": [1], "x": ["a"]}), ["k"], [("x", "max")]) is None


def test_an_unknown_merge_is_an_error_naming_it():
    with pytest.raises(ValueError, match="unknown merge 'avg' for x"):
        merge_states(pa.table({"k": [1], "x": [1]}), ["k"], [("x", "avg")])


# ---- the operators' use of them ----
def test_a_broadcast_is_hashed_once_per_keys_and_its_block_goes_with_its_plan(tmp_path):
    """Every task gets the one HashedRelation the broadcast built for its keys; the broadcast's
    block leaves the block manager when nothing references the plan any more (Spark's ContextCleaner)."""
    table = pa.table({K_RIGHT.column_key: pa.array([1, 2, 3]), V_RIGHT.column_key: pa.array([4, 5, 6])})
    exchange = BroadcastExchangeExec(LocalTableScanExec((K_RIGHT, V_RIGHT), table, 1))
    exchange.do_prepare(lambda plan, f: [f(table, None)])
    block_manager = BlockManager(str(tmp_path))
    block_manager.bind_memory_manager(UnifiedMemoryManager(1 << 20, 1 << 19))
    ctx = SimpleNamespace(env=SimpleNamespace(block_manager=block_manager))
    got, first = exchange.execute_broadcast(ctx, [K_RIGHT])
    assert got.equals(table)
    assert exchange.execute_broadcast(ctx, [K_RIGHT])[1] is first
    assert exchange.execute_broadcast(ctx, [V_RIGHT])[1] is not first
    assert block_manager.block_ids("broadcast_") == [exchange.block_id]
    del exchange
    gc.collect()
    assert block_manager.block_ids("broadcast_") == []
    assert block_manager.memory_manager.storage_memory_used == 0


def test_final_compaction_stops_once_it_removes_too_few_rows():
    calls = []

    def merge(states: pa.Table) -> pa.Table:
        calls.append(states.num_rows)
        return states.group_by(["k"]).aggregate([("x", "sum")]).rename_columns(["k", "x"])

    compaction = AdaptiveCompaction(merge, min_reduction=0.5)
    repeated = pa.table({"k": [1, 1, 1, 2], "x": [1, 2, 3, 4]})
    assert compaction(repeated).num_rows == 2 and not compaction.stopped  # halved: keeps compacting
    distinct = pa.table({"k": [1, 2, 3, 3], "x": [1, 2, 3, 4]})
    assert compaction(distinct).num_rows == 3 and compaction.stopped      # a quarter: gives up
    assert compaction(repeated) is repeated and calls == [4, 4]


def test_compaction_reduction_outside_zero_to_one_is_an_error_naming_the_setting():
    with pytest.raises(ValueError, match="spark.ember.sql.aggregate.compactionMinReduction must be between 0 and 1"):
        AdaptiveCompaction(lambda t: t, 1.5)
