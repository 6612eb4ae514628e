"""The ranked diagnoses as a list: severity (in its colour), where, estimated cost and title.
Moving the highlight posts ``DiagnosisList.Highlighted`` with the diagnosis under it."""
from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from diag.diagnosis import Diagnosis
from tui.dashboard.diagnosis_detail import DiagnosisChosen
from tui.dashboard.format import duration, severity_style, where


TITLE_WIDTH = 60  # the rest of the line is ~50 columns: one line per diagnosis in a 120-column terminal


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _prompt(d: Diagnosis) -> Text:
    return Text.assemble((f"{str(d.severity).upper():<9}", severity_style(d.severity)), " ",
                         (f"{where(d)[:28]:<28}", "italic"), " ", (f"~{duration(d.estimated_cost_ms):>8}", "dim"),
                         "  ", _shorten(d.title, TITLE_WIDTH))


class DiagnosisList(OptionList):
    """One line per diagnosis, in the detectors' ranking. Enter on one posts ``DiagnosisChosen``:
    the dashboard then goes to where it is (its stage, or its SQL plan node)."""

    DEFAULT_CSS = """
    DiagnosisList {
        height: auto;
        max-height: 12;
    }
    """

    class Highlighted(Message):
        def __init__(self, diagnosis: Diagnosis) -> None:
            super().__init__()
            self.diagnosis = diagnosis

    def __init__(self, diagnoses: list[Diagnosis], **kwargs):
        self.diagnoses = list(diagnoses)
        super().__init__(*self._diagnosis_options(), **kwargs)

    def _diagnosis_options(self) -> list[Option]:
        return [Option(_prompt(d), id=str(i)) for i, d in enumerate(self.diagnoses)]

    @property
    def highlighted_diagnosis(self) -> Diagnosis | None:
        return self.diagnoses[self.highlighted] if self.highlighted is not None and self.diagnoses else None

    def set_diagnoses(self, diagnoses: list[Diagnosis], keep: Diagnosis | None = None) -> None:
        """Replace the list; the highlight goes back to ``keep`` (matched by kind, place and title)
        when it is still there, else to the first diagnosis."""
        self.diagnoses = list(diagnoses)
        self.clear_options()
        self.add_options(self._diagnosis_options())
        same = [i for i, d in enumerate(self.diagnoses) if keep is not None
                and (d.kind, d.location, d.title) == (keep.kind, keep.location, keep.title)]
        self.highlighted = same[0] if same else (0 if self.diagnoses else None)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self.diagnoses[event.option_index]))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(DiagnosisChosen(self.diagnoses[event.option_index]))
