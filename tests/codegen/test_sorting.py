"""The compiled sort kernels against numpy's stable argsort."""
from __future__ import annotations

import numpy as np
import pytest

from engine.codegen.sorting import NUMPY_MAX_ROWS, group_by_partition, radix_argsort


@pytest.mark.parametrize("key_bits", [1, 7, 11, 12, 25, 32, 33, 63, 64])
def test_radix_argsort_is_numpys_stable_argsort(key_bits):
    rng = np.random.default_rng(key_bits)
    # few distinct values too, so that stability (ties keep their input order) is checked
    keys = rng.integers(0, 2 ** min(key_bits, 63), 50_000, dtype=np.uint64) << np.uint64(key_bits == 64)
    keys[::3] = keys[0]
    assert radix_argsort(keys.copy(), key_bits).tolist() == np.argsort(keys, kind="stable").tolist()


def test_radix_argsort_of_no_key_bits_or_one_row_is_the_identity():
    assert radix_argsort(np.zeros(5, np.uint64), 0).tolist() == [0, 1, 2, 3, 4]
    assert radix_argsort(np.array([9], np.uint64), 4).tolist() == [0]


def test_group_by_partition_orders_rows_stably_and_says_where_each_partition_starts():
    ids = np.array([2, 0, 2, 1, 0, 2], np.int32)
    order, starts = group_by_partition(ids, 4)
    assert order.tolist() == [1, 4, 3, 0, 2, 5]
    assert starts.tolist() == [0, 2, 3, 6, 6]
    many = np.tile(ids, NUMPY_MAX_ROWS // len(ids) + 1)   # past the numpy path: the compiled sort
    order, starts = group_by_partition(many, 4)
    assert order.dtype == np.int32
    assert order.tolist() == np.argsort(many, kind="stable").tolist()
    assert starts.tolist() == [0, *np.cumsum(np.bincount(many, minlength=4)).tolist()]


def test_group_by_partition_refuses_an_id_outside_the_partitions():
    with pytest.raises(ValueError, match=r"partition id 4 is outside \[0, 4\)"):
        group_by_partition(np.array([0, 4], np.int32), 4)
