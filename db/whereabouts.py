"""Where the patient is now and how to reach them: moving on, new contact details.

A patient who flies on from Tokyo to Bangkok changes country and time zone
together (core.contacts.checked_move). Everything that reads the zone follows
at once: the queue's local time, day N, aftercare messages, and the
emergency number of the patient screen (it reads the country). Touchpoint
windows do not read it: they were fixed at local midnights of the old zone
and stored in UTC, so the windows not yet open are carried to the new zone,
keeping their due date and shape (core.zones.rezoned_window). A window
already open stays as it is: moving it could turn a due check-in overdue
under the coordinator's eyes.

Version check: claiming or releasing a patient bumps `Patient.version`, and a
coordinator correcting a phone number must not be refused because a colleague
claimed the patient meanwhile. So each edit compares the very fields it
changes with the values the form was opened with (a field-level
compare-and-set, under the row lock), and refuses naming who changed them;
it still bumps the version, so any version-checked edit of the patient sees
this one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.commands import ContactDetails, PatientMove, Whereabouts
from core.contacts import checked_contacts, checked_move
from core.countries import country_name
from core.permissions import Action
from core.refusals import NotFound, StaleEdit
from core.zones import rezoned_window
from db import audit
from db.conflicts import last_change
from db.followup import Actor, FollowUpConflict, mark_changed, refresh_next_touchpoint, require
from db.models import Patient, Touchpoint

MOVED = "patient.move"
CONTACTS_EDITED = "patient.contacts"


class StaleWhereabouts(FollowUpConflict, StaleEdit):
    """Someone changed where the patient is, or their contact details, since the form
    was opened; the sentence names who and when."""


@dataclass(frozen=True)
class WhereaboutsSaved:
    """What a save changed: the fields, in words, and how many windows moved."""

    patient_id: int
    changed: tuple[str, ...]
    windows_moved: int = 0

    def words(self) -> str:
        """'Saved country, time zone; 3 windows not yet open now follow Asia/Bangkok.'"""
        if not self.changed:
            return "Nothing to change: the form matched the record."
        said = f"Saved {', '.join(self.changed)}"
        if self.windows_moved:
            plural = "window" if self.windows_moved == 1 else "windows"
            said += f"; {self.windows_moved} {plural} not yet open moved to the new time zone"
        return said + "."


def move_patient(
    session: Session,
    now: datetime,
    actor: Actor,
    patient_id: int,
    move: PatientMove,
    *,
    expected: PatientMove | None = None,
) -> WhereaboutsSaved:
    """Record that the patient is now in another country (and zone).

    `expected` is where the form said the patient was; when the record says
    otherwise now, the move is refused naming who moved them. Without it (the
    command line, typed just now) the move applies to what is stored.
    """
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    patient = _locked(session, patient_id)
    if expected is not None:
        _check_unchanged(session, patient, _stored_move(patient), expected, [MOVED])
    wanted = checked_move(move)
    if wanted == _stored_move(patient):
        return WhereaboutsSaved(patient.id, ())
    before = {"current_country": patient.current_country, "timezone": patient.timezone}
    moved = _rezone_windows(session, now, patient, ZoneInfo(str(wanted.timezone)))
    patient.current_country = wanted.country
    patient.timezone = str(wanted.timezone)
    patient.version += 1
    after = {
        "current_country": patient.current_country,
        "timezone": patient.timezone,
        "windows_moved": moved,
    }
    audit.log(session, now, actor, MOVED, patient, before=before, after=after)
    refresh_next_touchpoint(session, patient.id)
    changed = [
        words
        for field, words in (("current_country", "country"), ("timezone", "time zone"))
        if before[field] != after[field]
    ]
    return WhereaboutsSaved(patient.id, tuple(changed), moved)


def edit_contacts(
    session: Session,
    now: datetime,
    actor: Actor,
    patient_id: int,
    contacts: ContactDetails,
    *,
    expected: ContactDetails | None = None,
) -> WhereaboutsSaved:
    """Record the patient's phone, messenger handle and e-mail, checked as the
    import checks them (on the patient's channel, home-country numbers)."""
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    patient = _locked(session, patient_id)
    if expected is not None:
        _check_unchanged(session, patient, _stored_contacts(patient), expected, [CONTACTS_EDITED])
    wanted = checked_contacts(contacts, patient.channel, patient.home_country)
    stored = _stored_contacts(patient)
    fields = {"channel_handle": "messenger handle", "phone": "phone", "email": "email"}
    changed = {f: w for f, w in fields.items() if getattr(wanted, f) != getattr(stored, f)}
    if not changed:
        return WhereaboutsSaved(patient.id, ())
    before: dict[str, Any] = {f: getattr(stored, f) for f in changed}
    after: dict[str, Any] = {f: getattr(wanted, f) for f in changed}
    patient.channel_handle = wanted.channel_handle
    patient.phone = wanted.phone
    patient.email = wanted.email
    patient.version += 1
    audit.log(session, now, actor, CONTACTS_EDITED, patient, before=before, after=after)
    return WhereaboutsSaved(patient.id, tuple(changed.values()))


def save_whereabouts(
    session: Session,
    now: datetime,
    actor: Actor,
    patient_id: int,
    wanted: Whereabouts,
    *,
    expected: Whereabouts,
) -> WhereaboutsSaved:
    """The "Where is the patient now" form, saved whole: the move and the contact
    details in one transaction, each compared with what the form was opened with.

    Both are checked before either is written, so a bad e-mail address does
    not leave a half-saved move behind (the transaction is rolled back anyway).
    """
    require(session, actor, Action.EDIT_EPISODE)
    patient = _locked(session, patient_id)
    checked_move(wanted.move)
    checked_contacts(wanted.contacts, patient.channel, patient.home_country)
    moved = move_patient(session, now, actor, patient_id, wanted.move, expected=expected.move)
    edited = edit_contacts(
        session, now, actor, patient_id, wanted.contacts, expected=expected.contacts
    )
    return replace(moved, changed=moved.changed + edited.changed)


def whereabouts_of(session: Session, patient_id: int) -> Whereabouts | None:
    """Where the patient is and how to reach them, as stored; None when there is no such patient."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        return None
    return Whereabouts(_stored_move(patient), _stored_contacts(patient))


def _locked(session: Session, patient_id: int) -> Patient:
    # Under the change-marker lock: re-read, so a copy loaded earlier cannot hide
    # a change someone committed since.
    patient = session.get(Patient, patient_id, with_for_update=True, populate_existing=True)
    if patient is None:
        raise NotFound(f"patient {patient_id} does not exist (any more); nothing was saved")
    return patient


def _stored_move(patient: Patient) -> PatientMove:
    return PatientMove(patient.current_country, patient.timezone)


def _stored_contacts(patient: Patient) -> ContactDetails:
    return ContactDetails(patient.channel_handle, patient.phone, patient.email)


def _check_unchanged(
    session: Session,
    patient: Patient,
    stored: PatientMove | ContactDetails,
    expected: PatientMove | ContactDetails,
    actions: list[str],
) -> None:
    if stored == expected:
        return
    change = last_change(session, "patient", patient.id, actions)
    what = (
        f"now in {country_name(stored.country)}, {stored.timezone}"
        if isinstance(stored, PatientMove)
        else "new contact details"
    )
    by = change.words if change else "changed"
    raise StaleWhereabouts(
        f"{patient.code} {patient.display_name} was {by} since you opened the form "
        f"({what}); nothing was saved, read the patient again"
    )


def _rezone_windows(session: Session, now: datetime, patient: Patient, new: ZoneInfo) -> int:
    """Carry the windows not yet open to the new zone; returns how many moved."""
    old = ZoneInfo(patient.timezone)
    waiting = session.scalars(
        select(Touchpoint)
        .where(
            Touchpoint.patient_id == patient.id,
            Touchpoint.resolution.is_(None),
            Touchpoint.opens_at > now,
        )
        .execution_options(populate_existing=True)
    )
    moved = 0
    for touchpoint in waiting:
        opens_at, closes_at = rezoned_window(
            touchpoint.due_date, touchpoint.opens_at, touchpoint.closes_at, old, new
        )
        if (opens_at, closes_at) == (touchpoint.opens_at, touchpoint.closes_at):
            continue
        touchpoint.opens_at, touchpoint.closes_at = opens_at, closes_at
        touchpoint.version += 1
        moved += 1
    return moved
