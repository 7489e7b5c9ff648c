"""The triage form on the patient screen, driven by Pilot on real databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select, Static

from core.clock import FixedClock
from core.config import Settings
from core.domain import (
    Disposition,
    EscalationStatus,
    NotificationStatus,
    Role,
    Trend,
)
from core.triage import RULES_VERSION
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import (
    Escalation,
    Incident,
    OutboxNotification,
    Patient,
    TreatmentEpisode,
    TriageAssessment,
)
from tests.factories import add_patient, add_staff
from tui.app import AftercareApp
from tui.screens.patient import PatientScreen
from tui.triage_form import TriageModal


@pytest.fixture
def setup(engine: Engine, clock: FixedClock) -> tuple[AftercareApp, int]:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.notify_tag = "dr-lee"
        patient = add_patient(
            session,
            "P-7",
            procedure_at=now - timedelta(days=2, hours=2),
            created_at=now,
            family_name="Sato",
            given_name="Yui",
        )
        episode = session.scalars(select(TreatmentEpisode)).one()
        episode.treating_physician_id = doctor.id
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        patient_id = patient.id
    app = AftercareApp(
        Database(engine, make_session_factory(engine)),
        Settings(database_url="sqlite:///unused.db"),
        clock,
        actor=actor,
    )
    return app, patient_id


async def _settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def _open_form(pilot: Pilot[None], patient_id: int) -> TriageModal:
    app = pilot.app
    assert isinstance(app, AftercareApp)
    await _settle(pilot)
    app.open_patient(patient_id)
    await _settle(pilot)
    assert isinstance(app.screen, PatientScreen)
    await pilot.press("t")
    await pilot.pause()
    assert isinstance(app.screen, TriageModal)
    return app.screen


def _count(engine: Engine, model: type) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


async def test_emergency_shows_the_banner_and_saves_everything(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        assert form.query_one("#day", Input).value == "2"
        form.query_one("#symptom-erythema", Checkbox).value = True
        await pilot.pause()
        assert form.outcome is not None and form.outcome.disposition is Disposition.EXPECTED
        form.query_one("#symptom-shortness_of_breath", Checkbox).value = True
        form.query_one("#temperature", Input).value = "37.4"
        await pilot.pause()
        assert form.outcome is not None and form.outcome.disposition is Disposition.EMERGENCY
        banner = str(form.query_one("#triage-banner", Static).render())
        assert "call 119 now" in banner and "Japan" in banner
        preview = str(form.query_one("#triage-preview", Static).render())
        assert "EMERGENCY" in preview and "breath" in preview
        form.query_one("#note", Input).value = "[bold]can't breathe well[/]"
        await pilot.press("ctrl+s")
        await _settle(pilot)
        assert isinstance(app.screen, PatientScreen)

    with make_session_factory(engine)() as session:
        triage = session.scalars(select(TriageAssessment)).one()
        assert (triage.computed_disposition, triage.chosen_disposition) == (
            Disposition.EMERGENCY,
            Disposition.EMERGENCY,
        )
        assert triage.rules_version == RULES_VERSION
        assert triage.symptoms == ["erythema", "shortness_of_breath"]
        assert triage.temperature_c == 37.4 and triage.day == 2
        assert triage.note == "[bold]can't breathe well[/]"
        incident = session.scalars(select(Incident)).one()
        assert incident.triage_id == triage.id
        escalation = session.scalars(select(Escalation)).one()
        assert (escalation.status, escalation.disposition, escalation.incident_id) == (
            EscalationStatus.OPEN,
            Disposition.EMERGENCY,
            incident.id,
        )
        rows = session.scalars(select(OutboxNotification)).all()
        assert sorted(r.target_tag for r in rows) == ["dr-lee", "oncall"]
        assert all(r.status is NotificationStatus.PENDING for r in rows)
        assert all(r.title == f"[E-{escalation.id} step 1] EMERGENCY" for r in rows)
        assert len({r.idempotency_key for r in rows}) == 2
        patient = session.get_one(Patient, patient_id)
        assert patient.latest_disposition is Disposition.EMERGENCY


async def test_override_needs_a_reason_and_keeps_both(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot, patient_id)
        form.query_one("#symptom-itching", Checkbox).value = True
        form.query_one("#trend", Select).value = Trend.STABLE
        form.query_one("#override", Select).value = Disposition.REVIEW
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, TriageModal)
        assert "needs a written reason" in str(form.query_one("#error", Static).render())
        form.query_one(
            "#override-reason", Input
        ).value = "Known nickel allergy; doctor wants eyes on it"
        await pilot.press("ctrl+s")
        await _settle(pilot)
    with make_session_factory(engine)() as session:
        triage = session.scalars(select(TriageAssessment)).one()
        assert (triage.computed_disposition, triage.chosen_disposition) == (
            Disposition.EXPECTED,
            Disposition.REVIEW,
        )
        assert triage.override_reason == "Known nickel allergy; doctor wants eyes on it"
    # Review opens an incident and emails the treating physician once; nobody is paged.
    assert _count(engine, Incident) == 1
    with make_session_factory(engine)() as session:
        (escalation,) = session.scalars(select(Escalation)).all()
        assert escalation.disposition is Disposition.REVIEW
        rows = session.scalars(select(OutboxNotification)).all()
        assert [r.target_tag for r in rows] == ["dr-lee"]


async def test_bad_temperature_is_named_and_nothing_is_saved(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        form.query_one("#temperature", Input).value = "83"
        await pilot.pause()
        assert "temperature_c" in str(form.query_one("#error", Static).render())
        await pilot.press("ctrl+s")
        await _settle(pilot)
        assert isinstance(app.screen, TriageModal)
        await pilot.press("escape")
        await _settle(pilot)
    assert _count(engine, TriageAssessment) == 0
