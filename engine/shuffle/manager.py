"""Sort-based shuffle on local disk (Spark's ``SortShuffleManager`` and ``MapOutputTracker``).

Each map task writes ONE data file holding its rows grouped by reduce partition — each group an
Arrow IPC stream, lz4-compressed as Spark compresses shuffle blocks — and an index file of
``num_reduce + 1`` little-endian int64 offsets. A reduce task reads its byte range from every map
output. Files live under ``spark.local.dir`` and go when the session stops.

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

import os
import shutil
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa

from engine.scheduler.events import ShuffleReadMetrics, ShuffleWriteMetrics


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
    def write(self, shuffle_id: int, map_index: int, attempt: int, table: pa.Table, partition_ids: np.ndarray,
              num_partitions: int, metrics: ShuffleWriteMetrics) -> MapStatus:
        started = time.perf_counter_ns()
        order = np.argsort(partition_ids, kind="stable")
        counts = np.bincount(partition_ids, minlength=num_partitions) if len(partition_ids) else \
            np.zeros(num_partitions, dtype=np.int64)
        table = table.take(pa.array(order)) if len(order) else table
        schema = self._state(shuffle_id)[0]
        table = table.cast(schema) if table.schema != schema else table
        base = os.path.join(self.root, f"shuffle_{shuffle_id}_{map_index}_{attempt}")
        data_path, index_path = base + ".data", base + ".index"
        offsets = [0]
        sizes, records, checksums = [], [], []
        checksum = CHECKSUM_ALGORITHMS.get(self.checksum_algorithm)
        start = 0
        with open(data_path + ".tmp", "wb") as f:
            for count in counts:
                block = b""
                if count:
                    sink = pa.BufferOutputStream()
                    with pa.ipc.new_stream(sink, schema, options=self._options) as writer:
                        writer.write_table(table.slice(start, int(count)))
                    block = sink.getvalue().to_pybytes()
                    f.write(block)
                    start += int(count)
                if checksum is not None:
                    checksums.append(checksum(block))
                offsets.append(f.tell())
                sizes.append(offsets[-1] - offsets[-2])
                records.append(int(count))
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
        metrics.records_written += int(table.num_rows)
        metrics.write_time += time.perf_counter_ns() - started
        return MapStatus(map_index, data_path, index_path, tuple(sizes), tuple(records), self.executor_id,
                         checksum_path)

    # ---- the reduce side ----
    def read(self, shuffle_id: int, reduce_id: int, metrics: ShuffleReadMetrics,
             map_range: range | None = None) -> pa.Table:
        """Reduce partition ``reduce_id`` from every map output, or from the maps in ``map_range``
        only (AQE reads a skewed partition in slices of map outputs)."""
        started = time.perf_counter()
        schema, statuses = self._state(shuffle_id)
        tables = []
        for map_index, status in enumerate(statuses):
            if map_range is not None and map_index not in map_range:
                continue
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
                with open(status.data_path, "rb") as f:
                    f.seek(begin)
                    block = f.read(end - begin)
                _verify_checksum(status, reduce_id, block, block_name)
                tables.append(pa.ipc.open_stream(pa.BufferReader(block)).read_all())
            except (OSError, pa.ArrowInvalid, struct.error, CorruptedBlockError) as e:
                raise FetchFailedException(shuffle_id, map_index, reduce_id,
                                           f"Failed to read shuffle block {block_name} of executor "
                                           f"{status.executor_id}: {e}", status.executor_id) from e
            metrics.local_blocks_fetched += 1
            metrics.local_bytes_read += end - begin
        out = pa.concat_tables(tables) if tables else schema.empty_table()
        metrics.records_read += out.num_rows
        metrics.fetch_wait_time += int((time.perf_counter() - started) * 1000)
        return out

    def stop(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class CorruptedBlockError(Exception):
    """A shuffle block's bytes do not match the checksum its map task wrote."""


def _verify_checksum(status: MapStatus, reduce_id: int, block: bytes, block_name: str) -> None:
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
