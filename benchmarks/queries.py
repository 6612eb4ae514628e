"""The benchmark queries, written once per engine, the engine runners, and ``check_equal``.

    data = datagen.ensure_data(0.1)
    with open_runner("ember", data) as ember, open_runner("duckdb", data) as duck:
        q = QUERIES["q1"]
        ember.prepare(q); duck.prepare(q)        # loads in-memory tables; untimed
        check_equal({"ember": ember.run(q), "duckdb": duck.run(q)}, ordered=q.ordered, query=q.name)

Engines, all on the same Parquet files with the same column types, each pinned to ``THREADS``
(2) threads:

* ``ember``: ``engine.sql`` DataFrames, ``local[2]``;
* ``duckdb``: SQL on a connection with ``threads=2``;
* ``polars``: the lazy API; ``POLARS_MAX_THREADS`` is set to 2 when this module is imported, which
  must happen before polars is first imported (``thread_counts()`` reports what it really got);
* ``pyspark``: the DataFrame API on one warm ``local[2]`` session, reused for every query.

Ember and PySpark share one DataFrame-API function per query (``F`` is the engine's
``functions`` module): Ember's API is PySpark's, so the code is literally the same.

What is timed (``Runner.run``) is the whole query: building it from the files (or the in-memory
table), planning, executing and materialising the complete result as a ``pyarrow.Table``
(``toArrow()``, ``to_arrow_table()``, ``collect().to_arrow()``). The same output handling for
every engine; no engine may stop early because nobody looks at the result.

Engine settings shared by Ember and PySpark: ``spark.sql.shuffle.partitions`` = 2 per thread
(Spark's 200 is tuned for clusters), ``spark.driver.memory`` = 4g (an SF 1 lineitem cached whole
does not fit Spark's default 1g, and a cache spilled to disk is not the in-memory case), the same
``autoBroadcastJoinThreshold`` (Spark's default), event logs off (Spark's default; Ember's
default is on, and writing it is not query work). The skewed join disables broadcasting in both,
since the skew only matters to a shuffled join (Spark's AQE skew-join handling is left on).

Libraries are imported when a runner opens, never at module import, so a one-query process
(``benchmarks.process_times``) pays only for its own engine.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.datagen import Dataset

THREADS = 2
os.environ.setdefault("POLARS_MAX_THREADS", str(THREADS))  # read once, when polars is first imported

ENGINES = ("ember", "duckdb", "polars", "pyspark")
REFERENCE_ENGINE = "duckdb"
SHUFFLE_PARTITIONS = 2 * THREADS
RELATIVE_TOLERANCE = 1e-6

Q1_DATE = dt.date(1998, 9, 2)  # date '1998-12-01' - interval '90' day
Q3_DATE = dt.date(1995, 3, 15)
Q3_SEGMENT = "BUILDING"
Q6_FROM, Q6_UNTIL = dt.date(1994, 1, 1), dt.date(1995, 1, 1)
SORT_COLUMNS = ("l_orderkey", "l_linenumber", "l_partkey", "l_quantity", "l_extendedprice", "l_shipdate")


@dataclass(frozen=True)
class Query:
    """One benchmark query for every engine.

    ``tables`` maps the name the query uses (``lineitem``) to the dataset table it reads
    (``lineitem_skewed``); ``in_memory`` says the tables are loaded into each engine's memory
    before timing. ``sql`` is DuckDB's text with ``{name}`` placeholders for the tables.
    ``spark_conf`` is set on the Ember and PySpark sessions while the query runs.
    """

    name: str
    title: str
    tables: dict[str, str]
    sql: str
    dataframe: Callable  # (tables, F) -> DataFrame, for Ember and PySpark
    polars: Callable  # (tables, pl) -> LazyFrame
    ordered: bool = False
    in_memory: bool = False
    spark_conf: dict[str, str] = field(default_factory=dict)


# ---- TPC-H Q1 ----
Q1_SQL = f"""
SELECT l_returnflag, l_linestatus,
       sum(l_quantity) AS sum_qty,
       sum(l_extendedprice) AS sum_base_price,
       sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
       sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
       avg(l_quantity) AS avg_qty,
       avg(l_extendedprice) AS avg_price,
       avg(l_discount) AS avg_disc,
       count(*) AS count_order
