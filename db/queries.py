"""Read queries the screens use. Each returns plain `core` values, never ORM objects."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from core.domain import Disposition
from core.queue import QueueCounts, QueueEntry
from db.models import Patient, Staff, Touchpoint, TreatmentEpisode

# Severity of the patient's latest triage, highest first; no triage sorts as expected.
_SEVERITY = case(
    *((Patient.latest_disposition == d, d.severity) for d in Disposition),
    else_=Disposition.EXPECTED.severity,
)


def queue_counts(session: Session, now: datetime) -> QueueCounts:
    """How many touchpoints are overdue and how many are due at `now`."""
    overdue = session.scalar(
        select(func.count())
        .select_from(Touchpoint)
        .where(Touchpoint.resolution.is_(None), Touchpoint.closes_at <= now)
    )
    due = session.scalar(
        select(func.count())
        .select_from(Touchpoint)
        .where(
            Touchpoint.resolution.is_(None),
            Touchpoint.closes_at > now,
            Touchpoint.opens_at <= now,
        )
    )
    return QueueCounts(overdue=overdue or 0, due=due or 0)


def due_and_overdue(session: Session, now: datetime, *, limit: int) -> list[QueueEntry]:
    """The top `limit` open touchpoints: overdue first (by the patient's latest
    triage severity, then most overdue), then due (closing soonest first)."""
    overdue_first = case((Touchpoint.closes_at <= now, 0), else_=1)
    query = (
        select(
            Touchpoint.id,
            Touchpoint.patient_id,
            Patient.code,
            Patient.family_name,
            Patient.given_name,
            Patient.current_country,
            Patient.timezone,
            Patient.channel,
            TreatmentEpisode.procedure_at,
            Touchpoint.template,
            Touchpoint.day,
            Touchpoint.due_date,
            Touchpoint.opens_at,
            Touchpoint.closes_at,
            Patient.latest_disposition,
            Patient.last_contact_at,
            Staff.display_name,
        )
        .join(Patient, Patient.id == Touchpoint.patient_id)
        .join(TreatmentEpisode, TreatmentEpisode.id == Touchpoint.episode_id)
        .outerjoin(Staff, Staff.id == Patient.assigned_to_id)
        .where(and_(Touchpoint.resolution.is_(None), Touchpoint.opens_at <= now))
        .order_by(
            overdue_first,
            case((Touchpoint.closes_at <= now, -_SEVERITY), else_=0),
            Touchpoint.closes_at,
            Touchpoint.id,
        )
        .limit(limit)
    )
    return [
        QueueEntry(
            touchpoint_id=row[0],
            patient_id=row[1],
            patient_code=row[2],
            patient_name=f"{row[3]} {row[4]}",
            country=row[5],
            timezone=row[6],
            channel=row[7],
            procedure_at=row[8],
            template=row[9],
            day=row[10],
            due_date=row[11],
            opens_at=row[12],
            closes_at=row[13],
            latest_disposition=row[14],
            last_contact_at=row[15],
            assigned_to=row[16],
        )
        for row in session.execute(query)
    ]


def patient_count(session: Session) -> int:
    """How many patients the database holds."""
    return session.scalar(select(func.count()).select_from(Patient)) or 0
