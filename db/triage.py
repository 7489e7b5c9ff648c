"""Saving a triage: the assessment, and from its disposition the incident and the
escalation with its outbox rows, all in the caller's one transaction.

Nothing is sent from here: the dispatcher picks the outbox rows up. A chosen
disposition different from the computed one needs a written reason; both
are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain import (
    Disposition,
    EscalationStatus,
    IncidentOutcome,
    IncidentStatus,
    Seriousness,
)
from core.escalation import (
    DEFAULT_POLICIES,
    EscalationPolicy,
)
from core.incidents import DEFAULT_REPORTING, ReportingPolicy, suggest_category
from core.permissions import Action
from core.schedules import CLINIC_TZ, procedure_local_date
from core.triage import Findings, TriageOutcome
from db import audit
from db.escalations import queue_step
from db.followup import Actor, FollowUpConflict, mark_changed, require, set_latest_disposition
from db.incidents import first_product_id
from db.models import (
    Escalation,
    Incident,
    IncidentEntry,
    Patient,
    TreatmentEpisode,
    TriageAssessment,
)


@dataclass(frozen=True)
class SavedTriage:
    """What one saved triage created."""

    assessment_id: int
    disposition: Disposition
    incident_id: int | None
    escalation_id: int | None
    notifications: int


def record_triage(
    session: Session,
    *,
    patient_id: int,
    findings: Findings,
    outcome: TriageOutcome,
    chosen: Disposition | None,
    override_reason: str | None,
    note: str | None,
    actor: Actor,
    now: datetime,
    policies: dict[Disposition, EscalationPolicy] | None = None,
    include_patient_name: bool = False,
    reporting: ReportingPolicy = DEFAULT_REPORTING,
) -> SavedTriage:
    """Save the assessment and everything its disposition requires."""
    require(session, actor, Action.TRIAGE)
    final = chosen or outcome.disposition
    reason = (override_reason or "").strip()
    if final is not outcome.disposition and not reason:
        raise FollowUpConflict(
            f"choosing {final.value} instead of the computed {outcome.disposition.value} "
            "needs a written reason"
        )
    mark_changed(session, now)
    patient = session.get(Patient, patient_id, with_for_update=True, populate_existing=True)
    if patient is None:
        raise FollowUpConflict(f"patient {patient_id} no longer exists")
    episode = session.scalar(
        select(TreatmentEpisode)
        .where(TreatmentEpisode.patient_id == patient_id)
        .order_by(TreatmentEpisode.procedure_at.desc())
        .limit(1)
    )
    if episode is None:
        raise FollowUpConflict("this patient has no treatment episode to triage against")
    assessment = TriageAssessment(
        patient_id=patient.id,
        episode_id=episode.id,
        touchpoint_id=patient.next_touchpoint_id,
        assessed_at=now,
        day=findings.day,
        temperature_c=findings.temperature_c,
        trend=findings.trend,
        symptoms=sorted(findings.symptoms),
        current_country=patient.current_country,
        computed_disposition=outcome.disposition,
        chosen_disposition=final,
        override_reason=reason or None,
        reasons=[{"rule": r.rule, "text": r.text} for r in outcome.reasons],
        rules_version=outcome.rules_version,
        note=(note or "").strip() or None,
        staff_id=actor.staff_id,
    )
    session.add(assessment)
    set_latest_disposition(session, patient, final)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action="triage.record",
        entity="triage",
        entity_id=assessment.id,
        after={
            "patient": patient.id,
            "computed": outcome.disposition.value,
            "chosen": final.value,
            "override_reason": reason or None,
            "rules_version": outcome.rules_version,
            "symptoms": assessment.symptoms,
            "temperature_c": findings.temperature_c,
        },
    )
    incident_id = (
        _open_incident(session, assessment, final, actor, now, reporting)
        if final.opens_incident
        else None
    )
    escalation_id, sent = None, 0
    # Review emails the treating physician (no paging); urgent and up page the chain.
    if final.opens_incident:
        escalation_id, sent = _escalate(
            session,
            patient,
            assessment,
            incident_id,
            final,
            actor,
            now,
            (policies or DEFAULT_POLICIES)[final],
            include_patient_name,
        )
    return SavedTriage(assessment.id, final, incident_id, escalation_id, sent)


def _open_incident(
    session: Session,
    assessment: TriageAssessment,
    final: Disposition,
    actor: Actor,
    now: datetime,
    reporting: ReportingPolicy,
) -> int:
    learned = now.astimezone(CLINIC_TZ).date()
    episode_at = session.scalar(
        select(TreatmentEpisode.procedure_at).where(TreatmentEpisode.id == assessment.episode_id)
    )
    # An emergency is at least "other medically important" until a physician grades it.
    seriousness = (
        Seriousness.MEDICALLY_IMPORTANT
        if final is Disposition.EMERGENCY
        else Seriousness.NON_SERIOUS
    )
    incident = Incident(
        patient_id=assessment.patient_id,
        episode_id=assessment.episode_id,
        triage_id=assessment.id,
        category=suggest_category(assessment.symptoms, assessment.temperature_c),
        onset_day=assessment.day,
        onset_date=_onset_date(episode_at, assessment.day, learned),
        learned_on=learned,
        seriousness=seriousness,
        outcome=IncidentOutcome.UNKNOWN,
        status=IncidentStatus.OPEN,
        report_due_on=reporting.due_on(seriousness, learned),
        suspect_product_id=first_product_id(session, assessment.episode_id),
        created_at=now,
    )
    session.add(incident)
    session.flush()
    session.add(
        IncidentEntry(
            incident_id=incident.id,
            at=now,
            staff_id=actor.staff_id,
            kind="opened",
            text=f"Opened from triage #{assessment.id} ({final.value}).",
        )
    )
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action="incident.open",
        entity="incident",
        entity_id=incident.id,
        after={
            "triage": assessment.id,
            "category": incident.category.value,
            "seriousness": seriousness.value,
            "report_due_on": incident.report_due_on.isoformat() if incident.report_due_on else None,
        },
    )
    return incident.id


def _escalate(
    session: Session,
    patient: Patient,
    assessment: TriageAssessment,
    incident_id: int | None,
    final: Disposition,
    actor: Actor,
    now: datetime,
    policy: EscalationPolicy,
    include_patient_name: bool,
) -> tuple[int, int]:
    escalation = Escalation(
        patient_id=patient.id,
        incident_id=incident_id,
        triage_id=assessment.id,
        disposition=final,
        status=EscalationStatus.OPEN,
        current_step=1,
        cycle=1,
        next_step_at=now + timedelta(minutes=policy.steps[0].wait_minutes),
        created_at=now,
    )
    session.add(escalation)
    session.flush()
    queued = queue_step(
        session,
        escalation_id=escalation.id,
        step=1,
        cycle=1,
        now=now,
        policy=policy,
        include_patient_name=include_patient_name,
    )
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action="escalation.open",
        entity="escalation",
        entity_id=escalation.id,
        after={"disposition": final.value, "step": 1, "notifications": queued},
    )
    return escalation.id, queued


def _onset_date(procedure_at: datetime | None, day: int | None, learned: date) -> date | None:
    """Day N after the procedure's local (Seoul) date: the day the triage asked about.

    None when that would fall after the day the clinic learned of it (a day
    number that does not fit the procedure date is left for a person to fix).
    """
    if procedure_at is None or day is None:
        return None
    onset = procedure_local_date(procedure_at) + timedelta(days=day)
    return onset if onset <= learned else None
