"""Read one patient's dossier for the patient screen, in a fixed number of queries.

Each part (episodes, products, touchpoints, attempts, triages, incidents and
their notes (`db.incidents.read_incidents`, the one incident read), escalations
and their outbox counts) is one query filtered by the
patient, never one query per row, so a patient with years of follow-up opens
as fast as a new one. Returns plain `core.dossier` values, never ORM objects.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.domain import NotificationStatus
from core.dossier import (
    AlertPage,
    AlertRecord,
    AttemptRecord,
    EpisodeRecord,
    IncidentRecord,
    PatientDossier,
    PatientIdentity,
    ProductRecord,
    TouchpointRecord,
    TriageRecord,
    build_timeline,
    documentation_checklist,
    needs_words,
    parse_addons,
)
from core.oncall import ONCALL
from db.incidents import product_record, read_incidents
from db.models import (
    ContactAttempt,
    Escalation,
    OutboxNotification,
    Patient,
    ProductGiven,
    Staff,
    Touchpoint,
    TreatmentEpisode,
    TriageAssessment,
)


def load_dossier(session: Session, patient_id: int, now: datetime) -> PatientDossier | None:
    """Everything the patient screen shows for `patient_id` at `now`; None if no such patient."""
    identity = _identity(session, patient_id)
    if identity is None:
        return None
    triages = _triages(session, patient_id)
    attempts = _attempts(session, patient_id)
    incidents = _incidents(session, patient_id)
    alerts = _alerts(session, patient_id)
    timeline = build_timeline(
        now,
        touchpoints=[record for _, record in touchpoints_of(session, patient_id)],
        attempts=attempts,
        triages=triages,
        incidents=incidents,
        alerts=alerts,
    )
    return PatientDossier(
        identity=identity,
        episodes=_episodes(session, patient_id),
        timeline=timeline,
        read_at=now,
        triages=tuple(sorted(triages, key=lambda t: (t.assessed_at, t.triage_id))),
        attempts=tuple(sorted(attempts, key=lambda a: (a.at, a.attempt_id))),
        incidents=tuple(sorted(incidents, key=lambda i: (i.opened_at, i.incident_id))),
        alerts=tuple(sorted(alerts, key=lambda a: (a.created_at, a.escalation_id))),
    )


def _identity(session: Session, patient_id: int) -> PatientIdentity | None:
    row = session.execute(
        select(Patient, Staff.display_name)
        .outerjoin(Staff, Staff.id == Patient.assigned_to_id)
        .where(Patient.id == patient_id)
    ).one_or_none()
    if row is None:
        return None
    patient, coordinator = row
    return PatientIdentity(
        patient_id=patient.id,
        code=patient.code,
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date,
        home_country=patient.home_country,
        current_country=patient.current_country,
        language=patient.language,
        timezone=patient.timezone,
        channel=patient.channel,
        channel_handle=patient.channel_handle,
        phone=patient.phone,
        email=patient.email,
        assigned_coordinator=coordinator,
        latest_disposition=patient.latest_disposition,
        assigned_to_id=patient.assigned_to_id,
        next_touchpoint_id=patient.next_touchpoint_id,
        native_name=patient.native_name,
    )


def _episodes(session: Session, patient_id: int) -> tuple[EpisodeRecord, ...]:
    rows = session.execute(
        _with_staff_name(
            TreatmentEpisode, TreatmentEpisode.treating_physician_id, patient_id
        ).order_by(TreatmentEpisode.procedure_at.desc(), TreatmentEpisode.id.desc())
    ).all()
    products: dict[int, list[ProductRecord]] = defaultdict(list)
    for product in session.scalars(
        select(ProductGiven)
        .join(TreatmentEpisode, TreatmentEpisode.id == ProductGiven.episode_id)
        .where(TreatmentEpisode.patient_id == patient_id)
        .order_by(ProductGiven.id)
    ):
        products[product.episode_id].append(product_record(product))
    return tuple(
        EpisodeRecord(
            episode_id=episode.id,
            procedure_at=episode.procedure_at,
            protocol=episode.protocol,
            treating_physician=physician,
            nurse_name=episode.nurse_name,
            nurse_license_ref=episode.nurse_license_ref,
            addons=parse_addons(_as_list(episode.addons)),
            schedule_templates=tuple(str(t) for t in _as_list(episode.schedule_templates)),
            departure_date=episode.departure_date,
            travel_insurer=episode.travel_insurer,
            travel_policy_number=episode.travel_policy_number,
            khidi_cover_ref=episode.khidi_cover_ref,
            allergies=episode.allergies,
            vasovagal_history=episode.vasovagal_history,
            sensitive_skin=episode.sensitive_skin,
            products=tuple(products[episode.id]),
            documentation=documentation_checklist(_as_dict(episode.documentation)),
            has_allergies=episode.has_allergies,
            products_recorded=episode.products_recorded,
            addons_recorded=episode.addons_recorded,
            version=episode.version,
        )
        for episode, physician in rows
    )


def touchpoints_of(session: Session, patient_id: int) -> list[tuple[int, TouchpointRecord]]:
    """The patient's touchpoints with the episode each belongs to, in episode and
    then schedule order; the dossier's timeline and the exports read the same rows."""
    rows = _with_staff_name(Touchpoint, Touchpoint.resolved_by_id, patient_id).order_by(
        Touchpoint.episode_id, Touchpoint.opens_at, Touchpoint.day, Touchpoint.id
    )
    return [
        (
            tp.episode_id,
            TouchpointRecord(
                touchpoint_id=tp.id,
                template=tp.template,
                day=tp.day,
                due_date=tp.due_date,
                opens_at=tp.opens_at,
                closes_at=tp.closes_at,
                ask=tp.ask,
                resolution=tp.resolution,
                resolved_at=tp.resolved_at,
                resolved_by=resolved_by,
                note=tp.note,
            ),
        )
        for tp, resolved_by in session.execute(rows)
    ]


