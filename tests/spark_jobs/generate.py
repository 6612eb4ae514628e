"""Run the scenarios of ``scenarios.py`` on real pyspark and cache one plain event log per scenario.

    generate_logs()                      # {name: Path of the log}, generating what is missing
    python -m tests.spark_jobs.generate [--force] [names...]
    generate_logs(module="tests.spark_jobs.diff_pairs")   # another module's scenarios, own cache key

Each scenario is its own Spark application with its own event log: a single uncompressed file
(``spark.eventLog.rolling.enabled=false``, ``spark.eventLog.compress=false``) named by Spark
(``local-<millis>``). Logs are cached in ``$EMBER_SPARK_LOG_CACHE`` (default
``~/.cache/ember/spark-logs``) under ``<pyspark version>-<hash of scenarios.py>/<name>/`` (the
hash covers BASE_CONF below too), so editing a scenario regenerates the logs. Another module with
a ``SCENARIOS`` dict of the same ``Scenario`` records (``module=``, ``--module``) is cached under
the hash of its own file, so adding one never regenerates the logs of the others.

Generation runs in child Python processes (never in the caller's, so a test run keeps no JVM). A
child starts one JVM and runs its scenarios one after another, stopping each SparkContext and
starting the next in the same JVM (a JVM start costs ~5 s). Scenarios with JVM-start settings
(``jvm_conf``) or that must see a cold JVM (``cold_jvm``) get a child of their own. The JVM is
launched with only the JVM-start settings: pyspark passes the first context's settings to
spark-submit as system properties, which every later SparkConf would inherit.

A log is written in a temporary directory next to the cache entry and renamed into place once the
application has stopped, so an interrupted run never leaves a partial entry; a lock file keeps two
concurrent runs from generating the same logs.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Iterable, Iterator

CACHE_ENV = "EMBER_SPARK_LOG_CACHE"
DEFAULT_MODULE = "tests.spark_jobs.scenarios"
REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT_S = 900.0

# Every application: one plain file, no UI, quiet console.
BASE_CONF = {
    "spark.eventLog.enabled": "true",
    "spark.eventLog.rolling.enabled": "false",
    "spark.eventLog.compress": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def pyspark_version() -> str:
    return metadata.version("pyspark")


def _scenarios(module: str) -> dict:
    return importlib.import_module(module).SCENARIOS


def scenarios_hash(module: str = DEFAULT_MODULE) -> str:
    """Of the scenarios' module file, and of the settings every application gets (BASE_CONF)."""
    digest = hashlib.sha256(Path(importlib.util.find_spec(module).origin).read_bytes())
    digest.update(json.dumps(BASE_CONF, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def cache_dir(module: str = DEFAULT_MODULE) -> Path:
    """``$EMBER_SPARK_LOG_CACHE`` (else ``~/.cache/ember/spark-logs``) / ``<pyspark>-<hash>``."""
    configured = os.environ.get(CACHE_ENV)
    root = Path(configured) if configured else Path.home() / ".cache" / "ember" / "spark-logs"
    return root / f"{pyspark_version()}-{scenarios_hash(module)}"


def scenario_names(module: str = DEFAULT_MODULE) -> list[str]:
    return list(_scenarios(module))


def cached_log(entry: Path) -> Path | None:
    """The one finished event log in a cache entry, else None."""
    if not entry.is_dir():
        return None
    logs = [p for p in entry.iterdir() if p.is_file() and not p.name.startswith(".")]
    if len(logs) != 1 or logs[0].name.endswith(".inprogress"):
        return None
    return logs[0]


def _plan_children(names: list[str], module: str = DEFAULT_MODULE) -> list[list[str]]:
    """Split scenarios into child processes: one per JVM they can share, in the given order."""
    SCENARIOS = _scenarios(module)  # noqa: N806 - the module's name for it
    children: list[list[str]] = []
    shared: dict[tuple, list[str]] = {}
    for name in names:
        sc = SCENARIOS[name]
        if sc.cold_jvm:
            children.append([name])
            continue
        key = tuple(sorted(sc.jvm_conf.items()))
        if key not in shared:
            shared[key] = []
            children.append(shared[key])
        shared[key].append(name)
    return children


@contextlib.contextmanager
def _locked(dest: Path) -> Iterator[None]:
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    return env


def generate_logs(names: Iterable[str] | None = None, dest: Path | str | None = None, *,
                  force: bool = False, timings: dict[str, float] | None = None,
                  module: str = DEFAULT_MODULE) -> dict[str, Path]:
    """Event log of each scenario (all by default), generating the ones missing from ``dest``
    (default ``cache_dir()``). ``force`` regenerates them. ``timings`` (if given) receives the
    seconds each generated application took, from its session start to its stop, plus
    ``"<jvm start>"`` entries per child (the JVM launch) and ``"<total>"``."""
    all_names = scenario_names(module)
    wanted = list(all_names if names is None else names)
    unknown = [n for n in wanted if n not in all_names]
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}: known are {all_names}")
    dest = Path(dest).resolve() if dest is not None else cache_dir(module)
    started = time.perf_counter()
    with _locked(dest):
        if force:
            for name in wanted:
                if (dest / name).exists():
                    shutil.rmtree(dest / name)
        missing = [n for n in wanted if cached_log(dest / n) is None]
        for group in _plan_children(missing, module):
            _run_child(group, dest, timings, module)
    if timings is not None and missing:
        timings["<total>"] = time.perf_counter() - started
    result = {}
    for name in wanted:
        log = cached_log(dest / name)
        if log is None:
            raise RuntimeError(f"scenario {name!r} produced no event log in {dest / name}")
        result[name] = log
    return result


def _run_child(names: list[str], dest: Path, timings: dict[str, float] | None, module: str) -> None:
    with tempfile.TemporaryDirectory(prefix="ember-spark-gen-") as tmp:
        report = Path(tmp) / "report.jsonl"
        cmd = [sys.executable, "-m", "tests.spark_jobs.generate", "--child", "--dest", str(dest),
               "--report", str(report), "--module", module, *names]
        run = subprocess.run(cmd, cwd=REPO_ROOT, env=_child_env(), capture_output=True, text=True,
                             timeout=CHILD_TIMEOUT_S)
        if run.returncode != 0:
            raise RuntimeError(f"generating {names} failed (exit {run.returncode}):\n{run.stderr[-8000:]}")
        if timings is not None and report.exists():
            for line in report.read_text().splitlines():
                rec = json.loads(line)
                name = rec["name"]
                timings[name] = timings.get(name, 0.0) + rec["seconds"] if name.startswith("<") else rec["seconds"]


# ---------------------------------------------------------------------------------------- the child
def _remove_stale_temporaries(dest: Path) -> None:
    for stale in dest.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)  # under the lock: nobody else is writing


