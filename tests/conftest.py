"""Shared fixtures: one Ember session for the test run, its event log in a temporary directory."""
from __future__ import annotations

import os

import pytest

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
