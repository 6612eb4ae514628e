"""The first session freezes the objects the process holds then, until exit; objects made later stay
collectable. Run in a child process: freezing is process-wide."""
import subprocess
import sys
from pathlib import Path

CHILD = """
import atexit, gc, json
import duckdb   # built with nanobind, which reports at exit every object of its own not freed
duckdb.sql("select 1").fetchall()
from engine.memory import python_gc
from engine.sql import SparkSession

# registered before the session's exit hook, so it runs after it (atexit runs the last registered first)
atexit.register(lambda: print("AT-EXIT " + json.dumps({"frozen": gc.get_freeze_count()}), flush=True))
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
print("CHILD " + json.dumps({"before": before, "after_session": after_session, "again": again,
                              "collected": collected}), flush=True)
"""


def test_first_session_freezes_what_exists_until_exit():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    lines = done.stdout.splitlines()
    child = json.loads(next(x for x in lines if x.startswith("CHILD ")).removeprefix("CHILD "))
    at_exit = json.loads(next(x for x in lines if x.startswith("AT-EXIT ")).removeprefix("AT-EXIT "))
    assert child["before"] == 0
    assert child["after_session"] > 10_000          # the imports: numba, pyarrow, the engine
    assert child["again"] is False                   # once per process
    assert child["collected"] >= 2                   # the cycle made after the freeze was collected
    assert at_exit["frozen"] == 0                    # unfrozen for shutdown: nothing is left unfreed
    assert "leaked" not in done.stderr, done.stderr[-2000:]
