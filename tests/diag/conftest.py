"""Fixtures for the analyzer's tests: event logs of real Spark applications with known problems.

``spark_logs`` (session scope) maps each scenario of ``tests/spark_jobs/scenarios.py`` to the
path of its event log, generating the missing ones; tests using it are marked ``pytest.mark.spark``
and are skipped where pyspark or Java is unavailable (or ``EMBER_SKIP_SPARK=1``).
"""
from tests.spark_jobs.fixtures import diff_pair_logs, spark_logs  # noqa: F401
