"""The staff list: who may sign in, with which role. Admins change it.

Every change checks `Action.MANAGE_STAFF` against the actor's current role,
bumps the change marker first (which also serialises staff changes, so two
admins cannot disable each other at once and leave nobody in charge), writes
with a compare-and-set on `Staff.version`, and appends an audit event with
the before and after. The last active admin can be neither disabled nor
moved to another role. Refusals raise `FollowUpConflict` (one sentence).

On PostgreSQL with one login per person (docs/deployment.md), each staff member
also has a database role of their own, named like their login and a member of
the group role of their staff role (migration 0012). A change to the list
makes the same change to that role in the same transaction when the session's
role may (the superuser, or a role with CREATEROLE); otherwise it hands back
the statements for someone who may (`DatabaseLogin`), and the list changes
anyway: the person then simply cannot connect, or keeps their old grants,
until those statements are run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, select, text, update
from sqlalchemy.orm import Session

from core.domain import Role
from core.permissions import DEMO_LOGIN_PREFIX, Action
from db import audit
from db.followup import Actor, FollowUpConflict, mark_changed, require
from db.models import Patient, Staff

LOGIN_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
"""An operating-system login: letters, digits, `_`, `.`, `-`; at most 64."""
TAG_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""An Apprise tag (see notify_tag): letters, digits, `_`, `-`."""


GROUP_ROLES: dict[Role, str] = {
    Role.COORDINATOR: "aftercare_coordinator",
    Role.PHYSICIAN: "aftercare_physician",
    Role.ADMIN: "aftercare_admin",
}
"""The PostgreSQL group role each staff role's people are members of (migration 0012
makes them and their grants)."""

POSTGRES_NAME_LIMIT = 63
"""PostgreSQL cuts role names longer than this: a login must fit whole."""


@dataclass(frozen=True)
class DatabaseLogin:
    """What a change to the staff list needs of the person's own PostgreSQL role."""

    statements: tuple[str, ...]
    done: bool
    """True when the change made them; False when a role that may create roles (the
    PostgreSQL superuser) must still run `statements`."""

    @property
    def sql(self) -> str:
        """The statements as one line for `psql -c`."""
        return "; ".join(self.statements)


@dataclass(frozen=True)
class StaffLine:
    """One staff member as the list shows them (no e-mail, phone or secrets)."""

    username: str
    display_name: str
    role: Role
    active: bool
    notify_tag: str | None
    version: int
    database_login: DatabaseLogin | None = None
    """After a change on PostgreSQL with per-person logins: their database role's part."""


@dataclass(frozen=True)
class NewStaff:
    """What `staff add` asks for."""

    username: str
    display_name: str
    role: Role
    email: str | None = None
    phone: str | None = None
    notify_tag: str | None = None
    license_ref: str | None = None
    database_login: bool = False
    """Also give them a PostgreSQL login of their own (per-person logins)."""


def _line(staff: Staff) -> StaffLine:
    return StaffLine(
        staff.username,
        staff.display_name,
        staff.role,
        staff.active,
        staff.notify_tag,
        staff.version,
    )


def list_staff(session: Session) -> list[StaffLine]:
    """Everyone on the list, active and disabled, by login."""
    return [_line(s) for s in session.scalars(select(Staff).order_by(Staff.username))]


def staff_by_login(session: Session, username: str) -> Staff | None:
    """The staff row with this login, active or not."""
    return session.scalar(select(Staff).where(Staff.username == username))


def active_admins(session: Session) -> int:
    """How many active admins there are. Demo staff do not count: nobody may sign in
    as them on real data, so a demo admin must not stand in for a real one."""
    query = select(func.count()).where(
        Staff.role == Role.ADMIN,
        Staff.active,
        Staff.username.not_like(f"{DEMO_LOGIN_PREFIX}%"),
    )
    return session.scalar(query) or 0


def holds_real_patients(session: Session) -> bool:
    """True when any patient is not demo data (then demo logins are not for everyone)."""
    return session.scalar(select(Patient.id).where(Patient.is_demo.is_(False)).limit(1)) is not None


def _optional(text: str | None, limit: int, what: str) -> str | None:
    value = (text or "").strip()
    if len(value) > limit:
        raise FollowUpConflict(f"{what} is longer than {limit} characters")
    return value or None


