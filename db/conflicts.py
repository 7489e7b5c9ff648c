"""What a refused edit tells its author: what changed since their screen read
the record, who changed it, and when (in clinic time).

Every edit appends an audit event in the same transaction, so the latest
event on a record names the change that made a stale edit stale. Rows that
keep their own who-and-when (a touchpoint's resolver, an alert's
acknowledger) are read directly instead.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.dossier import clinic_time_label
from db.models import AuditEvent, Staff

# How a change reads after "was": "this touchpoint was marked done by ...".
ACTION_WORDS = {
    "patient.claim": "claimed",
    "patient.release": "released",
    "patient.move": "moved",
    "patient.contacts": "given new contact details",
    "episode.documentation": "given documentation checklist ticks",
    "touchpoint.done": "marked done",
    "touchpoint.skipped": "skipped",
    "touchpoint.unreachable": "marked unreachable",
    "escalation.acknowledge": "acknowledged",
    "escalation.resolve": "resolved",
    "incident.classify": "classified",
    "incident.report": "given an MFDS report record",
    "incident.khidi": "escalated to KHIDI",
    "incident.close": "closed",
    "incident.reopen": "reopened",
    "incident.correct_dates": "given corrected dates",
    "episode.move_procedure": "moved",
}


@dataclass(frozen=True)
class Change:
    """One recorded change: what was done, by whom (display name), when."""

    action: str
    who: str
    at: datetime

    @property
    def words(self) -> str:
        """'classified by Dr Lee at 22 Nov 15:02 KST'."""
        return f"{ACTION_WORDS.get(self.action, 'changed')} by {self.who} at {when(self.at)}"


def when(at: datetime) -> str:
    """An instant as a conflict message says it: '22 Nov 15:02 KST'."""
    return clinic_time_label(at)


def staff_name(session: Session, staff_id: int | None) -> str:
    """The display name of a staff member, or 'someone' when unknown."""
    name = (
        session.scalar(select(Staff.display_name).where(Staff.id == staff_id)) if staff_id else None
    )
    return name or "someone"


def login_name(session: Session, username: str) -> str:
    """The display name behind a login (audit events keep logins); the login itself
    for actors that are not staff, such as the dispatcher."""
    name = session.scalar(select(Staff.display_name).where(Staff.username == username))
    return name or username


def last_change(
    session: Session, entity: str, entity_id: int, actions: Collection[str] | None = None
) -> Change | None:
    """The latest audited change to a record, optionally only of the given actions.

    Newest first by id: a conflict is about a recent change, so the scan stops
    near the end of the audit table even without an index on the entity.
    """
    query = select(AuditEvent.action, AuditEvent.actor, AuditEvent.at).where(
        AuditEvent.entity == entity, AuditEvent.entity_id == str(entity_id)
    )
    if actions is not None:
        query = query.where(AuditEvent.action.in_(list(actions)))
    row = session.execute(query.order_by(AuditEvent.id.desc()).limit(1)).first()
    if row is None:
        return None
    return Change(row.action, login_name(session, row.actor), row.at)
