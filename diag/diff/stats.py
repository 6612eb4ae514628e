"""The statistics behind the time gates: a one-sided Mann-Whitney U test and Holm's correction.

Times are noisy (other processes, JIT warm-up, disk caches), so a time only gates when several runs
of BASE and of NEW say, with a rank test that assumes no distribution, that NEW is slower:

    p = mann_whitney_greater(base_ms, new_ms)   # P(a shift this large or larger | no change)

Ranks rather than means, so one run that hit a noisy neighbour moves the answer by one rank, not by
its size. scipy computes it: the exact U distribution for small samples without ties (the usual CI
case, 3 to 20 runs a side), else the normal approximation with tie and continuity corrections.
``ember diff`` and ``ember bench --compare`` share this one function.
"""
from __future__ import annotations

import math

import numpy as np


def smallest_p(n_base: int, n_new: int) -> float:
    """The smallest one-sided p-value any data can give with these run counts (all NEW above all BASE)."""
    return 1.0 / math.comb(n_base + n_new, n_base)


def mann_whitney_greater(base, new) -> float:
    """One-sided p-value of Mann-Whitney U for "NEW tends to be larger than BASE"."""
    from scipy.stats import mannwhitneyu

    x = np.asarray(base, dtype=np.float64)
    y = np.asarray(new, dtype=np.float64)
    if len(x) == 0 or len(y) == 0:
        raise ValueError("Mann-Whitney U needs at least one value on each side")
    if np.ptp(np.concatenate([x, y])) == 0:  # every value equal: no evidence of any shift
        return 1.0
    return float(mannwhitneyu(y, x, alternative="greater").pvalue)


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
