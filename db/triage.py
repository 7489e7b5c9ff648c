"""Saving a triage: the assessment, and from its disposition the incident and the
escalation with its outbox rows, all in the caller's one transaction.

Nothing is sent from here: the dispatcher picks the outbox rows up. A chosen
disposition different from the computed one needs a written reason; both
are kept.

A triage is not a physician's assessment. The incident it opens is "not yet
assessed", with the category the rules suggest, no suspect product, and the
deadline the triage suggests. Choosing lower than computed does not hide a
suspected adverse event: from a computed `review` the incident still opens,
marked downgraded with the reason, and from a computed `urgent` or
`emergency` the treating physician still gets one message saying so (no
paging chain). A `monitor` triage adds a re-check 48 hours later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.commands import TriageEntry
from core.domain import (
    Disposition,
    EscalationStatus,
    Seriousness,
)
from core.escalation import (
    DEFAULT_POLICIES,
    TREATING,
    EscalationPolicy,
    EscalationStep,
)
from core.incidents import DEFAULT_REPORTING, ReportingPolicy, triage_clock_disposition
from core.permissions import Action
from core.schedules import CLINIC_TZ, event_touchpoint_window, procedure_local_date
from core.triage import TriageOutcome
from db import audit
from db.escalations import queue_step
from db.followup import (
    Actor,
    FollowUpConflict,
    mark_changed,
    refresh_next_touchpoint,
    require,
    set_latest_disposition,
)
from db.incidents import open_incident
from db.models import (
    Escalation,
    OutboxNotification,
    Patient,
    Touchpoint,
    TreatmentEpisode,
    TriageAssessment,
)

RECHECK_TEMPLATE = "triage-recheck"
"""The template name of the touchpoint a `monitor` triage adds."""
RECHECK_AFTER = timedelta(hours=48)
"""A monitor finding is seen again after this long, not at the next planned day."""

_ONE_MESSAGE = EscalationPolicy((EscalationStep((TREATING,), 0),), repeat=1, pages=False)
"""The treating physician, once (the review path's shape): told of an override
down, without the paging chain the coordinator decided against."""

_NEEDS_WORDS = {
    "trend": "trend not recorded: choose improving, stable or worsening",
    "protocol": "protocol not recorded: choose the episode's protocol",
}


@dataclass(frozen=True)
class SavedTriage:
    """What one saved triage created."""

    assessment_id: int
    disposition: Disposition
    incident_id: int | None
    escalation_id: int | None
    notifications: int
    recheck_touchpoint_id: int | None = None
    """The re-check a `monitor` triage added, if any."""


def record_triage(
    session: Session,
    now: datetime,
    actor: Actor,
    patient_id: int,
    entry: TriageEntry,
    *,
    policies: dict[Disposition, EscalationPolicy] | None = None,
    include_patient_name: bool = False,
    reporting: ReportingPolicy = DEFAULT_REPORTING,
) -> SavedTriage:
    """Save the assessment and everything its disposition requires.

    Refused while the outcome still needs an input that could raise it (a
    missing trend or protocol): the form asks for it first.
    """
    require(session, actor, Action.TRIAGE)
    findings, outcome = entry.findings, entry.outcome
    if outcome.needs:
        raise FollowUpConflict(
            "; ".join(_NEEDS_WORDS.get(need, f"{need} not recorded") for need in outcome.needs)
        )
    final = entry.chosen or outcome.disposition
    reason = (entry.override_reason or "").strip()
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
        note=(entry.note or "").strip() or None,
        staff_id=actor.staff_id,
        labs=[{"lab": lab.lab, "text": lab.text} for lab in outcome.labs],
        needs=list(outcome.needs),
        protocol=findings.protocol,
        addons=list(findings.addons),
    )
    session.add(assessment)
    # The queue orders by what the coordinator chose; the incident and the
    # physician's message below keep what was computed.
    set_latest_disposition(session, patient, final)
    session.flush()
    # Named "triage", as it always has been, not by its table (triage_assessment):
    # renaming it would split the history of one assessment in two.
    about = ("triage", assessment.id)
    assessed = {
        "patient": patient.id,
        "computed": outcome.disposition.value,
        "chosen": final.value,
        "override_reason": reason or None,
        "rules_version": outcome.rules_version,
        "symptoms": assessment.symptoms,
        "temperature_c": findings.temperature_c,
        "labs": [lab["lab"] for lab in assessment.labs],
    }
    audit.log(session, now, actor, "triage.record", about, after=assessed)
    documented = triage_clock_disposition(outcome.disposition, final)
    incident_id = (
        _open_incident(session, assessment, outcome, documented, actor, now, reporting)
        if documented.opens_incident
        else None
    )
    downgraded = final.severity < outcome.disposition.severity
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
    elif downgraded and outcome.disposition.pages_physician:
        # The coordinator chose not to page: the treating physician is still told,
        # once, as review tells them (a REVIEW escalation is no queue alert).
        escalation_id, sent = _escalate(
            session,
            patient,
            assessment,
            incident_id,
            Disposition.REVIEW,
            actor,
            now,
            _ONE_MESSAGE,
            include_patient_name,
            further_steps=False,
        )
    if escalation_id is not None and downgraded and outcome.disposition.pages_physician:
        _say_override(session, escalation_id, assessment, incident_id, final)
    recheck = (
        _add_recheck(session, patient, episode, assessment, actor, now)
        if final is Disposition.MONITOR
        else None
    )
    return SavedTriage(assessment.id, final, incident_id, escalation_id, sent, recheck)


def _open_incident(
    session: Session,
    assessment: TriageAssessment,
    outcome: TriageOutcome,
    documented: Disposition,
    actor: Actor,
    now: datetime,
    reporting: ReportingPolicy,
) -> int:
    learned = now.astimezone(CLINIC_TZ).date()
    episode_at = session.scalar(
        select(TreatmentEpisode.procedure_at).where(TreatmentEpisode.id == assessment.episode_id)
    )
    computed, chosen = assessment.computed_disposition, assessment.chosen_disposition
    if chosen is computed:
        text = f"Opened from triage #{assessment.id} ({chosen.value})."
    else:
        text = (
            f"Opened from triage #{assessment.id}: computed {computed.value}, "
            f"coordinator chose {chosen.value}: {assessment.override_reason}"
        )
    return open_incident(
        session,
        patient_id=assessment.patient_id,
        episode_id=assessment.episode_id,
        triage_id=assessment.id,
        category=outcome.category,
        # A triage is not a physician's assessment: neither serious nor non-serious yet.
        seriousness=Seriousness.NOT_ASSESSED,
        onset_date=_onset_date(episode_at, assessment.day, learned),
        onset_day=assessment.day,
        learned_on=learned,
        report_due_on=reporting.due_on_triage(documented, learned),
        entry=text,
        actor=actor,
        now=now,
        downgraded=chosen.severity < computed.severity,
    )


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
    *,
    further_steps: bool = True,
) -> tuple[int, int]:
    escalation = Escalation(
        patient_id=patient.id,
        incident_id=incident_id,
        triage_id=assessment.id,
        disposition=final,
        status=EscalationStatus.OPEN,
        current_step=1,
        cycle=1,
        # Without further steps the dispatcher never advances it: one message only.
        next_step_at=(
            now + timedelta(minutes=policy.steps[0].wait_minutes) if further_steps else None
        ),
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
    paged = {"disposition": final.value, "step": 1, "notifications": queued}
    audit.log(session, now, actor, "escalation.open", escalation, after=paged)
    return escalation.id, queued


def _say_override(
    session: Session,
    escalation_id: int,
    assessment: TriageAssessment,
    incident_id: int | None,
    chosen: Disposition,
) -> None:
    """Tell the physician in the message itself that the coordinator chose lower, and why."""
    computed = assessment.computed_disposition
    note = (
        f"\nThe triage computed {computed.value.upper()}; the coordinator chose {chosen.value} "
        f"instead: {assessment.override_reason}\n"
        + (
            f"Incident #{incident_id} stays open until a physician decides.\n"
            if incident_id is not None
            else ""
        )
    )
    rows = session.scalars(
        select(OutboxNotification).where(OutboxNotification.escalation_id == escalation_id)
    ).all()
    for row in rows:
        if not chosen.pages_physician:
            row.title = (
                f"[E-{escalation_id}] {computed.value.upper()} computed, "
                f"coordinator chose {chosen.value}"
            )
        row.body = row.body + note
    session.flush()


def _add_recheck(
    session: Session,
    patient: Patient,
    episode: TreatmentEpisode,
    assessment: TriageAssessment,
    actor: Actor,
    now: datetime,
) -> int | None:
    """A touchpoint 48 hours after a monitor triage, with a one-day window (the due
    day and the day after) in the patient's time zone, so a day-4 monitor is not
    left until the day-7 check. None when an open re-check for that day exists
    already (a second monitor triage the same day)."""
    zone = ZoneInfo(patient.timezone)
    window = event_touchpoint_window(now + RECHECK_AFTER, zone)
    day = (window.due_date - procedure_local_date(episode.procedure_at)).days
    ask = (
        f"Re-check after the monitor triage of day {assessment.day}: "
        "is it better, the same or worse?"
    )
    exists = session.scalar(
        select(Touchpoint.id).where(
            Touchpoint.episode_id == episode.id,
            Touchpoint.template == RECHECK_TEMPLATE,
            Touchpoint.due_date == window.due_date,
            Touchpoint.resolution.is_(None),
        )
    )
    if exists is not None:
        return None
    touchpoint = Touchpoint(
        episode_id=episode.id,
        patient_id=patient.id,
        template=RECHECK_TEMPLATE,
        day=day,
        due_date=window.due_date,
        opens_at=window.opens_at,
        closes_at=window.closes_at,
        ask=ask,
        photos_wanted=False,
    )
    session.add(touchpoint)
    session.flush()
    added = {
        "patient": patient.id,
        "template": RECHECK_TEMPLATE,
        "triage": assessment.id,
        "day": day,
        "due_date": window.due_date.isoformat(),
    }
    audit.log(session, now, actor, "touchpoint.add", touchpoint, after=added)
    refresh_next_touchpoint(session, patient.id)
    return touchpoint.id


def _onset_date(procedure_at: datetime | None, day: int | None, learned: date) -> date | None:
    """Day N after the procedure's local (Seoul) date: the day the triage asked about.

    None when that would fall after the day the clinic learned of it (a day
    number that does not fit the procedure date is left for a person to fix).
    """
    if procedure_at is None or day is None:
        return None
    onset = procedure_local_date(procedure_at) + timedelta(days=day)
    return onset if onset <= learned else None
