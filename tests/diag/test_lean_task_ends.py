"""The analyzer's fast TaskEnd path builds exactly the model a full parse builds, on real logs."""
from __future__ import annotations

import re

import pytest

from diag.eventlog import discover, read_events
from diag.model import build_model

pytestmark = pytest.mark.spark


@pytest.mark.parametrize("scenario", ["skewed_join", "task_failures", "spilling_aggregation", "python_udf"])
def test_lean_and_full_parse_build_the_same_model(spark_logs, scenario):
    [source] = discover(spark_logs[scenario])
    full_stream = read_events(source)
    full = build_model(full_stream)
    lean_stream = read_events(source, lean_task_ends=True)
    lean = build_model(lean_stream)
    assert lean.tasks.num_rows > 0
    assert lean.tasks.equals(full.tasks)
    assert lean.stages.equals(full.stages) and lean.jobs.equals(full.jobs)
    for eid, execution in full.sql_executions.items():
        assert [n.metrics for n in lean.sql_executions[eid].nodes] == [n.metrics for n in execution.nodes]
    assert lean_stream.report.event_counts == full_stream.report.event_counts


def test_a_damaged_task_end_falls_back_and_is_reported(spark_logs, tmp_path):
    [source] = discover(spark_logs["task_failures"])
    lines = source.files[0].read_bytes().splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(b'{"Event":"SparkListenerTaskEnd"'))
    lines[i] = re.sub(rb'"Stage ID":(\d+)', rb'"Stage ID":"\1"', lines[i], count=1)  # valid JSON, wrong type
    damaged = tmp_path / "local-1-damaged"
    damaged.write_bytes(b"\n".join(lines) + b"\n")
    full = build_model(read_events(str(damaged)))
    lean_stream = read_events(str(damaged), lean_task_ends=True)
    lean = build_model(lean_stream)
    assert lean.tasks.equals(full.tasks) and lean.tasks.num_rows == full.tasks.num_rows
    assert lean_stream.report.malformed_count == 0
