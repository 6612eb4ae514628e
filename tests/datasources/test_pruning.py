"""Row-group skipping: it does skip, and it never drops a row the filter would keep.

The property test writes random data to real Parquet files with small row groups, pushes a random
predicate, and compares "filter the rows that were read" with "filter every row" (a plain pyarrow
evaluation of the predicate in SQL's three-valued logic): equal means no matching row was lost.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import tempfile

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.catalyst.expressions import (
    And,
    AttributeReference,
    Comparison,
    In,
    IsNotNull,
    IsNull,
    Literal,
    Not,
    Or,
)
from engine.catalyst.logical import PartitionedFile
from engine.datasources.parquet import read_parquet_split
from engine.datasources.pruning import ColumnStats, might_match
from engine.datasources.splits import FileSplit
from engine.sql.types import BooleanType, DateType, DoubleType, LongType, StringType

I = AttributeReference("i", LongType())
F = AttributeReference("f", DoubleType())
S = AttributeReference("s", StringType())
D = AttributeReference("d", DateType())
B = AttributeReference("b", BooleanType())
COLUMNS = [("rid", pa.int64(), "rid"), ("i", pa.int64(), "i"), ("f", pa.float64(), "f"), ("s", pa.string(), "s"),
           ("d", pa.date32(), "d"), ("b", pa.bool_(), "b")]


def lit(v, t=None):
    return Literal(v, t) if t is not None else Literal.of(v)


def stats(lo, hi, nulls=0, n=10, floating=False):
    return lambda _: ColumnStats(lo, hi, nulls, n, floating)


def test_comparisons_against_min_max():
    s = stats(10, 20)
    assert not might_match(Comparison(">", I, lit(20)), s)
    assert might_match(Comparison(">=", I, lit(20)), s)
    assert not might_match(Comparison("<", I, lit(10)), s)
    assert not might_match(Comparison("=", I, lit(21)), s)
    assert not might_match(Comparison("<", lit(5), I), stats(0, 5))  # 5 < i  ==  i > 5
    assert not might_match(In(I, (lit(1), lit(30), Literal(None, LongType()))), s)
    assert might_match(In(I, (lit(1), lit(15))), s)
    assert not might_match(Comparison("=", I, Literal(None, LongType())), s)
    assert not might_match(Not(Comparison("=", I, lit(7))), stats(7, 7))
    assert not might_match(Not(Comparison("=", I, lit(7))), stats(7, 7, nulls=3))  # NOT (null = 7) is null
    assert might_match(Not(Comparison("=", I, lit(7))), stats(7, 8))
    assert not might_match(And(Comparison(">", I, lit(15)), Comparison(">", I, lit(25))), s)
    # each conjunct is judged alone: a contradiction between them is left to the Filter (as in Spark)
    assert might_match(And(Comparison(">", I, lit(15)), Comparison("<", I, lit(12))), s)
    assert might_match(Or(Comparison(">", I, lit(15)), Comparison("<", I, lit(12))), s)
    assert not might_match(Not(Or(Comparison("<=", I, lit(20)), IsNull(I))), s)


def test_nulls_and_unknowns():
    assert not might_match(IsNull(I), stats(1, 2, nulls=0))
    assert might_match(IsNull(I), stats(1, 2, nulls=1))
    assert not might_match(IsNotNull(I), stats(None, None, nulls=10, n=10))
    assert not might_match(Comparison("=", I, lit(1)), stats(None, None, nulls=10, n=10))
    assert might_match(Comparison("<=>", I, Literal(None, LongType())), stats(None, None, nulls=10, n=10))
    assert might_match(Comparison(">", I, lit(100)), lambda _: None)  # no statistics: read it
    assert might_match(Comparison(">", I, lit("x")), stats(1, 2))  # types that do not compare: read it
    assert not might_match(Literal(False, BooleanType()), stats(1, 2))


def test_floats_keep_nan_candidates_and_compare_as_floats():
    s = stats(1.0, 2.0, floating=True)
    assert might_match(Comparison(">", F, lit(5.0)), s)  # NaN > 5 in Spark, and NaN is not in the stats
    assert not might_match(Comparison("<", F, lit(0.5)), s)
    assert might_match(Comparison("=", F, lit(float("nan"))), s)
    assert might_match(Not(Comparison("<", F, lit(5.0))), s)
    # a long column against a double literal compares in doubles, as the engine will
    big = 2**53 + 1
    assert might_match(Comparison("=", I, lit(float(2**53))), stats(big, big))
    # decimal statistics are compared as the float64 values Ember holds
    from decimal import Decimal
    assert might_match(Comparison("=", F, lit(0.1)), stats(Decimal("0.1"), Decimal("0.1")))


def test_timestamps_with_zone_and_dates():
    utc = dt.timezone.utc
    ts = AttributeReference("t", DateType())
    s = stats(dt.datetime(2024, 1, 1, tzinfo=utc), dt.datetime(2024, 1, 2, tzinfo=utc))
    assert not might_match(Comparison(">", ts, Literal(dt.datetime(2024, 1, 3), None)), s)
    assert might_match(Comparison(">", ts, Literal(dt.date(2024, 1, 3), DateType())), s)  # date vs timestamp: unsure
    assert not might_match(Comparison("<", D, lit(dt.date(2023, 1, 1))), stats(dt.date(2024, 1, 1), dt.date(2024, 2, 1)))


def test_sorted_data_skips_row_groups_and_reads_fewer_bytes(tmp_path):
    path = str(tmp_path / "sorted.parquet")
    n = 1000
    pq.write_table(pa.table({"i": pa.array(range(n), pa.int64()), "s": [f"v{k:04d}" for k in range(n)]}), path,
                   row_group_size=100)
    f = PartitionedFile(path, os.path.getsize(path))
    split = [FileSplit(f, 0, f.size)]
    cols = [("i", pa.int64(), "_1"), ("s", pa.string(), "_2")]

    everything, full = read_parquet_split(split, cols)
    table, m = read_parquet_split(split, cols, pushed_filters=(Comparison(">=", I, lit(950)),))
    assert (full.row_groups_total, full.row_groups_skipped, full.records_read) == (10, 0, 1000)
    assert (m.row_groups_total, m.row_groups_skipped, m.records_read, m.files_read) == (10, 9, 100, 1)
    assert table.column("_1").to_pylist() == list(range(900, 1000))
    md = pq.ParquetFile(path).metadata
    assert m.bytes_read == sum(md.row_group(9).column(c).total_compressed_size for c in range(2))
    assert full.bytes_read == sum(md.row_group(g).column(c).total_compressed_size for g in range(10) for c in range(2))

    # a filter on the string column, and on a column that is not read
    _, m = read_parquet_split(split, cols[:1], pushed_filters=(Comparison("<", S, lit("v0100")),))
    assert m.row_groups_skipped == 9
    # nothing can match: no row group read, no file read
    t, m = read_parquet_split(split, cols, pushed_filters=(Comparison(">", I, lit(5000)),))
    assert (t.num_rows, t.column_names, m.files_read, m.bytes_read) == (0, ["_1", "_2"], 0, 0)


# ---------------------------------------------------------------------------------------------
# property: pruning never drops a matching row

small_ints = st.integers(-20, 20)
row = st.fixed_dictionaries({
    "i": st.one_of(st.none(), small_ints, st.integers(-(2**62), 2**62)),
    "f": st.one_of(st.none(), st.floats(-30, 30, allow_nan=False), st.just(float("nan")), st.just(-0.0)),
    "s": st.one_of(st.none(), st.text("abcé", max_size=3)),
    "d": st.one_of(st.none(), st.dates(dt.date(2023, 12, 25), dt.date(2024, 1, 10))),
    "b": st.one_of(st.none(), st.booleans()),
})


def literal_for(attr):
    if attr is I:
        return st.one_of(small_ints.map(lambda v: Literal.of(v)), st.floats(-21, 21, allow_nan=False).map(Literal.of),
                         st.just(Literal(None, LongType())))
    if attr is F:
        return st.one_of(st.floats(-31, 31).map(Literal.of), small_ints.map(Literal.of))
    if attr is S:
        return st.text("abcé", max_size=3).map(Literal.of)
    if attr is D:
        return st.dates(dt.date(2023, 12, 20), dt.date(2024, 1, 15)).map(Literal.of)
    return st.booleans().map(Literal.of)


@st.composite
def leaf(draw):
    attr = draw(st.sampled_from([I, F, S, D, B]))
    kind = draw(st.sampled_from(["cmp", "cmp", "cmp", "null", "notnull", "in"]))
    if kind == "null":
        return IsNull(attr)
    if kind == "notnull":
        return IsNotNull(attr)
    if kind == "in":
        return In(attr, tuple(draw(st.lists(literal_for(attr), min_size=1, max_size=3))))
    op = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "<=>"]))
    value = draw(literal_for(attr))
    return Comparison(op, attr, value) if draw(st.booleans()) else Comparison(op, value, attr)


predicates = st.recursive(leaf(), lambda sub: st.one_of(
    st.tuples(sub, sub).map(lambda p: And(*p)), st.tuples(sub, sub).map(lambda p: Or(*p)), sub.map(Not)),
    max_leaves=5)


def evaluate(e, t: pa.Table) -> pa.Array:
    """The predicate over every row with pyarrow, in SQL's three-valued logic."""
    n = t.num_rows
    if isinstance(e, And):
        return pc.and_kleene(evaluate(e.left, t), evaluate(e.right, t))
    if isinstance(e, Or):
        return pc.or_kleene(evaluate(e.left, t), evaluate(e.right, t))
    if isinstance(e, Not):
        return pc.invert(evaluate(e.child, t))
    if isinstance(e, IsNull):
        return pc.is_null(t.column(e.child.name))
    if isinstance(e, IsNotNull):
        return pc.is_valid(t.column(e.child.name))
    if isinstance(e, In):
        col = t.column(e.value.name)
        values = [i.value for i in e.items if i.value is not None]
        if any(isinstance(v, float) for v in values) or pa.types.is_floating(col.type):
            col, values = pc.cast(col, pa.float64(), safe=False), [float(v) for v in values]
        hit = pc.is_in(col, value_set=pa.array(values, col.type)) if values else pa.repeat(False, n)
        no_match = pa.scalar(None, pa.bool_()) if len(values) < len(e.items) else pa.scalar(False)
        out = pc.if_else(hit, True, no_match)
        return pc.if_else(pc.is_null(col), pa.scalar(None, pa.bool_()), out)
    col, op, value = (e.left, e.op, e.right) if isinstance(e.left, AttributeReference) else \
        (e.right, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(e.op, e.op), e.left)
    c = t.column(col.name)
    if value.value is None:
        return pc.is_null(c) if op == "<=>" else pa.nulls(n, pa.bool_())
    v = value.value
    if isinstance(v, float) or pa.types.is_floating(c.type):  # the engine compares these in doubles
        c, scalar = pc.cast(c, pa.float64(), safe=False), pa.scalar(float(v))
    else:
        scalar = pa.scalar(v, c.type)
    if op == "<=>":
        return pc.fill_null(pc.equal(c, scalar), False)
    fn = {"=": pc.equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}[op]
    return fn(c, scalar)


