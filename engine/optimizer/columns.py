"""Column bookkeeping shared by the rules that move expressions across plan nodes.

Moving a predicate below a ``Project`` or an ``Aggregate`` means rewriting it in terms of the
columns that exist below: each column the node defines is replaced by its definition::

    Filter (c#3 > 1)                           Project [a#1, (a#1 + b#2) AS c#3]
    +- Project [a#1, (a#1 + b#2) AS c#3]   ->  +- Filter ((a#1 + b#2) > 1)
"""
from __future__ import annotations

from typing import Iterable, Mapping

from engine.catalyst.expressions import Alias, AttributeReference, Expression


def column_ids(expressions: Iterable[Expression]) -> frozenset[int]:
    """The ids of every column the expressions read."""
    return frozenset(a.attr_id for e in expressions for a in e.references)


def definitions(named: Iterable[Expression]) -> dict[int, Expression]:
    """``{id: definition}`` for the aliases of a select list: ``(a + 1) AS b#7`` gives ``{7: a + 1}``."""
    return {e.alias_id: e.child for e in named if isinstance(e, Alias)}


def substitute(expr: Expression, replacements: Mapping[int, Expression]) -> Expression:
    """``expr`` with every column whose id is a key of ``replacements`` replaced by its value."""

    def swap(e: Expression) -> Expression:
        if isinstance(e, AttributeReference):
            return replacements.get(e.attr_id, e)
        return e

    return expr.transform_up(swap)
