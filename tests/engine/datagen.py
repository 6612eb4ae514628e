"""Deterministic test tables with nulls, several files and row groups, written as real Parquet."""
from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def _with_nulls(rng, values: np.ndarray, share: float) -> pa.Array:
    return pa.array(values, mask=rng.random(len(values)) < share)


def facts(n: int = 3000, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    days = np.array([dt.date(2024, 1, 1) + dt.timedelta(days=int(i)) for i in rng.integers(0, 700, n)])
    return pa.table({
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "k": _with_nulls(rng, rng.integers(-3, 12, n).astype(np.int32), 0.1),
        "s": _with_nulls(rng, np.array(["apple", "Banana", "cherry", "date", "élan", ""])[rng.integers(0, 6, n)], 0.1),
        "d": _with_nulls(rng, np.round(rng.normal(50, 30, n), 3), 0.1),
        "day": _with_nulls(rng, days, 0.05),
        "flag": _with_nulls(rng, rng.random(n) < 0.5, 0.1),
    })


def dims(n: int = 20, seed: int = 2) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({
        "k": _with_nulls(rng, np.arange(-5, n - 5).astype(np.int32), 0.1),
        "name": pa.array([f"name-{i}" for i in range(n)]),
        "w": pa.array(np.round(rng.uniform(0, 100, n), 2)),
    })


def write_parquet(table: pa.Table, directory: str, files: int = 3, row_group_size: int = 400) -> str:
    """``table`` split over ``files`` Parquet files of several row groups each."""
    os.makedirs(directory, exist_ok=True)
    step = -(-table.num_rows // files) if table.num_rows else 0
    for i in range(files):
        part = table.slice(i * step, step) if step else table
        pq.write_table(part, os.path.join(directory, f"part-{i:05d}.parquet"), row_group_size=row_group_size)
    return directory