def rows_passing(t: pa.Table, predicate) -> list:
    mask = pc.fill_null(evaluate(predicate, t), False)
    return sorted(t.filter(mask).column("rid").to_pylist())


@settings(max_examples=int(os.environ.get("EMBER_PRUNING_EXAMPLES", "70")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(row, min_size=1, max_size=120), predicate=predicates,
       row_group_size=st.integers(3, 40), sort_by=st.sampled_from([None, "i", "f", "s", "d"]))
def test_pruning_never_drops_a_matching_row(rows, predicate, row_group_size, sort_by):
    table = pa.table({
        "rid": pa.array(range(len(rows)), pa.int64()),
        "i": pa.array([r["i"] for r in rows], pa.int64()),
        "f": pa.array([r["f"] for r in rows], pa.float64()),
        "s": pa.array([r["s"] for r in rows], pa.string()),
        "d": pa.array([r["d"] for r in rows], pa.date32()),
        "b": pa.array([r["b"] for r in rows], pa.bool_()),
    })
    if sort_by:  # sorted data gives tight min / max per row group: the interesting case
        table = table.sort_by([(sort_by, "ascending")])
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "data.parquet")
        pq.write_table(table, path, row_group_size=row_group_size)
        f = PartitionedFile(path, os.path.getsize(path))
        read, metrics = read_parquet_split([FileSplit(f, 0, f.size)], COLUMNS, pushed_filters=(predicate,))
    read = read.rename_columns([c[0] for c in COLUMNS])
    assert rows_passing(read, predicate) == rows_passing(table, predicate)
    assert metrics.row_groups_total == math.ceil(len(rows) / row_group_size)
    assert metrics.records_read == read.num_rows