def _child_main(names: list[str], dest: Path, report: Path, module: str) -> None:
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    SCENARIOS = _scenarios(module)  # noqa: N806 - the module's name for it

    _remove_stale_temporaries(dest)
    t0 = time.perf_counter()
    jvm_conf = SCENARIOS[names[0]].jvm_conf
    # Launch the JVM with the JVM-start settings only (see the module docstring).
    SparkContext._ensure_initialized(conf=SparkConf(loadDefaults=False).setAll(list(jvm_conf.items())))
    _report(report, "<jvm start>", time.perf_counter() - t0)
    for name in names:
        sc = SCENARIOS[name]
        work = dest / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        logs, scratch = work / "log", work / "scratch"
        logs.mkdir(parents=True)
        scratch.mkdir()
        try:
            t0 = time.perf_counter()
            builder = SparkSession.builder.master(sc.master).appName(f"ember-scenario-{name}")
            conf = {**BASE_CONF, "spark.eventLog.dir": logs.as_uri(),
                    "spark.sql.warehouse.dir": (scratch / "warehouse").as_uri(), **jvm_conf, **sc.conf}
            for key, value in conf.items():
                builder = builder.config(key, value)
            spark = builder.getOrCreate()
            spark.sparkContext.setLogLevel("ERROR")
            try:
                sc.run(spark, scratch)
            finally:
                spark.stop()
            seconds = time.perf_counter() - t0
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        files = list(logs.iterdir())
        if len(files) != 1 or files[0].name.endswith(".inprogress"):
            raise RuntimeError(f"{name}: expected one finished event log, found {[f.name for f in files]}")
        entry = dest / name
        shutil.rmtree(entry, ignore_errors=True)
        logs.rename(entry)  # atomic: a cache entry is complete or absent
        shutil.rmtree(work, ignore_errors=True)
        _report(report, name, seconds)


def _report(report: Path, name: str, seconds: float) -> None:
    with open(report, "a") as out:
        out.write(json.dumps({"name": name, "seconds": round(seconds, 2)}) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.spark_jobs.generate", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="scenarios to generate (default: all)")
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    parser.add_argument("--dest", type=Path, help="cache entry directory (default: %(prog)s's cache)")
    parser.add_argument("--module", default=DEFAULT_MODULE, help="the module holding SCENARIOS (default: %(default)s)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.names, args.dest, args.report, args.module)
        return 0
    timings: dict[str, float] = {}
    logs = generate_logs(args.names or None, args.dest, force=args.force, timings=timings, module=args.module)
    for name, path in logs.items():
        took = f"{timings[name]:6.1f} s" if name in timings else "  cached"
        print(f"{name:22s} {took}  {path}")
    for key in sorted(k for k in timings if k.startswith("<")):
        print(f"{key:22s} {timings[key]:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
