"""Ask real pyspark how it plans and reports file scans; run as a child process by the tests.

    python -m tests.datasources.spark_scan_probe DATA SETTINGS_JSON EVENT_DIR

For each settings dict (``spark.sql.files.*`` keys) prints the number of partitions pyspark gives a
read of ``DATA/flat`` (``df.rdd.getNumPartitions()``), then reads ``DATA/partitioned`` once with
its event log on, and prints, for the scan node's metrics, which names the driver posted
(``SparkListenerDriverAccumUpdates``) and which arrived with tasks. Output: one JSON line.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(data: str, settings_json: str, event_dir: str) -> None:
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("ember-scan-probe")
             .config("spark.eventLog.enabled", "true").config("spark.eventLog.dir", Path(event_dir).as_uri())
             .config("spark.eventLog.rolling.enabled", "false").config("spark.eventLog.compress", "false")
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    counts = []
    for settings in json.loads(settings_json):
        for key, value in settings.items():
            spark.conf.set(key, str(value))
        counts.append(spark.read.parquet(f"{data}/flat").rdd.getNumPartitions())
        for key in settings:
            spark.conf.unset(key)
    spark.read.parquet(f"{data}/partitioned").where("v >= 0").collect()
    spark.stop()
    (log,) = Path(event_dir).iterdir()
    print(json.dumps({"partitions": counts, "scan_metrics": scan_metric_sources(log)}))


def scan_metric_sources(log: Path) -> dict[str, list[str]]:
    """The file-scan node's metric names, split by who posted them: driver or tasks."""
    events = [json.loads(line) for line in log.read_text().splitlines() if line]
    names: dict[int, str] = {}
    for e in events:
        if e["Event"].endswith("SQLExecutionStart"):
            stack = [e["sparkPlanInfo"]]
            while stack:
                node = stack.pop()
                stack.extend(node["children"])
                if node["nodeName"].startswith("Scan "):
                    names.update((m["accumulatorId"], m["name"]) for m in node["metrics"])
    driver = {names[acc] for e in events if e["Event"].endswith("DriverAccumUpdates")
              for acc, _ in e["accumUpdates"] if acc in names}
    tasks = {names[a["ID"]] for e in events if e["Event"] == "SparkListenerTaskEnd"
             for a in e["Task Info"]["Accumulables"] if a["ID"] in names}
    return {"driver": sorted(driver), "tasks": sorted(tasks), "declared": sorted(set(names.values()))}


if __name__ == "__main__":
    main(*sys.argv[1:4])
