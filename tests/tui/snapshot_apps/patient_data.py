"""One followed-up patient with a full story, for the dossier and patient screen tests.

Every instant is relative to the `now` given, so with a FixedClock the data,
and therefore the screen, are the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain import (
    Channel,
    ContactOutcome,
    Disposition,
    EscalationStatus,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    NotificationStatus,
    Protocol,
    Role,
    Seriousness,
    TouchpointResolution,
    Trend,
)
from core.schedules import CLINIC_TZ
from db.models import (
    ContactAttempt,
    Escalation,
    Incident,
    IncidentEntry,
    OutboxNotification,
    ProductGiven,
    Staff,
    Touchpoint,
    TreatmentEpisode,
    TriageAssessment,
)
from tests.factories import add_patient

MARKUP_NAME = "[bold red]x[/]"
MARKUP_NOTE = "[link=http://x]y[/link]"


@dataclass(frozen=True)
class FollowedPatient:
    """Ids of what `add_followed_patient` wrote."""

    patient_id: int
    episode_id: int
    incident_id: int
    escalation_id: int


def _staff(session: Session, username: str, name: str, role: Role, now: datetime) -> Staff:
    staff = Staff(username=username, display_name=name, role=role, created_at=now)
    session.add(staff)
    session.flush()
    return staff


def add_followed_patient(
    session: Session,
    now: datetime,
    *,
    code: str = "P-0042",
    family_name: str = "Tanaka",
    given_name: str = "Yuki",
    country: str = "JP",
    current_country: str | None = None,
    timezone: str = "Asia/Tokyo",
    attempt_note: str = "Photo of the cheek: redness fading at the edges.",
    staff_suffix: str = "",
) -> FollowedPatient:
    """A patient nine days after exosome IV + microneedling, with contacts, an urgent
    triage, its incident and an acknowledged physician alert."""
    coordinator = _staff(session, f"park{staff_suffix}", "Park Jiwon", Role.COORDINATOR, now)
    physician = _staff(session, f"lee{staff_suffix}", "Dr Lee Seojun", Role.PHYSICIAN, now)
    # 10:30 in Seoul nine days ago: day 9 today.
    procedure_day = now.astimezone(CLINIC_TZ).date() - timedelta(days=9)
    procedure_at = datetime.combine(procedure_day, time(10, 30), CLINIC_TZ)
    patient = add_patient(
        session,
        code,
        procedure_at=procedure_at,
        created_at=procedure_at - timedelta(days=2),
        timezone=timezone,
        country=country,
        family_name=family_name,
        given_name=given_name,
        disposition=Disposition.URGENT,
    )
    patient.current_country = current_country or country
    patient.birth_date = date(1988, 4, 17)
    patient.phone = "+81 90-1234-5678"
    patient.email = "yuki.tanaka@example.jp"
    patient.assigned_to_id = coordinator.id
    patient.latest_severity = Disposition.URGENT.severity

    episode = session.scalars(
        select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient.id)
    ).one()
    episode.protocol = Protocol.EXOSOME_IV_MICRONEEDLING
    episode.treating_physician_id = physician.id
    episode.nurse_name = "Choi Minji"
    episode.nurse_license_ref = "RN-2019-044812"
    episode.addons = ["b_complex", "glutathione_high_dose"]
    episode.departure_date = procedure_day + timedelta(days=2)
    episode.travel_insurer = "Sakura Travel Insurance"
    episode.travel_policy_number = "ST-88-120934"
    episode.khidi_cover_ref = "KHIDI-LIAB-2026-0042"
    episode.allergies = "Penicillin (rash)"
    episode.vasovagal_history = True
    episode.documentation = {
        "itemised_receipt": True,
        "aftercare_card": True,
        "protocol_summary": True,
        "mfds_reference": True,
        "lot_and_expiry": False,
    }
    exosome = ProductGiven(
        episode_id=episode.id,
        name="ExoRene IV exosome concentrate 5 mL",
        mfds_reference="MFDS-2024-01873",
        manufacturer="Seorin Biolabs (fictional)",
        lot_number="ERV2609123",
        expiry_date=date(2027, 9, 30),
        dose="5 mL",
    )
    glutathione = ProductGiven(
        episode_id=episode.id,
        name="Glutathione for injection",
        mfds_reference="MFDS-2019-00412",
        manufacturer="Hangang Pharm (fictional)",
        lot_number="GLT2605077",
        expiry_date=date(2028, 5, 31),
        dose="2400 mg",
    )
    session.add_all([exosome, glutathione])
    session.flush()

    touchpoints = {
        tp.day: tp
        for tp in session.scalars(select(Touchpoint).where(Touchpoint.patient_id == patient.id))
    }
    day1 = touchpoints[1]
    day1.resolution = TouchpointResolution.DONE
    day1.resolved_at = procedure_at + timedelta(days=1, hours=1)
    day1.resolved_by_id = coordinator.id
    day1.note = "Mild flush, settling; aftercare advice repeated."
    session.add_all(
        [
            ContactAttempt(
                touchpoint_id=day1.id,
                patient_id=patient.id,
                at=procedure_at + timedelta(days=1, minutes=40),
                channel=Channel.LINE,
                outcome=ContactOutcome.REACHED,
                note=None,
                staff_id=coordinator.id,
            ),
            ContactAttempt(
                touchpoint_id=touchpoints[3].id,
                patient_id=patient.id,
                at=procedure_at + timedelta(days=3, hours=2),
                channel=Channel.LINE,
                outcome=ContactOutcome.NO_ANSWER,
                note=None,
                staff_id=coordinator.id,
            ),
            ContactAttempt(
                touchpoint_id=touchpoints[7].id,
                patient_id=patient.id,
                at=procedure_at + timedelta(days=7, hours=3),
                channel=Channel.LINE,
                outcome=ContactOutcome.PHOTO_RECEIVED,
                note=attempt_note,
                staff_id=coordinator.id,
            ),
        ]
    )
    assessed_at = procedure_at + timedelta(days=8, hours=1)
    triage = TriageAssessment(
        patient_id=patient.id,
        episode_id=episode.id,
        touchpoint_id=touchpoints[7].id,
        assessed_at=assessed_at,
        day=8,
        temperature_c=37.4,
        trend=Trend.WORSENING,
        symptoms=["erythema", "warmth"],
        current_country=patient.current_country,
        computed_disposition=Disposition.URGENT,
        chosen_disposition=Disposition.URGENT,
        override_reason=None,
        reasons=[
            {
                "rule": "worsening_redness",
                "text": "Redness or warmth getting worse from day 2 on: infection possible",
            }
        ],
        rules_version="2026.11",
        note="Sent photos to Dr Lee.",
        staff_id=coordinator.id,
    )
    session.add(triage)
    session.flush()
    learned_on = assessed_at.astimezone(CLINIC_TZ).date()
    incident = Incident(
        patient_id=patient.id,
        episode_id=episode.id,
        triage_id=triage.id,
        category=IncidentCategory.INFECTION,
        onset_date=learned_on,
        onset_day=8,
        learned_on=learned_on,
        seriousness=Seriousness.NON_SERIOUS,
        severity_grade=2,
        outcome=IncidentOutcome.RECOVERING,
        status=IncidentStatus.OPEN,
        report_due_on=learned_on + timedelta(days=30),
        suspect_product_id=exosome.id,
        created_at=assessed_at,
    )
    session.add(incident)
    session.flush()
    session.add_all(
        [
            IncidentEntry(
                incident_id=incident.id,
                at=assessed_at,
                staff_id=coordinator.id,
                kind="opened",
                text="Opened from triage (urgent).",
            ),
            IncidentEntry(
                incident_id=incident.id,
                at=assessed_at + timedelta(hours=2),
                staff_id=physician.id,
                kind="review",
                text="Dr Lee Seojun reviewed photos; oral antibiotic via home GP.",
            ),
        ]
    )
    escalation = Escalation(
        patient_id=patient.id,
        incident_id=incident.id,
        triage_id=triage.id,
        disposition=Disposition.URGENT,
        status=EscalationStatus.ACKNOWLEDGED,
        current_step=1,
        cycle=1,
        created_at=assessed_at,
        acknowledged_at=assessed_at + timedelta(minutes=25),
        acknowledged_by_id=physician.id,
    )
    session.add(escalation)
    session.flush()
    for number, (tag, status, error) in enumerate(
        [
            ("oncall-email", NotificationStatus.SENT, None),
            ("oncall-slack", NotificationStatus.SENT, None),
            ("oncall-sms", NotificationStatus.FAILED, "SMS gateway answered 503"),
        ]
    ):
        session.add(
            OutboxNotification(
                escalation_id=escalation.id,
                step=1,
                cycle=1,
                target_tag=tag,
                idempotency_key=f"esc-{escalation.id}-1-1-{number}",
                title="Urgent: patient needs a physician today",
                body="See aftercare.",
                status=status,
                attempts=1,
                next_attempt_at=assessed_at,
                sent_at=assessed_at if status is NotificationStatus.SENT else None,
                last_error=error,
                created_at=assessed_at,
            )
        )
    session.flush()
    return FollowedPatient(
        patient_id=patient.id,
        episode_id=episode.id,
        incident_id=incident.id,
        escalation_id=escalation.id,
    )
