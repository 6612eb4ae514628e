"""Deterministic TPC-H-shaped tables for the benchmarks, generated once per scale factor.

    data = ensure_data(0.1)              # generates on first use, then reuses the cache
    data.path("lineitem")                # .../bench-data/sf0.1/lineitem (a directory of Parquet files)
    data.rows["lineitem"]                # 599_858

Tables (TPC-H column names; value rules follow TPC-H's dbgen closely enough for the benchmark
queries to select the same shares of rows as on real TPC-H data):

* ``customer``   SF * 150,000 rows: c_custkey, c_name, c_nationkey, c_acctbal, c_mktsegment (5 values).
* ``orders``     SF * 1,500,000 rows: o_orderkey sparse as in dbgen (8 of every 32 keys), o_custkey
  never a multiple of 3 (a third of the customers have no orders), o_orderdate uniform over
  1992-01-01 .. 1998-08-02, o_orderstatus derived from its lines, o_totalprice the sum of its lines.
* ``lineitem``   1-7 lines per order (about SF * 6,000,000 rows): l_quantity 1-50,
  l_extendedprice = quantity * the part's retail price, l_discount 0.00-0.10, l_tax 0.00-0.08,
  l_shipdate = orderdate + 1..121 days, l_commitdate, l_receiptdate, l_returnflag (R/A before
  1995-06-17, else N), l_linestatus (O if shipped after 1995-06-17, else F), l_shipinstruct, l_shipmode.
* ``lineitem_skewed``       lineitem with ``HOT_SHARE`` of its rows moved to one order key
  (``HOT_ORDERKEY``): the skewed join.
* ``lineitem_small_files``  lineitem again, in files of ``SMALL_FILE_ROWS`` (10,000) rows, fewer
  at small scale so that there are always about ``MIN_SMALL_FILES`` (64) or more: the small-files read.

Differences from dbgen, on purpose:

* Decimals are float64 (Ember stores decimals as doubles; every engine gets the same types);
  keys are int64, l_linenumber, c_nationkey and o_shippriority int32, dates date32.
* No comment, address or phone columns: no benchmark query reads them.
* Rows are stored in a random (seeded) order, not dbgen's order-key order. Sorted input would let
  the full sort and the order-key group-by skip most of their work; here they must do all of it.

Layout and why:

* ``lineitem``, ``orders`` (and their variants) are ``files_for(rows)`` files: at least 4 (two per
  core of the 2-core reference machine, so file-splitting engines such as Ember and Spark get even
  work per core at small scale), and more above SF 1 to keep files near 1.5M rows.
* Row groups hold at most 1 Mi rows (pyarrow's default; about what Spark writes into 128 MiB
  blocks for lineitem's narrow rows), evenly sized within a file. Big enough that per-row-group
  overheads (footers, batch dispatch, kernel calls) are not what is measured; small enough that
  at SF 1 every lineitem file has two row groups, so engines that parallelise by row group have work for
  both cores. Snappy compression and column statistics, as Spark and DuckDB write by default.
* Each file ``i`` of lineitem and orders holds the orders ``i, i + n, i + 2n, ...`` and their
  lines, generated from its own seed: memory stays per file at any scale, and the output depends
  only on the scale factor and ``GENERATOR_VERSION``.

The cache is ``$EMBER_BENCH_DATA`` (default ``~/.cache/ember/bench-data``) ``/sf<SF>/``. A
dataset is generated into a temporary sibling directory and renamed into place with its
``_MANIFEST.json`` (row counts, version), under a lock, so a crashed or concurrent run never
leaves or reads a half-written dataset. A manifest of another ``GENERATOR_VERSION`` is regenerated.

    python -m benchmarks.datagen --sf 1          # generate SF 1 ahead of a benchmark run
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

GENERATOR_VERSION = 1
SEED = 19920101
DATA_ENV = "EMBER_BENCH_DATA"

ROW_GROUP_MAX_ROWS = 1 << 20
MIN_FILES = 4
ROWS_PER_FILE_TARGET = 1_500_000
SMALL_FILE_ROWS = 10_000
MIN_SMALL_FILES = 64
MAX_SMALL_FILES = 2_000
HOT_SHARE = 0.3
HOT_ORDERKEY = 1  # the first order's key: it exists in ``orders``, so the hot rows all join

TABLES = ("customer", "orders", "lineitem", "lineitem_skewed", "lineitem_small_files")

# dbgen's calendar
START_DATE = dt.date(1992, 1, 1)
CURRENT_DATE = dt.date(1995, 6, 17)
LAST_ORDER_DATE = dt.date(1998, 8, 2)  # ENDDATE (1998-12-31) - 151 days

SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]
PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
SHIP_INSTRUCT = ["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"]
SHIP_MODES = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"]

_EPOCH = dt.date(1970, 1, 1)


def _days(d: dt.date) -> int:
    return (d - _EPOCH).days


@dataclass(frozen=True)
class Sizes:
    """Row counts of the base populations at a scale factor (dbgen's, at least 1 each)."""

    sf: float
    customers: int
    orders: int
    parts: int
    suppliers: int

    @staticmethod
    def of(sf: float) -> Sizes:
        if not sf > 0:
            raise ValueError(f"scale factor must be > 0, got {sf}")

        def scaled(base: int) -> int:
            return max(1, round(sf * base))

        return Sizes(sf, scaled(150_000), scaled(1_500_000), scaled(200_000), scaled(10_000))


def files_for(rows: int) -> int:
    """How many files a big table of ``rows`` rows is written as (see the module docstring)."""
    return max(MIN_FILES, math.ceil(rows / ROWS_PER_FILE_TARGET))


def row_group_size(rows: int) -> int:
    """Evenly sized row groups of at most ``ROW_GROUP_MAX_ROWS`` for a file of ``rows`` rows."""
    if rows <= 0:
        return 1
    return math.ceil(rows / math.ceil(rows / ROW_GROUP_MAX_ROWS))


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([SEED, GENERATOR_VERSION, *key])


def _strings(values: list[str], codes: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(codes.astype(np.int32)))


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), pa.date32())


