"""What ``ember run`` prints after a script: where the event log is and what the jobs did."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from diag.report import compact_size


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def print_summary(session, console: Console) -> None:
    status = session.status
    jobs = sorted(status.jobs.values(), key=lambda j: j.job_id)
    stages = sorted(status.stages.values(), key=lambda s: s.stage_id)
    ran = [s for s in stages if s.attempts]
    failed_jobs = [j for j in jobs if j.succeeded is False]
    duration = ((status.end_time or 0) - (status.start_time or 0)) / 1000
    skipped = sum(len(j.skipped_stage_ids) for j in jobs)
    console.print(f"[bold]{session.app_name}[/] ({session.app_id}) ran in {duration:.2f} s: "
                  f"{_count(len(jobs), 'job')} ({len(failed_jobs)} failed), {_count(len(ran), 'stage')} run, "
                  f"{skipped} skipped, {_count(status.task_count, 'task')}.")
    console.print(f"Event log: [cyan]{session.event_log_path or '(spark.eventLog.enabled=false)'}[/]")
    if not ran:
        return
    table = Table(title="Stages", title_justify="left", box=None, header_style="bold")
    table.add_column("stage", justify="right")
    table.add_column("name", no_wrap=True, overflow="ellipsis", max_width=28)
    for col in ("tasks", "failed", "time", "max task", "input", "shuf read", "shuf write"):
        table.add_column(col, justify="right", no_wrap=True)
    for s in ran:
        wall = ((s.completed or 0) - (s.submitted or 0)) / 1000
        table.add_row(str(s.stage_id), s.name, str(s.tasks_succeeded), str(s.tasks_failed), f"{wall:.2f}s",
                      f"{s.max_task_ms}ms", compact_size(s.input_bytes), compact_size(s.shuffle_read_bytes),
                      compact_size(s.shuffle_write_bytes))
    console.print(table)