def _attempts(session: Session, patient_id: int) -> list[AttemptRecord]:
    rows = _with_staff_name(ContactAttempt, ContactAttempt.staff_id, patient_id)
    return [
        AttemptRecord(
            attempt_id=attempt.id,
            at=attempt.at,
            channel=attempt.channel,
            outcome=attempt.outcome,
            note=attempt.note,
            staff=staff,
        )
        for attempt, staff in session.execute(rows)
    ]


def _triages(session: Session, patient_id: int) -> list[TriageRecord]:
    rows = _with_staff_name(TriageAssessment, TriageAssessment.staff_id, patient_id)
    return [
        TriageRecord(
            triage_id=triage.id,
            assessed_at=triage.assessed_at,
            day=triage.day,
            temperature_c=triage.temperature_c,
            trend=triage.trend,
            symptoms=tuple(str(s) for s in _as_list(triage.symptoms)),
            computed=triage.computed_disposition,
            chosen=triage.chosen_disposition,
            override_reason=triage.override_reason,
            reasons=tuple(_reason_text(r) for r in _as_list(triage.reasons)),
            note=triage.note,
            staff=staff,
            labs=tuple(text for lab in _as_list(triage.labs) if (text := _lab_text(lab))),
            needs=needs_words(str(need) for need in _as_list(triage.needs)),
        )
        for triage, staff in session.execute(rows)
    ]


def _incidents(session: Session, patient_id: int) -> list[IncidentRecord]:
    return [
        IncidentRecord(
            incident_id=read.line.incident_id,
            opened_at=read.line.opened_at,
            category=read.line.category,
            seriousness=read.line.seriousness,
            severity_grade=read.line.severity_grade,
            outcome=read.line.outcome,
            status=read.line.status,
            report_due_on=read.line.report_due_on,
            reported_on=read.line.reported_on,
            suspect_product=_product_words(product.name, product.mfds_reference, product.lot_number)
            if (product := read.suspect_product) is not None
            else None,
            notes=read.entries,
            triage_id=read.triage_id,
        )
        for read in read_incidents(session, patient_id=patient_id)
    ]


