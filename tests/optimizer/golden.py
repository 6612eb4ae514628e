"""Golden before/after plans for every optimizer rule: ``rule(before) == expected``, one application.

Each case builds its own columns (``cols``), so ids never clash between cases, and uses the same
column objects in ``before`` and ``expected``. A case whose ``expected`` is its ``before`` says the
rule must leave that plan alone, returning the very same object.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import pyarrow as pa

from engine.catalyst.expressions import (
    FALSE,
    TRUE,
    AggregateFunction,
    Alias,
    And,
    Arithmetic,
    AttributeReference,
    Cast,
    Comparison,
    Expression,
    In,
    IsNotNull,
    IsNull,
    Literal,
    Not,
    Or,
    PythonUDF,
    ScalarFunction,
    SortOrder,
    conjunction,
)
from engine.catalyst.logical import (
    Aggregate,
    DataHandle,
    Deduplicate,
    Distinct,
    FileRelation,
    FileScan,
    Filter,
    Join,
    Limit,
    LocalRelation,
    LogicalPlan,
    Project,
    Repartition,
    Sort,
    Union,
)
from engine.optimizer.collapse_projects import collapse_projects
from engine.optimizer.combine_filters import combine_filters
from engine.optimizer.fold_constants import fold_constants
from engine.optimizer.prune_columns import prune_columns
from engine.optimizer.push_down_predicates import push_down_predicates
from engine.optimizer.replace_distinct_with_aggregate import replace_distinct_with_aggregate
from engine.optimizer.simplify_booleans import empty_relation, simplify_booleans
from engine.sql.types import BooleanType, DoubleType, IntegerType, LongType, StringType


class Case(NamedTuple):
    rule: Callable[[LogicalPlan], LogicalPlan]
    name: str
    before: LogicalPlan
    expected: LogicalPlan


# ---------------------------------------------------------------------------------------------
# builders


def cols(names: str, data_type=IntegerType()) -> list[AttributeReference]:
    """Fresh columns, one per space-separated name."""
    return [AttributeReference(n, data_type) for n in names.split()]


def lit(value) -> Literal:
    return Literal.of(value)


def _expr(x) -> Expression:
    return x if isinstance(x, Expression) else lit(x)


def cmp(op: str, left, right) -> Comparison:
    return Comparison(op, _expr(left), _expr(right))


def gt(left, right) -> Comparison:
    return cmp(">", left, right)


def lt(left, right) -> Comparison:
    return cmp("<", left, right)


def eq(left, right) -> Comparison:
    return cmp("=", left, right)


def plus(left, right) -> Arithmetic:
    return Arithmetic("+", _expr(left), _expr(right))


def times(left, right) -> Arithmetic:
    return Arithmetic("*", _expr(left), _expr(right))


def total(e: Expression) -> Alias:
    return Alias(AggregateFunction("sum", e), "s")


def udf(*args) -> PythonUDF:
    """A Python UDF: non-deterministic as far as the optimizer knows."""
    return PythonUDF("f", _udf_body, IntegerType(), tuple(_expr(a) for a in args))


def _udf_body(*values):
    return values[0]


def local(*columns: AttributeReference) -> LocalRelation:
    schema = pa.schema([pa.field(c.column_key, c.data_type.to_arrow()) for c in columns])
    return LocalRelation(tuple(columns), DataHandle(schema.empty_table()))


def parquet(*columns: AttributeReference, partitioned_by: tuple[AttributeReference, ...] = ()) -> FileRelation:
    return FileRelation("parquet", ("/x",), (), (), tuple(columns), partitioned_by)


def scan(relation: FileRelation, *columns: AttributeReference, pushed: tuple[Expression, ...] = ()) -> FileScan:
    """A scan of ``relation`` reading ``columns``, or all of its columns when none are named."""
    return FileScan(relation, tuple(columns) or relation.all_columns, pushed)


def project(child: LogicalPlan, *exprs: Expression) -> Project:
    return Project(tuple(exprs), child)


def where(child: LogicalPlan, *conjuncts: Expression) -> Filter:
    return Filter(conjunction(list(conjuncts)), child)


def join(left: LogicalPlan, right: LogicalPlan, how: str, *on: Expression) -> Join:
    return Join(left, right, how, conjunction(list(on)))


def unchanged(rule, name: str, plan: LogicalPlan) -> Case:
    return Case(rule, name, plan, plan)


# ---------------------------------------------------------------------------------------------
# replace_distinct_with_aggregate


def _replace_distinct() -> list[Case]:
    rule = replace_distinct_with_aggregate
    a, b = cols("a b")
    t = local(a, b)
    grouped = Aggregate((a, b), (a, b), t)
    return [
        Case(rule, "distinct groups by every column", Distinct(t), grouped),
        Case(rule, "nested distincts", project(Distinct(Distinct(t)), a),
             project(Aggregate((a, b), (a, b), grouped), a)),
        unchanged(rule, "deduplicate stays", Deduplicate((a,), t)),
    ]


# ---------------------------------------------------------------------------------------------
# combine_filters


def _combine_filters() -> list[Case]:
    rule = combine_filters
    a, b, c = cols("a b c")
    t = local(a, b, c)
    return [
        Case(rule, "two filters, inner first", where(where(t, gt(a, 1)), lt(b, 5)), where(t, gt(a, 1), lt(b, 5))),
        Case(rule, "three filters", where(where(where(t, gt(a, 1)), lt(b, 5)), eq(c, 0)),
             where(t, gt(a, 1), lt(b, 5), eq(c, 0))),
        Case(rule, "repeated conjunct dropped", where(where(t, gt(a, 1), lt(b, 5)), gt(a, 1)),
             where(t, gt(a, 1), lt(b, 5))),
        unchanged(rule, "non-deterministic outer condition", where(where(t, gt(a, 1)), gt(udf(b), 0))),
        unchanged(rule, "non-deterministic inner condition", where(where(t, gt(udf(b), 0)), gt(a, 1))),
    ]


# ---------------------------------------------------------------------------------------------
# push_down_predicates


def _push_through_unary() -> list[Case]:
    rule = push_down_predicates
    a, b = cols("a b")
    t = local(a, b)
    c = Alias(plus(a, b), "c")
    with_udf = project(t, a, Alias(udf(a), "u"))
    grouped = Aggregate((a,), (a, total(b)), t)
    k = Alias(plus(a, 1), "k")
    by_expression = Aggregate((plus(a, 1),), (k, total(b)), t)
    global_total = Aggregate((), (total(b),), t)
    by_a = (SortOrder(a),)
    return [
        Case(rule, "through project, alias replaced by its definition",
             where(project(t, a, c), gt(c.to_attribute(), 1)),
             project(where(t, gt(plus(a, b), 1)), a, c)),
        unchanged(rule, "never through a project computing a UDF", where(with_udf, gt(a, 1))),
        Case(rule, "only the conjuncts before the first UDF move",
             where(project(t, a, b), gt(a, 1), gt(udf(a), 0), gt(b, 2)),
             where(project(where(t, gt(a, 1)), a, b), gt(udf(a), 0), gt(b, 2))),
        unchanged(rule, "nothing moves past a leading UDF conjunct",
                  where(project(t, a, b), gt(udf(a), 0), gt(b, 1))),
        Case(rule, "through sort and repartition",
             where(Sort(by_a, True, Repartition(4, (a,), True, t)), gt(a, 1)),
             Sort(by_a, True, Repartition(4, (a,), True, where(t, gt(a, 1))))),
        unchanged(rule, "never through limit", where(Limit(10, t), gt(a, 1))),
        Case(rule, "through aggregate, grouping columns only",
             where(grouped, gt(a, 1), gt(grouped.output[1], 10)),
             where(Aggregate((a,), grouped.aggregate_expressions, where(t, gt(a, 1))), gt(grouped.output[1], 10))),
        Case(rule, "through aggregate, grouping alias replaced by its definition",
             where(by_expression, gt(k.to_attribute(), 5)),
             Aggregate(by_expression.grouping_expressions, by_expression.aggregate_expressions,
                       where(t, gt(plus(a, 1), 5)))),
        unchanged(rule, "never through a global aggregate", where(global_total, gt(global_total.output[0], 0))),
    ]


def _push_through_join() -> list[Case]:
    rule = push_down_predicates
    a, b, x, y = cols("a b x y")
    left, right = local(a, b), local(x, y)
    return [
        Case(rule, "inner: each side its own conjuncts, both-sided ones into the condition",
             where(join(left, right, "inner", eq(a, x)), gt(a, 1), lt(x, 5), eq(b, y)),
             join(where(left, gt(a, 1)), where(right, lt(x, 5)), "inner", eq(a, x), eq(b, y))),
        Case(rule, "cross: a both-sided conjunct becomes the join condition",
             where(join(left, right, "cross"), eq(b, y)),
             join(left, right, "cross", eq(b, y))),
        Case(rule, "left outer: left conjuncts only, the right is null-padded",
             where(join(left, right, "left_outer", eq(a, x)), gt(a, 1), lt(x, 5)),
             where(join(where(left, gt(a, 1)), right, "left_outer", eq(a, x)), lt(x, 5))),
        Case(rule, "right outer: right conjuncts only, the left is null-padded",
             where(join(left, right, "right_outer", eq(a, x)), gt(a, 1), lt(x, 5)),
             where(join(left, where(right, lt(x, 5)), "right_outer", eq(a, x)), gt(a, 1))),
        unchanged(rule, "full outer: nothing moves",
                  where(join(left, right, "full_outer", eq(a, x)), gt(a, 1), lt(x, 5))),
        Case(rule, "left semi: into the left",
             where(join(left, right, "left_semi", eq(a, x)), gt(b, 1)),
             join(where(left, gt(b, 1)), right, "left_semi", eq(a, x))),
        Case(rule, "left anti: into the left",
             where(join(left, right, "left_anti", eq(a, x)), gt(b, 1)),
             join(where(left, gt(b, 1)), right, "left_anti", eq(a, x))),
        unchanged(rule, "a leading UDF conjunct keeps everything above the join",
                  where(join(left, right, "inner"), gt(udf(a), 0), gt(b, 1))),
        Case(rule, "ON, inner: one-sided conjuncts into their sides",
             join(left, right, "inner", eq(a, x), gt(b, 1), lt(y, 2)),
             join(where(left, gt(b, 1)), where(right, lt(y, 2)), "inner", eq(a, x))),
        Case(rule, "ON, left semi: one-sided conjuncts into their sides",
             join(left, right, "left_semi", eq(a, x), gt(b, 1), lt(y, 2)),
             join(where(left, gt(b, 1)), where(right, lt(y, 2)), "left_semi", eq(a, x))),
        Case(rule, "ON, left outer: only into the right; a failing left row is still returned",
             join(left, right, "left_outer", eq(a, x), gt(b, 1), lt(y, 2)),
             join(left, where(right, lt(y, 2)), "left_outer", eq(a, x), gt(b, 1))),
        Case(rule, "ON, left anti: only into the right",
             join(left, right, "left_anti", eq(a, x), gt(b, 1), lt(y, 2)),
             join(left, where(right, lt(y, 2)), "left_anti", eq(a, x), gt(b, 1))),
        Case(rule, "ON, right outer: only into the left",
             join(left, right, "right_outer", eq(a, x), gt(b, 1), lt(y, 2)),
             join(where(left, gt(b, 1)), right, "right_outer", eq(a, x), lt(y, 2))),
        unchanged(rule, "ON, full outer: nothing moves", join(left, right, "full_outer", eq(a, x), gt(b, 1))),
        Case(rule, "ON, everything moved: no condition left",
             join(left, right, "inner", gt(b, 1)),
             join(where(left, gt(b, 1)), right, "inner")),
    ]


def _push_through_union_and_into_scans() -> list[Case]:
    rule = push_down_predicates
    a, b, x, y, p = cols("a b x y p")
    (s,) = cols("s", StringType())
    first, second = local(a, b), local(x, y)
    relation = parquet(a, b, s)
    partitioned = parquet(a, partitioned_by=(p,))
    full = scan(relation)
    c = Alias(a, "c")
    not_simple = Or(gt(a, 1), eq(ScalarFunction("upper", (s,)), "X"))
    return [
        Case(rule, "union: into every child, columns matched by position",
             where(Union((first, second)), gt(a, 1), lt(b, a)),
             Union((where(first, gt(a, 1), lt(b, a)), where(second, gt(x, 1), lt(y, x))))),
        Case(rule, "scan: simple conjuncts pushed, literal-first flipped, the Filter stays",
             where(full, gt(a, 1), eq(ScalarFunction("upper", (s,)), "X"), gt(5, b)),
             where(scan(relation, pushed=(gt(a, 1), lt(b, 5))),
                   gt(a, 1), eq(ScalarFunction("upper", (s,)), "X"), gt(5, b))),
        Case(rule, "scan: IN, IS NULL and OR of them",
             where(full, Or(In(a, (lit(1), lit(2))), IsNull(s))),
             where(scan(relation, pushed=(Or(In(a, (lit(1), lit(2))), IsNull(s)),)),
                   Or(In(a, (lit(1), lit(2))), IsNull(s)))),
        unchanged(rule, "scan: OR with a non-simple side", where(full, not_simple)),
        unchanged(rule, "scan: already pushed", where(scan(relation, pushed=(gt(a, 1),)), gt(a, 1))),
        Case(rule, "scan: partition columns too, to skip whole files",
             where(scan(partitioned), eq(p, 1), gt(a, 1)),
             where(scan(partitioned, pushed=(eq(p, 1), gt(a, 1))), eq(p, 1), gt(a, 1))),
        Case(rule, "scan: only new conjuncts are added",
             where(scan(relation, pushed=(gt(a, 1),)), gt(a, 1), IsNotNull(b)),
             where(scan(relation, pushed=(gt(a, 1), IsNotNull(b))), gt(a, 1), IsNotNull(b))),
        Case(rule, "through a project and into the scan in one application",
             where(project(full, c), gt(c.to_attribute(), 1)),
             project(where(scan(relation, pushed=(gt(a, 1),)), gt(a, 1)), c)),
    ]


# ---------------------------------------------------------------------------------------------
# prune_columns


def _prune_columns() -> list[Case]:
    rule = prune_columns
    a, b, c, x, y, z = cols("a b c x y z")
    relation = parquet(a, b, c)
    full = scan(relation)
    other = local(x, y, z)
    grouped = Aggregate((a,), (a, total(b)), full)
    sum_y = total(y)
    count_all = Alias(AggregateFunction("count", lit(1)), "n")
    root_join = join(full, local(x, y), "inner", eq(a, x))
    return [
        Case(rule, "scan narrowed; the project repeating it removed", project(full, a), scan(relation, a)),
        Case(rule, "a filter keeps the columns its condition reads",
             project(where(full, gt(b, 1)), a),
             project(where(scan(relation, a, b), gt(b, 1)), a)),
        Case(rule, "join sides carry only the output and the condition's columns",
             project(join(full, other, "inner", eq(a, x)), a, y),
             project(join(scan(relation, a), project(other, x, y), "inner", eq(a, x)), a, y)),
        Case(rule, "left semi: the right side keeps only the condition's columns",
             project(join(full, other, "left_semi", eq(a, x)), b),
             project(join(scan(relation, a, b), project(other, x), "left_semi", eq(a, x)), b)),
        Case(rule, "unused aggregate dropped",
             project(grouped, a),
             Aggregate((a,), (a,), scan(relation, a))),
        Case(rule, "aggregate over an in-memory relation gets a project",
             Aggregate((x,), (x, sum_y), other),
             Aggregate((x,), (x, sum_y), project(other, x, y))),
        Case(rule, "count(*) still reads one column",
             Aggregate((), (count_all,), full),
             Aggregate((), (count_all,), scan(relation, a))),
        Case(rule, "union children pruned by position",
             project(Union((full, where(other, gt(z, 0)))), a),
             Union((scan(relation, a), project(where(other, gt(z, 0)), x)))),
        Case(rule, "sort keeps its key", project(Sort((SortOrder(c),), True, full), a),
             project(Sort((SortOrder(c),), True, scan(relation, a, c)), a)),
        Case(rule, "a project repeating its child's columns is removed", project(other, x, y, z), other),
        unchanged(rule, "the root's output never changes", root_join),
        unchanged(rule, "distinct needs every column", project(Distinct(full), a)),
    ]


# ---------------------------------------------------------------------------------------------
# fold_constants


def _fold_constants() -> list[Case]:
    rule = fold_constants
    (a,) = cols("a")
    t = local(a)
    c = Alias(plus(1, 2), "c")
    u = Alias(ScalarFunction("upper", (lit("ab"),)), "u")
    d = Alias(Arithmetic("/", lit(1), lit(0)), "d")
    return [
        Case(rule, "alias kept, its constant folded", project(t, a, c), project(t, a, Alias(lit(3), "c", c.alias_id))),
        Case(rule, "inside a condition", where(t, gt(a, times(10, 2))), where(t, gt(a, 20))),
        Case(rule, "only the constant part", where(t, gt(plus(a, plus(1, 2)), 0)), where(t, gt(plus(a, 3), 0))),
        Case(rule, "cast of a string", where(t, eq(a, Cast(lit("5"), LongType()))),
             where(t, eq(a, Literal(5, LongType())))),
        Case(rule, "function of a literal", project(t, u), project(t, Alias(lit("AB"), "u", u.alias_id))),
        Case(rule, "division by zero is a typed null", project(t, d),
             project(t, Alias(Literal(None, DoubleType()), "d", d.alias_id))),
        Case(rule, "IS NULL of NULL", where(t, IsNull(Literal(None, IntegerType()))), where(t, TRUE)),
        unchanged(rule, "columns are not constant", where(t, gt(plus(a, 1), 2))),
        unchanged(rule, "a UDF of constants is not folded", project(t, Alias(udf(1), "v"))),
    ]


# ---------------------------------------------------------------------------------------------
# simplify_booleans


def _simplify_booleans() -> list[Case]:
    rule = simplify_booleans
    a, b = cols("a b")
    (d,) = cols("d", DoubleType())
    t, with_double = local(a, b), local(a, d)
    p = Alias(And(gt(a, 1), TRUE), "p")
    return [
        Case(rule, "true AND x", where(t, And(TRUE, gt(a, 1))), where(t, gt(a, 1))),
        Case(rule, "false OR x", where(t, Or(FALSE, gt(a, 1))), where(t, gt(a, 1))),
        Case(rule, "x OR true removes the filter", where(t, Or(gt(a, 1), TRUE)), t),
        Case(rule, "x AND false empties it", where(t, And(gt(a, 1), FALSE)), empty_relation(t.output)),
        Case(rule, "a null condition empties it", where(t, Literal(None, BooleanType())), empty_relation(t.output)),
        Case(rule, "NOT NOT x", where(t, Not(Not(gt(a, 1)))), where(t, gt(a, 1))),
        Case(rule, "NOT (a > 1) is a <= 1", where(t, Not(gt(a, 1))), where(t, cmp("<=", a, 1))),
        unchanged(rule, "NOT (d > 1.0) stays for doubles: NaN", where(with_double, Not(gt(d, 1.0)))),
        Case(rule, "x AND x", where(t, gt(a, 1), gt(a, 1)), where(t, gt(a, 1))),
        Case(rule, "x OR x", where(t, Or(gt(b, 1), gt(b, 1))), where(t, gt(b, 1))),
        unchanged(rule, "two UDF calls may differ", where(t, gt(udf(a), 0), gt(udf(a), 0))),
        Case(rule, "in a select list", project(t, p), project(t, Alias(gt(a, 1), "p", p.alias_id))),
        Case(rule, "a removed filter deep in the plan", project(where(t, TRUE), a), project(t, a)),
    ]


# ---------------------------------------------------------------------------------------------
# collapse_projects


def _collapse_projects() -> list[Case]:
    rule = collapse_projects
    (a,) = cols("a")
    t = local(a)
    inner = project(t, a, Alias(plus(a, 1), "b"))
    b = inner.output[1]
    d = Alias(times(b, 2), "d")
    middle = project(inner, Alias(times(b, 2), "c"))
    e = Alias(plus(middle.output[0], 3), "e")
    random = project(t, Alias(udf(a), "u"))
    u = random.output[0]
    v = Alias(plus(u, 1), "v")
    return [
        Case(rule, "definitions written into the outer list", project(inner, d),
             project(t, Alias(times(plus(a, 1), 2), "d", d.alias_id))),
        Case(rule, "an outer column keeps its name and id", project(inner, b, a),
             project(t, Alias(plus(a, 1), "b", b.attr_id), a)),
        Case(rule, "three projects", project(middle, e),
             project(t, Alias(plus(times(plus(a, 1), 2), 3), "e", e.alias_id))),
        Case(rule, "a UDF used once moves up", project(random, v),
             project(t, Alias(plus(udf(a), 1), "v", v.alias_id))),
        unchanged(rule, "a UDF used twice in one expression", project(random, Alias(plus(u, u), "w"))),
        unchanged(rule, "a UDF used by two outer columns", project(random, u, v)),
        unchanged(rule, "not across a filter", project(where(inner, gt(b, 1)), a)),
    ]


CASES: list[Case] = [
    *_replace_distinct(),
    *_combine_filters(),
    *_push_through_unary(),
    *_push_through_join(),
    *_push_through_union_and_into_scans(),
    *_prune_columns(),
    *_fold_constants(),
    *_simplify_booleans(),
    *_collapse_projects(),
]
