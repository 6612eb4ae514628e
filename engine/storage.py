"""The block manager: cached partitions and broadcast variables (Spark's ``BlockManager``).

Blocks are Arrow tables named as Spark names them (``rdd_<id>_<partition>``, ``broadcast_<id>``).
Memory levels keep a block in the memory store, whose room comes from the executor's storage
memory pool; disk levels write an Arrow IPC file under the local directory and memory-map it back.

Policy, as Spark's ``MemoryStore``:

* A block that does not fit is refused memory after evicting least-recently-used blocks of
  *other* RDDs (a partition never evicts a sibling of its own RDD).
* An evicted ``MEMORY_AND_DISK`` block moves to disk; an evicted ``MEMORY_ONLY`` block is
  dropped and recomputed by the next job that needs it.
* Execution memory may take storage memory back down to the storage region, by evicting blocks
  the same way.

Every change of a block's status is returned to the caller as ``(block_id, BlockStatus)`` pairs,
which a task reports as its "Updated Blocks".
"""
from __future__ import annotations

import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import pyarrow as pa

# Ember's block manager does not listen on a port; Spark's event-log readers require a positive one.
BLOCK_MANAGER_PORT = 7079


class StorageLevel:
    """The PySpark names: ``StorageLevel.MEMORY_AND_DISK`` and so on (values are the level's name)."""

    NONE = "NONE"
    MEMORY_ONLY = "MEMORY_ONLY"
    MEMORY_AND_DISK = "MEMORY_AND_DISK"
    DISK_ONLY = "DISK_ONLY"
    MEMORY_ONLY_SER = "MEMORY_ONLY_SER"
    MEMORY_AND_DISK_SER = "MEMORY_AND_DISK_SER"

    _LEVELS = {NONE: (False, False), MEMORY_ONLY: (True, False), MEMORY_ONLY_SER: (True, False),
               MEMORY_AND_DISK: (True, True), MEMORY_AND_DISK_SER: (True, True), DISK_ONLY: (False, True)}

    @staticmethod
    def flags(level: str) -> tuple[bool, bool]:
        """(use memory, use disk) of a level, or ``ValueError`` naming the known levels."""
        try:
            return StorageLevel._LEVELS[str(level).upper()]
        except KeyError:
            raise ValueError(f"unknown storage level {level!r}; use one of {', '.join(StorageLevel._LEVELS)}") from None

    @staticmethod
    def deserialized(level: str) -> bool:
        """Whether Spark keeps this level's in-memory blocks as objects: the memory levels without
        ``_SER`` (``df.cache()``'s MEMORY_AND_DISK is), as a cached RDD's "Storage Level" shows."""
        use_memory, _ = StorageLevel.flags(level)
        return use_memory and not str(level).upper().endswith("_SER")


@dataclass(frozen=True, slots=True)
class BlockStatus:
    """Where a block is now (Spark's ``BlockStatus``); a removed block has level NONE and no size."""

    storage_level: str
    memory_size: int = 0
    disk_size: int = 0


@dataclass(slots=True)
class _MemoryEntry:
    table: pa.Table
    size: int
    level: str


