"""Logical plan nodes: immutable, hashable, compared whole with ``==``.

A node's children are its ``LogicalPlan`` fields (or a tuple of them) in declaration order; its
expressions are its ``Expression`` fields (or tuples of them). ``output`` is the tuple of columns
the node produces. The tree string is Spark's::

    Project [a#1, (b#2 + 1) AS c#3]
    +- Filter (a#1 > 10)
       +- LocalRelation [a#1, b#2]
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Callable

import pyarrow as pa

from engine.catalyst.expressions import (
    AggregateFunction,
    AttributeReference,
    Expression,
    NamedExpression,
    SortOrder,
)
from engine.catalyst.tree import TreeNode
from engine.sql.types import StructField, StructType

JOIN_TYPES = ("inner", "left_outer", "right_outer", "full_outer", "left_semi", "left_anti", "cross")


@dataclass(frozen=True, slots=True)
class LogicalPlan(TreeNode):
    @classmethod
    def tree_base(cls) -> type:
        return LogicalPlan

    @property
    def expressions(self) -> tuple[Expression, ...]:
        out: list[Expression] = []
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Expression):
                out.append(v)
            elif isinstance(v, tuple) and v and isinstance(v[0], Expression):
                out.extend(v)
        return tuple(out)

    def map_expressions(self, fn: Callable[[Expression], Expression]) -> LogicalPlan:
        """This node with ``fn`` applied to each of its own expressions (not its children's)."""
        changes = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Expression):
                nv = fn(v)
                if nv is not v:
                    changes[f.name] = nv
            elif isinstance(v, tuple) and v and isinstance(v[0], Expression):
                nv = tuple(fn(e) for e in v)
                if any(a is not b for a, b in zip(nv, v)):
                    changes[f.name] = nv
        return replace(self, **changes) if changes else self

    @property
    def output(self) -> tuple[AttributeReference, ...]:
        raise NotImplementedError(type(self).__name__)

    @property
    def output_set(self) -> frozenset[int]:
        return frozenset(a.expr_id for a in self.output)

    @property
    def references(self) -> frozenset[AttributeReference]:
        out: set[AttributeReference] = set()
        for e in self.expressions:
            out |= e.references
        return frozenset(out)

    @property
    def resolved(self) -> bool:
        return all(e.resolved for e in self.expressions) and all(c.resolved for c in self.children)

    @property
    def schema(self) -> StructType:
        return StructType([StructField(a.name, a.data_type, a.nullable) for a in self.output])

    @property
    def size_in_bytes(self) -> int:
        """Estimated output size, used to choose broadcast joins (Spark's ``stats.sizeInBytes``)."""
        kids = self.children
        return max(1, sum(c.size_in_bytes for c in kids)) if kids else 1

    @property
    def node_name(self) -> str:
        return type(self).__name__

    def simple_string(self) -> str:
        return self.node_name

    def tree_string(self) -> str:
        lines: list[str] = []
        self._tree_lines(lines, "", "")
        return "\n".join(lines)

    def _tree_lines(self, lines: list[str], first: str, rest: str) -> None:
        lines.append(first + self.simple_string())
        kids = self.children
        for i, c in enumerate(kids):
            last = i == len(kids) - 1
            c._tree_lines(lines, rest + "+- " if last else rest + ":- ", rest + ("   " if last else ":  "))

    def __str__(self) -> str:
        return self.tree_string()


def _attrs(attrs) -> str:
    return "[" + ", ".join(str(a) for a in attrs) + "]"


def _row_width(attrs) -> int:
    return sum(8 if a.data_type.simpleString() != "string" else 20 for a in attrs) or 1


