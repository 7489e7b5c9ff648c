"""Follow-up work a coordinator does: contact attempts, done, skip, claim.

Every function runs inside the caller's transaction and, in that same
transaction, keeps the patient's next-touchpoint cache right, bumps the
change marker other screens poll, and appends an audit event. Conflicts a
person can cause (a touchpoint someone else just closed, a patient someone
else claimed) raise `FollowUpConflict` with a sentence to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core.countries import emergency_contact
from core.domain import (
    Channel,
    ContactOutcome,
    Disposition,
    Protocol,
    Role,
    TouchpointResolution,
)
from core.messages import MessageContext, RenderedMessage, render_message
from core.permissions import Action, NotPermitted, allowed
from core.refusals import Refused
from core.schedules import days_after_procedure, procedure_local_date
from db import audit
from db.conflicts import ACTION_WORDS, last_change, staff_name, when
from db.listen import notify_change
from db.models import ChangeMarker, ContactAttempt, Patient, Staff, Touchpoint, TreatmentEpisode

DEFAULT_REPLY_WINDOW = timedelta(hours=24)
"""How long a message may wait for the patient's reply before it counts as a failed
attempt (setting `reply_window_hours`)."""


class FollowUpConflict(Refused):
    """The action cannot be done as asked; `str()` says why in one sentence.

    Kept as the name the `db` functions raise; it is a `core.refusals.Refused`,
    which is what every face catches."""


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


@dataclass(frozen=True)
class FailedAttempts:
    """The failed attempts that count toward `unreachable` on one touchpoint."""

    unanswered_calls: int
    """Attempts logged as "no answer"."""
    unanswered_messages: int
    """Messages still without any reply from the patient after the reply window."""
    reply_window: timedelta

    @property
    def total(self) -> int:
        """All failed attempts in the current run."""
        return self.unanswered_calls + self.unanswered_messages

    def words(self) -> str:
        """'3 failed attempts (2 unanswered calls, 1 message without reply for 24 h)'."""
        parts = []
        if self.unanswered_calls:
            parts.append(_plural(self.unanswered_calls, "unanswered call", "unanswered calls"))
        if self.unanswered_messages:
            parts.append(
                _plural(self.unanswered_messages, "message", "messages")
                + f" without reply for {_hours(self.reply_window)}"
            )
        detail = f" ({', '.join(parts)})" if parts else ""
        return _plural(self.total, "failed attempt", "failed attempts") + detail


@dataclass(frozen=True)
class ContactLogged:
    """What logging one attempt did: the attempt, the failures counted, and the
    sentence to tell the coordinator when the touchpoint became unreachable."""

    attempt: ContactAttempt
    failed: FailedAttempts
    unreachable_after: int
    became_unreachable: str | None
    """'Day 7 check-in is now unreachable after 3 failed attempts (...); moved to the
    next touchpoint.' when this attempt closed the touchpoint, else None."""


@dataclass(frozen=True)
class AttemptFact:
    """One logged attempt, as the unreachable rule reads it."""

    attempt_id: int
    touchpoint_id: int | None
    at: datetime
    outcome: ContactOutcome


def count_failed_attempts(
    attempts: Iterable[AttemptFact], *, touchpoint_id: int, now: datetime, reply_window: timedelta
) -> FailedAttempts:
    """The failed attempts on one touchpoint since the patient last replied.

    Only a real failure counts (clinical rules, docs/clinical-rules.md):

    - a call not answered ("no answer") counts at once;
    - a message sent is not a failure by itself. It counts only once
      `reply_window` has passed with no reply from the patient since it was
      sent. The rule is evaluated at `now`, that is whenever the next attempt
      on the touchpoint is logged: a message never closes a touchpoint on its
      own while nobody is working it, and the coordinator sees the closing
      happen, with the reason, at the moment they log the attempt that tips it.
    - messages sent while an earlier one is still inside its reply window are
      one attempt, not several: the patient has not yet had the time to answer
      the first, and a key pressed three times must not become three failures
      a day later. The group counts once, when its first message is
      `reply_window` old;
    - a reply from the patient (reached, photo received, asked to call later),
      on any of their touchpoints and at any time after a message, cancels the
      message and starts the count again: only attempts after the latest reply
      (by time, then by the order they were logged) are read.

    `attempts` are all of the patient's attempts; the order does not matter.
    """
    facts = list(attempts)
    replies = [(a.at, a.attempt_id) for a in facts if a.outcome.heard_from_patient]
    last_reply = max(replies, default=None)
    run = sorted(
        (
            fact
            for fact in facts
            if fact.touchpoint_id == touchpoint_id
            and (last_reply is None or (fact.at, fact.attempt_id) > last_reply)
        ),
        key=lambda fact: (fact.at, fact.attempt_id),
    )
    calls = sum(1 for fact in run if fact.outcome is ContactOutcome.NO_ANSWER)
    messages = 0
    group_start: datetime | None = None
    for fact in run:
        if fact.outcome is not ContactOutcome.MESSAGE_SENT:
            continue
        if group_start is not None and fact.at < group_start + reply_window:
            continue  # the same attempt as the message that opened the group
        group_start = fact.at
        if fact.at + reply_window <= now:
            messages += 1
    return FailedAttempts(calls, messages, reply_window)


