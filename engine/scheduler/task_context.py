"""What a running task knows about itself (Spark's ``TaskContext``) and the services it may use."""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.execution.metrics import SQLMetric
from engine.scheduler.events import TaskMetrics


@dataclass
class TaskContext:
    stage_id: int
    stage_attempt_id: int
    partition_id: int
    attempt_number: int
    task_attempt_id: int
    env: object  # engine.scheduler.env.SparkEnv
    metrics: TaskMetrics = field(default_factory=TaskMetrics)
    sql_metric_updates: dict[int, tuple[SQLMetric, int]] = field(default_factory=dict)

    def add(self, sql_metric: SQLMetric, value: int) -> None:
        """Record an update of an operator's SQL metric by this task."""
        if not value:
            return
        sql_metric.merge(value)
        previous = self.sql_metric_updates.get(sql_metric.accumulator_id)
        total = value + (previous[1] if previous else 0)
        self.sql_metric_updates[sql_metric.accumulator_id] = (sql_metric, total)

    def observe_memory(self, nbytes: int) -> None:
        """An operator held ``nbytes`` of execution memory: keep the peak."""
        if nbytes > self.metrics.peak_execution_memory:
            self.metrics.peak_execution_memory = nbytes