FROM {{lineitem}}
WHERE l_shipdate <= DATE '{Q1_DATE}'
GROUP BY l_returnflag, l_linestatus
ORDER BY l_returnflag, l_linestatus
"""


def q1_dataframe(t, F):
    disc_price = F.col("l_extendedprice") * (1 - F.col("l_discount"))
    return (t["lineitem"].filter(F.col("l_shipdate") <= F.lit(Q1_DATE))
            .groupBy("l_returnflag", "l_linestatus")
            .agg(F.sum("l_quantity").alias("sum_qty"),
                 F.sum("l_extendedprice").alias("sum_base_price"),
                 F.sum(disc_price).alias("sum_disc_price"),
                 F.sum(disc_price * (1 + F.col("l_tax"))).alias("sum_charge"),
                 F.avg("l_quantity").alias("avg_qty"),
                 F.avg("l_extendedprice").alias("avg_price"),
                 F.avg("l_discount").alias("avg_disc"),
                 F.count("*").alias("count_order"))
            .orderBy("l_returnflag", "l_linestatus"))


def q1_polars(t, pl):
    disc_price = pl.col("l_extendedprice") * (1 - pl.col("l_discount"))
    return (t["lineitem"].filter(pl.col("l_shipdate") <= Q1_DATE)
            .group_by("l_returnflag", "l_linestatus")
            .agg(pl.col("l_quantity").sum().alias("sum_qty"),
                 pl.col("l_extendedprice").sum().alias("sum_base_price"),
                 disc_price.sum().alias("sum_disc_price"),
                 (disc_price * (1 + pl.col("l_tax"))).sum().alias("sum_charge"),
                 pl.col("l_quantity").mean().alias("avg_qty"),
                 pl.col("l_extendedprice").mean().alias("avg_price"),
                 pl.col("l_discount").mean().alias("avg_disc"),
                 pl.len().alias("count_order"))
            .sort("l_returnflag", "l_linestatus"))


# ---- TPC-H Q6 ----
Q6_SQL = f"""
SELECT sum(l_extendedprice * l_discount) AS revenue
FROM {{lineitem}}
WHERE l_shipdate >= DATE '{Q6_FROM}' AND l_shipdate < DATE '{Q6_UNTIL}'
  AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24
"""


def q6_dataframe(t, F):
    return (t["lineitem"]
            .filter((F.col("l_shipdate") >= F.lit(Q6_FROM)) & (F.col("l_shipdate") < F.lit(Q6_UNTIL))
                    & (F.col("l_discount") >= 0.05) & (F.col("l_discount") <= 0.07) & (F.col("l_quantity") < 24))
            .agg(F.sum(F.col("l_extendedprice") * F.col("l_discount")).alias("revenue")))


def q6_polars(t, pl):
    return (t["lineitem"]
            .filter((pl.col("l_shipdate") >= Q6_FROM) & (pl.col("l_shipdate") < Q6_UNTIL)
                    & (pl.col("l_discount") >= 0.05) & (pl.col("l_discount") <= 0.07) & (pl.col("l_quantity") < 24))
            .select((pl.col("l_extendedprice") * pl.col("l_discount")).sum().alias("revenue")))


# ---- TPC-H Q3 ----
Q3_SQL = f"""
SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
FROM {{customer}}, {{orders}}, {{lineitem}}
WHERE c_mktsegment = '{Q3_SEGMENT}' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
  AND o_orderdate < DATE '{Q3_DATE}' AND l_shipdate > DATE '{Q3_DATE}'
