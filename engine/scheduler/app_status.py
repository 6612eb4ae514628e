"""AppStatusListener: running totals of what an application did, for summaries at the prompt."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from engine.scheduler import events as ev


@dataclass
class JobSummary:
    job_id: int
    submitted: int
    completed: int | None = None
    succeeded: bool | None = None
    stage_ids: list[int] = field(default_factory=list)
    run_stage_ids: set[int] = field(default_factory=set)

    @property
    def skipped_stage_ids(self) -> list[int]:
        """Stages of this job that it did not run: their output existed already."""
        return [s for s in self.stage_ids if s not in self.run_stage_ids]


@dataclass
class StageSummary:
    stage_id: int
    name: str
    num_tasks: int
    is_shuffle_map: bool
    attempts: int = 0
    tasks_succeeded: int = 0
    tasks_failed: int = 0
    run_time_ms: int = 0
    max_task_ms: int = 0
    input_bytes: int = 0
    shuffle_read_bytes: int = 0
    shuffle_write_bytes: int = 0
    submitted: int | None = None
    completed: int | None = None
    failure: str | None = None


class AppStatusListener:
    wants_sql_events = False  # it keeps job, stage and task totals only: queries skip building plans for it

    def __init__(self):
        self.jobs: dict[int, JobSummary] = {}
        self.stages: dict[int, StageSummary] = {}
        self.start_time: int | None = None
        self.end_time: int | None = None
        self._lock = threading.Lock()

    def on_event(self, event) -> None:
        with self._lock:
            self._apply(event)

    def _apply(self, e) -> None:
        if isinstance(e, ev.SparkListenerApplicationStart):
            self.start_time = e.time
        elif isinstance(e, ev.SparkListenerApplicationEnd):
            self.end_time = e.time
        elif isinstance(e, ev.SparkListenerJobStart):
            self.jobs[e.job_id] = JobSummary(e.job_id, e.time, stage_ids=[s.stage_id for s in e.stage_infos])
            for s in e.stage_infos:
                self.stages.setdefault(s.stage_id, StageSummary(s.stage_id, s.name, s.num_tasks, s.is_shuffle_map))
        elif isinstance(e, ev.SparkListenerJobEnd):
            job = self.jobs[e.job_id]
            job.completed, job.succeeded = e.time, e.succeeded
        elif isinstance(e, ev.SparkListenerStageSubmitted):
            st = self.stages.setdefault(e.stage_info.stage_id, StageSummary(
                e.stage_info.stage_id, e.stage_info.name, e.stage_info.num_tasks, e.stage_info.is_shuffle_map))
            st.attempts += 1
            st.submitted = e.stage_info.submission_time
            for job in self.jobs.values():
                if job.completed is None and st.stage_id in job.stage_ids:
                    job.run_stage_ids.add(st.stage_id)
        elif isinstance(e, ev.SparkListenerStageCompleted):
            st = self.stages[e.stage_info.stage_id]
            st.completed, st.failure = e.stage_info.completion_time, e.stage_info.failure_reason
        elif isinstance(e, ev.SparkListenerTaskEnd):
            st = self.stages[e.stage_id]
            if e.reason.reason == "Success":
                st.tasks_succeeded += 1
            else:
                st.tasks_failed += 1
            m = e.task_metrics
            if m is not None:
                st.run_time_ms += m.executor_run_time
                st.max_task_ms = max(st.max_task_ms, m.executor_run_time)
                st.input_bytes += m.input_bytes_read
                st.shuffle_read_bytes += m.shuffle_read.local_bytes_read + m.shuffle_read.remote_bytes_read
                st.shuffle_write_bytes += m.shuffle_write.bytes_written

    @property
    def task_count(self) -> int:
        return sum(s.tasks_succeeded + s.tasks_failed for s in self.stages.values())