def _numbered(prefix: str, numbers: np.ndarray, width: int = 9) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def customer(sf: float) -> pa.Table:
    """The customer table (one file's worth: it is small at every benchmark scale)."""
    n = Sizes.of(sf).customers
    rng = _rng(1)
    keys = np.arange(1, n + 1, dtype=np.int64)
    return pa.table({
        "c_custkey": keys,
        "c_name": _numbered("Customer#", keys),
        "c_nationkey": rng.integers(0, 25, n).astype(np.int32),
        "c_acctbal": np.round(rng.uniform(-999.99, 9999.99, n), 2),
        "c_mktsegment": _strings(SEGMENTS, rng.integers(0, len(SEGMENTS), n)),
    })


def orders_and_lineitem(sf: float, part: int, parts: int) -> tuple[pa.Table, pa.Table]:
    """File ``part`` of ``parts`` of orders and of lineitem: orders ``part, part + parts, ...`` and
    their lines, each table in a seeded random row order."""
    size = Sizes.of(sf)
    rng = _rng(2, part)
    index = np.arange(part, size.orders, parts, dtype=np.int64)
    m = len(index)
    orderkey = (index // 8) * 32 + (index % 8) + 1
    with_orders = size.customers - size.customers // 3  # customers whose key is not a multiple of 3
    j = rng.integers(0, max(1, with_orders), m)
    custkey = np.minimum(j + j // 2 + 1, size.customers)
    orderdate = _days(START_DATE) + rng.integers(0, _days(LAST_ORDER_DATE) - _days(START_DATE) + 1, m)
    priority = rng.integers(0, len(PRIORITIES), m)
    clerk = rng.integers(1, max(1, round(sf * 1000)) + 1, m)
    nlines = rng.integers(1, 8, m)

    n = int(nlines.sum())
    line_order = np.repeat(np.arange(m), nlines)
    starts = np.cumsum(nlines) - nlines
    linenumber = (np.arange(n) - np.repeat(starts, nlines) + 1).astype(np.int32)
    partkey = rng.integers(1, size.parts + 1, n)
    s = size.suppliers
    suppkey = (partkey + rng.integers(0, 4, n) * (s // 4 + (partkey - 1) // s)) % s + 1
    quantity = rng.integers(1, 51, n).astype(np.float64)
    retail_price = (90_000 + (partkey // 10) % 20_001 + 100 * (partkey % 1000)) / 100.0
    extendedprice = np.round(quantity * retail_price, 2)
    discount = rng.integers(0, 11, n) / 100.0
    tax = rng.integers(0, 9, n) / 100.0
    line_orderdate = orderdate[line_order]
    shipdate = line_orderdate + rng.integers(1, 122, n)
    commitdate = line_orderdate + rng.integers(30, 91, n)
    receiptdate = shipdate + rng.integers(1, 31, n)
    current = _days(CURRENT_DATE)
    returned = np.where(rng.random(n) < 0.5, 2, 0)  # "R" or "A"
    returnflag = np.where(receiptdate <= current, returned, 1)  # else "N"
    shipped = shipdate <= current
    linestatus = np.where(shipped, 0, 1)  # "F" / "O"
    shipinstruct = rng.integers(0, len(SHIP_INSTRUCT), n)
    shipmode = rng.integers(0, len(SHIP_MODES), n)

    totalprice = np.round(np.bincount(line_order, weights=extendedprice * (1 + tax) * (1 - discount), minlength=m), 2)
    finished = np.bincount(line_order, weights=shipped.astype(np.float64), minlength=m)
    status = np.where(finished == nlines, 0, np.where(finished == 0, 1, 2))  # F, O, P

    order_perm = rng.permutation(m)
    line_perm = rng.permutation(n)
    orders = pa.table({
        "o_orderkey": orderkey,
        "o_custkey": custkey.astype(np.int64),
        "o_orderstatus": _strings(["F", "O", "P"], status),
        "o_totalprice": totalprice,
        "o_orderdate": _dates(orderdate),
        "o_orderpriority": _strings(PRIORITIES, priority),
        "o_clerk": _numbered("Clerk#", clerk),
        "o_shippriority": np.zeros(m, dtype=np.int32),
    }).take(order_perm)
    lineitem = pa.table({
        "l_orderkey": orderkey[line_order],
        "l_partkey": partkey.astype(np.int64),
        "l_suppkey": suppkey.astype(np.int64),
        "l_linenumber": linenumber,
        "l_quantity": quantity,
        "l_extendedprice": extendedprice,
        "l_discount": discount,
        "l_tax": tax,
        "l_returnflag": _strings(["A", "N", "R"], returnflag),
        "l_linestatus": _strings(["F", "O"], linestatus),
        "l_shipdate": _dates(shipdate),
        "l_commitdate": _dates(commitdate),
        "l_receiptdate": _dates(receiptdate),
        "l_shipinstruct": _strings(SHIP_INSTRUCT, shipinstruct),
        "l_shipmode": _strings(SHIP_MODES, shipmode),
    }).take(line_perm)
    return orders, lineitem


def skewed(lineitem: pa.Table, part: int) -> pa.Table:
    """``lineitem`` with a seeded ``HOT_SHARE`` of its rows moved to order ``HOT_ORDERKEY``."""
    rng = _rng(3, part)
    hot = rng.random(lineitem.num_rows) < HOT_SHARE
    keys = np.where(hot, HOT_ORDERKEY, lineitem.column("l_orderkey").to_numpy())
    return lineitem.set_column(0, "l_orderkey", pa.array(keys, pa.int64()))


@dataclass(frozen=True)
class Dataset:
    """A generated dataset: where each table's directory of Parquet files is, and its row counts."""

    sf: float
    root: Path
    rows: dict[str, int] = field(default_factory=dict)

    def path(self, table: str) -> str:
        if table not in TABLES:
            raise KeyError(f"no table {table!r}; the tables are {', '.join(TABLES)}")
        return str(self.root / table)

    def glob(self, table: str) -> str:
        """The table's files as a glob (DuckDB's and Polars' way to name a multi-file table)."""
        return os.path.join(self.path(table), "*.parquet")


def sf_name(sf: float) -> str:
    """The cache directory name of a scale factor: ``sf0.1``, ``sf1``, ``sf0.002``."""
    return f"sf{float(sf):g}"


def data_root() -> Path:
    configured = os.environ.get(DATA_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "ember" / "bench-data"


def ensure_data(sf: float, root: str | Path | None = None) -> Dataset:
    """The dataset at scale factor ``sf``, generating it first if the cache does not hold it."""
    base = Path(root) if root is not None else data_root()
    target = base / sf_name(sf)
    found = _load(target, sf)
    if found is not None:
        return found
    base.mkdir(parents=True, exist_ok=True)
    with _locked(base / f".{sf_name(sf)}.lock"):
        found = _load(target, sf)  # generated by another process while we waited
        if found is not None:
            return found
        tmp = Path(tempfile.mkdtemp(prefix=f".{sf_name(sf)}-", dir=base))
        try:
            rows = write_dataset(sf, tmp)
            _write_manifest(tmp, sf, rows)
            if target.exists():
                shutil.rmtree(target)  # an older generator's data
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    loaded = _load(target, sf)
    assert loaded is not None
    return loaded


def write_dataset(sf: float, root: str | Path) -> dict[str, int]:
    """Write every table at scale factor ``sf`` under ``root``; returns the row counts."""
    root = Path(root)
    for table in TABLES:
        (root / table).mkdir(parents=True, exist_ok=True)
    rows = dict.fromkeys(TABLES, 0)
    cust = customer(sf)
    _write(cust, root / "customer" / "part-00000.parquet")
    rows["customer"] = cust.num_rows
    parts = files_for(Sizes.of(sf).orders * 4)  # lineitem has ~4 lines per order
    small_files = 0
    for part in range(parts):
        orders, lineitem = orders_and_lineitem(sf, part, parts)
        _write(orders, root / "orders" / f"part-{part:05d}.parquet")
        _write(lineitem, root / "lineitem" / f"part-{part:05d}.parquet")
        _write(skewed(lineitem, part), root / "lineitem_skewed" / f"part-{part:05d}.parquet")
        rows["orders"] += orders.num_rows
        rows["lineitem"] += lineitem.num_rows
        rows["lineitem_skewed"] += lineitem.num_rows
        for piece in _pieces(lineitem, _small_file_rows(sf)):
            _write(piece, root / "lineitem_small_files" / f"part-{small_files:05d}.parquet")
            small_files += 1
        rows["lineitem_small_files"] += lineitem.num_rows
    return rows


def _small_file_rows(sf: float) -> int:
    """``SMALL_FILE_ROWS`` per file, fewer when that would make under ``MIN_SMALL_FILES`` files,
    more when it would make over ``MAX_SMALL_FILES``."""
    expected_lines = Sizes.of(sf).orders * 4
    rows = min(SMALL_FILE_ROWS, math.ceil(expected_lines / MIN_SMALL_FILES))
    return max(rows, math.ceil(expected_lines / MAX_SMALL_FILES))


def _pieces(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    for start in range(0, max(table.num_rows, 1), rows):
        yield table.slice(start, rows)


def _write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, row_group_size=row_group_size(table.num_rows), compression="snappy")


def _write_manifest(root: Path, sf: float, rows: dict[str, int]) -> None:
    manifest = {"generator_version": GENERATOR_VERSION, "sf": sf, "seed": SEED, "rows": rows,
                "pyarrow": pa.__version__, "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (root / "_MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")


def _load(root: Path, sf: float) -> Dataset | None:
    try:
        manifest = json.loads((root / "_MANIFEST.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if manifest.get("generator_version") != GENERATOR_VERSION or float(manifest.get("sf", -1)) != float(sf):
        return None
    return Dataset(float(sf), root, dict(manifest["rows"]))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the benchmark tables for a scale factor.")
    parser.add_argument("--sf", type=float, default=float(os.environ.get("EMBER_BENCH_SF", "0.1")))
    parser.add_argument("--root", default=None, help=f"cache root (default ${DATA_ENV} or ~/.cache/ember/bench-data)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = ensure_data(args.sf, args.root)
    print(f"{data.root} ({time.perf_counter() - started:.1f} s)")
    for table, rows in data.rows.items():
        print(f"  {table:22s} {rows:>12,d} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
