"""The pieces that keep a job's memory near its execution memory: the shuffle write buffer spills
partition-sorted segments, the partial aggregate flushes slices its hash map has memory for, an
in-memory merge reserves its working memory or spills instead, and the native-allocator setting
checks its input and, by default, keeps freed Arrow memory for the next task."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from engine.memory import TaskMemoryManager, UnifiedMemoryManager
from engine.memory import native
from engine.scheduler.events import ShuffleReadMetrics, ShuffleWriteMetrics
from engine.shuffle.manager import FetchFailedException, ShuffleManager
from engine.sql import functions as F

MiB = 1024 * 1024


def _sorter(tmp_path, manager: ShuffleManager, shuffle_id: int, num_partitions: int, memory: int, spills: list):
    task_memory = TaskMemoryManager(UnifiedMemoryManager(memory, 0), task_attempt_id=1)
    paths = iter(str(tmp_path / f"spill_{i}") for i in range(1000))
    return manager.new_sorter(shuffle_id, num_partitions, task_memory, lambda: next(paths),
                              lambda memory_bytes, disk_bytes: spills.append((memory_bytes, disk_bytes)))


def test_shuffle_write_buffer_spills_and_the_map_output_keeps_every_row_in_order(tmp_path):
    manager = ShuffleManager(str(tmp_path / "shuffle"))
    schema = pa.schema([("id", pa.int64()), ("x", pa.float64())])
    shuffle_id = manager.register_shuffle(1, schema)
    rng = np.random.default_rng(3)
    ids = np.arange(200_000)
    partition_ids = rng.integers(0, 5, len(ids)).astype(np.int32)
    spills: list = []
    with _sorter(tmp_path, manager, shuffle_id, 5, 1 * MiB, spills) as sorter:
        for start in range(0, len(ids), 20_000):  # 320 KB a batch: a few fit in 1 MiB, then it spills
            batch = pa.table({"id": ids[start:start + 20_000], "x": ids[start:start + 20_000] * 0.5})
            sorter.insert(batch, partition_ids[start:start + 20_000])
        metrics = ShuffleWriteMetrics()
        status = manager.write(shuffle_id, 0, 0, sorter, metrics)
        spill_files = [path for path, _ in sorter.spills]
        assert sorter.used <= 1 * MiB
    manager.register_map_output(shuffle_id, status)

    assert len(spills) >= 3 and all(memory > 0 and disk > 0 for memory, disk in spills)
    assert not any(os.path.exists(p) for p in spill_files)  # the spills go with the sorter
    assert metrics.records_written == len(ids) == sum(status.block_records)
    for partition in range(5):
        read = ShuffleReadMetrics()
        table = manager.read(shuffle_id, partition, read)
        expected = ids[partition_ids == partition]
        assert table.column("id").to_numpy().tolist() == expected.tolist()  # map order kept within a partition
        assert table.column("x").to_numpy().tolist() == (expected * 0.5).tolist()
        assert read.records_read == len(expected)


def test_many_buffered_batches_become_one_before_partitions_are_taken(tmp_path):
    """Batches inserted one by one (a sort inserts hundreds per map task) are combined once when the
    first partition is written, and every partition still gets its rows in map order; a partition
    with no rows writes nothing."""
    manager = ShuffleManager(str(tmp_path / "shuffle"))
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    shuffle_id = manager.register_shuffle(1, schema)
    rng = np.random.default_rng(5)
    ids = np.arange(30_000)
    partition_ids = rng.choice(np.array([0, 1, 3], np.int32), len(ids))   # partition 2 stays empty
    with _sorter(tmp_path, manager, shuffle_id, 4, 64 * MiB, []) as sorter:
        for start in range(0, len(ids), 1_000):
            part = ids[start:start + 1_000]
            sorter.insert(pa.table({"id": part, "name": [f"n{i}" for i in part]}), partition_ids[start:start + 1_000])
        assert len(sorter.buffered) == 30 and not sorter.spills
        status = manager.write(shuffle_id, 0, 0, sorter, ShuffleWriteMetrics())
        assert len(sorter.buffered) == 1 and sorter.buffered[0][0].column("id").num_chunks == 1
    manager.register_map_output(shuffle_id, status)
    assert status.block_records[2] == 0 and status.block_sizes[2] == 0
    for partition in (0, 1, 3):
        table = manager.read(shuffle_id, partition, ShuffleReadMetrics())
        expected = ids[partition_ids == partition]
        assert table.column("id").to_numpy().tolist() == expected.tolist()
        assert table.column("name").to_pylist() == [f"n{i}" for i in expected]


def test_one_buffered_table_of_several_chunks_is_combined_too(tmp_path):
    manager = ShuffleManager(str(tmp_path / "shuffle"))
    shuffle_id = manager.register_shuffle(1, pa.schema([("id", pa.int64())]))
    chunked = pa.Table.from_batches([pa.record_batch({"id": np.arange(s, s + 100)}) for s in range(0, 300, 100)])
    with _sorter(tmp_path, manager, shuffle_id, 2, 64 * MiB, []) as sorter:
        sorter.insert(chunked, (np.arange(300) % 2).astype(np.int32))
        status = manager.write(shuffle_id, 0, 0, sorter, ShuffleWriteMetrics())
        assert sorter.buffered[0][0].column("id").num_chunks == 1
    manager.register_map_output(shuffle_id, status)
    assert manager.read(shuffle_id, 1, ShuffleReadMetrics()).column("id").to_pylist() == list(range(1, 300, 2))


def test_a_spilled_map_output_still_has_checksums_that_catch_a_flipped_byte(tmp_path):
    manager = ShuffleManager(str(tmp_path / "shuffle"))
    schema = pa.schema([("id", pa.int64())])
    shuffle_id = manager.register_shuffle(1, schema)
    with _sorter(tmp_path, manager, shuffle_id, 2, 256 * 1024, []) as sorter:
        for start in range(0, 100_000, 10_000):
            sorter.insert(pa.table({"id": np.arange(start, start + 10_000)}), np.arange(10_000, dtype=np.int32) % 2)
        assert sorter.spills
        status = manager.write(shuffle_id, 0, 0, sorter, ShuffleWriteMetrics())
    manager.register_map_output(shuffle_id, status)
    with open(status.data_path, "r+b") as f:
        f.seek(status.block_sizes[0] + 200)  # inside partition 1's block
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert manager.read(shuffle_id, 0, ShuffleReadMetrics()).num_rows == 50_000
    with pytest.raises(FetchFailedException, match="checksum"):
        manager.read(shuffle_id, 1, ShuffleReadMetrics())


def _unified_memory(spark, conf, size: int):
    """``size`` bytes of unified memory, none of it reserved for storage; then the old manager."""
    env = spark.env
    saved = env.memory_manager
    env.memory_manager = UnifiedMemoryManager(size, 0)
    env.block_manager.bind_memory_manager(env.memory_manager)
    conf("spark.sql.adaptive.enabled", "false")
    yield env.memory_manager
    assert env.memory_manager.execution_memory_used() == 0
    env.memory_manager = saved
    env.block_manager.bind_memory_manager(saved)


@pytest.fixture
def small_memory(spark, conf):
    yield from _unified_memory(spark, conf, 8 * MiB)


@pytest.fixture
def ample_memory(spark, conf):
    """Room for any hash map here, whatever the session's other tests left in its memory."""
    yield from _unified_memory(spark, conf, 512 * MiB)


