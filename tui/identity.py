"""Who is at the keyboard: the operating-system login, mapped to an active staff member.

Used by `aftercare run` and by every command that writes on a person's
behalf. An unknown or disabled login is refused, never let in read-only.
Working as another login (`--as`, `--by`) is only for demo staff on a
database that holds no real patients (`./dev run --as demo-rn-park`); see
core.permissions.may_act_as.

The login is the account the process runs as (its effective user id in the
password database), which on a server reached over SSH is the account the
person signed in with; LOGNAME and USER are not trusted, since anyone can set
them. Only root's may name another login (root can already change every
byte of the database). It is not a wall against someone who can write the
database file or knows its password (docs/deployment.md: file permissions).
"""

from __future__ import annotations

import os
import pwd
from datetime import datetime

from core.domain import Role
from core.permissions import DEMO_LOGIN_PREFIX, may_act_as
from db.database import Database
from db.engine import transaction
from db.followup import Actor
from db.staff import holds_real_patients, staff_by_login


class SignInRefused(Exception):
    """This person may not work as asked; `str()` says why in one line."""


def os_login() -> str:
    """The operating-system login of whoever runs this process (see the module docstring)."""
    euid = os.geteuid()
    if euid == 0:
        # Root may name a login (sudo keeps the caller's; tests and admin scripts set it).
        named = os.environ.get("LOGNAME") or os.environ.get("USER")
        if named:
            return named
    try:
        return pwd.getpwuid(euid).pw_name
    except KeyError as exc:  # a uid with no password-file entry (a bare container)
        raise SignInRefused(
            f"cannot tell which operating-system user you are (uid {euid} has no account)"
        ) from exc


def unknown_login(login: str) -> str:
    """The refusal for a login that is not on the staff list."""
    return (
        f"login {login!r} is not on the clinic's staff list; an admin adds it with "
        f"`aftercare staff add {login} --name NAME --role ROLE`"
    )


def sign_in(database: Database, requested: str | None, *, flag: str, now: datetime) -> Actor:
    """The active staff member this process works as: the OS login, or `requested`
    when the OS login may work as them. Raises SignInRefused with one line."""
    me = os_login()
    wanted = requested.strip() if requested else me
    with transaction(database.sessions) as session:
        own = staff_by_login(session, me)
        target = own if wanted == me else staff_by_login(session, wanted)
        if target is None:
            raise SignInRefused(unknown_login(wanted))
        if not target.active:
            raise SignInRefused(
                f"login {wanted!r} is disabled; an admin can enable it again "
                f"(`aftercare staff enable {wanted}`)"
            )
        if wanted != me:
            admin = own is not None and own.active and own.role is Role.ADMIN
            demo = wanted.startswith(DEMO_LOGIN_PREFIX) and not holds_real_patients(session)
            if not may_act_as(
                os_login=me, target=wanted, os_is_active_admin=admin, demo_database=demo
            ):
                raise SignInRefused(
                    f"{flag} {wanted} refused: nobody may work as another login (demo staff "
                    f"excepted, on a database without real patients); you are {me!r}"
                )
        return Actor(target.id, target.username, target.display_name, target.role)
