"""Read queries of the alerts screen and the queue banner, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, update

from core.clock import FixedClock
from core.domain import Disposition, EscalationStatus, NotificationStatus, Role
from db.alerts import FailedSummary, failed_deliveries, open_alerts
from db.engine import make_session_factory, transaction
from db.escalations import acknowledge, resolve
from db.followup import Actor
from db.models import Escalation, OutboxNotification
from tests.factories import add_staff, add_triaged_patient

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}


@pytest.fixture
def nurse(engine: Engine, clock: FixedClock) -> Actor:
    with transaction(make_session_factory(engine)) as session:
        staff = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, clock.now())
        doctor.notify_tag = "dr-lee"
        return Actor(staff.id, staff.username, staff.display_name)


@pytest.fixture
def doctor(nurse: Actor) -> Actor:
    """Dr Lee (added with the nurse): physicians acknowledge and resolve alerts."""
    return Actor(nurse.staff_id + 1, "dr.lee", "Dr.Lee", Role.PHYSICIAN)


def _escalate(engine: Engine, clock: FixedClock, nurse: Actor, code: str, name: str = "Wu") -> int:
    """An emergency triage for a new patient: one escalation, two outbox rows."""
    with transaction(make_session_factory(engine)) as session:
        saved = add_triaged_patient(
            session,
            code,
            now=clock.now(),
            actor=nurse,
            findings=EMERGENCY,
            treating_id=2,
            family_name=name,
            given_name="[bold]Mei[/]",
        )
        assert saved.escalation_id is not None
        return saved.escalation_id


def _set_rows(engine: Engine, escalation_id: int, tag: str, **values: object) -> None:
    with transaction(make_session_factory(engine)) as session:
        session.execute(
            update(OutboxNotification)
            .where(
                OutboxNotification.escalation_id == escalation_id,
                OutboxNotification.target_tag == tag,
            )
            .values(**values)
        )


def test_open_alerts_lists_unresolved_with_notifications(
    engine: Engine, clock: FixedClock, nurse: Actor, doctor: Actor
) -> None:
    first = _escalate(engine, clock, nurse, "P-1")
    clock.advance(timedelta(minutes=3))
    second = _escalate(engine, clock, nurse, "P-2", name="Sato")
    clock.advance(timedelta(minutes=1))
    third = _escalate(engine, clock, nurse, "P-3", name="Ito")
    sent_at = clock.now()
    _set_rows(
        engine,
        first,
        "oncall",
        status=NotificationStatus.SENT,
        attempts=1,
        sent_at=sent_at,
        results=[
            {
                "attempt": 1,
                "delivered": True,
                "services": [{"masked_url": "json://user:secret@127.0.0.1:9/alerts", "ok": True}],
            }
        ],
    )
    _set_rows(
        engine,
        first,
        "dr-lee",
        status=NotificationStatus.FAILED,
        attempts=6,
        last_error="connection refused",
    )
    with transaction(make_session_factory(engine)) as session:
        acknowledge(session, escalation_id=second, actor=doctor, now=clock.now())
        resolve(session, escalation_id=third, actor=doctor, now=clock.now())

    with make_session_factory(engine)() as session:
        alerts = open_alerts(session, clock.now())

    # Open first (newest first among equal severity), then acknowledged; resolved gone.
    assert [a.id for a in alerts] == [first, second]
    alert = alerts[0]
    assert (alert.patient_code, alert.patient_name) == ("P-1", "Wu [bold]Mei[/]")
    assert (alert.disposition, alert.status) == (Disposition.EMERGENCY, EscalationStatus.OPEN)
    assert (alert.current_step, alert.cycle) == (1, 1)
    assert alert.next_step_at is not None and alert.acknowledged_by is None
    by_tag = {n.target_tag: n for n in alert.notifications}
    assert set(by_tag) == {"oncall", "dr-lee"}
    assert by_tag["oncall"].status is NotificationStatus.SENT
    assert by_tag["oncall"].sent_at == sent_at
    # Stored URLs are masked again on the way out: no password reaches the screen.
    assert by_tag["oncall"].services == ("json://user:***@127.0.0.1:9/a...s",)
    assert by_tag["dr-lee"].failing and by_tag["dr-lee"].last_error == "connection refused"
    assert alert.failing == 1 and len(alert.current) == 2

    acked = alerts[1]
    assert acked.status is EscalationStatus.ACKNOWLEDGED
    assert acked.acknowledged_by == "Dr.Lee" and acked.acknowledged_at == clock.now()
    assert {n.status for n in acked.notifications} == {NotificationStatus.CANCELLED}


def test_open_alerts_orders_by_severity_and_uses_two_queries(
    engine: Engine, clock: FixedClock, nurse: Actor
) -> None:
    emergency = _escalate(engine, clock, nurse, "P-1")
    clock.advance(timedelta(minutes=5))
    with transaction(make_session_factory(engine)) as session:
        patient_id = session.get_one(Escalation, emergency).patient_id
        for _ in range(5):  # newer but less severe
            session.add(
                Escalation(
                    patient_id=patient_id,
                    disposition=Disposition.URGENT,
                    status=EscalationStatus.OPEN,
                    created_at=clock.now(),
                )
            )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        with make_session_factory(engine)() as session:
            alerts = open_alerts(session, clock.now())
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert alerts[0].id == emergency
    assert [a.disposition for a in alerts[1:]] == [Disposition.URGENT] * 5
    assert [a.id for a in alerts[1:]] == sorted((a.id for a in alerts[1:]), reverse=True)
    assert len(statements) == 2


def test_failed_deliveries_counts_until_looked_at(
    engine: Engine, clock: FixedClock, nurse: Actor, doctor: Actor
) -> None:
    first = _escalate(engine, clock, nurse, "P-1")
    clock.advance(timedelta(minutes=1))
    second = _escalate(engine, clock, nurse, "P-2")
    with make_session_factory(engine)() as session:
        # Pending rows never tried are not failures.
        assert failed_deliveries(session) == FailedSummary(0)

    _set_rows(
        engine, first, "oncall", status=NotificationStatus.FAILED, attempts=6, last_error="refused"
    )
    # Being retried after a failed attempt counts; a first try that has not run does not.
    _set_rows(engine, second, "dr-lee", attempts=2, last_error="HTTP 500")
    _set_rows(engine, second, "oncall", attempts=1, last_error=None)
    with make_session_factory(engine)() as session:
        summary = failed_deliveries(session)
    assert summary.count == 2
    assert summary.newest_escalation_id == second
    assert summary.newest_at == clock.now()

    with transaction(make_session_factory(engine)) as session:
        acknowledge(session, escalation_id=second, actor=doctor, now=clock.now())
    with make_session_factory(engine)() as session:
        summary = failed_deliveries(session)
    assert (summary.count, summary.newest_escalation_id) == (1, first)

    with transaction(make_session_factory(engine)) as session:
        resolve(session, escalation_id=first, actor=doctor, now=clock.now())
    with make_session_factory(engine)() as session:
        assert failed_deliveries(session).count == 0
