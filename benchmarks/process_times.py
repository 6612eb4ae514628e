"""What a user waits for when a query runs in a fresh process: compile and whole-process times.

    cold = cold_compile("q1", data)                       # new process, empty kernel caches
    cold.first_s, cold.warm_s, cold.kernel_compile_ms     # first run (compiling), second run, kernels
    times = process_times("duckdb", "q1", data, rounds=3) # wall times of `python -c <one query>`

Two measurements, both in subprocesses so nothing is shared with the caller:

* ``cold_compile``: Ember with ``EMBER_KERNEL_CACHE`` and ``NUMBA_CACHE_DIR`` pointed at a fresh
  temporary directory (numba also caches the engine's own ``cache=True`` functions, such as the
  hashing kernels; a cold start compiles those too). The child runs the query twice and reports
  the first run (which compiles every kernel), the second (in-process memo, no compile), the
  milliseconds spent obtaining generated kernels and how many there were.
* ``process_times``: the wall time of ``python -c`` with a script that opens one engine, runs one
  query to an Arrow table and exits — interpreter start, imports, session or JVM start, planning,
  execution. Ember runs with a warm kernel cache (the directory is warmed by one untimed run
  first); every engine gets one untimed run first so that the OS file cache holds its libraries.

The one-query script imports ``benchmarks.queries`` (numpy and pyarrow, which every engine's
Arrow output needs anyway) and only the engine it runs.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.datagen import Dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
PROCESS_TIMEOUT_S = 900.0

_ONE_QUERY = ("from benchmarks.queries import run_standalone; "
              "t = run_standalone({engine!r}, {query!r}, {root!r}, {sf!r}); print(t.num_rows)")

_COLD_COMPILE = """
import json, time
from pathlib import Path
from benchmarks.datagen import Dataset
from benchmarks.queries import QUERIES, open_runner
from engine.codegen import kernel_cache

query = QUERIES[{query!r}]
runner = open_runner("ember", Dataset({sf!r}, Path({root!r})))
started = time.perf_counter()
runner.prepare(query)
rows = runner.run(query).num_rows
first = time.perf_counter() - started
started = time.perf_counter()
runner.run(query)
warm = time.perf_counter() - started
# the in-process memo holds every kernel this process obtained, with the time it took
kernels = list(kernel_cache._memo.values())
runner.close()
print("EMBER-COLD " + json.dumps({{"rows": rows, "first_s": first, "warm_s": warm, "kernels": len(kernels),
                                   "kernel_compile_ms": sum(k.compile_ms for k in kernels),
                                   "from_disk_cache": sum(k.from_disk_cache for k in kernels),
                                   "ended_at": time.time()}}), flush=True)
# the Parquet decoder may still be compiling in the background: the next measurement must not share the CPU with it
from engine.datasources.page_decoder_compile import wait_for_background_compile
wait_for_background_compile()
"""


@dataclass(frozen=True)
class ColdCompile:
    """One cold start of a query on Ember (seconds unless named otherwise)."""

    query: str
    process_s: float  # the whole child process, to its last query (not the background compile it waits for)
    first_s: float  # prepare + first run: compiles every kernel
    warm_s: float  # the second run in the same process
    kernel_compile_ms: float  # time spent obtaining generated kernels (numba compiles)
    kernels: int
    from_disk_cache: int  # kernels loaded from a disk cache: 0 when the start was really cold

    def to_json(self) -> dict:
        return asdict(self)


def _env(**extra: str) -> dict[str, str]:
    """The caller's environment for a child, with bytecode caching on, as a user's Python has it:
    a machine that sets ``PYTHONDONTWRITEBYTECODE`` (this workplace does) would otherwise make every
    child compile Ember's own modules from source (about 0.4 s of its start), which the untimed
    first run caches instead."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _run(code: str, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=PROCESS_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child process failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return elapsed, done.stdout


