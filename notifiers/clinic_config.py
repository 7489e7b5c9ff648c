"""Whether an Apprise file is the clinic's own, the only kind that may send alerts.

Whoever holds the dispatcher lease decides where every physician alert goes. A
coordinator who started `aftercare run` with their own `AFTERCARE_APPRISE_CONFIG`
could take the lease while the service restarted and send emergencies to their own
endpoint. So a configuration sends only when it is the clinic's:

- the file is owned by root, by the alert service's account (`aftercare`, the
  account docs/deployment.md creates and runs the service as), or by the owner of
  the installed program (who could change what it does anyway: on the server
  root, on a developer's laptop the developer);
- nobody but its owner can change it: not writable by the group or by others.

The settings cannot widen this (a coordinator chooses their own settings, as
they choose the Apprise path); the file's owner and mode are what only an
admin can set. The checks are made on the very bytes that are loaded (one open,
`fstat` of that open file, the hash of what was read), so the file cannot be
swapped between the check and the load.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SERVICE_ACCOUNT: Final = "aftercare"
"""The alert service's operating-system account (docs/deployment.md, `User=aftercare`)."""


@dataclass(frozen=True)
class SendingConfiguration:
    """The Apprise file a dispatcher sends with: where, whose, which content."""

    path: str
    owner_uid: int
    owner: str
    """The owner's login (or the number, for an account that no longer exists)."""
    mode: int
    """`st_mode`: the kind of file and its permission bits."""
    sha256: str
    """Of the file's content as loaded."""

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the content's SHA-256: enough to tell two
        versions of the file apart on a screen."""
        return self.sha256[:12]

    def words(self) -> str:
        """How a person is told which configuration this is."""
        return f"{self.path} (owner {self.owner}, content {self.short_hash})"


def login_of(uid: int) -> str:
    """The login of a user id, or the number when no account has it."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def read_configuration(path: Path) -> tuple[bytes, SendingConfiguration]:
    """The file's bytes and who owns them, from one open (raises OSError)."""
    with path.open("rb") as handle:
        status = os.fstat(handle.fileno())
        content = handle.read()
    return content, SendingConfiguration(
        path=str(path),
        owner_uid=status.st_uid,
        owner=login_of(status.st_uid),
        mode=status.st_mode,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def clinic_owners() -> dict[int, str]:
    """Who may own the clinic's Apprise file: root, the alert service's account (when
    this server has it), and the owner of the installed program."""
    owners = {0: "root"}
    try:
        service = pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        pass
    else:
        owners[service.pw_uid] = SERVICE_ACCOUNT
    program = Path(__file__).resolve().stat().st_uid
    owners.setdefault(program, login_of(program))
    return owners


def not_the_clinics(
    configuration: SendingConfiguration, owners: dict[int, str] | None = None
) -> str | None:
    """Why `configuration` is not the clinic's (one sentence naming path, owner and
    mode), or None when it is. `owners`: default `clinic_owners()`."""
    allowed = clinic_owners() if owners is None else owners
    problems = []
    if configuration.owner_uid not in allowed:
        who = " or ".join(dict.fromkeys(allowed.values()))
        problems.append(f"only {who} may own it")
    if not stat.S_ISREG(configuration.mode):
        problems.append("it is not a regular file")
    writable = [
        who
        for who, bit in (("the group", stat.S_IWGRP), ("others", stat.S_IWOTH))
        if configuration.mode & bit
    ]
    if writable:
        problems.append(f"{' and '.join(writable)} can change it")
    if not problems:
        return None
    return (
        f"{configuration.path} (owner {configuration.owner}, mode "
        f"{stat.S_IMODE(configuration.mode):o}) is not the clinic's Apprise configuration: "
        f"{'; '.join(problems)}"
    )
