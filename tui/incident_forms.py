"""The incident log's forms. Each returns a typed result, or None when cancelled.

A form never closes on bad input: it names the field and what is wrong, and
keeps everything typed so far (the write itself is checked again in db).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Label, Select

from core.commands import Closing, DateCorrection, DatedReference, NewIncident, dates_problem
from core.domain import IncidentCategory, IncidentOutcome, Seriousness
from core.incident_log import HAND_WRITTEN, SEVERITY_GRADES, EntryKind, disagreement, words
from core.labels import category_words
from db.incidents import Classification
from tui.modals import FormModal

# WHO-UMC causality categories: the vocabulary physicians already use.
CAUSALITY = (
    "certain",
    "probable",
    "possible",
    "unlikely",
    "conditional",
    "unassessable",
)

_SERIOUSNESS_LABELS = {
    Seriousness.NOT_ASSESSED: "Not yet assessed",
    Seriousness.NON_SERIOUS: "Non-serious",
    Seriousness.DEATH: "Serious: death",
    Seriousness.LIFE_THREATENING: "Serious: life-threatening",
    Seriousness.HOSPITALISATION: "Serious: hospitalisation (or prolonged)",
    Seriousness.DISABILITY: "Serious: disability or incapacity",
    Seriousness.CONGENITAL_ANOMALY: "Serious: congenital anomaly",
    Seriousness.MEDICALLY_IMPORTANT: "Serious: other medically important",
}

_GRADE_LABELS = {
    1: "1 mild",
    2: "2 moderate",
    3: "3 severe",
    4: "4 life-threatening",
    5: "5 death",
}


def parse_day(text: str, what: str) -> date:
    """A YYYY-MM-DD date, or ValueError naming the field."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}: expected a date like 2026-11-22, got {text!r}") from None


def check_dates(onset_text: str, learned_text: str, today: date) -> tuple[date | None, date]:
    """The onset date (None when left empty) and day 0, or ValueError saying what is wrong:
    neither in the future, and the clinic cannot learn of an event before it began."""
    onset = parse_day(onset_text, "Onset") if onset_text.strip() else None
    learned = parse_day(learned_text, "Day 0")
    problem = dates_problem(onset, learned, today)
    if problem:
        raise ValueError(f"{problem[0].upper()}{problem[1:]}.")
    return onset, learned


def _read_dates(form: FormModal[Any], today: date) -> tuple[date | None, date]:
    """`check_dates` on the form's #onset and #learned fields."""
    onset = form.query_one("#onset", Input).value
    return check_dates(onset, form.query_one("#learned", Input).value, today)


@dataclass(frozen=True)
class EntryForm:
    """A hand-written timeline entry."""

    kind: EntryKind
    text: str


class EntryModal(FormModal[EntryForm]):
    """Append a note, a contact with the patient or home physician, or a correction."""

    def __init__(self, title: str) -> None:
        super().__init__(f"Add to the timeline of {title}")

    def fields(self) -> ComposeResult:
        yield Select(
            [(kind.label, kind) for kind in HAND_WRITTEN],
            value=EntryKind.NOTE,
            allow_blank=False,
            id="kind",
        )
        yield Input(placeholder="What happened, who said what", id="text")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#text")
    def _save(self) -> None:
        kind = self.query_one("#kind", Select).value
        text = self.query_one("#text", Input).value.strip()
        assert isinstance(kind, EntryKind)
        if not text:
            self.refuse("The entry needs text: entries cannot be edited later.")
            return
        self.dismiss(EntryForm(kind, text))


