"""Every diagnosis of the application, each with its explanation, evidence and fix."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label

from tui.dashboard.data import DashboardData
from tui.dashboard.diagnosis_detail import DiagnosisCard, diagnosis_heading


class DiagnosesView(VerticalScroll):
    """All diagnoses, ranked, one card each (notes of severity ``info`` included, last). Tab moves
    between cards; Enter on one goes to its stage or plan node."""

    DEFAULT_CSS = """
    DiagnosesView {
        padding: 0 1;
    }
    DiagnosesView > .diagnosis-card {
        border: round $primary;
        margin-bottom: 1;
    }
    DiagnosesView > .diagnosis-card.-info {
        border: round $panel-lighten-2;
    }
    DiagnosesView > .diagnosis-card:focus {
        border: double $accent;
    }
    DiagnosesView > .detector-failure {
        color: $error;
    }
    """

    def __init__(self, data: DashboardData, **kwargs):
        super().__init__(**kwargs)
        self.data = data

    def compose(self) -> ComposeResult:
        diagnoses = self.data.diagnoses
        if not diagnoses:
            yield Label("No findings.")
        for d in diagnoses:
            card = DiagnosisCard(d, show_title=False, classes="diagnosis-card")
            card.set_class(d.severity == 0, "-info")
            card.border_title = diagnosis_heading(d).markup
            card.border_subtitle = d.title
            yield card
        for f in self.data.report.run.failures:
            yield Label(f"detector {f.detector} failed: {f.error}", classes="detector-failure")

    async def show_data(self, data: DashboardData) -> None:
        """Show the diagnoses of a newer model (a live or replayed log), at the same scroll position."""
        self.data = data
        scroll = self.scroll_y
        await self.recompose()
        self.scroll_to(y=scroll, animate=False)
