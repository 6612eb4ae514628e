"""The optimizer's driver (Spark's ``RuleExecutor``): rules rewrite, the driver traverses and checks.

Policy:

- Every rule runs in order, and the whole sequence repeats until one full pass changes nothing:
  a fixed point. A rule signals "nothing to do" by returning its input (or a plan equal to it).
- A run that is still changing the plan after ``max_passes`` passes raises ``OptimizerError``:
  two rules undoing each other would otherwise loop forever. The pass that finds the fixed point
  counts as a pass.
- After every rewrite the plan must still produce the same columns: same names, types and ids, in
  the same order. Nullability may change (folding ``1 / 1`` to ``1.0`` makes a column non-null),
  as Spark also allows. A rule that breaks this is named in the error.
- Each rewrite is reported to the observer as ``(rule_name, before, after)``; ``explain`` and the
  event log build the optimizer's story from these reports.
"""
from __future__ import annotations

from typing import Callable, Sequence

from engine.catalyst.logical import LogicalPlan

Rule = Callable[[LogicalPlan], LogicalPlan]
Observer = Callable[[str, LogicalPlan, LogicalPlan], None]


class OptimizerError(Exception):
    """A rule changed the plan's output columns, or the rules did not reach a fixed point."""


def execute_rules(
    plan: LogicalPlan,
    rules: Sequence[Rule],
    observer: Observer | None = None,
    max_passes: int = 100,
) -> LogicalPlan:
    """Apply ``rules`` in order, pass after pass, until a pass leaves ``plan`` unchanged.

    ``observer``, when given, is called as ``observer(rule_name, before, after)`` for each rule
    application that changed the plan. Raises ``OptimizerError`` as the module docstring says.
    """
    if max_passes < 1:
        raise ValueError(f"max_passes must be at least 1, not {max_passes}")
    signature = _output_signature(plan)
    changed_by: list[str] = []
    for _ in range(max_passes):
        changed_by = []
        for rule in rules:
            after = rule(plan)
            if after is plan or after == plan:
                continue
            name = rule.__name__
            if _output_signature(after) != signature:
                raise OptimizerError(
                    f"rule {name} changed the plan's output from {_describe(signature)} "
                    f"to {_describe(_output_signature(after))}"
                )
            if observer is not None:
                observer(name, plan, after)
            changed_by.append(name)
            plan = after
        if not changed_by:
            return plan
    raise OptimizerError(
        f"the optimizer did not reach a fixed point within {max_passes} passes; "
        f"the last pass was still changed by {', '.join(changed_by)}"
    )


def _output_signature(plan: LogicalPlan) -> tuple:
    return tuple((a.name, a.data_type, a.attr_id) for a in plan.output)


def _describe(signature: tuple) -> str:
    return "[" + ", ".join(f"{name}#{attr_id}: {t.simpleString()}" for name, t, attr_id in signature) + "]"
