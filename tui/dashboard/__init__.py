"""The Ember dashboard (``ember ui``): one application's event log as overview, jobs, stages, a stage's
task summary and histogram, and diagnoses with their evidence and fix.

    from tui.dashboard import run_dashboard
    sys.exit(run_dashboard("ember-events/"))
"""
from tui.dashboard.app import EmberApp, run_dashboard

__all__ = ["EmberApp", "run_dashboard"]
