"""Small files: scans that open thousands of tiny files, and writes that produce them.

Read side comes from the scan's SQL metrics ("number of files read", "size of files read"; task
Input Metrics under-count Parquet). Write side from the write command's "number of written files"
and "written output".
"""
from __future__ import annotations

import math

from diag.detectors.common import Thresholds, mib
from diag.diagnosis import Diagnosis, Location, Severity
from diag.model import AppModel

MIN_FILES = 200  # fewer files than this is never a problem worth a finding
SMALL_FILE_BYTES = 8 << 20  # an average file under this is small
TARGET_FILE_BYTES = 128 << 20  # what a compacted file should hold
FILE_OPEN_MS = 5  # rough cost of opening and reading the footer of one file


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    out = []
    for execution in model.sql_executions.values():
        for node in execution.nodes:
            files = node.metrics.get("number of files read", 0)
            size = node.metrics.get("size of files read", 0)
            if files >= t.MIN_FILES and size / files < t.SMALL_FILE_BYTES:
                out.append(_reads(model, execution, node, files, size, t))
            written = node.metrics.get("number of written files", 0)
            output = node.metrics.get("written output", 0)
            if written >= t.MIN_FILES and output / written < t.SMALL_FILE_BYTES:
                out.append(_writes(model, execution, node, written, output, t))
    return out


def _reads(model, execution, node, files, size, t) -> Diagnosis:
    cost = files * t.FILE_OPEN_MS
    target = max(1, math.ceil(size / t.TARGET_FILE_BYTES))
    return Diagnosis(
        kind="small_files",
        severity=Severity.MODERATE if files >= 10 * t.MIN_FILES else Severity.LOW,
        title=f"Query {execution.execution_id}: read {files} files averaging {size / files / 1024:.1f} KiB",
        location=Location(model.app_id, sql_execution_id=execution.execution_id, sql_node=node.name),
        evidence={"files_read": files, "bytes_read_mib": mib(size), "average_file_kib": round(size / files / 1024, 1),
                  "scan": node.description[:200]},
        explanation=("Opening a file, reading its footer and planning its splits costs the same whether it holds "
                     "a kilobyte or a hundred megabytes; with thousands of tiny files that overhead dominates."),
        recommendation=(f"Compact the input into about {target} file(s) of ~128 MiB (read it once and write it back "
                        f"with .repartition({target})); meanwhile raise spark.sql.files.openCostInBytes or "
                        "spark.sql.files.maxPartitionBytes so each task packs more files."),
        estimated_cost_ms=cost,
    )


def _writes(model, execution, node, files, size, t) -> Diagnosis:
    target = max(1, math.ceil(size / t.TARGET_FILE_BYTES))
    return Diagnosis(
        kind="small_output_files",
        severity=Severity.MODERATE if files >= 10 * t.MIN_FILES else Severity.LOW,
        title=f"Query {execution.execution_id}: wrote {files} files averaging {size / files / 1024:.1f} KiB",
        location=Location(model.app_id, sql_execution_id=execution.execution_id, sql_node=node.name),
        evidence={"files_written": files, "bytes_written_mib": mib(size),
                  "average_file_kib": round(size / files / 1024, 1)},
        explanation=("Each task writes one file per partition directory it has rows for, so many tasks (or "
                     "partitionBy on a column with many values) make many small files, which slow every later "
                     "reader of this output."),
        recommendation=(f"Repartition before the write so each task writes ~128 MiB: .repartition({target}) "
                        "(or .repartition(N, *partitionBy columns) when using partitionBy)."),
        estimated_cost_ms=0,
    )
