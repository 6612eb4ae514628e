"""The scenario logs really show their problem, and only it: the analyzer's tests rest on these
inputs. Everything here reads the logs with plain json (evidence.py), never with diag/.

Timing-based checks keep wide margins: this runs on 2 shared cores, where a task's duration
varies with the load; record and byte counts do not.
"""
from __future__ import annotations

import importlib.metadata

import pytest

from tests.spark_jobs.evidence import MB, PROBLEMS, Log
from tests.spark_jobs.scenarios import SCENARIOS

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def logs(spark_logs) -> dict[str, Log]:
    return {name: Log(path) for name, path in spark_logs.items()}


def join_stage(log: Log):
    """The stage of >= 4 tasks with the largest shuffle read."""
    return max((s for s in log.stage_stats().values() if len(s.ok) >= 4), key=lambda s: s.total("shuffle_read_bytes"))


# ------------------------------------------------------------------------------------ every log
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_is_one_finished_plain_log_of_its_own_application(spark_logs, logs, name):
    path, log = spark_logs[name], logs[name]
    assert path.is_file() and not path.name.endswith(".inprogress") and path.name.startswith("local-")
    assert log.events[0]["Event"] == "SparkListenerLogStart"
    assert log.spark_version == importlib.metadata.version("pyspark")
    assert log.app_name == f"ember-scenario-{name}"
    assert log.events[-1]["Event"] == "SparkListenerApplicationEnd"
    assert log.job_results and set(log.job_results.values()) == {"JobSucceeded"}
    assert log.app_id == path.name
    assert len({other.app_id for other in logs.values()}) == len(logs)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_application_ran_with_its_own_settings_only(logs, name):
    """JVM sharing must not leak one application's settings into the next one's."""
    sc, props = SCENARIOS[name], logs[name].properties
    assert props["spark.master"] == sc.master
    for key, value in sc.conf.items():
        assert props.get(key) == value, key
    for key in ("spark.sql.adaptive.enabled", "spark.sql.autoBroadcastJoinThreshold", "spark.memory.fraction",
                "spark.hadoop.fs.file.impl"):
        if key not in sc.conf:
            assert key not in props, f"{key}={props[key]} leaked into {name}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_log_shows_exactly_its_problem(logs, name):
    """The simple rules of evidence.PROBLEMS find the scenario's diagnoses and nothing else."""
    expected = set(SCENARIOS[name].diagnoses)
    assert expected <= set(PROBLEMS), "every expected diagnosis has a rule"
    assert logs[name].problems() == expected, logs[name].summary()


# ------------------------------------------------------------------------- the problems, closely
def test_skewed_join(logs):
    log = logs["skewed_join"]
    stage = join_stage(log)
    assert len(stage.ok) == 16
    assert stage.ratio("shuffle_read_records") > 20
    assert stage.ratio("shuffle_read_bytes") > 10
    assert stage.ratio("duration_ms") > 5  # ~10 measured: the heavy task takes seconds
    assert stage.argmax("shuffle_read_bytes") is stage.argmax("duration_ms")
    [[fact_side, dim_side]] = log.sort_merge_join_sides()
    assert min(fact_side, dim_side) > 10 * MB, "the dimension side must not be broadcastable"
    assert log.properties["spark.sql.adaptive.enabled"] == "false"
    assert log.spill_bytes == (0, 0)


def test_spilling_aggregation(logs):
    log = logs["spilling_aggregation"]
    memory, disk = log.spill_bytes
    assert memory > 50 * MB and disk > 5 * MB
    spilling = [s for s in log.stage_stats().values() if s.total("memory_spilled")]
    assert len(spilling) == 2, "the partial (map) and the final (reduce) aggregation both spill"
    assert all(t.memory_spilled > 0 for s in spilling for t in s.ok)


def test_small_files_read(logs):
    files, size = logs["small_files_read"].files_read
    assert files == 2000
    assert size / files < 4096
    scan = max(logs["small_files_read"].stage_stats().values(), key=lambda s: len(s.ok))
    assert len(scan.ok) > 50 and scan.total("input_records") == 200_000


