"""Generated source in, compiled function out: memoized in the process and on disk.

Policy:

* The fingerprint of a kernel is the sha256 of its source text. The same source is compiled once
  per process; callers on other threads asking for it meanwhile wait on a lock of that fingerprint
  (kernels with other fingerprints compile independently).
* numba's ``cache=True`` cannot cache functions made by ``exec`` (numba issue 3501), because its
  on-disk index is keyed by the function's source file. So the source is written to a real module,
  ``<cache dir>/ember_k_<sha256>.py``, whose entry function is decorated
  ``@njit(<signature>, nogil=True, cache=True)``, and that module is imported. The explicit
  signature makes numba compile while the module is imported, or, in a later process, load the
  machine code numba cached beside the module in ``__pycache__``.
* The module file is written once, atomically (temporary file + ``os.replace``), and never
  rewritten when it already holds the same text: numba's index checks the file's timestamp.
* The cache directory is ``$EMBER_KERNEL_CACHE`` when set, else ``~/.cache/ember/kernels``; if it
  cannot be written, a private temporary directory is used for the rest of the process.
"""
from __future__ import annotations

import hashlib
import fcntl
import importlib.util
import logging
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from engine.codegen.jit import cache_stats

KERNEL_CACHE_ENV = "EMBER_KERNEL_CACHE"
MODULE_PREFIX = "ember_k_"

_log = logging.getLogger(__name__)


class KernelCompileError(RuntimeError):
    """Generated source failed to import or compile; the message names the module file."""


@dataclass(frozen=True, slots=True)
class Kernel:
    """A compiled kernel and how it was obtained.

    ``compile_ms`` is the wall time of importing the generated module: a numba compile on a cold
    cache, a load of numba's cached machine code on a warm one (``from_disk_cache``). A kernel found
    in the in-process memo keeps the figure of the load that made it.
    """

    fingerprint: str
    func: Callable
    path: str
    compile_ms: float
    from_disk_cache: bool


def fingerprint(source: str) -> str:
    """The sha256 hex digest of a kernel's source text."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def cache_dir() -> Path:
    """Where generated modules and numba's cache of them live (read from the environment each time)."""
    configured = os.environ.get(KERNEL_CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "ember" / "kernels"


_memo: dict[str, Kernel] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_fallback_dir: Path | None = None


def load_kernel(source: str, entry: str = "kernel") -> Kernel:
    """The compiled function ``entry`` defined by ``source``, compiling it at most once per process::

        k = load_kernel(source)   # first call in a process: writes ember_k_<sha>.py if missing, and
                                  # numba compiles it (cold) or loads its machine code (warm)
        k.func(n, values, out), k.compile_ms, k.from_disk_cache
        load_kernel(source) is k  # later calls: the memoized kernel
    """
    fp = fingerprint(source)
    found = _memo.get(fp)
    if found is not None:
        return found
    with _locks_guard:
        lock = _locks.setdefault(fp, threading.Lock())
    with lock:
        found = _memo.get(fp)
        if found is None:
            found = _import_kernel(source, fp, entry)
            _memo[fp] = found
        return found


def memoized_count() -> int:
    """How many kernels this process holds (for tests and diagnostics)."""
    return len(_memo)


def _import_kernel(source: str, fp: str, entry: str) -> Kernel:
    path = _module_path(fp)
    with _exclusive_file_lock(path.with_suffix(".lock")):
        _write_atomically(path, source)
        return _exec_module(path, fp, entry)


def _exec_module(path: Path, fp: str, entry: str) -> Kernel:
    module_name = MODULE_PREFIX + fp
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise KernelCompileError(f"cannot import generated kernel {path}")
    module = importlib.util.module_from_spec(spec)
    # numba resolves a function's globals through its module, so the module must be registered
    sys.modules[module_name] = module
    started = time.perf_counter()
    try:
        spec.loader.exec_module(module)
        func = getattr(module, entry)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise KernelCompileError(f"generated kernel {path} failed to compile: {exc}") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    hits, misses = cache_stats(func)
    return Kernel(fp, func, str(path), elapsed_ms, hits > 0 and misses == 0)


def _module_path(fp: str) -> Path:
    """Where the module of kernel ``fp`` goes, in a directory that exists and can be written."""
    global _fallback_dir
    directory = _fallback_dir or cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"{directory} is not writable")
    except OSError as exc:
        if _fallback_dir is not None:
            raise
        _fallback_dir = Path(tempfile.mkdtemp(prefix="ember-kernels-"))
        _log.warning("kernel cache %s is not writable (%s); using %s", directory, exc, _fallback_dir)
        directory = _fallback_dir
    return directory / f"{MODULE_PREFIX}{fp}.py"


@contextmanager
def _exclusive_file_lock(path: Path) -> Iterator[None]:
    """Hold ``flock(LOCK_EX)`` on ``path`` (created if missing); other processes wait for it."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, source: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == source:
            return
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".py")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