def _alerts(session: Session, patient_id: int) -> list[AlertRecord]:
    escalations = session.execute(
        _with_staff_name(Escalation, Escalation.acknowledged_by_id, patient_id)
    ).all()
    if not escalations:
        return []
    counts: dict[int, dict[NotificationStatus, int]] = defaultdict(dict)
    for escalation_id, status, count in session.execute(
        select(OutboxNotification.escalation_id, OutboxNotification.status, func.count())
        .join(Escalation, Escalation.id == OutboxNotification.escalation_id)
        .where(Escalation.patient_id == patient_id)
        .group_by(OutboxNotification.escalation_id, OutboxNotification.status)
    ):
        counts[escalation_id][status] = count
    # Every page of every alert in one query: who was paged, and the latest failure.
    last_errors: dict[int, str] = {}
    pages: dict[int, list[AlertPage]] = defaultdict(list)
    names = _paged_names(session)
    for row in session.execute(
        select(
            OutboxNotification.escalation_id,
            OutboxNotification.step,
            OutboxNotification.cycle,
            OutboxNotification.target_tag,
            OutboxNotification.status,
            OutboxNotification.sent_at,
            OutboxNotification.created_at,
            OutboxNotification.results,
            OutboxNotification.last_error,
        )
        .join(Escalation, Escalation.id == OutboxNotification.escalation_id)
        .where(Escalation.patient_id == patient_id)
        .order_by(OutboxNotification.id)
    ):
        if row.last_error:
            last_errors[row.escalation_id] = row.last_error
        pages[row.escalation_id].append(
            AlertPage(
                step=row.step,
                cycle=row.cycle,
                to=_paged_words(row.target_tag, row.results, names),
                status=row.status,
                at=row.sent_at if row.sent_at is not None else row.created_at,
            )
        )
    return [
        AlertRecord(
            escalation_id=escalation.id,
            created_at=escalation.created_at,
            disposition=escalation.disposition,
            status=escalation.status,
            current_step=escalation.current_step,
            cycle=escalation.cycle,
            acknowledged_at=escalation.acknowledged_at,
            acknowledged_by=acknowledged_by,
            notifications=counts[escalation.id],
            last_error=last_errors.get(escalation.id),
            pages=tuple(sorted(pages[escalation.id], key=lambda p: (p.cycle, p.step, p.at))),
            triage_id=escalation.triage_id,
            incident_id=escalation.incident_id,
        )
        for escalation, acknowledged_by in escalations
    ]


def _paged_names(session: Session) -> dict[str, str]:
    """Display names by notify tag and by login: pages name their target by tag, and
    an `oncall` page records the login of the physician it reached."""
    names: dict[str, str] = {}
    for login, tag, name in session.execute(
        select(Staff.username, Staff.notify_tag, Staff.display_name)
    ):
        names[f"login:{login}"] = name
        if tag:
            names[tag] = name
    return names


def _paged_words(tag: str, results: Any, names: dict[str, str]) -> str:
    """Whom a page went to, in words: a person's name, never their tag."""
    if tag == ONCALL:
        for attempt in reversed(results or []):
            routed = attempt.get("oncall") if isinstance(attempt, dict) else None
            if isinstance(routed, dict) and routed.get("physician"):
                login = str(routed["physician"])
                return f"the on-call physician, {names.get(f'login:{login}', login)}"
        return "the on-call physician"
    return names.get(tag, f"the {tag} group")


def _with_staff_name(entity: Any, staff_id: Any, patient_id: int) -> Select[Any]:
    """The patient's rows of `entity`, each with the display name of the staff
    member `staff_id` points at (None when no one)."""
    return (
        select(entity, Staff.display_name)
        .outerjoin(Staff, Staff.id == staff_id)
        .where(entity.patient_id == patient_id)
    )


def _product_words(name: str | None, mfds: str | None, lot: str | None) -> str | None:
    if name is None:
        return None
    refs = ", ".join(
        p for p in (f"MFDS {mfds}" if mfds else None, f"lot {lot}" if lot else None) if p
    )
    return f"{name} ({refs})" if refs else name


def _reason_text(reason: Any) -> str:
    # Stored reasons are {"rule": ..., "text": ...} (the triage contract); read
    # older plain strings too rather than hide them.
    if isinstance(reason, dict):
        return str(reason.get("text") or reason.get("rule") or reason)
    return str(reason)


def _lab_text(lab: Any) -> str | None:
    # Stored as {"lab": id, "text": words}: only the words reach a reader, never
    # the id, so anything stored without words is left out rather than shown as
    # its id.
    text = lab.get("text") if isinstance(lab, dict) else None
    return text.strip() or None if isinstance(text, str) else None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}
