"""The incident log screen, driven by Pilot on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine, select
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Input, Select, Static

from core.clock import FixedClock
from core.commands import DatedReference
from core.config import Settings
from core.domain import IncidentCategory, Role, Seriousness
from core.incidents import clinic_today
from db import incidents as store
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Incident, ProductGiven, TreatmentEpisode
from tests.factories import add_staff, add_triaged_patient
from tests.tui.pilot import settle, type_text
from tui.app import AftercareApp
from tui.incident_forms import (
    ClassifyModal,
    DateCorrectionModal,
    DatedReferenceModal,
    NewIncidentModal,
)
from tui.screens.incidents import IncidentLogScreen
from tui.screens.queue import QueueScreen

# The trend is given: a triage missing one is not saved.
REVIEW = {"day": 8, "symptoms": ["swelling"], "trend": "stable", "country": "JP"}


@dataclass
class Clinic:
    database: Database
    clock: FixedClock
    nurse: Actor
    doctor: Actor
    incident_id: int


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        nurse_actor = Actor(nurse.id, nurse.username, nurse.display_name)
        saved = add_triaged_patient(session, "P-1", now=now, actor=nurse_actor, findings=REVIEW)
        assert saved.incident_id is not None
    return Clinic(
        Database(engine, make_session_factory(engine)),
        clock,
        nurse_actor,
        Actor(doctor.id, doctor.username, doctor.display_name, Role.PHYSICIAN),
        saved.incident_id,
    )


def _app(
    clinic: Clinic, *, read_only: bool = False, actor: Actor | None = None, **settings: Any
) -> AftercareApp:
    who = actor or clinic.nurse
    return AftercareApp(
        clinic.database,
        Settings(database_url="sqlite:///unused.db", **settings),
        clinic.clock,
        actor=None if read_only else who,
        login="guest" if read_only else who.username,
        run_dispatcher=False,
    )


def _cells(screen: IncidentLogScreen | QueueScreen, table_id: str) -> list[list[str]]:
    table: DataTable[Text] = screen.query_one(table_id, DataTable)
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


def _column(screen: QueueScreen | IncidentLogScreen, table_id: str, key: str) -> list[str]:
    table: DataTable[Text] = screen.query_one(table_id, DataTable)
    return [table.get_cell(row.key, key).plain for row in table.ordered_rows]


def _text(screen: Widget, selector: str) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(screen.query_one(selector, Static).content)
    return captured.get()


def _notes(app: AftercareApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _open_log(pilot: Pilot[None]) -> IncidentLogScreen:
    await pilot.press("i")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, IncidentLogScreen)
    return screen


async def test_recording_the_report_changes_days_left_in_the_log_and_on_the_queue(
    clinic: Clinic,
) -> None:
    app = _app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        queue = app.screen
        # A review triage, not yet assessed, learned today: 30 days to the periodic report.
        assert _column(queue, "#queue-table", "report") == ["30d"]
        screen = await _open_log(pilot)
        assert _column(screen, "#incidents-table", "report") == ["30d left"]
        assert _column(screen, "#incidents-table", "incident") == [f"#{clinic.incident_id}"]
        detail = _text(screen, "#incidents-detail-text")
        assert "MFDS report" in detail and "30d left" in detail and "Opened" in detail

        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, DatedReferenceModal)
        # A wrong date is named, and the form keeps what was typed.
        app.screen.query_one("#day", Input).value = "2026-13-01"
        await type_text(pilot, "MFDS-2026-0042")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DatedReferenceModal)
        assert "expected a date like" in _text(app.screen, "#error")
        assert app.screen.query_one("#reference", Input).value == "MFDS-2026-0042"
        day_0 = clinic_today(clinic.clock.now())
        app.screen.query_one("#day", Input).value = (day_0 - timedelta(days=1)).isoformat()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DatedReferenceModal)
        assert "before day 0" in _text(app.screen, "#error")
        app.screen.query_one("#day", Input).value = day_0.isoformat()
        await pilot.press("enter")
        await settle(pilot)

        assert _column(screen, "#incidents-table", "report") == ["reported"]
        assert "reference MFDS-2026-0042" in _text(screen, "#incidents-detail-text")
        with clinic.database.sessions() as session:
            incident = session.get_one(Incident, clinic.incident_id)
            assert incident.report_reference == "MFDS-2026-0042"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is queue
        queue.refresh_now()
        await settle(pilot)
        assert _column(queue, "#queue-table", "report") == [""]


async def test_raising_seriousness_shortens_the_clock(clinic: Clinic) -> None:
    app = _app(clinic, actor=clinic.doctor)  # seriousness is a physician's call
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = await _open_log(pilot)
        await pilot.press("s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ClassifyModal)
        form.query_one("#seriousness", Select).value = Seriousness.HOSPITALISATION
        form.query_one("#grade", Select).value = 3
        await pilot.click("#save")
        await settle(pilot)
        assert isinstance(app.screen, IncidentLogScreen)
        row = _cells(screen, "#incidents-table")[0]
        assert row[1] == "15d left"
        assert "hospitalisation" in row[6] and row[7] == "3"
        assert "Classified" in _text(screen, "#incidents-detail-text")


async def test_grade_5_without_death_is_refused_in_the_form(clinic: Clinic) -> None:
    app = _app(clinic, actor=clinic.doctor)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await _open_log(pilot)
        await pilot.press("s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ClassifyModal)
        form.query_one("#grade", Select).value = 5
        await pilot.click("#save")
        await pilot.pause()
        assert app.screen is form
        # The refusal names both fields that disagree.
        assert "Severity grade and seriousness disagree: grade 5 is death" in _text(
            form,
            "#error",
        )
    with clinic.database.sessions() as session:
        assert session.get_one(Incident, clinic.incident_id).version == 1


async def test_a_colleagues_change_in_between_is_refused_and_shown(clinic: Clinic) -> None:
    app = _app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = await _open_log(pilot)
        await pilot.press("p")
        await pilot.pause()
        # While the form is open, the physician records a KHIDI escalation.
        with transaction(clinic.database.sessions) as session:
            store.record_khidi(
                session,
                incident_id=clinic.incident_id,
                expected_version=1,
                escalation=DatedReference(clinic_today(clinic.clock.now()), "KHIDI-5"),
                actor=clinic.doctor,
                now=clinic.clock.now(),
            )
        await type_text(pilot, "MFDS-9")
        await pilot.press("enter")
        await settle(pilot)
        assert any("escalated to KHIDI by Dr.Lee" in note for note in _notes(app))
        with clinic.database.sessions() as session:
            assert session.get_one(Incident, clinic.incident_id).reported_on is None
        screen.refresh_now()
        await settle(pilot)
        assert "KHIDI-5" in _text(screen, "#incidents-detail-text")
        assert _column(screen, "#incidents-table", "report") == ["30d left"]


async def test_filters_and_read_only(clinic: Clinic) -> None:
    app = _app(clinic, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = await _open_log(pilot)
        await pilot.press("v")  # nothing is late today
        await settle(pilot)
        assert _cells(screen, "#incidents-table") == []
        assert "reports overdue" in _text(screen, "#incidents-summary")
        assert "No incident matches" in _text(screen, "#incidents-detail-text")
        await pilot.press("v", "o")  # closed ones: none yet
        await settle(pilot)
        assert "closed incidents" in _text(screen, "#incidents-summary")
        assert _cells(screen, "#incidents-table") == []
        await pilot.press("o", "o")  # back to open
        await settle(pilot)
        assert len(_cells(screen, "#incidents-table")) == 1
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, IncidentLogScreen)
        assert any("Read-only" in note for note in _notes(app))


async def test_capital_x_writes_the_csv_and_audits_it(clinic: Clinic, tmp_path: Path) -> None:
    app = _app(clinic, export_dir=str(tmp_path / "exports"))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await _open_log(pilot)
        await pilot.press("X")
        await settle(pilot)
    files = list((tmp_path / "exports").glob("incidents-*.csv"))
    assert len(files) == 1
    rows = list(csv.DictReader(io.StringIO(files[0].read_text(encoding="utf-8"))))
    assert [row["incident"] for row in rows] == [str(clinic.incident_id)]
    assert rows[0]["report_clock"] == "30d left"
    assert any(str(files[0]) in note for note in _notes(app))
    with clinic.database.sessions() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export.incidents_csv")
        ).one()
        assert event.actor == "rn.kim" and event.after is not None and event.after["rows"] == 1


async def test_enter_opens_the_patient_and_i_does_not_stack(clinic: Clinic) -> None:
    app = _app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await _open_log(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert len(app.screen_stack) == 3
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "PatientScreen"


async def test_n_on_the_patient_screen_opens_an_incident_by_hand(clinic: Clinic) -> None:
    with clinic.database.sessions() as session:
        patient_id = session.get_one(Incident, clinic.incident_id).patient_id
    app = _app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_patient(patient_id)
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, NewIncidentModal)
        await pilot.click("#save")
        await pilot.pause()
        assert "Choose a category" in _text(form, "#error")
        form.query_one("#category", Select).value = IncidentCategory.INFECTION
        form.query_one("#seriousness", Select).value = Seriousness.LIFE_THREATENING
        form.query_one("#onset", Input).value = "yesterday"
        form.query_one("#description", Input).value = "Home physician: sepsis, admitted to ICU"
        # Enter in a field saves, like the button (a second click within the
        # button's press animation would be ignored).
        form.query_one("#description", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "Onset: expected a date like" in _text(form, "#error")
        form.query_one("#onset", Input).value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert any("opened" in note for note in _notes(app))
        await pilot.press("escape")
        await settle(pilot)
        screen = await _open_log(pilot)
        # The life-threatening one (7 days) sorts before the periodic one (30).
        assert _column(screen, "#incidents-table", "report") == ["7d left", "30d left"]
        assert "Opened by hand: Home physician: sepsis" in _text(screen, "#incidents-detail-text")


async def test_an_unassessed_incident_never_reads_non_serious(clinic: Clinic) -> None:
    app = _app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = await _open_log(pilot)
        assert _column(screen, "#incidents-table", "serious") == ["not yet assessed"]
        detail = _text(screen, "#incidents-detail-text")
        assert "not yet assessed" in detail
        assert "non-serious" not in detail and "non serious" not in detail
        assert "Suspect product  not chosen yet" in detail


async def test_the_classify_form_preselects_no_product_and_offers_the_add_ons(
    clinic: Clinic,
) -> None:
    with transaction(clinic.database.sessions) as session:
        incident = session.get_one(Incident, clinic.incident_id)
        episode = session.get_one(TreatmentEpisode, incident.episode_id)
        episode.addons = ["b_complex"]
        session.add(ProductGiven(episode_id=episode.id, name="ExoRene IV 5 mL"))
    app = _app(clinic, actor=clinic.doctor)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = await _open_log(pilot)
        await pilot.press("s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ClassifyModal)
        product = form.query_one("#product", Select)
        assert product.value is Select.NULL
        assert form.query_one("#seriousness", Select).value is Seriousness.NOT_ASSESSED
        product.value = "b_complex"
        await pilot.click("#save")
        await settle(pilot)
        assert isinstance(app.screen, IncidentLogScreen)
        assert "Suspect product  B-complex (no MFDS reference" in _text(
            screen, "#incidents-detail-text"
        )


async def test_d_corrects_day_0_with_a_reason_and_the_clock_follows(clinic: Clinic) -> None:
    today = clinic_today(clinic.clock.now())
    app = _app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = await _open_log(pilot)
        await pilot.press("d")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, DateCorrectionModal)
        form.query_one("#learned", Input).value = (today - timedelta(days=3)).isoformat()
        form.query_one("#reason", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form
        assert "Say why" in _text(form, "#error")
        form.query_one("#onset", Input).value = (today - timedelta(days=4)).isoformat()
        await type_text(pilot, "patient wrote 3 days ago")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, IncidentLogScreen)
        assert _column(screen, "#incidents-table", "report") == ["27d left"]
        detail = _text(screen, "#incidents-detail-text")
        assert "Dates corrected" in detail and "patient wrote 3 days ago" in detail
