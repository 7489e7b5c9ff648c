"""Whether physician alerts are being sent, on SQLite and PostgreSQL: an emergency
saved while no dispatcher runs is a stall once the grace period passes; a
dispatcher's round clears it; a row in a live dispatcher's hands is not a stall;
`aftercare dispatch --health` says so with its exit status."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from core.alert_health import AlertPathState, Health
from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.services import Clinic
from notifiers.dispatcher import DeliveryReport, Dispatcher
from tests.factories import add_staff, add_triaged_patient
from tests.tui.test_cli import run_cli

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}


def _emergency(engine: Engine, now: datetime) -> None:
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        saved = add_triaged_patient(session, "P-1", now=now, actor=actor, findings=EMERGENCY)
        assert saved.escalation_id is not None


def _clinic(engine: Engine, clock: FixedClock) -> Clinic:
    settings = Settings(database_url="sqlite:///unused.db", alert_stall_grace_seconds=60)
    return Clinic(Database(engine, make_session_factory(engine)), settings, clock)


def _delivered(tag: str, title: str, body: str) -> DeliveryReport:
    return DeliveryReport(True, [{"service": "json", "ok": True}])


def test_no_dispatcher_is_a_stall_once_the_grace_period_passes(
    engine: Engine, clock: FixedClock
) -> None:
    clinic = _clinic(engine, clock)
    assert clinic.alert_path().health is Health.NO_DISPATCHER  # nothing waits yet
    _emergency(engine, clock.now())

    within = clinic.alert_path()
    assert within.waiting >= 1 and within.health is Health.NO_DISPATCHER
    assert within.banner() is None
    assert "no dispatcher is running" in within.after_save()

    clock.advance(timedelta(seconds=61))
    stalled = clinic.alert_path()
    assert stalled.health is Health.STALLED
    banner = stalled.banner()
    assert banner is not None and banner.startswith("Physician alerts are NOT being sent")
    assert "waited 61 s" in banner and "Phone the on-call physician" in banner
    assert stalled.after_save().startswith("Physician alerts are NOT being sent")

    dispatcher = Dispatcher(clinic.database, _delivered, clock)
    assert dispatcher.run_once().sent >= 1
    after = clinic.alert_path()
    assert after.health is Health.SENDING and after.banner() is None and after.waiting == 0
    assert after.heartbeat_at == clock.now()
    assert after.after_save() == "the dispatcher is sending it"


def test_a_dead_dispatcher_is_noticed_when_its_lease_runs_out(
    engine: Engine, clock: FixedClock
) -> None:
    clinic = _clinic(engine, clock)
    Dispatcher(clinic.database, _delivered, clock, lease=timedelta(seconds=30)).run_once()
    assert clinic.alert_path().health is Health.SENDING
    clock.advance(timedelta(seconds=31))  # it died without releasing the lease
    assert clinic.alert_path().health is Health.NO_DISPATCHER
    _emergency(engine, clock.now())
    clock.advance(timedelta(seconds=61))
    state = clinic.alert_path()
    assert state.health is Health.STALLED
    assert state.report()[0] == "critical: physician alerts are NOT being sent"
    assert "last heartbeat 92 s ago" in state.report()[1]


def test_a_row_in_a_live_dispatchers_hands_is_not_a_stall() -> None:
    now = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    slow = AlertPathState(
        now=now,
        heartbeat_at=now - timedelta(seconds=5),
        lease_expires_at=now + timedelta(seconds=55),
        owner="server:1",
        oldest_due_at=None,  # the due row is claimed (sending), so not counted
        waiting=0,
    )
    assert slow.health is Health.SENDING and slow.banner() is None


def test_the_health_command_exit_status_follows_the_state(engine: Engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_DATABASE_URL=url, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config")
    )
    quiet = run_cli("dispatch", "--health", env=env)
    assert quiet.returncode == 1, quiet.stderr
    assert quiet.stdout.splitlines()[0].startswith("warning: no dispatcher is alive")
    # Saved ten minutes ago, and nobody has sent it since.
    _emergency(engine, datetime.now(UTC) - timedelta(minutes=10))
    stalled = run_cli("dispatch", "--health", env=env)
    assert stalled.returncode == 2, stalled.stderr
    lines = stalled.stdout.splitlines()
    assert lines[0] == "critical: physician alerts are NOT being sent"
    assert "the oldest due 10 min ago" in lines[2]
    Dispatcher(
        Database(engine, make_session_factory(engine)),
        _delivered,
        FixedClock(datetime.now(UTC)),
    ).run_once()
    sending = run_cli("dispatch", "--health", env=env)
    assert sending.returncode == 0, sending.stderr
    assert sending.stdout.startswith("ok: alerts are being sent")
