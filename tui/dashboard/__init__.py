"""The Ember dashboard (``ember ui``): one application's event log as overview, jobs, stages, a stage's
task summary, histogram and slowest tasks, the executor timeline, the stage DAG and SQL plan, and
diagnoses with their evidence and fix; followed live while the log is written. ``ember replay``
(``tui.dashboard.replay``) plays a finished log back in the same dashboard.

    from tui.dashboard import run_dashboard
    sys.exit(run_dashboard("ember-events/"))
"""
from tui.dashboard.app import EmberApp, run_dashboard

__all__ = ["EmberApp", "run_dashboard"]
