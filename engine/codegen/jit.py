"""The one module that imports numba.

Everything compiled in Ember goes through :func:`njit`, which always releases the GIL
(``nogil=True``): task threads of ``local[N]`` run kernels in parallel. Generated kernel modules
import ``njit`` from here too, so switching numba options happens in one place. :func:`lazy_njit`
compiles a function with one signature at its first call instead of at import.
"""
from __future__ import annotations

import threading
import types
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


class LazyKernel:
    """A numba function with one signature, compiled (or loaded from numba's disk cache) on its
    first call rather than at import.

    ``njit`` with a signature compiles at import, which would make every Ember process pay for
    kernels it may never run (the Parquet page decoder's); without one, numba compiles once per
    combination of argument types it meets (literal ints, read-only arrays, each dtype), each a
    full compile. Compiling replaces the
    module global of the function's name by the numba dispatcher, so that numba functions calling
    it, compiled after it (the functions it calls are compiled first), call it directly."""

    _lock = threading.RLock()   # executor threads may all reach a first call at once

    def __init__(self, py_func, signature: str):
        self.py_func = py_func
        self.signature = signature
        self._dispatcher = None

    def __call__(self, *args):
        return self.dispatcher(*args)

    @property
    def dispatcher(self):
        if self._dispatcher is None:
            with self._lock:
                if self._dispatcher is None:
                    self._dispatcher = self._compile()
        return self._dispatcher

    def _compile(self):
        names = self.py_func.__globals__
        for name in self.py_func.__code__.co_names:
            callee = names.get(name)
            if isinstance(callee, LazyKernel):
                callee.dispatcher
        dispatcher = njit(self.signature, cache=True)(self.py_func)
        if names.get(self.py_func.__name__) is self:
            names[self.py_func.__name__] = dispatcher
        return dispatcher


_interpreted: dict[Any, Callable] = {}


def interpreted(func) -> Callable:
    """The Python function behind a numba function (a dispatcher or a ``LazyKernel``), calling the
    Python functions behind the numba functions it calls: the same code, run by the interpreter
    without compiling anything. For inputs so small that a cold compile (seconds) would cost more
    than interpreting them. Integer arithmetic on numpy scalars wraps as in compiled code, with
    numpy's overflow warning: callers silence it (``np.errstate(over="ignore")``)."""
    found = _interpreted.get(func)
    if found is None:
        py_func = func.py_func
        names = dict(py_func.__globals__)
        for name in py_func.__code__.co_names:
            callee = names.get(name)
            if isinstance(callee, (LazyKernel, numba.core.registry.CPUDispatcher)):
                names[name] = interpreted(callee)
        found = types.FunctionType(py_func.__code__, names, py_func.__name__, py_func.__defaults__,
                                   py_func.__closure__)
        _interpreted[func] = found
    return found


def lazy_njit(signature: str):
    """``njit(signature, cache=True)`` compiled on first call (``LazyKernel``). ``signature`` lists
    the argument types only (``"(int64, uint8[::1])"``); numba infers the return type."""
    return lambda py_func: LazyKernel(py_func, signature)
