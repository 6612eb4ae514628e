"""Two executor processes asking for the same new kernel at once: one compiles, the other loads it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Each child imports numba and warms up its target first (seconds), says it is ready, then waits for
# the go file so that both ask for the kernel within the same few milliseconds.
CHILD = r'''
import json, os, sys, time
sys.path.insert(0, {root!r})
from engine.codegen.kernel_cache import load_kernel
from engine.codegen.jit import njit

njit("int64(int64)", nogil=True)(lambda x: x + 1)   # numba's start-up cost, paid before the race
open(sys.argv[1], "w").close()
while not os.path.exists({go!r}):
    time.sleep(0.001)
kernel = load_kernel({source!r})
print(json.dumps({{"from_disk_cache": kernel.from_disk_cache, "compile_ms": kernel.compile_ms,
                  "path": kernel.path, "answer": int(kernel.func(41))}}))
'''

SOURCE = '''# {tag}
from engine.codegen.jit import njit


@njit("int64(int64)", nogil=True, cache=True)
def kernel(x):
    total = 0
    for i in range(x):
        total += (i * 7919) % 13
    return total + 1
'''


def test_a_kernel_two_processes_need_at_once_is_compiled_by_one_and_loaded_by_the_other(tmp_path):
    cache = tmp_path / "kernels"
    go = tmp_path / "go"
    script = CHILD.format(root=str(REPO_ROOT), go=str(go), source=SOURCE.format(tag=uuid.uuid4().hex))
    env = dict(os.environ, EMBER_KERNEL_CACHE=str(cache))
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    children = [subprocess.Popen([sys.executable, "-c", script, str(r)], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in ready]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready):
            assert time.monotonic() < deadline, "children did not start"
            assert all(c.poll() is None for c in children), [c.communicate() for c in children]
            time.sleep(0.01)
        go.touch()
        outputs = [c.communicate(timeout=120) for c in children]
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
    for child, (_, err) in zip(children, outputs):
        assert child.returncode == 0, err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]

    assert sorted(r["from_disk_cache"] for r in results) == [False, True]   # one compile, one load
    assert results[0]["path"] == results[1]["path"]
    assert results[0]["answer"] == results[1]["answer"]
    assert Path(results[0]["path"]).with_suffix(".lock").exists()
