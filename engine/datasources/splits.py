"""Planning the read tasks of a file scan: Spark's ``FilePartition`` / ``PartitionedFileUtil``.

Three steps, exactly Spark's (``FileSourceScanExec.createReadRDD``):

1. ``maxSplitBytes = min(maxPartitionBytes, max(openCostInBytes, bytesPerCore))`` where
   ``bytesPerCore = sum(file size + openCostInBytes) // minPartitions`` and ``minPartitions`` is
   ``spark.sql.files.minPartitionNum``, else the default parallelism.
2. Each splittable file is cut into byte ranges of ``maxSplitBytes`` (the last one shorter); a
   file that cannot be split is one range. All ranges, of all files, are sorted by length,
   longest first (a stable sort, so equal lengths keep listing order).
3. Ranges are packed "next fit decreasing": a range goes into the current partition unless that
   would take the partition past ``maxSplitBytes``, in which case the partition is closed first;
   every range also costs ``openCostInBytes``, the price of opening a file.

A byte range of a Parquet file is not a set of rows: the reader keeps the row groups whose
midpoint lies inside the range (parquet-mr's ``filterFileMetaDataByMidpoint``), so each row group
is read by exactly one task and a range may hold none. CSV files are not split here (one range
per file); Spark does split uncompressed CSV at line boundaries, so a very large CSV file is one
task in Ember where Spark would use several.

>>> f = [PartitionedFile("a", 300), PartitionedFile("b", 100)]
>>> [[(s.file.path, s.start, s.length) for s in p.splits]
...  for p in plan_file_partitions(f, max_partition_bytes=200, open_cost_in_bytes=10, min_partitions=1)]
[[('a', 0, 200)], [('a', 200, 100)], [('b', 0, 100)]]
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from engine.catalyst.logical import PartitionedFile

DEFAULT_MAX_PARTITION_BYTES = 128 * 1024 * 1024  # spark.sql.files.maxPartitionBytes
DEFAULT_OPEN_COST_IN_BYTES = 4 * 1024 * 1024  # spark.sql.files.openCostInBytes

MAX_PARTITION_BYTES_KEY = "spark.sql.files.maxPartitionBytes"
OPEN_COST_IN_BYTES_KEY = "spark.sql.files.openCostInBytes"
MIN_PARTITION_NUM_KEY = "spark.sql.files.minPartitionNum"
MAX_PARTITION_NUM_KEY = "spark.sql.files.maxPartitionNum"


@dataclass(frozen=True, slots=True)
class FileSplit:
    """A byte range ``[start, start + length)`` of one file: Spark's ``PartitionedFile``."""

    file: PartitionedFile
    start: int
    length: int

    def __post_init__(self):
        if self.start < 0 or self.length < 0 or self.start + self.length > self.file.size:
            raise ValueError(f"split [{self.start}, {self.start + self.length}) outside {self.file.path} "
                             f"of {self.file.size} bytes")

    @property
    def end(self) -> int:
        return self.start + self.length

    def __str__(self) -> str:
        return f"{self.file.path}, range: {self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class FilePartition:
    """The ranges one read task reads, in order (Spark's ``FilePartition``)."""

    index: int
    splits: tuple[FileSplit, ...]

    @property
    def total_bytes(self) -> int:
        return sum(s.length for s in self.splits)


def max_split_bytes(files: Sequence[PartitionedFile], max_partition_bytes: int = DEFAULT_MAX_PARTITION_BYTES,
                    open_cost_in_bytes: int = DEFAULT_OPEN_COST_IN_BYTES, min_partitions: int | None = None) -> int:
    """Spark's ``FilePartition.maxSplitBytes`` for these files.

    >>> max_split_bytes([PartitionedFile("a", 1000)], 128 << 20, 4 << 20, 2)   # small data: open cost wins
    4194304
    """
    parallelism = min_partitions if min_partitions is not None else default_parallelism()
    if parallelism < 1:
        raise ValueError(f"min_partitions must be positive, got {parallelism}")
    total = sum(f.size + open_cost_in_bytes for f in files)
    bytes_per_core = total // parallelism
    return min(max_partition_bytes, max(open_cost_in_bytes, bytes_per_core))


def split_files(files: Iterable[PartitionedFile], max_split: int,
                splitable: bool | Callable[[PartitionedFile], bool] = True) -> list[FileSplit]:
    """Every file cut into ranges of at most ``max_split`` bytes, longest first (``splitFiles``)."""
    if max_split <= 0:
        raise ValueError(f"max split bytes must be positive, got {max_split}")
    out: list[FileSplit] = []
    for f in files:
        can_split = splitable(f) if callable(splitable) else splitable
        if can_split:
            out.extend(FileSplit(f, start, min(max_split, f.size - start)) for start in range(0, f.size, max_split))
        else:
            out.append(FileSplit(f, 0, f.size))
    out.sort(key=lambda s: s.length, reverse=True)  # stable, as Scala's sortBy
    return out


def pack_splits(splits: Sequence[FileSplit], max_split: int, open_cost_in_bytes: int) -> list[FilePartition]:
    """Spark's ``getFilePartitions``: next-fit packing of ranges already sorted longest first."""
    partitions: list[FilePartition] = []
    current: list[FileSplit] = []
    size = 0
    for s in splits:
        if current and size + s.length > max_split:
            partitions.append(FilePartition(len(partitions), tuple(current)))
            current, size = [], 0
        current.append(s)
        size += s.length + open_cost_in_bytes
    if current:
        partitions.append(FilePartition(len(partitions), tuple(current)))
    return partitions


def plan_file_partitions(files: Sequence[PartitionedFile], max_partition_bytes: int = DEFAULT_MAX_PARTITION_BYTES,
                         open_cost_in_bytes: int = DEFAULT_OPEN_COST_IN_BYTES, min_partitions: int | None = None, *,
                         splitable: bool | Callable[[PartitionedFile], bool] = True,
                         max_partition_num: int | None = None) -> list[FilePartition]:
    """The read tasks for ``files``: split, sort, pack, as Spark plans a file scan.

    ``min_partitions`` defaults to the default parallelism (the machine's cores, as ``local[*]``).
    ``max_partition_num`` is ``spark.sql.files.maxPartitionNum``: when packing gives more
    partitions, the ranges are packed again with ``ceil(sum(length + openCost) / maxPartitionNum)``
    as the size limit, as Spark does.
    """
    max_split = max_split_bytes(files, max_partition_bytes, open_cost_in_bytes, min_partitions)
    ranges = split_files(files, max_split, splitable)
    partitions = pack_splits(ranges, max_split, open_cost_in_bytes)
    if max_partition_num is not None and len(partitions) > max_partition_num:
        total = sum(s.length + open_cost_in_bytes for s in ranges)
        partitions = pack_splits(ranges, math.ceil(total / max_partition_num), open_cost_in_bytes)
    return partitions


def default_parallelism() -> int:
    """``local[*]``'s default parallelism: the number of cores."""
    return os.cpu_count() or 1
