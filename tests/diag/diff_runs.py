"""Repeated runs of one small Ember application, for ``ember diff``'s tests: real event logs, cheap.

    runs = ember_runs(tmp_path)      # {"base": [dir x5], "again": [dir x5], "slow": [dir x5], "other": [dir x2]}

``base`` and ``again`` are the same job (an aggregation, then a Python UDF over the rows);
``slow`` is the same job whose UDF sleeps ``SLOW_TASK_S`` on one row, so one task (and its stage,
its query and the application) is that much slower with the same data, plan and figures. (The UDF
has a query of its own: the engine cannot yet render a plan with a UDF below an exchange.) The runs are interleaved (base, slow, again,
base, ...) so machine noise falls on every side alike, after one discarded warm-up run that pays
the kernel compiles. ``other`` is a second application (another name, another job) run twice, for
matching directories by application name. All of it runs in one child process, so no session of
the test process is touched.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNS = 5
SLOW_TASK_S = 0.4

_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from engine.sql import SparkSession, functions as F

    dest, runs, slow_s = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

    def job(log_dir, name, slow):
        spark = (SparkSession.builder.master("local[2]").appName(name)
                 .config("spark.sql.shuffle.partitions", 4).config("spark.eventLog.dir", str(log_dir))
                 .getOrCreate())

        @F.udf("long")
        def score(x):
            if slow and x == 0:
                time.sleep(slow_s)
            return x * 3

        if name == "ember-diff-job":
            df = spark.range(0, 2000, 1, 4)
            df.groupBy((F.col("id") % 5).alias("k")).agg(F.sum("id").alias("total")).collect()
            df.select(score("id").alias("s")).collect()
        else:
            spark.range(0, 1000, 1, 2).repartition(3).count()
        spark.stop()

    job(dest / "warmup", "ember-diff-job", False)
    for i in range(runs):
        for side, slow in (("base", False), ("slow", True), ("again", False)):
            job(dest / side / str(i), "ember-diff-job", slow)
    for i in range(2):
        job(dest / "other" / str(i), "ember-diff-other", False)
""")


def ember_runs(dest: Path) -> dict[str, list[Path]]:
    """Generate the runs under ``dest``; each run is the directory holding its one event log."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
    run = subprocess.run([sys.executable, "-c", _SCRIPT, str(dest), str(RUNS), str(SLOW_TASK_S)], cwd=dest, env=env,
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"the Ember runs failed (exit {run.returncode}):\n{run.stderr[-4000:]}")
    return {side: [dest / side / str(i) for i in range(RUNS if side != "other" else 2)]
            for side in ("base", "again", "slow", "other")}
