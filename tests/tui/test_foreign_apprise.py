"""A coordinator's app started with an Apprise file of their own: it never dispatches.

The issue this answers: a coordinator ran `aftercare run` with their own
AFTERCARE_APPRISE_CONFIG, took the dispatcher lease while the service restarted, and
three emergency pages went to their endpoint. Here the app's file is group-writable
(not the clinic's, whoever runs the test), emergencies are due and nobody holds the
lease: the app says once, in words, that it sends nothing; the lease stays free; the
receiver gets nothing; the queue's alert-path banner still reports the stall.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from textual.pilot import Pilot

from core.clock import FixedClock
from core.config import Settings
from core.domain import NotificationStatus, Role
from db.database import Database
from db.engine import make_session_factory, transaction
from db.escalations import dispatcher_active
from db.followup import Actor
from db.models import OutboxNotification
from tests.factories import add_staff, add_triaged_patient
from tests.notifiers.receivers import HttpReceiver
from tui.app import AftercareApp

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


async def _until(pilot: Pilot[None], done: Callable[[], bool], seconds: float = 8.0) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        await pilot.pause(0.05)


async def test_a_coordinators_own_apprise_file_never_dispatches(
    engine: Engine, clock: FixedClock, tmp_path: Path, receiver: HttpReceiver
) -> None:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        staff = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.notify_tag = "dr-lee"
        nurse = Actor(staff.id, staff.username, staff.display_name)
        add_triaged_patient(
            session, "P-1", now=now, actor=nurse, findings=EMERGENCY, treating_id=doctor.id
        )
    own = tmp_path / "my-apprise.yml"
    own.write_text(f"version: 1\nurls:\n  - {receiver.url('/mine')}:\n      tag: oncall, dr-lee\n")
    own.chmod(0o660)
    # Past the alert-path grace: the stall is what the queue must still report.
    clock.advance(timedelta(minutes=10))
    database = Database(engine, make_session_factory(engine))
    app = AftercareApp(
        database,
        Settings(database_url="sqlite:///unused.db", apprise_config=str(own)),
        clock,
        actor=nurse,
        login="rn.kim",
        run_dispatcher=True,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: app.dispatcher_state == "not the clinic's")
        assert app.dispatcher_state == "not the clinic's"
        assert app.dispatcher is None
        await asyncio.sleep(0.5)  # a dispatcher would have sent by now
        await pilot.pause()
        notes = [str(n.message) for n in app._notifications if "does not send" in str(n.message)]
        assert len(notes) == 1 and "\n" not in notes[0]
        assert str(own) in notes[0] and "the group can change it" in notes[0]
        # The queue's alert-path health still reads the outbox and says nobody sends.
        state = app.clinic.alert_path()
        assert state.owner is None and state.waiting == 2
        assert "NOT being sent" in (state.banner() or "")
    assert receiver.posts == []
    with database.sessions() as session:
        assert dispatcher_active(session, clock.now()) is None
        statuses = set(session.scalars(select(OutboxNotification.status)))
    assert statuses == {NotificationStatus.PENDING}
