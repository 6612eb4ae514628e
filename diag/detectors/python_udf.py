"""Python UDFs: plan nodes that send rows to Python workers one at a time (BatchEvalPython)."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from diag.detectors.common import Thresholds
from diag.diagnosis import Diagnosis, Location, Severity
from diag.model import AppModel

ROW_AT_A_TIME = ("BatchEvalPython",)
VECTORIZED = ("ArrowEvalPython", "MapInPandas", "FlatMapGroupsInPandas", "MapInArrow", "AggregateInPandas")
MIN_SHARE = 0.2  # of the application's task time spent in queries with a row-at-a-time UDF


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    out = []
    total = int(pc.sum(model.tasks["executor_run_time_ms"]).as_py() or 0) if model.tasks.num_rows else 0
    ran = set(model.stages.filter(model.stages["ran"])["stage_id"].to_pylist())
    for execution in model.sql_executions.values():
        udfs = execution.nodes_named(*ROW_AT_A_TIME)
        if not udfs:
            continue
        jobs = [j for j in model.jobs.to_pylist() if j["sql_execution_id"] == execution.execution_id]
        # Only the stages that ran: with AQE the last job also lists every earlier query stage as skipped.
        stage_ids = sorted({s for j in jobs for s in j["stage_ids"] or [] if s in ran})
        tasks = model.tasks.filter(pc.is_in(model.tasks["stage_id"], value_set=pa.array(stage_ids, pa.int64())))
        time = int(pc.sum(tasks["executor_run_time_ms"]).as_py() or 0) if tasks.num_rows else 0
        share = time / total if total else 0.0
        severity = Severity.MODERATE if share >= t.MIN_SHARE else Severity.LOW
        names = ", ".join(sorted({n.description[:120] for n in udfs}))
        out.append(Diagnosis(
            kind="python_udf", severity=severity,
            title=f"Query {execution.execution_id}: row-at-a-time Python UDF ({share:.0%} of the task time)",
            location=Location(model.app_id, job_ids=tuple(j["job_id"] for j in jobs), stage_ids=tuple(stage_ids),
                              sql_execution_id=execution.execution_id, sql_node=udfs[0].name),
            evidence={"udf_nodes": names, "query_task_ms": time, "share_of_task_time": round(share, 3)},
            explanation=("BatchEvalPython ships every row to a Python worker and back, pickled, one call per row: "
                         "often 10-100x slower than the same logic as a built-in function."),
            recommendation=("Rewrite the UDF with built-in functions (pyspark.sql.functions) if you can; otherwise "
                            "make it a vectorized pandas_udf / Arrow UDF, which works on whole batches."),
            estimated_cost_ms=int(time * 0.5)))
    return out
