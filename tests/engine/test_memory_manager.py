"""The unified memory manager, task memory managers and consumers, without running a job."""
from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from engine.memory import MemoryConsumer, SparkOutOfMemoryError, TaskMemoryManager, UnifiedMemoryManager
from engine.memory.memory_manager import max_unified_memory
from engine.sql.conf import RuntimeConfig
from engine.storage import BlockManager, StorageLevel

MiB = 1024 * 1024


def conf(**values) -> RuntimeConfig:
    return RuntimeConfig({k.replace("_", "."): v for k, v in values.items()})


def test_unified_memory_is_what_remains_after_reserved_times_the_fraction():
    assert max_unified_memory(RuntimeConfig({})) == int((1024 - 300) * MiB * 0.6)  # spark.driver.memory 1g
    assert max_unified_memory(RuntimeConfig({"spark.driver.memory": "2g", "spark.memory.fraction": "0.5"})) == \
        int((2048 - 300) * MiB * 0.5)
    assert max_unified_memory(RuntimeConfig({"spark.driver.memory": "512"})) == int((512 - 300) * MiB * 0.6)
    assert max_unified_memory(RuntimeConfig({"spark.executor.memory": "800m"}), executor_is_driver=False) == \
        int(500 * MiB * 0.6)


def test_small_executor_is_refused_unless_the_reserved_memory_is_overridden():
    with pytest.raises(ValueError, match="System memory 209715200 must be at least 471859200.*spark.driver.memory"):
        max_unified_memory(RuntimeConfig({"spark.driver.memory": "200m"}))
    tiny = RuntimeConfig({"spark.driver.memory": "100m", "spark.testing.reservedMemory": "0"})
    assert max_unified_memory(tiny) == int(100 * MiB * 0.6)


def test_regions_follow_the_storage_fraction():
    mm = UnifiedMemoryManager.from_conf(RuntimeConfig({"spark.testing.memory": "1000", "spark.testing.reservedMemory": "0",
                                                       "spark.memory.storageFraction": "0.25"}))
    assert mm.max_memory == 600
    assert mm.storage_region_size == 150
    assert mm.execution_pool.pool_size == 450


def test_execution_borrows_all_idle_storage_memory():
    mm = UnifiedMemoryManager(1000, 500)
    assert mm.acquire_execution_memory(900, task_id=1) == 900
    assert mm.execution_pool.pool_size == 900
    assert mm.acquire_execution_memory(200, task_id=1) == 100


def test_storage_borrows_idle_execution_memory_and_is_refused_what_execution_uses():
    mm = UnifiedMemoryManager(1000, 500)
    assert mm.acquire_storage_memory("rdd_1_0", 800)
    assert mm.storage_pool.pool_size == 800
    mm.release_storage_memory(800)
    assert mm.acquire_execution_memory(700, task_id=1) == 700
    assert not mm.acquire_storage_memory("rdd_1_1", 400)


def _block(nbytes: int) -> pa.Table:
    return pa.table({"x": pa.array(bytes(nbytes), pa.uint8())})


def test_execution_evicts_cached_blocks_down_to_the_storage_region(tmp_path):
    mm = UnifiedMemoryManager(10_000, 5_000)
    bm = BlockManager(str(tmp_path))
    bm.bind_memory_manager(mm)
    for i in range(8):
        bm.put(f"rdd_1_{i}", _block(1_000), StorageLevel.MEMORY_ONLY)
    assert mm.storage_memory_used == 8_000
    got = mm.acquire_execution_memory(10_000, task_id=1)
    assert got == 5_000  # execution may take storage memory back, never below the storage region
    assert mm.storage_memory_used == 5_000
    assert [bm.contains(f"rdd_1_{i}") for i in range(8)] == [False] * 3 + [True] * 5  # least recently used first


def test_fairness_one_task_alone_takes_the_pool_two_tasks_share_it():
    mm = UnifiedMemoryManager(1000, 0)
    assert mm.acquire_execution_memory(1000, task_id=1) == 1000
    mm.release_execution_memory(1000, task_id=1)
    assert mm.acquire_execution_memory(300, task_id=1) == 300
    assert mm.acquire_execution_memory(900, task_id=2) == 500  # at most 1/N of the pool
    assert mm.acquire_execution_memory(900, task_id=1) == 200  # only what is free


def test_a_task_below_its_minimum_share_waits_until_another_releases():
    mm = UnifiedMemoryManager(1000, 0)
    mm.acquire_execution_memory(1000, task_id=1)
    granted = []
    waiter = threading.Thread(target=lambda: granted.append(mm.acquire_execution_memory(400, task_id=2)))
    waiter.start()
    time.sleep(0.2)
    assert granted == []  # task 2 has nothing and less than 1/2N is free: it waits
    mm.release_execution_memory(600, task_id=1)
    waiter.join(5)
    assert granted == [400]


def test_a_task_at_its_minimum_share_is_refused_instead_of_waiting():
    mm = UnifiedMemoryManager(1000, 0)
    mm.acquire_execution_memory(700, task_id=1)
    assert mm.acquire_execution_memory(250, task_id=2) == 250
    assert mm.acquire_execution_memory(100, task_id=2) == 50  # free memory only; 300 >= 1/2N, so no wait


class _Buffer(MemoryConsumer):
    """A consumer that spills everything it holds when asked."""

    def __init__(self, tmm, name):
        super().__init__(tmm, name)
        self.spills = 0

    def spill(self, size, trigger):
        released = self.used
        self.free_memory(released)
        self.spills += 1
        return released


def test_a_refused_consumer_makes_the_other_consumers_of_its_task_spill_first():
    mm = UnifiedMemoryManager(1000, 0)
    tmm = TaskMemoryManager(mm, 7)
    with _Buffer(tmm, "Sort") as sort, _Buffer(tmm, "HashAggregate") as agg:
        assert sort.acquire_memory(800) == 800
        assert agg.acquire_memory(600) == 600
        assert (sort.spills, agg.spills) == (1, 0)
        assert (sort.used, agg.used) == (0, 600)
        assert tmm.peak_execution_memory == 800
    assert mm.execution_memory_used() == 0  # leaving the blocks released everything


def test_a_consumer_refused_after_spilling_itself_raises_with_what_it_got():
    mm = UnifiedMemoryManager(1000, 0)
    tmm = TaskMemoryManager(mm, 7)
    with _Buffer(tmm, "Sort") as sort:
        sort.reserve(700)
        with pytest.raises(SparkOutOfMemoryError, match="Sort of task 7 is unable to acquire 2000 bytes of memory, got 1000"):
            sort.reserve(2000)
        assert sort.spills == 1
        assert sort.used == 0
