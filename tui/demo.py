"""The demo workload behind ``make demo``: generated data with three classic problems, run on Ember.

- a skewed join: 40% of the orders belong to one customer, and the join is shuffled. AQE (on, as by
  default) hides this one on two cores: it coalesces the shuffle partitions until about two tasks'
  worth remain, so no task stands out;
- the same skew where AQE cannot help: the orders exported as CSV by customer with
  ``repartition(32, "customer_id")``, a common way to keep each customer's rows in one file. AQE never
  splits or coalesces a partition count the code asked for, so one task writes 40% of the rows;
- a wide aggregation over every (customer, day) pair;
- a read of hundreds of tiny Parquet files.
The data is deterministic (fixed seeds) and generated once into ``demo-data/``.
"""
from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import Progress

ORDERS = 2_000_000
CUSTOMERS = 200_000
SMALL_FILES = 300
HOT_CUSTOMER_SHARE = 0.4
OUTPUT_FILES = 32


def generate(root: str, progress: Progress | None = None) -> None:
    """Write the demo tables under ``root`` unless they are there already."""
    marker = os.path.join(root, "_GENERATED")
    if os.path.exists(marker):
        return
    rng = np.random.default_rng(7)
    steps = 2 + SMALL_FILES
    task = progress.add_task("generating demo data", total=steps) if progress else None

    def advance():
        if progress:
            progress.advance(task)

    customers = pa.table({
        "customer_id": np.arange(CUSTOMERS, dtype=np.int64),
        "segment": pa.array(np.array(["retail", "wholesale", "online", "partner"])[rng.integers(0, 4, CUSTOMERS)]),
        "country": pa.array(np.array(["DE", "FR", "US", "JP", "BR", "IN"])[rng.integers(0, 6, CUSTOMERS)]),
    })
    os.makedirs(os.path.join(root, "customers"), exist_ok=True)
    pq.write_table(customers, os.path.join(root, "customers", "part-0.parquet"))
    advance()

    hot = rng.random(ORDERS) < HOT_CUSTOMER_SHARE
    customer = np.where(hot, 0, rng.integers(1, CUSTOMERS, ORDERS))
    orders = pa.table({
        "order_id": np.arange(ORDERS, dtype=np.int64),
        "customer_id": customer.astype(np.int64),
        "amount": np.round(rng.gamma(2.0, 40.0, ORDERS), 2),
        "order_date": pa.array((np.datetime64("2026-01-01") + rng.integers(0, 365, ORDERS)).astype("datetime64[D]")),
    })
    os.makedirs(os.path.join(root, "orders"), exist_ok=True)
    pq.write_table(orders, os.path.join(root, "orders", "part-0.parquet"), row_group_size=100_000)
    advance()

    events_dir = os.path.join(root, "events")
    os.makedirs(events_dir, exist_ok=True)
    for i in range(SMALL_FILES):
        n = 50
        pq.write_table(pa.table({
            "event_id": np.arange(i * n, (i + 1) * n, dtype=np.int64),
            "customer_id": rng.integers(0, CUSTOMERS, n).astype(np.int64),
            "kind": pa.array(np.array(["view", "click", "buy"])[rng.integers(0, 3, n)]),
        }), os.path.join(events_dir, f"part-{i:05d}.parquet"))
        advance()
    open(marker, "w").close()


def run(spark, root: str) -> None:
    """The demo job: the workloads, each one action, as a user would write them."""
    from engine.sql import functions as F

    orders = spark.read.parquet(os.path.join(root, "orders"))
    customers = spark.read.parquet(os.path.join(root, "customers"))
    by_segment = (orders.join(customers, "customer_id")
                  .groupBy("segment").agg(F.sum("amount").alias("revenue"), F.count("*").alias("orders"))
                  .orderBy(F.desc("revenue")))
    by_segment.show()

    orders.repartition(OUTPUT_FILES, "customer_id").write.mode("overwrite").csv(
        os.path.join(root, "export", "orders_by_customer"), header=True)

    daily = (orders.groupBy("customer_id", "order_date")
             .agg(F.sum("amount").alias("spent"), F.max("amount").alias("largest")))
    print(f"customer-days: {daily.count()}")

    events = spark.read.parquet(os.path.join(root, "events"))
    events.groupBy("kind").count().orderBy("kind").show()
