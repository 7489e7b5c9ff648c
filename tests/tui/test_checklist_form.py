"""`k` on the patient screen, driven by Pilot on SQLite and PostgreSQL: the
documentation checklist ticked by keyboard shows who gave the document and when;
the queue says "documents missing" for a patient who left Seoul without one."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console
from sqlalchemy import Engine, func, select
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, DataTable, Static

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from core.dossier import DOCUMENT_ITEMS
from core.schedules import CLINIC_TZ
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, TreatmentEpisode
from tests.factories import add_patient, add_staff
from tests.tui.pilot import workers_done
from tui.app import AftercareApp
from tui.checklist_form import ChecklistModal
from tui.screens.patient import PatientScreen
from tui.screens.queue import QueueScreen


def _app(engine: Engine, clock: FixedClock, departed_days_ago: int | None) -> AftercareApp:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.park", Role.COORDINATOR, now)
        patient = add_patient(session, "P-7", procedure_at=now - timedelta(days=3), created_at=now)
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient.id)
        ).one()
        # Everything but the aftercare card, as older rows store it: plain true/false.
        episode.documentation = {key: key != "aftercare_card" for key, _ in DOCUMENT_ITEMS}
        if departed_days_ago is not None:
            today = now.astimezone(CLINIC_TZ).date()
            episode.departure_date = today - timedelta(days=departed_days_ago)
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
    return AftercareApp(
        Database(engine, make_session_factory(engine)),
        Settings(database_url="sqlite:///unused.db"),
        clock,
        actor=actor,
    )


async def _settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await workers_done(pilot.app)
        await pilot.pause()


def _plain(widget: Static) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(widget.content)
    return captured.get()


def _queue_report_cell(app: AftercareApp) -> str:
    assert isinstance(app.screen, QueueScreen)
    table = app.screen.query_one("#queue-table", DataTable)
    return str(table.get_cell_at(Coordinate(0, table.get_column_index("report"))).plain)


async def _open_checklist(pilot: Pilot[None], app: AftercareApp) -> ChecklistModal:
    await _settle(pilot)
    app.open_patient(_patient_id(app))
    await _settle(pilot)
    assert isinstance(app.screen, PatientScreen)
    await pilot.press("k")
    await pilot.pause()
    assert isinstance(app.screen, ChecklistModal)
    return app.screen


def _patient_id(app: AftercareApp) -> int:
    with app.clinic.database.sessions() as session:  # the one patient of these tests
        return int(session.scalars(select(TreatmentEpisode.patient_id)).one())


async def test_ticking_by_keyboard_shows_who_and_when(engine: Engine, clock: FixedClock) -> None:
    app = _app(engine, clock, departed_days_ago=1)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        assert _queue_report_cell(app) == "documents missing"

        form = await _open_checklist(pilot, app)
        boxes = list(form.query(Checkbox))
        assert [b.value for b in boxes] == [key != "aftercare_card" for key, _ in DOCUMENT_ITEMS]
        card = boxes[[key for key, _ in DOCUMENT_ITEMS].index("aftercare_card")]
        card.focus()
        await pilot.press("space")
        form.query_one("#save", Button).focus()
        await pilot.press("enter")
        await _settle(pilot)

        screen = app.screen
        assert isinstance(screen, PatientScreen)
        shown = _plain(screen.query_one("#patient-episodes", Static))
        when = clock.now().astimezone(CLINIC_TZ).strftime("%d %b %H:%M")
        assert f"✓ Aftercare card in the patient's language (given by rn.park, {when})" in shown
        assert "MISSING" not in shown

        await pilot.press("escape")
        await _settle(pilot)
        assert _queue_report_cell(app) == ""

    with make_session_factory(engine)() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "episode.documentation")
        ).all()
    assert actions == ["episode.documentation"]


async def test_cancelling_the_checklist_writes_nothing(engine: Engine, clock: FixedClock) -> None:
    app = _app(engine, clock, departed_days_ago=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        assert _queue_report_cell(app) == ""  # departure unknown: no mark
        form = await _open_checklist(pilot, app)
        form.query(Checkbox).first().focus()
        await pilot.press("space", "escape")
        await _settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        assert "MISSING" in _plain(app.screen.query_one("#patient-episodes", Static))

    with make_session_factory(engine)() as session:
        audits = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "episode.documentation")
        )
    assert audits == 0


@pytest.mark.parametrize("departed_days_ago", [0, 5])
async def test_the_queue_marks_a_patient_gone_without_a_document(
    engine: Engine, clock: FixedClock, departed_days_ago: int
) -> None:
    app = _app(engine, clock, departed_days_ago=departed_days_ago)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        assert _queue_report_cell(app) == "documents missing"