class BlockManager:
    """One executor's blocks, in its memory store (LRU order) and on its local disk."""

    def __init__(self, local_dir: str):
        self.local_dir = local_dir
        self.memory_manager = None
        self._memory: OrderedDict[str, _MemoryEntry] = OrderedDict()  # least recently used first
        self._disk: dict[str, tuple[str, int, str]] = {}  # block id -> (path, size, level)
        self._lock = threading.RLock()
        self._put_updates = threading.local()

    def bind_memory_manager(self, memory_manager) -> None:
        """Take memory store room from ``memory_manager``'s storage pool, which may evict from here."""
        self.memory_manager = memory_manager
        memory_manager.set_memory_store(self)

    # ---- putting and getting ----
    def put(self, block_id: str, table: pa.Table, level: str = StorageLevel.MEMORY_AND_DISK) -> list[tuple[str, BlockStatus]]:
        """Store a block at ``level``; return the status changes (this block's and any evicted)."""
        use_memory, use_disk = StorageLevel.flags(level)
        self._put_updates.items = []
        try:
            stored = use_memory and self._put_in_memory(block_id, table, level)
            if not stored and use_disk:
                self._put_on_disk(block_id, table, level)
            if stored or use_disk:
                self._record_update(block_id)
            return self._put_updates.items
        finally:
            self._put_updates.items = None

    def _put_in_memory(self, block_id: str, table: pa.Table, level: str) -> bool:
        if self.memory_manager is None:
            raise RuntimeError(f"block manager at {self.local_dir} has no memory manager: cannot store {block_id} in memory")
        size = table.nbytes
        if not self.memory_manager.acquire_storage_memory(block_id, size):
            return False
        with self._lock:
            previous = self._memory.pop(block_id, None)
            self._memory[block_id] = _MemoryEntry(table, size, level)
        if previous is not None:
            self.memory_manager.release_storage_memory(previous.size)
        return True

    def _put_on_disk(self, block_id: str, table: pa.Table, level: str) -> None:
        os.makedirs(self.local_dir, exist_ok=True)
        path = os.path.join(self.local_dir, f"{block_id}.arrow")
        with pa.OSFile(path + ".tmp", "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(path + ".tmp", path)
        with self._lock:
            self._disk[block_id] = (path, os.path.getsize(path), level)

    def get(self, block_id: str) -> pa.Table | None:
        """The block, from memory (now the most recently used) or disk; None when not stored."""
        with self._lock:
            entry = self._memory.get(block_id)
            if entry is not None:
                self._memory.move_to_end(block_id)
                return entry.table
            on_disk = self._disk.get(block_id)
        if on_disk is None:
            return None
        return pa.ipc.open_file(pa.memory_map(on_disk[0])).read_all()

    def contains(self, block_id: str) -> bool:
        with self._lock:
            return block_id in self._memory or block_id in self._disk

    def status(self, block_id: str) -> BlockStatus:
        with self._lock:
            entry = self._memory.get(block_id)
            on_disk = self._disk.get(block_id)
        if entry is None and on_disk is None:
            return BlockStatus(StorageLevel.NONE)
        level = entry.level if entry is not None else on_disk[2]
        return BlockStatus(level, entry.size if entry else 0, on_disk[1] if on_disk else 0)

    def block_ids(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(b for b in {*self._memory, *self._disk} if b.startswith(prefix))

    # ---- removing ----
    def remove_block(self, block_id: str) -> None:
        with self._lock:
            entry = self._memory.pop(block_id, None)
            on_disk = self._disk.pop(block_id, None)
        if entry is not None and self.memory_manager is not None:
            self.memory_manager.release_storage_memory(entry.size)
        if on_disk is not None:
            os.remove(on_disk[0])

    def remove_prefix(self, prefix: str) -> None:
        for block_id in self.block_ids(prefix):
            self.remove_block(block_id)

    # ---- the memory store's side of the storage pool ----
    def evict_blocks_to_free_space(self, block_id: str | None, space: int) -> int:
        """Evict least-recently-used blocks (never of ``block_id``'s own RDD) until ``space`` bytes
        are free; MEMORY_AND_DISK blocks move to disk. Returns the bytes freed.

        Called by the memory manager with its lock held; it releases the freed memory itself.
        """
        own_rdd = _rdd_of(block_id)
        with self._lock:
            victims, freed = [], 0
            for candidate, entry in self._memory.items():
                if freed >= space:
                    break
                if own_rdd is not None and _rdd_of(candidate) == own_rdd:
                    continue
                victims.append((candidate, entry))
                freed += entry.size
            if freed < space:
                return 0  # evicting would not make room: keep every block
            for candidate, _ in victims:
                del self._memory[candidate]
        for candidate, entry in victims:
            if StorageLevel.flags(entry.level)[1]:
                self._put_on_disk(candidate, entry.table, entry.level)
            self._record_update(candidate)
        self.memory_manager.storage_pool.release(freed)
        return freed

    def _record_update(self, block_id: str) -> None:
        # only a put collects updates: an eviction for execution memory belongs to no block's task
        updates = getattr(self._put_updates, "items", None)
        if updates is not None:
            updates.append((block_id, self.status(block_id)))

    # ---- scratch files ----
    def temp_local_path(self, prefix: str = "temp_local") -> str:
        """A new file name under the local directory for spills (Spark's ``createTempLocalBlock``)."""
        os.makedirs(self.local_dir, exist_ok=True)
        return os.path.join(self.local_dir, f"{prefix}_{uuid.uuid4()}")


def _rdd_of(block_id: str | None) -> str | None:
    if block_id is None or not block_id.startswith("rdd_"):
        return None
    return block_id.rsplit("_", 1)[0]