GROUP BY l_orderkey, o_orderdate, o_shippriority
ORDER BY revenue DESC, o_orderdate
LIMIT 10
"""


def q3_dataframe(t, F):
    customers = t["customer"].filter(F.col("c_mktsegment") == Q3_SEGMENT).select("c_custkey")
    orders = (t["orders"].filter(F.col("o_orderdate") < F.lit(Q3_DATE))
              .select("o_orderkey", "o_custkey", "o_orderdate", "o_shippriority"))
    lines = (t["lineitem"].filter(F.col("l_shipdate") > F.lit(Q3_DATE))
             .select("l_orderkey", "l_extendedprice", "l_discount"))
    joined = (customers.join(orders, F.col("c_custkey") == F.col("o_custkey"))
              .join(lines, F.col("l_orderkey") == F.col("o_orderkey")))
    return (joined.groupBy("l_orderkey", "o_orderdate", "o_shippriority")
            .agg(F.sum(F.col("l_extendedprice") * (1 - F.col("l_discount"))).alias("revenue"))
            .select("l_orderkey", "revenue", "o_orderdate", "o_shippriority")
            .orderBy(F.desc("revenue"), F.asc("o_orderdate"))
            .limit(10))


def q3_polars(t, pl):
    customers = t["customer"].filter(pl.col("c_mktsegment") == Q3_SEGMENT).select("c_custkey")
    orders = (t["orders"].filter(pl.col("o_orderdate") < Q3_DATE)
              .select("o_orderkey", "o_custkey", "o_orderdate", "o_shippriority"))
    lines = (t["lineitem"].filter(pl.col("l_shipdate") > Q3_DATE)
             .select("l_orderkey", "l_extendedprice", "l_discount"))
    joined = (customers.join(orders, left_on="c_custkey", right_on="o_custkey")
              .join(lines, left_on="o_orderkey", right_on="l_orderkey"))
    return (joined.group_by(pl.col("o_orderkey").alias("l_orderkey"), "o_orderdate", "o_shippriority")
            .agg((pl.col("l_extendedprice") * (1 - pl.col("l_discount"))).sum().alias("revenue"))
            .select("l_orderkey", "revenue", "o_orderdate", "o_shippriority")
            .sort(["revenue", "o_orderdate"], descending=[True, False])
            .head(10))


# ---- high-cardinality group-by: one group per order (SF * 1.5M groups) ----
GROUPBY_SQL = """
SELECT l_orderkey, sum(l_extendedprice) AS sum_price, sum(l_quantity) AS sum_qty, count(*) AS lines
FROM {lineitem}
GROUP BY l_orderkey
"""


def groupby_dataframe(t, F):
    return t["lineitem"].groupBy("l_orderkey").agg(
        F.sum("l_extendedprice").alias("sum_price"), F.sum("l_quantity").alias("sum_qty"),
        F.count("*").alias("lines"))


def groupby_polars(t, pl):
    return t["lineitem"].group_by("l_orderkey").agg(
        pl.col("l_extendedprice").sum().alias("sum_price"), pl.col("l_quantity").sum().alias("sum_qty"),
        pl.len().alias("lines"))


# ---- full sort of lineitem; the whole sorted result is materialised ----
SORT_SQL = f"""
SELECT {", ".join(SORT_COLUMNS)}
FROM {{lineitem}}
ORDER BY l_orderkey, l_linenumber
"""


def sort_dataframe(t, F):
    return t["lineitem"].select(*SORT_COLUMNS).orderBy("l_orderkey", "l_linenumber")


def sort_polars(t, pl):
    return t["lineitem"].select(*SORT_COLUMNS).sort("l_orderkey", "l_linenumber")


# ---- skewed join: HOT_SHARE of the lines on one order key, joined to every order ----
SKEWED_SQL = """
SELECT o_orderpriority, count(*) AS lines, sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM {lineitem} JOIN {orders} ON l_orderkey = o_orderkey
GROUP BY o_orderpriority
ORDER BY o_orderpriority
"""


def skewed_dataframe(t, F):
    orders = t["orders"].select("o_orderkey", "o_orderpriority")
    return (t["lineitem"].join(orders, F.col("l_orderkey") == F.col("o_orderkey"))
            .groupBy("o_orderpriority")
            .agg(F.count("*").alias("lines"),
                 F.sum(F.col("l_extendedprice") * (1 - F.col("l_discount"))).alias("revenue"))
            .orderBy("o_orderpriority"))


def skewed_polars(t, pl):
    orders = t["orders"].select("o_orderkey", "o_orderpriority")
    return (t["lineitem"].join(orders, left_on="l_orderkey", right_on="o_orderkey")
            .group_by("o_orderpriority")
            .agg(pl.len().alias("lines"),
                 (pl.col("l_extendedprice") * (1 - pl.col("l_discount"))).sum().alias("revenue"))
            .sort("o_orderpriority"))


_LINEITEM = {"lineitem": "lineitem"}
QUERIES: dict[str, Query] = {q.name: q for q in (
    Query("q1", "TPC-H Q1 (Parquet)", _LINEITEM, Q1_SQL, q1_dataframe, q1_polars, ordered=True),
    Query("q1_memory", "TPC-H Q1 (in memory)", _LINEITEM, Q1_SQL, q1_dataframe, q1_polars, ordered=True,
          in_memory=True),
    Query("q6", "TPC-H Q6 (Parquet)", _LINEITEM, Q6_SQL, q6_dataframe, q6_polars),
    Query("q6_memory", "TPC-H Q6 (in memory)", _LINEITEM, Q6_SQL, q6_dataframe, q6_polars, in_memory=True),
    Query("q3", "TPC-H Q3 (Parquet)", {"customer": "customer", "orders": "orders", "lineitem": "lineitem"},
          Q3_SQL, q3_dataframe, q3_polars, ordered=True),
    Query("groupby_orderkey", "group by l_orderkey: sum, sum, count", _LINEITEM, GROUPBY_SQL,
          groupby_dataframe, groupby_polars),
    Query("sort_lineitem", "ORDER BY l_orderkey, l_linenumber (6 columns)", _LINEITEM, SORT_SQL,
          sort_dataframe, sort_polars, ordered=True),
    Query("join_skewed", "lineitem_skewed JOIN orders, one hot key",
          {"lineitem": "lineitem_skewed", "orders": "orders"},
          SKEWED_SQL, skewed_dataframe, skewed_polars, ordered=True,
          spark_conf={"spark.sql.autoBroadcastJoinThreshold": "-1"}),
    Query("q6_small_files", "TPC-H Q6 over small files", {"lineitem": "lineitem_small_files"}, Q6_SQL,
          q6_dataframe, q6_polars),
)}


def select_queries(names: list[str] | tuple[str, ...] | str | None) -> list[Query]:
    """The named queries (all when ``names`` is empty); an unknown name raises, listing the known."""
    if not names:
        return list(QUERIES.values())
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    unknown = [n for n in names if n not in QUERIES]
    if unknown:
        raise KeyError(f"unknown queries {unknown}; the queries are {', '.join(QUERIES)}")
    return [QUERIES[n] for n in names]


# ---- runners ----
class Runner:
    """One engine, open on one dataset: ``prepare(query)`` untimed, then ``run(query)`` timed."""

    name = ""

    def __init__(self, data: Dataset):
        self.data = data

    def prepare(self, query: Query) -> None:
        """Load what the query needs into memory when it is an in-memory query (not timed)."""

    def run(self, query: Query) -> pa.Table:
        raise NotImplementedError

    def versions(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _SparkAPIRunner(Runner):
    """Ember and PySpark: the same DataFrame code; only the session and ``F`` differ."""

    def __init__(self, data: Dataset):
        super().__init__(data)
        self.spark, self.F = self._session()
        self._memory: dict[str, object] = {}

    def _session(self):
        raise NotImplementedError

    def _tables(self, query: Query) -> dict:
        if query.in_memory:
            return {name: self._memory[table] for name, table in query.tables.items()}
        return {name: self.spark.read.parquet(self.data.path(table)) for name, table in query.tables.items()}

    def prepare(self, query: Query) -> None:
        if not query.in_memory:
            return
        for table in query.tables.values():
            if table not in self._memory:
                df = self.spark.read.parquet(self.data.path(table)).cache()
                df.count()  # materialises every partition of the cache
                self._memory[table] = df

    def run(self, query: Query) -> pa.Table:
        saved = {key: self.spark.conf.get(key, None) for key in query.spark_conf}
        for key, value in query.spark_conf.items():
            self.spark.conf.set(key, value)
        try:
            return query.dataframe(self._tables(query), self.F).toArrow()
        finally:
            for key, value in saved.items():
                if value is None:
                    self.spark.conf.unset(key)
                else:
                    self.spark.conf.set(key, value)

    def _release_memory(self) -> None:
        for df in self._memory.values():
            df.unpersist()
        self._memory.clear()


class EmberRunner(_SparkAPIRunner):
    name = "ember"
    CONF = {
        "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
        "spark.driver.memory": "4g",
        "spark.eventLog.enabled": "false",
    }

    def _session(self):
        from engine.sql import SparkSession
        from engine.sql import functions as F

        options = {"spark.master": f"local[{THREADS}]", "spark.app.name": "ember-bench", **self.CONF}
        active = SparkSession._active  # a session the caller already runs (the tests' fixture)
        self._borrowed = active is not None and not active._stopped
        # getOrCreate() sets the options on a running session: put its own values back on close
        self._saved = {k: active.conf.get(k, None) for k in options} if self._borrowed else {}
        spark = SparkSession.builder.config(conf=options).getOrCreate()
        if self._borrowed and spark.slots != THREADS:
            raise RuntimeError(f"an Ember session with {spark.slots} task slots is already running; "
                               f"the benchmarks need local[{THREADS}]")
        return spark, F

    def versions(self) -> dict[str, str]:
        from engine.codegen.jit import NUMBA_VERSION

        return {"ember": self.spark.version, "numba": NUMBA_VERSION, "threads": str(self.spark.slots)}

    def close(self) -> None:
        self._release_memory()
        if self._borrowed:
            for key, value in self._saved.items():
                if value is None:
                    self.spark.conf.unset(key)
                else:
                    self.spark.conf.set(key, value)
        else:
            self.spark.stop()


class PySparkRunner(_SparkAPIRunner):
    name = "pyspark"
    CONF = {
        "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
        "spark.driver.memory": "4g",
        "spark.driver.maxResultSize": "0",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }

    def _session(self):
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F

        builder = SparkSession.builder.master(f"local[{THREADS}]").appName("ember-bench")
        for key, value in self.CONF.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark, F

    def versions(self) -> dict[str, str]:
        return {"pyspark": self.spark.version, "threads": str(self.spark.sparkContext.defaultParallelism)}

    def close(self) -> None:
        self._release_memory()
        self.spark.stop()


class DuckDBRunner(Runner):
    name = "duckdb"

    def __init__(self, data: Dataset):
        super().__init__(data)
        import duckdb

        self._duckdb = duckdb
        self.con = duckdb.connect(config={"threads": THREADS})
        self._memory: set[str] = set()

    def _relation(self, table: str, in_memory: bool) -> str:
        return f"mem_{table}" if in_memory else f"read_parquet('{self.data.glob(table)}')"

    def prepare(self, query: Query) -> None:
        if not query.in_memory:
            return
        for table in query.tables.values():
            if table not in self._memory:
                self.con.execute(f"CREATE TABLE mem_{table} AS SELECT * FROM read_parquet('{self.data.glob(table)}')")
                self._memory.add(table)

    def run(self, query: Query) -> pa.Table:
        sql = query.sql.format(**{name: self._relation(table, query.in_memory) for name, table in query.tables.items()})
        return self.con.sql(sql).to_arrow_table()

    def versions(self) -> dict[str, str]:
        threads = self.con.sql("SELECT current_setting('threads')").fetchall()[0][0]
        return {"duckdb": self._duckdb.__version__, "threads": str(threads)}

    def close(self) -> None:
        self.con.close()


class PolarsRunner(Runner):
    name = "polars"

    def __init__(self, data: Dataset):
        super().__init__(data)
        import polars as pl

        self.pl = pl
        self._memory: dict[str, object] = {}

    def prepare(self, query: Query) -> None:
        if not query.in_memory:
            return
        for table in query.tables.values():
            if table not in self._memory:
                self._memory[table] = self.pl.read_parquet(self.data.glob(table))

    def _tables(self, query: Query) -> dict:
        if query.in_memory:
            return {name: self._memory[table].lazy() for name, table in query.tables.items()}
        return {name: self.pl.scan_parquet(self.data.glob(table)) for name, table in query.tables.items()}

    def run(self, query: Query) -> pa.Table:
        return query.polars(self._tables(query), self.pl).collect().to_arrow()

    def versions(self) -> dict[str, str]:
        return {"polars": self.pl.__version__, "threads": str(self.pl.thread_pool_size())}

    def close(self) -> None:
        self._memory.clear()


RUNNERS: dict[str, type[Runner]] = {
    "ember": EmberRunner, "duckdb": DuckDBRunner, "polars": PolarsRunner, "pyspark": PySparkRunner,
}


def open_runner(engine: str, data: Dataset) -> Runner:
    """A runner for ``engine`` (one of ``ENGINES``) on ``data``; close it (or use ``with``) when done."""
    if engine not in RUNNERS:
        raise KeyError(f"unknown engine {engine!r}; the engines are {', '.join(ENGINES)}")
    return RUNNERS[engine](data)


def run_standalone(engine: str, query: str, data_root: str, sf: float) -> pa.Table:
    """Open ``engine``, run one query, close: the body of the one-query process that
    ``benchmarks.process_times`` times."""
    data = Dataset(sf, Path(data_root))
    q = QUERIES[query]
    with open_runner(engine, data) as runner:
        runner.prepare(q)
        result = runner.run(q)
    if engine == "ember":   # a first run on this cache starts the Parquet decoder's compile: let it end
        from engine.datasources.page_decoder_compile import wait_for_background_compile

        wait_for_background_compile()
    return result


# ---- comparing results ----
class ResultMismatch(AssertionError):
    """Engines disagree on a query's result. ``engines`` names those that differ from the reference."""

    def __init__(self, query: str, reference: str, engines: list[str], message: str):
        super().__init__(message)
        self.query = query
        self.reference = reference
        self.engines = engines


