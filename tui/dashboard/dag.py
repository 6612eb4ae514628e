"""One job's DAG: its stages as a tree from the result stage down to the stages it reads, each edge a
shuffle with the bytes it carried; then the job's SQL physical plan with every node's metrics.

    Job 0  succeeded  4 stages
    └── Stage 3  4/4 tasks  0.2 s  collect at ...
        └── ◀ shuffle 2.9 KiB ── Stage 2  4/4 tasks  0.6 s  ...
            ├── ◀ shuffle 70.4 KiB ── Stage 0  ...
            └── ◀ shuffle 1.1 KiB ── Stage 1  ...

``[`` and ``]`` step through the jobs. A diagnosis located at a plan node opens this view on its
query with the node marked.
"""
from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from diag.model import PlanNode, SQLExecution
from tui.dashboard.data import DashboardData
from tui.dashboard.format import duration, size

STATUS_STYLE = {"complete": "green", "failed": "bold red", "active": "yellow", "skipped": "dim",
                "pending": "dim italic"}
SIZE_WORDS = ("size", "bytes", "spill", "memory")  # SQL metrics whose values are byte counts


def stage_label(row: dict) -> Text:
    return Text.assemble((f"Stage {row['stage_id']}", "bold"), (f".{row['attempt']}" if row["attempt"] else ""),
                         "  ", (row["status"], STATUS_STYLE.get(row["status"], "")),
                         f"  {row['tasks']}/{row['num_tasks']} tasks  {duration(row['duration_ms'])}  ",
                         (row["name"][:60], "italic"))


def stage_tree(data: DashboardData, job: dict) -> Tree:
    """The job's stages from its result stage (the one no other stage of the job reads) down to
    its sources; every edge is labelled with the shuffle bytes the parent stage wrote."""
    rows = {r["stage_id"]: r for r in data.stage_rows}  # the last attempt of each stage
    parents = data.stage_parents
    ids = [s for s in job["stage_ids"] if s in rows]
    read = {p for s in ids for p in parents.get(s, ())}
    roots = [s for s in ids if s not in read] or ids[-1:]
    tree = Tree(Text.assemble((f"Job {job['job_id']}", "bold"), "  ", job["status"],
                              f"  {len(ids)} stage(s)  {job['description'][:60]}"), guide_style="dim")
    shown: set[int] = set()

    def add(node: Tree, stage_id: int, edge: Text | None) -> None:
        label = Text.assemble(edge or "", stage_label(rows[stage_id]))
        if stage_id in shown:  # a stage read by two stages of the job: drawn once
            node.add(Text.assemble(label, ("  (above)", "dim")))
            return
        shown.add(stage_id)
        child = node.add(label)
        for parent in sorted(parents.get(stage_id, ())):
            if parent in rows:
                add(child, parent, Text(f"◀ shuffle {size(rows[parent]['shuffle_write_bytes'])} ── ", style="cyan"))

    for root in sorted(roots, reverse=True):
        add(tree, root, None)
    return tree


def metric_text(name: str, value: int) -> str:
    """"rows: 1,024" or "data size: 3.0 KiB" (SQL metrics whose name says they count bytes)."""
    if any(word in name.lower() for word in SIZE_WORDS):
        return f"{name}: {size(value)}"
    return f"{name}: {value:,}"


def plan_tree(execution: SQLExecution, marked: str | None = None) -> Tree:
    """The physical plan (the final one when AQE re-planned), each node with its non-zero metrics;
    nodes named ``marked`` are highlighted (where a diagnosis is)."""
    title = Text.assemble((f"SQL query {execution.execution_id}", "bold"), f"  {execution.description[:60]}",
                          (f"  ({execution.adaptive_plans} adaptive re-plan(s))" if execution.adaptive_plans else "",
                           "dim"))
    tree = Tree(title, guide_style="dim")
    nodes: dict[int, Tree] = {}
    for node in execution.nodes:  # parents come before their children
        parent = nodes.get(node.parent_id, tree) if node.parent_id is not None else tree
        nodes[node.node_id] = parent.add(_node_label(node, marked))
    return tree


def _node_label(node: PlanNode, marked: str | None) -> RenderableType:
    is_marked = marked is not None and node.name == marked
    name = Text(node.name, style="bold reverse" if is_marked else "bold")
    if is_marked:
        name.append("  ◀ diagnosis", style="bold red")
    metrics = [metric_text(k, v) for k, v in sorted(node.metrics.items()) if v]
    if not metrics:
        return name
    return Group(name, Text("  " + "  ".join(metrics), style="dim"))


class DagView(VerticalScroll):
    """The DAG and SQL plan of one job at a time.

    Reactive attributes:
        job_index: which job (in the jobs table's order) is shown.
        marked_node: the plan node name to highlight (set by a diagnosis jump), or None.
    """

    DEFAULT_CSS = """
    DagView {
        padding: 0 1;
    }
    DagView > #dag-plan {
        margin-top: 1;
    }
    """

    BINDINGS = [Binding("left_square_bracket", "step_job(-1)", "Previous job"),
                Binding("right_square_bracket", "step_job(1)", "Next job")]

    job_index: reactive[int] = reactive(0)
    marked_node: reactive[str | None] = reactive(None)

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data

    def compose(self) -> ComposeResult:
        yield Static(id="dag-heading")
        yield Static(id="dag-stages")
        yield Static(id="dag-plan")

    def on_mount(self) -> None:
        self._draw()

    def watch_job_index(self) -> None:
        if self.is_mounted:
            self._draw()

    def watch_marked_node(self) -> None:
        if self.is_mounted:
            self._draw()

    def _draw(self) -> None:
        jobs = self.data.job_rows
        heading = self.query_one("#dag-heading", Static)
        if not jobs:
            heading.update(Text("No jobs yet.", style="dim"))
            self.query_one("#dag-stages", Static).update("")
            self.query_one("#dag-plan", Static).update("")
            return
        index = min(self.job_index, len(jobs) - 1)
        job = jobs[index]
        heading.update(Text.assemble((f"Job {index + 1} of {len(jobs)}", "bold"), ("   [ and ] for the others", "dim")))
        self.query_one("#dag-stages", Static).update(stage_tree(self.data, job))
        execution = self.data.model.sql_executions.get(job["sql_execution_id"]) \
            if job["sql_execution_id"] is not None else None
        self.query_one("#dag-plan", Static).update(
            plan_tree(execution, self.marked_node) if execution is not None
            else Text("No SQL query: this job was not started by a DataFrame or SQL action.", style="dim"))

    def action_step_job(self, step: int) -> None:
        count = len(self.data.job_rows)
        if count:
            self.marked_node = None
            self.job_index = (self.job_index + step) % count

    def show_job_of(self, sql_execution_id: int | None, job_ids: tuple[int, ...], node: str | None) -> None:
        """Show the job that ran ``sql_execution_id`` (or the first of ``job_ids``), marking ``node``."""
        jobs = self.data.job_rows
        index = next((i for i, j in enumerate(jobs) if sql_execution_id is not None
                      and j["sql_execution_id"] == sql_execution_id), None)
        if index is None:
            index = next((i for i, j in enumerate(jobs) if j["job_id"] in job_ids), 0)
        self.job_index = index
        self.marked_node = node
        self._draw()
        if node is not None:
            self.call_after_refresh(self.scroll_to_widget, self.query_one("#dag-plan"), animate=False, top=True)

    async def show_data(self, data: DashboardData) -> None:
        """Show the same job in a newer model of the application (a live or replayed log)."""
        self.data = data
        self._draw()
