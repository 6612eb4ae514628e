"""Sort-based shuffle on local disk (Spark's ``SortShuffleManager`` and ``MapOutputTracker``).

Each map task writes ONE data file holding its rows grouped by reduce partition — each group an
Arrow IPC stream, lz4-compressed as Spark compresses shuffle blocks — and an index file of
``num_reduce + 1`` little-endian int64 offsets. A reduce task reads its byte range from every map
output. Files live under ``spark.local.dir`` and go when the session stops.

A map task does not hold its output whole: its rows go batch by batch into a
``ShuffleExternalSorter``, a memory consumer that reserves execution memory for what it buffers
and spills partition-sorted segments to disk when refused; the data file is then streamed one
partition block at a time from those segments and the buffer. The reduce side reads block by
block (``read_blocks``) for the operators that buffer under a reservation.

Checksums (``spark.shuffle.checksum.enabled``, on by default as in Spark): beside each data file a
``.checksum.<ALGORITHM>`` file holds one big-endian int64 checksum per reduce partition (Spark's
layout; ADLER32 by default, or CRC32). A reader checks every block against it before decoding it:
a corrupted block raises ``FetchFailedException``, so the scheduler recomputes the map output
instead of reading damaged bytes as data.

Map outputs are located per executor: a ``MapStatus`` names the executor that wrote it, and an
executor's outputs are dropped when the executor is lost (``remove_outputs_on_executor``). Same
machine, so a reduce task fetches a block by its path. The driver's manager is the tracker
(Spark's ``MapOutputTrackerMaster``); an executor process's manager asks the driver for the map
statuses of a shuffle through ``map_output_tracker`` (``MapOutputTrackerWorker``).
"""
from __future__ import annotations

import logging
import os
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa

from engine.codegen.sorting import group_by_partition
from engine.memory import native
from engine.memory.spill import RUN_BATCH_ROWS
from engine.memory.task_memory_manager import MemoryConsumer, TaskMemoryManager
from engine.scheduler.events import ShuffleReadMetrics, ShuffleWriteMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MapStatus:
    """Where a map task's output is and how big each reduce partition's block is."""

    map_index: int
    data_path: str
    index_path: str
    block_sizes: tuple[int, ...]
    block_records: tuple[int, ...]
    executor_id: str = "driver"
    checksum_path: str | None = None  # None when checksums are off


class FetchFailedException(Exception):
    """A map output a reduce task needs is missing or unreadable; the map stage must run again."""

    def __init__(self, shuffle_id: int, map_index: int, reduce_id: int, message: str, executor_id: str | None = None):
        super().__init__(message)
        self.shuffle_id, self.map_index, self.reduce_id = shuffle_id, map_index, reduce_id
        self.executor_id = executor_id  # where the map output was


# Spark's spark.shuffle.checksum.algorithm values that Python's standard library computes.
CHECKSUM_ALGORITHMS: dict[str, Callable[[bytes], int]] = {"ADLER32": zlib.adler32, "CRC32": zlib.crc32}

MapOutputTracker = Callable[[int], tuple[pa.Schema, list[MapStatus | None]]]