def normalize(table: pa.Table) -> pa.Table:
    """One type per kind of value, so engines compare on values: integers as int64, floats as
    float64, strings as utf8 (dictionaries decoded), dates as date32."""
    columns = []
    for column in table.columns:
        t = column.type
        if pa.types.is_dictionary(t):
            column = column.cast(t.value_type)
            t = column.type
        if pa.types.is_integer(t):
            column = column.cast(pa.int64())
        elif pa.types.is_floating(t) or pa.types.is_decimal(t):
            column = column.cast(pa.float64())
        elif pa.types.is_large_string(t) or pa.types.is_string_view(t):
            column = column.cast(pa.string())
        elif pa.types.is_date(t):
            column = column.cast(pa.date32())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def check_equal(results: dict[str, pa.Table], ordered: bool = False, query: str = "",
                reference: str | None = None) -> None:
    """Raise ``ResultMismatch`` unless every engine's result equals the reference engine's
    (DuckDB when present, else the first): same column names, same row count, the same values
    row by row — after sorting by every column unless ``ordered`` (the query's ORDER BY makes the
    order part of the result) — with floats equal to ``RELATIVE_TOLERANCE`` relative.

    The message names the engines that differ and shows the first differing rows of each.
    """
    if not results:
        return
    ref = reference or (REFERENCE_ENGINE if REFERENCE_ENGINE in results else next(iter(results)))
    expected = _prepared(results[ref], ordered)
    problems, wrong = [], []
    for engine, table in results.items():
        if engine == ref:
            continue
        problem = _difference(expected, _prepared(table, ordered), ref, engine)
        if problem:
            wrong.append(engine)
            problems.append(problem)
    if wrong:
        title = f"{query}: " if query else ""
        raise ResultMismatch(query, ref, wrong,
                             f"{title}{', '.join(wrong)} differ{'s' if len(wrong) == 1 else ''} from {ref}\n"
                             + "\n".join(problems))


