"""What a running task knows about itself (Spark's ``TaskContext``) and the services it may use."""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.execution.metrics import SQLMetric
from engine.memory.task_memory_manager import TaskMemoryManager
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
    _task_memory_manager: TaskMemoryManager | None = field(default=None, repr=False)

    @property
    def task_memory_manager(self) -> TaskMemoryManager:
        """This task's share of the executor's execution memory, made on first use; its peak is
        the task's "Peak Execution Memory"."""
        if self._task_memory_manager is None:
            self._task_memory_manager = TaskMemoryManager(self.env.memory_manager, self.task_attempt_id,
                                                          on_peak=self.observe_memory)
        return self._task_memory_manager

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
