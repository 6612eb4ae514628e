"""The logical optimizer (Spark's Catalyst optimizer): rewrites a resolved plan into a cheaper one
that computes the same rows.

Each rule lives in its own module, named for what it does, and is a function from plan to plan
that returns its input unchanged when it has nothing to do. ``RULES`` fixes their order; the
driver (``engine.optimizer.driver``) repeats them until nothing changes, checks that no rule
altered the plan's output columns, and reports every rewrite to an observer. For example::

    Project [name#2]                                    Project [name#2]
    +- Filter ((id#1 > (5 * 2)) AND true)           ->  +- Filter (id#1 > 10)
       +- Relation [id#1, name#2, x#3] parquet             +- Relation [id#1, name#2] parquet,
                                                               PushedFilters: [(id#1 > 10)]

is reported as four rewrites: fold_constants (``5 * 2`` is ``10``), simplify_booleans (``AND true``
goes), push_down_predicates (``id > 10`` also reaches the scan, to skip row groups) and
prune_columns (``x`` is never read).
"""
from __future__ import annotations

from engine.catalyst.logical import LogicalPlan
from engine.optimizer.collapse_projects import collapse_projects
from engine.optimizer.combine_filters import combine_filters
from engine.optimizer.driver import Observer, OptimizerError, Rule, execute_rules
from engine.optimizer.fold_constants import fold_constants
from engine.optimizer.prune_columns import prune_columns
from engine.optimizer.push_down_predicates import push_down_predicates
from engine.optimizer.replace_distinct_with_aggregate import replace_distinct_with_aggregate
from engine.optimizer.simplify_booleans import simplify_booleans

RULES: tuple[Rule, ...] = (
    # First, so that every later rule (pushdown through Aggregate, pruning) and the planner only
    # ever meet Aggregate, never Distinct.
    replace_distinct_with_aggregate,
    # Folding before simplifying: `(1 > 2) AND x` only simplifies once `1 > 2` has become `false`.
    fold_constants,
    # Before pushdown, so `true` conjuncts are gone and `Filter false` has emptied its subtree
    # instead of being pushed around.
    simplify_booleans,
    # Combining before pushing: one condition is split and each conjunct pushed once.
    combine_filters,
    push_down_predicates,
    # After pushdown: a Filter that moved out from between two Projects leaves them adjacent.
    collapse_projects,
    # Last: it needs the final positions of filters and projects to know which columns each node
    # still uses, and the scans it narrows should read only what the pushed-down filters need.
    prune_columns,
)


def optimize(plan: LogicalPlan, observer: Observer | None = None, max_passes: int = 100) -> LogicalPlan:
    """``plan`` rewritten by ``RULES`` until a whole pass changes nothing.

    ``observer(rule_name, before, after)`` is called for each rewrite. Raises ``OptimizerError`` if
    a rule changes the output columns or the rules do not converge within ``max_passes`` passes.
    """
    return execute_rules(plan, RULES, observer=observer, max_passes=max_passes)


__all__ = ["RULES", "Observer", "OptimizerError", "Rule", "execute_rules", "optimize"]
