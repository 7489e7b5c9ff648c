"""Who may do what: the actions people take and the roles allowed each one.

The table is the clinic's division of labour, checked by every write service
in `db/` (not only by the screens), so a refusal is the same from the TUI,
the command line or a script:

- Coordinators (often registered nurses) run follow-up: contact attempts,
  done, skip, claims, triage, incident entries, the MFDS report and KHIDI
  records, closing incidents, and exports for home physicians.
- Physicians may do all of that, and alone make the medical calls:
  classifying an incident (seriousness, grade, causality) and acknowledging
  or resolving a physician alert. Acknowledging stops every further page, so
  a coordinator doing it would silence the physicians the alert is for.
- Admins run the server and the staff list (staff, roles, on-call schedule,
  patient import) and are not clinicians: they make no clinical record and
  export no patient record (least privilege; backups are a server matter).
  They may register treatment episodes, which is record-keeping, not
  judgement, and what a patient import does.

Pure: no storage here. `require` raises `NotPermitted`, whose `str()` is one
sentence naming the role and who is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from core.domain import Role

DEMO_LOGIN_PREFIX = "demo-"
"""Logins `aftercare demo` creates start with this (db.demo keeps the same prefix)."""


class Action(StrEnum):
    """Something a person does that the clinic restricts by role."""

    FOLLOW_UP = "follow_up"
    TRIAGE = "triage"
    OPEN_INCIDENT = "open_incident"
    EDIT_INCIDENT = "edit_incident"
    CLASSIFY_INCIDENT = "classify_incident"
    ACKNOWLEDGE_ALERT = "acknowledge_alert"
    RESOLVE_ALERT = "resolve_alert"
    EXPORT = "export"
    EDIT_EPISODE = "edit_episode"
    MANAGE_STAFF = "manage_staff"
    MANAGE_ONCALL = "manage_oncall"
    IMPORT_PATIENTS = "import_patients"

    @property
    def words(self) -> str:
        """What the action is, as the end of "may not ..."."""
        return _WORDS[self]


_WORDS: Mapping[Action, str] = {
    Action.FOLLOW_UP: "do follow-up work (contact attempts, done, skip, claims)",
    Action.TRIAGE: "record a triage",
    Action.OPEN_INCIDENT: "open an incident",
    Action.EDIT_INCIDENT: "change an incident (entries, MFDS report, KHIDI, close, reopen)",
    Action.CLASSIFY_INCIDENT: "classify an incident (seriousness, grade, causality)",
    Action.ACKNOWLEDGE_ALERT: "acknowledge a physician alert",
    Action.RESOLVE_ALERT: "resolve a physician alert",
    Action.EXPORT: "export patient records",
    Action.EDIT_EPISODE: "record or move a treatment episode",
    Action.MANAGE_STAFF: "manage staff (add, disable, enable, change roles)",
    Action.MANAGE_ONCALL: "change the on-call schedule",
    Action.IMPORT_PATIENTS: "import patients",
}

_CLINICAL = frozenset(
    {
        Action.FOLLOW_UP,
        Action.TRIAGE,
        Action.OPEN_INCIDENT,
        Action.EDIT_INCIDENT,
        Action.EXPORT,
        Action.EDIT_EPISODE,
    }
)

PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.COORDINATOR: _CLINICAL,
    Role.PHYSICIAN: _CLINICAL
    | {Action.CLASSIFY_INCIDENT, Action.ACKNOWLEDGE_ALERT, Action.RESOLVE_ALERT},
    Role.ADMIN: frozenset(
        {
            Action.MANAGE_STAFF,
            Action.MANAGE_ONCALL,
            Action.IMPORT_PATIENTS,
            Action.EDIT_EPISODE,
        }
    ),
}
"""Each role's actions; anything not listed is refused."""


def allowed(role: Role, action: Action) -> bool:
    """True when `role` may do `action`."""
    return action in PERMISSIONS[role]


def roles_for(action: Action) -> list[Role]:
    """The roles that may do `action`, in Role order."""
    return [role for role in Role if allowed(role, action)]


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def refusal(role: Role, action: Action) -> str:
    """The one sentence that explains why `role` may not do `action`."""
    needed = " or ".join(_a(r) for r in roles_for(action)) or "a role nobody has"
    return f"{_a(role).capitalize()} may not {action.words}; that needs {needed}."


class NotPermitted(Exception):
    """A person's role does not allow the action; `str()` says so in one sentence."""

    def __init__(self, role: Role | None, action: Action, message: str | None = None) -> None:
        self.role = role
        """The refused role, or None when the person is not active staff."""
        self.action = action
        """What was asked."""
        if message is None:
            message = (
                refusal(role, action)
                if role is not None
                else f"Only active staff may {action.words}."
            )
        super().__init__(message)


def require(role: Role, action: Action) -> None:
    """Raise NotPermitted unless `role` may do `action`."""
    if not allowed(role, action):
        raise NotPermitted(role, action)


def may_act_as(
    *, os_login: str, target: str, os_is_active_admin: bool, demo_database: bool
) -> bool:
    """Whether the person at `os_login` may work as `target` (`--as`, `--by`).

    Yourself, always; demo staff on a database holding no real patients, so
    `./dev run --as demo-rn-park` works on a demo database and nobody becomes
    a demo physician on a clinic's real one. Nobody else, admins included:
    working as a physician would give an admin what their own role withholds
    (acknowledging pages, grading seriousness, exporting records).
    `os_is_active_admin` is kept for callers' clarity and grants nothing.
    """
    del os_is_active_admin
    if target == os_login:
        return True
    return target.startswith(DEMO_LOGIN_PREFIX) and demo_database


def may_add_first_admin(*, active_admins: int, euid: int, database_owner_uid: int | None) -> bool:
    """Whether someone with no admin role may add the very first admin.

    Only while there is no active admin at all, and only for root or the
    operating-system owner of the SQLite database file (who can already
    change every byte of it). On PostgreSQL there is no file, so only root.
    """
    if active_admins > 0:
        return False
    return euid == 0 or (database_owner_uid is not None and euid == database_owner_uid)