class ClassifyModal(FormModal[Classification]):
    """Category, seriousness (ICH E2A), grade (CTCAE), outcome, causality, actions and
    the suspect product, chosen from every product and add-on of the episode."""

    FORM_CLASSES = "form wide"

    def __init__(
        self,
        title: str,
        current: Classification,
        products: list[tuple[int | str, str]],
    ) -> None:
        super().__init__(f"Classify {title}")
        self._current = current
        self._products = products

    def fields(self) -> ComposeResult:
        now = self._current
        # "Not yet assessed" is where a triage incident starts; once a physician has
        # assessed it, it is not offered again.
        seriousness = [
            (label, s)
            for s, label in _SERIOUSNESS_LABELS.items()
            if s is not Seriousness.NOT_ASSESSED or now.seriousness is Seriousness.NOT_ASSESSED
        ]
        yield Select(
            [(category_words(c), c) for c in IncidentCategory],
            value=now.category,
            allow_blank=False,
            id="category",
        )
        yield Select(seriousness, value=now.seriousness, allow_blank=False, id="seriousness")
        yield Select(
            [(f"Grade {label}", g) for g, label in _GRADE_LABELS.items()],
            value=now.severity_grade if now.severity_grade is not None else Select.NULL,
            prompt="Grade (not yet graded)",
            id="grade",
        )
        yield Select(
            [(f"Outcome: {words(o)}", o) for o in IncidentOutcome],
            value=now.outcome or IncidentOutcome.UNKNOWN,
            allow_blank=False,
            id="outcome",
        )
        # A value recorded in other words (older data, an import) stays choosable,
        # so saving another change never erases it.
        causalities = list(CAUSALITY)
        if now.causality and now.causality not in causalities:
            causalities.insert(0, now.causality)
        yield Select(
            [(f"Causality: {c}", c) for c in causalities],
            value=now.causality if now.causality else Select.NULL,
            prompt="Causality (not assessed)",
            id="causality",
        )
        # Nothing is preselected: allergic reactions trace more often to the
        # add-ons than to the exosome, so the physician chooses.
        yield Select(
            [(label, key) for key, label in self._products],
            value=(
                now.suspect_product_id
                if now.suspect_product_id in {p for p, _ in self._products}
                else Select.NULL
            ),
            prompt="Suspect product (not chosen yet)",
            id="product",
        )
        yield Input(
            value=now.actions_taken or "",
            placeholder="Actions taken (antihistamine, referral, ...)",
            id="actions",
        )

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#actions")
    def _save(self) -> None:
        category = self.query_one("#category", Select).value
        seriousness = self.query_one("#seriousness", Select).value
        grade = self.query_one("#grade", Select).value
        outcome = self.query_one("#outcome", Select).value
        causality = self.query_one("#causality", Select).value
        product = self.query_one("#product", Select).value
        assert isinstance(category, IncidentCategory) and isinstance(seriousness, Seriousness)
        assert isinstance(outcome, IncidentOutcome)
        chosen_grade = grade if isinstance(grade, int) else None
        if chosen_grade is not None and chosen_grade not in SEVERITY_GRADES:
            self.refuse("Grade must be 1 to 5.")
            return
        # The same rule the database applies; said here so nothing typed is lost.
        problem = disagreement(seriousness, chosen_grade, outcome)
        if problem:
            self.refuse(problem)
            return
        self.dismiss(
            Classification(
                category=category,
                seriousness=seriousness,
                severity_grade=chosen_grade,
                causality=causality if isinstance(causality, str) else None,
                actions_taken=self.query_one("#actions", Input).value.strip() or None,
                suspect_product_id=product if isinstance(product, int) else None,
                outcome=outcome,
                suspect_addon=product if isinstance(product, str) else None,
            )
        )


class DateCorrectionModal(FormModal[DateCorrection]):
    """Correct the onset date and day 0 (the reporting clock follows day 0)."""

    FORM_CLASSES = "form wide"
    AUTO_FOCUS = "#onset"

    def __init__(self, title: str, today: date, onset: date | None, learned_on: date) -> None:
        super().__init__(f"Correct the dates of {title}")
        self._today = today
        self._onset = onset
        self._learned_on = learned_on

    def fields(self) -> ComposeResult:
        yield Label(Text("Onset date (empty if unknown)"))
        yield Input(
            value=self._onset.isoformat() if self._onset else "",
            placeholder="YYYY-MM-DD",
            id="onset",
        )
        yield Label(Text("Day 0: the day the clinic learned of it (the clock counts from it)"))
        yield Input(value=self._learned_on.isoformat(), placeholder="YYYY-MM-DD", id="learned")
        yield Input(placeholder="Why the dates are corrected (kept on the timeline)", id="reason")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        try:
            onset, learned = _read_dates(self, self._today)
        except ValueError as exc:
            self.refuse(str(exc))
            return
        if (onset, learned) == (self._onset, self._learned_on):
            self.refuse("Nothing changed: correct the onset date or day 0.")
            return
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.refuse("Say why the dates are corrected; the timeline keeps the reason.")
            return
        self.dismiss(DateCorrection(onset, learned, reason))


