"""Shuffle-heavy work: stages whose shuffles move more data than the job read, chains of shuffles,
time spent waiting for shuffle blocks, and sort-merge joins that could have been broadcasts."""
from __future__ import annotations

from diag.detectors.common import (
    Thresholds,
    conf_bytes,
    human_bytes,
    mib,
    severity_by_share,
    successful_stage_tasks,
)
from diag.diagnosis import Diagnosis, Location, Severity
from diag.model import AppModel

MIN_SHUFFLE_BYTES = 16 << 20  # below this, shuffles are cheap whatever the ratio
SHUFFLE_TO_INPUT = 2.0  # shuffle write over input read that counts as heavy
CHAIN_LENGTH = 3  # this many shuffle stages in one query
FETCH_WAIT_SHARE = 0.2  # share of task time spent waiting for shuffle blocks
BROADCAST_CANDIDATE_BYTES = 10 << 20  # spark.sql.autoBroadcastJoinThreshold's default


def detect(model: AppModel, config: dict | None = None) -> list[Diagnosis]:
    t = Thresholds(__name__, config)
    return _heavy_jobs(model, t) + _fetch_wait(model, t) + _broadcastable_joins(model, t)


def _scan_bytes(execution) -> int:
    """What a query read, from its scans' SQL metrics (task Input Metrics under-count Parquet)."""
    return sum(n.metrics.get("size of files read", 0) for n in execution.nodes)


def _heavy_jobs(model: AppModel, t) -> list[Diagnosis]:
    """Queries (SQL executions) whose shuffles moved more than they read, or chained many shuffles.

    Judged per query, not per job: with AQE every exchange runs as a job of its own."""
    out = []
    stages = {s.stage_id: s for s in successful_stage_tasks(model)}
    jobs = model.jobs.to_pylist()
    for execution in model.sql_executions.values():
        mine = [j for j in jobs if j["sql_execution_id"] == execution.execution_id]
        stage_ids = sorted({sid for j in mine for sid in j["stage_ids"] or [] if sid in stages})
        shuffle_stages = [stages[sid] for sid in stage_ids if stages[sid].sum("shuffle_bytes_written") > 0]
        written = sum(s.sum("shuffle_bytes_written") for s in shuffle_stages)
        if written < t.MIN_SHUFFLE_BYTES:
            continue
        read_input = _scan_bytes(execution) or sum(stages[sid].sum("input_bytes") for sid in stage_ids)
        ratio = written / read_input if read_input else float("inf")
        if ratio < t.SHUFFLE_TO_INPUT and len(shuffle_stages) < t.CHAIN_LENGTH:
            continue
        cost = sum(stages[sid].sum("shuffle_write_time_ns") // 1_000_000 + stages[sid].sum("shuffle_fetch_wait_ms")
                   for sid in stage_ids)
        out.append(Diagnosis(
            kind="shuffle_heavy", severity=severity_by_share(cost, model.duration_ms),
            title=(f"Query {execution.execution_id}: shuffled {mib(written)} MiB through {len(shuffle_stages)} "
                   f"shuffle stage(s) for {mib(read_input)} MiB read"),
            location=Location(model.app_id, job_ids=tuple(j["job_id"] for j in mine),
                              stage_ids=tuple(s.stage_id for s in shuffle_stages),
                              sql_execution_id=execution.execution_id),
            evidence={"shuffle_written_mib": mib(written), "input_mib": mib(read_input),
                      "shuffle_to_input": round(ratio, 2) if read_input else "n/a",
                      "shuffle_stages": len(shuffle_stages)},
            explanation=("Every shuffle writes its whole input to local disk and moves it across the network; "
                         + _what_was_heavy(ratio, len(shuffle_stages), t)),
            recommendation=("Cut shuffles: filter and project before joins and aggregations, broadcast small join "
                            "sides, partition once by the key that consecutive operations share (a window, a "
                            "groupBy and a join on the same key can reuse one exchange), and drop repartition() "
                            "calls that nothing needs."),
            estimated_cost_ms=int(cost)))
    return out


def _what_was_heavy(ratio: float, shuffles: int, t) -> str:
    """The part of the explanation that says which limit the query crossed: it may have moved less
    than it read and still be flagged for its chain of shuffles."""
    chain = f"a chain of {shuffles} shuffles"
    if ratio >= t.SHUFFLE_TO_INPUT:
        return "this query moved more data between stages than it read" + (f", through {chain}." if shuffles >= 2 else ".")
    return f"this query ran {chain}, each one another full pass of its data over disk and network."


def _fetch_wait(model: AppModel, t) -> list[Diagnosis]:
    out = []
    for stage in successful_stage_tasks(model):
        run = stage.sum("executor_run_time_ms")
        wait = stage.sum("shuffle_fetch_wait_ms")
        if run <= 0 or wait / run < t.FETCH_WAIT_SHARE or wait < 1000:
            continue
        out.append(Diagnosis(
            kind="shuffle_fetch_wait", severity=severity_by_share(wait, model.duration_ms),
            title=f"Stage {stage.stage_id}: tasks waited {wait / run:.0%} of their time for shuffle blocks",
            location=Location(model.app_id, stage_ids=(stage.stage_id,), stage_attempt=stage.attempt),
            evidence={"fetch_wait_ms": wait, "run_time_ms": run},
            explanation="Reduce tasks sat idle waiting for map outputs from other executors.",
            recommendation=("Check network and the executors serving the blocks; raise "
                            "spark.reducer.maxSizeInFlight (e.g. 96m) and spark.shuffle.io.numConnectionsPerPeer."),
            estimated_cost_ms=wait))
    return out


def _broadcastable_joins(model: AppModel, t) -> list[Diagnosis]:
    out = []
    threshold = conf_bytes(model, "spark.sql.autoBroadcastJoinThreshold", t.BROADCAST_CANDIDATE_BYTES)
    limit = threshold if threshold > 0 else t.BROADCAST_CANDIDATE_BYTES
    for execution in model.sql_executions.values():
        for join in execution.nodes_named("SortMergeJoin", "ShuffledHashJoin"):
            sides = []
            for child in (n for n in execution.nodes if n.parent_id == join.node_id):
                exchange = _first_below(execution, child, "Exchange")
                if exchange is not None:
                    sides.append(exchange.metrics.get("data size", 0))
            if len(sides) != 2 or min(sides) <= 0 or min(sides) > limit:
                continue
            small = min(sides)
            off = threshold <= 0
            out.append(Diagnosis(
                kind="broadcastable_join", severity=Severity.LOW,
                title=(f"Query {execution.execution_id}: {join.name} whose smaller side is only {human_bytes(small)}"),
                location=Location(model.app_id, sql_execution_id=execution.execution_id, sql_node=join.name),
                evidence={"small_side_mib": mib(small), "large_side_mib": mib(max(sides)),
                          "autoBroadcastJoinThreshold": threshold},
                explanation=("Both sides were shuffled although one side fits in memory on every "
                             "executor; broadcasting it avoids shuffling the large side."
                             + (" Broadcast joins are disabled (spark.sql.autoBroadcastJoinThreshold=-1)." if off else
                                " Its size estimate at planning time was over the threshold.")),
                recommendation=(f"Broadcast the small side: F.broadcast(small_df) in the join, or set "
                                f"spark.sql.autoBroadcastJoinThreshold to at least {int(small * 2)} bytes."),
                estimated_cost_ms=0))
    return out


def _first_below(execution, node, name: str):
    if node.name.startswith(name):
        return node
    for child in (n for n in execution.nodes if n.parent_id == node.node_id):
        found = _first_below(execution, child, name)
        if found is not None:
            return found
    return None