def _partial_aggregate_rows(spark, rows: int, groups: int):
    df = spark.range(0, rows, numPartitions=2).groupBy((F.col("id") % groups).alias("g")).agg(F.sum("id").alias("s"))
    result = sorted(tuple(r) for r in df.collect())
    partial = [n for n in df._qe.executed_plan.walk() if getattr(n, "mode", None) == "partial"][0]
    return result, partial.metrics["numOutputRows"].value


def test_partial_aggregate_flushes_slices_when_its_hash_map_is_refused_memory(spark, conf, small_memory):
    rows, groups = 1_000_000, 1000  # 500,000 rows a map task: 40 MB of hash map, 4 MiB a task
    result, partial_rows = _partial_aggregate_rows(spark, rows, groups)
    ids = np.arange(rows)
    assert result == [(g, int(ids[ids % groups == g].sum())) for g in range(groups)]
    # each slice flushes its own states: more than one row per group and map task, far fewer than rows
    assert 2 * groups < partial_rows < rows // 10


def test_partial_aggregate_takes_its_whole_input_when_memory_allows(spark, ample_memory):
    _, partial_rows = _partial_aggregate_rows(spark, 1_000_000, 1000)
    assert partial_rows == 2 * 1000  # one hash map per map task


def test_sort_reserves_working_memory_or_spills_instead(spark, conf, small_memory):
    # 3.2 MB of rows fit in the 8 MiB the only task may take, but not with the sort's 2x working memory
    table = pa.table({"k": np.random.default_rng(5).permutation(200_000), "v": np.arange(200_000)})
    df = spark.createDataFrame(table).repartition(1).sortWithinPartitions("k")
    assert [r[0] for r in df.collect()] == list(range(200_000))
    sort = [n for n in df._qe.executed_plan.walk() if n.node_name == "Sort"][0]
    assert sort.metrics["spillSize"].value > 0
    assert sort.metrics["peakMemory"].value <= 8 * MiB


