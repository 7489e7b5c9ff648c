"""`W` on the patient screen, driven by Pilot on SQLite and PostgreSQL: where is the
patient now. A move to Thailand shows Bangkok time on the queue and 1669 on the
patient screen; a bad value is shown beside its field and nothing is saved."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sqlalchemy import Engine, func, select
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from core.clock import FixedClock
from core.domain import Role
from core.schedules import procedure_local_date
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Patient
from tests.factories import add_patient, add_staff
from tests.tui.pilot import open_patient, settle, workstation
from tests.tui.test_cli import assert_one_clear_line, run_cli
from tui.app import AftercareApp
from tui.help import help_rows
from tui.record_forms import WhereaboutsModal
from tui.screens.patient import PatientScreen
from tui.screens.queue import QueueScreen

BANGKOK = ZoneInfo("Asia/Bangkok")


@pytest.fixture
def setup(engine: Engine, clock: FixedClock) -> tuple[AftercareApp, int]:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        patient = add_patient(session, "P-7", procedure_at=now, created_at=now)
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        patient_id = patient.id
    app = workstation(engine, clock, actor)
    return app, patient_id


async def _open_form(pilot: Pilot[None], patient_id: int) -> WhereaboutsModal:
    await open_patient(pilot, patient_id)
    app = pilot.app
    await pilot.press("W")
    await pilot.pause()
    assert isinstance(app.screen, WhereaboutsModal)
    return app.screen


def _plain(widget: Static) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(widget.content)
    return captured.get()


def _saved_state(engine: Engine) -> tuple[object, ...]:
    with make_session_factory(engine)() as session:
        patient = session.scalars(select(Patient)).one()
        audits = session.scalar(select(func.count()).select_from(AuditEvent))
        return (
            patient.current_country,
            patient.timezone,
            patient.phone,
            patient.email,
            patient.next_opens_at,
            audits,
        )


async def test_a_patient_moved_to_thailand_shows_bangkok_time_and_1669(
    engine: Engine, setup: tuple[AftercareApp, int], clock: FixedClock
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        assert form.query_one("#country", Input).value == "JP"
        assert form.query_one("#timezone", Input).value == "Asia/Tokyo"
        # Typing the country fills in its only zone.
        form.query_one("#country", Input).focus()
        form.query_one("#country", Input).value = ""
        await pilot.press("T", "H")
        await pilot.pause()
        assert form.query_one("#timezone", Input).value == "Asia/Bangkok"
        assert "Thailand has one time zone" in _plain(form.query_one("#timezone-hint", Static))
        form.query_one("#phone", Input).value = "+66 81 234 5678"
        await pilot.press("enter")
        await settle(pilot)

        screen = app.screen
        assert isinstance(screen, PatientScreen)
        assert "1669" in _plain(screen.query_one("#patient-emergency", Static))
        assert "Thailand" in _plain(screen.query_one("#patient-emergency", Static))
        assert "13:00" in _plain(screen.query_one("#patient-times", Static))  # 06:00 UTC

        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        table = app.screen.query_one("#queue-table", DataTable)
        local = table.get_cell_at(Coordinate(0, table.get_column_index("local"))).plain
        assert local == f"{clock.now().astimezone(BANGKOK):%a %H:%M}" == "Sun 13:00"

    with make_session_factory(engine)() as session:
        patient = session.scalars(select(Patient)).one()
        assert (patient.current_country, patient.timezone) == ("TH", "Asia/Bangkok")
        assert patient.phone == "+66812345678"
        assert patient.next_opens_at == datetime(2026, 11, 23, tzinfo=BANGKOK)


@pytest.mark.parametrize(
    ("field", "typed", "words"),
    [
        ("country", "XX", "Country: 'XX' is not an ISO 3166-1"),
        ("timezone", "Asia/Tokyo", "Time zone: Asia/Tokyo is not a time zone of Thailand"),
        ("phone", "+66 12", "Phone: '+66 12' is not a valid phone number"),
        ("email", "yuki.example.jp", "Email: 'yuki.example.jp' is not an e-mail address"),
    ],
)
async def test_a_bad_value_is_shown_beside_its_field_and_nothing_is_saved(
    engine: Engine, setup: tuple[AftercareApp, int], field: str, typed: str, words: str
) -> None:
    app, patient_id = setup
    before = _saved_state(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        form.query_one("#country", Input).value = "TH"
        await pilot.pause()
        form.query_one(f"#{field}", Input).value = typed
        await pilot.pause()
        await pilot.click("#save")
        await settle(pilot)
        assert app.screen is form  # still open, with what was typed
        beside = _plain(form.query_one(f"#{field}-error", Static))
        assert words in beside
        assert form.query_one(f"#{field}", Input).value == typed
        for other in ("country", "timezone", "phone", "email"):
            if other != field:
                assert _plain(form.query_one(f"#{other}-error", Static)).strip() == ""
        await pilot.press("escape")
        await settle(pilot)
    assert _saved_state(engine) == before


async def test_w_is_in_the_help_and_the_palette(setup: tuple[AftercareApp, int]) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_patient(patient_id)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PatientScreen)
        # help_rows reads any screen; PatientScreen's own type parameter is None.
        rows = {row.binding_id: row for row in help_rows(cast("Screen[object]", screen))}
        assert rows["patient.where-now"].keys == "W"
        assert "Where is the patient now" in rows["patient.where-now"].does
        offered = [command.title for command in app.get_system_commands(screen)]
        assert "Where now" in offered


# --- the same move on the command line -------------------------------------------


@pytest.fixture
def cli(
    db_url: str,
    cli_env: dict[str, str],
    engine: Engine,
    os_login: str,
) -> dict[str, str]:
    """The CLI on the test database, run by an OS user on staff as a coordinator, and
    one patient in Tokyo treated just now (P-8): the command reads the system clock."""
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, os_login, Role.COORDINATOR, now)
        add_patient(session, "P-8", procedure_at=now, created_at=now)
    cli_env.update(AFTERCARE_DATABASE_URL=db_url, LOGNAME=os_login, USER=os_login)
    return cli_env


def test_patient_move_on_the_command_line(engine: Engine, cli: dict[str, str]) -> None:
    moved = run_cli("patient", "move", "P-8", "--country", "TH", env=cli)
    assert moved.returncode == 0, moved.stderr
    assert "Saved country, time zone; 4 windows not yet open moved" in moved.stdout
    with make_session_factory(engine)() as session:
        patient = session.scalars(select(Patient)).one()
        assert (patient.current_country, patient.timezone) == ("TH", "Asia/Bangkok")
        # Day 1 opens at Bangkok midnight after the procedure day (in clinic time).
        day_1 = procedure_local_date(patient.created_at) + timedelta(days=1)
        assert patient.next_opens_at == datetime.combine(day_1, time(), BANGKOK)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--country", "XX"), "Country: 'XX' is not an ISO 3166-1"),
        (("--country", "TH", "--zone", "Asia/Tokyo"), "Time zone: Asia/Tokyo is not"),
        (("--country", "US"), "Time zone: United States has several time zones"),
    ],
)
def test_a_bad_move_on_the_command_line_names_the_field_and_saves_nothing(
    engine: Engine, cli: dict[str, str], args: tuple[str, ...], words: str
) -> None:
    before = _saved_state(engine)
    refused = run_cli("patient", "move", "P-8", *args, env=cli)
    assert refused.returncode == 1
    assert_one_clear_line(refused, "not saved: ", words)
    assert _saved_state(engine) == before


def test_patient_contacts_on_the_command_line(engine: Engine, cli: dict[str, str]) -> None:
    before = _saved_state(engine)
    refused = run_cli("patient", "contacts", "P-8", "--email", "yuki.example.jp", env=cli)
    assert refused.returncode == 1
    assert_one_clear_line(refused, "Email: 'yuki.example.jp' is not an e-mail address")
    assert _saved_state(engine) == before
    saved = run_cli("patient", "contacts", "P-8", "--phone", "+66 81 234 5678", env=cli)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip() == "Saved phone."
    with make_session_factory(engine)() as session:
        patient = session.scalars(select(Patient)).one()
        assert (patient.phone, patient.email, patient.channel_handle) == (
            "+66812345678",
            None,
            "line:p-8",
        )
