"""Finding a patient the queue no longer lists, opening them and triaging a late call,
driven by Pilot on real databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.text import Text
from sqlalchemy import Engine, select
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, Select, Static

from core.clock import FixedClock
from core.domain import Role, Trend
from core.triage import TriageOutcome
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import Patient, TreatmentEpisode, TriageAssessment
from tests.db.test_search import finished_patient
from tests.factories import add_patient, add_staff
from tests.tui.pilot import settle, workstation
from tui.app import AftercareApp
from tui.screens.patient import PatientScreen
from tui.screens.queue import QueueScreen
from tui.screens.search import SearchScreen
from tui.triage_form import TriageModal


@pytest.fixture
def setup(engine: Engine, clock: FixedClock) -> tuple[AftercareApp, int]:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.notify_tag = "dr-lee"
        done = finished_patient(session, "FIN-0042", now, family_name="Sato", given_name="Yui")
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == done.id)
        ).one()
        episode.treating_physician_id = doctor.id
        # Someone on the queue, so the queue is not empty for a different reason.
        add_patient(
            session,
            "ONS-0001",
            procedure_at=now - timedelta(days=2),
            created_at=now,
            family_name="Sato",
            given_name="Ken",
        )
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        done_id = done.id
    app = workstation(engine, clock, actor)
    return app, done_id


def _row_texts(table: DataTable[Text]) -> list[str]:
    return [" | ".join(str(cell) for cell in table.get_row(key)) for key in table.rows]


def _now_on(app: AftercareApp) -> object:
    """The focused widget, typed wide so a check after a key press is not narrowed away."""
    return app.focused


def _showing(app: AftercareApp) -> object:
    """The screen in view, typed wide (see `_now_on`)."""
    return app.screen


async def _type(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])
    await settle(pilot)


async def test_a_finished_patient_is_found_opened_and_triaged(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        on_queue = {key.value for key in queue.query_one("#queue-table", DataTable).rows}
        assert str(patient_id) not in on_queue and len(on_queue) == 1

        await pilot.press("F")
        await settle(pilot)
        search = app.screen
        assert isinstance(search, SearchScreen)
        field = search.query_one("#search-text", Input)
        assert app.focused is field
        table: DataTable[Text] = search.query_one("#search-table", DataTable)

        # By the start of the code, case aside.
        await _type(pilot, "fin")
        assert [key.value for key in table.rows] == [str(patient_id)]
        (row,) = _row_texts(table)
        assert "FIN-0042 Sato Yui" in row and "Japan" in row and "Asia/Tokyo" in row
        assert "Outside the schedule" in row and "monitor" in row
        status = str(search.query_one("#search-status", Static).render())
        assert "1 patient found, 1 outside the schedule" in status

        # By name: both Satos, each saying whether the schedule still holds them.
        field.value = ""
        await settle(pilot)
        await _type(pilot, "sato")
        assert sorted(_row_texts(table)) == [
            "FIN-0042 Sato Yui | Japan | Sun 15:00 Asia/Tokyo | 26 May 2026 | monitor"
            " | Outside the schedule",
            "ONS-0001 Sato Ken | Japan | Sun 15:00 Asia/Tokyo | 20 Nov 2026 | never triaged"
            " | On the schedule",
        ]
        # Given name first: only the patient with both words.
        field.value = ""
        await settle(pilot)
        await _type(pilot, "yui sato")
        assert [key.value for key in table.rows] == [str(patient_id)]

        # Enter goes to the hits, Enter again opens the highlighted one.
        await pilot.press("enter")
        assert _now_on(app) is table
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PatientScreen) and screen.patient_id == patient_id
        assert screen.dossier is not None
        assert screen.dossier.identity.next_touchpoint_id is None

        # A late call: a lump half a year after the exosome infusion.
        await pilot.press("t")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TriageModal)
        assert form.query_one("#day", Input).value == "180"
        form.query_one("#symptom-nodule", Checkbox).value = True
        form.query_one("#trend", Select).value = Trend.STABLE
        await pilot.pause()
        outcome: TriageOutcome | None = form.outcome
        assert outcome is not None
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen

        # Back on the search, the hit shows the new latest triage.
        await pilot.press("escape")
        await settle(pilot)
        assert _showing(app) is search
        assert outcome.disposition.value in _row_texts(table)[0]

    with make_session_factory(engine)() as session:
        triage = session.scalars(select(TriageAssessment)).one()
        assert triage.patient_id == patient_id
        assert triage.day == 180 and triage.touchpoint_id is None
        assert triage.symptoms == ["nodule"] and triage.trend is Trend.STABLE
        assert triage.computed_disposition is outcome.disposition
        patient = session.get_one(Patient, patient_id)
        assert patient.latest_disposition is outcome.disposition


async def test_no_match_says_so_and_escape_goes_back_to_the_queue(
    setup: tuple[AftercareApp, int],
) -> None:
    app, _ = setup
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("F")
        await settle(pilot)
        search = app.screen
        assert isinstance(search, SearchScreen)
        await _type(pilot, "zz%")
        assert search.query_one("#search-table", DataTable).row_count == 0
        status = str(search.query_one("#search-status", Static).render())
        assert status == "No patient's code or name matches “zz%”."
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(_showing(app), QueueScreen)
