"""The block manager: cached partitions and broadcast variables (Spark's ``BlockManager``).

Blocks are Arrow tables named as Spark names them (``rdd_<id>_<partition>``, ``broadcast_<id>``).
``MEMORY_ONLY`` and ``MEMORY_AND_DISK`` keep them in memory; ``DISK_ONLY`` writes Arrow IPC
files under the local directory and memory-maps them back.
"""
from __future__ import annotations

import os
import threading

import pyarrow as pa

# Ember's block manager does not listen on a port; Spark's event-log readers require a positive one.
BLOCK_MANAGER_PORT = 7079

class StorageLevel:
    """The PySpark names: ``StorageLevel.MEMORY_AND_DISK`` and so on (values are the level's name)."""

    MEMORY_ONLY = "MEMORY_ONLY"
    MEMORY_AND_DISK = "MEMORY_AND_DISK"
    DISK_ONLY = "DISK_ONLY"
    MEMORY_ONLY_SER = "MEMORY_ONLY_SER"
    MEMORY_AND_DISK_SER = "MEMORY_AND_DISK_SER"


class BlockManager:
    def __init__(self, local_dir: str):
        self.local_dir = local_dir
        self._memory: dict[str, pa.Table] = {}
        self._disk: dict[str, str] = {}
        self._lock = threading.Lock()

    def put(self, block_id: str, table: pa.Table, level: str = "MEMORY_AND_DISK") -> None:
        if level == "DISK_ONLY":
            os.makedirs(self.local_dir, exist_ok=True)
            path = os.path.join(self.local_dir, f"{block_id}.arrow")
            with pa.OSFile(path + ".tmp", "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            os.replace(path + ".tmp", path)
            with self._lock:
                self._disk[block_id] = path
            return
        with self._lock:
            self._memory[block_id] = table

    def get(self, block_id: str) -> pa.Table | None:
        with self._lock:
            table = self._memory.get(block_id)
            path = self._disk.get(block_id)
        if table is not None or path is None:
            return table
        return pa.ipc.open_file(pa.memory_map(path)).read_all()

    def contains(self, block_id: str) -> bool:
        with self._lock:
            return block_id in self._memory or block_id in self._disk

    def remove_prefix(self, prefix: str) -> None:
        with self._lock:
            for k in [k for k in self._memory if k.startswith(prefix)]:
                del self._memory[k]
            for k in [k for k in self._disk if k.startswith(prefix)]:
                os.remove(self._disk.pop(k))
