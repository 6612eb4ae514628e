"""The shape of a SQL execution's physical plan, and what changed between two of them.

A shape keeps what a plan decides and drops what changes run to run: operator names (with the
codegen stage number dropped), join strategies with their join type, exchanges with their
partitioning, and what AQE changed between the initial and the final plan. Expression ids
(``k#153L``) and ``plan_id`` are JVM-wide counters, so they are never part of a shape.

    shape = plan_shape(execution)      # PlanShape: operators (pre-order), joins, exchanges, aqe
    change = compare_plans(a, b)        # None when equal, else what was added, removed, changed
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from diag.model import PlanNode, SQLExecution

_JOIN_TYPES = ("LeftSemi", "LeftAnti", "LeftOuter", "RightOuter", "FullOuter", "ExistenceJoin", "Cross", "Inner")
_CODEGEN_NUMBER = re.compile(r"\s*\(\d+\)$")
# Wrappers that codegen and columnar reads insert: part of the shape, left out of a change's summary
_WRAPPERS = ("WholeStageCodegen", "InputAdapter", "ColumnarToRow", "RowToColumnar")


def _operator(node: PlanNode) -> str:
    """A node's name as a shape keeps it: ``Exchange hashpartitioning(8)``, ``SortMergeJoin Inner``."""
    name = _CODEGEN_NUMBER.sub("", node.name.strip())
    if name in ("Exchange", "ShuffleExchange"):
        m = re.match(r"\S+\s+(\w+)(?:\(.*?(\d+)\))?", node.description)
        if m:
            return f"Exchange {m[1]}" + (f"({m[2]})" if m[2] else "")
    if name.endswith("Join") or name == "CartesianProduct":
        kind = next((t for t in _JOIN_TYPES if re.search(rf"\b{t}\b", node.description)), None)
        return f"{name} {kind}" if kind else name
    return name


def _is_join(op: str) -> bool:
    return op.split(" ")[0].endswith("Join") or op.startswith("CartesianProduct")


def _is_exchange(op: str) -> bool:
    return op.startswith(("Exchange", "BroadcastExchange"))


def _tree(nodes: list[PlanNode]) -> tuple[str, ...]:
    """The operators in pre-order, each prefixed with its depth, so a moved operator is a change."""
    depth: dict[int, int] = {}
    out = []
    for node in nodes:
        depth[node.node_id] = 0 if node.parent_id is None else depth[node.parent_id] + 1
        out.append(f"{depth[node.node_id]}:{_operator(node)}")
    return tuple(out)


@dataclass(frozen=True)
class PlanShape:
    tree: tuple[str, ...]  # "depth:operator" in pre-order, the final plan
    joins: tuple[str, ...]
    exchanges: tuple[str, ...]
    aqe_changes: tuple[str, ...]  # what AQE changed at run time: "SortMergeJoin Inner -> BroadcastHashJoin Inner"

    @property
    def operators(self) -> Counter:
        return Counter(entry.split(":", 1)[1] for entry in self.tree)


def _aqe_changes(execution: SQLExecution) -> tuple[str, ...]:
    """Joins AQE replaced, and shuffle reads it coalesced or split for skew, initial plan vs final."""
    if not execution.earlier_plans:
        return ()
    initial = [_operator(n) for n in execution.earlier_plans[0]]
    final = [_operator(n) for n in execution.nodes]
    changes = []
    before, after = [op for op in initial if _is_join(op)], [op for op in final if _is_join(op)]
    if Counter(before) != Counter(after):
        changes.append(f"joins {', '.join(before) or 'none'} -> {', '.join(after) or 'none'}")
    reads = Counter(f"AQEShuffleRead {n.description.partition(' ')[2] or 'local'}".strip()
                    for n in execution.nodes if n.name == "AQEShuffleRead")
    changes += [read + (f" x{n}" if n > 1 else "") for read, n in sorted(reads.items())]
    return tuple(changes)


def plan_shape(execution: SQLExecution) -> PlanShape:
    ops = tuple(_operator(n) for n in execution.nodes)
    return PlanShape(_tree(execution.nodes), tuple(op for op in ops if _is_join(op)),
                     tuple(op for op in ops if _is_exchange(op)), _aqe_changes(execution))


@dataclass(frozen=True)
class PlanChange:
    added: dict[str, int]  # operator -> how many more in NEW
    removed: dict[str, int]
    joins: tuple[tuple[str, ...], tuple[str, ...]]  # (BASE, NEW) when the join strategies differ, else ((), ())
    exchanges: tuple[int, int]
    aqe: tuple[tuple[str, ...], tuple[str, ...]]

    def summary(self) -> str:
        """One line: ``joins BroadcastHashJoin Inner -> SortMergeJoin Inner; exchanges 1 -> 3; +Sort x2``."""
        parts = []
        if self.joins != ((), ()):
            parts.append(f"joins {', '.join(self.joins[0]) or 'none'} -> {', '.join(self.joins[1]) or 'none'}")
        if self.exchanges[0] != self.exchanges[1]:
            parts.append(f"exchanges {self.exchanges[0]} -> {self.exchanges[1]}")
        parts += [f"+{op}" + (f" x{n}" if n > 1 else "") for op, n in self.added.items() if op not in _WRAPPERS]
        parts += [f"-{op}" + (f" x{n}" if n > 1 else "") for op, n in self.removed.items() if op not in _WRAPPERS]
        if self.aqe[0] != self.aqe[1]:
            parts.append(f"AQE [{'; '.join(self.aqe[0]) or 'no change'}] -> [{'; '.join(self.aqe[1]) or 'no change'}]")
        return "; ".join(parts) or "operators regrouped or reordered"


def compare_plans(base: PlanShape, new: PlanShape) -> PlanChange | None:
    """What differs between two shapes, or None when they are the same plan."""
    if base == new:
        return None
    added = dict(sorted((new.operators - base.operators).items()))
    removed = dict(sorted((base.operators - new.operators).items()))
    joins = (base.joins, new.joins) if Counter(base.joins) != Counter(new.joins) else ((), ())
    return PlanChange(added, removed, joins, (len(base.exchanges), len(new.exchanges)),
                      (base.aqe_changes, new.aqe_changes))
