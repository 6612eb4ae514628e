"""``DataFrame``: lazy, immutable, PySpark's API. Transformations build plans; actions run jobs.

Each transformation analyses its new node at once, so a wrong column name fails where it was
written; nothing runs until an action (``collect``, ``count``, ``show``, ``write`` ...), and each
action runs one SQL execution of one or more jobs, as Spark would.
"""
from __future__ import annotations

import difflib
from functools import cached_property

import pyarrow as pa

from engine.catalyst import analyzer as A
from engine.catalyst import expressions as E
from engine.catalyst import logical as L
from engine.catalyst.parser import parse_expression
from engine.sql.column import Column, name_or_column, to_expr
from engine.sql.errors import AnalysisException
from engine.sql.query_execution import QueryExecution
from engine.sql.types import Row, StructType

JOIN_TYPE_NAMES = {
    "inner": "inner", "cross": "cross",
    "outer": "full_outer", "full": "full_outer", "fullouter": "full_outer", "full_outer": "full_outer",
    "left": "left_outer", "leftouter": "left_outer", "left_outer": "left_outer",
    "right": "right_outer", "rightouter": "right_outer", "right_outer": "right_outer",
    "semi": "left_semi", "leftsemi": "left_semi", "left_semi": "left_semi",
    "anti": "left_anti", "leftanti": "left_anti", "left_anti": "left_anti",
}


def _exprs(cols) -> list[E.Expression]:
    if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
        cols = tuple(cols[0])
    return [name_or_column(c) for c in cols]


