"""Permission checks in the core write services (not only in the screens), on SQLite
and PostgreSQL: a refused action writes nothing, an allowed one goes through, and
the role that counts is the one in the staff table now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from core.clock import FixedClock
from core.commands import NewIncident
from core.domain import (
    Channel,
    ContactOutcome,
    EscalationStatus,
    IncidentCategory,
    NotificationStatus,
    Role,
    Seriousness,
)
from core.incident_log import EntryKind
from core.permissions import NotPermitted
from db import escalations, incidents
from db.engine import make_session_factory, transaction
from db.followup import Actor, FollowUpConflict, claim_patient, record_contact_attempt
from db.models import (
    AuditEvent,
    ChangeMarker,
    ContactAttempt,
    Escalation,
    Incident,
    OutboxNotification,
    Patient,
    Staff,
)
from tests.factories import add_staff, add_triaged_patient

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}


@dataclass
class Clinic:
    engine: Engine
    clock: FixedClock
    nurse: Actor
    doctor: Actor
    admin: Actor
    patient_id: int
    touchpoint_id: int
    escalation_id: int
    incident_id: int


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse, doctor, admin = (
            Actor(s.id, s.username, s.display_name, s.role)
            for s in (
                add_staff(session, "rn.kim", Role.COORDINATOR, now),
                add_staff(session, "dr.lee", Role.PHYSICIAN, now),
                add_staff(session, "it.boss", Role.ADMIN, now),
            )
        )
        saved = add_triaged_patient(
            session, "P-1", now=now, actor=nurse, findings=EMERGENCY, treating_id=doctor.staff_id
        )
        assert saved.escalation_id is not None and saved.incident_id is not None
        patient_id = session.get_one(Escalation, saved.escalation_id).patient_id
        touchpoint_id = session.get_one(Patient, patient_id).next_touchpoint_id
        assert touchpoint_id is not None
    return Clinic(
        engine,
        clock,
        nurse,
        doctor,
        admin,
        patient_id,
        touchpoint_id,
        saved.escalation_id,
        saved.incident_id,
    )


@dataclass(frozen=True)
class State:
    """What a refused action must leave exactly as it was."""

    escalation_status: EscalationStatus
    escalation_version: int
    outbox: list[NotificationStatus]
    incident_version: int
    seriousness: Seriousness
    contact_attempts: int | None
    audit_events: int | None
    marker: int | None


def _state(engine: Engine) -> State:
    with make_session_factory(engine)() as session:
        escalation = session.scalars(select(Escalation)).one()
        incident = session.scalars(select(Incident)).one()
        return State(
            escalation.status,
            escalation.version,
            sorted(session.scalars(select(OutboxNotification.status))),
            incident.version,
            incident.seriousness,
            session.scalar(select(func.count()).select_from(ContactAttempt)),
            session.scalar(select(func.count()).select_from(AuditEvent)),
            session.scalar(select(ChangeMarker.counter)),
        )


def _run(clinic: Clinic, work: Callable[[Session, datetime], object]) -> None:
    with transaction(make_session_factory(clinic.engine)) as session:
        work(session, clinic.clock.now())


def _acknowledge(actor: Actor, clinic: Clinic) -> Callable[[Session, datetime], object]:
    return lambda session, now: escalations.acknowledge(
        session, escalation_id=clinic.escalation_id, actor=actor, now=now
    )


def _resolve(actor: Actor, clinic: Clinic) -> Callable[[Session, datetime], object]:
    return lambda session, now: escalations.resolve(
        session, escalation_id=clinic.escalation_id, actor=actor, now=now
    )


def _classify(actor: Actor, clinic: Clinic) -> Callable[[Session, datetime], object]:
    return lambda session, now: incidents.classify(
        session,
        incident_id=clinic.incident_id,
        expected_version=1,
        classification=incidents.Classification(
            category=IncidentCategory.ALLERGIC,
            seriousness=Seriousness.LIFE_THREATENING,
            severity_grade=4,
            causality="probable",
            actions_taken=None,
            suspect_product_id=None,
        ),
        actor=actor,
        now=now,
    )


def _contact(actor: Actor, clinic: Clinic) -> Callable[[Session, datetime], object]:
    return lambda session, now: record_contact_attempt(
        session,
        touchpoint_id=clinic.touchpoint_id,
        channel=Channel.LINE,
        outcome=ContactOutcome.REACHED,
        note=None,
        actor=actor,
        now=now,
        unreachable_after=3,
    )


def _entry(actor: Actor, clinic: Clinic) -> Callable[[Session, datetime], object]:
    return lambda session, now: incidents.add_entry(
        session,
        incident_id=clinic.incident_id,
        kind=EntryKind.NOTE,
        text="Called the patient.",
        actor=actor,
        now=now,
    )


def _open_by_hand(actor: Actor, clinic: Clinic) -> Callable[[Session, datetime], object]:
    return lambda session, now: incidents.open_by_hand(
        session,
        patient_id=clinic.patient_id,
        incident=NewIncident(
            category=IncidentCategory.OTHER,
            seriousness=Seriousness.NON_SERIOUS,
            onset_date=None,
            learned_on=None,
            description="A letter from the home physician.",
        ),
        actor=actor,
        now=now,
    )


def test_a_coordinator_cannot_acknowledge_or_resolve_an_alert(clinic: Clinic) -> None:
    before = _state(clinic.engine)
    for attempt, sentence in (
        (_acknowledge, "A coordinator may not acknowledge a physician alert"),
        (_resolve, "A coordinator may not resolve a physician alert"),
    ):
        with pytest.raises(NotPermitted, match=sentence) as refused:
            _run(clinic, attempt(clinic.nurse, clinic))
        assert isinstance(refused.value, FollowUpConflict)  # the screens' toast shows it
        assert str(refused.value).endswith("that needs a physician.")
    # Still open and still paging: nothing was written, not even the change marker.
    assert _state(clinic.engine) == before
    assert before.escalation_status is EscalationStatus.OPEN
    assert set(before.outbox) == {NotificationStatus.PENDING}


def test_a_physician_acknowledges_then_resolves(clinic: Clinic) -> None:
    _run(clinic, _acknowledge(clinic.doctor, clinic))
    with make_session_factory(clinic.engine)() as session:
        escalation = session.get_one(Escalation, clinic.escalation_id)
        assert escalation.status is EscalationStatus.ACKNOWLEDGED
        assert escalation.acknowledged_by_id == clinic.doctor.staff_id
        assert set(session.scalars(select(OutboxNotification.status))) == {
            NotificationStatus.CANCELLED
        }
    _run(clinic, _resolve(clinic.doctor, clinic))
    with make_session_factory(clinic.engine)() as session:
        assert session.get_one(Escalation, clinic.escalation_id).status is (
            EscalationStatus.RESOLVED
        )


def test_seriousness_is_a_physicians_call(clinic: Clinic) -> None:
    before = _state(clinic.engine)
    with pytest.raises(NotPermitted, match="A coordinator may not classify an incident"):
        _run(clinic, _classify(clinic.nurse, clinic))
    assert _state(clinic.engine) == before
    _run(clinic, _classify(clinic.doctor, clinic))
    with make_session_factory(clinic.engine)() as session:
        incident = session.get_one(Incident, clinic.incident_id)
        assert (incident.seriousness, incident.version) == (Seriousness.LIFE_THREATENING, 2)


@pytest.mark.parametrize(
    ("attempt", "what"),
    [
        (_contact, "do follow-up work"),
        (_entry, "change an incident"),
        (_open_by_hand, "open an incident"),
        (_acknowledge, "acknowledge a physician alert"),
        (_classify, "classify an incident"),
    ],
)
def test_an_admin_runs_the_server_not_the_clinical_record(
    clinic: Clinic,
    attempt: Callable[[Actor, Clinic], Callable[[Session, datetime], object]],
    what: str,
) -> None:
    before = _state(clinic.engine)
    with pytest.raises(NotPermitted, match=f"An admin may not {what}"):
        _run(clinic, attempt(clinic.admin, clinic))
    assert _state(clinic.engine) == before


def test_coordinators_do_follow_up_and_incident_entries(clinic: Clinic) -> None:
    _run(clinic, _contact(clinic.nurse, clinic))
    _run(clinic, _entry(clinic.nurse, clinic))
    _run(
        clinic,
        lambda s, now: claim_patient(s, patient_id=clinic.patient_id, actor=clinic.nurse, now=now),
    )
    with make_session_factory(clinic.engine)() as session:
        assert session.scalar(select(func.count()).select_from(ContactAttempt)) == 1


def test_the_role_that_counts_is_the_current_one(clinic: Clinic) -> None:
    """An Actor remembers the role at sign-in; the services read the staff row."""
    with transaction(make_session_factory(clinic.engine)) as session:
        session.execute(
            update(Staff).where(Staff.id == clinic.nurse.staff_id).values(role=Role.PHYSICIAN)
        )
        session.execute(
            update(Staff).where(Staff.id == clinic.doctor.staff_id).values(active=False)
        )
    before = _state(clinic.engine)
    with pytest.raises(NotPermitted, match=r"dr\.lee is not an active staff member any more"):
        _run(clinic, _acknowledge(clinic.doctor, clinic))
    assert _state(clinic.engine) == before
    assert clinic.nurse.role is Role.COORDINATOR  # stale, and it does not matter
    _run(clinic, _acknowledge(clinic.nurse, clinic))
    with make_session_factory(clinic.engine)() as session:
        assert session.get_one(Escalation, clinic.escalation_id).acknowledged_by_id == (
            clinic.nurse.staff_id
        )
