"""Shared helpers for the data source tests: real files in tmp dirs, Spark's recorded answers."""
from __future__ import annotations

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:  # running ``pytest tests/datasources`` without an installed package
    sys.path.insert(0, ROOT)

# ``engine.catalyst`` and ``engine.sql`` import each other; entering through ``engine.sql`` (the user's
# entry point) is the order that works, whichever module a test names first.
import engine.sql  # noqa: E402,F401

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


@pytest.fixture(scope="session")
def spark_expected() -> dict:
    """What Spark 4 answered for the fixtures (see fixtures/make_spark_fixtures.py)."""
    with open(os.path.join(FIXTURES, "spark", "expected.json")) as f:
        return json.load(f)

