"""The first session freezes the objects the process holds then, until exit; objects made later stay
collectable. At exit everything is frozen, unless a nanobind extension (DuckDB's) is loaded. Run in
child processes: freezing is process-wide."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = """
import atexit, gc, json
if {with_duckdb}:
    import duckdb   # built with nanobind, which reports at exit every object of its own not freed
    duckdb.sql("select 1").fetchall()
from engine.memory import python_gc
from engine.sql import SparkSession

# registered before the session's exit hook, so it runs after it (atexit runs the last registered first)
atexit.register(lambda: print("AT-EXIT " + json.dumps({{"frozen": gc.get_freeze_count(),
                                                        "tracked": len(gc.get_objects())}}), flush=True))
before = gc.get_freeze_count()
spark = SparkSession.builder.master("local[1]").config("spark.eventLog.enabled", "false").getOrCreate()
after_session = gc.get_freeze_count()
again = python_gc.freeze_long_lived_objects()

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a   # a cycle made after the freeze
del a, b
collected = gc.collect()
spark.stop()
print("CHILD " + json.dumps({{"before": before, "after_session": after_session, "again": again,
                              "collected": collected, "nanobind": python_gc.nanobind_loaded()}}), flush=True)
"""


def _child(with_duckdb: bool) -> tuple[dict, dict, str]:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", CHILD.format(with_duckdb=with_duckdb)], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    child = json.loads(next(x for x in lines if x.startswith("CHILD ")).removeprefix("CHILD "))
    at_exit = json.loads(next(x for x in lines if x.startswith("AT-EXIT ")).removeprefix("AT-EXIT "))
    return child, at_exit, done.stderr


@pytest.mark.parametrize("with_duckdb", [False, True])
def test_first_session_freezes_what_exists_until_exit(with_duckdb):
    child, _, _ = _child(with_duckdb)
    assert child["before"] == 0
    assert child["after_session"] > 10_000          # the imports: numba, pyarrow, the engine
    assert child["again"] is False                   # once per process
    assert child["collected"] >= 2                   # the cycle made after the freeze was collected
    assert child["nanobind"] is with_duckdb


def test_shutdown_skips_collecting_what_exists_at_exit():
    child, at_exit, _ = _child(with_duckdb=False)
    assert at_exit["frozen"] > child["after_session"]   # what was made since is frozen too
    assert at_exit["tracked"] == 0                       # nothing left for shutdown's collections


def test_with_a_nanobind_extension_shutdown_collects_everything():
    _, at_exit, stderr = _child(with_duckdb=True)
    assert at_exit["frozen"] == 0                    # unfrozen for shutdown: nothing is left unfreed
    assert "leaked" not in stderr, stderr[-2000:]