def record_contact_attempt(
    session: Session,
    now: datetime,
    actor: Actor,
    touchpoint_id: int,
    *,
    channel: Channel,
    outcome: ContactOutcome,
    note: str | None,
    unreachable_after: int,
    reply_window: timedelta = DEFAULT_REPLY_WINDOW,
) -> ContactLogged:
    """Record one attempt; once `unreachable_after` real failures have piled up
    since the patient last replied (`count_failed_attempts`), the touchpoint
    becomes unreachable and the result says so in a sentence for the coordinator."""
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
    tried = {"touchpoint": touchpoint.id, "channel": channel.value, "outcome": outcome.value}
    audit.log(session, now, actor, "contact_attempt.add", attempt, after=tried | {"note": note})
    failed = count_failed_attempts(
        _attempt_facts(session, patient.id),
        touchpoint_id=touchpoint.id,
        now=now,
        reply_window=reply_window,
    )
    became: str | None = None
    if not outcome.heard_from_patient and failed.total >= unreachable_after:
        touchpoint.resolution = TouchpointResolution.UNREACHABLE
        touchpoint.resolved_at = now
        touchpoint.resolved_by_id = actor.staff_id
        touchpoint.note = f"unreachable after {failed.words()}"
        touchpoint.version += 1
        gave_up = {
            "resolution": "unreachable",
            "unanswered_calls": failed.unanswered_calls,
            "unanswered_messages": failed.unanswered_messages,
            "reply_window_hours": failed.reply_window / timedelta(hours=1),
        }
        was = {"resolution": None}
        audit.log(
            session, now, actor, "touchpoint.unreachable", touchpoint, before=was, after=gave_up
        )
        refresh_next_touchpoint(session, patient.id)
        moved = (
            "moved to the next touchpoint"
            if patient.next_touchpoint_id is not None
            else "no touchpoint is left open for this patient"
        )
        became = (
            f"{touchpoint_label(touchpoint.day)} is now unreachable after {failed.words()}; "
            f"{moved}."
        )
    return ContactLogged(attempt, failed, unreachable_after, became)


def touchpoint_label(day: int) -> str:
    """How a touchpoint is named to a coordinator: 'Day 7 check-in'."""
    return f"Day {day} check-in"


def _attempt_facts(session: Session, patient_id: int) -> list[AttemptFact]:
    rows = session.execute(
        select(
            ContactAttempt.id,
            ContactAttempt.touchpoint_id,
            ContactAttempt.at,
            ContactAttempt.outcome,
        ).where(ContactAttempt.patient_id == patient_id)
    ).all()
    return [AttemptFact(r[0], r[1], r[2], r[3]) for r in rows]


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _hours(window: timedelta) -> str:
    hours = window / timedelta(hours=1)
    return f"{hours:g} h"


def resolve_touchpoint(
    session: Session,
    now: datetime,
    actor: Actor,
    touchpoint_id: int,
    *,
    resolution: TouchpointResolution,
    note: str | None,
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
    after = {"resolution": resolution.value, "note": note}
    action = f"touchpoint.{resolution.value}"
    audit.log(session, now, actor, action, touchpoint, before={"resolution": None}, after=after)
    refresh_next_touchpoint(session, touchpoint.patient_id)
    return touchpoint


def claim_patient(session: Session, now: datetime, actor: Actor, patient_id: int) -> None:
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
    before, after = {"assigned_to": None}, {"assigned_to": actor.staff_id}
    audit.log(
        session, now, actor, "patient.claim", ("patient", patient_id), before=before, after=after
    )


def release_patient(session: Session, now: datetime, actor: Actor, patient_id: int) -> None:
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
    before, after = {"assigned_to": actor.staff_id}, {"assigned_to": None}
    audit.log(
        session, now, actor, "patient.release", ("patient", patient_id), before=before, after=after
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
    session: Session, now: datetime, actor: Actor, touchpoint_id: int, *, clinic_name: str
) -> RenderedMessage:
    """The aftercare message for a touchpoint, in the patient's language.

    It says the day it is now for the patient (procedure date in Seoul to
    today's date where the patient is), asks about the IV site only after an
    infusion, and names the emergency number of the country the patient is in.
    """
    touchpoint = session.get(Touchpoint, touchpoint_id)
    if touchpoint is None:
        raise FollowUpConflict(f"touchpoint {touchpoint_id} no longer exists")
    patient = session.get(Patient, touchpoint.patient_id)
    assert patient is not None
    episode = touchpoint.episode
    procedure_date = procedure_local_date(episode.procedure_at)
    return render_message(
        MessageContext(
            patient_name=patient.given_name,
            language=patient.language,
            template=touchpoint.template,
            touchpoint_day=touchpoint.day,
            day=days_after_procedure(episode.procedure_at, now, patient.timezone),
            procedure_date=procedure_date,
            photos_wanted=touchpoint.photos_wanted,
            infusion=had_infusion(episode),
            emergency=emergency_contact(patient.current_country),
            coordinator_name=actor.display_name,
            clinic_name=clinic_name,
        )
    )


_INFUSION_PROTOCOLS = frozenset({Protocol.EXOSOME_IV, Protocol.EXOSOME_IV_MICRONEEDLING})


def had_infusion(episode: TreatmentEpisode) -> bool:
    """Whether the episode included a drip: an exosome IV protocol or any add-on
    infusion (B-complex, glutathione). Microneedling or PRP alone has no IV site."""
    return episode.protocol in _INFUSION_PROTOCOLS or bool(episode.addons)