def one_query_script(engine: str, query: str, data: Dataset) -> str:
    """The ``python -c`` text that runs one query on one engine and prints the result's row count."""
    return _ONE_QUERY.format(engine=engine, query=query, root=str(data.root), sf=data.sf)


def cold_compile(query: str, data: Dataset, cache_dir: str | Path | None = None) -> ColdCompile:
    """Run ``query`` on Ember in a new process whose kernel caches start empty.

    ``cache_dir`` (default: a new temporary directory, removed afterwards) receives the kernel
    modules and numba's caches; it must be empty for the start to be cold. Passing one keeps it
    warm for ``process_times``.
    """
    owned = cache_dir is None
    directory = Path(tempfile.mkdtemp(prefix="ember-cold-")) if owned else Path(cache_dir)
    try:
        env = _env(EMBER_KERNEL_CACHE=str(directory / "kernels"), NUMBA_CACHE_DIR=str(directory / "numba"))
        code = _COLD_COMPILE.format(query=query, root=str(data.root), sf=data.sf)
        started = time.time()
        _, out = _run(code, env)
        line = next(x for x in out.splitlines() if x.startswith("EMBER-COLD "))
        figures = json.loads(line.removeprefix("EMBER-COLD "))
        return ColdCompile(query, figures["ended_at"] - started, figures["first_s"], figures["warm_s"],
                           figures["kernel_compile_ms"], figures["kernels"], figures["from_disk_cache"])
    finally:
        if owned:
            import shutil

            shutil.rmtree(directory, ignore_errors=True)


def one_query_process(engine: str, query: str, data: Dataset, kernel_cache: str | Path | None = None) -> float:
    """Wall seconds of one ``python -c <one query script>`` process for ``engine``. For Ember,
    ``kernel_cache`` is the cache directory to use (its ``kernels`` and ``numba`` subdirectories);
    by default the user's usual caches."""
    extra = {}
    if engine == "ember" and kernel_cache is not None:
        extra = {"EMBER_KERNEL_CACHE": str(Path(kernel_cache) / "kernels"),
                 "NUMBA_CACHE_DIR": str(Path(kernel_cache) / "numba")}
    return _run(one_query_script(engine, query, data), _env(**extra))[0]


def process_times(engine: str, query: str, data: Dataset, rounds: int = 3,
                  kernel_cache: str | Path | None = None) -> list[float]:
    """``rounds`` timings of ``one_query_process``, after one untimed run that warms Ember's
    kernel cache and the OS file cache."""
    one_query_process(engine, query, data, kernel_cache)
    return [one_query_process(engine, query, data, kernel_cache) for _ in range(rounds)]


def measure(queries: list[str], engines: list[str], data: Dataset, rounds: int = 3, progress=None) -> dict:
    """Cold compiles (Ember) and median process times (every engine) for each query, as JSON-ready
    ``{query: {"ember_cold": {...}, "process_s": {engine: median}, "process_times_s": {engine: [...]}}}``.
    Ember's process times reuse the cache its cold compile just filled. ``progress(text)`` is told
    what runs next."""
    out: dict[str, dict] = {}
    for query in queries:
        entry: dict = {"ember_cold": None, "process_s": {}, "process_times_s": {}, "errors": {}}
        with tempfile.TemporaryDirectory(prefix="ember-process-") as cache:
            if "ember" in engines:
                if progress:
                    progress(f"{query}: Ember cold compile")
                try:
                    entry["ember_cold"] = cold_compile(query, data, cache).to_json()
                except Exception as exc:  # noqa: BLE001 - reported, the other measurements go on
                    entry["errors"]["ember_cold"] = str(exc)
            for engine in engines:
                if progress:
                    progress(f"{query}: {engine} process time")
                try:
                    times = process_times(engine, query, data, rounds, cache if engine == "ember" else None)
                except Exception as exc:  # noqa: BLE001
                    entry["errors"][engine] = str(exc)
                    continue
                entry["process_times_s"][engine] = times
                entry["process_s"][engine] = statistics.median(times)
        out[query] = entry
    return out
