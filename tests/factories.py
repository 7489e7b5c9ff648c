"""Small builders for test data, written through the real models."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain import Channel, Disposition, Protocol, Role
from core.escalation import EscalationPolicy
from core.schedules import builtin_templates, touchpoint_window
from core.triage import assess, parse_triage_input
from db.followup import Actor, refresh_next_touchpoint
from db.models import Patient, Staff, Touchpoint, TreatmentEpisode
from db.triage import SavedTriage, record_triage


def add_staff(session: Session, username: str, role: Role, at: datetime) -> Staff:
    """A staff member."""
    staff = Staff(username=username, display_name=username.title(), role=role, created_at=at)
    session.add(staff)
    session.flush()
    return staff


def add_patient(
    session: Session,
    code: str,
    *,
    procedure_at: datetime,
    created_at: datetime,
    timezone: str = "Asia/Tokyo",
    country: str = "JP",
    disposition: Disposition | None = None,
    template: str = "standard",
    family_name: str = "Tanaka",
    given_name: str = "Yuki",
) -> Patient:
    """A patient with one episode and the touchpoints of `template`."""
    patient = Patient(
        code=code,
        given_name=given_name,
        family_name=family_name,
        home_country=country,
        current_country=country,
        language="ja",
        timezone=timezone,
        channel=Channel.LINE,
        channel_handle=f"line:{code.lower()}",
        latest_disposition=disposition,
        latest_severity=disposition.severity if disposition else 0,
        created_at=created_at,
    )
    session.add(patient)
    session.flush()
    episode = TreatmentEpisode(
        patient_id=patient.id,
        procedure_at=procedure_at,
        protocol=Protocol.EXOSOME_IV,
        schedule_templates=[template],
        created_at=created_at,
    )
    session.add(episode)
    session.flush()
    for plan in builtin_templates()[template].touchpoints:
        window = touchpoint_window(procedure_at, plan, ZoneInfo(timezone))
        session.add(
            Touchpoint(
                episode_id=episode.id,
                patient_id=patient.id,
                template=template,
                day=plan.day,
                due_date=window.due_date,
                opens_at=window.opens_at,
                closes_at=window.closes_at,
                ask=plan.ask,
                photos_wanted=plan.photos,
            )
        )
    refresh_next_touchpoint(session, patient.id)
    session.flush()
    session.refresh(patient)
    return patient


def add_triaged_patient(
    session: Session,
    code: str,
    *,
    now: datetime,
    actor: Actor,
    findings: Mapping[str, Any],
    treating_id: int | None = None,
    policies: dict[Disposition, EscalationPolicy] | None = None,
    chosen: Disposition | None = None,
    override_reason: str | None = None,
    procedure_days_ago: int = 2,
    **patient: Any,
) -> SavedTriage:
    """A patient (see add_patient) with a saved triage of `findings`, through the real
    db.triage.record_triage: assessment, incident and escalation with its outbox rows.
    `chosen` and `override_reason` override the computed disposition."""
    created = add_patient(
        session,
        code,
        procedure_at=now - timedelta(days=procedure_days_ago),
        created_at=now,
        **patient,
    )
    if treating_id is not None:
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == created.id)
        ).one()
        episode.treating_physician_id = treating_id
    parsed = parse_triage_input(dict(findings))
    return record_triage(
        session,
        patient_id=created.id,
        findings=parsed,
        outcome=assess(parsed),
        chosen=chosen,
        override_reason=override_reason,
        note=None,
        actor=actor,
        now=now,
        policies=policies,
    )
