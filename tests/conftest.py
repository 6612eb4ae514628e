"""Shared fixtures: one Ember session for the test run, its event log in a temporary directory.

Every test marked ``spark`` (real pyspark or Spark's History Server) is skipped where pyspark or
Java is missing, or when ``EMBER_SKIP_SPARK=1`` (the hook below).
"""
from __future__ import annotations

import os

import pytest

from tests.spark_jobs.fixtures import pytest_runtest_setup  # noqa: F401 - the skip hook, for every test

os.environ.setdefault("EMBER_KERNEL_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "ember", "test-kernels"))


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from engine.sql import SparkSession

    events = tmp_path_factory.mktemp("ember-events")
    session = (SparkSession.builder.master("local[2]").appName("ember-tests")
               .config("spark.sql.shuffle.partitions", 4)
               .config("spark.eventLog.dir", str(events))
               .getOrCreate())
    yield session
    session.stop()


@pytest.fixture
def conf(spark):
    """Set Spark SQL configuration for one test; the old values come back afterwards."""
    saved = {}

    def set_conf(key, value):
        saved.setdefault(key, spark.conf.get(key, None))
        spark.conf.set(key, value)

    yield set_conf
    for key, value in saved.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
