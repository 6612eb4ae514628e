"""pytest glue for the real-Spark scenario logs, shared by the conftests that want them.

    # conftest.py
    from tests.spark_jobs.fixtures import pytest_runtest_setup, spark_logs  # noqa: F401

    @pytest.mark.spark
    def test_skew_is_found(spark_logs):
        log_path = spark_logs["skewed_join"]

Tests marked ``spark`` are skipped when pyspark or Java is missing, or when ``EMBER_SKIP_SPARK=1``;
``-m "not spark"`` deselects them. The first run on a machine generates every scenario's log
(a few minutes, see generate.py); later runs read them from the cache.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

SKIP_ENV = "EMBER_SKIP_SPARK"


def spark_unavailable() -> str | None:
    """Why real Spark cannot run here, or None when it can."""
    if os.environ.get(SKIP_ENV, "").strip() not in ("", "0"):
        return f"{SKIP_ENV} is set"
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java: pyspark needs Java 17"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("spark") is not None:
        reason = spark_unavailable()
        if reason:
            pytest.skip(f"real Spark unavailable: {reason}")


@pytest.fixture(scope="session")
def spark_logs() -> dict[str, Path]:
    """Scenario name -> its event log (one plain JSON-lines file), generated when missing."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(f"real Spark unavailable: {reason}")
    from tests.spark_jobs.generate import generate_logs

    return generate_logs()


@pytest.fixture(scope="session")
def diff_pair_logs() -> dict[str, Path]:
    """Scenario name of ``diff_pairs.py`` -> its event log: runs of one report differing by one change."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(f"real Spark unavailable: {reason}")
    from tests.spark_jobs.generate import generate_logs

    return generate_logs(module="tests.spark_jobs.diff_pairs")
