"""``ember diff``: two runs of the same workload compared, with gates a CI pipeline can fail on.

    diag.diff.layout   a run's queries, jobs and stages by call site and plan position (not by id)
    diag.diff.plan     a SQL execution's physical plan shape, and what changed between two
    diag.diff.stats    Mann-Whitney U and Holm's correction for the time gates
    diag.diff.gates    limits (what may grow, by how much) and gate records
    diag.diff.compare  load both sides, line them up, compare, evaluate the gates
    diag.diff.render   text, Markdown, JSON ("ember.diff/1") and JUnit XML; the exit status

Deterministic figures (bytes, records, task and stage counts, plan shape) gate on every comparison.
Times gate only over repeated runs, with a rank test: on one pair they are shown, never judged.
"""
from diag.diff.compare import DiffInputError, DiffResult, diff_logs
from diag.diff.gates import Thresholds, parse_limits

__all__ = ["DiffInputError", "DiffResult", "Thresholds", "diff_logs", "parse_limits"]
