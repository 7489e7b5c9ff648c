"""Follow-up work a coordinator does: contact attempts, done, skip, claim.

Every function runs inside the caller's transaction and, in that same
transaction, keeps the patient's next-touchpoint cache right, bumps the
change marker other screens poll, and appends an audit event. Conflicts a
person can cause (a touchpoint someone else just closed, a patient someone
else claimed) raise `FollowUpConflict` with a sentence to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from core.countries import emergency_contact
from core.domain import Channel, ContactOutcome, Disposition, Role, TouchpointResolution
from core.messages import MessageContext, RenderedMessage, render_message
from core.permissions import Action, NotPermitted, allowed
from core.schedules import procedure_local_date
from db import audit
from db.conflicts import ACTION_WORDS, last_change, staff_name, when
from db.listen import notify_change
from db.models import ChangeMarker, ContactAttempt, Patient, Staff, Touchpoint


class FollowUpConflict(Exception):
    """The action cannot be done as asked; `str()` says why in one sentence."""


@dataclass(frozen=True)
class Actor:
    """The staff member doing the work."""

    staff_id: int
    username: str
    display_name: str
    role: Role = Role.COORDINATOR
    """The role at sign-in, for the screens; `require` checks the current one."""


class PermissionRefused(FollowUpConflict, NotPermitted):
    """The actor's role does not allow the action (core.permissions), or the actor is
    no longer active staff. A FollowUpConflict too, so every screen and command that
    shows a refusal shows this one."""


def require(session: Session, actor: Actor, action: Action) -> None:
    """Refuse before anything is written unless the actor is active staff whose
    current role may do `action`.

    Reads the staff row rather than trusting `actor.role`: someone an admin
    disables or moves to another role is stopped at their next action, not at
    their next sign-in.
    """
    row = session.execute(
        select(Staff.role, Staff.active).where(Staff.id == actor.staff_id)
    ).first()
    if row is None or not row.active:
        raise PermissionRefused(
            None,
            action,
            f"{actor.username} is not an active staff member any more, so may not {action.words}.",
        )
    if not allowed(row.role, action):
        raise PermissionRefused(row.role, action)


def mark_changed(session: Session, now: datetime) -> None:
    """Bump the change marker so every open queue refreshes.

    Done first in each write: on PostgreSQL it row-locks the marker and on
    SQLite it takes the write lock, which also serialises audit appends.
    """
    session.execute(
        update(ChangeMarker)
        .where(ChangeMarker.id == 1)
        .values(counter=ChangeMarker.counter + 1, changed_at=now)
    )
    notify_change(session)  # PostgreSQL: wake other apps' listeners at commit (db.listen)


def refresh_next_touchpoint(session: Session, patient_id: int) -> None:
    """Recompute the patient's cached next touchpoint (core.queue's rule)."""
    session.flush()
    row = session.execute(
        select(Touchpoint.id, Touchpoint.opens_at, Touchpoint.closes_at)
        .where(Touchpoint.patient_id == patient_id, Touchpoint.resolution.is_(None))
        .order_by(Touchpoint.closes_at, Touchpoint.opens_at, Touchpoint.id)
        .limit(1)
    ).first()
    session.execute(
        update(Patient)
        .where(Patient.id == patient_id)
        .values(
            next_touchpoint_id=row[0] if row else None,
            next_opens_at=row[1] if row else None,
            next_closes_at=row[2] if row else None,
        )
    )


def set_latest_disposition(session: Session, patient: Patient, disposition: Disposition) -> None:
    """Record the latest triage outcome and the severity the queue sorts by."""
    patient.latest_disposition = disposition
    patient.latest_severity = disposition.severity


def _open_touchpoint(session: Session, touchpoint_id: int) -> Touchpoint:
    # Under the change-marker lock: re-read, so a copy this session loaded
    # earlier cannot hide a resolution someone committed since.
    touchpoint = session.get(
        Touchpoint, touchpoint_id, with_for_update=True, populate_existing=True
    )
    if touchpoint is None:
        raise FollowUpConflict(f"touchpoint {touchpoint_id} no longer exists")
    if touchpoint.resolution is not None:
        raise FollowUpConflict(_resolved_words(session, touchpoint))
    return touchpoint


def _resolved_words(session: Session, touchpoint: Touchpoint) -> str:
    """'this touchpoint was marked done by Park Ji-yeon at 22 Nov 14:02 KST; ...'."""
    assert touchpoint.resolution is not None
    what = ACTION_WORDS[f"touchpoint.{touchpoint.resolution.value}"]
    at = f" at {when(touchpoint.resolved_at)}" if touchpoint.resolved_at else ""
    done = touchpoint.resolution is TouchpointResolution.DONE
    why = f" ({touchpoint.note})" if touchpoint.note and not done else ""
    return (
        f"this touchpoint was {what} by {staff_name(session, touchpoint.resolved_by_id)}{at}"
        f"{why}; nothing was saved, and the queue shows the current state"
    )


def log_contact_attempt(
    session: Session,
    *,
    touchpoint_id: int,
    channel: Channel,
    outcome: ContactOutcome,
    note: str | None,
    actor: Actor,
    now: datetime,
    unreachable_after: int,
) -> ContactAttempt:
    """Record one attempt; after `unreachable_after` failed attempts in a row
    with no reply from the patient, the touchpoint becomes unreachable."""
    require(session, actor, Action.FOLLOW_UP)
    mark_changed(session, now)
    touchpoint = _open_touchpoint(session, touchpoint_id)
    patient = session.get(Patient, touchpoint.patient_id, populate_existing=True)
    assert patient is not None
    attempt = ContactAttempt(
        touchpoint_id=touchpoint.id,
        patient_id=patient.id,
        at=now,
        channel=channel,
        outcome=outcome,
        note=note or None,
        staff_id=actor.staff_id,
    )
    session.add(attempt)
    # "Last" means latest in time, not last to commit: a colleague's attempt
    # logged a moment earlier may commit after this one.
    if patient.last_contact_at is None or patient.last_contact_at < now:
        patient.last_contact_at = now
    heard_before = patient.last_heard_at
    if outcome.heard_from_patient and (heard_before is None or heard_before < now):
        patient.last_heard_at = now
    session.flush()
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action="contact_attempt.add",
        entity="contact_attempt",
        entity_id=attempt.id,
        after={
            "touchpoint": touchpoint.id,
            "channel": channel.value,
            "outcome": outcome.value,
            "note": note,
        },
    )
    if not outcome.heard_from_patient and _failed_in_a_row(session, touchpoint.id) >= (
        unreachable_after
    ):
        touchpoint.resolution = TouchpointResolution.UNREACHABLE
        touchpoint.resolved_at = now
        touchpoint.resolved_by_id = actor.staff_id
        touchpoint.note = f"no reply after {unreachable_after} attempts"
        touchpoint.version += 1
        audit.record(
            session,
            at=now,
            actor=actor.username,
            action="touchpoint.unreachable",
            entity="touchpoint",
            entity_id=touchpoint.id,
            before={"resolution": None},
            after={"resolution": "unreachable"},
        )
        refresh_next_touchpoint(session, patient.id)
    return attempt


def _failed_in_a_row(session: Session, touchpoint_id: int) -> int:
    # Attempts since the patient last replied on this touchpoint.
    heard = [o.value for o in ContactOutcome if o.heard_from_patient]
    last_heard = session.scalar(
        select(func.max(ContactAttempt.id)).where(
            ContactAttempt.touchpoint_id == touchpoint_id, ContactAttempt.outcome.in_(heard)
        )
    )
    query = select(func.count()).where(ContactAttempt.touchpoint_id == touchpoint_id)
    if last_heard is not None:
        query = query.where(ContactAttempt.id > last_heard)
    return session.scalar(query) or 0


def resolve_touchpoint(
    session: Session,
    *,
    touchpoint_id: int,
    resolution: TouchpointResolution,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> Touchpoint:
    """Mark a touchpoint done (note optional) or skipped (reason required)."""
    require(session, actor, Action.FOLLOW_UP)
    if resolution is TouchpointResolution.SKIPPED and not (note or "").strip():
        raise FollowUpConflict("skipping a touchpoint needs a reason")
    mark_changed(session, now)
    touchpoint = _open_touchpoint(session, touchpoint_id)
    touchpoint.resolution = resolution
    touchpoint.resolved_at = now
    touchpoint.resolved_by_id = actor.staff_id
    touchpoint.note = (note or "").strip() or None
    touchpoint.version += 1
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action=f"touchpoint.{resolution.value}",
        entity="touchpoint",
        entity_id=touchpoint.id,
        before={"resolution": None},
        after={"resolution": resolution.value, "note": note},
    )
    refresh_next_touchpoint(session, touchpoint.patient_id)
    return touchpoint


def claim_patient(session: Session, *, patient_id: int, actor: Actor, now: datetime) -> None:
    """Assign the patient to the actor, only if nobody holds them (compare-and-set)."""
    require(session, actor, Action.FOLLOW_UP)
    mark_changed(session, now)
    claimed = session.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.assigned_to_id.is_(None))
        .values(assigned_to_id=actor.staff_id, version=Patient.version + 1)
        .execution_options(synchronize_session=False)
    )
    if _rows(claimed) == 0:
        holder = session.scalar(select(Patient.assigned_to_id).where(Patient.id == patient_id))
        if holder is None:
            raise FollowUpConflict(f"patient {patient_id} no longer exists")
        if holder == actor.staff_id:
            return
        raise FollowUpConflict(
            f"{staff_name(session, holder)} already holds this patient"
            f"{_claimed_when(session, patient_id)}; nothing was saved"
        )
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action="patient.claim",
        entity="patient",
        entity_id=patient_id,
        before={"assigned_to": None},
        after={"assigned_to": actor.staff_id},
    )


def release_patient(session: Session, *, patient_id: int, actor: Actor, now: datetime) -> None:
    """Give the patient back to the unassigned pool, only if the actor holds them."""
    require(session, actor, Action.FOLLOW_UP)
    mark_changed(session, now)
    released = session.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.assigned_to_id == actor.staff_id)
        .values(assigned_to_id=None, version=Patient.version + 1)
        .execution_options(synchronize_session=False)
    )
    if _rows(released) == 0:
        exists = session.execute(
            select(Patient.assigned_to_id).where(Patient.id == patient_id)
        ).first()
        if exists is None:
            raise FollowUpConflict(f"patient {patient_id} no longer exists")
        if exists.assigned_to_id is not None:
            raise FollowUpConflict(
                f"{staff_name(session, exists.assigned_to_id)} holds this patient"
                f"{_claimed_when(session, patient_id)}, not you, so there is nothing to release"
            )
        change = last_change(session, "patient", patient_id, ["patient.release"])
        by = f": {change.words}" if change else ""
        raise FollowUpConflict(f"nobody holds this patient{by}, so there is nothing to release")
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action="patient.release",
        entity="patient",
        entity_id=patient_id,
        before={"assigned_to": actor.staff_id},
        after={"assigned_to": None},
    )


def _claimed_when(session: Session, patient_id: int) -> str:
    change = last_change(session, "patient", patient_id, ["patient.claim"])
    return f" (claimed at {when(change.at)})" if change else ""


def _rows(result: object) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def find_actor(session: Session, username: str) -> Actor | None:
    """The active staff member with this login, if any."""
    staff = session.scalar(select(Staff).where(Staff.username == username, Staff.active))
    if staff is None:
        return None
    return Actor(staff.id, staff.username, staff.display_name, staff.role)


def aftercare_message(
    session: Session, *, touchpoint_id: int, actor: Actor, clinic_name: str
) -> RenderedMessage:
    """The aftercare message for a touchpoint, in the patient's language."""
    touchpoint = session.get(Touchpoint, touchpoint_id)
    if touchpoint is None:
        raise FollowUpConflict(f"touchpoint {touchpoint_id} no longer exists")
    patient = session.get(Patient, touchpoint.patient_id)
    assert patient is not None
    episode = touchpoint.episode
    return render_message(
        MessageContext(
            patient_name=patient.given_name,
            language=patient.language,
            template=touchpoint.template,
            day=touchpoint.day,
            procedure_date=procedure_local_date(episode.procedure_at),
            photos_wanted=touchpoint.photos_wanted,
            emergency_number=emergency_contact(patient.current_country).numbers_text,
            coordinator_name=actor.display_name,
            clinic_name=clinic_name,
        )
    )
