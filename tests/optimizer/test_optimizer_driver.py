"""The driver: fixed point, output checks, convergence, and the observer's report of each rewrite."""
from __future__ import annotations

from dataclasses import replace

import pytest

from engine.catalyst.expressions import TRUE, Alias, Arithmetic
from engine.catalyst.logical import Filter, LogicalPlan, Project
from engine.optimizer import RULES, OptimizerError, execute_rules, optimize
from engine.sql.types import StringType
from tests.optimizer.golden import cols, eq, gt, join, lit, local, parquet, plus, project, scan, times, where


def _orders_of_dutch_customers():
    """``SELECT name, amount * 2 FROM orders JOIN customers ON cust = c_id
    WHERE country = 'NL' AND amount > 50 + 50 AND true``, and what the optimizer should make of it."""
    o_id, cust, amount = cols("o_id cust amount")
    (note,) = cols("note", StringType())
    (c_id,) = cols("c_id")
    name, country = cols("name country", StringType())
    orders, customers = parquet(o_id, cust, amount, note), local(c_id, name, country)
    doubled = Alias(times(amount, 2), "double_amount")
    joined = join(scan(orders), customers, "inner", eq(cust, c_id))
    query = project(where(joined, eq(country, "NL"), gt(amount, plus(50, 50)), TRUE), name, doubled)
    optimized = project(
        join(
            where(scan(orders, cust, amount, pushed=(gt(amount, 100),)), gt(amount, 100)),
            project(where(customers, eq(country, "NL")), c_id, name),
            "inner", eq(cust, c_id),
        ),
        name, doubled,
    )
    return query, optimized


def test_optimize_reaches_the_fixed_point():
    query, optimized = _orders_of_dutch_customers()
    assert optimize(query) == optimized
    assert optimize(optimized) is optimized


def test_observer_receives_each_rewrite_in_order():
    query, _ = _orders_of_dutch_customers()
    seen: list[tuple[str, LogicalPlan, LogicalPlan]] = []
    result = optimize(query, observer=lambda rule, before, after: seen.append((rule, before, after)))
    assert [rule for rule, _, _ in seen] == [
        "fold_constants", "simplify_booleans", "push_down_predicates", "prune_columns",
    ]
    assert seen[0][1] is query and seen[-1][2] is result
    for (_, _, previous_after), (_, before, after) in zip(seen, seen[1:]):
        assert before is previous_after
    assert all(before != after for _, before, after in seen)


def test_a_plan_with_nothing_to_do_comes_back_untouched_and_unreported():
    a, b = cols("a b")
    plan = where(local(a, b), gt(a, 1))
    seen = []
    assert optimize(plan, observer=lambda *report: seen.append(report)) is plan
    assert seen == []


def test_a_rule_returning_an_equal_copy_has_changed_nothing():
    (a,) = cols("a")
    plan = local(a)

    def copy_root(p: LogicalPlan) -> LogicalPlan:
        return replace(p)

    seen = []
    assert execute_rules(plan, (copy_root,), observer=lambda *report: seen.append(report)) is plan
    assert seen == []


def _add_column(plan: LogicalPlan) -> LogicalPlan:
    return Project(plan.output + (Alias(lit(1), "extra"),), plan)


def _rename_first_column(plan: LogicalPlan) -> LogicalPlan:
    first, *rest = plan.output
    return Project((first.with_name("renamed"), *rest), plan)


def _reverse_columns(plan: LogicalPlan) -> LogicalPlan:
    return Project(tuple(reversed(plan.output)), plan)


@pytest.mark.parametrize("bad_rule", [_add_column, _rename_first_column, _reverse_columns])
def test_a_rule_changing_the_output_is_named(bad_rule):
    a, b = cols("a b")
    with pytest.raises(OptimizerError, match=bad_rule.__name__):
        execute_rules(local(a, b), (bad_rule,))


def test_nullability_may_change():
    (a,) = cols("a")
    one = Alias(Arithmetic("/", lit(1), lit(1)), "one")
    plan = project(local(a), a, one)
    assert plan.output[1].nullable
    assert not optimize(plan).output[1].nullable


def test_rules_that_never_converge_raise():
    (a,) = cols("a")

    def toggle_filter(p: LogicalPlan) -> LogicalPlan:
        return p.child if isinstance(p, Filter) else Filter(TRUE, p)

    with pytest.raises(OptimizerError, match="within 5 passes.*toggle_filter"):
        execute_rules(local(a), (toggle_filter,), max_passes=5)


def test_max_passes_must_allow_one_pass():
    (a,) = cols("a")
    with pytest.raises(ValueError):
        optimize(local(a), max_passes=0)


def test_each_rule_lives_in_the_module_named_after_it():
    assert [rule.__module__ for rule in RULES] == [f"engine.optimizer.{rule.__name__}" for rule in RULES]
