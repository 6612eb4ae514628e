"""SQL metrics: named accumulators on physical operators, updated by tasks (Spark's ``SQLMetric``).

Each metric has an accumulator id unique within the application. A task records its updates in
its ``TaskContext``; the scheduler reports them in the task's and stage's "Accumulables" of the
event log, where the SQL tab of a UI joins them to the plan by id.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

_accumulator_ids = itertools.count(1)


def new_accumulator_id() -> int:
    return next(_accumulator_ids)


@dataclass(eq=False)
class SQLMetric:
    """One metric of one operator; ``metric_type`` is Spark's: sum, size, timing, nsTiming, average."""

    name: str
    metric_type: str = "sum"
    accumulator_id: int = field(default_factory=new_accumulator_id)
    value: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def merge(self, update: int) -> None:
        with self._lock:
            self.value += update


def metric(name: str, metric_type: str = "sum") -> SQLMetric:
    return SQLMetric(name, metric_type)
