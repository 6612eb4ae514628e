"""Sort keys packed into one word and radix-sorted give exactly Arrow's stable multi-key order,
for every direction and null order, and keys that cannot pack fall back to Arrow."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.catalyst.expressions import AttributeReference, SortOrder
from engine.execution.sort_exec import packed_sort_keys, sort_indices
from engine.sql.types import BooleanType, DateType, IntegerType, LongType, StringType


def _keyed(table: pa.Table, types) -> tuple[pa.Table, list[AttributeReference]]:
    attrs = [AttributeReference(name, t) for name, t in zip(table.column_names, types)]
    return table.rename_columns([a.column_key for a in attrs]), attrs


def _arrow_order(table: pa.Table, order) -> list[int]:
    # Arrow takes one null placement for all keys: each key sorts behind its own null flag instead
    columns, sort_keys = {}, []
    for i, o in enumerate(order):
        values = table.column(o.child.column_key)
        columns[f"n{i}"] = pc.is_null(values)
        sort_keys.append((f"n{i}", "descending" if o.effective_nulls_first else "ascending"))
        columns[f"k{i}"] = values
        sort_keys.append((f"k{i}", "ascending" if o.ascending else "descending"))
    return pc.sort_indices(pa.table(columns), sort_keys=sort_keys).to_pylist()


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(4)
    n = 20_000
    return pa.table({
        "a": pa.array(rng.integers(-5, 5, n), mask=rng.random(n) < 0.1),
        "b": pa.array(rng.integers(-2**40, 2**40, n)),
        "c": pa.array(rng.integers(0, 3, n).astype(np.int32), mask=rng.random(n) < 0.3),
        "d": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 400, n)]),
        "e": pa.array(rng.random(n) < 0.5, mask=rng.random(n) < 0.05),
    })


@pytest.mark.parametrize("ascending", [(True, True, False), (False, True, True), (False, False, False)])
@pytest.mark.parametrize("nulls_first", [None, True, False])
def test_packed_keys_sort_like_arrow_in_every_direction_and_null_order(table, ascending, nulls_first):
    keyed, attrs = _keyed(table.select(["a", "c", "d"]), [LongType(), IntegerType(), DateType()])
    order = tuple(SortOrder(a, asc, nulls_first) for a, asc in zip(attrs, ascending))
    assert packed_sort_keys([keyed.column(a.column_key).chunk(0) for a in attrs], order) is not None
    assert sort_indices(keyed, order).to_pylist() == _arrow_order(keyed, order)


def test_booleans_and_wide_longs_pack_while_they_fit_in_64_bits(table):
    keyed, attrs = _keyed(table.select(["e", "b"]), [BooleanType(), LongType()])
    order = (SortOrder(attrs[0], False), SortOrder(attrs[1]))
    packed = packed_sort_keys([keyed.column(a.column_key).chunk(0) for a in attrs], order)
    assert packed is not None and packed[1] == 2 + 41  # e: a null flag and one bit; b: 41 bits
    assert sort_indices(keyed, order).to_pylist() == _arrow_order(keyed, order)


def test_keys_wider_than_64_bits_or_not_integers_fall_back_to_arrow(table):
    wide, attrs = _keyed(table.select(["b", "b"]).rename_columns(["b1", "b2"]).append_column(
        "b3", table.column("b")), [LongType()] * 3)
    order = tuple(SortOrder(a) for a in attrs)
    assert packed_sort_keys([wide.column(a.column_key).chunk(0) for a in attrs], order) is None
    assert sort_indices(wide, order).to_pylist() == _arrow_order(wide, order)
    strings, (s,) = _keyed(pa.table({"s": ["b", None, "a", "b"]}), [StringType()])
    assert packed_sort_keys([strings.column(s.column_key).chunk(0)], (SortOrder(s),)) is None
    assert sort_indices(strings, (SortOrder(s),)).to_pylist() == [1, 2, 0, 3]
