"""Small builders for test data, written through the real models."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.commands import TriageEntry
from core.domain import Channel, Disposition, Protocol, Role
from core.escalation import EscalationPolicy
from core.schedules import builtin_templates, touchpoint_window
from core.triage import assess, parse_triage_input
from db.engine import make_engine, make_session_factory, transaction
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
        entry=TriageEntry(parsed, assess(parsed), chosen, override_reason),
        actor=actor,
        now=now,
        policies=policies,
    )


@contextmanager
def at_the_keyboard(database_url: str, login: str) -> Iterator[str]:
    """Let the OS login the tests run as stand in for staff member `login`; yields
    the login the product will see (pass it as LOGNAME/USER, which only root's may set).

    aftercare trusts only the account the process runs as (tui.identity), so an
    ordinary user cannot be `rn.kim` and `it.admin` in turn. For the length of the
    block `login`'s staff record carries the OS login instead (put back afterwards);
    a `login` not on the staff list leaves the OS login a stranger there too.
    """
    me = pwd.getpwuid(os.geteuid()).pw_name
    engine = make_engine(database_url)
    try:
        sessions = make_session_factory(engine)

        def rename(old: str, new: str) -> None:
            with transaction(sessions) as session:
                staff = session.scalars(select(Staff).where(Staff.username == old)).one_or_none()
                if staff is not None:
                    staff.username = new

        swap = login != me
        if swap:
            with sessions() as session:
                taken = session.scalars(select(Staff.id).where(Staff.username == me)).first()
            assert taken is None, f"the OS login {me!r} is already on staff: it cannot stand in"
            rename(login, me)
        try:
            yield me
        finally:
            if swap:
                rename(me, login)
    finally:
        engine.dispose()