class DataHandle:
    """Wraps data a plan refers to (a table, a cache entry) so plans stay hashable: by identity."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return f"DataHandle({type(self.value).__name__})"


# ---------------------------------------------------------------------------------------------
# leaves


@dataclass(frozen=True, slots=True)
class LocalRelation(LogicalPlan):
    """In-memory rows (``createDataFrame``); ``data`` holds an Arrow table in ``output`` order."""

    relation_output: tuple[AttributeReference, ...]
    data: DataHandle

    @property
    def output(self):
        return self.relation_output

    @property
    def table(self) -> pa.Table:
        return self.data.value

    @property
    def size_in_bytes(self) -> int:
        return max(1, self.table.nbytes)

    def simple_string(self) -> str:
        return f"LocalRelation {_attrs(self.output)}"


@dataclass(frozen=True, slots=True)
class Range(LogicalPlan):
    start: int
    end: int
    step: int
    num_partitions: int
    range_output: tuple[AttributeReference, ...]

    @property
    def output(self):
        return self.range_output

    @property
    def num_rows(self) -> int:
        if self.step > 0:
            return max(0, (self.end - self.start + self.step - 1) // self.step)
        return max(0, (self.start - self.end - self.step - 1) // -self.step)

    @property
    def size_in_bytes(self) -> int:
        return max(1, 8 * self.num_rows)

    def simple_string(self) -> str:
        return f"Range ({self.start}, {self.end}, step={self.step}, splits={self.num_partitions})"


@dataclass(frozen=True, slots=True)
class PartitionedFile:
    """One data file of a file relation, with the values of its Hive-style partition directories."""

    path: str
    size: int
    partition_values: tuple = ()


@dataclass(frozen=True, slots=True)
class FileRelation:
    """What a ``spark.read`` found: format, options, the files, and the full schema of the data."""

    format: str
    root_paths: tuple[str, ...]
    options: tuple[tuple[str, str], ...]
    files: tuple[PartitionedFile, ...]
    data_columns: tuple[AttributeReference, ...]
    partition_columns: tuple[AttributeReference, ...] = ()

    @property
    def all_columns(self) -> tuple[AttributeReference, ...]:
        return self.data_columns + self.partition_columns

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def option(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.options:
            if k.lower() == key.lower():
                return v
        return default


@dataclass(frozen=True, slots=True)
class FileScan(LogicalPlan):
    """A scan of a file relation reading only ``scan_output``; ``pushed_filters`` prune row groups.

    Pushed filters are hints for skipping data by statistics; the Filter above the scan still
    applies them row by row, as in Spark.
    """

    relation: FileRelation
    scan_output: tuple[AttributeReference, ...]
    pushed_filters: tuple[Expression, ...] = ()

    @property
    def output(self):
        return self.scan_output

    @property
    def size_in_bytes(self) -> int:
        total = len(self.relation.all_columns) or 1
        return max(1, self.relation.total_size * max(1, len(self.scan_output)) // total)

    def simple_string(self) -> str:
        roots = ", ".join(os.path.basename(p.rstrip("/")) or p for p in self.relation.root_paths)
        pushed = f", PushedFilters: [{', '.join(str(f) for f in self.pushed_filters)}]" if self.pushed_filters else ""
        return f"Relation {_attrs(self.output)} {self.relation.format} [{roots}]{pushed}"


@dataclass(frozen=True, slots=True)
class InMemoryRelation(LogicalPlan):
    """A cached plan (``df.cache()``): the data lives in the block manager under ``cache``."""

    relation_output: tuple[AttributeReference, ...]
    cached_plan: LogicalPlan = field(compare=False)
    cache: DataHandle
    storage_level: str = "MEMORY_AND_DISK"

    @property
    def children(self) -> tuple[LogicalPlan, ...]:
        return ()

    def with_new_children(self, children):
        return self

    @property
    def output(self):
        return self.relation_output

    @property
    def size_in_bytes(self) -> int:
        return self.cached_plan.size_in_bytes

    def simple_string(self) -> str:
        return f"InMemoryRelation {_attrs(self.output)}, StorageLevel({self.storage_level})"


# ---------------------------------------------------------------------------------------------
# unary


@dataclass(frozen=True, slots=True)
class Project(LogicalPlan):
    project_list: tuple[Expression, ...]
    child: LogicalPlan

    @property
    def output(self):
        return tuple(e.to_attribute() for e in self.project_list if isinstance(e, NamedExpression))

    @property
    def size_in_bytes(self) -> int:
        child_attrs = self.child.output
        return max(1, self.child.size_in_bytes * _row_width(self.output) // _row_width(child_attrs))

    def simple_string(self) -> str:
        return f"Project {_attrs(self.project_list)}"


@dataclass(frozen=True, slots=True)
class Filter(LogicalPlan):
    condition: Expression
    child: LogicalPlan

    @property
    def output(self):
        return self.child.output

    def simple_string(self) -> str:
        return f"Filter {self.condition}"


@dataclass(frozen=True, slots=True)
class Aggregate(LogicalPlan):
    grouping_expressions: tuple[Expression, ...]
    aggregate_expressions: tuple[Expression, ...]
    child: LogicalPlan

    @property
    def output(self):
        return tuple(e.to_attribute() for e in self.aggregate_expressions if isinstance(e, NamedExpression))

    @property
    def aggregate_functions(self) -> tuple[AggregateFunction, ...]:
        seen: dict[AggregateFunction, None] = {}
        for e in self.aggregate_expressions:
            for n in e.walk():
                if isinstance(n, AggregateFunction):
                    seen.setdefault(n, None)
        return tuple(seen)

    def simple_string(self) -> str:
        return f"Aggregate {_attrs(self.grouping_expressions)}, {_attrs(self.aggregate_expressions)}"


@dataclass(frozen=True, slots=True)
class Sort(LogicalPlan):
    order: tuple[SortOrder, ...]
    is_global: bool
    child: LogicalPlan

    @property
    def output(self):
        return self.child.output

    def simple_string(self) -> str:
        return f"Sort {_attrs(self.order)}, {str(self.is_global).lower()}"


@dataclass(frozen=True, slots=True)
class Limit(LogicalPlan):
    n: int
    child: LogicalPlan

    @property
    def output(self):
        return self.child.output

    def simple_string(self) -> str:
        return f"GlobalLimit {self.n}"


@dataclass(frozen=True, slots=True)
class Distinct(LogicalPlan):
    child: LogicalPlan

    @property
    def output(self):
        return self.child.output


@dataclass(frozen=True, slots=True)
class Deduplicate(LogicalPlan):
    """``dropDuplicates(keys)``: the first row seen for each distinct value of ``keys``."""

    keys: tuple[AttributeReference, ...]
    child: LogicalPlan

    @property
    def output(self):
        return self.child.output

    def simple_string(self) -> str:
        return f"Deduplicate {_attrs(self.keys)}"


@dataclass(frozen=True, slots=True)
class Repartition(LogicalPlan):
    """``repartition(n, *cols)`` (shuffle) or ``coalesce(n)`` (no shuffle)."""

    num_partitions: int
    partition_expressions: tuple[Expression, ...]
    shuffle: bool
    child: LogicalPlan

    @property
    def output(self):
        return self.child.output

    def simple_string(self) -> str:
        if self.partition_expressions:
            return f"RepartitionByExpression {_attrs(self.partition_expressions)}, {self.num_partitions}"
        return f"Repartition {self.num_partitions}, {str(self.shuffle).lower()}"


# ---------------------------------------------------------------------------------------------
# binary and n-ary


@dataclass(frozen=True, slots=True)
class Join(LogicalPlan):
    left: LogicalPlan
    right: LogicalPlan
    join_type: str
    condition: Expression | None = None

    def __post_init__(self):
        if self.join_type not in JOIN_TYPES:
            raise ValueError(f"unknown join type {self.join_type!r}")

    @property
    def output(self):
        left, right = self.left.output, self.right.output
        if self.join_type in ("left_semi", "left_anti"):
            return left
        if self.join_type == "left_outer":
            return left + tuple(a.with_nullability(True) for a in right)
        if self.join_type == "right_outer":
            return tuple(a.with_nullability(True) for a in left) + right
        if self.join_type == "full_outer":
            return tuple(a.with_nullability(True) for a in left + right)
        return left + right

    @property
    def size_in_bytes(self) -> int:
        if self.join_type in ("left_semi", "left_anti"):
            return self.left.size_in_bytes
        return self.left.size_in_bytes + self.right.size_in_bytes

    def simple_string(self) -> str:
        cond = f", {self.condition}" if self.condition is not None else ""
        return f"Join {self.join_type.replace('_', '')}{cond}"


@dataclass(frozen=True, slots=True)
class Union(LogicalPlan):
    """Rows of all children, matched by position; the output columns are the first child's."""

    union_children: tuple[LogicalPlan, ...]

    @property
    def output(self):
        first = self.union_children[0].output
        nullable = [any(c.output[i].nullable for c in self.union_children) for i in range(len(first))]
        return tuple(a.with_nullability(n) for a, n in zip(first, nullable))

    def simple_string(self) -> str:
        return "Union"