def checked(new: NewStaff) -> NewStaff:
    """`new` with its fields trimmed and checked; FollowUpConflict names a bad one."""
    login = new.username.strip()
    if not LOGIN_PATTERN.fullmatch(login):
        raise FollowUpConflict(
            f"{login!r} is not a login: use the operating-system user name "
            "(letters, digits, _ . -; at most 64)"
        )
    if login.startswith(DEMO_LOGIN_PREFIX):
        raise FollowUpConflict(f"logins starting with {DEMO_LOGIN_PREFIX!r} are kept for demo data")
    name = _optional(new.display_name, 120, "the name")
    if name is None:
        raise FollowUpConflict("the name is required (--name)")
    email = _optional(new.email, 200, "the e-mail address")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise FollowUpConflict(f"{email!r} is not an e-mail address")
    phone = _optional(new.phone, 32, "the phone number")
    if phone is not None:
        phone = _e164(phone)
    tag = _optional(new.notify_tag, 64, "the notify tag")
    if tag is not None and not TAG_PATTERN.fullmatch(tag):
        raise FollowUpConflict(f"{tag!r} is not a notify tag (letters, digits, _ and -)")
    license_ref = _optional(new.license_ref, 64, "the licence number")
    if new.database_login and len(login.encode()) > POSTGRES_NAME_LIMIT:
        raise FollowUpConflict(
            f"{login!r} is too long for a PostgreSQL login (at most {POSTGRES_NAME_LIMIT})"
        )
    return NewStaff(login, name, new.role, email, phone, tag, license_ref, new.database_login)


