"""Snapshots of the queue screen at 120x40 and 80x24 (SQLite, fixed clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from core.clock import FixedClock
from core.config import Settings
from core.domain import Disposition, EscalationStatus, Role
from db import migrate
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from db.models import Escalation, Patient
from tests.factories import add_patient, add_staff
from tests.tui.pilot import workers_done
from tui.app import AftercareApp
from tui.screens.queue import QueueScreen

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
PEOPLE = [
    ("Tanaka", "Yuki", "Asia/Tokyo", "JP", 6, Disposition.URGENT),
    ("Wang", "Li", "Asia/Shanghai", "CN", 5, Disposition.REVIEW),
    ("Smith", "Emily", "America/New_York", "US", 1, None),
    ("Müller", "Laura", "Europe/Berlin", "DE", 2, Disposition.MONITOR),
    ("Chen", "Mei-Ling", "Asia/Taipei", "TW", 8, None),
    ("Bold", "[bold red]x[/]", "Europe/London", "GB", 4, Disposition.EXPECTED),
    ("Bat-Erdene", "Saran", "Asia/Ulaanbaatar", "MN", -2, None),
]


@pytest.fixture
def queue_app(tmp_path: Path) -> AftercareApp:
    engine = make_engine(f"sqlite:///{tmp_path / 'snap.db'}")
    migrate.upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.park", Role.COORDINATOR, NOW)
        nurse.display_name = "Park Ji-yeon"
        for i, (family, given, zone, country, days, disposition) in enumerate(PEOPLE):
            patient = add_patient(
                session,
                f"P-{i + 1:04d}",
                procedure_at=NOW - timedelta(days=days, hours=3),
                created_at=NOW,
                timezone=zone,
                country=country,
                disposition=disposition,
                family_name=family,
                given_name=given,
            )
            if i % 3 == 0:
                patient.assigned_to_id = nurse.id
        first = session.query(Patient).filter_by(code="P-0001").one()
        session.add(
            Escalation(
                patient_id=first.id,
                disposition=Disposition.EMERGENCY,
                status=EscalationStatus.OPEN,
                created_at=NOW - timedelta(minutes=7),
            )
        )
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
    return AftercareApp(
        Database(engine, make_session_factory(engine)),
        # No poll during the snapshot: a slow machine must not catch a re-render.
        Settings(
            database_url="sqlite:///snap.db", clinic_name="Example Clinic", refresh_seconds=60
        ),
        FixedClock(NOW),
        actor=actor,
    )


async def _loaded(pilot: Pilot[None]) -> None:
    # Wait for the page itself: on a busy machine the first read may not have started yet.
    for _ in range(200):
        await workers_done(pilot.app)
        await pilot.pause()
        screen = pilot.app.screen
        if isinstance(screen, QueueScreen) and screen.page is not None:
            break
    # The cursor row's style depends on when focus lands, which varies on a busy
    # machine; the snapshot is about the rows, the Pilot tests cover the cursor.
    table = pilot.app.screen.query_one("#queue-table", DataTable)
    table.show_cursor = False
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_queue_snapshot(
    queue_app: AftercareApp, snap_compare: Callable[..., bool], size: tuple[int, int]
) -> None:
    assert snap_compare(queue_app, terminal_size=size, run_before=_loaded)
