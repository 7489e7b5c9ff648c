"""The summary of a patient read from a real database (SQLite and PostgreSQL): the
contact attempts with their notes and the physician alert with who was paged and who
acknowledged come from the stored rows, and the incident a triage opened appears once,
named by that triage's findings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.domain import Channel, ContactOutcome
from db.engine import make_session_factory, transaction
from db.escalations import acknowledge
from db.exports import load_patient_export
from db.followup import Actor
from db.models import ContactAttempt, Escalation, Staff
from tests.db.test_exports import add_exported_patient
from tests.exported import export_text


def test_contacts_alerts_and_the_triage_incident_reach_the_summary(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    treated = add_exported_patient(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        nurse = session.scalars(select(Staff).where(Staff.username == "rn.kim")).one()
        doctor = session.scalars(select(Staff).where(Staff.username == "dr.lee")).one()
        session.add(
            ContactAttempt(
                patient_id=treated.patient_id,
                at=now - timedelta(hours=1),
                channel=Channel.LINE,
                outcome=ContactOutcome.REACHED,
                note="Fever 38.6 since this morning; chills.",
                staff_id=nurse.id,
            )
        )
        escalation = session.scalars(
            select(Escalation).where(Escalation.patient_id == treated.patient_id)
        ).one()
        escalation_id = escalation.id
        later = now + timedelta(minutes=7)
        acknowledge(
            session, later, Actor(doctor.id, doctor.username, doctor.display_name), escalation_id
        )

    with make_session_factory(engine)() as session:
        export = load_patient_export(session, treated.patient_id, now + timedelta(minutes=30))
    assert export is not None
    (alert,) = export.dossier.alerts
    assert alert.acknowledged_by == treated.physician and alert.pages
    assert all("oncall" not in page.to and "dr-" not in page.to for page in alert.pages)
    (incident,) = export.dossier.incidents
    assert incident.triage_id == export.dossier.triages[0].triage_id

    text = export_text(engine, now + timedelta(minutes=30), treated.patient_id, "summary")
    assert "Contact attempt via LINE by " in text and ": reached" in text
    assert "Note: Fever 38.6 since this morning; chills." in text
    assert "Physician alert (emergency)" in text
    assert "Paged " in text
    assert f"Acknowledged by {treated.physician}, " in text
    assert text.count(f"Incident #{treated.incident_id} opened") == 1
    assert f"### Incident #{treated.incident_id}: chills (found at the day 2 triage)" in text
    for code in ("home_physician_contact", "KST", "JST", "non_serious", "not_assessed"):
        assert code not in text, code