def _e164(text: str) -> str:
    import phonenumbers  # 18 ms to import: only when a phone number is given, not at sign-in

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise FollowUpConflict(f"{text!r} is not a phone number in international form (+82...)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _audited(staff: Staff) -> dict[str, Any]:
    # What the audit trail keeps of a staff row: no e-mail or phone.
    return {
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role.value,
        "active": staff.active,
        "notify_tag": staff.notify_tag,
        "license_ref": staff.license_ref,
    }


def _insert(session: Session, new: NewStaff, now: datetime) -> Staff:
    existing = staff_by_login(session, new.username)
    if existing is not None:
        state = "active" if existing.active else "disabled"
        raise FollowUpConflict(
            f"login {new.username!r} is already on the staff list ({existing.role.value}, {state})"
        )
    staff = Staff(
        username=new.username,
        display_name=new.display_name,
        role=new.role,
        email=new.email,
        phone=new.phone,
        notify_tag=new.notify_tag,
        license_ref=new.license_ref,
        active=True,
        created_at=now,
        version=1,
    )
    session.add(staff)
    session.flush()
    return staff


def add_staff(session: Session, now: datetime, actor: Actor, new: NewStaff) -> StaffLine:
    """Add a staff member (an admin's job)."""
    require(session, actor, Action.MANAGE_STAFF)
    new = checked(new)
    mark_changed(session, now)
    staff = _insert(session, new, now)
    line = _audited_line(session, staff, "staff.add", by=actor.username, now=now, before=None)
    return _with_login(session, line, wanted=new.database_login)


def add_first_admin(session: Session, now: datetime, *, new: NewStaff, by: str) -> StaffLine:
    """Add the first admin of a staff list that has no active admin.

    The caller has checked who `by` is (core.permissions.may_add_first_admin:
    root or the database file's owner); this checks, inside the transaction,
    that there is still no active admin, and that the new member is one. A
    login already on the list is made an active admin instead of added twice.
    """
    if new.role is not Role.ADMIN:
        raise FollowUpConflict("there is no active admin yet: add one first (--role admin)")
    new = checked(new)
    mark_changed(session, now)
    if active_admins(session):
        raise FollowUpConflict("there is already an active admin: ask them to add staff")
    staff = staff_by_login(session, new.username)
    if staff is None:
        staff = _insert(session, new, now)
        line = _audited_line(session, staff, "staff.first_admin", by=by, now=now, before=None)
    else:
        line = _change(
            session, staff, "staff.first_admin", by=by, now=now, role=Role.ADMIN, active=True
        )
    return _with_login(session, line, wanted=new.database_login)


def set_active(
    session: Session,
    now: datetime,
    actor: Actor,
    username: str,
    *,
    active: bool,
    expected_version: int | None = None,
) -> StaffLine:
    """Disable (or enable again) a login; a disabled login cannot sign in or act."""
    require(session, actor, Action.MANAGE_STAFF)
    staff = _current(session, username, expected_version, now)
    if staff.active == active:
        raise FollowUpConflict(f"{username} is already {'active' if active else 'disabled'}")
    if not active:
        _not_the_last_admin(session, staff, f"disable {username}")
    action = "staff.enable" if active else "staff.disable"
    line = _change(session, staff, action, by=actor.username, now=now, active=active)
    return _with_login(session, line, wanted=False)


def change_role(
    session: Session,
    now: datetime,
    actor: Actor,
    username: str,
    *,
    role: Role,
    expected_version: int | None = None,
) -> StaffLine:
    """Give a staff member another role."""
    require(session, actor, Action.MANAGE_STAFF)
    staff = _current(session, username, expected_version, now)
    if staff.role is role:
        raise FollowUpConflict(f"{username} is already {role.value}")
    _not_the_last_admin(session, staff, f"make {username} {_a(role)}")
    line = _change(session, staff, "staff.role", by=actor.username, now=now, role=role)
    return _with_login(session, line, wanted=False)


def _change(
    session: Session, staff: Staff, action: str, *, by: str, now: datetime, **values: Any
) -> StaffLine:
    """Set `values` on the staff row (compare-and-set) and audit it as `action`."""
    before = _audited(staff)
    _compare_and_set(session, staff, **values)
    return _audited_line(session, staff, action, by=by, now=now, before=before)


def _audited_line(
    session: Session,
    staff: Staff,
    action: str,
    *,
    by: str,
    now: datetime,
    before: dict[str, Any] | None,
) -> StaffLine:
    """Audit what `staff` is now (and was `before`), without contact details; its list line."""
    audit.log(session, now, by, action, staff, before=before, after=_audited(staff))
    return _line(staff)


def _current(session: Session, username: str, expected_version: int | None, now: datetime) -> Staff:
    """The staff row about to change, locked (and still at `expected_version` when given).

    The change marker is taken first: it serialises writers (see db.audit).
    """
    mark_changed(session, now)
    staff = session.scalar(select(Staff).where(Staff.username == username).with_for_update())
    if staff is None:
        raise FollowUpConflict(f"there is no staff member with login {username!r}")
    if expected_version is not None and staff.version != expected_version:
        raise FollowUpConflict(_changed_meanwhile(staff))
    return staff


def _changed_meanwhile(staff: Staff) -> str:
    state = "active" if staff.active else "disabled"
    return (
        f"{staff.username} was changed by someone else meanwhile "
        f"(now {staff.role.value}, {state}); nothing was saved"
    )


def _a(role: Role) -> str:
    return f"{'an' if role is Role.ADMIN else 'a'} {role.value}"


def _not_the_last_admin(session: Session, staff: Staff, doing: str) -> None:
    if staff.role is Role.ADMIN and staff.active and active_admins(session) <= 1:
        raise FollowUpConflict(
            f"cannot {doing}: {staff.username} is the last active admin "
            "(make someone else an admin first)"
        )


def _compare_and_set(session: Session, staff: Staff, **values: Any) -> None:
    # The row's version must still be the one read: a concurrent change (on
    # PostgreSQL, committed between our read and this write) loses nothing silently.
    result = session.execute(
        update(Staff)
        .where(Staff.id == staff.id, Staff.version == staff.version)
        .values(**values, version=Staff.version + 1)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        session.refresh(staff)
        raise FollowUpConflict(_changed_meanwhile(staff))
    session.refresh(staff)


# --- the person's own PostgreSQL role (per-person logins) ------------------------------


def _quoted(login: str) -> str:
    # LOGIN_PATTERN admits no quote, so quoting is all an identifier needs here.
    return f'"{login}"'


def login_statements(line: StaffLine, *, exists: bool) -> tuple[str, ...]:
    """What makes `line`'s PostgreSQL role match the list: a login when active, a member
    of their staff role's group role only."""
    name = _quoted(line.username)
    group = GROUP_ROLES[line.role]
    others = ", ".join(g for r, g in GROUP_ROLES.items() if r is not line.role)
    login = "LOGIN" if line.active else "NOLOGIN"
    if not exists:
        return (f"CREATE ROLE {name} {login} IN ROLE {group}",)
    return (
        f"ALTER ROLE {name} {login}",
        f"REVOKE {others} FROM {name}",
        f"GRANT {group} TO {name}",
    )


def _with_login(session: Session, line: StaffLine, *, wanted: bool) -> StaffLine:
    """`line` with its database role brought in line, or the statements that would.

    Asked for when a person is added with per-person logins; otherwise done only for
    a role that is already a member of one of the staff group roles, so a clinic on
    one shared login (and the test suite) never has server roles made for it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return line
    row = session.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :login), "
            "EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m "
            "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid "
            "JOIN pg_catalog.pg_roles u ON u.oid = m.member "
            "WHERE u.rolname = :login AND g.rolname = ANY(:groups)), "
            "(SELECT rolsuper OR rolcreaterole FROM pg_catalog.pg_roles "
            "WHERE rolname = current_user)"
        ),
        {"login": line.username, "groups": list(GROUP_ROLES.values())},
    ).one()
    exists, member, may = bool(row[0]), bool(row[1]), bool(row[2])
    if not (wanted or member):
        return line
    statements = login_statements(line, exists=exists)
    if may:
        for statement in statements:
            session.execute(text(statement))
    return replace(line, database_login=DatabaseLogin(statements, done=may))
