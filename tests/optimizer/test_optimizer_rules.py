"""Every rule against its golden before/after plans (see golden.py)."""
import pytest

from tests.optimizer.golden import CASES


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.rule.__name__}: {c.name}")
def test_rule_rewrites_to_golden_plan(case):
    after = case.rule(case.before)
    assert after == case.expected, f"\n{case.before}\n\nbecame\n\n{after}\n\nexpected\n\n{case.expected}"
    if case.expected is case.before:
        assert after is case.before, "a rule with nothing to do must return its input itself"
