"""``GroupedData``: what ``df.groupBy(...)`` returns; its aggregations end in a DataFrame."""
from __future__ import annotations

from engine.catalyst import analyzer as A
from engine.catalyst import expressions as E
from engine.catalyst import logical as L
from engine.sql import functions as F
from engine.sql.column import to_expr
from engine.sql.errors import AnalysisException

_NAMED_AGGREGATES = {"sum": F.sum, "avg": F.avg, "mean": F.avg, "min": F.min, "max": F.max, "count": F.count}


class GroupedData:
    def __init__(self, df, grouping: list[E.Expression]):
        self._df = df
        self._grouping = grouping

    def agg(self, *exprs) -> object:
        """``agg(F.sum("x"), F.max("y").alias("top"))`` or ``agg({"x": "sum", "y": "max"})``."""
        if len(exprs) == 1 and isinstance(exprs[0], dict):
            columns = []
            for name, fn in exprs[0].items():
                if fn.lower() not in _NAMED_AGGREGATES:
                    raise AnalysisException(f"[UNRESOLVED_ROUTINE] Cannot resolve function `{fn}`.")
                columns.append(_NAMED_AGGREGATES[fn.lower()](name))
            exprs = tuple(columns)
        if not exprs:
            raise AnalysisException("agg() needs at least one aggregate expression")
        return self._aggregate([to_expr(e) for e in exprs])

    def _aggregate(self, aggregates: list[E.Expression]):
        df = self._df
        inputs = df._plan.output
        grouping = tuple(A.resolve(g, inputs) for g in A.expand_star(self._grouping, inputs))
        named_grouping = tuple(A.named(g) for g in grouping)
        resolved = tuple(A.named(A.resolve(a, inputs)) for a in aggregates)
        for a in resolved:
            if not E.contains_aggregate(a) and a not in named_grouping and E.strip_alias(a) not in grouping:
                raise AnalysisException(
                    f"[MISSING_AGGREGATION] `{a.sql()}` is neither an aggregate function nor a grouping column.")
        A.check_aggregate(grouping, resolved)
        output = named_grouping + resolved
        parsed = L.Aggregate(tuple(self._grouping), tuple(self._grouping) + tuple(aggregates), df._parsed)
        return df._derive(L.Aggregate(grouping, output, df._plan), parsed)

    def count(self):
        return self._aggregate([E.Alias(E.AggregateFunction("count", E.Literal.of(1)), "count")])

    def _numeric(self, fn, cols):
        names = cols or [a.name for a in self._df._plan.output if a.data_type.simpleString() in
                         ("int", "bigint", "double") or a.data_type.simpleString().startswith("decimal")]
        return self._aggregate([to_expr(fn(c)) for c in names])

    def sum(self, *cols):
        return self._numeric(F.sum, cols)

    def avg(self, *cols):
        return self._numeric(F.avg, cols)

    mean = avg

    def min(self, *cols):
        return self._numeric(F.min, cols)

    def max(self, *cols):
        return self._numeric(F.max, cols)

