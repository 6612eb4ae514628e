"""Spark's unified memory model for one executor (``UnifiedMemoryManager`` and its two pools).

The executor's memory is split as Spark splits a JVM heap::

    system memory (spark.driver.memory in local mode, spark.executor.memory on an executor)
    - reserved memory (300 MiB; spark.testing.reservedMemory overrides it)
    = usable memory:  * spark.memory.fraction (0.6)  -> unified memory (execution + storage)
                      the rest                       -> user memory (Python objects, not managed)
    unified memory:   * spark.memory.storageFraction (0.5) -> storage region, safe from eviction

Execution and storage share the unified memory with a soft boundary. Storage may borrow
execution memory that no task is using; execution takes it back by evicting cached blocks, but
never below the storage region. Storage never evicts execution memory: it is refused instead.

Execution memory is shared fairly between the N tasks running on the executor: a task may hold
at most 1/N of the pool, and is guaranteed 1/2N before it must spill, so a task asking for less
than 1/2N waits until other tasks release memory (Spark's ``ExecutionMemoryPool``).
"""
from __future__ import annotations

import math
import re
import threading
from typing import Protocol

from engine.sql.conf import parse_bytes

RESERVED_SYSTEM_MEMORY_BYTES = 300 * 1024 * 1024
DEFAULT_MEMORY_FRACTION = 0.6
DEFAULT_STORAGE_FRACTION = 0.5
DEFAULT_EXECUTOR_MEMORY = "1g"


class SparkOutOfMemoryError(MemoryError):
    """A task could not get the execution memory it needs even after spilling (Spark's name)."""


class MemoryStore(Protocol):
    """What the storage pool needs of the block manager: evicting blocks to make room."""

    def evict_blocks_to_free_space(self, block_id: str | None, space: int) -> int: ...


def _memory_setting(value: str) -> int:
    """Spark's memory settings read a bare number as MiB (``spark.driver.memory=512``)."""
    text = str(value).strip()
    return int(text) * 1024 * 1024 if re.fullmatch(r"\d+", text) else parse_bytes(text)


def max_unified_memory(conf, executor_is_driver: bool = True) -> int:
    """Spark's ``UnifiedMemoryManager.getMaxMemory``: (system - reserved) * spark.memory.fraction.

    Raises ``ValueError`` when the executor is smaller than 1.5 times the reserved memory, as
    Spark refuses to start such an executor.
    """
    memory_key = "spark.driver.memory" if executor_is_driver else "spark.executor.memory"
    testing = conf.get("spark.testing.memory", None)  # bytes, as Spark's test suites set it
    system = parse_bytes(testing) if testing is not None else _memory_setting(conf.get(memory_key, DEFAULT_EXECUTOR_MEMORY))
    reserved = parse_bytes(conf.get("spark.testing.reservedMemory", RESERVED_SYSTEM_MEMORY_BYTES))
    minimum = math.ceil(reserved * 1.5)
    if system < minimum:
        raise ValueError(
            f"System memory {system} must be at least {minimum}. Please increase heap size using "
            f"the --driver-memory option or {memory_key} in Spark configuration."
        )
    fraction = float(conf.get("spark.memory.fraction", DEFAULT_MEMORY_FRACTION))
    if not 0 < fraction <= 1:
        raise ValueError(f"spark.memory.fraction must be in (0, 1], got {fraction}")
    return int((system - reserved) * fraction)


class ExecutionMemoryPool:
    """Execution memory shared by the running tasks, each between 1/2N and 1/N of the pool."""

    def __init__(self, lock: threading.Condition):
        self._lock = lock
        self.pool_size = 0
        self.memory_for_task: dict[int, int] = {}

    @property
    def memory_used(self) -> int:
        return sum(self.memory_for_task.values())

    @property
    def memory_free(self) -> int:
        return self.pool_size - self.memory_used

    def acquire(self, num_bytes: int, task_id: int, grow_pool, max_pool_size) -> int:
        """Grant up to ``num_bytes`` to ``task_id``; wait while the task holds less than 1/2N."""
        if task_id not in self.memory_for_task:
            self.memory_for_task[task_id] = 0
            self._lock.notify_all()  # the others' shares just shrank
        while True:
            active = len(self.memory_for_task)
            held = self.memory_for_task[task_id]
            grow_pool(num_bytes - self.memory_free)
            max_per_task = max_pool_size() // active
            min_per_task = self.pool_size // (2 * active)
            grant = min(num_bytes, max(0, max_per_task - held), self.memory_free)
            if grant < num_bytes and held + grant < min_per_task:
                self._lock.wait()
                continue
            self.memory_for_task[task_id] = held + grant
            return grant

    def release(self, num_bytes: int, task_id: int) -> None:
        held = self.memory_for_task.get(task_id, 0)
        if num_bytes > held:
            raise RuntimeError(f"task {task_id} released {num_bytes} bytes of execution memory but held {held}")
        if held == num_bytes:
            del self.memory_for_task[task_id]  # no longer active: the others' shares grow
        else:
            self.memory_for_task[task_id] = held - num_bytes
        self._lock.notify_all()


