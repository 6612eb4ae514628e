"""engine.codegen.jit: the one place numba is imported."""
from __future__ import annotations

import numpy as np

from engine.codegen.jit import interpreted, lazy_njit, njit


@njit(cache=False)
def _double(x):
    return x * 2


@lazy_njit("(int64[::1], int64[::1])")
def _doubles(values, out):
    for i in range(values.shape[0]):
        out[i] = _double(values[i])


def test_interpreted_runs_numba_functions_and_their_callees_without_compiling_them():
    out = np.zeros(3, np.int64)
    interpreted(_doubles)(np.arange(3, dtype=np.int64), out)
    assert out.tolist() == [0, 2, 4]
    assert _doubles._dispatcher is None and _double.signatures == []
    assert interpreted(_doubles) is interpreted(_doubles)