def test_small_files_write(logs):
    log = logs["small_files_write"]
    files, size = log.files_written
    assert files == 2000 and size / files < 4096
    assert log.sql_metric("Execute InsertIntoHadoopFsRelationCommand", "number of dynamic part") == [1000]
    assert sum(t.output_records for t in log.tasks) == 200_000


def test_shuffle_chain(logs):
    log = logs["shuffle_chain"]
    assert max(log.shuffle_stages_per_execution().values()) == 4
    files, size = log.files_read
    assert files == 2 and log.shuffle_write_bytes > 5 * size
    for s in log.stage_stats().values():
        if len(s.ok) >= 4:  # AQE coalesces the later exchanges into ~3 uneven partitions
            assert s.ratio("shuffle_read_records") < 1.5


def test_task_failures(logs):
    log = logs["task_failures"]
    failed = log.failed_tasks
    assert sorted(t.index for t in failed) == [1, 4, 6]
    assert all(t.reason == "ExceptionFailure" and t.failed and t.attempt == 0 for t in failed)
    assert all("injected failure" in t.error for t in failed)
    retried = {(t.stage, t.index) for t in log.tasks if t.reason == "Success" and t.attempt == 1}
    assert {(t.stage, t.index) for t in failed} == retried
    assert log.properties["spark.master"] == "local[2,4]"
    assert not log.python_evals()


def test_tiny_tasks(logs):
    log = logs["tiny_tasks"]
    stage = max(log.stage_stats().values(), key=lambda s: len(s.ok))
    assert len(stage.ok) == 3000
    assert stage.median("run_ms") < 20
    assert stage.median("shuffle_read_records") == pytest.approx(100, abs=10)
    assert stage.ratio("shuffle_read_records") < 2


def test_python_udf(logs):
    log = logs["python_udf"]
    [udf] = log.python_evals()
    assert udf.name == "BatchEvalPython"
    assert log.metric(udf, "number of output rows") == 1_000_000
    stage = max(log.stage_stats().values(), key=lambda s: s.total("run_ms"))
    assert log.metric(udf, "time to run Python workers") > 0.5 * stage.total("run_ms")


def test_broadcastable_smj(logs):
    log = logs["broadcastable_smj"]
    [[fact_side, dim_side]] = log.sort_merge_join_sides()
    assert dim_side < 64 * 1024 and fact_side > 10 * MB
    assert log.properties["spark.sql.autoBroadcastJoinThreshold"] == "-1"
    assert not any(n.name == "BroadcastHashJoin" for n in log.nodes())


@pytest.mark.parametrize("name", ["healthy", "healthy_with_warmup"])
def test_healthy_logs_show_no_problem(logs, name):
    log = logs[name]
    assert not log.failed_tasks and log.spill_bytes == (0, 0)
    assert not log.python_evals() and not log.sort_merge_join_sides()
    for s in log.stage_stats().values():
        assert len(s.ok) <= 100
        if len(s.ok) >= 4:
            assert s.ratio("shuffle_read_records") < 1.5 and s.ratio("input_records") < 1.5
    assert log.properties.get("spark.sql.adaptive.enabled") == "true"


def test_healthy_reads_few_large_files_and_shuffles_less_than_it_reads(logs):
    log = logs["healthy"]
    files, size = log.files_read
    assert files == 8 and size / files > 1 * MB  # 4 files, read by each of the 2 queries
    assert log.shuffle_write_bytes < size / 10
    assert any(n.name == "BroadcastHashJoin" for n in log.nodes(final=True))


def test_healthy_with_warmup_is_the_false_skew_trap(logs):
    """Slow first tasks with the very same records: duration alone would call it skew."""
    first = logs["healthy_with_warmup"].stage_stats()[(0, 0)]
    assert len(first.ok) == 16
    assert first.ratio("input_records") == 1.0 and first.ratio("shuffle_write_records") < 1.01
    assert first.ratio("duration_ms") > 3
    slowest = sorted(first.ok, key=lambda t: -t.duration_ms)[:2]
    assert {t.index for t in slowest} <= {0, 1, 2, 3}, "the slow ones are the first tasks launched"