class StorageMemoryPool:
    """Memory holding cached blocks; evicts blocks (through the memory store) to make room."""

    def __init__(self):
        self.pool_size = 0
        self.memory_used = 0
        self.memory_store: MemoryStore | None = None

    @property
    def memory_free(self) -> int:
        return self.pool_size - self.memory_used

    def acquire(self, block_id: str, num_bytes: int) -> bool:
        shortfall = max(0, num_bytes - self.memory_free)
        if shortfall and self.memory_store is not None:
            self.memory_store.evict_blocks_to_free_space(block_id, shortfall)
        if num_bytes > self.memory_free:
            return False
        self.memory_used += num_bytes
        return True

    def release(self, num_bytes: int) -> None:
        self.memory_used = max(0, self.memory_used - num_bytes)

    def free_space_to_shrink_pool(self, space: int) -> int:
        """Free ``space`` bytes for execution: unused memory first, then by evicting blocks."""
        unused = min(space, self.memory_free)
        evicted = 0
        if space > unused and self.memory_store is not None:
            evicted = self.memory_store.evict_blocks_to_free_space(None, space - unused)
        return unused + evicted


class UnifiedMemoryManager:
    """One executor's execution and storage memory, borrowing from each other as Spark's do."""

    def __init__(self, max_memory: int, storage_region_size: int):
        self.max_memory = max_memory
        self.storage_region_size = storage_region_size
        self.lock = threading.Condition(threading.RLock())
        self.execution_pool = ExecutionMemoryPool(self.lock)
        self.storage_pool = StorageMemoryPool()
        self.storage_pool.pool_size = storage_region_size
        self.execution_pool.pool_size = max_memory - storage_region_size

    @classmethod
    def from_conf(cls, conf, executor_is_driver: bool = True) -> UnifiedMemoryManager:
        max_memory = max_unified_memory(conf, executor_is_driver)
        storage_fraction = float(conf.get("spark.memory.storageFraction", DEFAULT_STORAGE_FRACTION))
        if not 0 <= storage_fraction < 1:
            raise ValueError(f"spark.memory.storageFraction must be in [0, 1), got {storage_fraction}")
        return cls(max_memory, int(max_memory * storage_fraction))

    def set_memory_store(self, store: MemoryStore) -> None:
        self.storage_pool.memory_store = store

    @property
    def max_on_heap_storage_memory(self) -> int:
        """What storage could hold now: everything execution is not using ("Maximum Memory")."""
        with self.lock:
            return self.max_memory - self.execution_pool.memory_used

    # ---- execution ----
    def acquire_execution_memory(self, num_bytes: int, task_id: int) -> int:
        """Up to ``num_bytes`` for a task; may evict cached blocks down to the storage region."""
        with self.lock:
            return self.execution_pool.acquire(num_bytes, task_id, self._grow_execution_pool,
                                               self._max_execution_pool_size)

    def release_execution_memory(self, num_bytes: int, task_id: int) -> None:
        with self.lock:
            self.execution_pool.release(num_bytes, task_id)

    def execution_memory_used(self, task_id: int | None = None) -> int:
        with self.lock:
            pool = self.execution_pool
            return pool.memory_used if task_id is None else pool.memory_for_task.get(task_id, 0)

    def _grow_execution_pool(self, extra_needed: int) -> None:
        if extra_needed <= 0:
            return
        storage = self.storage_pool
        reclaimable = max(storage.memory_free, storage.pool_size - self.storage_region_size)
        if reclaimable > 0:
            reclaimed = storage.free_space_to_shrink_pool(min(extra_needed, reclaimable))
            storage.pool_size -= reclaimed
            self.execution_pool.pool_size += reclaimed

    def _max_execution_pool_size(self) -> int:
        return self.max_memory - min(self.storage_pool.memory_used, self.storage_region_size)

    # ---- storage ----
    def acquire_storage_memory(self, block_id: str, num_bytes: int) -> bool:
        """Room for a block; borrows idle execution memory, evicts other blocks, or refuses."""
        with self.lock:
            if num_bytes > self.max_memory - self.execution_pool.memory_used:
                return False
            if num_bytes > self.storage_pool.memory_free:
                borrowed = min(self.execution_pool.memory_free, num_bytes - self.storage_pool.memory_free)
                self.execution_pool.pool_size -= borrowed
                self.storage_pool.pool_size += borrowed
            return self.storage_pool.acquire(block_id, num_bytes)

    def release_storage_memory(self, num_bytes: int) -> None:
        with self.lock:
            self.storage_pool.release(num_bytes)

    @property
    def storage_memory_used(self) -> int:
        with self.lock:
            return self.storage_pool.memory_used
