"""The detectors, one per module, run in the order of ``DETECTORS``.

Each module exports ``detect(model, config) -> list[Diagnosis]``; its thresholds are UPPER_CASE
module constants that ``config`` overrides with ``<module>.<constant in lower case>`` keys (for
example ``{"skew.factor": "3"}``). ``run_detectors`` isolates them: a detector that raises is
reported as a failure and the others still run.

Kinds: skew, straggler, slow_executor, spill, shuffle_heavy, shuffle_fetch_wait, broadcastable_join,
small_files, small_output_files, task_failures, executor_loss, tiny_tasks, too_few_partitions,
python_udf, gc_pressure, idle_executors, critical_path.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Callable

from diag.detectors import (
    gc_pressure,
    idle_executors,
    python_udf,
    shuffle_heavy,
    skew,
    small_files,
    spill,
    task_failures,
    tiny_tasks,
)
from diag.diagnosis import Diagnosis
from diag.model import AppModel

Detector = Callable[[AppModel, dict | None], list[Diagnosis]]

DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("skew", skew.detect),
    ("spill", spill.detect),
    ("shuffle_heavy", shuffle_heavy.detect),
    ("small_files", small_files.detect),
    ("task_failures", task_failures.detect),
    ("tiny_tasks", tiny_tasks.detect),
    ("python_udf", python_udf.detect),
    ("gc_pressure", gc_pressure.detect),
    ("idle_executors", idle_executors.detect),
)


@dataclass
class DetectorFailure:
    detector: str
    error: str
    trace: str


@dataclass
class DetectorRun:
    diagnoses: list[Diagnosis] = field(default_factory=list)
    failures: list[DetectorFailure] = field(default_factory=list)


def run_detectors(model: AppModel, config: dict | None = None, detectors=DETECTORS) -> DetectorRun:
    """Every detector over ``model``; diagnoses ranked by severity, then by the time they cost."""
    run = DetectorRun()
    for name, detect in detectors:
        try:
            run.diagnoses.extend(detect(model, config))
        except Exception as e:  # one broken detector must not hide the others' findings
            run.failures.append(DetectorFailure(name, f"{type(e).__name__}: {e}", traceback.format_exc()))
    run.diagnoses.sort(key=lambda d: (-d.severity, -d.estimated_cost_ms, d.kind))
    return run
