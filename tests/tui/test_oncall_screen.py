"""The on-call admin screen, driven by Pilot on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine, select
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from core.clock import FixedClock
from core.commands import NewShift
from core.config import Settings
from core.domain import Role
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import OnCallShift
from db.oncall import set_shift
from tests.factories import add_staff
from tests.tui.pilot import settle
from tui.app import AftercareApp
from tui.modals import ConfirmModal
from tui.screens.oncall import NewShiftModal, OnCallScreen
from tui.screens.queue import QueueScreen

H = timedelta(hours=1)


@dataclass
class Clinic:
    database: Database
    clock: FixedClock
    admin: Actor
    nurse: Actor


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        admin = add_staff(session, "it.admin", Role.ADMIN, now)
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        add_staff(session, "dr.lee", Role.PHYSICIAN, now).notify_tag = "dr-lee"
        add_staff(session, "dr.kim", Role.PHYSICIAN, now).notify_tag = "dr-kim"
        admin_actor = Actor(admin.id, admin.username, admin.display_name, Role.ADMIN)
        set_shift(session, now, admin_actor, NewShift("dr.kim", now - H, now + 5 * H))
        nurse_actor = Actor(nurse.id, nurse.username, nurse.display_name)
    return Clinic(Database(engine, make_session_factory(engine)), clock, admin_actor, nurse_actor)


def _app(clinic: Clinic, actor: Actor | None) -> AftercareApp:
    return AftercareApp(
        clinic.database,
        Settings(database_url="sqlite:///unused.db"),
        clinic.clock,
        actor=actor,
        login=actor.username if actor else "guest",
        run_dispatcher=False,
    )


async def _submit(pilot: Pilot[None], modal: NewShiftModal) -> None:
    """Enter in the note field saves, as it does for a person typing."""
    modal.query_one("#note", Input).focus()
    await pilot.press("enter")
    await settle(pilot)


async def _open(pilot: Pilot[None]) -> OnCallScreen:
    await settle(pilot)
    # tui/app.py wires a key to it; here the screen is pushed as that key would.
    screen = OnCallScreen()
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


def _text(widget: Static) -> str:
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(widget.content)
    return captured.get()


def _rows(screen: OnCallScreen) -> list[list[str]]:
    table: DataTable[Text] = screen.query_one("#oncall-table", DataTable)
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


def _on_top(app: AftercareApp) -> Screen[Any]:
    """The screen on top now. A call, so a type checker does not carry over what an
    earlier assert said about app.screen: saving a form dismisses it."""
    return app.screen


def _notes(app: AftercareApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_open_create_a_shift_in_the_modal_see_it_and_cancel_it(clinic: Clinic) -> None:
    app = _app(clinic, clinic.admin)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await _open(pilot)
        top = _text(screen.query_one("#oncall-now", Static))
        assert "On call now: Dr.Kim (dr.kim) until Sun 22 Nov 20:00 KST" in top
        assert "dr-kim" in top
        table: DataTable[Text] = screen.query_one("#oncall-table", DataTable)
        assert table.ordered_columns[1].label.plain == "When (KST)"
        rows = _rows(screen)
        assert rows[0][0] == "#1" and rows[0][3] == "dr-kim"
        assert rows[1][2] == "nobody on call"  # the rest of the 14 days is a gap

        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NewShiftModal)
        modal = app.screen
        # A time that is not one is named in the form, which stays open.
        modal.query_one("#from", Input).value = "Monday morning"
        modal.query_one("#login", Input).value = "dr.lee"
        await _submit(pilot, modal)
        assert app.screen is modal
        assert "'Monday morning' is not a time" in _text(modal.query_one("#error", Static))
        modal.query_one("#from", Input).value = "2026-11-23 09:00"
        modal.query_one("#to", Input).value = "2026-11-24 09:00"
        modal.query_one("#note", Input).value = "Monday cover"
        await _submit(pilot, modal)
        assert _on_top(app) is screen
        assert any(n.startswith("Shift #2: dr.lee on call Mon 23 Nov 09:00") for n in _notes(app))
        rows = _rows(screen)
        assert [r[0] for r in rows] == ["#1", "—", "#2", "—"]
        assert rows[2][1:] == [
            "Mon 23 Nov 09:00 – Tue 24 Nov 09:00",
            "Dr.Lee (dr.lee)",
            "dr-lee",
            "Monday cover",
        ]

        # Cancel the highlighted shift (#2), after saying yes.
        table.move_cursor(row=2)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert [r[0] for r in _rows(screen)] == ["#1", "—"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, QueueScreen)
    with clinic.database.sessions() as session:
        shifts = session.scalars(select(OnCallShift).order_by(OnCallShift.id)).all()
        assert [(s.id, s.created_by, s.cancelled_by) for s in shifts] == [
            (1, "it.admin", None),
            (2, "it.admin", "it.admin"),
        ]


async def test_an_overlap_is_refused_with_the_shift_named(clinic: Clinic) -> None:
    app = _app(clinic, clinic.admin)
    async with app.run_test(size=(140, 40)) as pilot:
        await _open(pilot)
        await pilot.press("n")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, NewShiftModal)
        modal.query_one("#login", Input).value = "dr.lee"
        modal.query_one("#from", Input).value = "2026-11-22 18:00"
        modal.query_one("#to", Input).value = "2026-11-23 09:00"
        await _submit(pilot, modal)
        assert any("dr.kim is already on call" in n and "(shift #1)" in n for n in _notes(app))
    with clinic.database.sessions() as session:
        assert len(session.scalars(select(OnCallShift)).all()) == 1


async def test_a_coordinator_sees_the_schedule_but_cannot_change_it(clinic: Clinic) -> None:
    app = _app(clinic, clinic.nurse)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await _open(pilot)
        assert _rows(screen)[0][0] == "#1"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert any("may not change the on-call schedule" in n for n in _notes(app))
        assert _rows(screen)[0][0] == "#1"


async def test_read_only_cannot_open_the_form(clinic: Clinic) -> None:
    app = _app(clinic, None)
    async with app.run_test(size=(140, 40)) as pilot:
        await _open(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, OnCallScreen)
        assert any("cannot change the on-call schedule" in n for n in _notes(app))
