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

from db.followup import Actor
from db.services import Clinic
from db.services.admin import SignInRefused, unknown_login

__all__ = ["SignInRefused", "os_login", "sign_in", "unknown_login"]


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


def sign_in(clinic: Clinic, requested: str | None, *, flag: str) -> Actor:
    """The active staff member this process works as: the OS login, or `requested`
    when the OS login may work as them. Raises SignInRefused with one line."""
    return clinic.sign_in(os_login(), requested, flag=flag)
