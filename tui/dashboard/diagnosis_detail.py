"""One diagnosis in full: what is wrong and why, the evidence, and the fix."""
from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from diag.diagnosis import Diagnosis
from tui.dashboard.format import duration, severity_text, where


def diagnosis_heading(d: Diagnosis) -> Text:
    """"SEVERE  skew  stage 2  ~0.4 s" — the one line that names a diagnosis in lists and borders."""
    return Text.assemble(severity_text(d.severity), "  ", (d.kind, "bold"), "  ", (where(d), "italic"),
                         f"  ~{duration(d.estimated_cost_ms)}")


class DiagnosisChosen(Message):
    """Enter on a diagnosis (in a list or on its card): the dashboard goes to where it is."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.diagnosis = diagnosis


class DiagnosisDetail(Widget):
    """Explanation, evidence and fix of one diagnosis; a hint when there is none.

    Reactive attributes:
        diagnosis: the diagnosis shown (None: nothing selected).
    """

    DEFAULT_CSS = """
    DiagnosisDetail {
        height: auto;
        padding: 0 1;
    }
    DiagnosisDetail > .diagnosis-detail--label {
        color: $text-muted;
    }
    DiagnosisDetail > .diagnosis-detail--fix {
        color: $success;
        text-style: bold;
    }
    """

    COMPONENT_CLASSES = {"diagnosis-detail--label", "diagnosis-detail--fix"}

    diagnosis: reactive[Diagnosis | None] = reactive(None, layout=True)

    def __init__(self, diagnosis: Diagnosis | None = None, show_title: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.show_title = show_title
        self.set_reactive(DiagnosisDetail.diagnosis, diagnosis)

    def render(self) -> RenderableType:
        d = self.diagnosis
        if d is None:
            return Text("Select a diagnosis to see its evidence and fix.", style="dim")
        label = self.get_component_rich_style("diagnosis-detail--label")
        fix = self.get_component_rich_style("diagnosis-detail--fix")
        evidence = Table.grid(padding=(0, 2))
        for key, value in d.evidence.items():
            evidence.add_row(Text(key, style=label), Text(str(value)))
        parts: list[RenderableType] = []
        if self.show_title:
            parts += [diagnosis_heading(d), Text(d.title, style="bold")]
        parts += [Text(d.explanation), Text(""), Text("Evidence", style=label), evidence, Text(""),
                  Text.assemble(("Fix: ", fix), d.recommendation)]
        return Group(*parts)


class DiagnosisCard(DiagnosisDetail, can_focus=True):
    """A diagnosis in a list of cards: focusable (Tab), and Enter goes to its stage or plan node."""

    BINDINGS = [Binding("enter", "choose", "Go to")]

    def action_choose(self) -> None:
        if self.diagnosis is not None:
            self.post_message(DiagnosisChosen(self.diagnosis))
