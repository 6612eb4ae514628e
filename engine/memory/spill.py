"""Spill files: sorted runs written as Arrow IPC, merged back in order, and disk-backed results.

A buffering operator that is refused memory sorts what it holds and writes it as a *run*: an
lz4-compressed Arrow IPC stream of batches under the executor's local directory. Runs are read
back a batch at a time and merged (``merge_sorted_runs``), so merging needs one batch per run in
memory, not the runs themselves.

An operator that spilled also writes its result to disk (``disk_backed_table``), uncompressed,
and maps it back: the table's buffers are then pages of a file the operating system can drop and
re-read, not memory the process holds. That is how a result bigger than the execution memory
reaches the next operator without being held in memory at once.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

from engine.memory.task_memory_manager import MemoryConsumer

RUN_BATCH_ROWS = 65_536
BATCH_BYTES = 1 << 18  # what a buffering operator reserves at a time
_RUN_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def write_run(path: str, table: pa.Table) -> int:
    """Write ``table``, sorted already, as a run of batches; return the bytes written to disk.

    A batch is about ``BATCH_BYTES`` in memory: merging holds one batch of every run at once, so
    the batch size, not the run size, is what a merge of many runs costs.
    """
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, table.schema, options=_RUN_OPTIONS) as writer:
        writer.write_table(table, max_chunksize=batch_rows(table))
    return os.path.getsize(path)


def take_in_order(parts: list[pa.Table], sort_indices: Callable[[pa.Table], pa.Array]) -> pa.Table:
    """``parts`` as one table in the order ``sort_indices`` gives, gathered one column at a time.

    Each column of ``parts`` is dropped as soon as its sorted copy exists, so the peak is the
    input plus the order plus one column, where ``table.take(order)`` holds two copies of the
    input. ``parts`` is emptied: the caller gives its rows up (the list held the last reference).
    """
    table = pa.concat_tables(parts, promote_options="permissive")
    parts.clear()
    order = sort_indices(table)
    schema, columns = table.schema, table.columns
    del table
    gathered = []
    for i in range(len(columns)):
        column, columns[i] = columns[i], None
        gathered.append(column.take(order))
        del column
    return pa.Table.from_arrays(gathered, schema=schema)


def batch_rows(table: pa.Table, batch_bytes: int = BATCH_BYTES) -> int:
    """How many of ``table``'s rows make about ``batch_bytes`` (at most ``RUN_BATCH_ROWS``)."""
    return max(1, min(RUN_BATCH_ROWS, table.num_rows * batch_bytes // max(1, table.nbytes)))


def read_run(path: str) -> Iterator[pa.Table]:
    """The batches of a run, one at a time, in the order they were written."""
    with pa.OSFile(path, "rb") as source:
        reader = pa.ipc.open_stream(source)
        for batch in reader:
            yield pa.Table.from_batches([batch])


def merge_sorted_runs(paths: list[str], sort_indices: Callable[[pa.Table], pa.Array]) -> Iterator[pa.Table]:
    """K-way merge of sorted runs into sorted tables, holding one batch of each run at a time.

    Each step finds the *bound*: the smallest of the last rows of the runs' current batches.
    Every row not above the bound, in any run, is in a current batch, so those rows are sorted
    together and emitted; the run that supplied the bound has emptied its batch and moves on.
    The bound row is appended last before a stable sort, so rows equal to it come before it.
    ``sort_indices`` is the operator's ordering (stable, as ``pyarrow.compute.sort_indices`` is).
    """
    readers = [read_run(p) for p in paths]
    heads: list[pa.Table | None] = [_next_nonempty(r) for r in readers]
    while True:
        live = [i for i, h in enumerate(heads) if h is not None]
        if not live:
            return
        if len(live) == 1:
            (i,) = live
            yield heads[i]
            yield from (t for t in readers[i] if t.num_rows)
            return
        lasts = pa.concat_tables([heads[i].slice(heads[i].num_rows - 1, 1) for i in live])
        bound_pos = sort_indices(lasts)[0].as_py()
        combined = pa.concat_tables([heads[i] for i in live] + [lasts.slice(bound_pos, 1)])
        order = sort_indices(combined).to_numpy()
        cut = int(np.flatnonzero(order == combined.num_rows - 1)[0])
        yield combined.take(pa.array(order[:cut]))
        run_of_row = np.repeat(np.arange(len(live)), [heads[i].num_rows for i in live])
        emitted = np.bincount(run_of_row[order[:cut]], minlength=len(live))
        for slot, i in enumerate(live):
            rest = heads[i].slice(int(emitted[slot]))
            heads[i] = rest if rest.num_rows else _next_nonempty(readers[i])


def _next_nonempty(reader: Iterator[pa.Table]) -> pa.Table | None:
    for table in reader:
        if table.num_rows:
            return table
    return None


def disk_backed_table(path: str, parts: Iterable[pa.Table], empty_schema: pa.Schema) -> pa.Table:
    """Write ``parts`` to an uncompressed Arrow IPC file and return it memory-mapped.

    The file takes the first part's schema (``empty_schema`` when there are no rows). It is
    unlinked at once; the mapping keeps its pages until the table is freed.
    """
    writer, schema = None, empty_schema
    with pa.OSFile(path, "wb") as sink:
        for part in parts:
            if not part.num_rows:
                continue
            if writer is None:
                schema = part.schema
                writer = pa.ipc.new_file(sink, schema)
            writer.write_table(part.cast(schema) if part.schema != schema else part, max_chunksize=RUN_BATCH_ROWS)
        if writer is None:
            writer = pa.ipc.new_file(sink, schema)
        writer.close()
    try:
        return pa.ipc.open_file(pa.memory_map(path)).read_all()
    finally:
        os.remove(path)


def input_batches(plan, index: int, ctx, batch_bytes: int = BATCH_BYTES) -> Iterator[pa.Table]:
    """A child's partition as a stream of tables of about ``batch_bytes`` each.

    Operators that can produce their partition piece by piece (a shuffle read, one map output's
    block at a time) say so with ``execute_batches``; any other child's table is sliced, so a
    buffering operator still reserves and spills in steps smaller than a task's share of memory.
    """
    stream = getattr(plan, "execute_batches", None)
    tables = stream(index, ctx) if stream is not None else [plan.execute_partition(index, ctx)]
    for table in tables:
        if not table.num_rows:
            continue
        rows = batch_rows(table, batch_bytes)
        for start in range(0, table.num_rows, rows):
            yield table.slice(start, rows)


def record_spill(ctx, spill_size_metric, memory_bytes: int, disk_bytes: int) -> None:
    """Count a spill in the task's metrics and the operator's "spill size" as Spark does."""
    ctx.metrics.memory_bytes_spilled += memory_bytes
    ctx.metrics.disk_bytes_spilled += disk_bytes
    ctx.add(spill_size_metric, memory_bytes)


class SortedRunBuffer(MemoryConsumer):
    """Tables buffered under a memory reservation, spilled as sorted runs when memory is refused.

    ``sort_indices`` gives the order of the buffered rows in a run (a sort's, an aggregate's keys').
    ``compact``, when given, shrinks the buffer in memory every ``COMPACT_EVERY`` tables (an
    aggregate merges its states). An in-memory step over the whole buffer (compacting, or finishing
    without spilling: ``fits_in_memory``) needs working memory besides the buffer, about
    ``working_memory_factor`` times its bytes (pyarrow's hash grouping peaks near 5x its input; a
    subclass that knows its step better overrides ``_working_memory``, as the sort's
    ``ExternalSorter`` does): it is reserved first, and when refused the buffer spills instead, so
    what the process holds stays near what the task was granted. A spill sorts the buffer with
    ``take_in_order``. Leaving the ``with`` block releases the memory and deletes the runs.

        with SortedRunBuffer(ctx, "HashAggregate", spill_metric, sort_indices=order) as buffer:
            for batch in input_batches(child, index, ctx):
                buffer.insert(batch)
            if buffer.fits_in_memory():
                result = finish(buffer.buffered_table(schema))
            else:
                result = merge_sorted_runs(buffer.runs, order)
    """

    COMPACT_EVERY = 32

    def __init__(self, ctx, name: str, spill_metric, sort_indices: Callable[[pa.Table], pa.Array],
                 compact: Callable[[pa.Table], pa.Table] | None = None, working_memory_factor: float = 1.0):
        super().__init__(ctx.task_memory_manager, name)
        self.ctx = ctx
        self.spill_metric = spill_metric
        self.sort_indices = sort_indices
        self.compact = compact
        self.working_memory_factor = working_memory_factor
        self.buffered: list[pa.Table] = []
        self.runs: list[str] = []

    def insert(self, table: pa.Table) -> None:
        self.reserve(table.nbytes)
        self.buffered.append(table)
        if self.compact is not None and len(self.buffered) >= self.COMPACT_EVERY and \
                self._acquire_working_memory(self._working_memory()):
            self._compact()

    def fits_in_memory(self) -> bool:
        """Whether the buffer can be finished in memory: nothing was spilled and the working memory
        of that last step is granted (held until the buffer is closed). Otherwise what is still
        buffered is spilled too, and every row is in ``runs``."""
        if not self.runs and self._acquire_working_memory(self._working_memory()):
            return True
        self.spill(0, self)
        return False

    def _working_memory(self) -> int:
        return int(self.working_memory_factor * self.used)

    def _acquire_working_memory(self, size: int) -> bool:
        """``size`` more bytes for a step over the buffer in memory; False, holding nothing more,
        when they are refused or asking for them made the buffer spill."""
        runs = len(self.runs)
        granted = self.acquire_memory(size)
        if granted == size and len(self.runs) == runs:
            return True
        self.free_memory(granted)
        return False

    def _compact(self) -> None:
        """Replace the buffer by its compacted form and hold exactly its bytes (the working memory goes)."""
        compacted = self.compact(pa.concat_tables(self.buffered, promote_options="permissive"))
        self.buffered = [compacted]
        if compacted.nbytes < self.used:
            self.free_memory(self.used - compacted.nbytes)
        elif compacted.nbytes > self.used:
            self.reserve(compacted.nbytes - self.used)

    def spill(self, size: int, trigger: MemoryConsumer) -> int:
        if not self.buffered:
            return 0
        memory_bytes = sum(t.nbytes for t in self.buffered)
        table = take_in_order(self.buffered, self.sort_indices)
        path = self.ctx.env.block_manager.temp_local_path()
        self.runs.append(path)
        disk_bytes = write_run(path, table)
        del table  # before the memory is released: nothing must outlive its reservation
        record_spill(self.ctx, self.spill_metric, memory_bytes, disk_bytes)
        released = self.used
        self.free_memory(released)
        return released

    def buffered_table(self, schema: pa.Schema) -> pa.Table:
        """Everything buffered, as one table (only when nothing was spilled)."""
        return pa.concat_tables(self.buffered, promote_options="permissive") if self.buffered else schema.empty_table()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.buffered = []
        for path in self.runs:
            if os.path.exists(path):
                os.remove(path)
