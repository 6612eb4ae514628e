"""Sort-based shuffle on local disk (Spark's ``SortShuffleManager`` and ``MapOutputTracker``).

Each map task writes ONE data file holding its rows grouped by reduce partition — each group an
Arrow IPC stream, lz4-compressed as Spark compresses shuffle blocks — and an index file of
``num_reduce + 1`` little-endian int64 offsets. A reduce task reads its byte range from every map
output. Files live under ``spark.local.dir`` and go when the session stops.
"""
from __future__ import annotations

import os
import shutil
import struct
import threading
import time
from dataclasses import dataclass

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


class FetchFailedException(Exception):
    """A map output a reduce task needs is missing or unreadable; the map stage must run again."""

    def __init__(self, shuffle_id: int, map_index: int, reduce_id: int, message: str):
        super().__init__(message)
        self.shuffle_id, self.map_index, self.reduce_id = shuffle_id, map_index, reduce_id


class ShuffleManager:
    def __init__(self, local_dir: str, compression: str | None = "lz4"):
        self.root = local_dir
        os.makedirs(self.root, exist_ok=True)
        self._options = pa.ipc.IpcWriteOptions(compression=compression)
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

    def unregister_map_output(self, shuffle_id: int, map_index: int) -> None:
        with self._lock:
            self._outputs[shuffle_id][map_index] = None

    # ---- the map side ----
    def write(self, shuffle_id: int, map_index: int, attempt: int, table: pa.Table, partition_ids: np.ndarray,
              num_partitions: int, metrics: ShuffleWriteMetrics) -> MapStatus:
        started = time.perf_counter_ns()
        order = np.argsort(partition_ids, kind="stable")
        counts = np.bincount(partition_ids, minlength=num_partitions) if len(partition_ids) else \
            np.zeros(num_partitions, dtype=np.int64)
        table = table.take(pa.array(order)) if len(order) else table
        schema = self._schemas[shuffle_id]
        table = table.cast(schema) if table.schema != schema else table
        base = os.path.join(self.root, f"shuffle_{shuffle_id}_{map_index}_{attempt}")
        data_path, index_path = base + ".data", base + ".index"
        offsets = [0]
        sizes, records = [], []
        start = 0
        with open(data_path + ".tmp", "wb") as f:
            for count in counts:
                if count:
                    with pa.ipc.new_stream(f, schema, options=self._options) as writer:
                        writer.write_table(table.slice(start, int(count)))
                    start += int(count)
                offsets.append(f.tell())
                sizes.append(offsets[-1] - offsets[-2])
                records.append(int(count))
        with open(index_path + ".tmp", "wb") as f:
            f.write(struct.pack(f"<{len(offsets)}q", *offsets))
        os.replace(data_path + ".tmp", data_path)
        os.replace(index_path + ".tmp", index_path)
        metrics.bytes_written += offsets[-1]
        metrics.records_written += int(table.num_rows)
        metrics.write_time += time.perf_counter_ns() - started
        return MapStatus(map_index, data_path, index_path, tuple(sizes), tuple(records))

    # ---- the reduce side ----
    def read(self, shuffle_id: int, reduce_id: int, metrics: ShuffleReadMetrics) -> pa.Table:
        started = time.perf_counter()
        with self._lock:
            statuses = list(self._outputs[shuffle_id])
            schema = self._schemas[shuffle_id]
        tables = []
        for map_index, status in enumerate(statuses):
            if status is None:
                raise FetchFailedException(shuffle_id, map_index, reduce_id,
                                           f"Missing an output location for shuffle {shuffle_id} map {map_index}")
            if not status.block_sizes[reduce_id]:
                continue
            try:
                with open(status.index_path, "rb") as f:
                    f.seek(8 * reduce_id)
                    begin, end = struct.unpack("<2q", f.read(16))
                with open(status.data_path, "rb") as f:
                    f.seek(begin)
                    block = f.read(end - begin)
                tables.append(pa.ipc.open_stream(pa.BufferReader(block)).read_all())
            except (OSError, pa.ArrowInvalid, struct.error) as e:
                raise FetchFailedException(shuffle_id, map_index, reduce_id,
                                           f"Failed to read shuffle block shuffle_{shuffle_id}_{map_index}_{reduce_id}: {e}") from e
            metrics.local_blocks_fetched += 1
            metrics.local_bytes_read += end - begin
        out = pa.concat_tables(tables) if tables else schema.empty_table()
        metrics.records_read += out.num_rows
        metrics.fetch_wait_time += int((time.perf_counter() - started) * 1000)
        return out

    def stop(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
