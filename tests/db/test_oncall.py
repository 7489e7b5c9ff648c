"""The on-call schedule on SQLite and PostgreSQL: set, list, cancel, overlaps, who is on call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.commands import NewShift
from core.domain import Role
from db.engine import make_session_factory, transaction
from db.followup import Actor, FollowUpConflict
from db.models import AuditEvent, ChangeMarker, OnCallShift, Staff
from db.oncall import (
    ShiftSet,
    cancel_shift,
    list_shifts,
    set_shift,
    who_is_on_call,
)
from tests.factories import add_staff

H = timedelta(hours=1)


@dataclass
class Clinic:
    engine: Engine
    clock: FixedClock
    admin: Actor
    nurse: Actor
    doctor: Actor

    @property
    def t0(self) -> datetime:
        return self.clock.now()

    def set(
        self,
        login: str,
        start: timedelta,
        end: timedelta,
        *,
        note: str | None = None,
        replace: bool = False,
        actor: Actor | None = None,
    ) -> ShiftSet:
        wanted = NewShift(login, self.t0 + start, self.t0 + end, note, replace)
        with transaction(make_session_factory(self.engine)) as session:
            return set_shift(session, self.clock.now(), actor or self.admin, wanted)

    def on_call_at(self, offset: timedelta) -> str | None:
        with make_session_factory(self.engine)() as session:
            staff = who_is_on_call(session, self.t0 + offset)
            return staff.username if staff else None

    def schedule(self) -> list[tuple[str, timedelta, timedelta]]:
        with make_session_factory(self.engine)() as session:
            return [
                (s.login, s.starts_at - self.t0, s.ends_at - self.t0)
                for s in list_shifts(session, self.t0 - 100 * H, self.t0 + 1000 * H)
            ]

    def count(self, what: type[OnCallShift] | type[AuditEvent]) -> int:
        with make_session_factory(self.engine)() as session:
            return session.scalar(select(func.count()).select_from(what)) or 0


def _actor(staff: Staff) -> Actor:
    return Actor(staff.id, staff.username, staff.display_name)


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        admin = add_staff(session, "it.admin", Role.ADMIN, now)
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        lee = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        add_staff(session, "dr.kim", Role.PHYSICIAN, now)
        add_staff(session, "dr.choi", Role.PHYSICIAN, now)
        gone = add_staff(session, "dr.gone", Role.PHYSICIAN, now)
        gone.active = False
        return Clinic(engine, clock, _actor(admin), _actor(nurse), _actor(lee))


def test_set_list_and_cancel_are_audited(clinic: Clinic) -> None:
    with make_session_factory(clinic.engine)() as session:
        marker_before = session.get_one(ChangeMarker, 1).counter
    done = clinic.set("dr.lee", 2 * H, 26 * H, note="weekend cover")
    assert (done.shift.login, done.shift.note, done.replaced) == ("dr.lee", "weekend cover", ())
    assert clinic.schedule() == [("dr.lee", 2 * H, 26 * H)]
    with make_session_factory(clinic.engine)() as session:
        assert session.get_one(ChangeMarker, 1).counter == marker_before + 1
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        assert (event.action, event.actor, event.entity_id) == (
            "oncall.set",
            "it.admin",
            str(done.shift.id),
        )
        assert event.after is not None and event.after["physician"] == "dr.lee"

    with transaction(make_session_factory(clinic.engine)) as session:
        cancelled = cancel_shift(
            session, shift_id=done.shift.id, actor=clinic.admin, now=clinic.clock.now()
        )
    assert cancelled.id == done.shift.id
    assert clinic.schedule() == []
    assert clinic.on_call_at(3 * H) is None
    with make_session_factory(clinic.engine)() as session:
        row = session.get_one(OnCallShift, done.shift.id)
        assert (row.cancelled_by, row.version) == ("it.admin", 2)
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None and event.action == "oncall.cancel"
        assert event.before is not None and event.before["cancelled"] is False
        assert event.after is not None and event.after["cancelled"] is True

    with (
        pytest.raises(FollowUpConflict, match=re.escape("already cancelled by it.admin")),
        transaction(make_session_factory(clinic.engine)) as session,
    ):
        cancel_shift(session, shift_id=done.shift.id, actor=clinic.admin, now=clinic.clock.now())
    with (
        pytest.raises(FollowUpConflict, match="no on-call shift #999"),
        transaction(make_session_factory(clinic.engine)) as session,
    ):
        cancel_shift(session, shift_id=999, actor=clinic.admin, now=clinic.clock.now())


def test_start_is_inclusive_and_end_exclusive(clinic: Clinic) -> None:
    clinic.set("dr.lee", 1 * H, 25 * H)
    clinic.set("dr.kim", 25 * H, 49 * H)  # back to back is not an overlap
    tick = timedelta(microseconds=1)
    assert clinic.on_call_at(1 * H - tick) is None
    assert clinic.on_call_at(1 * H) == "dr.lee"
    assert clinic.on_call_at(25 * H - tick) == "dr.lee"
    assert clinic.on_call_at(25 * H) == "dr.kim"
    assert clinic.on_call_at(49 * H - tick) == "dr.kim"
    assert clinic.on_call_at(49 * H) is None
    # The list is of shifts overlapping the window, with the same half-open rule.
    with make_session_factory(clinic.engine)() as session:
        t0 = clinic.t0
        assert [s.login for s in list_shifts(session, t0, t0 + 1 * H)] == []
        assert [s.login for s in list_shifts(session, t0 + 25 * H, t0 + 26 * H)] == ["dr.kim"]
        assert [s.login for s in list_shifts(session, t0, t0 + 100 * H)] == ["dr.lee", "dr.kim"]


def test_an_overlap_is_refused_naming_the_shift_and_nothing_is_written(clinic: Clinic) -> None:
    first = clinic.set("dr.lee", 0 * H, 24 * H)
    shifts, events = clinic.count(OnCallShift), clinic.count(AuditEvent)
    with pytest.raises(FollowUpConflict) as refused:
        clinic.set("dr.kim", 23 * H, 30 * H)
    message = str(refused.value)
    assert "dr.lee is already on call" in message
    assert f"(shift #{first.shift.id})" in message
    assert "KST" in message
    assert (clinic.count(OnCallShift), clinic.count(AuditEvent)) == (shifts, events)
    assert clinic.on_call_at(23 * H) == "dr.lee"


def test_replace_takes_over_exactly_the_overlapped_time(clinic: Clinic) -> None:
    clinic.set("dr.lee", 0 * H, 10 * H)
    middle = clinic.set("dr.kim", 10 * H, 20 * H)
    clinic.set("dr.lee", 20 * H, 40 * H)
    # Over the end of the first, the whole second and the start of the third.
    done = clinic.set("dr.choi", 5 * H, 25 * H, replace=True)
    assert [(r.before.login, r.outcome) for r in done.replaced] == [
        ("dr.lee", "shortened"),
        ("dr.kim", "cancelled"),
        ("dr.lee", "shortened"),
    ]
    assert clinic.schedule() == [
        ("dr.lee", 0 * H, 5 * H),
        ("dr.choi", 5 * H, 25 * H),
        ("dr.lee", 25 * H, 40 * H),
    ]
    # Inside another shift: that shift is split around the new one.
    inner = clinic.set("dr.kim", 30 * H, 32 * H, replace=True)
    assert [r.outcome for r in inner.replaced] == ["split"]
    assert clinic.schedule() == [
        ("dr.lee", 0 * H, 5 * H),
        ("dr.choi", 5 * H, 25 * H),
        ("dr.lee", 25 * H, 30 * H),
        ("dr.kim", 30 * H, 32 * H),
        ("dr.lee", 32 * H, 40 * H),
    ]
    assert [clinic.on_call_at(h * H) for h in (4, 5, 24, 25, 29, 30, 31, 32, 39, 40)] == [
        "dr.lee",
        "dr.choi",
        "dr.choi",
        "dr.lee",
        "dr.lee",
        "dr.kim",
        "dr.kim",
        "dr.lee",
        "dr.lee",
        None,
    ]
    with make_session_factory(clinic.engine)() as session:
        assert session.get_one(OnCallShift, middle.shift.id).cancelled_at is not None
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("oncall.shorten") == 3  # two shortened, one split
    assert actions.count("oncall.cancel") == 1


@pytest.mark.parametrize(
    ("login", "message"),
    [
        ("rn.kim", "rn.kim is a coordinator; only physicians can be on call"),
        ("it.admin", "it.admin is an admin; only physicians can be on call"),
        ("dr.gone", "dr.gone is disabled and cannot be on call"),
        ("dr.nobody", "there is no staff member with login 'dr.nobody'"),
    ],
)
def test_only_active_physicians_can_be_on_call(clinic: Clinic, login: str, message: str) -> None:
    with pytest.raises(FollowUpConflict, match=re.escape(message)):
        clinic.set(login, 0 * H, 8 * H)
    assert clinic.count(OnCallShift) == 0


def test_only_admins_change_the_schedule(clinic: Clinic) -> None:
    for who in (clinic.nurse, clinic.doctor):
        with pytest.raises(FollowUpConflict, match="may not change the on-call schedule"):
            clinic.set("dr.lee", 0 * H, 8 * H, actor=who)
    shift = clinic.set("dr.lee", 0 * H, 8 * H).shift
    with (
        pytest.raises(FollowUpConflict, match="may not change the on-call schedule"),
        transaction(make_session_factory(clinic.engine)) as session,
    ):
        cancel_shift(session, shift_id=shift.id, actor=clinic.doctor, now=clinic.clock.now())
    assert clinic.schedule() == [("dr.lee", 0 * H, 8 * H)]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (5 * H, 5 * H, "must end after it starts"),
        (5 * H, 4 * H, "must end after it starts"),
        (0 * H, 14 * 24 * H + timedelta(seconds=1), "at most 14 days"),
        (-10 * H, -1 * H, "already be over"),
    ],
)
def test_bad_windows_are_refused(
    clinic: Clinic, start: timedelta, end: timedelta, message: str
) -> None:
    with pytest.raises(FollowUpConflict, match=message):
        clinic.set("dr.lee", start, end)


def test_a_shift_may_start_in_the_past_and_last_exactly_14_days(clinic: Clinic) -> None:
    clinic.set("dr.lee", -2 * H, -2 * H + 14 * 24 * H)
    assert clinic.on_call_at(0 * H) == "dr.lee"


def test_past_shifts_cannot_be_cancelled_and_disabled_physicians_are_not_on_call(
    clinic: Clinic,
) -> None:
    shift = clinic.set("dr.lee", 0 * H, 2 * H).shift
    clinic.clock.advance(3 * H)
    with (
        pytest.raises(FollowUpConflict, match="already over"),
        transaction(make_session_factory(clinic.engine)) as session,
    ):
        cancel_shift(session, shift_id=shift.id, actor=clinic.admin, now=clinic.clock.now())
    clinic.set("dr.kim", 0 * H, 5 * H)
    assert clinic.on_call_at(1 * H) == "dr.kim"
    with transaction(make_session_factory(clinic.engine)) as session:
        staff = who_is_on_call(session, clinic.t0 + 1 * H)
        assert staff is not None
        staff.active = False
    # Disabled after the shift was set: pages must not go to someone who left.
    assert clinic.on_call_at(1 * H) is None


def test_a_cancel_from_a_stale_reading_is_refused(clinic: Clinic) -> None:
    seen = clinic.set("dr.lee", 2 * H, 40 * H).shift
    # Meanwhile another admin splits the shift around a cover.
    clinic.set("dr.kim", 10 * H, 12 * H, replace=True)
    with (
        pytest.raises(FollowUpConflict, match=f"shift #{seen.id} was changed since you read it"),
        transaction(make_session_factory(clinic.engine)) as session,
    ):
        cancel_shift(
            session,
            shift_id=seen.id,
            actor=clinic.admin,
            now=clinic.clock.now(),
            expected_version=seen.version,
        )
    # Nothing cancelled: dr.lee still covers both sides of the split.
    assert [clinic.on_call_at(h * H) for h in (5, 11, 20)] == ["dr.lee", "dr.kim", "dr.lee"]
