"""One task's execution memory, handed out to named consumers that can spill (Spark's
``TaskMemoryManager`` and ``MemoryConsumer``).

A buffering operator is a ``MemoryConsumer``: it asks for memory before it buffers more rows.
When the executor's pool refuses, the task manager first asks the task's *other* consumers to
spill (the one holding the least memory that still covers the need, else the biggest first),
then the requesting consumer itself. Whatever is granted after that is all there is: the operator
must spill what it holds or fail with ``SparkOutOfMemoryError``.

Consumers are context managers: leaving the ``with`` block releases everything they hold, so a
failing task cannot leak memory into the pool.
"""
from __future__ import annotations

import threading

from engine.memory.memory_manager import SparkOutOfMemoryError, UnifiedMemoryManager


class TaskMemoryManager:
    def __init__(self, memory_manager: UnifiedMemoryManager, task_attempt_id: int, on_peak=None):
        self.memory_manager = memory_manager
        self.task_attempt_id = task_attempt_id
        self.consumers: list[MemoryConsumer] = []
        self.peak_execution_memory = 0
        self._on_peak = on_peak
        self._lock = threading.RLock()

    @property
    def memory_used(self) -> int:
        return sum(c.used for c in self.consumers)

    def acquire_execution_memory(self, required: int, consumer: MemoryConsumer) -> int:
        """Up to ``required`` bytes for ``consumer``, spilling this task's consumers to make room."""
        with self._lock:
            got = self.memory_manager.acquire_execution_memory(required, self.task_attempt_id)
            for other in self._spill_candidates(required - got, consumer):
                if got >= required:
                    break
                if other.spill(required - got, consumer) > 0:
                    got += self.memory_manager.acquire_execution_memory(required - got, self.task_attempt_id)
            if got < required and consumer.used > 0 and consumer.spill(required - got, consumer) > 0:
                got += self.memory_manager.acquire_execution_memory(required - got, self.task_attempt_id)
            if consumer not in self.consumers:
                self.consumers.append(consumer)
            consumer.used += got
            self._note_peak()
            return got

    def release_execution_memory(self, size: int, consumer: MemoryConsumer) -> None:
        with self._lock:
            size = min(size, consumer.used)
            consumer.used -= size
            if size:
                self.memory_manager.release_execution_memory(size, self.task_attempt_id)

    def _spill_candidates(self, needed: int, requester: MemoryConsumer) -> list[MemoryConsumer]:
        others = sorted((c for c in self.consumers if c is not requester and c.used > 0), key=lambda c: c.used)
        enough = [c for c in others if c.used >= needed]
        return enough[:1] + list(reversed([c for c in others if c not in enough[:1]]))

    def _note_peak(self) -> None:
        used = self.memory_used
        if used > self.peak_execution_memory:
            self.peak_execution_memory = used
            if self._on_peak is not None:
                self._on_peak(used)


class MemoryConsumer:
    """A named holder of execution memory (an operator's buffer) that may be asked to spill.

    Subclasses override ``spill``: write what they hold to disk, release the memory, and return
    how many bytes they released. The default cannot spill and releases nothing.
    """

    def __init__(self, task_memory_manager: TaskMemoryManager, name: str):
        self.task_memory_manager = task_memory_manager
        self.name = name
        self.used = 0
        self.peak = 0

    def acquire_memory(self, size: int) -> int:
        granted = self.task_memory_manager.acquire_execution_memory(size, self)
        self.peak = max(self.peak, self.used)
        return granted

    def reserve(self, size: int) -> None:
        """Acquire exactly ``size`` bytes (after spilling), or raise ``SparkOutOfMemoryError``."""
        granted = self.acquire_memory(size)
        if granted < size:
            self.free_memory(granted)
            raise SparkOutOfMemoryError(
                f"[UNABLE_TO_ACQUIRE_MEMORY] {self.name} of task {self.task_memory_manager.task_attempt_id} "
                f"is unable to acquire {size} bytes of memory, got {granted}: raise spark.driver.memory "
                f"(spark.executor.memory on executors) or spark.memory.fraction, or use more partitions"
            )

    def free_memory(self, size: int) -> None:
        self.task_memory_manager.release_execution_memory(size, self)

    def spill(self, size: int, trigger: MemoryConsumer) -> int:
        return 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.free_memory(self.used)

    def __repr__(self) -> str:
        return f"{self.name}(used={self.used})"
