from tests.spark_jobs.fixtures import pytest_runtest_setup, spark_logs  # noqa: F401
