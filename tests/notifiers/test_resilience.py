"""An alert is never lost: a long outage, one broken service of two, and an acknowledged
alert during an outage. The real dispatcher and Apprise, real HTTP receivers on
127.0.0.1 (stopped for an outage, or answering 500), a fixed clock, both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.config import Settings
from core.domain import Disposition, EscalationStatus, NotificationStatus, Role
from core.escalation import EscalationPolicy, EscalationStep
from db.alerts import failed_deliveries
from db.database import Database
from db.engine import make_session_factory, transaction
from db.escalations import MAX_ATTEMPTS, acknowledge
from db.followup import Actor
from db.models import Escalation, OutboxNotification
from notifiers.delivery import apprise_deliverer
from notifiers.dispatcher import Dispatcher
from tests.factories import add_staff, add_triaged_patient
from tests.notifiers.receivers import HttpReceiver

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
# Senior first, then the on-call and treating physicians; twice: the chain has run out
# (at its last step, nobody left to climb to) twenty minutes into a 70-minute outage.
CHAIN = {
    Disposition.EMERGENCY: EscalationPolicy(
        (EscalationStep(("senior",), 5), EscalationStep(("oncall", "treating"), 5)), repeat=2
    )
}
IMPOSSIBLE = re.compile(r"Delivery was impossible for (\d+) min")


@pytest.fixture
def clinic_desk() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


@pytest.fixture
def pager() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


@pytest.fixture
def doctor(engine: Engine, clock: FixedClock) -> Actor:
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        lee = add_staff(session, "dr.lee", Role.PHYSICIAN, clock.now())
        lee.notify_tag = "dr-lee"
        add_staff(session, "dr.park", Role.PHYSICIAN, clock.now())
        return Actor(nurse.id, nurse.username, nurse.display_name)


def _apprise(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "apprise.yml"
    path.write_text("version: 1\nurls:\n" + lines)
    path.chmod(0o600)
    return path


def _emergency(
    engine: Engine, clock: FixedClock, nurse: Actor, policies: dict[Disposition, EscalationPolicy]
) -> int:
    with transaction(make_session_factory(engine)) as session:
        saved = add_triaged_patient(
            session,
            "P-1",
            now=clock.now(),
            actor=nurse,
            findings=EMERGENCY,
            treating_id=2,
            policies=policies,
        )
        assert saved.escalation_id is not None
        return saved.escalation_id


def _dispatcher(
    engine: Engine, clock: FixedClock, apprise_file: Path, **options: Any
) -> Dispatcher:
    database = Database(engine, make_session_factory(engine))
    return Dispatcher(database, apprise_deliverer(apprise_file), clock, **options)


def _rounds(dispatcher: Dispatcher, clock: FixedClock, minutes: float, every: int = 10) -> None:
    for _ in range(int(minutes * 60 / every)):
        clock.advance(timedelta(seconds=every))
        dispatcher.run_once()


def _rows(engine: Engine) -> list[OutboxNotification]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(OutboxNotification).order_by(OutboxNotification.id)))


def _emergency_in_an_outage(
    engine: Engine, clock: FixedClock, doctor: Actor, tmp_path: Path, clinic_desk: HttpReceiver
) -> tuple[int, Dispatcher]:
    """An emergency whose every service (the desk for the roles, dr-lee's own) is down
    from its first try: the escalation id and the dispatcher that tried it once."""
    apprise_file = _apprise(
        tmp_path,
        f"  - {clinic_desk.url('/desk')}:\n      tag: oncall, senior\n"
        f"  - {clinic_desk.url('/dr-lee')}:\n      tag: dr-lee\n",
    )
    escalation_id = _emergency(engine, clock, doctor, CHAIN)
    dispatcher = _dispatcher(engine, clock, apprise_file, policies=CHAIN)
    clinic_desk.stop()
    dispatcher.run_once()
    return escalation_id, dispatcher


def test_a_70_minute_outage_pages_the_current_step_once_within_two_minutes_of_recovery(
    engine: Engine, clock: FixedClock, doctor: Actor, tmp_path: Path, clinic_desk: HttpReceiver
) -> None:
    escalation_id, dispatcher = _emergency_in_an_outage(
        engine, clock, doctor, tmp_path, clinic_desk
    )
    _rounds(dispatcher, clock, 70, every=30)
    with make_session_factory(engine)() as session:
        escalation = session.get_one(Escalation, escalation_id)
        assert escalation.status is EscalationStatus.OPEN
        assert (escalation.cycle, escalation.current_step) == (2, 2)
        # Failed is a state people see (the queue's red banner), not the end of trying.
        assert failed_deliveries(session).count >= 4
    current = [r for r in _rows(engine) if (r.cycle, r.step) == (2, 2)]
    assert {r.target_tag for r in current} == {"oncall", "dr-lee"}
    assert all(r.status is NotificationStatus.FAILED for r in current)
    assert all(r.attempts > MAX_ATTEMPTS for r in current)  # still being tried

    clinic_desk.start()
    _rounds(dispatcher, clock, 2)
    # Every person of the current step paged once, each told how long it was impossible;
    # the earlier steps' failed pages are not sent late.
    assert sorted(p.path for p in clinic_desk.posts) == ["/desk", "/dr-lee"]
    for post in clinic_desk.posts:
        assert "step 2" in post.body["title"]
        found = IMPOSSIBLE.search(post.body["message"])
        assert found is not None, post.body["message"]
        assert 70 <= int(found.group(1)) <= 72
    now_current = [r for r in _rows(engine) if (r.cycle, r.step) == (2, 2)]
    assert all(r.status is NotificationStatus.SENT for r in now_current)
    _rounds(dispatcher, clock, 15, every=30)
    assert len(clinic_desk.posts) == 2  # nothing sent twice, nothing late


def test_one_broken_service_of_two_the_working_one_is_paged_once(
    engine: Engine,
    clock: FixedClock,
    doctor: Actor,
    tmp_path: Path,
    clinic_desk: HttpReceiver,
    pager: HttpReceiver,
) -> None:
    # The on-call tag reaches a pager that works and a mail gateway that answers 500.
    apprise_file = _apprise(
        tmp_path,
        f"  - {pager.url('/pager')}:\n      tag: oncall\n"
        f"  - {clinic_desk.url('/mail')}:\n      tag: oncall\n",
    )
    # The pager reached the physician: the failing mail gateway must not make the chain
    # climb to the senior physician before the step's hour is up.
    steps = (EscalationStep(("oncall",), 60), EscalationStep(("senior",), 60))
    alone = {Disposition.EMERGENCY: EscalationPolicy(steps, repeat=1)}
    _emergency(engine, clock, doctor, alone)
    dispatcher = _dispatcher(engine, clock, apprise_file, policies=alone)
    clinic_desk.status = 500
    dispatcher.run_once()
    _rounds(dispatcher, clock, 20)
    assert len(pager.posts) == 1  # never re-paged while the mail gateway fails
    tries = len(clinic_desk.posts)
    assert tries >= MAX_ATTEMPTS
    (row,) = _rows(engine)  # no step 2 queued
    assert row.status is NotificationStatus.FAILED and row.last_error

    clinic_desk.status = 200
    _rounds(dispatcher, clock, 2)
    assert len(pager.posts) == 1
    assert len(clinic_desk.posts) == tries + 1
    assert IMPOSSIBLE.search(clinic_desk.posts[-1].body["message"])
    assert not IMPOSSIBLE.search(pager.posts[0].body["message"])
    (row,) = _rows(engine)
    assert row.status is NotificationStatus.SENT
    _rounds(dispatcher, clock, 10, every=30)
    assert (len(pager.posts), len(clinic_desk.posts)) == (1, tries + 1)


def test_an_acknowledged_alert_is_not_paged_after_the_outage(
    engine: Engine, clock: FixedClock, doctor: Actor, tmp_path: Path, clinic_desk: HttpReceiver
) -> None:
    escalation_id, dispatcher = _emergency_in_an_outage(
        engine, clock, doctor, tmp_path, clinic_desk
    )
    _rounds(dispatcher, clock, 30, every=30)
    with transaction(make_session_factory(engine)) as session:
        lee = Actor(2, "dr.lee", "dr.lee")
        acknowledge(session, clock.now(), lee, escalation_id)
    clinic_desk.start()
    _rounds(dispatcher, clock, 10, every=30)
    assert clinic_desk.posts == []
    # What failed stays visible on the alert, with the error, after the acknowledgement.
    assert any(r.status is NotificationStatus.FAILED and r.last_error for r in _rows(engine))


def test_the_clinic_sets_the_longest_wait_between_tries(
    engine: Engine, clock: FixedClock, doctor: Actor, tmp_path: Path, clinic_desk: HttpReceiver
) -> None:
    apprise_file = _apprise(tmp_path, f"  - {clinic_desk.url('/desk')}:\n      tag: senior\n")
    escalation_id = _emergency(engine, clock, doctor, CHAIN)
    settings = Settings(database_url="sqlite:///unused.db", alert_retry_max_seconds=60)
    dispatcher = _dispatcher(
        engine,
        clock,
        apprise_file,
        policies=CHAIN,
        retry_cap_seconds=settings.alert_retry_max_seconds,
        probe_every=None,
    )
    clinic_desk.stop()
    waits = []
    for _ in range(4):  # 30 s, 60 s, then 120 s capped to 60
        dispatcher.run_once()
        (row,) = [r for r in _rows(engine) if r.escalation_id == escalation_id]
        waits.append((row.next_attempt_at - clock.now()).total_seconds())
        clock.set(row.next_attempt_at)
    assert waits == [30, 60, 60, 60]
    with pytest.raises(ValidationError, match="alert_retry_max_seconds"):
        Settings(database_url="sqlite:///unused.db", alert_retry_max_seconds=5)
