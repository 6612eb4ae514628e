"""Helpers of the engine tests: a listener that keeps every event posted to a session's bus, and a
few MiB of unified memory swapped in for one test."""
from __future__ import annotations

import contextlib
from typing import Iterator

from engine.memory import UnifiedMemoryManager


class RecordingListener:
    def __init__(self):
        self.events: list = []

    def on_event(self, event) -> None:
        self.events.append(event)

    def of_type(self, name: str) -> list:
        return [e for e in self.events if type(e).__name__ == name]


@contextlib.contextmanager
def unified_memory(spark, total: int, storage: int) -> Iterator[UnifiedMemoryManager]:
    """``total`` bytes of unified memory (``storage`` of them the storage region) for the session's
    operators and block manager; then the manager it had."""
    env = spark.env
    saved = env.memory_manager
    env.memory_manager = UnifiedMemoryManager(total, storage)
    env.block_manager.bind_memory_manager(env.memory_manager)
    try:
        yield env.memory_manager
    finally:
        env.memory_manager = saved
        env.block_manager.bind_memory_manager(saved)
