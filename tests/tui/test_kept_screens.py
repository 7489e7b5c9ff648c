"""The alerts, incident-log and on-call screens are built once and kept (issue 16:
opening them cost a quarter of a second of CPU each time).

Kept means: the second `!` shows the same screen at once with its last page and its
cursor, reads nothing while hidden, looks for news as it comes back (a triage saved
meanwhile shows), and goes when the session ends. Open further down the stack
(alerts -> a patient -> alerts), a fresh screen goes on top.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from textual.screen import Screen

from core.clock import FixedClock
from core.domain import Role
from db.engine import make_session_factory, transaction
from db.followup import Actor
from tests.factories import add_staff, add_triaged_patient
from tests.tui.pilot import settle, workstation
from tui.app import AftercareApp
from tui.screens.alerts import AlertsScreen
from tui.screens.common import LiveTableScreen
from tui.screens.incidents import IncidentLogScreen
from tui.screens.oncall import OnCallScreen
from tui.screens.patient import PatientScreen
from tui.screens.queue import QueueScreen

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}

# What is kept is the screen, not anything stored: one backend is enough here (the
# reads these screens make are tested on both in tests/db and their own screen tests).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True, ids=["db=sqlite"])


def _emergency(engine: Engine, clock: FixedClock, code: str, nurse: Actor, doctor_id: int) -> None:
    with transaction(make_session_factory(engine)) as session:
        add_triaged_patient(
            session, code, now=clock.now(), actor=nurse, findings=EMERGENCY, treating_id=doctor_id
        )


@pytest.fixture
def app(engine: Engine, clock: FixedClock) -> AftercareApp:
    with transaction(make_session_factory(engine)) as session:
        staff = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, clock.now())
        nurse = Actor(staff.id, staff.username, staff.display_name)
        doctor_id = doctor.id
    _emergency(engine, clock, "P-1", nurse, doctor_id)
    app = workstation(engine, clock, nurse, run_dispatcher=False, refresh_seconds=60)
    app.test_context = (engine, clock, nurse, doctor_id)  # type: ignore[attr-defined]
    return app


def _reads(screen: AlertsScreen) -> list[int]:
    """Counts every page the screen reads from now on (its `read_page` wrapped)."""
    counted: list[int] = []
    read_page = screen.read_page

    def counting(*args: object) -> object:
        counted.append(1)
        return read_page(*args)  # type: ignore[arg-type]

    screen.read_page = counting  # type: ignore[method-assign,assignment]
    return counted


@pytest.mark.parametrize(
    ("key", "kind"),
    [("!", AlertsScreen), ("i", IncidentLogScreen), ("O", OnCallScreen)],
    ids=["alerts", "incident log", "on-call"],
)
async def test_a_screen_opened_again_is_the_same_one_with_its_page_at_once(
    app: AftercareApp, key: str, kind: type[Screen[None]]
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        first = app.screen
        assert isinstance(first, kind) and isinstance(first, LiveTableScreen)
        page = first.page
        assert page is not None
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        # Hidden: its poll timer is stopped, so nothing is read while nobody looks.
        assert first._timer is None

        await pilot.press(key)
        # Before any read finishes: the same screen, its last page already drawn.
        assert id(app.screen) == id(first)  # the very same object (mypy: not an `is`)
        assert first.page is page
        summary = str(first.query_one(f"#{first.NAME}-{first.SUMMARY}").render())
        assert "Loading" not in summary
        await settle(pilot)


async def test_news_made_while_hidden_shows_as_the_alerts_come_back(app: AftercareApp) -> None:
    engine, clock, nurse, doctor_id = app.test_context  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("!")
        await settle(pilot)
        alerts = app.screen
        assert isinstance(alerts, AlertsScreen) and alerts.page is not None
        assert len(alerts.page.alerts) == 1
        await pilot.press("escape")
        await settle(pilot)
        reads = _reads(alerts)
        _emergency(engine, clock, "P-2", nurse, doctor_id)  # another coordinator's triage
        await pilot.pause(0.3)
        assert reads == []  # hidden: not read
        await pilot.press("!")
        await settle(pilot)
        assert id(app.screen) == id(alerts)
        assert len(reads) == 1
        assert alerts.page is not None and len(alerts.page.alerts) == 2


async def test_the_log_over_a_patient_over_the_log_is_a_second_screen(
    app: AftercareApp,
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        kept = app.screen
        assert isinstance(kept, IncidentLogScreen) and kept.page is not None
        assert len(kept.page.lines) == 1  # the emergency triage opened an incident
        await pilot.press("enter")  # the incident's patient
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, IncidentLogScreen) and app.screen is not kept
        assert app.screen.page is not None and len(app.screen.page.lines) == 1
        # Back down the stack: the fresh one goes, the kept one is still there.
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is kept


async def test_kept_screens_go_when_the_session_ends(app: AftercareApp, tmp_path: Path) -> None:
    from tui.live import SessionEnded

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("!")
        await settle(pilot)
        kept = app.screen
        await pilot.press("escape")
        await settle(pilot)
        app.post_message(SessionEnded("Your login has been disabled by an admin."))
        await settle(pilot)
        assert not app.is_screen_installed("kept-AlertsScreen")
        assert not kept.is_attached
        await pilot.press("!")
        await settle(pilot)
        assert not isinstance(app.screen, AlertsScreen)
