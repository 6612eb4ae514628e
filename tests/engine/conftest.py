"""Fixtures the engine tests share."""
from __future__ import annotations

import pytest

from tests.engine.support import RecordingListener


@pytest.fixture(scope="module")
def recorded(spark) -> RecordingListener:
    """Every event the test session posts from this module's first use on (clear it per test)."""
    listener = RecordingListener()
    spark.bus.add_listener(listener)
    return listener
