"""The join algorithm shared by Ember's join operators, and the planner's key extraction.

A join first finds the matching (left row, right row) index pairs — with pyarrow's hash join
over the key columns, or every pair when there are no equi-keys — then filters the pairs by any
residual condition, then adds the unmatched rows the join type keeps, padded with nulls. Rows
are gathered once, with ``take``, at the end.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.catalyst.expressions import Comparison, Expression, conjunction, split_conjuncts
from engine.execution.evaluator import evaluate


def equi_join_keys(condition: Expression | None, left_ids: frozenset[int], right_ids: frozenset[int]):
    """Split a join condition into equi-key pairs and the residual condition (Spark's ExtractEquiJoinKeys)."""
    if condition is None:
        return [], [], None
    left_keys, right_keys, rest = [], [], []
    for c in split_conjuncts(condition):
        if isinstance(c, Comparison) and c.op == "=":
            lrefs = {a.expr_id for a in c.left.references}
            rrefs = {a.expr_id for a in c.right.references}
            if lrefs and rrefs and lrefs <= left_ids and rrefs <= right_ids:
                left_keys.append(c.left)
                right_keys.append(c.right)
                continue
            if lrefs and rrefs and lrefs <= right_ids and rrefs <= left_ids:
                left_keys.append(c.right)
                right_keys.append(c.left)
                continue
        rest.append(c)
    return left_keys, right_keys, conjunction(rest)


def _matching_pairs(left: pa.Table, right: pa.Table, left_keys, right_keys):
    if not left_keys:
        nl, nr = left.num_rows, right.num_rows
        return (np.repeat(np.arange(nl, dtype=np.int64), nr), np.tile(np.arange(nr, dtype=np.int64), nl))
    lcols = {f"k{i}": evaluate(k, left) for i, k in enumerate(left_keys)}
    rcols = {f"k{i}": evaluate(k, right) for i, k in enumerate(right_keys)}
    lt = pa.table(lcols | {"__l": pa.array(np.arange(left.num_rows, dtype=np.int64))})
    rt = pa.table(rcols | {"__r": pa.array(np.arange(right.num_rows, dtype=np.int64))})
    keys = list(lcols)
    joined = lt.join(rt, keys=keys, right_keys=keys, join_type="inner", coalesce_keys=True, use_threads=False)
    return (joined.column("__l").to_numpy(), joined.column("__r").to_numpy())


def _gather(left: pa.Table, right: pa.Table, li, ri) -> pa.Table:
    lt = left.take(li)
    rt = right.take(ri)
    return pa.Table.from_arrays(lt.columns + rt.columns, names=lt.column_names + rt.column_names)


def _with_nulls(indices: np.ndarray, count: int) -> pa.Array:
    return pa.concat_arrays([pa.array(indices, pa.int64()), pa.nulls(count, pa.int64())])


def join_tables(left: pa.Table, right: pa.Table, left_keys, right_keys, join_type: str,
                residual: Expression | None) -> pa.Table:
    """Join two partitions; the result's columns are the left's then the right's (left only for semi/anti)."""
    li, ri = _matching_pairs(left, right, left_keys, right_keys)
    if residual is not None and len(li):
        keep = pc.fill_null(evaluate(residual, _gather(left, right, li, ri)), False).to_numpy(zero_copy_only=False)
        li, ri = li[keep], ri[keep]
    elif residual is not None:
        li, ri = li[:0], ri[:0]
    if join_type in ("inner", "cross"):
        return _gather(left, right, li, ri)
    if join_type in ("left_semi", "left_anti"):
        matched = np.zeros(left.num_rows, dtype=bool)
        matched[li] = True
        return left.filter(pa.array(matched if join_type == "left_semi" else ~matched))
    parts_l, parts_r = [pa.array(li, pa.int64())], [pa.array(ri, pa.int64())]
    if join_type in ("left_outer", "full_outer"):
        unmatched = np.setdiff1d(np.arange(left.num_rows, dtype=np.int64), li, assume_unique=False)
        parts_l.append(pa.array(unmatched, pa.int64()))
        parts_r.append(pa.nulls(len(unmatched), pa.int64()))
    if join_type in ("right_outer", "full_outer"):
        unmatched = np.setdiff1d(np.arange(right.num_rows, dtype=np.int64), ri, assume_unique=False)
        parts_l.append(pa.nulls(len(unmatched), pa.int64()))
        parts_r.append(pa.array(unmatched, pa.int64()))
    return _gather(left, right, pa.concat_arrays(parts_l), pa.concat_arrays(parts_r))
