"""TreeNode: the traversal every tree in the engine shares (Spark's ``TreeNode``).

Expressions, logical plans and physical plans are dataclasses whose children are the fields
holding a node of the tree's base class, or a tuple of them, in declaration order. Rules rewrite
single nodes; these methods walk the tree and rebuild only the paths that changed.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Callable, Iterator, TypeVar

T = TypeVar("T", bound="TreeNode")


class TreeNode:
    __slots__ = ()

    @classmethod
    def tree_base(cls) -> type:
        """The class every child of this tree is an instance of (set by each tree's base class)."""
        raise NotImplementedError

    def _child_fields(self):
        base = self.tree_base()
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, base):
                yield f.name, v, False
            elif isinstance(v, tuple) and v and isinstance(v[0], base):
                yield f.name, v, True

    @property
    def children(self) -> tuple:
        out: list = []
        for _, v, many in self._child_fields():
            if many:
                out.extend(v)
            else:
                out.append(v)
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
