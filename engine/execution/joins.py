"""The join algorithm shared by Ember's join operators, and the planner's key extraction.

A join first finds the matching (left row, right row) index pairs, then filters the pairs by any
residual condition, then adds the unmatched rows the join type keeps, padded with nulls. Rows
are gathered once, with ``take``, at the end. The pairs come from:

* the compiled hash join (``engine.codegen.join``) when every key is integer-like: the build side
  becomes a ``HashedRelation`` (or arrives built, from a broadcast) and the stream side probes it.
  A semi or anti join without a residual needs only which stream rows matched, and a join in
  which every stream row matched one build row gathers only the build side;
* pyarrow's hash join over the key columns for other keys (strings, doubles);
* every pair when there are no equi-keys (a nested loop join).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.catalyst.expressions import Comparison, Expression, conjunction, split_conjuncts
from engine.codegen.join import HashedRelation, Probe, build_hashed_relation
from engine.execution.evaluator import evaluate
from engine.memory import native


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


def hashed_relation(build: pa.Table, build_keys) -> HashedRelation | None:
    """The build side's compiled relation over its join keys; None when a key is not integer-like."""
    return build_hashed_relation([evaluate(k, build) for k in build_keys]) if build_keys else None


def _probe(left: pa.Table, right: pa.Table, left_keys, right_keys, build_side: str,
           relation: HashedRelation | None) -> Probe | None:
    if not left_keys:
        return None
    build, build_keys, stream, stream_keys = ((right, right_keys, left, left_keys) if build_side == "right"
                                              else (left, left_keys, right, right_keys))
    if relation is None:
        relation = hashed_relation(build, build_keys)
    return relation.probe([evaluate(k, stream) for k in stream_keys]) if relation is not None else None


def _gather(left: pa.Table, right: pa.Table, li, ri) -> pa.Table:
    """The rows ``li`` of ``left`` beside the rows ``ri`` of ``right``; None takes a side whole."""
    lt = left if li is None else left.take(li)
    rt = right if ri is None else right.take(ri)
    return pa.Table.from_arrays(lt.columns + rt.columns, names=lt.column_names + rt.column_names)


def _unmatched(num_rows: int, matched_rows: np.ndarray) -> np.ndarray:
    mask = native.full(num_rows, True, np.bool_)
    mask[matched_rows] = False
    return np.flatnonzero(mask)


def join_tables(left: pa.Table, right: pa.Table, left_keys, right_keys, join_type: str,
                residual: Expression | None, build_side: str = "right",
                relation: HashedRelation | None = None) -> pa.Table:
    """Join two partitions; the result's columns are the left's then the right's (left only for semi/anti).

    ``build_side`` is the side hashed (``relation``, when it was built already: a broadcast's).
    """
    probe = _probe(left, right, left_keys, right_keys, build_side, relation)
    stream_is_left = build_side == "right"
    if probe is not None and residual is None:
        if join_type in ("left_semi", "left_anti") and stream_is_left:
            return left.filter(pa.array(probe.matched if join_type == "left_semi" else ~probe.matched))
        stream_keeps_all = join_type in ("inner", "left_outer" if stream_is_left else "right_outer")
        if stream_keeps_all and probe.every_row_once:
            build_rows = probe.pairs()[1]
            return _gather(left, right, None, build_rows) if stream_is_left else _gather(left, right, build_rows, None)
    if probe is not None:
        stream_rows, build_rows = probe.pairs()
        li, ri = (stream_rows, build_rows) if stream_is_left else (build_rows, stream_rows)
    else:
        li, ri = _matching_pairs(left, right, left_keys, right_keys)
    if residual is not None and len(li):
        keep = pc.fill_null(evaluate(residual, _gather(left, right, li, ri)), False).to_numpy(zero_copy_only=False)
        li, ri = li[keep], ri[keep]
    elif residual is not None:
        li, ri = li[:0], ri[:0]
    if join_type in ("inner", "cross"):
        return _gather(left, right, li, ri)
    if join_type in ("left_semi", "left_anti"):
        matched = native.zeros(left.num_rows, np.bool_)
        matched[li] = True
        return left.filter(pa.array(matched if join_type == "left_semi" else ~matched))
    parts_l, parts_r = [pa.array(li, pa.int64())], [pa.array(ri, pa.int64())]
    if join_type in ("left_outer", "full_outer"):
        unmatched = _unmatched(left.num_rows, li)
        parts_l.append(pa.array(unmatched, pa.int64()))
        parts_r.append(pa.nulls(len(unmatched), pa.int64()))
    if join_type in ("right_outer", "full_outer"):
        unmatched = _unmatched(right.num_rows, ri)
        parts_l.append(pa.nulls(len(unmatched), pa.int64()))
        parts_r.append(pa.array(unmatched, pa.int64()))
    return _gather(left, right, pa.concat_arrays(parts_l), pa.concat_arrays(parts_r))
