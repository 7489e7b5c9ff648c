"""The physician alerts screen, the queue's failed-delivery banner and the in-app dispatcher,
driven by Pilot on real databases (and, for delivery, a real HTTP receiver on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine, select, update
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from core.clock import FixedClock
from core.config import Settings
from core.domain import EscalationStatus, NotificationStatus, Role
from db.database import Database
from db.engine import make_session_factory, transaction
from db.escalations import OUTBOX_LEASE, dispatcher_active
from db.followup import Actor
from db.models import DispatcherLease, Escalation, OutboxNotification
from tests.factories import add_staff, add_triaged_patient
from tests.notifiers.receivers import HttpReceiver
from tests.tui.pilot import settle
from tui.app import AftercareApp
from tui.modals import ConfirmModal
from tui.screens.alerts import AlertsScreen
from tui.screens.patient import PatientScreen
from tui.screens.queue import QueueScreen

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
MARKUP_NAME = "[bold red]x[/]"


@dataclass
class Clinic:
    """One coordinator, one physician, one patient with an open emergency escalation."""

    database: Database
    clock: FixedClock
    nurse: Actor
    escalation_id: int
    doctor: Actor
    """Physicians acknowledge and resolve (core.permissions)."""


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        staff = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.notify_tag = "dr-lee"
        nurse = Actor(staff.id, staff.username, staff.display_name)
        physician = Actor(doctor.id, doctor.username, doctor.display_name, Role.PHYSICIAN)
        saved = add_triaged_patient(
            session,
            "P-1",
            now=now,
            actor=nurse,
            findings=EMERGENCY,
            treating_id=doctor.id,
            family_name="Wu",
            given_name=MARKUP_NAME,
        )
        assert saved.escalation_id is not None
    return Clinic(
        Database(engine, make_session_factory(engine)),
        clock,
        nurse,
        saved.escalation_id,
        physician,
    )


def _app(
    clinic: Clinic,
    *,
    read_only: bool = False,
    run_dispatcher: bool = False,
    actor: Actor | None = None,
    **settings: Any,
) -> AftercareApp:
    who = actor or clinic.nurse
    return AftercareApp(
        clinic.database,
        Settings(database_url="sqlite:///unused.db", **settings),
        clinic.clock,
        actor=None if read_only else who,
        login="guest" if read_only else who.username,
        run_dispatcher=run_dispatcher,
    )


def _escalation(clinic: Clinic) -> Escalation:
    with clinic.database.sessions() as session:
        return session.get_one(Escalation, clinic.escalation_id)


def _outbox(clinic: Clinic) -> list[OutboxNotification]:
    with clinic.database.sessions() as session:
        return list(session.scalars(select(OutboxNotification).order_by(OutboxNotification.id)))


def _fail_one(clinic: Clinic, tag: str = "dr-lee") -> None:
    with transaction(clinic.database.sessions) as session:
        session.execute(
            update(OutboxNotification)
            .where(OutboxNotification.target_tag == tag)
            .values(status=NotificationStatus.FAILED, attempts=6, last_error="connection refused")
        )


def _row(screen: AlertsScreen) -> list[Text]:
    table: DataTable[Text] = screen.query_one("#alerts-table", DataTable)
    return list(table.get_row_at(0))


def _text(screen: AlertsScreen | QueueScreen, selector: str) -> str:
    """What a Static shows, as plain text (markup, if it were parsed, would vanish)."""
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(screen.query_one(selector, Static).content)
    return captured.get().rstrip("\n")


def _notes(app: AftercareApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _open_alerts(pilot: Pilot[None]) -> AlertsScreen:
    await pilot.press("exclamation_mark")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, AlertsScreen)
    return screen


async def test_bang_opens_alerts_and_k_acknowledges(clinic: Clinic) -> None:
    app = _app(clinic, actor=clinic.doctor)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await _open_alerts(pilot)
        cells = [c.plain for c in _row(screen)]
        assert cells[0] == f"E-{clinic.escalation_id} EMERGENCY"
        # The patient's name is shown as typed, never parsed as markup.
        assert cells[1] == f"P-1 Wu {MARKUP_NAME}"
        assert cells[2] == "OPEN"
        assert cells[3].startswith("1/3 c1 next in 5m")
        assert "oncall … queued" in cells[4] and "dr-lee … queued" in cells[4]
        detail = _text(screen, "#alerts-detail-text")
        assert "oncall" in detail and "dr-lee" in detail and "next step" in detail
        # `!` again does not stack a second alerts screen.
        await pilot.press("exclamation_mark")
        await settle(pilot)
        assert len(app.screen_stack) == 3

        await pilot.press("k")
        await settle(pilot)
        escalation = _escalation(clinic)
        assert escalation.status is EscalationStatus.ACKNOWLEDGED
        assert escalation.acknowledged_by_id == clinic.doctor.staff_id
        assert {r.status for r in _outbox(clinic)} == {NotificationStatus.CANCELLED}
        cells = [c.plain for c in _row(screen)]
        assert cells[2] == f"ack {clinic.doctor.display_name}"
        assert "cancelled" in cells[4]
        assert "acknowledged by" in _text(screen, "#alerts-detail-text")
        assert any("acknowledged" in n for n in _notes(app))

        # A second `k` says so instead of writing again.
        await pilot.press("k")
        await settle(pilot)
        assert any("already acknowledged" in n for n in _notes(app))

        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)


async def test_shift_r_resolves_after_confirmation(clinic: Clinic) -> None:
    app = _app(clinic, actor=clinic.doctor)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await _open_alerts(pilot)
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # cancelled: nothing written
        await settle(pilot)
        assert _escalation(clinic).status is EscalationStatus.OPEN
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert _escalation(clinic).status is EscalationStatus.RESOLVED
        table: DataTable[Text] = screen.query_one("#alerts-table", DataTable)
        assert table.row_count == 0
        assert "No open physician alerts" in _text(screen, "#alerts-detail-text")


async def test_failed_delivery_banner_until_acknowledged(clinic: Clinic) -> None:
    _fail_one(clinic)
    app = _app(clinic, actor=clinic.doctor)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        banner = queue.query_one("#queue-banner", Static)
        assert banner.display
        assert _text(queue, "#queue-banner") == (
            "⚠ 1 physician alert delivery failed — press ! to review"
        )

        screen = await _open_alerts(pilot)
        deliveries = _row(screen)[4]
        assert "dr-lee ✗ FAILED" in deliveries.plain
        assert any("red" in str(span.style) for span in deliveries.spans)
        detail = _text(screen, "#alerts-detail-text")
        assert "connection refused" in detail
        assert "1 failed delivery" in _text(screen, "#alerts-summary")

        await pilot.press("k")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is queue
        assert not banner.display


async def test_banner_shows_on_a_colleagues_queue_live(clinic: Clinic) -> None:
    app = _app(clinic, refresh_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        banner = app.screen.query_one("#queue-banner", Static)
        assert not banner.display
        # Another process (the dispatcher) records a give-up; the open queue picks it up.
        _fail_one(clinic, "oncall")
        with transaction(clinic.database.sessions) as session:
            from db.followup import mark_changed

            mark_changed(session, clinic.clock.now())
        for _ in range(50):
            await pilot.pause(0.05)
            if banner.display:
                break
        assert banner.display


async def test_a_coordinator_is_refused_with_the_reason(clinic: Clinic) -> None:
    app = _app(clinic)  # the nurse: acknowledging would stop the physicians being paged
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _open_alerts(pilot)
        await pilot.press("k")
        await settle(pilot)
        # Read each refusal right after its key: a toast expires after a few seconds,
        # and a loaded machine can take that long between two steps.
        assert "A coordinator may not acknowledge a physician alert; that needs a physician." in (
            _notes(app)
        )
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert "A coordinator may not resolve a physician alert; that needs a physician." in (
            _notes(app)
        )
        escalation = _escalation(clinic)
        assert escalation.status is EscalationStatus.OPEN
        assert escalation.acknowledged_by_id is None
        assert {r.status for r in _outbox(clinic)} == {NotificationStatus.PENDING}


async def test_read_only_login_cannot_acknowledge_or_resolve(clinic: Clinic) -> None:
    app = _app(clinic, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _open_alerts(pilot)
        await pilot.press("k")
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        assert _escalation(clinic).status is EscalationStatus.OPEN
        assert sum("Read-only" in n for n in _notes(app)) == 2


async def test_bang_works_from_the_patient_screen(clinic: Clinic) -> None:
    app = _app(clinic)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the alert's patient, top of the queue
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        await _open_alerts(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)


@pytest.mark.parametrize("who", ["physician", "coordinator"])
async def test_palette_offers_alerts(clinic: Clinic, who: str) -> None:
    app = _app(clinic, actor=clinic.doctor if who == "physician" else clinic.nurse)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Physician alerts" in titles
        screen = await _open_alerts(pilot)
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Physician alerts" not in titles
        # Acknowledging is a physician's: a coordinator is not offered it at all.
        assert ("Acknowledge" in titles) is (who == "physician")


# -- the in-app dispatcher ---------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


@pytest.fixture
def apprise_file(tmp_path: Path, receiver: HttpReceiver) -> Path:
    path = tmp_path / "apprise.yml"
    path.write_text(
        "version: 1\nurls:\n"
        f"  - {receiver.url('/alerts')}:\n"
        "      tag: oncall, senior, physicians\n"
        # dr-lee is a person of their own: one address for every tag would be one person.
        f"  - {receiver.url('/dr-lee')}:\n"
        "      tag: dr-lee\n"
    )
    path.chmod(0o600)
    return path


async def _until(pilot: Pilot[None], done: Callable[[], bool], seconds: float = 8.0) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        await pilot.pause(0.05)


async def test_in_app_dispatcher_delivers_and_releases_the_lease(
    clinic: Clinic, apprise_file: Path, receiver: HttpReceiver
) -> None:
    app = _app(clinic, run_dispatcher=True, apprise_config=str(apprise_file))
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: len(receiver.posts) >= 2)
        assert app.dispatcher_state == "running"
        titles = {p.body["title"] for p in receiver.posts}
        assert titles == {f"[E-{clinic.escalation_id} step 1] EMERGENCY"}
        await _until(
            pilot, lambda: all(r.status is NotificationStatus.SENT for r in _outbox(clinic))
        )
        assert all(r.status is NotificationStatus.SENT for r in _outbox(clinic))
        with clinic.database.sessions() as session:
            assert dispatcher_active(session, clinic.clock.now()) == app.dispatcher_owner
        # The alerts screen shows who sent what, over which (masked) service.
        screen = await _open_alerts(pilot)
        assert "✓ sent" in _row(screen)[4].plain
        assert "json://127.0.0.1" in _text(screen, "#alerts-detail-text")
        assert "alerts sent by this app" in _text(screen, "#alerts-status")
    # Exit stopped the thread and gave the lease back at once.
    assert app._dispatch_thread is None
    with clinic.database.sessions() as session:
        assert dispatcher_active(session, clinic.clock.now()) is None
    assert len(receiver.posts) == 2


async def test_in_app_dispatcher_stands_by_while_another_holds_the_lease(
    clinic: Clinic, apprise_file: Path, receiver: HttpReceiver
) -> None:
    now = clinic.clock.now()
    with transaction(clinic.database.sessions) as session:
        session.add(
            DispatcherLease(
                name=OUTBOX_LEASE,
                owner="other",
                expires_at=now + timedelta(minutes=1),
                renewed_at=now,
            )
        )
    app = _app(clinic, run_dispatcher=True, apprise_config=str(apprise_file))
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: app.dispatcher_state == "standby")
        assert app.dispatcher_state == "standby"
        await asyncio.sleep(0.5)
        screen = await _open_alerts(pilot)
        assert "alerts sent by other" in _text(screen, "#alerts-status")
    assert receiver.posts == []
    assert {r.status for r in _outbox(clinic)} == {NotificationStatus.PENDING}
    with clinic.database.sessions() as session:
        assert dispatcher_active(session, now) == "other"


async def test_a_broken_apprise_file_is_reported_not_fatal(clinic: Clinic, tmp_path: Path) -> None:
    broken = tmp_path / "apprise.yml"
    broken.write_text("version: 1\nurls: [\n")
    broken.chmod(0o600)
    app = _app(clinic, run_dispatcher=True, apprise_config=str(broken))
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: app.dispatcher_state == "broken")
        await settle(pilot)
        notes = [n for n in _notes(app) if "NOT sent" in n]
        assert len(notes) == 1 and "\n" not in notes[0] and str(broken) in notes[0]
        assert isinstance(app.screen, QueueScreen)  # still working
        screen = await _open_alerts(pilot)
        assert "no dispatcher is sending alerts" in _text(screen, "#alerts-status")


async def test_no_dispatcher_without_apprise_config_or_when_turned_off(
    clinic: Clinic, apprise_file: Path
) -> None:
    for app in (
        _app(clinic, run_dispatcher=True),
        _app(clinic, run_dispatcher=False, apprise_config=str(apprise_file)),
    ):
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert app.dispatcher_state == "off" and app._dispatch_thread is None