class DatedReferenceModal(FormModal[DatedReference]):
    """Ask for the day something was done and its reference number.

    The day must lie between day 0 (`earliest`) and today; with `replacing`,
    an earlier record exists and a reason to replace it is required.
    """

    AUTO_FOCUS = "#reference"
    """The day is usually today: the reference is what is typed."""

    def __init__(
        self,
        title: str,
        today: date,
        what: str,
        *,
        earliest: date,
        replacing: str | None = None,
    ) -> None:
        super().__init__(title)
        self._today = today
        self._what = what
        self._earliest = earliest
        self._replacing = replacing

    def fields(self) -> ComposeResult:
        if self._replacing:
            yield Label(Text(f"Already recorded: {self._replacing}", style="bold yellow"))
        yield Input(value=self._today.isoformat(), placeholder="YYYY-MM-DD", id="day")
        yield Input(placeholder=f"{self._what} reference", id="reference")
        if self._replacing:
            yield Input(placeholder="Why the earlier record is replaced", id="reason")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        try:
            day = parse_day(self.query_one("#day", Input).value, "Date")
        except ValueError as exc:
            self.refuse(str(exc))
            return
        if day > self._today:
            self.refuse(f"Date: {day:%Y-%m-%d} is in the future.")
            return
        if day < self._earliest:
            self.refuse(
                f"Date: {day:%Y-%m-%d} is before day 0, when the clinic learned of the event "
                f"({self._earliest:%Y-%m-%d})."
            )
            return
        reference = self.query_one("#reference", Input).value.strip()
        if not reference:
            self.refuse(f"The {self._what} reference is required.")
            return
        reason = None
        if self._replacing:
            reason = self.query_one("#reason", Input).value.strip()
            if not reason:
                self.refuse("Say why the earlier record is replaced; the timeline keeps both.")
                return
        self.dismiss(DatedReference(day, reference, replacing_because=reason))


class CloseModal(FormModal[Closing]):
    """Close an incident with its outcome."""

    def __init__(self, title: str, warning: str | None) -> None:
        super().__init__(f"Close {title}")
        self._warning = warning

    def fields(self) -> ComposeResult:
        if self._warning:
            yield Label(Text(self._warning, style="bold yellow"))
        yield Select(
            [(words(o).capitalize(), o) for o in IncidentOutcome],
            prompt="Outcome",
            id="outcome",
        )
        yield Input(placeholder="Closing note (optional)", id="note")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#note")
    def _save(self) -> None:
        outcome = self.query_one("#outcome", Select).value
        if not isinstance(outcome, IncidentOutcome):
            self.refuse("Choose the outcome the incident is closed with.")
            return
        self.dismiss(Closing(outcome, self.query_one("#note", Input).value.strip()))


class NewIncidentModal(FormModal[NewIncident]):
    """Open an incident by hand: a home physician's call, a hospital's letter."""

    FORM_CLASSES = "form wide"

    def __init__(self, patient: str, today: date) -> None:
        super().__init__(f"New incident for {patient}")
        self._today = today

    def fields(self) -> ComposeResult:
        yield Select(
            [(category_words(c), c) for c in IncidentCategory],
            prompt="Category",
            id="category",
        )
        yield Select(
            [
                (
                    label
                    if s is not Seriousness.NOT_ASSESSED
                    else f"{label} (7-day clock until a physician classifies it)",
                    s,
                )
                for s, label in _SERIOUSNESS_LABELS.items()
            ],
            prompt="Seriousness (sets the MFDS clock)",
            id="seriousness",
        )
        yield Input(placeholder="Onset date YYYY-MM-DD (empty if unknown)", id="onset")
        yield Label(Text("Day 0: the day the clinic learned of it (starts the clock)"))
        yield Input(value=self._today.isoformat(), placeholder="YYYY-MM-DD", id="learned")
        yield Input(placeholder="What happened, and who told the clinic", id="description")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        category = self.query_one("#category", Select).value
        seriousness = self.query_one("#seriousness", Select).value
        if not isinstance(category, IncidentCategory):
            self.refuse("Choose a category.")
            return
        if not isinstance(seriousness, Seriousness):
            self.refuse("Choose the seriousness: it decides the reporting deadline.")
            return
        try:
            onset, learned = _read_dates(self, self._today)
        except ValueError as exc:
            self.refuse(str(exc))
            return
        description = self.query_one("#description", Input).value.strip()
        if not description:
            self.refuse("Describe what happened: the first timeline entry cannot be edited.")
            return
        self.dismiss(NewIncident(category, seriousness, onset, learned, description))
