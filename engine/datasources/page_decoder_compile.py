"""Compiling the Parquet page decoder without making a query wait for it.

The decoder (``parquet_pages``, and ``parquet_late``'s range filters) is about twenty numba
functions. Loading them from numba's disk cache takes a fraction of a second; compiling them on a
machine that never has takes about 7 s of one core, and a query that waited for that would be
slower than reading with pyarrow. So a scan asks ``decoder_ready()`` first:

* the decoder is loaded in this process: ready;
* this machine has compiled it (a marker file says so, see below): ready, each function loading
  from numba's cache at its first call;
* otherwise it is not ready, the scan reads with pyarrow, and one background process per
  Ember process compiles the decoder into numba's cache (``python -m
  engine.datasources.page_decoder_compile``) and writes the marker. Scans after that use the
  decoder. A process that exits meanwhile leaves the compile running; the next one benefits.

The marker is ``parquet-decoder-<stamp>.ready`` in Ember's kernel cache directory, where the stamp
hashes the decoder's source files, the numba and Python versions and ``NUMBA_CACHE_DIR``: what
decides whether numba's cache holds this decoder. When the kernel cache directory cannot be
written, there is no marker to wait for and each function compiles at its first call, as it would
without this module.
A compile that fails is logged once, with the path of its output, and pyarrow goes on reading.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from engine.codegen.jit import NUMBA_VERSION, LazyKernel
from engine.codegen.kernel_cache import cache_dir
from engine.datasources import parquet_late, parquet_pages

_log = logging.getLogger(__name__)

_lock = threading.Lock()
_ready = False
_compiler: subprocess.Popen | None = None
_failure_logged = False


def decoder_ready() -> bool:
    """Whether the page decoder can run now without compiling (it may load from numba's cache
    here); when it cannot, its compile is started in the background and the caller reads with
    pyarrow."""
    global _ready
    if _ready:
        return True
    with _lock:
        if _ready:
            return True
        marker = _marker()
        if marker.exists() or not _writable(marker.parent):
            _ready = True   # each function loads (without a marker to wait for: compiles) at its first call
            return True
        _start_background_compile(marker)
        return False


def wait_for_background_compile() -> None:
    """Wait until the decoder compile this process started, if any, has ended (benchmarks time
    processes one after another and must not leave one compiling beside the next)."""
    if _compiler is not None:
        _compiler.wait()


def compile_decoder() -> None:
    """Compile, or load from numba's cache, every numba function of the decoder, in this thread,
    then mark this machine as having compiled it."""
    global _ready
    kernels = [v for module in (parquet_pages, parquet_late)
               for v in (*vars(module).values(), *getattr(module, "_ROWS_IN_RANGE", {}).values())
               if isinstance(v, LazyKernel)]
    for kernel in kernels:
        kernel.dispatcher
    _ready = True
    marker = _marker()
    if _writable(marker.parent) and not marker.exists():
        partial = marker.with_name(f"{marker.name}.{os.getpid()}")
        partial.write_text(f"compiled by process {os.getpid()}\n")
        os.replace(partial, marker)


def _marker() -> Path:
    stamp = hashlib.sha256(_sources_digest())
    stamp.update(f"{NUMBA_VERSION} {sys.version} {os.environ.get('NUMBA_CACHE_DIR', '')}".encode())
    return cache_dir() / f"parquet-decoder-{stamp.hexdigest()[:16]}.ready"


@functools.cache
def _sources_digest() -> bytes:
    """The decoder's source files, hashed once per process (scans ask while it compiles)."""
    return hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (parquet_pages, parquet_late))).digest()


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def _start_background_compile(marker: Path) -> None:
    """One compiling process per Ember process; reports its failure once."""
    global _compiler, _failure_logged
    if _compiler is not None:
        code = _compiler.poll()
        if code is not None and code != 0 and not _failure_logged:
            _failure_logged = True
            _log.warning("the Parquet page decoder failed to compile (exit %s; its output is in %s); "
                         "pyarrow reads every row group", code, marker.with_suffix(".log"))
        return
    root = str(Path(parquet_pages.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    with open(marker.with_suffix(".log"), "wb") as log:
        _compiler = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)


def main() -> None:
    """The background compile, at the lowest CPU priority (it must not slow the queries that go on
    meanwhile); skipped when another process holds the lock (it is compiling)."""
    os.nice(19)
    marker = _marker()
    with open(marker.with_suffix(".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        if not marker.exists():
            compile_decoder()


if __name__ == "__main__":
    main()
