"""One stage attempt in detail: its task summary (min / 25th / median / 75th / max of each metric,
over the successful tasks, as in Spark's UI), a histogram of task durations, the slowest tasks with
the executor and host they ran on, and the diagnoses located at that stage."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Label, Static

from tui.dashboard.data import DashboardData
from tui.dashboard.diagnosis_detail import DiagnosisDetail, diagnosis_heading
from tui.dashboard.format import duration, size
from tui.dashboard.histogram import TaskHistogram

QUANTILE_COLUMNS = (("min", "Min"), ("p25", "25th percentile"), ("median", "Median"), ("p75", "75th percentile"),
                    ("max", "Max"))


SLOWEST_TASK_COLUMNS = (("index", "Index"), ("task_id", "Task ID"), ("executor", "Executor"), ("host", "Host"),
                        ("duration", "Duration"), ("gc", "GC time"), ("input", "Input"),
                        ("shuffle_read", "Shuffle read"), ("status", "Status"))


def _value(kind: str, v: float | None) -> Text:
    return Text(duration(v) if kind == "ms" else size(v), justify="right")


class StageDetailView(VerticalScroll):
    """The detail of the stage attempt in ``stage`` (Escape goes back to the stages).

    Reactive attributes:
        stage: (stage id, attempt) shown, or None before a stage is chosen.
    """

    DEFAULT_CSS = """
    StageDetailView {
        padding: 0 1;
    }
    StageDetailView > .section {
        margin-top: 1;
        text-style: bold;
    }
    StageDetailView > #task-summary, StageDetailView > #slowest-tasks {
        height: auto;
        max-height: 12;
    }
    StageDetailView > .stage-diagnosis {
        border: round $error;
        margin-top: 1;
    }
    """

    stage: reactive[tuple[int, int] | None] = reactive(None, recompose=True)

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data

    def compose(self) -> ComposeResult:
        if self.stage is None:
            yield Label("Choose a stage in the stages view (t) and press Enter.")
            return
        stage_id, attempt = self.stage
        row = self.data.stage_row(stage_id, attempt)
        if row is None:
            yield Label(f"Stage {stage_id}.{attempt} is not in this log.")
            return
        yield Static(Text.assemble(
            (f"Stage {stage_id} (attempt {attempt})", "bold"), f"  {row['name']}  ",
            (row["status"], "dim"), f"  {row['tasks']}/{row['num_tasks']} tasks, {row['failed']} failed, ",
            f"{duration(row['duration_ms'])}"), id="stage-heading")
        yield Label("Summary metrics for the completed tasks", classes="section")
        table = DataTable(id="task-summary", cursor_type="none", zebra_stripes=True)
        table.add_column("Metric", key="metric")
        for key, label in QUANTILE_COLUMNS:
            table.add_column(Text(label, justify="right"), key=key)
        for label, kind, q in self.data.task_summary(stage_id, attempt):
            table.add_row(label, *(_value(kind, q and q[key]) for key, _ in QUANTILE_COLUMNS), key=label)
        yield table
        yield Label("Task durations", classes="section")
        yield TaskHistogram(self.data.task_durations(stage_id, attempt), id="task-histogram")
        yield Label("Slowest tasks", classes="section")
        yield self._slowest_tasks(stage_id, attempt)
        diagnoses = self.data.diagnoses_at_stage(stage_id)
        yield Label(f"Diagnoses at this stage: {len(diagnoses) or 'none'}", classes="section")
        for d in diagnoses:
            card = DiagnosisDetail(d, show_title=False, classes="stage-diagnosis")
            card.border_title = diagnosis_heading(d).markup
            card.border_subtitle = d.title
            yield card

    def _slowest_tasks(self, stage_id: int, attempt: int) -> DataTable:
        table = DataTable(id="slowest-tasks", cursor_type="none", zebra_stripes=True)
        for key, label in SLOWEST_TASK_COLUMNS:
            table.add_column(Text(label, justify="right") if key not in ("executor", "host", "status") else label,
                             key=key)
        for t in self.data.slowest_tasks(stage_id, attempt):
            attempt_text = f".{t['attempt']}" if t["attempt"] else ""
            table.add_row(Text(f"{t['index']}{attempt_text}", justify="right"), Text(str(t["task_id"]), justify="right"),
                          t["executor_id"] or "?", t["host"] or "?", _value("ms", t["duration_ms"]),
                          _value("ms", t["jvm_gc_time_ms"]), _value("bytes", t["input_bytes"]),
                          _value("bytes", t["shuffle_read_bytes"]),
                          Text(t["end_reason"], style="" if t["end_reason"] == "Success" else "bold red"),
                          key=str(t["task_id"]))
        return table

    async def show_data(self, data: DashboardData) -> None:
        """Show the same stage in a newer model of the application (a live or replayed log)."""
        self.data = data
        if self.stage is not None:
            await self.recompose()
