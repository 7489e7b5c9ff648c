"""The alert path end to end: outbox rows delivered by Apprise to real receivers on
127.0.0.1, retries, steps, acknowledgement, repeats, and dispatchers racing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from core.clock import FixedClock
from core.domain import Disposition, EscalationStatus, NotificationStatus, Role
from core.escalation import EscalationPolicy, EscalationStep
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.escalations import MAX_ATTEMPTS, ClaimedDelivery, acknowledge, claim_due
from db.followup import Actor
from db.models import Escalation, OutboxNotification
from notifiers.delivery import apprise_deliverer
from notifiers.dispatcher import Dispatcher
from tests.factories import add_staff, add_triaged_patient
from tests.notifiers.receivers import HttpReceiver

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


@pytest.fixture
def apprise_file(tmp_path: Path, receiver: HttpReceiver) -> Path:
    path = tmp_path / "apprise.yml"
    # Two addresses: one address for every tag would be one person, paged once a step.
    path.write_text(
        "version: 1\nurls:\n"
        f"  - {receiver.url('/alerts')}:\n"
        "      tag: oncall, senior, physicians\n"
        f"  - {receiver.url('/dr-lee')}:\n"
        "      tag: dr-lee\n"
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def nurse(engine: Engine, clock: FixedClock) -> Actor:
    with transaction(make_session_factory(engine)) as session:
        staff = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, clock.now())
        doctor.notify_tag = "dr-lee"
        return Actor(staff.id, staff.username, staff.display_name)


def _emergency(
    engine: Engine,
    clock: FixedClock,
    nurse: Actor,
    code: str = "P-1",
    policies: dict[Disposition, EscalationPolicy] | None = None,
) -> int:
    with transaction(make_session_factory(engine)) as session:
        saved = add_triaged_patient(
            session,
            code,
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
    return Dispatcher(
        Database(engine, make_session_factory(engine)),
        apprise_deliverer(apprise_file),
        clock,
        **options,
    )


def _rows(engine: Engine) -> list[OutboxNotification]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(OutboxNotification).order_by(OutboxNotification.id)))


def test_delivers_climbs_and_stops_at_acknowledgement(
    engine: Engine,
    clock: FixedClock,
    nurse: Actor,
    apprise_file: Path,
    receiver: HttpReceiver,
) -> None:
    escalation_id = _emergency(engine, clock, nurse)
    dispatcher = _dispatcher(engine, clock, apprise_file)
    done = dispatcher.run_once()
    assert (done.held_lease, done.sent, done.retried) == (True, 2, 0)
    titles = [p.body["title"] for p in receiver.wait_for_posts(2)]
    assert titles == [f"[E-{escalation_id} step 1] EMERGENCY"] * 2
    assert "P-1" in receiver.posts[0].body["message"]
    rows = _rows(engine)
    assert {r.target_tag for r in rows} == {"oncall", "dr-lee"}
    assert all(r.status is NotificationStatus.SENT for r in rows)
    service = rows[0].results[-1]["services"][0]
    assert service["ok"] and service["masked_url"].startswith("json://127.0.0.1")

    clock.advance(timedelta(minutes=4, seconds=59))
    assert dispatcher.run_once().advanced == []
    clock.advance(timedelta(seconds=1))  # the emergency step's 5-minute wait is over
    assert dispatcher.run_once().advanced == [escalation_id]
    assert receiver.wait_for_posts(3)[2].body["title"] == f"[E-{escalation_id} step 2] EMERGENCY"
    clock.advance(timedelta(minutes=5))
    dispatcher.run_once()
    assert receiver.wait_for_posts(4)[3].body["title"] == f"[E-{escalation_id} step 3] EMERGENCY"

    with transaction(make_session_factory(engine)) as session:
        # Physicians acknowledge (core.permissions); Dr Lee was added with the nurse.
        doctor = Actor(nurse.staff_id + 1, "dr.lee", "Dr.Lee", Role.PHYSICIAN)
        acknowledge(session, escalation_id=escalation_id, actor=doctor, now=clock.now())
    for _ in range(6):
        clock.advance(timedelta(minutes=5))
        dispatcher.run_once()
    assert len(receiver.posts) == 4
    with make_session_factory(engine)() as session:
        escalation = session.get_one(Escalation, escalation_id)
        assert escalation.status is EscalationStatus.ACKNOWLEDGED
        assert escalation.next_step_at is None


def test_receiver_down_for_several_retries_then_up_loses_nothing(
    engine: Engine,
    clock: FixedClock,
    nurse: Actor,
    apprise_file: Path,
    receiver: HttpReceiver,
) -> None:
    # A long step wait, so only the retries of step 1 are in play here.
    patient = {
        Disposition.EMERGENCY: EscalationPolicy(
            (EscalationStep(("oncall", "treating"), 60),), repeat=1
        )
    }
    _emergency(engine, clock, nurse, policies=patient)
    # The backoff itself: no early try of a waiting page (test_resilience covers those).
    dispatcher = _dispatcher(engine, clock, apprise_file, policies=patient, probe_every=None)
    receiver.stop()
    for wait in (0, 30, 60, 120):  # the first four attempts, each after its backoff
        clock.advance(timedelta(seconds=wait))
        assert dispatcher.run_once().retried == 2
    rows = _rows(engine)
    assert all(r.status is NotificationStatus.PENDING and r.attempts == 4 for r in rows)
    assert all(r.last_error for r in rows)
    assert all(r.next_attempt_at == clock.now() + timedelta(seconds=300) for r in rows)
    receiver.start()
    clock.advance(timedelta(seconds=299))
    assert dispatcher.run_once().sent == 0  # not due yet
    clock.advance(timedelta(seconds=1))
    assert dispatcher.run_once().sent == 2
    assert len(receiver.wait_for_posts(2)) == 2
    rows = _rows(engine)
    assert all(r.status is NotificationStatus.SENT and r.attempts == 5 for r in rows)
    assert [a["delivered"] for a in rows[0].results] == [False] * 4 + [True]


def test_a_step_nobody_can_receive_climbs_without_waiting(
    engine: Engine,
    clock: FixedClock,
    nurse: Actor,
    apprise_file: Path,
    receiver: HttpReceiver,
) -> None:
    slow = {
        Disposition.EMERGENCY: EscalationPolicy(
            (EscalationStep(("oncall",), 120), EscalationStep(("senior",), 120)), repeat=1
        )
    }
    escalation_id = _emergency(engine, clock, nurse, policies=slow)
    dispatcher = _dispatcher(engine, clock, apprise_file, policies=slow)
    receiver.stop()
    for wait in (0, 30, 60, 120, 300, 600):
        clock.advance(timedelta(seconds=wait))
        dispatcher.run_once()
    (row,) = _rows(engine)
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, MAX_ATTEMPTS)
    receiver.start()
    # 18.5 minutes in, long before the 120-minute wait: step 2 goes out now.
    assert dispatcher.run_once().advanced == [escalation_id]
    assert receiver.wait_for_posts(1)[0].body["title"].startswith(f"[E-{escalation_id} step 2]")


def test_repeat_cycles_stop_at_their_count(
    engine: Engine,
    clock: FixedClock,
    nurse: Actor,
    apprise_file: Path,
    receiver: HttpReceiver,
) -> None:
    twice = {Disposition.EMERGENCY: EscalationPolicy((EscalationStep(("oncall",), 1),), repeat=2)}
    escalation_id = _emergency(engine, clock, nurse, policies=twice)
    dispatcher = _dispatcher(engine, clock, apprise_file, policies=twice)
    for _ in range(5):
        dispatcher.run_once()
        clock.advance(timedelta(minutes=1))
    assert len(receiver.wait_for_posts(2)) == 2
    assert [(r.cycle, r.step) for r in _rows(engine)] == [(1, 1), (2, 1)]
    with make_session_factory(engine)() as session:
        escalation = session.get_one(Escalation, escalation_id)
        # Paging stopped, but the alert stays open (and on every queue) until someone acts.
        assert escalation.status is EscalationStatus.OPEN and escalation.next_step_at is None


def test_two_dispatchers_never_send_the_same_row(
    db_url: str,
    engine: Engine,
    clock: FixedClock,
    nurse: Actor,
    apprise_file: Path,
    receiver: HttpReceiver,
) -> None:
    for i in range(8):
        _emergency(engine, clock, nurse, code=f"P-{i}")
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        dispatchers = [_dispatcher(e, clock, apprise_file) for e in engines]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(dispatcher: Dispatcher) -> None:
            try:
                barrier.wait()
                for _ in range(3):
                    dispatcher.run_once()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        rows = _rows(engine)
        assert len(rows) == 16 and all(r.status is NotificationStatus.SENT for r in rows)
        receiver.wait_for_posts(16)
        assert len(receiver.posts) == 16  # every row exactly once

        # The per-row lease on its own: two owners claiming at once get disjoint rows.
        with transaction(make_session_factory(engine)) as session:
            session.execute(
                update(OutboxNotification).values(
                    status=NotificationStatus.PENDING, next_attempt_at=clock.now()
                )
            )
        claims: dict[str, list[ClaimedDelivery]] = {}

        def claim(owner: str, eng: Engine) -> None:
            barrier.wait()
            with transaction(make_session_factory(eng)) as session:
                claims[owner] = claim_due(
                    session, owner=owner, now=clock.now(), lease=timedelta(minutes=1)
                )

        threads = [threading.Thread(target=claim, args=(f"d{i}", e)) for i, e in enumerate(engines)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        won = {owner: {c.outbox_id for c in rows} for owner, rows in claims.items()}
        assert won["d0"].isdisjoint(won["d1"])
        assert len(claims["d0"]) + len(claims["d1"]) == 16
    finally:
        for e in engines:
            e.dispose()
