"""The one module that imports numba.

Everything compiled in Ember goes through :func:`njit`, which always releases the GIL
(``nogil=True``): task threads of ``local[N]`` run kernels in parallel. Generated kernel modules
import ``njit`` from here too, so switching numba options happens in one place.
"""
from __future__ import annotations

from typing import Any, Callable

import numba

NUMBA_VERSION: str = numba.__version__


def njit(*args: Any, **options: Any) -> Callable:
    """``numba.njit`` with ``nogil=True`` unless the caller says otherwise.

    Used exactly like numba's decorator, with or without a signature::

        @njit(cache=True)
        def f(x): ...

        @njit("int64(int64[::1])", cache=True)
        def g(a): ...
    """
    options.setdefault("nogil", True)
    return numba.njit(*args, **options)


def cache_stats(dispatcher: Any) -> tuple[int, int]:
    """``(hits, misses)`` of numba's on-disk cache for a compiled function, summed over signatures."""
    stats = dispatcher.stats
    return sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