class ShuffleManager:
    def __init__(self, local_dir: str, compression: str | None = "lz4", executor_id: str = "driver",
                 checksum_algorithm: str | None = "ADLER32", map_output_tracker: MapOutputTracker | None = None):
        """``checksum_algorithm`` None turns checksums off; ``map_output_tracker`` is set in an
        executor process: it returns a shuffle's schema and map statuses, asked of the driver."""
        if checksum_algorithm is not None and checksum_algorithm not in CHECKSUM_ALGORITHMS:
            raise ValueError(f"spark.shuffle.checksum.algorithm: {checksum_algorithm!r} is not supported; "
                             f"use one of {', '.join(CHECKSUM_ALGORITHMS)}")
        self.root = local_dir
        os.makedirs(self.root, exist_ok=True)
        self._options = pa.ipc.IpcWriteOptions(compression=compression)
        self.executor_id = executor_id
        self.checksum_algorithm = checksum_algorithm
        self._tracker = map_output_tracker
        self._lock = threading.Lock()
        self._next_id = 0
        self._outputs: dict[int, list[MapStatus | None]] = {}
        self._schemas: dict[int, pa.Schema] = {}

    # ---- the driver's side: MapOutputTracker ----
    def register_shuffle(self, num_maps: int, schema: pa.Schema) -> int:
        with self._lock:
            shuffle_id = self._next_id
            self._next_id += 1
            self._outputs[shuffle_id] = [None] * num_maps
            self._schemas[shuffle_id] = schema
            return shuffle_id

    def register_map_output(self, shuffle_id: int, status: MapStatus) -> None:
        with self._lock:
            self._outputs[shuffle_id][status.map_index] = status

    def missing_maps(self, shuffle_id: int) -> list[int]:
        with self._lock:
            return [i for i, s in enumerate(self._outputs.get(shuffle_id, [])) if s is None]

    def is_available(self, shuffle_id: int | None) -> bool:
        return shuffle_id is not None and shuffle_id in self._outputs and not self.missing_maps(shuffle_id)

    def map_statuses(self, shuffle_id: int) -> list[MapStatus | None]:
        """Every map task's status (None where the output is missing): AQE reads the block sizes."""
        with self._lock:
            return list(self._outputs[shuffle_id])

    def unregister_shuffle(self, shuffle_id: int) -> None:
        """Forget a shuffle's schema and map statuses (its files are the executors' to delete)."""
        with self._lock:
            self._outputs.pop(shuffle_id, None)
            self._schemas.pop(shuffle_id, None)

    def unregister_map_output(self, shuffle_id: int, map_index: int) -> None:
        with self._lock:
            self._outputs[shuffle_id][map_index] = None

    def remove_outputs_on_executor(self, executor_id: str) -> list[tuple[int, int]]:
        """Forget every map output ``executor_id`` wrote (the executor is lost, its files with it);
        returns the ``(shuffle id, map index)`` pairs that are now missing."""
        lost = []
        with self._lock:
            for shuffle_id, statuses in self._outputs.items():
                for map_index, status in enumerate(statuses):
                    if status is not None and status.executor_id == executor_id:
                        statuses[map_index] = None
                        lost.append((shuffle_id, map_index))
        return lost

    def shuffle_state(self, shuffle_id: int) -> tuple[pa.Schema, list[MapStatus | None]]:
        """A shuffle's schema and map statuses: what an executor process asks the driver for."""
        with self._lock:
            return self._schemas[shuffle_id], list(self._outputs[shuffle_id])

    def _state(self, shuffle_id: int) -> tuple[pa.Schema, list[MapStatus | None]]:
        if self._tracker is not None:
            return self._tracker(shuffle_id)
        return self.shuffle_state(shuffle_id)

    # ---- the map side ----
    def new_sorter(self, shuffle_id: int, num_partitions: int, task_memory_manager: TaskMemoryManager,
                   spill_path: Callable[[], str], on_spill: Callable[[int, int], None]) -> ShuffleExternalSorter:
        """A map task's buffer for ``shuffle_id``: rows go in with ``insert``, out with ``write``."""
        return ShuffleExternalSorter(task_memory_manager, self._state(shuffle_id)[0], num_partitions, self._options,
                                     spill_path, on_spill)

    def write(self, shuffle_id: int, map_index: int, attempt: int, sorter: ShuffleExternalSorter,
              metrics: ShuffleWriteMetrics) -> MapStatus:
        """Write what ``sorter`` holds as the map output of ``map_index``: the data file, its index
        and checksums, each partition's block streamed from the spills and the buffer."""
        started = time.perf_counter_ns()
        base = os.path.join(self.root, f"shuffle_{shuffle_id}_{map_index}_{attempt}")
        data_path, index_path = base + ".data", base + ".index"
        offsets = [0]
        sizes, records, checksums = [], [], []
        checksum = CHECKSUM_ALGORITHMS.get(self.checksum_algorithm)
        with open(data_path + ".tmp", "wb") as f:
            for partition in range(sorter.num_partitions):
                sink = _ChecksummedFile(f, checksum)
                records.append(sorter.write_partition(partition, sink))
                if checksum is not None:
                    checksums.append(sink.checksum)
                offsets.append(f.tell())
                sizes.append(offsets[-1] - offsets[-2])
        with open(index_path + ".tmp", "wb") as f:
            f.write(struct.pack(f"<{len(offsets)}q", *offsets))
        checksum_path = None
        if checksum is not None:
            checksum_path = f"{base}.checksum.{self.checksum_algorithm}"
            with open(checksum_path + ".tmp", "wb") as f:
                f.write(struct.pack(f">{len(checksums)}q", *checksums))
            os.replace(checksum_path + ".tmp", checksum_path)
        os.replace(data_path + ".tmp", data_path)
        os.replace(index_path + ".tmp", index_path)
        metrics.bytes_written += offsets[-1]
        metrics.records_written += sum(records)
        metrics.write_time += time.perf_counter_ns() - started
        return MapStatus(map_index, data_path, index_path, tuple(sizes), tuple(records), self.executor_id,
                         checksum_path)

    # ---- the reduce side ----
    def read(self, shuffle_id: int, reduce_id: int, metrics: ShuffleReadMetrics,
             map_range: range | None = None) -> pa.Table:
        """Reduce partition ``reduce_id`` from every map output, or from the maps in ``map_range``
        only (AQE reads a skewed partition in slices of map outputs)."""
        tables = list(self.read_blocks(shuffle_id, reduce_id, metrics, map_range))
        return pa.concat_tables(tables) if tables else self._state(shuffle_id)[0].empty_table()

    def read_blocks(self, shuffle_id: int, reduce_id: int, metrics: ShuffleReadMetrics,
                    map_range: range | None = None) -> Iterator[pa.Table]:
        """The blocks of reduce partition ``reduce_id``, one map output's block at a time, so a
        reader that buffers under a memory reservation never holds the whole partition."""
        _, statuses = self._state(shuffle_id)
        wait_before, waited = metrics.fetch_wait_time, 0.0  # ms, rounded once over all the blocks
        for map_index, status in enumerate(statuses):
            if map_range is not None and map_index not in map_range:
                continue
            started = time.perf_counter()
            if status is None:
                raise FetchFailedException(shuffle_id, map_index, reduce_id,
                                           f"Missing an output location for shuffle {shuffle_id} map {map_index}")
            if not status.block_sizes[reduce_id]:
                continue
            block_name = f"shuffle_{shuffle_id}_{map_index}_{reduce_id}"
            try:
                with open(status.index_path, "rb") as f:
                    f.seek(8 * reduce_id)
                    begin, end = struct.unpack("<2q", f.read(16))
                with pa.OSFile(status.data_path) as f:  # into Arrow's pool, whose pages are kept
                    block = f.read_at(end - begin, begin)
                _verify_checksum(status, reduce_id, block, block_name)
                table = pa.ipc.open_stream(pa.BufferReader(block)).read_all()
            except (OSError, pa.ArrowInvalid, struct.error, CorruptedBlockError) as e:
                raise FetchFailedException(shuffle_id, map_index, reduce_id,
                                           f"Failed to read shuffle block {block_name} of executor "
                                           f"{status.executor_id}: {e}", status.executor_id) from e
            metrics.local_blocks_fetched += 1
            metrics.local_bytes_read += end - begin
            metrics.records_read += table.num_rows
            waited += time.perf_counter() - started
            metrics.fetch_wait_time = wait_before + int(waited * 1000)
            yield table

    def remove_shuffle_files(self, shuffle_id: int) -> None:
        """Delete every file this process wrote for ``shuffle_id``: its map outputs' data, index and
        checksum files, and any left by a map task that failed. A file that cannot be deleted is
        logged and left for the session's stop: an executor goes on serving tasks."""
        prefix = f"shuffle_{shuffle_id}_"
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(prefix):
                    try:
                        os.remove(entry.path)
                    except FileNotFoundError:
                        pass
                    except OSError as e:
                        log.warning("Could not delete %s of shuffle %d: %s", entry.path, shuffle_id, e)

    def stop(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class ShuffleExternalSorter(MemoryConsumer):
    """A map task's rows grouped by reduce partition under an execution memory reservation
    (Spark's ``ShuffleExternalSorter``).

    Each inserted batch is kept as it came, with its rows' order by partition id and where each
    partition starts in that order. When the task's memory is refused, everything buffered is
    spilled to one file in the map output's own layout (per partition, an lz4 Arrow IPC stream; the offsets kept here) and
    the memory released. The map output then takes each partition's block from the spills'
    segments and from the buffer in turn, so writing holds one segment at a time, never the map
    task's whole output.

        with manager.new_sorter(shuffle_id, n, task_memory_manager, spill_path, on_spill) as sorter:
            for batch in batches:
                sorter.insert(batch, partition_ids_of(batch))
            status = manager.write(shuffle_id, map_index, attempt, sorter, metrics)
    """

    def __init__(self, task_memory_manager: TaskMemoryManager, schema: pa.Schema, num_partitions: int,
                 options: pa.ipc.IpcWriteOptions, spill_path: Callable[[], str],
                 on_spill: Callable[[int, int], None]):
        """``spill_path`` names a new spill file; ``on_spill(memory bytes, disk bytes)`` counts a spill."""
        super().__init__(task_memory_manager, "ShuffleExternalSorter")
        self.schema = schema
        self.num_partitions = num_partitions
        self._options = options
        self._spill_path = spill_path
        self._on_spill = on_spill
        self.buffered: list[tuple[pa.Table, np.ndarray, np.ndarray]] = []  # (rows, their partition order, starts)
        self.spills: list[tuple[str, list[int]]] = []  # (file, byte offset of each partition's segment)

    def insert(self, table: pa.Table, partition_ids: np.ndarray) -> None:
        """Buffer ``table``'s rows, row i going to reduce partition ``partition_ids[i]``.

        The rows stay where they are; what is kept besides them is their order by partition (a
        compiled counting sort, stable) and where each partition starts in it, reserved with them.
        Each partition's rows are gathered from every buffered batch in one copy when written."""
        if not table.num_rows:
            return
        order, starts = group_by_partition(partition_ids, self.num_partitions)
        self.reserve(table.nbytes + order.nbytes)
        table = table.cast(self.schema) if table.schema != self.schema else table
        self.buffered.append((table, order, starts))

    def spill(self, size: int, trigger: MemoryConsumer) -> int:
        if not self.buffered:
            return 0
        path = self._spill_path()
        offsets = [0]
        with open(path, "wb") as f:
            for partition in range(self.num_partitions):
                self._write_stream(f, self._buffered_rows(partition))
                offsets.append(f.tell())
        self.spills.append((path, offsets))
        self.buffered = []
        released = self.used
        self.free_memory(released)
        self._on_spill(released, offsets[-1])
        return released

    def write_partition(self, partition: int, sink) -> int:
        """Write ``partition``'s block (its spilled segments, then its buffered rows) as one IPC
        stream to ``sink``; return its row count. An empty partition writes nothing."""
        return self._write_stream(sink, self._spilled_rows(partition), self._buffered_rows(partition))

    def _write_stream(self, sink, *sources: Iterator[pa.Table]) -> int:
        """Write the tables of ``sources`` as one IPC stream (none when they are all empty)."""
        writer, rows = None, 0
        for table in (t for source in sources for t in source if t.num_rows):
            if writer is None:
                writer = pa.ipc.new_stream(sink, self.schema, options=self._options)
            writer.write_table(table, max_chunksize=RUN_BATCH_ROWS)
            rows += table.num_rows
        if writer is not None:
            writer.close()
        return rows

    def _spilled_rows(self, partition: int) -> Iterator[pa.Table]:
        for path, offsets in self.spills:
            begin, end = offsets[partition], offsets[partition + 1]
            if end > begin:
                with pa.memory_map(path) as source:
                    reader = pa.ipc.open_stream(pa.BufferReader(source.read_at(end - begin, begin)))
                    for batch in reader:
                        yield pa.Table.from_batches([batch])

    def _buffered_rows(self, partition: int) -> Iterator[pa.Table]:
        """The buffered rows of ``partition`` as one table, in map order, by one ``take`` (one copy
        of them, not many small batches)."""
        self._combine_buffered()
        if self.buffered:
            table, order, starts = self.buffered[0]
            if starts[partition + 1] > starts[partition]:
                yield table.take(pa.array(order[starts[partition]:starts[partition + 1]]))

    def _combine_buffered(self) -> None:
        """Make the buffered batches one batch of single-chunk columns, with its partition order,
        before the first partition is taken from them. ``take`` over several chunks concatenates
        them first: taking from the batches as inserted copied all of them once per partition (a
        sort at SF 1 inserts about 460 batches per map task). Done once, the copy replaces them."""
        if not self.buffered or (len(self.buffered) == 1 and
                                 all(c.num_chunks <= 1 for c in self.buffered[0][0].columns)):
            return
        table = pa.concat_tables([t for t, _, _ in self.buffered]).combine_chunks()
        partition_ids, first_row = native.empty(table.num_rows, np.int32), 0
        every_partition = np.arange(self.num_partitions, dtype=np.int32)
        for batch, order, starts in self.buffered:
            partition_ids[order + first_row] = np.repeat(every_partition, np.diff(starts))
            first_row += batch.num_rows
        self.buffered = [(table, *group_by_partition(partition_ids, self.num_partitions))]

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.buffered = []
        for path, _ in self.spills:
            if os.path.exists(path):
                os.remove(path)


class _ChecksummedFile:
    """A file being written that keeps a running checksum of what goes through it (one block's)."""

    def __init__(self, file, checksum: Callable[[bytes, int], int] | None):
        self._file = file
        self._update = checksum
        self.checksum = checksum(b"") if checksum is not None else 0

    def write(self, data) -> int:
        if self._update is not None:
            self.checksum = self._update(data, self.checksum)
        return self._file.write(data)

    @property
    def closed(self) -> bool:
        return self._file.closed

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()


class CorruptedBlockError(Exception):
    """A shuffle block's bytes do not match the checksum its map task wrote."""


def _verify_checksum(status: MapStatus, reduce_id: int, block: pa.Buffer, block_name: str) -> None:
    if status.checksum_path is None:
        return
    algorithm = status.checksum_path.rsplit(".", 1)[1]
    with open(status.checksum_path, "rb") as f:
        f.seek(8 * reduce_id)
        (expected,) = struct.unpack(">q", f.read(8))
    actual = CHECKSUM_ALGORITHMS[algorithm](block)
    if actual != expected:
        raise CorruptedBlockError(f"block {block_name} is corrupted: {algorithm} checksum {actual} "
                                  f"does not match {expected} written by the map task ({status.data_path})")
