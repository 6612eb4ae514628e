"""SQL events are built only when a listener wants them: with the event log off and no listener,
a query never formats its plan; once a listener that reads them is added, every SQL event is
posted again."""
from __future__ import annotations

import pytest

from engine.scheduler.app_status import AppStatusListener
from engine.scheduler.listener_bus import LiveListenerBus
from engine.sql import SparkSession
from engine.sql import functions as F
from engine.sql import query_execution
from tests.engine.support import RecordingListener


SQL_EVENTS = ("SparkListenerSQLExecutionStart", "SparkListenerSQLAdaptiveExecutionUpdate",
              "SparkListenerDriverAccumUpdates", "SparkListenerSQLExecutionEnd")


class JobsOnlyListener(RecordingListener):
    wants_sql_events = False


@pytest.fixture
def quiet_session():
    """An application of its own with no event log (the shared test session writes one)."""
    session = SparkSession({"spark.master": "local[2]", "spark.eventLog.enabled": "false",
                            "spark.sql.shuffle.partitions": "3"})
    yield session
    session.stop()


@pytest.fixture
def plan_formatting(monkeypatch) -> list[str]:
    """Every physical plan formatted or turned into a SparkPlanInfo from now on, by kind."""
    calls: list[str] = []
    formatted, plan_info = query_execution._formatted, query_execution.plan_info

    def counting_formatted(plan):
        calls.append("formatted")
        return formatted(plan)

    def counting_plan_info(node):
        calls.append("plan_info")
        return plan_info(node)

    monkeypatch.setattr(query_execution, "_formatted", counting_formatted)
    monkeypatch.setattr(query_execution, "plan_info", counting_plan_info)
    return calls


def _grouped_count(session):
    return sorted(session.range(0, 12, numPartitions=3).groupBy((F.col("id") % 2).alias("k")).count().collect())


def test_the_bus_wants_sql_events_while_one_listener_wants_them():
    bus = LiveListenerBus()
    assert not bus.wants_sql_events
    bus.add_listener(AppStatusListener())
    bus.add_listener(JobsOnlyListener())
    assert not bus.wants_sql_events
    bus.add_listener(RecordingListener())
    assert bus.wants_sql_events


def test_without_a_listener_for_them_a_query_never_formats_its_plan(quiet_session, plan_formatting):
    jobs = JobsOnlyListener()
    quiet_session.bus.add_listener(jobs)
    assert _grouped_count(quiet_session) == [(0, 6), (1, 6)]
    quiet_session.bus.wait_until_empty()
    assert plan_formatting == []
    assert not [e for e in jobs.events if type(e).__name__ in SQL_EVENTS]
    assert len(jobs.of_type("SparkListenerJobEnd")) == 2  # the query stage's job and the result job


def test_a_listener_added_later_gets_every_sql_event(quiet_session, plan_formatting):
    _grouped_count(quiet_session)
    recorder = RecordingListener()
    quiet_session.bus.add_listener(recorder)
    assert _grouped_count(quiet_session) == [(0, 6), (1, 6)]
    quiet_session.bus.wait_until_empty()
    names = [type(e).__name__ for e in recorder.events if type(e).__name__ in SQL_EVENTS]
    assert names[0] == "SparkListenerSQLExecutionStart" and names[-1] == "SparkListenerSQLExecutionEnd"
    assert names.count("SparkListenerSQLAdaptiveExecutionUpdate") == 3  # stages created, result stage, final
    assert "SparkListenerDriverAccumUpdates" in names
    assert plan_formatting.count("formatted") == 4