def test_sort_in_memory_reserves_its_scratch_and_one_column_not_a_second_copy(spark, conf, small_memory):
    # 3.2 MB of rows: with the radix scratch (24 bytes a row) and one gathered column it needs
    # 6.4 MB of the 8 MiB, so it sorts in memory (twice its rows as working memory would spill)
    rng = np.random.default_rng(6)
    table = pa.table({"k": rng.permutation(100_000), "a": np.arange(100_000), "b": np.arange(100_000) * 2,
                      "c": rng.random(100_000)})
    df = spark.createDataFrame(table).repartition(1).sortWithinPartitions("k")
    rows = df.collect()
    assert [r[0] for r in rows] == list(range(100_000))
    assert [r[1] * 2 for r in rows] == [r[2] for r in rows]
    sort = [n for n in df._qe.executed_plan.walk() if n.node_name == "Sort"][0]
    assert sort.metrics["spillSize"].value == 0
    assert 3_200_000 < sort.metrics["peakMemory"].value <= 8 * MiB


class _Conf(dict):
    def get(self, key, default=None):
        return super().get(key, default)


def test_return_freed_memory_is_off_by_default_and_checks_its_value():
    assert native.configure_native_memory(_Conf()) is False
    assert native.configure_native_memory(_Conf({native.RETURN_FREED_MEMORY: "false"})) is False
    with pytest.raises(ValueError, match="must be true or false, got 'yes'"):
        native.configure_native_memory(_Conf({native.RETURN_FREED_MEMORY: "yes"}))


def test_return_freed_memory_says_how_to_start_a_process_on_the_system_allocator(monkeypatch):
    monkeypatch.setattr(native.pa, "default_memory_pool", pa.mimalloc_memory_pool)
    with pytest.raises(ValueError, match="ARROW_DEFAULT_MEMORY_POOL=system"):
        native.configure_native_memory(_Conf({native.RETURN_FREED_MEMORY: "true"}))


REUSE = textwrap.dedent("""
    import json, resource, threading, time
    import numpy as np, pyarrow as pa
    from engine.memory import native

    class Conf(dict):
        def get(self, key, default=None):
            return super().get(key, default)

    native.configure_native_memory(Conf({native.RETURN_FREED_MEMORY: sys.argv[1]}))
    faults = []
    def task():  # allocates, frees, waits past Arrow's 1 s decay, allocates again
        for _ in range(2):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            buffer = pa.allocate_buffer(64 << 20)
            np.frombuffer(buffer, np.uint8)[:] = 1
            del buffer
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
            time.sleep(1.5)
    thread = threading.Thread(target=task)
    thread.start()
    thread.join()
    task()  # the driver's thread, which configured the pool
    print(json.dumps({"backend": pa.default_memory_pool().backend_name, "faults": faults}))
""")


def _reuse(return_freed: str, pool: str | None) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    environment = {k: v for k, v in os.environ.items() if k != native.ARROW_POOL_ENV}
    if pool:
        environment[native.ARROW_POOL_ENV] = pool
    done = subprocess.run([sys.executable, "-c", "import sys\n" + REUSE, return_freed], cwd=root,
                          capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_by_default_a_task_reuses_the_pages_an_earlier_task_freed():
    kept = _reuse("false", None)
    assert kept["backend"] == "jemalloc"
    first, again, driver_first, driver_again = kept["faults"]
    assert again < first // 20  # the second buffer finds the first one's pages still mapped
    assert driver_again < first // 20  # as does the driver's thread
    returned = _reuse("true", "system")  # the opposite setting gives them back
    assert returned["backend"] == "system"
    assert min(returned["faults"][1:]) > returned["faults"][0] // 2


def test_a_process_that_chose_its_arrow_pool_keeps_it():
    assert _reuse("false", "mimalloc")["backend"] == "mimalloc"


def test_large_working_arrays_come_from_arrow_s_pool_and_go_back_to_it():
    before = pa.total_allocated_bytes()
    hashes = native.empty(1 << 20, np.uint64)
    slots = native.full((1 << 16, 2), 7, np.int64)
    seen = native.zeros(native.POOLED_MIN_BYTES, np.bool_)
    assert pa.total_allocated_bytes() - before >= (8 << 20) + (1 << 20) + native.POOLED_MIN_BYTES
    assert hashes.flags.writeable and hashes.flags.c_contiguous and hashes.shape == (1 << 20,)
    assert slots.shape == (1 << 16, 2) and (slots == 7).all() and not seen.any()
    small = native.zeros(100, np.int64)  # below the threshold: NumPy's own, no pool bytes
    assert pa.total_allocated_bytes() - before < (8 << 20) + (1 << 20) + native.POOLED_MIN_BYTES + 1024
    assert not small.any()
    del hashes, slots, seen
    assert pa.total_allocated_bytes() == before
