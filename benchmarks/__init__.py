"""Ember's benchmark suite: generated TPC-H-shaped data, the same queries on Ember, DuckDB, Polars
and PySpark, results compared before anything is timed.

- ``benchmarks.datagen``: the deterministic data generator and its on-disk cache.
- ``benchmarks.queries``: the queries for every engine, the engine runners and ``check_equal``.
- ``benchmarks.process_times``: cold kernel compiles and whole-process times, in subprocesses.
- ``benchmarks/test_*.py``: pytest-benchmark suites (``make bench``); ``tui.bench.run_bench`` is
  the interleaved runner behind ``ember bench``.
"""
