"""Spill: tasks ran out of execution memory and wrote their buffers to disk and read them back.

Spark reports "Memory Bytes Spilled" (the in-memory size of what was spilled) and "Disk Bytes
Spilled" (its size on disk). Spill is worth fixing when it is large next to the data the stage
processed: the stage then reads and writes its data more than once.
"""
from __future__ import annotations

import math

import pyarrow.compute as pc

from diag.detectors.common import Thresholds, conf_bytes, mib, severity_by_share, successful_stage_tasks
from diag.diagnosis import Diagnosis, Location, Severity
from diag.model import AppModel

MIN_SPILL_BYTES = 1 << 20  # less than this is noise
TARGET_PARTITION_BYTES = 128 << 20  # what one task should hold in memory after a fix


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    out = []
    partitions = int(model.conf("spark.sql.shuffle.partitions", "200") or 200)
    for stage in successful_stage_tasks(model):
        memory = stage.sum("memory_bytes_spilled")
        disk = stage.sum("disk_bytes_spilled")
        if memory + disk < t.MIN_SPILL_BYTES:
            continue
        shuffled_in = stage.sum("shuffle_remote_bytes_read") + stage.sum("shuffle_local_bytes_read")
        reads_shuffle = shuffled_in > 0
        data = shuffled_in + stage.sum("input_bytes")
        spilling = stage.tasks.filter(pc.greater(stage.column("memory_bytes_spilled"), 0))
        spill_time = int(pc.sum(spilling["duration_ms"]).as_py() or 0)
        cost = spill_time // 2  # spilling roughly doubles the I/O of the tasks that do it
        suggested = max(partitions * 2, math.ceil(memory / t.TARGET_PARTITION_BYTES))
        ratio = memory / data if data else float("inf")
        severity = severity_by_share(cost, model.duration_ms)
        if severity == Severity.LOW and ratio >= 1:
            severity = Severity.MODERATE
        memory_setting = conf_bytes(model, "spark.executor.memory", conf_bytes(model, "spark.driver.memory", 1 << 30))
        out.append(Diagnosis(
            kind="spill",
            severity=severity,
            title=(f"Stage {stage.stage_id}: {spilling.num_rows} of {stage.tasks.num_rows} tasks spilled "
                   f"{mib(memory)} MiB ({mib(disk)} MiB on disk)"),
            location=Location(model.app_id, stage_ids=(stage.stage_id,), stage_attempt=stage.attempt),
            evidence={"tasks": stage.tasks.num_rows, "spilling_tasks": spilling.num_rows,
                      "memory_spilled_mib": mib(memory), "disk_spilled_mib": mib(disk),
                      "stage_data_mib": mib(data), "spill_to_data_ratio": round(ratio, 2) if data else "n/a",
                      "shuffle_partitions": partitions, "memory_setting_mib": mib(memory_setting),
                      "peak_execution_memory_mib": mib(stage.max("peak_execution_memory"))},
            explanation=("Each task of this stage needed more execution memory than it could get, so Spark wrote "
                         "sorted or aggregated runs to local disk and merged them back: the data crossed the disk "
                         "twice more than needed."),
            recommendation=_fix(reads_shuffle, partitions, suggested, model),
            estimated_cost_ms=cost,
        ))
    return out


def _fix(reads_shuffle: bool, partitions: int, suggested: int, model: AppModel) -> str:
    more_memory = "or give tasks more memory (spark.executor.memory, spark.memory.fraction)."
    if reads_shuffle:
        return (f"Give each task less data: raise spark.sql.shuffle.partitions from {partitions} to about "
                f"{suggested} (or let AQE size them: spark.sql.adaptive.enabled=true, "
                f"spark.sql.adaptive.advisoryPartitionSizeInBytes=64m); {more_memory}")
    split = conf_bytes(model, "spark.sql.files.maxPartitionBytes", 128 << 20)
    return (f"This stage reads files: give each task a smaller split by lowering "
            f"spark.sql.files.maxPartitionBytes from {mib(split)} MiB to about {mib(max(1 << 20, split // 2))} MiB; "
            f"{more_memory}")
