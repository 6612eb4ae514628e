"""Execution and storage memory of an executor, and spilling (Spark's ``memory`` package).

``UnifiedMemoryManager`` splits an executor's memory as Spark does and shares it between tasks;
each task's ``TaskMemoryManager`` hands it to named ``MemoryConsumer``s (the buffering
operators), which spill sorted runs to disk (``engine.memory.spill``) when they are refused.
``engine.memory.native`` decides what the process's allocators do with freed memory: keep it
for the next task (the default, and where Ember's large working arrays come from), or give it
back so that the process, not only its operators, stays near the configured memory.
"""
from engine.memory.memory_manager import SparkOutOfMemoryError, UnifiedMemoryManager, max_unified_memory
from engine.memory.task_memory_manager import MemoryConsumer, TaskMemoryManager

__all__ = ["MemoryConsumer", "SparkOutOfMemoryError", "TaskMemoryManager", "UnifiedMemoryManager",
           "max_unified_memory"]