def _prepared(table: pa.Table, ordered: bool) -> pa.Table:
    table = normalize(table)
    if not ordered and table.num_rows > 1 and table.num_columns:
        table = table.sort_by([(name, "ascending") for name in table.column_names])
    return table


def _difference(expected: pa.Table, actual: pa.Table, ref: str, engine: str, show: int = 5) -> str | None:
    if expected.column_names != actual.column_names:
        return f"  columns: {ref} {expected.column_names}, {engine} {actual.column_names}"
    rows = min(expected.num_rows, actual.num_rows)
    same = np.ones(rows, dtype=bool)
    for a, b in zip(expected.columns, actual.columns):
        same &= _equal_values(a.slice(0, rows), b.slice(0, rows))
    differing = np.flatnonzero(~same)
    if expected.num_rows == actual.num_rows and not len(differing):
        return None
    lines = []
    if expected.num_rows != actual.num_rows:
        lines.append(f"  rows: {ref} {expected.num_rows}, {engine} {actual.num_rows}")
    if len(differing):
        lines.append(f"  {len(differing)} of the first {rows} rows differ; the first {min(show, len(differing))}:")
        for i in differing[:show]:
            lines.append(f"    row {i}:")
            lines.append(f"      {ref:8s} {_row(expected, i)}")
            lines.append(f"      {engine:8s} {_row(actual, i)}")
    elif expected.num_rows != actual.num_rows:
        longer, name = (expected, ref) if expected.num_rows > actual.num_rows else (actual, engine)
        lines.append(f"  the first {show} extra rows of {name}:")
        for i in range(rows, min(rows + show, longer.num_rows)):
            lines.append(f"    row {i}: {_row(longer, i)}")
    return f"  {engine} vs {ref}:\n" + "\n".join(lines)


def _equal_values(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_floating(a.type) and pa.types.is_floating(b.type):
        x = a.to_numpy(zero_copy_only=False).astype(np.float64)
        y = b.to_numpy(zero_copy_only=False).astype(np.float64)
        both_missing = np.isnan(x) & np.isnan(y)  # nulls come out as NaN
        with np.errstate(invalid="ignore"):
            close = np.abs(x - y) <= RELATIVE_TOLERANCE * np.maximum(np.abs(x), np.abs(y))
        return both_missing | close | (x == y)
    if a.type != b.type:
        return np.zeros(len(a), dtype=bool)
    equal = pc.fill_null(pc.equal(a, b), False)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    return pc.or_(equal, both_null).to_numpy(zero_copy_only=False).astype(bool)


def _row(table: pa.Table, i: int) -> dict:
    return {name: column[int(i)].as_py() for name, column in zip(table.column_names, table.columns)}


def thread_counts(runners: dict[str, Runner]) -> dict[str, str]:
    """How many threads each open engine really uses (Polars may have been imported before us)."""
    return {name: runner.versions().get("threads", "?") for name, runner in runners.items()}
