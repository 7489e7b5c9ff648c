"""The staff list's writes (db.staff) on SQLite and PostgreSQL: only admins change it,
every change is audited and versioned, and the last admin cannot be lost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.domain import Role
from core.permissions import DEMO_LOGIN_PREFIX, NotPermitted
from db import staff as store
from db.audit import verify_chain
from db.demo.write import DEMO_STAFF_PREFIX
from db.engine import make_session_factory, transaction
from db.followup import Actor, FollowUpConflict, PermissionRefused, find_actor
from db.models import AuditEvent, ChangeMarker, Staff
from tests.factories import add_staff


@dataclass
class Clinic:
    engine: Engine
    clock: FixedClock
    admin: Actor
    nurse: Actor
    doctor: Actor


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    with transaction(make_session_factory(engine)) as session:
        actors = [
            Actor(s.id, s.username, s.display_name, s.role)
            for s in (
                add_staff(session, "it.boss", Role.ADMIN, clock.now()),
                add_staff(session, "rn.kim", Role.COORDINATOR, clock.now()),
                add_staff(session, "dr.lee", Role.PHYSICIAN, clock.now()),
            )
        ]
    return Clinic(engine, clock, *actors)


@dataclass(frozen=True)
class Snapshot:
    """Everything a refused staff change must leave alone."""

    staff: list[tuple[str, Role, bool, int]]
    audit_events: int
    marker: int


def _snapshot(engine: Engine) -> Snapshot:
    with make_session_factory(engine)() as session:
        return Snapshot(
            [
                (s.username, s.role, s.active, s.version)
                for s in session.scalars(select(Staff).order_by(Staff.id))
            ],
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            session.scalar(select(ChangeMarker.counter)) or 0,
        )


def _events(engine: Engine) -> list[AuditEvent]:
    with make_session_factory(engine)() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.entity == "staff").order_by(AuditEvent.id)
            )
        )


def _do(
    clinic: Clinic, change: Callable[..., store.StaffLine], **kwargs: object
) -> store.StaffLine:
    with transaction(make_session_factory(clinic.engine)) as session:
        return change(session, now=clinic.clock.now(), **kwargs)


NEW = store.NewStaff(
    "rn.choi",
    "Choi Eun-ji RN",
    Role.COORDINATOR,
    email="choi@example.com",
    phone="+82 10-1234-5678",
    notify_tag="rn-choi",
    license_ref="KR-RN-1",
)


def test_an_admin_adds_disables_enables_and_changes_roles(clinic: Clinic) -> None:
    before = _snapshot(clinic.engine)
    added = _do(clinic, store.add_staff, new=NEW, actor=clinic.admin)
    assert added == store.StaffLine(
        "rn.choi", "Choi Eun-ji RN", Role.COORDINATOR, True, "rn-choi", 1
    )
    with make_session_factory(clinic.engine)() as session:
        row = session.scalars(select(Staff).where(Staff.username == "rn.choi")).one()
        assert (row.email, row.phone, row.license_ref) == (
            "choi@example.com",
            "+821012345678",
            "KR-RN-1",
        )
    clinic.clock.advance(timedelta(minutes=1))
    assert _do(
        clinic, store.change_role, username="rn.choi", role=Role.PHYSICIAN, actor=clinic.admin
    ) == (store.StaffLine("rn.choi", "Choi Eun-ji RN", Role.PHYSICIAN, True, "rn-choi", 2))
    disabled = _do(clinic, store.set_active, username="rn.choi", active=False, actor=clinic.admin)
    assert (disabled.active, disabled.version) == (False, 3)
    with make_session_factory(clinic.engine)() as session:
        assert find_actor(session, "rn.choi") is None  # a disabled login cannot sign in
    enabled = _do(clinic, store.set_active, username="rn.choi", active=True, actor=clinic.admin)
    assert (enabled.active, enabled.version) == (True, 4)

    after = _snapshot(clinic.engine)
    assert after.marker == before.marker + 4  # every change bumps the change marker
    events = _events(clinic.engine)
    assert [(e.actor, e.action) for e in events] == [
        ("it.boss", "staff.add"),
        ("it.boss", "staff.role"),
        ("it.boss", "staff.disable"),
        ("it.boss", "staff.enable"),
    ]
    assert events[0].before is None and events[0].after is not None
    assert events[0].after["role"] == "coordinator"
    # The audit trail keeps no contact details.
    assert "email" not in events[0].after and "phone" not in events[0].after
    assert events[1].before is not None and events[1].after is not None
    assert (events[1].before["role"], events[1].after["role"]) == ("coordinator", "physician")
    assert events[2].after is not None and events[2].after["active"] is False
    with make_session_factory(clinic.engine)() as session:
        assert verify_chain(session).ok


@pytest.mark.parametrize("who", ["nurse", "doctor"])
def test_only_an_admin_changes_the_staff_list_and_a_refusal_writes_nothing(
    clinic: Clinic, who: str
) -> None:
    actor: Actor = getattr(clinic, who)
    before = _snapshot(clinic.engine)
    attempts: list[tuple[Callable[..., store.StaffLine], dict[str, object]]] = [
        (store.add_staff, {"new": NEW}),
        (store.set_active, {"username": "it.boss", "active": False}),
        (store.set_active, {"username": "rn.kim", "active": False}),
        (store.change_role, {"username": actor.username, "role": Role.ADMIN}),
    ]
    for change, kwargs in attempts:
        with pytest.raises(NotPermitted) as refused:
            _do(clinic, change, actor=actor, **kwargs)
        # Both kinds of caller catch it: core's NotPermitted and the screens' conflict.
        assert isinstance(refused.value, FollowUpConflict)
        assert str(refused.value) == (
            f"A {actor.role.value} may not manage staff (add, disable, enable, change roles); "
            "that needs an admin."
        )
    assert _snapshot(clinic.engine) == before


def test_the_last_active_admin_can_be_neither_disabled_nor_demoted(clinic: Clinic) -> None:
    before = _snapshot(clinic.engine)
    with pytest.raises(FollowUpConflict, match="last active admin"):
        _do(clinic, store.set_active, username="it.boss", active=False, actor=clinic.admin)
    with pytest.raises(FollowUpConflict, match="last active admin"):
        _do(clinic, store.change_role, username="it.boss", role=Role.PHYSICIAN, actor=clinic.admin)
    assert _snapshot(clinic.engine) == before

    # With a second admin, either may step down, but not both.
    _do(clinic, store.change_role, username="dr.lee", role=Role.ADMIN, actor=clinic.admin)
    _do(clinic, store.set_active, username="it.boss", active=False, actor=clinic.admin)
    second = Actor(clinic.doctor.staff_id, "dr.lee", "Dr.Lee", Role.ADMIN)
    with pytest.raises(
        FollowUpConflict, match=r"cannot make dr\.lee a coordinator: dr\.lee is the last"
    ):
        _do(clinic, store.change_role, username="dr.lee", role=Role.COORDINATOR, actor=second)
    # The disabled admin's own session is refused now, whatever it remembered.
    with pytest.raises(PermissionRefused, match="not an active staff member"):
        _do(clinic, store.set_active, username="it.boss", active=True, actor=clinic.admin)
    with make_session_factory(clinic.engine)() as session:
        assert store.active_admins(session) == 1


def test_a_stale_version_is_refused_naming_the_current_state(clinic: Clinic) -> None:
    with make_session_factory(clinic.engine)() as session:
        seen = session.scalars(select(Staff).where(Staff.username == "rn.kim")).one().version
    _do(clinic, store.change_role, username="rn.kim", role=Role.PHYSICIAN, actor=clinic.admin)
    before = _snapshot(clinic.engine)
    with pytest.raises(FollowUpConflict) as refused:
        _do(
            clinic,
            store.set_active,
            username="rn.kim",
            active=False,
            actor=clinic.admin,
            expected_version=seen,
        )
    assert str(refused.value) == (
        "rn.kim was changed by someone else meanwhile (now physician, active); nothing was saved"
    )
    assert _snapshot(clinic.engine) == before


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (store.NewStaff("rn kim", "X", Role.COORDINATOR), "is not a login"),
        (store.NewStaff("rn.kim", "Kim again", Role.COORDINATOR), "already on the staff list"),
        (store.NewStaff(f"{DEMO_LOGIN_PREFIX}x", "X", Role.ADMIN), "kept for demo data"),
        (store.NewStaff("rn.new", "  ", Role.COORDINATOR), "the name is required"),
        (store.NewStaff("rn.new", "X", Role.COORDINATOR, email="x"), "not an e-mail address"),
        (store.NewStaff("rn.new", "X", Role.COORDINATOR, phone="12"), "international form"),
        (store.NewStaff("rn.new", "X", Role.COORDINATOR, notify_tag="a b"), "not a notify tag"),
    ],
)
def test_bad_new_staff_is_refused_by_field(
    clinic: Clinic, new: store.NewStaff, message: str
) -> None:
    before = _snapshot(clinic.engine)
    with pytest.raises(FollowUpConflict, match=message):
        _do(clinic, store.add_staff, new=new, actor=clinic.admin)
    assert _snapshot(clinic.engine) == before


def test_the_first_admin_only_while_there_is_none(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
    first = store.NewStaff("it.boss", "IT Boss", Role.ADMIN)
    with transaction(make_session_factory(engine)) as session:
        with pytest.raises(FollowUpConflict, match="add one first"):
            store.add_first_admin(
                session, new=store.NewStaff("x", "X", Role.COORDINATOR), by="root", now=clock.now()
            )
        added = store.add_first_admin(session, new=first, by="root", now=clock.now())
    assert (added.username, added.role, added.active) == ("it.boss", Role.ADMIN, True)
    with (
        pytest.raises(FollowUpConflict, match="already an active admin"),
        transaction(make_session_factory(engine)) as session,
    ):
        store.add_first_admin(
            session, new=store.NewStaff("rn.kim", "K", Role.ADMIN), by="root", now=clock.now()
        )
    events = _events(engine)
    assert [(e.actor, e.action, e.after and e.after["username"]) for e in events] == [
        ("root", "staff.first_admin", "it.boss")
    ]


def test_the_first_admin_may_be_an_existing_login(engine: Engine, clock: FixedClock) -> None:
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
    with transaction(make_session_factory(engine)) as session:
        line = store.add_first_admin(
            session, new=store.NewStaff("rn.kim", "Kim", Role.ADMIN), by="rn.kim", now=clock.now()
        )
    assert (line.role, line.version) == (Role.ADMIN, 2)
    (event,) = _events(engine)
    assert event.before is not None and event.before["role"] == "coordinator"


def test_demo_logins_share_the_prefix_the_demo_loader_writes() -> None:
    assert DEMO_LOGIN_PREFIX == DEMO_STAFF_PREFIX
