"""TreeNode: the traversal every tree in the engine shares (Spark's ``TreeNode``).

Expressions, logical plans and physical plans are dataclasses whose children are the fields
holding a node of the tree's base class, or a tuple of them, in declaration order. Rules rewrite
single nodes; these methods walk the tree and rebuild only the paths that changed.

Planning asks every node for its children many times (each optimizer pass, each rule), so a frozen
node (expressions, logical plans) computes its children once and keeps them; a physical operator
may change a child in place (an adaptive plan swaps its current plan), so it computes them each time.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Callable, Iterator, NamedTuple, TypeVar

T = TypeVar("T", bound="TreeNode")


class TreeNode:
    __slots__ = ("_children_cache",)  # set once on frozen nodes; not a dataclass field, so not compared

    @classmethod
    def tree_base(cls) -> type:
        """The class every child of this tree is an instance of (set by each tree's base class)."""
        raise NotImplementedError

    def _child_fields(self):
        base = self.tree_base()
        for name in _shape(type(self)).field_names:
            v = getattr(self, name)
            if isinstance(v, base):
                yield name, v, False
            elif isinstance(v, tuple) and v and isinstance(v[0], base):
                yield name, v, True

    @property
    def children(self) -> tuple:
        shape = _shape(type(self))
        if shape.frozen:
            try:
                return self._children_cache
            except AttributeError:  # first call on this node (or on a copy unpickled without it)
                kids = self._collect_children(shape)
                object.__setattr__(self, "_children_cache", kids)
                return kids
        return self._collect_children(shape)

    def _collect_children(self, shape: _Shape) -> tuple:
        base = self.tree_base()
        out: list = []
        for name in shape.field_names:
            v = getattr(self, name)
            if isinstance(v, base):
                out.append(v)
            elif isinstance(v, tuple) and v and isinstance(v[0], base):
                out.extend(v)
        return tuple(out)

    def with_new_children(self: T, children) -> T:
        it = iter(children)
        changes = {}
        for name, v, many in self._child_fields():
            changes[name] = tuple(next(it) for _ in v) if many else next(it)
        return replace(self, **changes) if changes else self

    def transform_up(self: T, rule: Callable[[T], T]) -> T:
        """Apply ``rule`` to every node, children first; unchanged subtrees are kept as they are."""
        kids = self.children
        node = self
        if kids:
            new_kids = tuple(k.transform_up(rule) for k in kids)
            if any(a is not b for a, b in zip(new_kids, kids)):
                node = self.with_new_children(new_kids)
        return rule(node)

    def transform_down(self: T, rule: Callable[[T], T]) -> T:
        """Apply ``rule`` to every node, parents first."""
        node = rule(self)
        kids = node.children
        if not kids:
            return node
        new_kids = tuple(k.transform_down(rule) for k in kids)
        if all(a is b for a, b in zip(new_kids, kids)):
            return node
        return node.with_new_children(new_kids)

    def walk(self) -> Iterator:
        """Every node of the tree, pre-order."""
        yield self
        for c in self.children:
            yield from c.walk()


class _Shape(NamedTuple):
    field_names: tuple[str, ...]  # in declaration order
    frozen: bool  # instances never change, so their children can be kept


_SHAPES: dict[type, _Shape] = {}


def _shape(cls: type) -> _Shape:
    """What ``children`` needs to know about a node class, computed once per class:
    ``dataclasses.fields`` rebuilds its tuple on every call, and trees ask for children constantly."""
    shape = _SHAPES.get(cls)
    if shape is None:
        shape = _SHAPES[cls] = _Shape(tuple(f.name for f in fields(cls)), cls.__dataclass_params__.frozen)
    return shape
