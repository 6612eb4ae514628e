"""QueryExecution: one query's path from analyzed plan to results, and every plan on the way.

    analyzed -> (cached data swapped in) -> optimized -> physical -> executed (exchanges, codegen)

``explain(mode)`` prints any of them as Spark does. ``execute`` runs the query as one SQL
execution: it posts SQLExecutionStart with the physical plan and its metrics, runs the jobs
(broadcasts and range sampling first, then the action's own job) and posts SQLExecutionEnd.
When no listener wants SQL events (``LiveListenerBus.wants_sql_events``: event log off, no user
listener) the SQL events are neither built nor posted, so the plan is never formatted.

With ``spark.sql.adaptive.enabled`` (the default, as in Spark 4) a plan with exchanges is put under
an ``AdaptiveSparkPlan`` (``engine.adaptive``): its query stages run as jobs of their own and the
rest is re-planned from their real sizes; each new plan is posted as
SparkListenerSQLAdaptiveExecutionUpdate.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from functools import cached_property, lru_cache

from engine.adaptive.adaptive_spark_plan_exec import AdaptiveContext, AdaptiveSparkPlanExec
from engine.execution.collapse_codegen_stages import collapse_codegen_stages
from engine.execution.ensure_requirements import ensure_requirements
from engine.execution.planner import SparkPlanner
from engine.optimizer import optimize
from engine.scheduler import events as ev
from engine.scheduler.dag_scheduler import CallSite
from engine.sql.conf import bytes_to_string

_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXPLAIN_MODES = ("simple", "extended", "formatted", "cost", "codegen")


def user_call_site(action: str) -> CallSite:
    """Where user code called the action: ``collect at job.py:12`` and the user's stack.

    Walks the frames without reading source lines (``traceback.extract_stack`` would look every
    line up): it runs once per query."""
    user = [(frame.f_code, lineno) for frame, lineno in traceback.walk_stack(sys._getframe(1))
            if not _is_engine_file(frame.f_code.co_filename)]
    if not user:
        return CallSite(action, action)
    code, lineno = user[0]
    short = f"{action} at {os.path.basename(code.co_filename)}:{lineno}"
    long = "\n".join(f"{c.co_name}({os.path.basename(c.co_filename)}:{n})" for c, n in user)
    return CallSite(short, long)


@lru_cache(maxsize=4096)
def _is_engine_file(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_ENGINE_DIR)


class QueryExecution:
    def __init__(self, session, analyzed, parsed=None, use_cache: bool = True, wrap=None):
        self.session = session
        self.wrap = wrap  # puts a command (a write) on top of the executed plan
        self.analyzed = analyzed
        self.parsed = parsed if parsed is not None else analyzed
        self.use_cache = use_cache
        self.rewrites: list[tuple[str, object, object]] = []

    @cached_property
    def with_cached_data(self):
        return self.session.cache_manager.use_cached_data(self.analyzed) if self.use_cache else self.analyzed

    @cached_property
    def optimized(self):
        return optimize(self.with_cached_data, observer=lambda rule, before, after: self.rewrites.append((rule, before, after)))

    @cached_property
    def spark_plan(self):
        return SparkPlanner(self.session.conf, self.session.cache_manager).plan(self.optimized)

    @cached_property
    def executed_plan(self):
        conf = self.session.conf
        plan = ensure_requirements(self.spark_plan, int(conf.get("spark.sql.shuffle.partitions")))
        if conf.get_bool("spark.sql.codegen.wholeStage"):
            plan = collapse_codegen_stages(plan)
        if conf.get_bool("spark.sql.adaptive.enabled") and any(n.is_stage_boundary for n in plan.walk()):
            plan = AdaptiveSparkPlanExec(plan)
        return self.wrap(plan) if self.wrap else plan

    @property
    def adaptive_plan(self) -> AdaptiveSparkPlanExec | None:
        return next((n for n in self.executed_plan.walk() if isinstance(n, AdaptiveSparkPlanExec)), None)

    # ---- running ----
    def execute(self, action: str, result_fn, partitions=None, call_site: CallSite | None = None,
                on_job_end=None) -> list:
        """Run the query as one SQL execution; ``result_fn(table, ctx)`` per result partition.
        ``on_job_end(results)``, if given, runs after the job and before the execution ends (a
        write's job commit) and returns driver metric updates to post (accumulator id, value)."""
        session = self.session
        call_site = call_site or user_call_site(action)
        plan = self.executed_plan
        execution_id = session.next_execution_id()
        properties = {"spark.sql.execution.id": str(execution_id), "spark.sql.execution.root.id": str(execution_id),
                      "callSite.short": call_site.short, "spark.app.name": session.app_name}
        sql_events = session.bus.wants_sql_events

        def post_sql(make_event):
            """Build and post a SQL event only when a listener reads them: formatting the plan is
            most of a small query's driver time."""
            if sql_events:
                session.bus.post(make_event())

        post_sql(lambda: ev.SparkListenerSQLExecutionStart(
            execution_id, call_site.short, call_site.long, self.explain_string("formatted"), plan_info(plan),
            _now(), {}))

        def run_job(node, fn, parts=None):
            todo = list(range(node.num_partitions)) if parts is None else list(parts)
            return session.dag_scheduler.run_job(node, todo, fn, call_site, properties)

        def post_driver_metrics(updates):
            post_sql(lambda: ev.SparkListenerDriverAccumUpdates(execution_id, updates))

        def on_plan_update():
            post_sql(lambda: ev.SparkListenerSQLAdaptiveExecutionUpdate(
                execution_id, self.explain_string("formatted"), plan_info(plan)))

        adaptive = self.adaptive_plan
        if adaptive is not None:
            adaptive.context = AdaptiveContext(
                session.conf, session.env.shuffle_manager, lambda node: self._prepare(node, run_job),
                lambda exchange: session.dag_scheduler.submit_map_stage(exchange, call_site, properties),
                on_plan_update, post_driver_metrics)
        try:
            self._prepare(plan, run_job)
            driver_updates = [(m.accumulator_id, m.value) for node in _outside_adaptive(plan)
                              if node.is_stage_boundary for m in node.metrics.values() if m.value]
            driver_updates += [u for node in _outside_adaptive(plan) for u in node.driver_metric_updates()]
            if driver_updates:
                post_driver_metrics(driver_updates)
            results = run_job(plan, result_fn, partitions)
            if adaptive is not None:
                adaptive.finish()
            if on_job_end is not None:
                post_driver_metrics(on_job_end(results))
        except BaseException as e:
            post_sql(lambda: ev.SparkListenerSQLExecutionEnd(execution_id, _now(), f"{type(e).__name__}: {e}"))
            raise
        post_sql(lambda: ev.SparkListenerSQLExecutionEnd(execution_id, _now()))
        return results

    def _prepare(self, node, run_job) -> None:
        if not getattr(node, "prepares_subtree", False):
            lineage = getattr(node, "lineage_children", None)
            for child in (lineage(self.session.env.block_manager) if lineage else node.children):
                self._prepare(child, run_job)
        node.do_prepare(run_job)

    # ---- explaining ----
    def explain_string(self, mode: str = "simple") -> str:
        mode = mode.lower()
        if mode not in EXPLAIN_MODES:
            raise ValueError(f"Unknown explain mode: {mode}. Accepted explain modes are {', '.join(EXPLAIN_MODES)}.")
        if mode == "formatted":  # every SQL event carries this one: it does not need the tree string
            return _formatted(self.executed_plan)
        if mode == "codegen":
            return _codegen(self.executed_plan)
        physical = self.executed_plan.tree_string()
        if mode == "simple":
            return f"== Physical Plan ==\n{physical}\n"
        if mode == "extended":
            schema = ", ".join(f"{a.name}: {a.data_type.simpleString()}" for a in self.analyzed.output)
            return (f"== Parsed Logical Plan ==\n{self.parsed.tree_string()}\n\n"
                    f"== Analyzed Logical Plan ==\n{schema}\n{self.analyzed.tree_string()}\n\n"
                    f"== Optimized Logical Plan ==\n{self.optimized.tree_string()}\n\n"
                    f"== Physical Plan ==\n{physical}\n")
        return (f"== Optimized Logical Plan ==\n{_with_stats(self.optimized)}\n\n"  # mode "cost"
                f"== Physical Plan ==\n{physical}\n")


def _now() -> int:
    return int(time.time() * 1000)


def _outside_adaptive(plan):
    """The nodes of ``plan`` not under an AdaptiveSparkPlan (which posts its stages' metrics itself)."""
    yield plan
    if not getattr(plan, "prepares_subtree", False):
        for c in plan.children:
            yield from _outside_adaptive(c)


def plan_info(node) -> ev.SparkPlanInfo:
    return ev.SparkPlanInfo(
        node.node_name,
        node.simple_string(),
        [plan_info(c) for c in node.children],
        {},
        [ev.SQLMetricInfo(m.name, m.accumulator_id, m.metric_type) for m in node.metrics.values()],
    )


def _with_stats(plan) -> str:
    lines = []

    def visit(node, first, rest):
        lines.append(f"{first}{node.simple_string()}, Statistics(sizeInBytes={bytes_to_string(node.size_in_bytes)})")
        kids = node.children
        for i, c in enumerate(kids):
            last = i == len(kids) - 1
            visit(c, rest + ("+- " if last else ":- "), rest + ("   " if last else ":  "))

    visit(plan, "", "")
    return "\n".join(lines)


def _formatted(plan) -> str:
    """Spark's formatted mode: the tree with numbered nodes, then each node's details. An adaptive
    plan shows its sections (current or final plan, then the initial one); nodes they share keep
    one number."""
    numbered: list = []
    ids: dict[int, int] = {}

    def number(node):
        for _, sub in _explain_sections(node):
            number(sub)
        if getattr(node, "codegen_stage_id", None) is None and id(node) not in ids:
            ids[id(node)] = len(numbered) + 1
            numbered.append(node)

    number(plan)
    lines = ["== Physical Plan =="]

    def tree(node, first, rest, codegen):
        if getattr(node, "codegen_stage_id", None) is not None:
            tree(node.child, first, rest, node.codegen_stage_id if node.compiled else None)
            return
        marker = "* " if codegen is not None else ""
        suffix = node.formatted_suffix() if hasattr(node, "formatted_suffix") else None
        lines.append(f"{first}{marker}{node.node_name} ({ids[id(node)]}){', ' + suffix if suffix else ''}")
        sections = _explain_sections(node)
        for i, (title, c) in enumerate(sections):
            if title is not None:
                lines.append(f"{rest}+- == {title} ==")
                tree(c, rest + "   ", rest + "   ", None)
                continue
            last = i == len(sections) - 1
            tree(c, rest + ("+- " if last else ":- "), rest + ("   " if last else ":  "),
                 codegen if c.supports_codegen else None)

    tree(plan, "", "", None)
    lines.append("")
    for node in numbered:
        lines.append(f"({ids[id(node)]}) {node.node_name}")
        lines.append(f"Output [{len(node.output)}]: [{', '.join(str(a) for a in node.output)}]")
        args = node.arguments()
        if args:
            lines.append(f"Arguments: {args}")
        lines.append("")
    return "\n".join(lines)


def _explain_sections(node) -> list:
    """``(title, subplan)`` pairs explain draws under ``node``: its children, untitled, or an
    adaptive plan's titled sections."""
    sections = getattr(node, "explain_sections", None)
    return sections() if sections else [(None, c) for c in node.children]


def _codegen(plan) -> str:
    stages = [n for n in plan.walk() if getattr(n, "codegen_stage_id", None) is not None]
    compiled = [s for s in stages if s.compiled]
    out = [f"Found {len(compiled)} WholeStageCodegen subtrees."]
    for i, stage in enumerate(compiled, 1):
        out.append(f"== Subtree {i} / {len(compiled)} (compile time so far {stage.compile_ms:.0f} ms) ==")
        out.append(stage.tree_string())
        out.append("")
        out.append("Generated code:")
        out.append(stage.codegen_source())
        out.append("")
    for stage in stages:
        if not stage.compiled:
            out.append(f"Not compiled (pyarrow.compute fallback): {stage.child.simple_string()}")
            out.append(f"  reason: {stage.fallback_reason}")
    return "\n".join(out) + "\n"
