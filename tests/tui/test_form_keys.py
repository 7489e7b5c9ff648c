"""Forms: ctrl+s saves in every one and is written on it, the contact dialog starts
with no outcome, and the triage form keeps its labels, says what is wrong under the
field, keeps the outcome in view and asks before Escape throws a triage away.

The forms are pushed on a bare app (no database: what a form answers is a value),
except the triage form, opened from a real patient's screen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from textual.app import App
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Select, Static

from core.clock import FixedClock
from core.domain import Channel, ContactOutcome, Disposition, Role
from core.dossier import ChecklistItem, ChecklistTicks
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import TreatmentEpisode
from tests.factories import add_patient, add_staff
from tests.tui.pilot import open_patient, settle, workstation
from tui.checklist_form import ChecklistModal
from tui.incident_forms import CloseModal, EntryModal, NewIncidentModal
from tui.modals import ConfirmModal, ContactAttemptModal, FormModal, TextPromptModal
from tui.screens.oncall import NewShiftModal
from tui.triage_form import TriageModal


class _Desk(App[None]):
    """Somewhere to open one form and keep its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[Any] = []


async def _answer(form: FormModal[Any], fill: dict[str, Any]) -> tuple[list[Any], str, str]:
    """Open `form`, fill it, press ctrl+s: (what it answered, the buttons' words, the
    error line then)."""
    app = _Desk()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(form, app.answers.append)
        await pilot.pause()
        for selector, value in fill.items():
            form.query_one(selector).value = value  # type: ignore[attr-defined]
        await pilot.pause()
        words = " ".join(str(b.label) for b in form.query(Button))
        await pilot.press("ctrl+s")
        await pilot.pause()
        errors = form.query("#error")
        said = str(errors.first(Static).render()) if errors else ""
        return app.answers, words, said


@pytest.mark.parametrize(
    ("form", "fill"),
    [
        (TextPromptModal("Skip: why?"), {"#answer": "patient travelling"}),
        (EntryModal("INC-1"), {"#text": "Called the patient"}),
        (NewIncidentModal("P-1 Sato", date(2026, 11, 22)), {}),
        (CloseModal("INC-1", None), {}),
        (
            NewShiftModal(ZoneInfo("Asia/Seoul"), datetime(2026, 11, 22, 9, tzinfo=UTC)),
            {"#login": "dr.kim"},
        ),
        (ChecklistModal("P-1", (ChecklistItem("consent", "Consent form", False, None),)), {}),
    ],
    ids=["prompt", "entry", "new-incident", "close", "shift", "checklist"],
)
async def test_ctrl_s_saves_every_form_and_the_form_says_so(
    form: FormModal[Any], fill: dict[str, Any]
) -> None:
    answers, words, said = await _answer(form, fill)
    assert "ctrl+s" in words and "esc" in words
    if answers:  # saved: the answer is the form's value
        assert answers[0] is not None
    else:  # refused: said on the form, which stays open
        assert said.strip()


async def test_checklist_ctrl_s_answers() -> None:
    item = ChecklistItem("consent", "Consent form", False, None)
    answers, _, _ = await _answer(ChecklistModal("P-1", (item,)), {"#item-0": True})
    assert answers == [ChecklistTicks((("consent", True),))]


async def test_the_contact_dialog_starts_with_no_outcome() -> None:
    form = ContactAttemptModal("P-1 Sato", "Day 3", Channel.LINE)
    app = _Desk()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(form, app.answers.append)
        await pilot.pause()
        assert form.query_one("#outcome", Select).value is Select.NULL
        form.query_one("#note", Input).focus()
        await pilot.press("enter")  # an unthinking Enter logs nothing
        await pilot.pause()
        assert app.answers == [] and "Choose the outcome" in str(
            form.query_one("#error", Static).render()
        )
        form.query_one("#outcome", Select).value = ContactOutcome.NO_ANSWER
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [a.outcome for a in app.answers] == [ContactOutcome.NO_ANSWER]


# --- the triage form, on a real patient -------------------------------------------------


@pytest.fixture
def desk(engine: Engine, clock: FixedClock) -> tuple[App[None], int]:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        patient = add_patient(session, "P-7", procedure_at=now - timedelta(days=2), created_at=now)
        session.scalars(select(TreatmentEpisode)).one()
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        patient_id = patient.id
    return workstation(engine, clock, actor, run_dispatcher=False), patient_id


def _text(screen: Screen[Any], selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _top(app: App[None]) -> Screen[Any]:
    return app.screen


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_triage_form_at_80x24(desk: tuple[App[None], int]) -> None:
    app, patient_id = desk
    async with app.run_test(size=(80, 24)) as pilot:
        await open_patient(pilot, patient_id)
        await pilot.press("t")
        await settle(pilot)
        form = _top(app)
        assert isinstance(form, TriageModal)
        # The first field has the focus and the outcome is still in view.
        assert form.focused is form.query_one("#day", Input)
        assert form.query_one(VerticalScroll).scroll_y == 0
        # Filled fields keep their names.
        assert form.query_one("#day", Input).border_title == "Day"
        assert "Trend: stable" in [
            str(label) for label, _ in form.query_one("#trend", Select)._options
        ]

        # What is wrong is said under its field, and named at the top, in words.
        form.query_one("#temperature", Input).value = "83"
        await pilot.pause()
        assert "Temperature:" in _text(form, "#numbers-error")
        assert "Temperature:" in _text(form, "#triage-preview")
        assert "temperature_c" not in _text(form, "#numbers-error") + _text(form, "#error")
        form.query_one("#temperature", Input).value = "37.2"
        await pilot.pause()
        assert not form.query_one("#numbers-error", Static).display

        # A stale "needs a written reason" goes once the reason is written.
        form.query_one("#trend", Select).value = "stable"
        form.query_one("#override", Select).value = Disposition.REVIEW
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "needs a written reason" in _text(form, "#reason-error")
        form.query_one("#override-reason", Input).value = "doctor asked"
        await pilot.pause()
        assert not form.query_one("#reason-error", Static).display

        # Escape on a triage in progress asks; "no" keeps everything typed.
        form.query_one("#symptom-shortness_of_breath", Checkbox).value = True
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        question = _top(app)
        assert isinstance(question, ConfirmModal)
        assert "EMERGENCY" in str(question.query_one("Label").render())
        await pilot.press("n")
        await pilot.pause()
        assert _top(app) is form and form.query_one("#symptom-shortness_of_breath", Checkbox).value
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(_top(app), TriageModal | ConfirmModal)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_escape_on_an_untouched_triage_closes_it(desk: tuple[App[None], int]) -> None:
    app, patient_id = desk
    async with app.run_test(size=(80, 24)) as pilot:
        await open_patient(pilot, patient_id)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(_top(app), TriageModal)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(_top(app), TriageModal | ConfirmModal)
