"""The kernel cache: memoized in the process, written once to disk, loaded by a later process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from engine.codegen import kernel_cache
from engine.codegen.kernel_cache import KernelCompileError, load_kernel

from .conftest import REPO_ROOT

TINY = '''# {tag}
from engine.codegen.jit import njit


@njit("int64(int64[::1])", nogil=True, cache=True)
def kernel(a):
    s = 0
    for v in a:
        s += v * {factor}
    return s
'''


def tiny_source(factor: int = 3) -> str:
    return TINY.format(tag=uuid.uuid4().hex, factor=factor)


def test_load_writes_a_content_hashed_module_and_memoizes(isolated_kernel_cache):
    source = tiny_source()
    kernel = load_kernel(source)
    assert kernel.func(np.arange(4, dtype=np.int64)) == 18
    path = Path(kernel.path)
    assert path.parent == isolated_kernel_cache
    assert path.name == f"ember_k_{kernel_cache.fingerprint(source)}.py"
    assert path.read_text() == source
    assert kernel.compile_ms > 0 and not kernel.from_disk_cache
    assert load_kernel(source) is kernel
    assert not [p for p in isolated_kernel_cache.iterdir() if p.name.startswith(".tmp_")]
    # numba's cache index and machine code sit beside the module
    cached = {p.suffix for p in (isolated_kernel_cache / "__pycache__").iterdir()}
    assert {".nbi", ".nbc"} <= cached


def test_concurrent_loads_compile_once(isolated_kernel_cache):
    source = tiny_source(factor=5)
    before = kernel_cache.memoized_count()
    results, barrier = [], threading.Barrier(4)

    def load():
        barrier.wait()
        results.append(load_kernel(source))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(r is results[0] for r in results)
    assert kernel_cache.memoized_count() == before + 1
    assert len(list(isolated_kernel_cache.glob("ember_k_*.py"))) == 1


def test_unwritable_cache_dir_falls_back_to_a_temporary_one(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("EMBER_KERNEL_CACHE", str(blocker / "kernels"))
    monkeypatch.setattr(kernel_cache, "_fallback_dir", None)
    kernel = load_kernel(tiny_source(factor=7))
    assert kernel.func(np.ones(2, dtype=np.int64)) == 14
    assert not Path(kernel.path).is_relative_to(blocker)


def test_source_that_fails_to_compile_raises_and_is_not_registered(isolated_kernel_cache):
    source = tiny_source().replace("s += v *", "s += undefined_name *")
    with pytest.raises(KernelCompileError, match="failed to compile"):
        load_kernel(source)
    assert f"ember_k_{kernel_cache.fingerprint(source)}" not in sys.modules


# One pipeline, compiled in one fresh process and loaded from numba's disk cache in another.
CHILD = r'''
import json, sys, time
sys.path.insert(0, {root!r})
import pyarrow as pa
from engine.sql.types import DoubleType, LongType
from engine.catalyst.expressions import Arithmetic, AttributeReference, Comparison, Literal
from engine.codegen.pipeline import compile_pipeline
from engine.codegen.jit import njit

njit(lambda: 0)()     # numba's target set-up is paid once per process: not by the kernel

a = AttributeReference("a", LongType(), True, 1)
b = AttributeReference("b", DoubleType(), True, 2)
p = compile_pipeline((a, b), Comparison(">", a, Literal(0, LongType())),
                     (Arithmetic("*", b, Literal(2.0, DoubleType())), Arithmetic("+", a, Literal({salt}, LongType()))))
table = pa.table({{"_1": pa.array([1, -2, None, 4], pa.int64()), "_2": pa.array([0.5, 1.0, 2.0, None])}})
out = p.run(table)
kernel = p.kernel
print(json.dumps({{"compile_ms": kernel.compile_ms, "from_disk_cache": kernel.from_disk_cache,
                  "path": kernel.path, "out": [a.to_pylist() for a in out]}}))
'''


def run_child(script: str, cache_dir: Path) -> dict:
    env = dict(os.environ, EMBER_KERNEL_CACHE=str(cache_dir))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_new_process_loads_the_kernel_from_disk_instead_of_compiling(isolated_kernel_cache):
    script = CHILD.format(root=str(REPO_ROOT), salt=uuid.uuid4().int % 1000 + 1)
    cold = run_child(script, isolated_kernel_cache)
    path = Path(cold["path"])
    stamp = path.stat().st_mtime_ns
    warm = run_child(script, isolated_kernel_cache)

    assert not cold["from_disk_cache"] and warm["from_disk_cache"]
    assert warm["path"] == cold["path"] and path.stat().st_mtime_ns == stamp   # module reused as is
    print("TIMES", cold["compile_ms"], warm["compile_ms"]); assert warm["compile_ms"] < cold["compile_ms"] / 3, (cold["compile_ms"], warm["compile_ms"])
    assert warm["out"] == cold["out"]
    assert cold["out"][0] == [1.0, None]
    assert list((isolated_kernel_cache / "__pycache__").glob(f"{path.stem}*.nbi"))
