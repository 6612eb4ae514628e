"""Task binaries: a stage's plan as bytes for an executor process (Spark's closure serializer).

Plans are pickled with cloudpickle, as PySpark ships functions, so that a user's ``udf`` lambda
and an action's result function travel by value. Two kinds of object need help:

* locks (operators and SQL metrics guard their state with them) are re-created empty;
* a compiled kernel travels as the path of its content-hashed module in the kernel cache. The
  executor imports that module, and numba loads the machine code it cached beside it instead of
  compiling again (``engine.codegen.kernel_cache``): a kernel is compiled once per machine, not
  once per process.
"""
from __future__ import annotations

import io
import pickle
import threading
from pathlib import Path
from typing import Any

import cloudpickle

from engine.codegen.kernel_cache import Kernel, load_kernel

_LOCK_TYPES = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}


def _load_cached_kernel(path: str) -> Kernel:
    return load_kernel(Path(path).read_text(encoding="utf-8"))


class TaskPickler(cloudpickle.Pickler):
    def reducer_override(self, obj: Any):
        make_lock = _LOCK_TYPES.get(type(obj))
        if make_lock is not None:
            return make_lock, ()
        if isinstance(obj, Kernel):
            return _load_cached_kernel, (obj.path,)
        return super().reducer_override(obj)


def dumps(obj: Any) -> bytes:
    """``obj`` as bytes an executor process can load with :func:`loads`."""
    buffer = io.BytesIO()
    TaskPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)
