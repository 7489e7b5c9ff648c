"""The incident, alert and on-call use cases of `db.services.Clinic`, on SQLite and
PostgreSQL: each is one transaction, audited, and refuses in one sentence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.commands import NewIncident, NewShift
from core.config import Settings
from core.domain import IncidentCategory, Role, Seriousness
from core.refusals import NotFound, Refused, StaleEdit
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.incidents import Classification
from db.models import AuditEvent, Patient
from db.services import Clinic
from tests.factories import add_staff, add_triaged_patient

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}


@dataclass
class Opened:
    clinic: Clinic
    nurse: Actor
    doctor: Actor
    other_doctor: Actor
    incident_id: int
    escalation_id: int
    patient_id: int


@pytest.fixture
def opened(engine: Engine, clock: FixedClock) -> Opened:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        lee = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        park = add_staff(session, "dr.park", Role.PHYSICIAN, now)
        coordinator = Actor(nurse.id, nurse.username, nurse.display_name)
        saved = add_triaged_patient(
            session, "P-1", now=now, actor=coordinator, findings=EMERGENCY, treating_id=lee.id
        )
        assert saved.incident_id is not None and saved.escalation_id is not None
        patient_id = session.scalars(select(Patient.id).where(Patient.code == "P-1")).one()
        doctors = [Actor(s.id, s.username, s.display_name, Role.PHYSICIAN) for s in (lee, park)]
    clinic = Clinic(
        Database(engine, make_session_factory(engine)),
        Settings(database_url="sqlite:///unused.db"),
        clock,
    )
    return Opened(
        clinic,
        coordinator,
        doctors[0],
        doctors[1],
        saved.incident_id,
        saved.escalation_id,
        patient_id,
    )


def _classification(seriousness: Seriousness, grade: int) -> Classification:
    return Classification(
        category=IncidentCategory.ALLERGIC,
        seriousness=seriousness,
        severity_grade=grade,
        causality="probable",
        actions_taken=None,
        suspect_product_id=None,
    )


def test_a_stale_classify_is_a_stale_edit_naming_who_changed_it(opened: Opened) -> None:
    clinic = opened.clinic
    read = clinic.incident(opened.incident_id)
    clinic.classify_incident(
        opened.doctor,
        opened.incident_id,
        expected_version=read.version,
        classification=_classification(Seriousness.HOSPITALISATION, 3),
    )
    # Dr.Park classifies from the same, now stale, reading: refused, naming Dr.Lee.
    with pytest.raises(StaleEdit, match=r"classified by Dr\.Lee") as refused:
        clinic.classify_incident(
            opened.other_doctor,
            opened.incident_id,
            expected_version=read.version,
            classification=_classification(Seriousness.NON_SERIOUS, 1),
        )
    assert "nothing was saved" in str(refused.value)
    after = clinic.incident(opened.incident_id)
    assert after.line.seriousness is Seriousness.HOSPITALISATION
    assert after.version == read.version + 1


def test_a_missing_incident_is_not_found(opened: Opened) -> None:
    with pytest.raises(NotFound, match="#999"):
        opened.clinic.incident(999)
    with pytest.raises(NotFound, match="#999"):
        opened.clinic.reopen_incident(opened.doctor, 999, expected_version=1, reason="why")


def test_an_acknowledgement_through_the_clinic_is_audited_and_a_second_refused(
    opened: Opened,
) -> None:
    clinic = opened.clinic
    assert [a.id for a in clinic.physician_alerts().alerts] == [opened.escalation_id]
    clinic.acknowledge_alert(opened.doctor, opened.escalation_id)
    with pytest.raises(Refused, match=r"already acknowledged by Dr\.Lee"):
        clinic.acknowledge_alert(opened.other_doctor, opened.escalation_id)
    with make_session_factory(clinic.database.engine)() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "escalation.acknowledge")
        ).one()
    assert (event.actor, event.entity_id) == ("dr.lee", str(opened.escalation_id))
    (alert,) = clinic.physician_alerts().alerts
    assert alert.acknowledged_by == "Dr.Lee"


def test_a_coordinator_may_not_resolve_an_alert(opened: Opened) -> None:
    with pytest.raises(Refused):
        opened.clinic.resolve_alert(opened.nurse, opened.escalation_id)
    assert len(opened.clinic.physician_alerts().alerts) == 1


def test_opening_by_triage_and_by_hand_audit_the_same_shape(opened: Opened) -> None:
    clinic = opened.clinic
    by_hand = clinic.open_incident_by_hand(
        opened.nurse,
        opened.patient_id,
        NewIncident(
            category=IncidentCategory.INFECTION,
            seriousness=Seriousness.NON_SERIOUS,
            onset_date=None,
            learned_on=None,
            description="The home physician called: redness at the injection site.",
        ),
    )
    with make_session_factory(clinic.database.engine)() as session:
        events = {
            event.entity_id: event.after
            for event in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "incident.open")
            )
        }
    from_triage, from_hand = events[str(opened.incident_id)], events[str(by_hand)]
    assert from_triage is not None and from_hand is not None
    assert set(from_triage) == set(from_hand)
    assert (from_triage["by_hand"], from_triage["triage"]) == (False, from_triage["triage"])
    assert from_triage["triage"] is not None
    assert (from_hand["by_hand"], from_hand["triage"]) == (True, None)
    assert from_hand["entry"].startswith("Opened by hand: The home physician called")


def test_an_on_call_overlap_is_refused_through_the_clinic(opened: Opened, engine: Engine) -> None:
    clinic, now = opened.clinic, opened.clinic.clock.now()
    with transaction(make_session_factory(engine)) as session:
        admin = add_staff(session, "it.admin", Role.ADMIN, now)
        actor = Actor(admin.id, admin.username, admin.display_name, Role.ADMIN)
    done = clinic.set_on_call_shift(
        actor, NewShift("dr.lee", now + timedelta(hours=1), now + timedelta(hours=9))
    )
    with pytest.raises(Refused, match=r"dr\.lee is already on call"):
        clinic.set_on_call_shift(
            actor, NewShift("dr.park", now + timedelta(hours=2), now + timedelta(hours=3))
        )
    schedule = clinic.on_call_schedule(14)
    assert [s.id for s in schedule.shifts] == [done.shift.id]
    assert schedule.now_shift is None
