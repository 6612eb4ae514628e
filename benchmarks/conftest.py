"""Fixtures of the benchmark suites: the generated data, the warm engines, the correctness check."""
from __future__ import annotations

import pytest

from benchmarks import datagen
from benchmarks.suite import SF, RunnerPool, Verified

_SELECTED = pytest.StashKey[dict]()


def pytest_configure(config):
    config.addinivalue_line("markers", "process: times fresh subprocesses (cold compiles, whole-process runs)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Remember which (query, engine) pairs survived deselection (``-m``, ``-k``), so that the
    check runs exactly the engines that will be timed."""
    selected: dict[str, set[str]] = {}
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "query" in params and "engine" in params and item.get_closest_marker("process") is None:
            selected.setdefault(params["query"], set()).add(params["engine"])
    config.stash[_SELECTED] = selected


@pytest.fixture(scope="session")
def bench_data():
    return datagen.ensure_data(SF)


@pytest.fixture(scope="session")
def runner_pool(bench_data):
    pool = RunnerPool(bench_data)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def verified(request, runner_pool):
    """Runs before the first benchmark: every selected query on every selected engine, compared."""
    return Verified(runner_pool, request.config.stash.get(_SELECTED, {}))