class DataFrame:
    def __init__(self, session, plan: L.LogicalPlan, parsed: L.LogicalPlan | None = None):
        self.sparkSession = session
        self._plan = plan  # analyzed
        self._parsed = parsed if parsed is not None else plan

    def _derive(self, plan: L.LogicalPlan, parsed: L.LogicalPlan | None = None) -> DataFrame:
        return DataFrame(self.sparkSession, plan, parsed)

    @cached_property
    def _qe(self) -> QueryExecution:
        return QueryExecution(self.sparkSession, self._plan, self._parsed)

    # ---- schema ----
    @property
    def schema(self) -> StructType:
        return self._plan.schema

    @property
    def columns(self) -> list[str]:
        return [a.name for a in self._plan.output]

    @property
    def dtypes(self) -> list[tuple[str, str]]:
        return [(a.name, a.data_type.simpleString()) for a in self._plan.output]

    def printSchema(self) -> None:  # noqa: N802
        print(self.schema.treeString(), end="")

    def __getitem__(self, item):
        if isinstance(item, str):
            return Column(A.lookup(item, self._plan.output))
        if isinstance(item, int):
            return Column(self._plan.output[item])
        if isinstance(item, Column):
            return self.filter(item)
        if isinstance(item, (list, tuple)):
            return self.select(*item)
        raise TypeError(f"unexpected item type: {type(item).__name__}")

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        output = self.__dict__.get("_plan").output
        for a in output:
            if a.name == name:
                return Column(a)
        close = difflib.get_close_matches(name, [a.name for a in output], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise AttributeError(f"'DataFrame' object has no attribute '{name}'.{hint}")

    # ---- transformations ----
    def select(self, *cols) -> DataFrame:
        exprs = _exprs(cols)
        inputs = self._plan.output
        resolved = A.resolve_named(exprs, inputs)
        if any(E.contains_aggregate(e) for e in resolved):
            A.check_aggregate((), resolved)
            return self._derive(L.Aggregate((), resolved, self._plan), L.Aggregate((), tuple(exprs), self._parsed))
        return self._derive(L.Project(resolved, self._plan), L.Project(tuple(exprs), self._parsed))

    def selectExpr(self, *exprs: str) -> DataFrame:  # noqa: N802
        if len(exprs) == 1 and isinstance(exprs[0], (list, tuple)):
            exprs = tuple(exprs[0])
        return self.select(*[Column(parse_expression(e)) for e in exprs])

    def filter(self, condition) -> DataFrame:
        cond = parse_expression(condition) if isinstance(condition, str) else to_expr(condition)
        resolved = A.check_boolean(A.resolve(cond, self._plan.output), "A filter condition")
        if E.contains_aggregate(resolved):
            raise AnalysisException(f"[INVALID_WHERE_CONDITION] aggregate functions are not allowed in a filter: "
                                    f"`{resolved.sql()}`; filter after groupBy().agg() instead.")
        return self._derive(L.Filter(resolved, self._plan), L.Filter(cond, self._parsed))

    where = filter

    def withColumn(self, name: str, col: Column) -> DataFrame:  # noqa: N802
        if not isinstance(col, Column):
            raise TypeError("[NOT_COLUMN] Argument `col` should be a Column.")
        new = col.alias(name)
        names = [a.name.lower() for a in self._plan.output]
        if name.lower() in names:
            cols = [new if a.name.lower() == name.lower() else Column(a) for a in self._plan.output]
        else:
            cols = [Column(a) for a in self._plan.output] + [new]
        return self.select(*cols)

    def withColumns(self, mapping: dict) -> DataFrame:  # noqa: N802
        df = self
        for name, col in mapping.items():
            df = df.withColumn(name, col)
        return df

    def withColumnRenamed(self, existing: str, new: str) -> DataFrame:  # noqa: N802
        if not any(a.name == existing for a in self._plan.output):
            return self  # PySpark: a no-op when the column is absent
        cols = [Column(E.Alias(a, new)) if a.name == existing else Column(a) for a in self._plan.output]
        return self.select(*cols)

    def drop(self, *cols) -> DataFrame:
        dropped = set()
        for c in cols:
            if isinstance(c, str):
                dropped |= {a.expr_id for a in self._plan.output if a.name.lower() == c.lower()}
            else:
                dropped.add(A.resolve(to_expr(c), self._plan.output).expr_id)
        return self.select(*[Column(a) for a in self._plan.output if a.expr_id not in dropped])

    def alias(self, name: str) -> DataFrame:
        return self

    def groupBy(self, *cols):  # noqa: N802
        from engine.sql.group import GroupedData

        return GroupedData(self, _exprs(cols))

    groupby = groupBy

    def agg(self, *exprs) -> DataFrame:
        return self.groupBy().agg(*exprs)

    def join(self, other: DataFrame, on=None, how: str | None = None) -> DataFrame:
        key = (how or "inner").lower()
        join_type = JOIN_TYPE_NAMES.get(key) or JOIN_TYPE_NAMES.get(key.replace("_", ""))
        if join_type is None:
            raise AnalysisException(
                f"[UNSUPPORTED_JOIN_TYPE] Unsupported join type '{how}'. Supported join types include: "
                "'inner', 'outer', 'full', 'fullouter', 'full_outer', 'leftouter', 'left', 'left_outer', "
                "'rightouter', 'right', 'right_outer', 'leftsemi', 'left_semi', 'semi', 'leftanti', "
                "'left_anti', 'anti', 'cross'.")
        left, right = self._plan, other._plan
        if left.output_set & right.output_set:
            right = L.Project(tuple(E.Alias(a, a.name) for a in right.output), right)
        if on is None:
            plan = L.Join(left, right, "cross" if join_type == "inner" else join_type, None)
            return self._derive(plan, L.Join(self._parsed, other._parsed, join_type, None))
        if isinstance(on, str):
            on = [on]
        if isinstance(on, (list, tuple)) and all(isinstance(c, str) for c in on):
            return self._using_join(left, right, list(on), join_type, other)
        if isinstance(on, (list, tuple)):
            cond = E.conjunction([to_expr(c) for c in on])
        else:
            cond = to_expr(on)
        resolved = A.check_boolean(A.resolve(cond, left.output + right.output), "A join condition")
        plan = L.Join(left, right, join_type, resolved)
        return self._derive(plan, L.Join(self._parsed, other._parsed, join_type, cond))

    def _using_join(self, left, right, names: list[str], join_type: str, other: DataFrame) -> DataFrame:
        pairs = [(A.lookup(n, left.output), A.lookup(n, right.output)) for n in names]
        cond = E.conjunction([A.coerce(E.Comparison("=", lc, rc)) for lc, rc in pairs])
        plan = L.Join(left, right, join_type, cond)
        out = plan.output
        by_id = {a.expr_id: a for a in out}
        left_ids = {lc.expr_id for lc, _ in pairs}
        right_ids = {rc.expr_id for _, rc in pairs}
        keys = []
        for lc, rc in pairs:
            if join_type == "full_outer":
                keys.append(E.Alias(E.ScalarFunction("coalesce", (by_id[lc.expr_id], by_id[rc.expr_id])), lc.name))
            elif join_type == "right_outer":
                keys.append(by_id[rc.expr_id])
            else:
                keys.append(by_id[lc.expr_id])
        if join_type in ("left_semi", "left_anti"):
            rest = [a for a in out if a.expr_id not in left_ids]
        else:
            rest = [a for a in out if a.expr_id not in left_ids and a.expr_id not in right_ids]
        project = L.Project(tuple(keys) + tuple(rest), plan)
        parsed = L.Join(self._parsed, other._parsed, join_type, E.conjunction(
            [E.Comparison("=", E.UnresolvedAttribute(n), E.UnresolvedAttribute(n)) for n in names]))
        return self._derive(project, parsed)

    def crossJoin(self, other: DataFrame) -> DataFrame:  # noqa: N802
        return self.join(other, None, "cross")

    def distinct(self) -> DataFrame:
        return self._derive(L.Distinct(self._plan), L.Distinct(self._parsed))

    def dropDuplicates(self, subset=None) -> DataFrame:  # noqa: N802
        if not subset:
            return self.distinct()
        keys = tuple(A.lookup(c, self._plan.output) for c in subset)
        return self._derive(L.Deduplicate(keys, self._plan), L.Deduplicate(keys, self._parsed))

    drop_duplicates = dropDuplicates

    def orderBy(self, *cols, ascending=None) -> DataFrame:  # noqa: N802
        return self._sort(cols, ascending, True)

    sort = orderBy

    def sortWithinPartitions(self, *cols, ascending=None) -> DataFrame:  # noqa: N802
        return self._sort(cols, ascending, False)

    def _sort(self, cols, ascending, is_global: bool) -> DataFrame:
        exprs = _exprs(cols)
        if ascending is not None:
            flags = ascending if isinstance(ascending, (list, tuple)) else [ascending] * len(exprs)
            exprs = [e if isinstance(e, E.SortOrder) else E.SortOrder(e, bool(f)) for e, f in zip(exprs, flags)]
        order = tuple(A.resolve_sort_order(e, self._plan.output) for e in exprs)
        return self._derive(L.Sort(order, is_global, self._plan), L.Sort(tuple(
            e if isinstance(e, E.SortOrder) else E.SortOrder(e) for e in exprs), is_global, self._parsed))

    def limit(self, num: int) -> DataFrame:
        if num < 0:
            raise AnalysisException(f"[INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE] The limit must be >= 0, got {num}.")
        return self._derive(L.Limit(num, self._plan), L.Limit(num, self._parsed))

    def union(self, other: DataFrame) -> DataFrame:
        if len(self.columns) != len(other.columns):
            raise AnalysisException(
                f"[NUM_COLUMNS_MISMATCH] UNION can only be performed on inputs with the same number of columns, "
                f"but the first input has {len(self.columns)} columns and the second input has {len(other.columns)}.")
        right = other._plan
        casts = []
        for la, ra in zip(self._plan.output, right.output):
            if la.data_type != ra.data_type:
                casts.append(E.Alias(E.Cast(ra, la.data_type), ra.name))
            else:
                casts.append(ra)
        if any(isinstance(c, E.Alias) for c in casts):
            right = L.Project(tuple(casts), right)
        return self._derive(L.Union((self._plan, right)), L.Union((self._parsed, other._parsed)))

    unionAll = union

    def unionByName(self, other: DataFrame, allowMissingColumns: bool = False) -> DataFrame:  # noqa: N802, N803
        cols = []
        for a in self._plan.output:
            match = [b for b in other._plan.output if b.name.lower() == a.name.lower()]
            if match:
                cols.append(Column(match[0]))
            elif allowMissingColumns:
                cols.append(Column(E.Alias(E.Cast(E.Literal.of(None), a.data_type), a.name)))
            else:
                raise AnalysisException(f"[UNRESOLVED_COLUMN] Cannot resolve column name \"{a.name}\" among "
                                        f"({', '.join(other.columns)}).")
        return self.union(other.select(*cols))

    def repartition(self, numPartitions, *cols) -> DataFrame:  # noqa: N803
        if not isinstance(numPartitions, int):
            cols = (numPartitions,) + cols
            numPartitions = int(self.sparkSession.conf.get("spark.sql.shuffle.partitions"))
        exprs = tuple(A.resolve(e, self._plan.output) for e in _exprs(cols)) if cols else ()
        return self._derive(L.Repartition(numPartitions, exprs, True, self._plan),
                            L.Repartition(numPartitions, exprs, True, self._parsed))

    def coalesce(self, numPartitions: int) -> DataFrame:  # noqa: N803
        return self._derive(L.Repartition(numPartitions, (), False, self._plan),
                            L.Repartition(numPartitions, (), False, self._parsed))

    # ---- caching ----
    def cache(self) -> DataFrame:
        return self.persist()

    def persist(self, storageLevel: str = "MEMORY_AND_DISK") -> DataFrame:  # noqa: N803
        self.sparkSession.cache_manager.cache(self._plan, str(storageLevel))
        return self

    def unpersist(self, blocking: bool = False) -> DataFrame:
        self.sparkSession.cache_manager.uncache(self._plan)
        return self

    @property
    def is_cached(self) -> bool:
        return self.sparkSession.cache_manager.lookup(self._plan) is not None

    @property
    def storageLevel(self) -> str:  # noqa: N802
        entry = self.sparkSession.cache_manager.lookup(self._plan)
        return entry.storage_level if entry else "NONE"

    # ---- explain ----
    def explain(self, extended=None, mode: str | None = None) -> None:
        if isinstance(extended, str):
            mode = extended
        elif extended:
            mode = "extended"
        print(self._qe.explain_string(mode or "simple"), end="")

    # ---- actions ----
    def _collect_table(self, action: str) -> pa.Table:
        tables = self._qe.execute(action, _result_table)
        out = pa.concat_tables(tables) if tables else None
        attrs = self._qe.executed_plan.output
        if out is None:
            from engine.execution.spark_plan import empty_table

            out = empty_table(attrs)
        return out.rename_columns([a.name for a in self._plan.output])

    def toArrow(self) -> pa.Table:  # noqa: N802
        return self._collect_table("toArrow")

    def toPandas(self):  # noqa: N802
        return self._collect_table("toPandas").to_pandas()

    def collect(self) -> list[Row]:
        table = self._collect_table("collect")
        make = Row.factory(table.column_names)
        columns = [c.to_pylist() for c in table.columns]
        return list(map(make, zip(*columns))) if columns else [make(()) for _ in range(table.num_rows)]

    def take(self, num: int) -> list[Row]:
        return self.limit(num).collect()

    def head(self, n: int | None = None):
        rows = self.take(1 if n is None else n)
        return (rows[0] if rows else None) if n is None else rows

    def first(self) -> Row | None:
        return self.head()

    def count(self) -> int:
        counted = self.groupBy().count()
        table = counted._collect_table("count")
        return int(table.column(0)[0].as_py())

    def isEmpty(self) -> bool:  # noqa: N802
        return len(self.take(1)) == 0

    def show(self, n: int = 20, truncate: bool | int = True, vertical: bool = False) -> None:
        print(self._show_string(n, truncate, vertical), end="")

    def _show_string(self, n: int = 20, truncate: bool | int = True, vertical: bool = False) -> str:
        from engine.sql.show import show_string

        rows = self.limit(n + 1)._collect_table("showString")
        return show_string(rows, n, truncate, vertical)

    @property
    def write(self):
        from engine.sql.readwriter import DataFrameWriter

        return DataFrameWriter(self)

    @property
    def rdd(self):
        raise NotImplementedError("Ember has no RDD API; use DataFrame operations")

    def __repr__(self) -> str:
        return "DataFrame[" + ", ".join(f"{n}: {t}" for n, t in self.dtypes) + "]"


def _result_table(table: pa.Table, ctx) -> pa.Table:
    ctx.metrics.result_size = table.nbytes
    return table

