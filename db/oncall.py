"""The on-call schedule in the database: set, cancel and read shifts; who is on call.

Only admins change the schedule (core.permissions, Action.MANAGE_ONCALL) and
only active physicians can be on call.
Shifts never overlap: a new shift that would is refused naming the shift in
the way, unless the admin asks to replace, in which case the new shift takes
over exactly the overlapped time (shifts inside it are cancelled, shifts
sticking out are shortened, a shift around it is split in two). Every write
bumps the change marker first (which also serialises schedule writes, so two
admins cannot both pass the overlap check) and appends audit events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.commands import NewShift
from core.domain import Role
from core.oncall import (
    OnCallPhysician,
    ShiftTimeError,
    check_shift_note,
    check_shift_window,
    window_label,
)
from core.permissions import Action
from core.schedules import CLINIC_TZ
from db import audit
from db.followup import Actor, FollowUpConflict, mark_changed, require
from db.models import OnCallShift, Staff


@dataclass(frozen=True)
class ShiftView:
    """One live shift with its physician, as screens and the command line show it."""

    id: int
    staff_id: int
    login: str
    display_name: str
    notify_tag: str | None
    starts_at: datetime
    ends_at: datetime
    note: str | None
    created_by: str
    version: int = 1
    """What a cancel from this reading names (a stale screen is refused)."""


@dataclass(frozen=True)
class ReplacedShift:
    """A shift the new one took time from: how it was, and what became of it."""

    before: ShiftView
    outcome: str
    """'cancelled', 'shortened' or 'split'."""


@dataclass(frozen=True)
class ShiftSet:
    """What `set_shift` did."""

    shift: ShiftView
    replaced: tuple[ReplacedShift, ...] = ()


def _view(shift: OnCallShift, staff: Staff) -> ShiftView:
    return ShiftView(
        id=shift.id,
        staff_id=staff.id,
        login=staff.username,
        display_name=staff.display_name,
        notify_tag=staff.notify_tag,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        note=shift.note,
        created_by=shift.created_by,
        version=shift.version,
    )


def _snapshot(shift: OnCallShift, login: str) -> dict[str, Any]:
    return {
        "physician": login,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "note": shift.note,
        "cancelled": shift.cancelled_at is not None,
    }


def _physician(session: Session, login: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.username == login))
    if staff is None:
        raise FollowUpConflict(f"there is no staff member with login {login!r}")
    if not staff.active:
        raise FollowUpConflict(f"{login} is disabled and cannot be on call")
    if staff.role is not Role.PHYSICIAN:
        raise FollowUpConflict(
            f"{login} is a{'n' if staff.role is Role.ADMIN else ''} {staff.role.value}; "
            "only physicians can be on call"
        )
    return staff


def _live_overlapping(
    session: Session, starts_at: datetime, ends_at: datetime
) -> list[tuple[OnCallShift, Staff]]:
    # Locked: the shifts a new one replaces must not change until it is saved.
    rows = session.execute(
        _live_shifts_within(starts_at, ends_at).with_for_update(of=OnCallShift)
    ).all()
    return [(shift, staff) for shift, staff in rows]


def _live_shifts_within(start: datetime, end: datetime) -> Select[OnCallShift, Staff]:
    """Live (not cancelled) shifts overlapping [start, end) and their physicians, earliest first."""
    return (
        select(OnCallShift, Staff)
        .join(Staff, Staff.id == OnCallShift.staff_id)
        .where(
            OnCallShift.cancelled_at.is_(None),
            OnCallShift.starts_at < end,
            OnCallShift.ends_at > start,
        )
        .order_by(OnCallShift.starts_at, OnCallShift.id)
    )


def set_shift(
    session: Session,
    now: datetime,
    actor: Actor,
    wanted: NewShift,
    *,
    clinic_tz: tzinfo = CLINIC_TZ,
) -> ShiftSet:
    """Put a physician on call for `wanted`'s [starts_at, ends_at), in the caller's
    transaction.

    Raises FollowUpConflict (one sentence) for a non-admin actor, a login that
    is not an active physician, a bad window, or an overlap when not `replace`.
    """
    require(session, actor, Action.MANAGE_ONCALL)
    mark_changed(session, now)
    starts_at, ends_at = wanted.starts_at, wanted.ends_at
    try:
        check_shift_window(starts_at, ends_at, now)
        check_shift_note(wanted.note)
    except ShiftTimeError as exc:
        raise FollowUpConflict(str(exc)) from None
    staff = _physician(session, wanted.login)
    in_the_way = _live_overlapping(session, starts_at, ends_at)
    if in_the_way and not wanted.replace:
        shift, other = in_the_way[0]
        more = f" and {len(in_the_way) - 1} more" if len(in_the_way) > 1 else ""
        raise FollowUpConflict(
            f"{other.username} is already on call "
            f"{window_label(shift.starts_at, shift.ends_at, clinic_tz)} "
            f"(shift #{shift.id}){more}; cancel it first or replace the overlapping time"
        )
    replaced = [
        _give_way(session, shift, other, starts_at, ends_at, actor, now)
        for shift, other in in_the_way
    ]
    shift = OnCallShift(
        staff_id=staff.id,
        starts_at=starts_at,
        ends_at=ends_at,
        note=wanted.note or None,
        created_at=now,
        created_by=actor.username,
    )
    session.add(shift)
    session.flush()
    after = _snapshot(shift, staff.username) | {"replaced": [r.before.id for r in replaced]}
    audit.log(session, now, actor, "oncall.set", shift, after=after)
    return ShiftSet(_view(shift, staff), tuple(replaced))


def _give_way(
    session: Session,
    shift: OnCallShift,
    staff: Staff,
    starts_at: datetime,
    ends_at: datetime,
    actor: Actor,
    now: datetime,
) -> ReplacedShift:
    """Take [starts_at, ends_at) out of an overlapping shift."""
    before_view = _view(shift, staff)
    before = _snapshot(shift, staff.username)
    keeps_head = shift.starts_at < starts_at
    keeps_tail = shift.ends_at > ends_at
    tail: OnCallShift | None = None
    if keeps_head and keeps_tail:
        outcome = "split"
        tail = OnCallShift(
            staff_id=shift.staff_id,
            starts_at=ends_at,
            ends_at=shift.ends_at,
            note=shift.note,
            created_at=now,
            created_by=actor.username,
        )
        session.add(tail)
        shift.ends_at = starts_at
    elif keeps_head:
        outcome = "shortened"
        shift.ends_at = starts_at
    elif keeps_tail:
        outcome = "shortened"
        shift.starts_at = ends_at
    else:
        outcome = "cancelled"
        shift.cancelled_at = now
        shift.cancelled_by = actor.username
    shift.version += 1
    session.flush()
    after = _snapshot(shift, staff.username)
    if tail is not None:
        after["remainder"] = {"id": tail.id, **_snapshot(tail, staff.username)}
    action = f"oncall.{'cancel' if outcome == 'cancelled' else 'shorten'}"
    audit.log(session, now, actor, action, shift, before=before, after=after)
    return ReplacedShift(before_view, outcome)


def cancel_shift(
    session: Session,
    now: datetime,
    actor: Actor,
    shift_id: int,
    *,
    expected_version: int | None = None,
) -> ShiftView:
    """Cancel a live shift that is not over yet; returns it as it was.

    With `expected_version` (a screen's reading), a shift another admin has
    shortened or split since is refused rather than half-cancelled.
    """
    require(session, actor, Action.MANAGE_ONCALL)
    mark_changed(session, now)
    shift = session.get(OnCallShift, shift_id, with_for_update=True)
    if shift is None:
        raise FollowUpConflict(f"there is no on-call shift #{shift_id}")
    if shift.cancelled_at is not None:
        raise FollowUpConflict(
            f"shift #{shift_id} was already cancelled by {shift.cancelled_by or 'someone'}"
        )
    if shift.ends_at <= now:
        raise FollowUpConflict(f"shift #{shift_id} is already over; past shifts stay on record")
    if expected_version is not None and shift.version != expected_version:
        raise FollowUpConflict(
            f"shift #{shift_id} was changed since you read it (now "
            f"{shift.starts_at:%d %b %H:%M} to {shift.ends_at:%d %b %H:%M} UTC); "
            "nothing was cancelled: check the schedule and try again"
        )
    staff = session.get_one(Staff, shift.staff_id)
    view = _view(shift, staff)
    before = _snapshot(shift, staff.username)
    shift.cancelled_at = now
    shift.cancelled_by = actor.username
    shift.version += 1
    session.flush()
    after = _snapshot(shift, staff.username)
    audit.log(session, now, actor, "oncall.cancel", shift, before=before, after=after)
    return view


def current_shift(session: Session, at: datetime) -> ShiftView | None:
    """The live shift covering `at` (start inclusive, end exclusive) of an active physician."""
    row = session.execute(
        select(OnCallShift, Staff)
        .join(Staff, Staff.id == OnCallShift.staff_id)
        .where(
            OnCallShift.cancelled_at.is_(None),
            OnCallShift.starts_at <= at,
            OnCallShift.ends_at > at,
            Staff.active.is_(True),
            Staff.role == Role.PHYSICIAN,
        )
        # Shifts never overlap; should old data disagree, the latest start wins.
        .order_by(OnCallShift.starts_at.desc(), OnCallShift.id.desc())
        .limit(1)
    ).first()
    return _view(row[0], row[1]) if row is not None else None


def who_is_on_call(session: Session, at: datetime) -> Staff | None:
    """The physician on call at `at`, or None when the schedule has nobody then."""
    shift = current_shift(session, at)
    return session.get(Staff, shift.staff_id) if shift is not None else None


def on_call_physician(session: Session, at: datetime) -> OnCallPhysician | None:
    """Who is on call at `at`, as `core.oncall.route_page` needs them."""
    shift = current_shift(session, at)
    return OnCallPhysician(shift.login, shift.notify_tag) if shift is not None else None


def list_shifts(session: Session, start: datetime, end: datetime) -> list[ShiftView]:
    """Live shifts overlapping [start, end), earliest first."""
    rows = session.execute(_live_shifts_within(start, end)).all()
    return [_view(shift, staff) for shift, staff in rows]
