"""Skipping data by statistics: can any row described by min / max / null counts pass a filter?

``might_match(predicate, stats_of)`` answers False only when it is certain that no row can make
the predicate true; whenever it is unsure it answers True, and the row group (or file) is read.
Pushed filters are hints: the Filter above the scan still applies them row by row (as Spark's
Parquet filter pushdown does), so being conservative costs only time, never rows.

What is understood: ``attribute <op> literal`` in either order (``= < <= > >= <=>``),
``IS NULL`` / ``IS NOT NULL``, ``IN`` with literal items, ``AND`` / ``OR`` / ``NOT`` (pushed
through with De Morgan's laws, which hold in SQL's three-valued logic when asking "can this be
true"), and boolean literals. Anything else, a type pair it cannot compare, or a missing
statistic means "maybe".

Care points:

* Floating-point statistics leave NaN out of min / max, and Spark orders NaN above every number
  while IEEE comparisons make every comparison with NaN false; so ``>`` / ``>=`` and negated
  comparisons never prune a floating-point column (NaN rows may pass them under one rule or the
  other), and a NaN literal prunes nothing.
* Comparisons between an integer and a float are made in floats and decimal statistics are
  turned into floats, because Ember compares those values as float64: exact arithmetic here
  could prune a row the engine would keep.
* Timestamps with a zone are compared as UTC wall-clock times, as Ember stores them.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Sequence

from engine.catalyst.expressions import (
    And,
    AttributeReference,
    Comparison,
    Expression,
    In,
    IsNotNull,
    IsNull,
    Literal,
    Not,
    Or,
)


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """What is known about one column over a set of rows; None means unknown."""

    min: Any
    max: Any
    null_count: int | None
    num_values: int
    floating: bool = False

    @staticmethod
    def constant(value: Any) -> ColumnStats:
        """A column holding one value (a partition column within one file)."""
        if value is None:
            return ColumnStats(None, None, 1, 1)
        return ColumnStats(value, value, 0, 1, isinstance(value, float))


StatsLookup = Callable[[AttributeReference], "ColumnStats | None"]

_FLIP = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<=", "<=>": "<=>"}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def might_match(predicate: Expression, stats_of: StatsLookup) -> bool:
    """False only if no row summarized by ``stats_of`` can make ``predicate`` true.

    >>> from engine.sql.types import LongType
    >>> a = AttributeReference("a", LongType())
    >>> might_match(Comparison(">", a, Literal(10, LongType())), lambda _: ColumnStats(0, 5, 0, 100))
    False
    """
    if isinstance(predicate, And):
        return might_match(predicate.left, stats_of) and might_match(predicate.right, stats_of)
    if isinstance(predicate, Or):
        return might_match(predicate.left, stats_of) or might_match(predicate.right, stats_of)
    if isinstance(predicate, Not):
        return _might_match_not(predicate.child, stats_of)
    if isinstance(predicate, Literal):
        return predicate.value is not False and predicate.value is not None
    if isinstance(predicate, IsNull):
        s = _stats(predicate.child, stats_of)
        return s is None or s.null_count is None or s.null_count > 0
    if isinstance(predicate, IsNotNull):
        s = _stats(predicate.child, stats_of)
        return s is None or s.null_count is None or s.null_count < s.num_values
    if isinstance(predicate, Comparison):
        return _comparison(predicate, stats_of)
    if isinstance(predicate, In):
        return _in(predicate, stats_of)
    return True


def _might_match_not(child: Expression, stats_of: StatsLookup) -> bool:
    if isinstance(child, Not):
        return might_match(child.child, stats_of)
    if isinstance(child, And):
        return might_match(Or(Not(child.left), Not(child.right)), stats_of)
    if isinstance(child, Or):
        return might_match(And(Not(child.left), Not(child.right)), stats_of)
    if isinstance(child, IsNull):
        return might_match(IsNotNull(child.child), stats_of)
    if isinstance(child, IsNotNull):
        return might_match(IsNull(child.child), stats_of)
    if isinstance(child, Literal):
        return child.value is False
    if isinstance(child, Comparison):
        norm = _normalize(child)
        if norm is None:
            return True
        attr, op, lit = norm
        s = stats_of(attr)
        if s is None or s.floating:
            return True  # NaN rows are absent from the statistics, and NOT (NaN < v) can be true
        if op in _NEGATE:
            return _comparison(Comparison(_NEGATE[op], attr, lit), stats_of)
        if op == "=":  # NOT (a = v): some non-null value other than v
            if lit.value is None:
                return False  # NOT (a = NULL) is null, never true
            if s.null_count is not None and s.null_count >= s.num_values:
                return False
            pair = _comparable_range(s, lit.value)
            if pair is None:
                return True
            lo, hi, v = pair
            return not (lo == hi == v)
    return True


def _stats(e: Expression, stats_of: StatsLookup) -> ColumnStats | None:
    return stats_of(e) if isinstance(e, AttributeReference) else None


def _normalize(c: Comparison) -> tuple[AttributeReference, str, Literal] | None:
    if isinstance(c.left, AttributeReference) and isinstance(c.right, Literal):
        return c.left, c.op, c.right
    if isinstance(c.right, AttributeReference) and isinstance(c.left, Literal):
        return c.right, _FLIP[c.op], c.left
    return None


def _comparison(c: Comparison, stats_of: StatsLookup) -> bool:
    norm = _normalize(c)
    if norm is None:
        return True
    attr, op, lit = norm
    s = stats_of(attr)
    if s is None:
        return True
    if lit.value is None:
        if op == "<=>":
            return s.null_count is None or s.null_count > 0
        return False  # a comparison with null is never true
    if s.null_count is not None and s.null_count >= s.num_values:
        return False  # only nulls: every comparison is null (and <=> with a value is false)
    pair = _comparable_range(s, lit.value)
    if pair is None:
        return True
    lo, hi, v = pair
    if op in ("=", "<=>"):
        return lo <= v <= hi
    if op == "<":
        return lo < v
    if op == "<=":
        return lo <= v
    if s.floating:
        return True  # NaN, absent from the statistics, is greater than everything
    if op == ">":
        return hi > v
    if op == ">=":
        return hi >= v
    return True


def _in(e: In, stats_of: StatsLookup) -> bool:
    if not isinstance(e.value, AttributeReference) or not all(isinstance(i, Literal) for i in e.items):
        return True
    s = stats_of(e.value)
    if s is None:
        return True
    values = [i.value for i in e.items if i.value is not None]
    if not values:
        return False  # x IN (NULL, ...) is never true
    if s.null_count is not None and s.null_count >= s.num_values:
        return False
    for v in values:
        pair = _comparable_range(s, v)
        if pair is None:
            return True
        lo, hi, cv = pair
        if lo <= cv <= hi:
            return True
    return False


def _comparable_range(s: ColumnStats, value: Any) -> tuple[Any, Any, Any] | None:
    """``(min, max, value)`` as mutually comparable Python values, or None if they are not."""
    if s.min is None or s.max is None:
        return None
    lo, hi, v = _comparable(s.min, value), _comparable(s.max, value), None
    if lo is None or hi is None:
        return None
    (lo, v), (hi, _) = lo, hi
    if isinstance(v, float) and math.isnan(v):
        return None
    for x in (lo, hi):
        if isinstance(x, float) and math.isnan(x):
            return None
    return lo, hi, v


def _comparable(stat: Any, value: Any) -> tuple[Any, Any] | None:
    if isinstance(stat, bool) or isinstance(value, bool):
        return (stat, value) if isinstance(stat, bool) and isinstance(value, bool) else None
    if isinstance(stat, (int, float, Decimal)) and isinstance(value, (int, float, Decimal)):
        if isinstance(stat, int) and isinstance(value, int):
            return stat, value
        return float(stat), float(value)
    if isinstance(value, str):
        if isinstance(stat, bytes):
            try:
                stat = stat.decode("utf-8")
            except UnicodeDecodeError:
                return None
        return (stat, value) if isinstance(stat, str) else None
    if isinstance(value, _dt.datetime):
        return (_naive_utc(stat), _naive_utc(value)) if isinstance(stat, _dt.datetime) else None
    if isinstance(value, _dt.date):
        ok = isinstance(stat, _dt.date) and not isinstance(stat, _dt.datetime)
        return (stat, value) if ok else None
    return None


def _naive_utc(t: _dt.datetime) -> _dt.datetime:
    if t.tzinfo is None:
        return t
    return t.astimezone(_dt.timezone.utc).replace(tzinfo=None)


def partition_may_match(filters: Sequence[Expression], partition_columns: Sequence, values: tuple) -> bool:
    """False if a file with these partition values cannot hold a row that passes ``filters``.

    ``partition_columns`` are the ``PartitionColumn`` entries of a scan (name, ..., index); a
    filter on a partition column not among them is not evaluated.
    """
    by_name = {c.name.lower(): values[c.index] for c in partition_columns if c.index < len(values)}

    def stats_of(attr: AttributeReference) -> ColumnStats | None:
        key = attr.name.lower()
        return ColumnStats.constant(by_name[key]) if key in by_name else None

    return all(might_match(f, stats_of) for f in filters)
