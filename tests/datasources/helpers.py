"""Small builders for the data source tests."""
from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq

from engine.catalyst.logical import PartitionedFile


def touch(path: str, content: str | bytes = "x\n") -> str:
    """Create ``path`` (and its directories) holding ``content``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content)
    return path


def write_parquet(path: str, table: pa.Table, **kwargs) -> PartitionedFile:
    """Write ``table`` with pyarrow and return it as a PartitionedFile."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path, **kwargs)
    return PartitionedFile(path, os.path.getsize(path))


def rel(root: str, files) -> list[str]:
    """File paths relative to ``root``, for readable assertions."""
    return [os.path.relpath(f.path, root) for f in files]
