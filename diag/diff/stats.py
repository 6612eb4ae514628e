"""The statistics behind the time gates: a one-sided Mann-Whitney U test and Holm's correction.

Times are noisy (other processes, JIT warm-up, disk caches), so a time only gates when several runs
of BASE and of NEW say, with a rank test that assumes no distribution, that NEW is slower:

    p = mann_whitney_greater(base_ms, new_ms)   # P(a shift this large or larger | no change)

Ranks rather than means, so one run that hit a noisy neighbour moves the answer by one rank, not by
its size. The p-value is scipy's (``mannwhitneyu(new, base, alternative="greater")``, its default
method): the exact U distribution when a side has at most 8 runs and no two values tie (the usual
CI case), else the normal approximation with tie and continuity corrections. It is computed here
rather than by scipy because numba imports all of ``scipy.linalg`` whenever scipy is installed,
0.15-0.2 s of every engine process's start. ``ember diff`` and ``ember bench --compare`` share this
one function.
"""
from __future__ import annotations

import math

import numpy as np


def smallest_p(n_base: int, n_new: int) -> float:
    """The smallest one-sided p-value any data can give with these run counts (all NEW above all BASE)."""
    return 1.0 / math.comb(n_base + n_new, n_base)


EXACT_MAX_RUNS = 8  # scipy's choice: exact when a side has at most this many runs and nothing ties


def mann_whitney_greater(base, new) -> float:
    """One-sided p-value of Mann-Whitney U for "NEW tends to be larger than BASE"."""
    x = np.asarray(base, dtype=np.float64)
    y = np.asarray(new, dtype=np.float64)
    if len(x) == 0 or len(y) == 0:
        raise ValueError("Mann-Whitney U needs at least one value on each side")
    both = np.concatenate([y, x])
    if np.ptp(both) == 0:  # every value equal: no evidence of any shift
        return 1.0
    ranks, tie_sizes = _midranks(both)
    n_new, n_base = len(y), len(x)
    u = float(ranks[:n_new].sum()) - n_new * (n_new + 1) / 2  # pairs where NEW is above BASE, ties half
    if min(n_new, n_base) <= EXACT_MAX_RUNS and not (tie_sizes > 1).any():
        return _exact_greater(round(u), n_new, n_base)
    return _normal_greater(u, n_new, n_base, tie_sizes)


def _midranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's rank from 1, tied values sharing their mean rank; and the size of each tie group."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    sizes = np.diff(np.r_[starts, len(values)])
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(starts + (sizes + 1) / 2, sizes)
    return ranks, sizes


def _exact_greater(u: int, n: int, m: int) -> float:
    """P(U >= u) when NEW and BASE (``n`` and ``m`` runs) come from one distribution: the share of
    the C(n+m, n) equally likely rankings whose U is at least ``u``."""
    # counts[k][j]: rankings of k NEW and j BASE values with each U, built one value at a time
    counts = [[np.zeros(1)] * (m + 1) for _ in range(n + 1)]
    for k in range(n + 1):
        for j in range(m + 1):
            if k == 0 or j == 0:
                counts[k][j] = np.ones(1)
                continue
            largest_is_new = np.r_[np.zeros(j), counts[k - 1][j]]  # it is above all j BASE values
            largest_is_base = counts[k][j - 1]
            size = max(len(largest_is_new), len(largest_is_base))
            counts[k][j] = np.pad(largest_is_new, (0, size - len(largest_is_new))) + \
                np.pad(largest_is_base, (0, size - len(largest_is_base)))
    distribution = counts[n][m]
    return float(distribution[u:].sum() / math.comb(n + m, n))


def _normal_greater(u: float, n: int, m: int, tie_sizes: np.ndarray) -> float:
    """P(U >= u) by the normal approximation, with the tie correction of the variance and a
    continuity correction of one half."""
    total = n + m
    tie_term = float((tie_sizes.astype(np.float64) ** 3 - tie_sizes).sum())
    sigma = math.sqrt(n * m / 12 * ((total + 1) - tie_term / (total * (total - 1))))
    z = (u - n * m / 2 - 0.5) / sigma
    return min(1.0, max(0.0, 0.5 * math.erfc(z / math.sqrt(2))))


def holm_rejections(p_values: list[float], alpha: float) -> list[bool]:
    """Holm-Bonferroni: which of several tests reject at family-wise error ``alpha``.

    Many stages are tested at once; without a correction one of twenty identical stages would
    "regress" by chance in one CI run out of two.
    """
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    rejected = [False] * len(p_values)
    m = len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (m - rank):
            break
        rejected[i] = True
    return rejected
